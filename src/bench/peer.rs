//! The peers lexalign is timed against, run as the project venv's Python scripts:
//! onnxruntime + tokenizers on the same model and strings (scripts/bench_peer.py),
//! llama.cpp on the GGUF a decoder was imported from (scripts/llama_cpp_peer.py, when
//! `make llama-cpp` installed it), numpy's `L @ R.T` on the same sizes (scripts/bench_gemm.py).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::throughput::{Throughput, Timing};
use crate::embed::{Model, Pooling};
use crate::model::VectorSetting;
use crate::{Error, Result};

/// The Python interpreter of the project's venv and the peer scripts.
pub struct Peer {
    pub python: PathBuf,
    script: PathBuf,
}

impl Default for Peer {
    fn default() -> Self {
        Peer::new()
    }
}

impl Peer {
    pub fn new() -> Self {
        let root = crate::assets::project_root();
        Peer {
            python: root.join(".venv/bin/python"),
            script: root.join("scripts/bench_peer.py"),
        }
    }

    /// Whether the venv is installed (`make setup`).
    pub fn available(&self) -> bool {
        self.python.exists()
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.python);
        c.arg(&self.script);
        c
    }

    fn spawn_error(&self, what: &str, error: std::io::Error) -> Error {
        Error::io(&self.python, error).context(format!("running {what} (run `make setup` first)"))
    }

    /// Writes `count` deterministic benchmark strings to `path`.
    pub fn make_input(&self, path: &Path, count: usize) -> Result<()> {
        let out = self
            .command()
            .arg("--make-input")
            .arg(path)
            .args(["--count", &count.to_string()])
            .env("LEXALIGN_ASSETS", crate::assets::asset_root())
            .output()
            .map_err(|e| self.spawn_error("the benchmark string generator", e))?;
        if !out.status.success() {
            return Err(Error::data(
                format!(
                    "generating benchmark strings with {}",
                    self.script.display()
                ),
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        Ok(())
    }

    /// numpy's `L @ R.T` on n × dim float32 rows (scripts/bench_gemm.py): its JSON line.
    pub fn gemm(
        &self,
        n: usize,
        dim: usize,
        threads: usize,
        repeat: usize,
    ) -> Result<serde_json::Value> {
        let script = self.script.with_file_name("bench_gemm.py");
        let out = Command::new(&self.python)
            .arg(&script)
            .args(["--n", &n.to_string()])
            .args(["--dim", &dim.to_string()])
            .args(["--threads", &threads.to_string()])
            .args(["--repeat", &repeat.to_string()])
            .output()
            .map_err(|e| self.spawn_error("the numpy peer", e))?;
        peer_json(&out, "numpy peer")
    }

    /// Runs the embedding peer on `input` with our model and threads; its vectors go
    /// to `output` (in a scratch folder, which also holds links to non-UTF-8 paths).
    pub fn embed(
        &self,
        model: &Model,
        setting: &VectorSetting,
        input: &Path,
        timing: &Timing,
        output: &Path,
    ) -> Result<Throughput> {
        crate::ensure!(
            setting.template.is_none(),
            Error::param(
                "template",
                "the Python peer embeds plain strings: bench without a template"
            )
        );
        let scratch = output.parent().unwrap_or(Path::new("."));
        let out = self
            .command()
            .arg("--model")
            .arg(utf8_path(&model.info().dir, scratch, "model")?)
            .arg("--input")
            .arg(utf8_path(input, scratch, "input.txt")?)
            .args(["--threads", &model.threads().to_string()])
            .args(["--batch-size", &timing.peer_batch_size.to_string()])
            .args(["--repeat", &timing.repeat.to_string()])
            .args(["--pooling", setting.pooling.as_str()])
            .args(setting.normalize.then_some("--normalize"))
            .args(["--graph-opt", &timing.graph_opt.to_string()])
            .arg("--output")
            .arg(output)
            .output()
            .map_err(|e| self.spawn_error("the Python peer", e))?;
        peer_json(&out, "Python peer")
    }

    /// Runs llama.cpp on the GGUF `model` was imported from, with our strings, threads,
    /// pooling and repeat; its vectors go to `output`. [`LlamaCpp::Unavailable`] when
    /// llama-cpp-python is not installed or no GGUF is found for the model.
    pub fn llama_cpp(
        &self,
        model: &Model,
        setting: &VectorSetting,
        input: &Path,
        timing: &Timing,
        output: &Path,
    ) -> Result<LlamaCpp> {
        let script = self.script.with_file_name("llama_cpp_peer.py");
        // llama.cpp pools a decoder's last token or the mean (normalising does not change
        // a cosine); anything else has no llama.cpp counterpart.
        if setting.pooling == Pooling::Cls || setting.template.is_some() {
            return Ok(LlamaCpp::Unavailable(format!(
                "llama.cpp pools last or mean over plain strings; this bench uses {} pooling{}",
                setting.pooling.as_str(),
                if setting.template.is_some() {
                    " with a template"
                } else {
                    ""
                }
            )));
        }
        let pooling = setting.pooling.as_str();
        let scratch = output.parent().unwrap_or(Path::new("."));
        let out = Command::new(&self.python)
            .arg(&script)
            .arg("--model")
            .arg(utf8_path(&model.info().dir, scratch, "model")?)
            .arg("--input")
            .arg(utf8_path(input, scratch, "input.txt")?)
            .args(["--threads", &model.threads().to_string()])
            .args(["--repeat", &timing.repeat.to_string()])
            .args(["--pooling", pooling])
            .arg("--output")
            .arg(output)
            .env("LEXALIGN_ASSETS", crate::assets::asset_root())
            .output()
            .map_err(|e| self.spawn_error("the llama.cpp peer", e))?;
        let value: serde_json::Value = peer_json(&out, "llama.cpp peer")?;
        if let Some(why) = value.get("unavailable") {
            return Ok(LlamaCpp::Unavailable(
                why.as_str().unwrap_or("unavailable").to_string(),
            ));
        }
        serde_json::from_value(value)
            .map(LlamaCpp::Ran)
            .map_err(|e| Error::from(e).context("the llama.cpp peer's JSON"))
    }
}

/// What the llama.cpp peer did.
#[derive(Debug)]
pub enum LlamaCpp {
    Ran(Throughput),
    /// Why it could not run (one line: not installed, no GGUF for the model).
    Unavailable(String),
}

/// A peer's result: the last JSON line it printed, or its stderr when it failed.
fn peer_json<T: serde::de::DeserializeOwned>(out: &std::process::Output, who: &str) -> Result<T> {
    if !out.status.success() {
        return Err(Error::data(
            format!("{who} failed"),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| Error::data(who, "printed no JSON"))?;
    serde_json::from_str(last).map_err(|e| Error::from(e).context(format!("the {who}'s JSON")))
}

/// `path`, or a link to it in `scratch` when it is not UTF-8: the peer's libraries
/// (tokenizers, onnxruntime) accept only UTF-8 paths.
#[cfg_attr(not(unix), allow(unused_variables))]
fn utf8_path(path: &Path, scratch: &Path, name: &str) -> Result<PathBuf> {
    #[cfg(unix)]
    if path.to_str().is_none() {
        let link = scratch.join(name);
        let target = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
        std::os::unix::fs::symlink(target, &link).map_err(|e| Error::io(&link, e))?;
        return Ok(link);
    }
    Ok(path.to_path_buf())
}
