//! `lexalign bench`: embedding throughput against a Python peer (onnxruntime +
//! tokenizers, sentence-transformers-style length-sorted batches) on the same
//! strings, model and thread count, in the same invocation; a decoder also against
//! llama.cpp on the GGUF it was imported from (when `make llama-cpp` installed it).
//!
//! `lexalign bench --retrieval N`: exact retrieval ranks (both directions) of N
//! seeded synthetic pairs, against numpy's `L @ R.T` alone on the same sizes and
//! thread count (scripts/bench_gemm.py, run when the project's venv exists).
//!
//! `lexalign bench --suite FILE|default`: all of it in one invocation, every
//! lexalign/peer pair timed back to back, into one JSON and one figure
//! (`lexalign::bench::suite`).
//!
//! Measuring lives in `lexalign::bench`; this file parses flags and prints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use clap::Args;

use super::embed::ModelArgs;
use lexalign::bench::suite::{self, LlamaCppRow};
use lexalign::bench::{
    against_peer, time_lexalign, time_retrieval, Measured, Ours, Overrides, Peer, PeerRun,
    RetrievalBench, Runs, Suite, Throughput, Timing,
};
use lexalign::embed::{GraphOpt, ModelInfo};
use lexalign::model::Asked;

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
    /// Skip the peers (Python onnxruntime, and llama.cpp for decoders).
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
    #[serde(skip_serializing_if = "Option::is_none")]
    llama_cpp: Option<LlamaCppRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    llama_cpp_skipped: Option<String>,
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
        return run_suite(suite, &args, quiet);
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
    // one setting for lexalign and its peers: the model's own pooling and normalisation
    let setting = model.setting(&Asked::default())?;
    let (mut ours, emb) = time_lexalign(&model, &setting, &texts, &timing)?;
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
    print_header();
    print_line("lexalign", &ours);
    let run = Ours {
        model: &model,
        setting: &setting,
        input: &input,
        timing: &timing,
        throughput: &ours,
        embeddings: &emb,
    };
    let compared = if args.no_peer {
        None
    } else {
        let run = against_peer(&peer, &run, &scratch.path().join("peer.npy"))?;
        print_peer(&run);
        Some(run)
    };
    let (llama_cpp, llama_cpp_skipped) = LlamaCppRow::measure(
        &peer,
        &run,
        &scratch.path().join("llama.npy"),
        !args.no_peer,
    )?;
    if let Some(row) = &llama_cpp {
        print_llama_cpp(row);
    }
    if let Some(why) = &llama_cpp_skipped {
        println!("no llama.cpp peer: {why}");
    }
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
            llama_cpp,
            llama_cpp_skipped,
        };
        write_json(p, &serde_json::to_value(&report)?, quiet)?;
    }
    Ok(())
}

fn write_json(path: &Path, value: &serde_json::Value, quiet: bool) -> Result<()> {
    lexalign::io::write_json_atomic(path, value)?;
    if !quiet {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn print_header() {
    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>9}",
        "", "seconds", "strings/s", "tokens/s", "padding"
    );
}

fn print_line(name: &str, t: &Throughput) {
    println!(
        "{:<10} {:>10.3} {:>12.1} {:>12.1} {:>9.3}",
        name, t.seconds, t.strings_per_s, t.tokens_per_s, t.padding_efficiency
    );
}

fn print_peer(run: &PeerRun) {
    print_line("python", &run.throughput);
    println!("ratio lexalign / python: {:.2}x (strings/s)", run.ratio);
    println!(
        "agreement: lowest cosine between the two outputs {:.7}",
        run.lowest_cosine
    );
}

fn print_llama_cpp(row: &LlamaCppRow) {
    print_line("llama.cpp", &row.throughput);
    println!(
        "ratio lexalign / llama.cpp: {:.2}x (strings/s); lowest cosine {:.5} (llama.cpp runs the GGUF's quantised weights)",
        row.ratio, row.lowest_cosine
    );
}

fn print_retrieval(r: &RetrievalBench) {
    println!(
        "retrieval {n} × {n} × {}, both directions, {} threads, best of {}",
        r.dim,
        r.threads,
        r.repeat,
        n = r.n
    );
    println!("{:<22} {:>10} {:>9}", "", "seconds", "GFLOP/s");
    println!(
        "{:<22} {:>10.3} {:>9.1}",
        "lexalign retrieval", r.retrieval_seconds, r.gflops
    );
    if let (Some(secs), Some(gflops), Some(ratio)) = (r.numpy_seconds, r.numpy_gflops(), r.ratio) {
        println!(
            "{:<22} {:>10.3} {:>9.1}",
            "numpy L @ R.T alone", secs, gflops
        );
        println!("ratio lexalign retrieval / numpy GEMM: {ratio:.2}x (seconds)");
    }
}

/// The numpy peer when asked for and installed (a note when it is missing).
fn numpy_peer(wanted: bool, quiet: bool) -> Option<Peer> {
    let peer = Peer::new();
    if wanted && !peer.available() && !quiet {
        eprintln!(
            "no numpy peer: {} is missing (run `make setup`)",
            peer.python.display()
        );
    }
    (wanted && peer.available()).then_some(peer)
}

fn run_retrieval(n: u64, args: &BenchArgs, quiet: bool) -> Result<()> {
    let n = usize::try_from(n).context("--retrieval is too large for this machine")?;
    let dim = usize::try_from(args.dim).context("--dim is too large for this machine")?;
    let threads = lexalign::parallel::from_setting(args.model.runtime.threads.unwrap_or(0))?;
    let runs = Runs {
        min_runs: args.repeat,
        min_seconds: 0.0,
    };
    let peer = numpy_peer(!args.no_peer, quiet);
    let report = time_retrieval(n, dim, threads, runs, peer.as_ref())?;
    print_retrieval(&report);
    if let Some(p) = &args.json {
        write_json(p, &serde_json::to_value(&report)?, quiet)?;
    }
    Ok(())
}

fn run_suite(spec: &str, args: &BenchArgs, quiet: bool) -> Result<()> {
    let (text, origin) = if spec == "default" {
        (suite::DEFAULT_SUITE.to_string(), "the default suite")
    } else {
        let text = std::fs::read_to_string(spec)
            .with_context(|| format!("reading the bench suite {spec}"))?;
        (text, spec)
    };
    let overrides = Overrides {
        graph_opt: args.graph_opt,
        share_prefixes: !args.no_prefix_sharing,
        peers: !args.no_peer,
    };
    let suite = Suite::resolve(&text, origin, overrides)?;
    let figure = args.figure.as_deref().map(figure_target).transpose()?;
    if figure.is_some() {
        ensure!(
            suite.drawable(),
            "--figure needs both [[model]] and [retrieval] in the suite"
        );
    }
    let base = args.model.options()?;
    let report = suite::run(suite, &base, |m| match m {
        Measured::Throughput { row, repeat } => {
            println!(
                "\n{}: {} strings ({} distinct), {} threads, best of {repeat}",
                row.model, row.strings, row.distinct, row.threads
            );
            print_line("lexalign", &row.lexalign);
            if let (Some(python), Some(ratio), Some(cosine)) =
                (&row.python, row.ratio, row.lowest_cosine)
            {
                print_peer(&PeerRun {
                    throughput: python.clone(),
                    ratio,
                    lowest_cosine: cosine,
                });
            }
            if let Some(a) = &row.against {
                println!(
                    "ratio lexalign {} / python {}: {:.2}x (strings/s)",
                    row.model, a.model, a.ratio
                );
            }
            if let Some(l) = &row.llama_cpp {
                print_llama_cpp(l);
            }
            if let Some(why) = &row.llama_cpp_skipped {
                println!("no llama.cpp peer: {why}");
            }
        }
        Measured::Retrieval(r) => print_retrieval(r),
    })?;
    println!("suite: {:.0} s in all", report.seconds_total);
    if let Some(p) = &args.json {
        write_json(p, &serde_json::to_value(&report)?, quiet)?;
    }
    if let Some((dir, stem)) = figure {
        for p in suite::draw(&report)?.save(&dir, &stem)? {
            if !quiet {
                eprintln!("wrote {}", p.display());
            }
        }
    }
    Ok(())
}

/// `--figure`'s folder and stem; it must name a .png.
fn figure_target(path: &Path) -> Result<(PathBuf, String)> {
    ensure!(
        path.extension().is_some_and(|e| e == "png"),
        "--figure {}: expected a .png path (the .svg goes beside it)",
        path.display()
    );
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("--figure {}: the file name is not UTF-8", path.display()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, stem.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figure_targets() {
        assert!(figure_target(Path::new("figures/bench.svg")).is_err());
        assert_eq!(
            figure_target(Path::new("bench.png")).unwrap(),
            (PathBuf::from("."), "bench".to_string())
        );
    }
}
