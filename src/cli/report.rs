//! `lexalign report`: the main job — every pairing measured, tables, figures and report.md.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use lexalign::embed::Pooling;
use lexalign::pairs::Binning;
use lexalign::report::{run, run_models, Config, Report};

use super::embed::ModelArgs;
use super::pairs::PairsArgs;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// TOML settings (see configs/paper.toml); default: the paper run.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Several models side by side (comma-separated, each as --model takes it, e.g.
    /// minilm,smollm2): each model's report goes to OUT/<model>/ and FIGURES/<model>/,
    /// and OUT/report.md, models.json, models.csv, tokens.csv and fig8/fig9 compare them.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "A,B",
        conflicts_with = "model"
    )]
    pub models: Vec<PathBuf>,
    /// Pooling (overrides the config; default: the model's own, else mean).
    #[arg(long, value_enum)]
    pub pooling: Option<Pooling>,
    /// Analyse the full vocabularies instead of the paper samples.
    #[arg(long)]
    pub full: bool,
    /// Results folder (pairs/, summary.json, report.md).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Figures folder (PNG + SVG).
    #[arg(long, value_name = "DIR")]
    pub figures: Option<PathBuf>,
    /// Built-in pairings (comma-separated); default: all seven, or none when --pairs is given.
    #[arg(long, value_delimiter = ',')]
    pub pairings: Vec<String>,
    #[command(flatten)]
    pub pairs: PairsArgs,
    /// Popularity binning of --pairs tables: rank (equal-count bins over rank, the study's) or log.
    #[arg(long, value_enum)]
    pub binning: Option<Binning>,
    /// Also measure these layers of a decoder (`all` = 0..=L, or e.g. 0,5,10,15,20,25,30;
    /// 0 = token embeddings, L = final states): summary.json gains `layers`, figures gain
    /// fig7_layers_auc and fig7_layers_lexicalization. Models without layers (MiniLM) refuse it.
    #[arg(long, value_name = "all|LIST")]
    pub layers: Option<String>,
    /// Wrap each string before embedding, e.g. 'The gene symbol {} means' (exactly one
    /// `{}`). For decoders (last-token pooling) the vector is the prompt's last token.
    /// Recorded in summary.json's model block and the figure captions.
    #[arg(long, value_name = "TEXT")]
    pub template: Option<String>,
    /// Skip the embedding cache.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Only embed shard K of N of the strings into the shared cache, then stop (one
    /// Slurm array task each); the run without --shard then analyses from the cache.
    #[arg(long, value_name = "K/N", conflicts_with = "no_cache")]
    pub shard: Option<lexalign::embed::Shard>,
}

impl ReportArgs {
    /// The config file (or the paper defaults) with the flags applied.
    fn config(&self, quiet: bool) -> Result<Config> {
        let mut config = match &self.config {
            Some(p) => Config::from_file(p)?,
            None => Config::paper(),
        };
        self.model.apply(&mut config);
        if !self.models.is_empty() {
            config.models = Some(self.models.clone());
            config.model = None;
        }
        if let Some(p) = self.pooling {
            config.pooling = Some(p);
        }
        if self.full {
            config.sample = lexalign::pairs::Sample::Full;
        }
        if let Some(o) = &self.out {
            config.out = o.clone();
        }
        if let Some(f) = &self.figures {
            config.figures = f.clone();
        }
        if !self.pairings.is_empty() {
            config.pairings = Some(self.pairings.clone());
        }
        config.pairs.extend(self.pairs.files()?);
        if let Some(b) = self.binning {
            config.binning = b;
        }
        if let Some(l) = &self.layers {
            config.layers = Some(lexalign::report::LayerSetting::Text(l.clone()));
        }
        if let Some(t) = &self.template {
            config.template = Some(t.clone());
        }
        config.cache = !self.no_cache;
        config.progress = !quiet;
        Ok(config)
    }
}

/// No --pairs table or --config file may be in what the run replaces in --out.
fn refuse_overwrite(args: &ReportArgs, config: &Config, labels: &[String]) -> Result<()> {
    let mut inputs: Vec<(&str, &Path)> = config
        .pairs
        .iter()
        .map(|p| ("--pairs", p.file.as_path()))
        .collect();
    inputs.extend(args.config.as_deref().map(|c| ("--config", c)));
    let entries = Report::replaced_entries(&config.out, labels);
    let outputs: Vec<(&str, &Path)> = entries.iter().map(|e| ("--out", e.as_path())).collect();
    Ok(lexalign::io::refuse_overwrite(&inputs, &outputs)?)
}

/// Output folders are made before any work, so a bad --out fails in a second.
fn make_output_dirs(out: &Path, figures: &Path) -> Result<()> {
    for (flag, d) in [("--out", out), ("--figures", figures)] {
        if d.exists() && !d.is_dir() {
            anyhow::bail!("{flag} {}: is a file; expected a folder", d.display());
        }
        std::fs::create_dir_all(d).with_context(|| format!("{flag}: creating {}", d.display()))?;
    }
    Ok(())
}

pub fn run_report(args: ReportArgs, quiet: bool) -> Result<()> {
    let config = args.config(quiet)?;
    if config.models.is_some() {
        return run_comparison(&args, &config, quiet);
    }
    refuse_overwrite(&args, &config, &[])?;
    let run_settings = config.resolve()?;
    if let Some(shard) = args.shard {
        let s = lexalign::report::embed_shard(&run_settings, shard).context("report shard")?;
        if !quiet {
            eprintln!(
                "shard {shard}: {} distinct strings ({} already cached, {} computed) into the cache; no analysis",
                s.distinct, s.from_cache, s.computed
            );
        }
        return Ok(());
    }
    make_output_dirs(run_settings.out(), run_settings.figures_dir())?;
    let report = run(&run_settings).context("report run")?;
    let written = report.write(run_settings.out(), run_settings.figures_dir())?;
    if !quiet {
        print_summary(&report);
        eprintln!(
            "wrote {} files: {}/summary.json, {}/report.md, figures in {}",
            written.len(),
            run_settings.out().display(),
            run_settings.out().display(),
            run_settings.figures_dir().display()
        );
    }
    Ok(())
}

/// `report --models`: every model in turn, then the comparison.
fn run_comparison(args: &ReportArgs, config: &Config, quiet: bool) -> Result<()> {
    let runs = config.resolve_models()?;
    let labels: Vec<String> = runs.iter().map(|m| m.label.clone()).collect();
    refuse_overwrite(args, config, &labels)?;
    if let Some(shard) = args.shard {
        for m in &runs {
            let s = lexalign::report::embed_shard(&m.run, shard)
                .with_context(|| format!("report shard, model {}", m.label))?;
            if !quiet {
                eprintln!(
                    "shard {shard}, model {}: {} distinct strings ({} already cached, {} computed) into the cache; no analysis",
                    m.label, s.distinct, s.from_cache, s.computed
                );
            }
        }
        return Ok(());
    }
    make_output_dirs(&config.out, &config.figures)?;
    let comparison = run_models(&runs).context("report run")?;
    let written = comparison.write(&config.out, &config.figures)?;
    if !quiet {
        for m in &comparison.models {
            println!("\n== {} ==", m.label);
            print_summary(&m.report);
        }
        println!(
            "\n{:<22} {:<14} {:>8} {:>10} {:>12} {:>8} {:>13}",
            "pairing", "model", "strings", "pieces", "single-token", "digits", "digit pieces"
        );
        for t in comparison.tokens() {
            println!(
                "{:<22} {:<14} {:>8} {:>10.2} {:>12.3} {:>8.2} {:>13.2}",
                t.pairing,
                t.model,
                t.strings,
                t.pieces_mean,
                t.single_token_share,
                t.digits_mean,
                t.digit_pieces_mean
            );
        }
        eprintln!(
            "wrote {} files: {}/report.md, models.json, models.csv, tokens.csv and one folder per model; figures in {}",
            written.len(),
            config.out.display(),
            config.figures.display()
        );
    }
    Ok(())
}

fn print_summary(report: &Report) {
    for sk in &report.skipped {
        eprintln!("skipped {}: {}", sk.name, sk.reason);
    }
    let t = &report.timings;
    let times: Vec<String> = t
        .pairings
        .iter()
        .map(|(k, v)| format!("{k} {v:.1}"))
        .collect();
    eprintln!("analysis seconds: {}", times.join(", "));
    let stages: Vec<String> = report
        .analyses
        .iter()
        .map(|a| {
            let s = &a.seconds;
            format!(
                "{} {:.2}/{:.2}/{:.2}/{:.2}",
                a.pairing.name, s.alignment, s.retrieval, s.probe, s.pca
            )
        })
        .collect();
    eprintln!(
        "seconds alignment/retrieval/probe/pca: {}",
        stages.join(", ")
    );
    let s = &report.embed_stats;
    eprintln!(
        "embedded {} strings ({} distinct, {} cached, {} computed) in {:.1} s; total {:.1} s",
        s.strings, s.distinct, s.from_cache, s.computed, t.embed, t.total
    );
    if !report.layers.is_empty() {
        eprintln!(
            "{} layers measured in {:.1} s",
            report.layers.len(),
            t.layers
        );
        for l in &report.layers {
            let row: Vec<String> = l
                .pairings
                .iter()
                .map(|p| format!("{} AUC {:.3} lex {:.3}", p.name, p.auc, p.lexicalization))
                .collect();
            eprintln!("  layer {:>2}: {}", l.layer, row.join(", "));
        }
    }
    println!(
        "{:<22} {:>6} {:>8} {:>8} {:>7} {:>7} {:>8} {:>9} {:>9}",
        "pairing", "n", "AUC", "AUC raw", "top-1", "top-10", "lexical", "probe tr", "probe wh"
    );
    for a in &report.analyses {
        let probe = |f: fn(&lexalign::metrics::probe::MapScores) -> f64| {
            a.probe
                .as_ref()
                .map_or("–".to_string(), |p| format!("{:.3}", f(&p.procrustes)))
        };
        println!(
            "{:<22} {:>6} {:>8.3} {:>8.3} {:>7.3} {:>7.3} {:>8.3} {:>9} {:>9}",
            a.pairing.name,
            a.pairing.len(),
            a.alignment.centred.auc.estimate,
            a.alignment.raw.auc.estimate,
            a.retrieval.left_to_right.top1,
            a.retrieval.left_to_right.top10,
            a.lexicalization.mean.estimate,
            probe(|m| m.train_top1),
            probe(|m| m.withheld_top1)
        );
    }
}
