//! The `lexalign` command: a thin layer over the library.

mod cli;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "lexalign",
    version,
    about = "Measure how embeddings align biomedical names with their identifiers"
)]
struct Cli {
    /// No progress bars or summaries on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Embed strings with an ONNX model (term or static token embeddings).
    Embed(cli::embed::EmbedArgs),
    /// Tokenisation statistics per string.
    Tokens(cli::embed::TokensArgs),
    /// Embedding throughput against a Python onnxruntime peer on the same strings.
    Bench(cli::bench::BenchArgs),
    /// Real vocabularies (HGNC, GO, HPO): build, show and describe the pair sets.
    #[command(subcommand)]
    Vocab(cli::vocab::VocabCommand),
    /// Project rows of a .npy matrix with PCA; writes the projection and explained variance.
    Pca(cli::pca::PcaArgs),
    /// The main job: alignment, retrieval, lexicalisation, probe, PCA; tables, figures, report.md.
    Report(cli::report::ReportArgs),
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Embed(a) => cli::embed::run_embed(a, cli.quiet),
        Command::Tokens(a) => cli::embed::run_tokens(a, cli.quiet),
        Command::Bench(a) => cli::bench::run(a, cli.quiet),
        Command::Vocab(c) => cli::vocab::run(c, cli.quiet),
        Command::Pca(a) => cli::pca::run(a),
        Command::Report(a) => cli::report::run_report(a, cli.quiet),
    }
}
