//! `lexalign bench`: embedding throughput against a Python peer (onnxruntime +
//! tokenizers, sentence-transformers-style length-sorted batches) on the same
//! strings, model and thread count, in the same invocation.
//!
//! `lexalign bench --retrieval N`: exact retrieval ranks (both directions) of N
//! seeded synthetic pairs, against numpy's `L @ R.T` alone on the same sizes and
//! thread count (scripts/bench_gemm.py, run when the project's venv exists).
//!
//! `lexalign bench --suite FILE|default`: all of it in one invocation, every
//! lexalign/peer pair timed back to back, into one JSON and one figure
//! (`bench_suite`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::embed::ModelArgs;
use lexalign::embed::{Embeddings, GraphOpt, Model, ModelInfo, Pooling};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Strings to embed (one per line); default: a deterministic list of HPO names,
    /// HGNC symbols, names and identifiers made by scripts/bench_peer.py.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// How many generated strings (when no --input).
    #[arg(long, default_value_t = 5000)]
    pub count: usize,
    /// Timed repetitions; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// lexalign's batch size (strings).
    #[arg(long = "batch-size", default_value_t = 256)]
    pub batch_size: usize,
    /// The Python peer's batch size (sentence-transformers' default is 32).
    #[arg(long = "peer-batch-size", default_value_t = 32)]
    pub peer_batch_size: usize,
    /// Skip the Python peer.
    #[arg(long = "no-peer")]
    pub no_peer: bool,
    /// Also write the results as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Time exact retrieval (top-k ranks, both directions) of N seeded random
    /// unit-vector pairs instead of embedding; no model needed. N ≥ 3.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(3..))]
    pub retrieval: Option<u64>,
    /// Vector dimension for --retrieval (≥ 1).
    #[arg(
        long,
        value_name = "D",
        default_value_t = 384,
        requires = "retrieval",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub dim: u64,
    /// Run a whole suite in one invocation: throughput per model and thread count
    /// against the Python peer, and retrieval at several N against numpy's GEMM
    /// (a TOML file like configs/bench.toml, or `default` for that file's settings).
    #[arg(long, value_name = "FILE|default", conflicts_with_all = ["retrieval", "input", "model"])]
    pub suite: Option<String>,
    /// The suite's figure: a .png path; the .svg is written beside it.
    #[arg(long, value_name = "FILE.png", requires = "suite")]
    pub figure: Option<PathBuf>,
    /// ONNX Runtime graph optimisation level, for measuring it (default: all).
    #[arg(long = "graph-opt", value_enum, value_name = "LEVEL")]
    pub graph_opt: Option<GraphOpt>,
    /// lexalign runs every string whole (by default a decoder runs a prefix that
    /// several strings share once; the peer always runs every string whole).
    #[arg(long = "no-prefix-sharing")]
    pub no_prefix_sharing: bool,
}

/// How each throughput measurement is timed (resolved from flags or a suite).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(super) struct Timing {
    /// Timed runs; the best is reported.
    pub repeat: usize,
    /// lexalign's batch size (strings).
    pub batch_size: usize,
    /// The Python peer's batch size.
    pub peer_batch_size: usize,
    pub graph_opt: GraphOpt,
    /// lexalign shares prefixes between strings where the model allows it.
    pub share_prefixes: bool,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, Clone)]
pub(super) struct Throughput {
    pub strings: usize,
    pub seconds: f64,
    pub strings_per_s: f64,
    pub tokens: usize,
    pub tokens_per_s: f64,
    pub padding_efficiency: f64,
    /// Real tokens not computed: several strings began with them (lexalign, decoders).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shared_tokens: usize,
    pub threads: usize,
    /// Session (and, for lexalign, tokenizer) load time, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_seconds: Option<f64>,
    /// What the peer says it is, e.g. "python onnxruntime 1.31.1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

/// What `--json` writes (through a `serde_json::Value`, so keys come out sorted).
#[derive(serde::Serialize)]
struct Report<'a> {
    model: &'a ModelInfo,
    strings: usize,
    distinct: usize,
    lexalign: &'a Throughput,
    #[serde(skip_serializing_if = "Option::is_none")]
    python: Option<&'a Throughput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_batch_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lowest_cosine: Option<f64>,
}

/// The Python peer's run on the same strings.
pub(super) struct PeerRun {
    pub throughput: Throughput,
    pub ratio: f64,
    pub lowest_cosine: f64,
}

/// The Python interpreter of the project's venv and the peer script.
pub(super) struct Peer {
    pub python: PathBuf,
    script: PathBuf,
}

impl Peer {
    pub fn new() -> Self {
        let root = lexalign::assets::project_root();
        Peer {
            python: root.join(".venv/bin/python"),
            script: root.join("scripts/bench_peer.py"),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.python);
        c.arg(&self.script);
        c
    }

    /// Writes `count` deterministic benchmark strings to `path`.
    pub fn make_input(&self, path: &Path, count: usize) -> Result<()> {
        let status = self
            .command()
            .arg("--make-input")
            .arg(path)
            .args(["--count", &count.to_string()])
            .env("LEXALIGN_ASSETS", lexalign::assets::asset_root())
            .status()
            .with_context(|| {
                format!("running {} (run `make setup` first)", self.python.display())
            })?;
        if !status.success() {
            bail!(
                "could not generate benchmark strings with {}",
                self.script.display()
            );
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
            .with_context(|| format!("running the numpy peer {}", script.display()))?;
        peer_json(&out, "numpy peer")
    }

    /// Runs the peer on `input` with our model and threads; its vectors go to
    /// `output` (in a scratch folder, which also holds links to non-UTF-8 paths).
    fn run(
        &self,
        model: &Model,
        input: &Path,
        timing: &Timing,
        output: &Path,
    ) -> Result<Throughput> {
        // The same pooling, so the vectors can be compared (decoders pool the last token).
        let pooling = match model.info().pooling {
            Pooling::Last => "last",
            _ => "mean",
        };
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
            .args(["--pooling", pooling])
            .args(model.info().normalize.then_some("--normalize"))
            .args(["--graph-opt", &timing.graph_opt.to_string()])
            .arg("--output")
            .arg(output)
            .output()
            .with_context(|| format!("running the Python peer {}", self.script.display()))?;
        peer_json(&out, "Python peer")
    }
}

/// A peer's result: the last JSON line it printed, or its stderr when it failed.
fn peer_json<T: serde::de::DeserializeOwned>(out: &std::process::Output, who: &str) -> Result<T> {
    if !out.status.success() {
        bail!("{who} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{who} printed no JSON"))?;
    serde_json::from_str(last).with_context(|| format!("parsing the {who}'s JSON"))
}

/// `path`, or a link to it in `scratch` when it is not UTF-8: the peer's libraries
/// (tokenizers, onnxruntime) accept only UTF-8 paths.
#[cfg_attr(not(unix), allow(unused_variables))]
fn utf8_path(path: &Path, scratch: &Path, name: &str) -> Result<PathBuf> {
    #[cfg(unix)]
    if path.to_str().is_none() {
        let link = scratch.join(name);
        std::os::unix::fs::symlink(std::path::absolute(path)?, &link)
            .with_context(|| format!("linking {} for the Python peer", path.display()))?;
        return Ok(link);
    }
    Ok(path.to_path_buf())
}

impl BenchArgs {
    fn timing(&self) -> Timing {
        Timing {
            repeat: self.repeat,
            batch_size: self.batch_size,
            peer_batch_size: self.peer_batch_size,
            graph_opt: self.graph_opt.unwrap_or_default(),
            share_prefixes: !self.no_prefix_sharing,
        }
    }
}

pub fn run(args: BenchArgs, quiet: bool) -> Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if args.count == 0 {
        bail!("--count 0: need at least 1 string to time");
    }
    if let (Some(input), Some(json)) = (&args.input, &args.json) {
        lexalign::io::refuse_overwrite(&[("--input", input)], &[("--json", json)])?;
    }
    if let Some(suite) = &args.suite {
        return super::bench_suite::run(suite, &args, quiet);
    }
    if let Some(n) = args.retrieval {
        return run_retrieval(n, &args, quiet);
    }
    let timing = args.timing();
    let peer = Peer::new();
    let scratch = tempfile::tempdir()?;
    let input = match &args.input {
        Some(p) => p.clone(),
        None => {
            let p = scratch.path().join("strings.txt");
            peer.make_input(&p, args.count)?;
            p
        }
    };
    let texts = lexalign::io::read_strings(&input, None)?;
    if texts.is_empty() {
        bail!(
            "--input {}: no strings to time (the file is empty)",
            input.display()
        );
    }
    let loading = Instant::now();
    let model = args
        .model
        .load_with(|o| o.with_graph_opt(timing.graph_opt))?;
    let load_seconds = loading.elapsed().as_secs_f64();
    let (mut ours, emb) = time_lexalign(&model, &texts, &timing)?;
    ours.load_seconds = Some(load_seconds);
    println!(
        "strings: {} ({} distinct), model {}, {} threads, best of {}, graph opt {}, session load {load_seconds:.3} s",
        texts.len(),
        emb.stats.distinct,
        model.info().name,
        ours.threads,
        args.repeat,
        timing.graph_opt
    );
    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>9}",
        "", "seconds", "strings/s", "tokens/s", "padding"
    );
    print_line("lexalign", &ours);
    let compared = if args.no_peer {
        None
    } else {
        let output = scratch.path().join("peer.npy");
        Some(compare(
            &peer,
            &model,
            &input,
            &timing,
            (&ours, &emb),
            &output,
        )?)
    };
    if let Some(p) = &args.json {
        let report = Report {
            model: model.info(),
            strings: texts.len(),
            distinct: emb.stats.distinct,
            lexalign: &ours,
            python: compared.as_ref().map(|c| &c.throughput),
            ratio: compared.as_ref().map(|c| c.ratio),
            peer_batch_size: compared.as_ref().map(|_| args.peer_batch_size),
            lowest_cosine: compared.as_ref().map(|c| c.lowest_cosine),
        };
        lexalign::io::write_json_atomic(p, &serde_json::to_value(&report)?)?;
        if !quiet {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}

/// Best of `--repeat` timed runs (after a warm-up), without the cache.
pub(super) fn time_lexalign(
    model: &Model,
    texts: &[String],
    args: &Timing,
) -> Result<(Throughput, Embeddings)> {
    // The model's own pooling and normalisation (a decoder pools its last token).
    let options = model
        .embed_options()
        .with_cache(None)
        .with_batch_size(args.batch_size)
        .with_share_prefixes(args.share_prefixes);
    model.embed(&texts[..texts.len().min(64)], &options)?; // warm-up
    let mut best: Option<(f64, Embeddings)> = None;
    for _ in 0..args.repeat {
        let t = Instant::now();
        let emb = model.embed(texts, &options)?;
        let s = t.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|(b, _)| s < *b) {
            best = Some((s, emb));
        }
    }
    let (seconds, emb) = best.context("no timed run")?;
    let ours = Throughput {
        strings: texts.len(),
        seconds,
        strings_per_s: texts.len() as f64 / seconds,
        tokens: emb.stats.real_tokens,
        tokens_per_s: emb.stats.real_tokens as f64 / seconds,
        padding_efficiency: emb.stats.padding_efficiency(),
        shared_tokens: emb.stats.shared_tokens,
        threads: model.threads().get(),
        load_seconds: None,
        peer: None,
    };
    Ok((ours, emb))
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Runs the peer and prints how it compares with our run (`ours`: timing, vectors).
pub(super) fn compare(
    peer: &Peer,
    model: &Model,
    input: &Path,
    timing: &Timing,
    ours: (&Throughput, &Embeddings),
    output: &Path,
) -> Result<PeerRun> {
    let theirs = peer.run(model, input, timing, output)?;
    print_line("python", &theirs);
    let ratio = ours.0.strings_per_s / theirs.strings_per_s;
    println!("ratio lexalign / python: {ratio:.2}x (strings/s)");
    let lowest_cosine = worst_cosine(&ours.1.vectors, &lexalign::io::read_npy(output)?);
    println!("agreement: lowest cosine between the two outputs {lowest_cosine:.7}");
    Ok(PeerRun {
        throughput: theirs,
        ratio,
        lowest_cosine,
    })
}

pub(super) fn print_line(name: &str, t: &Throughput) {
    println!(
        "{:<10} {:>10.3} {:>12.1} {:>12.1} {:>9.3}",
        name, t.seconds, t.strings_per_s, t.tokens_per_s, t.padding_efficiency
    );
}

pub(super) fn worst_cosine(a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) -> f64 {
    a.rows()
        .into_iter()
        .zip(b.rows())
        .map(|(x, y)| {
            let dot: f64 = x.iter().zip(y).map(|(&p, &q)| p as f64 * q as f64).sum();
            let nx: f64 = x.iter().map(|&p| (p as f64).powi(2)).sum::<f64>().sqrt();
            let ny: f64 = y.iter().map(|&q| (q as f64).powi(2)).sum::<f64>().sqrt();
            dot / (nx * ny)
        })
        .fold(1.0, f64::min)
}

/// What `bench --retrieval` measures and writes.
#[derive(Debug, serde::Serialize)]
pub(super) struct RetrievalBench {
    pub n: usize,
    dim: usize,
    threads: usize,
    repeat: usize,
    /// Best of `repeat` runs of `retrieval` (centring, unit rows, the product and
    /// the rank counts of both directions).
    pub retrieval_seconds: f64,
    /// 2·n²·dim / retrieval_seconds, in 10⁹ per second.
    gflops: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numpy_gemm: Option<serde_json::Value>,
    /// numpy's GEMM seconds (also inside `numpy_gemm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numpy_seconds: Option<f64>,
    /// retrieval_seconds / numpy's GEMM seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

fn run_retrieval(n: u64, args: &BenchArgs, quiet: bool) -> Result<()> {
    let n = usize::try_from(n).context("--retrieval is too large for this machine")?;
    let dim = usize::try_from(args.dim).context("--dim is too large for this machine")?;
    let threads = lexalign::parallel::from_setting(args.model.threads.unwrap_or(0))?;
    let report = time_retrieval(n, dim, threads, (args.repeat, 0.0), !args.no_peer, quiet)?;
    if let Some(p) = &args.json {
        lexalign::io::write_json_atomic(p, &serde_json::to_value(&report)?)?;
        if !quiet {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}

/// Times retrieval of `n` synthetic pairs and, when `with_peer` and the venv
/// exists, numpy's GEMM on the same sizes right after, each the best of the same
/// number of runs: at least `runs.0`, and more (up to 50) until lexalign's runs
/// add up to `runs.1` seconds, so a 0.1-s size is not judged on two samples.
pub(super) fn time_retrieval(
    n: usize,
    dim: usize,
    threads: std::num::NonZeroUsize,
    runs: (usize, f64),
    with_peer: bool,
    quiet: bool,
) -> Result<RetrievalBench> {
    use lexalign::metrics::retrieval::{retrieval, synthetic_pairs, RetrievalConfig};
    let (left, right) = synthetic_pairs(n, dim, 1)?;
    let config = RetrievalConfig::default();
    let mut best = f64::INFINITY;
    let (mut repeat, mut total) = (0, 0.0);
    while repeat < runs.0 || (total < runs.1 && repeat < 50) {
        let t = Instant::now();
        let r = lexalign::parallel::install(threads, || {
            retrieval(left.view(), right.view(), &config)
        })??;
        let seconds = t.elapsed().as_secs_f64();
        best = best.min(seconds);
        total += seconds;
        repeat += 1;
        std::hint::black_box(r);
    }
    drop((left, right));
    let flops = 2.0 * (n as f64).powi(2) * dim as f64;
    let mut report = RetrievalBench {
        n,
        dim,
        threads: threads.get(),
        repeat,
        retrieval_seconds: best,
        gflops: flops / best / 1e9,
        numpy_gemm: None,
        numpy_seconds: None,
        ratio: None,
    };
    println!(
        "retrieval {n} × {n} × {dim}, both directions, {} threads, best of {repeat}",
        report.threads
    );
    println!("{:<22} {:>10} {:>9}", "", "seconds", "GFLOP/s");
    println!(
        "{:<22} {:>10.3} {:>9.1}",
        "lexalign retrieval", best, report.gflops
    );
    let peer = Peer::new();
    if with_peer && peer.python.exists() {
        let gemm = peer.gemm(n, dim, report.threads, repeat)?;
        let secs = gemm
            .get("gemm_seconds")
            .and_then(|v| v.as_f64())
            .context("the GEMM peer printed no gemm_seconds")?;
        println!(
            "{:<22} {:>10.3} {:>9.1}",
            "numpy L @ R.T alone",
            secs,
            flops / secs / 1e9
        );
        let ratio = best / secs;
        println!("ratio lexalign retrieval / numpy GEMM: {ratio:.2}x (seconds)");
        report.numpy_gemm = Some(gemm);
        report.numpy_seconds = Some(secs);
        report.ratio = Some(ratio);
    } else if with_peer && !quiet {
        eprintln!(
            "no numpy peer: {} is missing (run `make setup`)",
            peer.python.display()
        );
    }
    Ok(report)
}
