//! `lexalign vocab …`: build the pair sets from the installed raw vocabularies,
//! show one, or print releases, counts and licences.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use lexalign::pairs::{self, Binning, Sample, SampleParams, Split};
use lexalign::vocab::{self, BuildOptions};

/// Which stored set `vocab show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleArg {
    Paper,
    Full,
}

#[derive(Debug, clap::Subcommand)]
pub enum VocabCommand {
    /// Build concept tables and all pairings (full sets and paper samples) under data/processed/.
    Build {
        /// Output folder (default: data/processed of this repository).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Items per split in the paper sample (training and withheld each).
        #[arg(long, default_value_t = 600)]
        per_split: usize,
        /// Popularity bins for the paper sample (bin 1 = most popular).
        #[arg(long, default_value_t = 20)]
        bins: u32,
        /// rank: equal-count bins over popularity rank (the study's); log: equal-width
        /// bins over ln(1 + popularity).
        #[arg(long, value_enum, default_value_t = Binning::Rank)]
        binning: Binning,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Keep obsolete terms and withdrawn genes in the pairings.
        #[arg(long)]
        include_obsolete: bool,
        /// Skip the size/release/sha256 check of the raw files against manifest.json.
        #[arg(long)]
        no_manifest_check: bool,
    },
    /// Print the first rows of a built pairing.
    Show {
        /// One of: gene-name-symbol, gene-name-hgnc-id, gene-symbol-hgnc-id, go-label-id,
        /// hpo-label-id, go-label-synonym, hpo-label-synonym.
        pairing: String,
        #[arg(long, value_enum, default_value_t = SampleArg::Paper)]
        sample: SampleArg,
        #[arg(long, default_value_t = 10)]
        head: usize,
        /// Folder the pairings were built into (default: data/processed).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print the releases, counts and licences of the installed vocabularies.
    Info,
}

pub fn run(cmd: VocabCommand, quiet: bool) -> Result<()> {
    match cmd {
        VocabCommand::Build {
            out,
            per_split,
            bins,
            binning,
            seed,
            include_obsolete,
            no_manifest_check,
        } => {
            let params = SampleParams {
                per_split,
                bins,
                seed,
                binning,
            };
            let opts = BuildOptions {
                include_obsolete,
                check_manifest: !no_manifest_check,
                ..BuildOptions::default()
            };
            build(&opts, &params, out, quiet)
        }
        VocabCommand::Show {
            pairing,
            sample,
            head,
            dir,
        } => show(&pairing, sample, head, dir),
        VocabCommand::Info => info(quiet),
    }
}

fn build(
    opts: &BuildOptions,
    params: &SampleParams,
    out: Option<PathBuf>,
    quiet: bool,
) -> Result<()> {
    params.validate()?;
    let dir = out.unwrap_or_else(pairs::default_processed_dir);
    let start = Instant::now();
    let set = vocab::build_all(opts).context("reading the raw vocabularies")?;
    let summary = set
        .write(&dir, params)
        .with_context(|| format!("writing pair sets to {}", dir.display()))?;
    if quiet {
        return Ok(());
    }
    for s in &summary.sources {
        eprintln!("source: {}", s.citation);
    }
    for p in &summary.pairings {
        eprintln!(
            "{:<20} {:>6} pairs ({} with popularity; dropped {} identical, {} without a candidate)",
            p.name, p.rows, p.with_popularity, p.dropped_identical, p.without_candidate
        );
    }
    print_timings(&summary.timings);
    eprintln!(
        "wrote {} files to {} in {:.1} s",
        summary.files.len(),
        dir.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn show(name: &str, sample: SampleArg, head: usize, dir: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(pairs::default_processed_dir);
    let which = match sample {
        SampleArg::Paper => Sample::Paper,
        SampleArg::Full => Sample::Full,
    };
    let p = pairs::load_processed(&dir, name, which)?;
    println!("{} — {}", p.name, p.meta.description);
    println!("popularity: {}", p.meta.popularity_proxy);
    // Citations as the build recorded them; without that record, the source names.
    let installed = pairs::read_releases(&dir).unwrap_or_default();
    for s in &p.meta.sources {
        match installed.iter().find(|i| i.source == *s) {
            Some(i) => println!("source: {}", i.citation),
            None => println!("source: {}", s.name()),
        }
    }
    let train = p.split.iter().filter(|s| **s == Split::Train).count();
    let withheld = p.split.iter().filter(|s| **s == Split::Withheld).count();
    println!("{} rows ({train} train, {withheld} withheld)", p.len());
    let df = p.to_dataframe()?.head(Some(head));
    std::env::set_var("POLARS_FMT_MAX_ROWS", head.max(1).to_string());
    std::env::set_var("POLARS_FMT_STR_LEN", "60");
    println!("{df}");
    Ok(())
}

fn info(quiet: bool) -> Result<()> {
    let set = vocab::build_all(&BuildOptions::default()).context("reading the raw vocabularies")?;
    println!("Sources:");
    for s in &set.sources {
        println!("  {}", s.name);
        println!("    release: {}", s.release);
        println!("    licence: {}", s.licence);
        println!("    cite as: {}", s.citation);
        println!("    from:    {} ({})", s.origin, s.file);
    }
    let c = set.counts();
    println!("Counts:");
    println!(
        "  HGNC: {} rows, {} approved ({} protein-coding)",
        c.hgnc_rows, c.hgnc_approved, c.hgnc_protein_coding
    );
    println!(
        "  GO: {} terms (BP/MF/CC), {} obsolete",
        c.go_terms, c.go_obsolete
    );
    println!(
        "  HPO: {} terms, {} not obsolete, {} synonyms; {} annotations ({} NOT), {} diseases",
        c.hpo_terms,
        c.hpo_not_obsolete,
        c.hpo_synonyms,
        c.hpoa_annotations,
        c.hpoa_not_annotations,
        c.hpoa_diseases
    );
    println!("Pairings:");
    for (_, st) in set.pairings_with_stats() {
        println!(
            "  {:<20} {:>6} pairs ({} with popularity; {} dropped as identical)",
            st.name, st.rows, st.with_popularity, st.dropped_identical
        );
    }
    if !quiet {
        print_timings(&set.timings);
    }
    Ok(())
}

fn print_timings(timings: &[(String, f64)]) {
    for (stage, secs) in timings {
        eprintln!("  {stage}: {secs:.2} s");
    }
}
