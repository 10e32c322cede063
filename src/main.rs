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
    /// Models: import a llama GGUF as a decoder (`model import FILE.gguf --name NAME`).
    #[command(subcommand)]
    Model(cli::model::ModelCommand),
    /// Real vocabularies (HGNC, GO, HPO): build, show and describe the pair sets.
    #[command(subcommand)]
    Vocab(cli::vocab::VocabCommand),
    /// Project rows of a .npy matrix with PCA; writes the projection and explained variance.
    Pca(cli::pca::PcaArgs),
    /// Exact retrieval ranks of two .npy matrices, whole or in shards (--shard K/N, --merge).
    Retrieval(cli::retrieval::RetrievalArgs),
    /// The main job: alignment, retrieval, lexicalisation, probe, PCA; tables, figures, report.md.
    Report(cli::report::ReportArgs),
    /// Few-shot greedy generation with a decoder (term → id or id → term), scored per item.
    Ask(cli::ask::AskArgs),
    /// Join a model's per-item answers with a report's per-item table; test
    /// lexicalisation and popularity as predictors of success.
    Outcome(cli::outcome::OutcomeArgs),
}

fn main() {
    quiet_on_closed_pipe();
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
        Command::Model(c) => cli::model::run(c, cli.quiet),
        Command::Pca(a) => cli::pca::run(a),
        Command::Retrieval(a) => cli::retrieval::run(a, cli.quiet),
        Command::Report(a) => cli::report::run_report(a, cli.quiet),
        Command::Ask(a) => cli::ask::run(a, cli.quiet),
        Command::Outcome(a) => cli::outcome::run(a, cli.quiet),
    }
}

/// `lexalign … | head` ends the way Unix tools do: killed by SIGPIPE (status 141 in
/// the shell), with no message. Rust ignores SIGPIPE, which turns every later
/// `println!` into a "Broken pipe" panic. Outputs are written atomically and
/// stdout is printed last, so nothing is half-written when the signal comes.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
