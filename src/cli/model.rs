//! `lexalign model import`: a GGUF file (llama, qwen2, qwen3, gemma3, phi3; by
//! scripts/gguf_to_onnx.py) or a Hugging Face checkpoint folder (BERT-family encoders,
//! Llama / Qwen2 decoders; by scripts/hf_to_onnx.py) → a model directory under the asset
//! folder's `models/NAME` (the converters run in the set-up's venv), usable afterwards as
//! `--model NAME`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use lexalign::assets;
use lexalign::embed::{Model, ModelOptions};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Convert a GGUF (llama incl. Llama 3.x / Mistral, qwen2, qwen3, gemma3, phi3) or a
    /// Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json: BERT,
    /// PubMedBERT, SapBERT, BioLinkBERT; LlamaForCausalLM, Qwen2ForCausalLM) into
    /// models/NAME; then `--model NAME` uses it.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The GGUF file (general.architecture llama, qwen2, qwen3, gemma3 or phi3; byte-level
    /// BPE or SentencePiece tokenizer), or a checkpoint folder (config.json, model.safetensors
    /// or shards with model.safetensors.index.json, tokenizer.json; F32, F16, BF16).
    #[arg(value_name = "FILE.gguf|DIR")]
    pub source: PathBuf,
    /// Name for `--model NAME`: letters, digits, '.', '_' and '-'.
    #[arg(long)]
    pub name: String,
    /// Dequantise every weight to fp32. Default: linear weights stay quantised as ONNX
    /// Runtime MatMulNBits holding the GGUF's values (Q4_0/Q4_1/Q4_K 4-bit,
    /// Q5_0/Q5_K/Q6_K/Q8_0 8-bit; other types fp32; see docs/DECODER.md).
    #[arg(long)]
    pub fp32: bool,
    /// Deprecated no-op: keeping quantised is now the default.
    #[arg(long = "keep-q4", hide = true, conflicts_with = "fp32")]
    pub keep_q4: bool,
    /// Pooling recorded as the model's default (checkpoint folders; default: the folder's
    /// sentence-transformers config, else mean for encoders, last for decoders).
    #[arg(long, value_parser = ["cls", "mean", "last"])]
    pub pooling: Option<String>,
    /// Truncation length recorded in lexalign.json (default: the GGUF's context, at most 2048;
    /// for a folder the tokenizer's truncation, else 512 for encoders / the context for decoders).
    #[arg(long = "max-length", value_name = "N")]
    pub max_length: Option<usize>,
    /// Python with the converter's packages (default: the project's .venv/bin/python).
    #[arg(long, value_name = "FILE")]
    pub python: Option<PathBuf>,
}

/// What `model import` converts, decided by the path: a file or a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Gguf,
    Checkpoint,
}

impl Source {
    /// The converter script, relative to the project root.
    fn script(self) -> &'static str {
        match self {
            Source::Gguf => "scripts/gguf_to_onnx.py",
            Source::Checkpoint => "scripts/hf_to_onnx.py",
        }
    }

    /// The converter's one-line error (the script's ERROR_PREFIX).
    fn error_prefix(self) -> &'static str {
        match self {
            Source::Gguf => "gguf_to_onnx: error: ",
            Source::Checkpoint => "hf_to_onnx: error: ",
        }
    }
}

pub fn run(command: ModelCommand, quiet: bool) -> Result<()> {
    match command {
        ModelCommand::Import(a) => import(a, quiet),
    }
}

/// Fails unless `name` is a plain folder name that `--model` will resolve to
/// models/NAME (built-in names that point elsewhere are taken).
fn check_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME {
        bail!(
            "--name: {} bytes is too long for a folder name (at most {MAX_NAME})",
            name.len()
        );
    }
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        bail!("--name {name:?}: use letters, digits, '.', '_' and '-' (not starting with '.')");
    }
    if let Some((_, rel)) = assets::MODEL_NAMES.iter().find(|(n, _)| *n == name) {
        if *rel != format!("models/{name}") {
            bail!("--name {name}: taken by the installed model in {rel}; choose another name");
        }
    }
    Ok(())
}

/// Longest `--name`: the converter builds `NAME.tmp-XXXXXXXX` next to the folder, and
/// file systems allow 255 bytes per name.
const MAX_NAME: usize = 200;

/// Fails with one line unless `path` is a readable, regular, non-empty file that starts
/// with the GGUF magic (before hashing it: a FIFO would block).
fn check_gguf(path: &Path) -> Result<()> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{shown}: no such GGUF file"),
        Err(e) => bail!("{shown}: {e}"),
    };
    if !meta.is_file() {
        bail!("{shown} is not a regular file (a FIFO, socket or device); give a GGUF file");
    }
    if meta.len() == 0 {
        bail!("{shown} is empty (0 bytes), not a GGUF file");
    }
    let mut magic = Vec::with_capacity(4);
    std::fs::File::open(path)
        .with_context(|| shown.to_string())?
        .take(4)
        .read_to_end(&mut magic)
        .with_context(|| shown.to_string())?;
    if magic != b"GGUF" {
        bail!("{shown} is not a GGUF file (it does not start with the bytes \"GGUF\")");
    }
    Ok(())
}

/// `lexalign.json`'s (gguf_sha256, import) of an existing model folder.
fn existing_model(dir: &Path) -> Result<Option<(String, String)>> {
    let path = dir.join("lexalign.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| path.display().to_string())?;
    Ok(gguf_import(&v))
}

/// (gguf_sha256, `keep` | `fp32`) of a manifest; `None` when no GGUF was imported.
/// Imports from before `gguf_import` was recorded say it by their variant.
fn gguf_import(manifest: &serde_json::Value) -> Option<(String, String)> {
    let field = |k: &str| manifest.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let import = field("gguf_import").unwrap_or_else(|| match field("variant").as_deref() {
        None | Some("fp32") => "fp32".into(),
        Some(_) => "keep".into(),
    });
    field("gguf_sha256").map(|sha| (sha, import))
}

/// A GGUF file or a checkpoint folder, by what `path` is; a folder must hold config.json
/// (the rest is checked by the converter).
fn source_kind(path: &Path) -> Result<Source> {
    if !path.is_dir() {
        check_gguf(path)?;
        return Ok(Source::Gguf);
    }
    if !path.join("config.json").is_file() {
        bail!(
            "{} is a directory without config.json: give a GGUF file, or a Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json)",
            path.display()
        );
    }
    Ok(Source::Checkpoint)
}

fn import(args: ImportArgs, quiet: bool) -> Result<()> {
    check_name(&args.name)?;
    let source = source_kind(&args.source)?;
    match source {
        Source::Checkpoint if args.keep_q4 || args.fp32 => {
            bail!("--fp32 and --keep-q4 apply to GGUF files; a checkpoint folder is always converted to fp32")
        }
        Source::Gguf if args.pooling.is_some() => {
            bail!("--pooling applies to checkpoint folders; a GGUF decoder pools the last token (choose per run with --pooling of embed/report)")
        }
        _ => {}
    }
    let root = assets::project_root();
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let script = root.join(source.script());
    if !python.is_file() {
        bail!(
            "{}: Python not found; the converter needs the project's venv (with gguf, safetensors, onnx, numpy). {}",
            python.display(),
            assets::SETUP_HINT
        );
    }
    if !script.is_file() {
        bail!("{}: converter script not found", script.display());
    }
    let out = assets::asset_root().join("models").join(&args.name);
    let started = Instant::now();
    let mut cmd = Command::new(&python);
    cmd.arg(&script).arg(&args.source).arg(&out).args([
        "--name",
        &args.name,
        "--if-changed",
        "--description",
        &format!(
            "{} imported by `lexalign model import`{}",
            args.source
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            if args.fp32 { " (--fp32)" } else { "" }
        ),
    ]);
    if let Some(n) = args.max_length {
        cmd.args(["--max-length", &n.to_string()]);
    }
    match source {
        // the converter refuses a folder that holds another model
        Source::Checkpoint => {
            if let Some(p) = &args.pooling {
                cmd.args(["--pooling", p]);
            }
        }
        Source::Gguf => {
            check_existing_gguf(&args, &out)?;
            if args.keep_q4 && !quiet {
                eprintln!("note: --keep-q4 is deprecated and does nothing: keeping quantised is the default (--fp32 widens)");
            }
            if args.fp32 {
                cmd.arg("--fp32");
            }
        }
    }
    run_converter(cmd, source, &script, quiet)?;
    // lexalign must be able to use what was written.
    let model = Model::load_with(&out, &ModelOptions::default().with_threads(1))
        .with_context(|| format!("loading the imported model {}", out.display()))?;
    let info = model.info();
    if !quiet {
        eprintln!(
            "imported {} → {} ({} {}, {} layers, dim {}, max_length {}, pooling {}) in {:.1} s; use --model {}",
            args.source.display(),
            out.display(),
            info.name,
            info.kind.as_str(),
            info.layers.map_or("?".into(), |l| l.to_string()),
            info.dim.map_or("?".into(), |d| d.to_string()),
            info.max_length,
            lexalign::embed::default_pooling(&out)?.as_str(),
            started.elapsed().as_secs_f64(),
            args.name
        );
    }
    Ok(())
}

/// Fails when models/NAME holds something other than this GGUF's conversion.
fn check_existing_gguf(args: &ImportArgs, out: &Path) -> Result<()> {
    let sha = lexalign::io::sha256_file(&args.source)?;
    let wanted = if args.fp32 { "fp32" } else { "keep" };
    if out.exists() {
        match existing_model(out)? {
            Some((s, v)) if s == sha && v == wanted => {}
            Some((s, v)) => bail!(
                "{} already holds a different model (GGUF sha256 {}…, {v} import; this is {}…, {wanted} import); choose another --name or remove that folder",
                out.display(),
                s.chars().take(12).collect::<String>(),
                sha.chars().take(12).collect::<String>()
            ),
            None => bail!(
                "{} exists and is not a model imported from a GGUF (no lexalign.json with gguf_sha256); choose another --name",
                out.display()
            ),
        }
    }
    Ok(())
}

/// Runs a converter: its progress lines pass through (unless `quiet`); its refusal is
/// one line starting with the script's error prefix, which becomes this command's error.
fn run_converter(mut cmd: Command, source: Source, script: &Path, quiet: bool) -> Result<()> {
    let python = cmd.get_program().to_owned();
    let mut child = cmd.stderr(Stdio::piped()).spawn().with_context(|| {
        format!(
            "running {} {}",
            Path::new(&python).display(),
            script.display()
        )
    })?;
    let mut refusal = None;
    let mut tail: Vec<String> = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in BufReader::new(err).lines() {
            let line = line.unwrap_or_default();
            if let Some(msg) = line.strip_prefix(source.error_prefix()) {
                refusal = Some(msg.to_string());
            } else if !quiet {
                eprintln!("{line}");
            } else {
                tail.push(line);
                if tail.len() > 20 {
                    tail.remove(0);
                }
            }
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        if let Some(msg) = refusal {
            bail!("{msg}");
        }
        if quiet && !tail.is_empty() {
            eprintln!("{}", tail.join("\n"));
        }
        bail!(
            "the converter ({}) failed ({status}); see its messages above",
            script.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::gguf_import;
    use serde_json::json;

    #[test]
    fn the_import_asked_for_is_read_back() {
        let read = |v| gguf_import(&v).map(|(s, i)| format!("{s} {i}"));
        // recorded: a GGUF with nothing keepable has fp32 weights from a `keep` import
        let nothing_kept = json!({"gguf_sha256": "ab", "variant": "fp32", "gguf_import": "keep"});
        assert_eq!(read(nothing_kept).as_deref(), Some("ab keep"));
        let asked_fp32 = json!({"gguf_sha256": "ab", "variant": "fp32", "gguf_import": "fp32"});
        assert_eq!(read(asked_fp32).as_deref(), Some("ab fp32"));
        // older imports: the variant tells
        let old_kept = json!({"gguf_sha256": "cd", "variant": "q4"});
        assert_eq!(read(old_kept).as_deref(), Some("cd keep"));
        let old_fp32 = json!({"gguf_sha256": "cd"});
        assert_eq!(read(old_fp32).as_deref(), Some("cd fp32"));
        // not a GGUF import
        assert_eq!(read(json!({"variant": "fp32"})), None);
    }
}
