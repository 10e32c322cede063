//! `lexalign ask`: few-shot greedy generation over a pairing, answers scored per item.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use lexalign::generate::ask::{ask, AskOptions, Direction, PromptStyle};
use lexalign::generate::Decoder;
use lexalign::pairs::{self, PairFile, Sample, SampleParams};

use super::embed::RuntimeArgs;
use super::vocab::SampleArg;

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Decoder model: smollm2 (installed) or a directory with generate.onnx + lexalign.json.
    #[arg(long, value_name = "DIR", default_value = "smollm2")]
    pub model: PathBuf,
    /// A built pairing (see `lexalign vocab show`), e.g. hpo-label-id.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "pairs",
        required_unless_present = "pairs"
    )]
    pub pairing: Option<String>,
    /// Your own pair table (CSV, TSV or Parquet) instead of --pairing.
    #[arg(long, value_name = "FILE", requires_all = ["left", "right"])]
    pub pairs: Option<PathBuf>,
    /// Column of the left strings (terms, names) in --pairs.
    #[arg(long, value_name = "COL", requires = "pairs")]
    pub left: Option<String>,
    /// Column of the right strings (identifiers, symbols) in --pairs.
    #[arg(long, value_name = "COL", requires = "pairs")]
    pub right: Option<String>,
    /// Column of item ids in --pairs (written as `id`; default: the row number).
    #[arg(long, value_name = "COL", requires = "pairs")]
    pub id: Option<String>,
    /// Column of train / withheld labels in --pairs (shots come from train).
    #[arg(long, value_name = "COL", requires = "pairs")]
    pub split: Option<String>,
    /// What is asked: the identifier of a term, or the term of an identifier.
    #[arg(long, value_enum)]
    pub direction: Direction,
    /// Prompt style: plain completion (default) or ChatML turns.
    #[arg(long, value_enum, default_value_t = PromptStyle::Plain)]
    pub prompt: PromptStyle,
    /// Few-shot examples, drawn with --seed from the training split.
    #[arg(long, default_value_t = 3)]
    pub shots: usize,
    /// Ask at most N items (a seeded random subset, in table order).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Built pairing set: the paper sample or the full set.
    #[arg(long, value_enum, default_value_t = SampleArg::Paper)]
    pub sample: SampleArg,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// New tokens at most per answer.
    #[arg(long, value_name = "M", default_value_t = 16)]
    pub max_new_tokens: usize,
    /// Items per generation batch.
    #[arg(long, value_name = "B", default_value_t = 8)]
    pub batch: usize,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Per-item table (.csv, .tsv or .parquet); provenance goes to <output>.meta.json.
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
}

pub fn run(args: AskArgs, quiet: bool) -> Result<()> {
    let options = AskOptions {
        direction: args.direction,
        style: args.prompt,
        shots: args.shots,
        limit: args.limit,
        seed: args.seed,
        max_new_tokens: args.max_new_tokens,
        batch: args.batch,
        progress: !quiet,
    };
    options.validate()?;
    let ext = lexalign::io::extension(&args.output);
    if !matches!(ext.as_str(), "csv" | "tsv" | "parquet") {
        bail!(
            "--output {}: expected a .csv, .tsv or .parquet file",
            args.output.display()
        );
    }
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            bail!(
                "--output {}: folder {} does not exist",
                args.output.display(),
                dir.display()
            );
        }
    }
    if let Some(pairs) = &args.pairs {
        let meta = lexalign::generate::ask::meta_path(&args.output);
        lexalign::io::refuse_overwrite(
            &[("--pairs", pairs)],
            &[("--output", &args.output), ("--output (.meta.json)", &meta)],
        )?;
    }
    let pairing = match (&args.pairing, &args.pairs) {
        (Some(name), _) => {
            let sample = match args.sample {
                SampleArg::Paper => Sample::Paper,
                SampleArg::Full => Sample::Full,
            };
            pairs::load_processed(&pairs::default_processed_dir(), name, sample)?
        }
        (None, Some(file)) => PairFile {
            file: file.clone(),
            left: args
                .left
                .clone()
                .context("--left COL is required with --pairs")?,
            right: args
                .right
                .clone()
                .context("--right COL is required with --pairs")?,
            id: args.id.clone(),
            popularity: None,
            split: args.split.clone(),
            name: None,
        }
        .read(&SampleParams::default())?,
        (None, None) => bail!("give --pairing NAME or --pairs FILE --left COL --right COL"),
    };
    let decoder_options = args.runtime.decoder_options()?;
    let decoder = Decoder::load(lexalign::assets::model_dir(&args.model), &decoder_options)?;
    let run = ask(&decoder, &pairing, &options)
        .with_context(|| format!("ask {} {}", pairing.name, options.direction.as_str()))?;
    run.write(&args.output)?;
    if !quiet {
        let m = &run.meta;
        eprintln!(
            "{} {}: {}/{} correct ({:.1}%), normalised {}/{} ({:.1}%); {} empty, {} too long",
            m.pairing,
            options.direction.as_str(),
            m.correct,
            m.items,
            100.0 * m.accuracy,
            m.correct_normalised,
            m.items,
            100.0 * m.accuracy_normalised,
            m.empty_answers,
            m.too_long
        );
        eprintln!(
            "generation {:.1} s: {:.1} new tokens/s, {:.2} items/s (prefix of {} tokens: {:.2} s); wrote {} and .meta.json",
            m.generation_seconds,
            m.tokens_per_second,
            m.items_per_second,
            m.prefix_tokens,
            m.prefix_seconds,
            args.output.display()
        );
    }
    Ok(())
}
