//! `lexalign pca`: project the rows of a `.npy` matrix onto their first K
//! principal components; writes Y.npy (float32 [n, K]) and Y.json (variances).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use lexalign::io::{read_npy, write_json_atomic, write_npy, OutputSet};
use lexalign::project::fit_pca;

use super::embed::check_output;

#[derive(Debug, Args)]
pub struct PcaArgs {
    /// Input matrix, float32/float64 .npy of shape [n, d].
    #[arg(long)]
    pub input: PathBuf,
    /// Number of components K (1 ≤ K ≤ min(n, d)).
    #[arg(long, default_value_t = 2)]
    pub components: usize,
    /// Output .npy; the variances go to the same path with a .json extension.
    /// Must end in .npy, so the two never collide.
    #[arg(long)]
    pub output: PathBuf,
}

#[derive(Serialize)]
struct Summary<'a> {
    components: usize,
    explained_variance_ratio: &'a [f64],
    explained_variance: &'a [f64],
    total_variance: f64,
    n: usize,
    dim: usize,
    method: lexalign::project::PcaMethod,
}

pub fn run(args: PcaArgs) -> anyhow::Result<()> {
    // Every output name is checked before the PCA runs, so nothing is overwritten.
    check_output(&args.output, &["npy"])?;
    let json_path = args.output.with_extension("json");
    lexalign::io::refuse_overwrite(
        &[("--input", &args.input)],
        &[("--output", &args.output), ("--output (.json)", &json_path)],
    )?;
    if json_path.is_dir() {
        anyhow::bail!(
            "--output {}: {} is a folder; the variances are written there as a file",
            args.output.display(),
            json_path.display()
        );
    }
    let x = read_npy(&args.input)?;
    let pca = fit_pca(x.view(), args.components)
        .with_context(|| format!("PCA of {}", args.input.display()))?;
    let y = pca.project(x.view())?;
    // Both files or neither: staged, then swapped in together.
    let mut set = OutputSet::new();
    write_npy(&set.stage_file(&args.output)?, &y)?;
    write_json_atomic(
        &set.stage_file(&json_path)?,
        &Summary {
            components: args.components,
            explained_variance_ratio: &pca.explained_variance_ratio,
            explained_variance: &pca.explained_variance,
            total_variance: pca.total_variance,
            n: pca.n,
            dim: pca.dim,
            method: pca.method,
        },
    )?;
    set.commit()?;
    println!(
        "PCA of {} ({} × {}), {} components:",
        args.input.display(),
        pca.n,
        pca.dim,
        args.components
    );
    for (i, r) in pca.explained_variance_ratio.iter().enumerate() {
        println!("  PC{}: {:.4}% of variance", i + 1, 100.0 * r);
    }
    println!(
        "  total: {:.4}%; wrote {} and {}",
        100.0 * pca.explained_variance_ratio.iter().sum::<f64>(),
        args.output.display(),
        json_path.display()
    );
    Ok(())
}
