//! `lexalign bench`: embedding throughput against a Python peer (onnxruntime +
//! tokenizers, sentence-transformers-style length-sorted batches) on the same
//! strings, model and thread count, in the same invocation.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::embed::ModelArgs;
use lexalign::embed::EmbedOptions;

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
}

#[derive(Debug, serde::Serialize, serde::Deserialize, Clone)]
struct Throughput {
    strings: usize,
    seconds: f64,
    strings_per_s: f64,
    tokens: usize,
    tokens_per_s: f64,
    padding_efficiency: f64,
    threads: usize,
}

pub fn run(args: BenchArgs, quiet: bool) -> Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let root = lexalign::assets::project_root();
    let python = root.join(".venv/bin/python");
    let peer_script = root.join("scripts/bench_peer.py");
    let scratch = tempfile::tempdir()?;
    let input = match &args.input {
        Some(p) => p.clone(),
        None => {
            let p = scratch.path().join("strings.txt");
            let status = Command::new(&python)
                .arg(&peer_script)
                .args([
                    "--make-input",
                    p.to_str().unwrap(),
                    "--count",
                    &args.count.to_string(),
                ])
                .env("LEXALIGN_ASSETS", lexalign::assets::asset_root())
                .status()
                .with_context(|| {
                    format!("running {} (run `make setup` first)", python.display())
                })?;
            if !status.success() {
                bail!(
                    "could not generate benchmark strings with {}",
                    peer_script.display()
                );
            }
            p
        }
    };
    let texts = lexalign::io::read_strings(&input, None)?;
    let model = args.model.load()?;
    let threads = model_threads(&args.model);
    let options = EmbedOptions::default()
        .with_cache(None)
        .with_batch_size(args.batch_size);
    model.embed(&texts[..texts.len().min(64)], &options)?; // warm-up
    let mut best: Option<(f64, lexalign::embed::Embeddings)> = None;
    for _ in 0..args.repeat {
        let t = Instant::now();
        let emb = model.embed(&texts, &options)?;
        let s = t.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|(b, _)| s < *b) {
            best = Some((s, emb));
        }
    }
    let (seconds, emb) = best.expect("repeat ≥ 1");
    let ours = Throughput {
        strings: texts.len(),
        seconds,
        strings_per_s: texts.len() as f64 / seconds,
        tokens: emb.stats.real_tokens,
        tokens_per_s: emb.stats.real_tokens as f64 / seconds,
        padding_efficiency: emb.stats.padding_efficiency(),
        threads,
    };
    let mut report = serde_json::json!({
        "model": model.info(),
        "strings": texts.len(),
        "distinct": emb.stats.distinct,
        "lexalign": ours,
    });
    println!(
        "strings: {} ({} distinct), model {}, {} threads, best of {}",
        texts.len(),
        emb.stats.distinct,
        model.info().name,
        threads,
        args.repeat
    );
    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>9}",
        "", "seconds", "strings/s", "tokens/s", "padding"
    );
    let line = |name: &str, t: &Throughput| {
        println!(
            "{:<10} {:>10.3} {:>12.1} {:>12.1} {:>9.3}",
            name, t.seconds, t.strings_per_s, t.tokens_per_s, t.padding_efficiency
        )
    };
    line("lexalign", &ours);
    if !args.no_peer {
        let peer_npy = scratch.path().join("peer.npy");
        let out = Command::new(&python)
            .arg(&peer_script)
            .args([
                "--model",
                model.info().dir.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
            ])
            .args([
                "--threads",
                &threads.to_string(),
                "--batch-size",
                &args.peer_batch_size.to_string(),
            ])
            .args([
                "--repeat",
                &args.repeat.to_string(),
                "--output",
                peer_npy.to_str().unwrap(),
            ])
            .output()
            .with_context(|| format!("running the Python peer {}", peer_script.display()))?;
        if !out.status.success() {
            bail!(
                "Python peer failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .context("peer printed no JSON")?;
        let peer: Throughput = serde_json::from_str(last).context("parsing the peer's JSON")?;
        line("python", &peer);
        let ratio = ours.strings_per_s / peer.strings_per_s;
        println!("ratio lexalign / python: {ratio:.2}x (strings/s)");
        let theirs = lexalign::io::read_npy(&peer_npy)?;
        let worst = worst_cosine(&emb.vectors, &theirs);
        println!("agreement: lowest cosine between the two outputs {worst:.7}");
        report["python"] = serde_json::to_value(&peer)?;
        report["ratio"] = ratio.into();
        report["peer_batch_size"] = args.peer_batch_size.into();
        report["lowest_cosine"] = worst.into();
    }
    if let Some(p) = &args.json {
        lexalign::io::write_json_atomic(p, &report)?;
        if !quiet {
            eprintln!("wrote {}", p.display());
        }
    }
    Ok(())
}

fn model_threads(args: &ModelArgs) -> usize {
    args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

fn worst_cosine(a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) -> f64 {
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
