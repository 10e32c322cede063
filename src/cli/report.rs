//! `lexalign report`: the main job — every pairing measured, tables, figures and report.md.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use lexalign::report::{run, Config};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// TOML settings (see configs/paper.toml); default: the paper run.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Analyse the full vocabularies instead of the paper samples.
    #[arg(long)]
    pub full: bool,
    /// Results folder (pairs/, summary.json, report.md).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Figures folder (PNG + SVG).
    #[arg(long, value_name = "DIR")]
    pub figures: Option<PathBuf>,
    /// Model directory (overrides the config).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Threads (overrides the config; 0 = all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Only these pairings (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub pairings: Vec<String>,
    /// Skip the embedding cache.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
}

pub fn run_report(args: ReportArgs, quiet: bool) -> Result<()> {
    let mut config = match &args.config {
        Some(p) => Config::from_file(p)?,
        None => Config::paper(),
    };
    if args.full {
        config.sample = "full".into();
    }
    if let Some(o) = args.out {
        config.out = o;
    }
    if let Some(f) = args.figures {
        config.figures = f;
    }
    if let Some(m) = args.model {
        config.model = m.to_string_lossy().into_owned();
    }
    if let Some(t) = args.threads {
        config.threads = t;
    }
    if !args.pairings.is_empty() {
        config.pairings = args.pairings;
    }
    config.cache = !args.no_cache;
    config.progress = !quiet;
    config.validate()?;
    let report = run(&config).context("report run")?;
    let written = report.write(&config.out, &config.figures)?;
    if !quiet {
        for sk in &report.skipped {
            eprintln!("skipped {}: {}", sk.name, sk.reason);
        }
        let mut times: Vec<_> = report
            .seconds
            .iter()
            .filter(|(k, _)| !["embed", "total"].contains(&k.as_str()))
            .collect();
        times.sort_by(|a, b| a.0.cmp(b.0));
        eprintln!(
            "analysis seconds: {}",
            times
                .iter()
                .map(|(k, v)| format!("{k} {v:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let s = &report.embed_stats;
        eprintln!(
            "embedded {} strings ({} distinct, {} cached, {} computed) in {:.1} s; total {:.1} s",
            s.strings,
            s.distinct,
            s.from_cache,
            s.computed,
            report.seconds.get("embed").copied().unwrap_or(0.0),
            report.seconds.get("total").copied().unwrap_or(0.0)
        );
        println!(
            "{:<22} {:>6} {:>8} {:>8} {:>7} {:>7} {:>8} {:>9} {:>9}",
            "pairing", "n", "AUC", "AUC raw", "top-1", "top-10", "lexical", "probe tr", "probe wh"
        );
        for a in &report.analyses {
            let (tr, wh) = a.probe.as_ref().map_or((f64::NAN, f64::NAN), |p| {
                (p.procrustes.train_top1, p.procrustes.withheld_top1)
            });
            println!(
                "{:<22} {:>6} {:>8.3} {:>8.3} {:>7.3} {:>7.3} {:>8.3} {:>9.3} {:>9.3}",
                a.pairing.name,
                a.pairing.len(),
                a.alignment.centred.auc.estimate,
                a.alignment.raw.auc.estimate,
                a.retrieval.left_to_right.top1,
                a.retrieval.left_to_right.top10,
                a.lexicalization.mean.estimate,
                tr,
                wh
            );
        }
        eprintln!(
            "wrote {} files: {}/summary.json, {}/report.md, figures in {}",
            written.len(),
            config.out.display(),
            config.out.display(),
            config.figures.display()
        );
    }
    Ok(())
}
