//! `lexalign retrieval`: exact retrieval ranks of two `.npy` matrices (row i of
//! `--left` paired with row i of `--right`), in one process or as shards.
//!
//! Exact retrieval is O(n²). Past one machine, each Slurm array task ranks a band
//! of query rows against every target (`--shard K/N --blocks DIR`, one block file
//! each), and one job assembles ranks and metrics from the blocks (`--merge`):
//! the result equals the unsharded run's exactly.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use lexalign::embed::Shard;
use lexalign::io::{read_npy, sha256_file, write_json_atomic, OutputSet};
use lexalign::metrics::retrieval::{
    merge_blocks, retrieval, retrieval_block, DirectionRanks, RankBlock, Retrieval, RetrievalConfig,
};

#[derive(Debug, Args)]
pub struct RetrievalArgs {
    /// Left vectors (queries of left→right): float32/float64 .npy of shape [n, d].
    #[arg(long, value_name = "FILE.npy")]
    pub left: PathBuf,
    /// Right vectors, row i paired with row i of --left; same shape.
    #[arg(long, value_name = "FILE.npy")]
    pub right: PathBuf,
    /// Rank by raw cosine (default: mean-centred cosine, as the report does).
    #[arg(long)]
    pub raw: bool,
    /// Only rank shard K of N of the query rows and write its block into --blocks,
    /// then stop (one Slurm array task each; see scripts/slurm/retrieval-array.sbatch).
    #[arg(long, value_name = "K/N", requires = "blocks", conflicts_with_all = ["merge", "out"])]
    pub shard: Option<Shard>,
    /// Assemble ranks and metrics from every block in --blocks instead of computing.
    #[arg(long, requires = "blocks")]
    pub merge: bool,
    /// Folder of rank blocks (block-K-of-N.json), shared by the shards and the merge.
    #[arg(long, value_name = "DIR")]
    pub blocks: Option<PathBuf>,
    /// Results folder: ranks.csv (row, left_to_right, right_to_left) and retrieval.json.
    #[arg(long, value_name = "DIR", required_unless_present = "shard")]
    pub out: Option<PathBuf>,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// `retrieval.json`: the settings and both directions' summaries.
#[derive(Serialize)]
struct Summary<'a> {
    n: usize,
    dim: usize,
    centred: bool,
    tie_tolerance: f32,
    zero_rows_left: usize,
    zero_rows_right: usize,
    /// Shards merged (1 when computed in one process).
    shards: usize,
    left_sha256: &'a str,
    right_sha256: &'a str,
    left_to_right: Direction,
    right_to_left: Direction,
}

#[derive(Serialize)]
struct Direction {
    top1: f64,
    top10: f64,
    mrr: f64,
    median_rank: f64,
}

impl From<&DirectionRanks> for Direction {
    fn from(d: &DirectionRanks) -> Self {
        Direction {
            top1: d.top1,
            top10: d.top10,
            mrr: d.mrr,
            median_rank: d.median_rank,
        }
    }
}

fn block_name(k: usize, n: usize) -> String {
    format!("block-{k}-of-{n}.json")
}

/// `block-K-of-N.json` → (K, N).
fn parse_block_name(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix("block-")?.strip_suffix(".json")?;
    let (k, n) = rest.split_once("-of-")?;
    Some((k.parse().ok()?, n.parse().ok()?))
}

pub fn run(args: RetrievalArgs, quiet: bool) -> Result<()> {
    let threads = lexalign::parallel::from_setting(args.threads)?;
    let config = RetrievalConfig {
        centred: !args.raw,
        ..Default::default()
    };
    if let Some(out) = &args.out {
        if out.exists() && !out.is_dir() {
            bail!("--out {}: is a file; expected a folder", out.display());
        }
    }
    if args.blocks.is_some() && args.shard.is_none() && !args.merge {
        bail!("--blocks is where --shard writes and --merge reads; give one of them");
    }
    let shas = [
        sha256_file(&args.left).with_context(|| format!("--left {}", args.left.display()))?,
        sha256_file(&args.right).with_context(|| format!("--right {}", args.right.display()))?,
    ];
    // What every block of one run must agree on: both files' SHA-256.
    let inputs = format!("left sha256 {}, right sha256 {}", shas[0], shas[1]);
    if args.merge {
        let dir = args.blocks.as_deref().expect("clap requires --blocks");
        let blocks = read_blocks(dir, &inputs)?;
        let shards = blocks.len();
        let r = merge_blocks(&blocks).with_context(|| format!("--blocks {}", dir.display()))?;
        return finish(&args, &r, shards, &shas, quiet);
    }
    let left = read_npy(&args.left)?;
    let right = read_npy(&args.right)?;
    if let Some(shard) = args.shard {
        let dir = args.blocks.as_deref().expect("clap requires --blocks");
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--blocks: creating {}", dir.display()))?;
        let block = lexalign::parallel::install(threads, || {
            retrieval_block(
                left.view(),
                right.view(),
                &config,
                (shard.index, shard.count),
                &inputs,
            )
        })??;
        let path = dir.join(block_name(shard.index, shard.count));
        write_json_atomic(&path, &block)?;
        if !quiet {
            eprintln!(
                "shard {shard}: ranked rows {}..{} of {} against all {} targets; wrote {}",
                block.start,
                block.start + block.row_greater.len(),
                block.n,
                block.n,
                path.display()
            );
        }
        return Ok(());
    }
    let r =
        lexalign::parallel::install(threads, || retrieval(left.view(), right.view(), &config))??;
    finish(&args, &r, 1, &shas, quiet)
}

/// Every `block-K-of-N.json` in `dir`, checked against its name and the inputs.
fn read_blocks(dir: &Path, inputs: &str) -> Result<Vec<RankBlock>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("--blocks {}: cannot read", dir.display()))?;
    let mut named: Vec<(PathBuf, usize, usize)> = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("--blocks {}", dir.display()))?;
        let name = e.file_name();
        if let Some((k, n)) = parse_block_name(&name.to_string_lossy()) {
            named.push((e.path(), k, n));
        }
    }
    named.sort_by_key(|(_, k, n)| (*n, *k));
    let Some(&(_, _, count)) = named.first() else {
        bail!(
            "--blocks {}: no block-K-of-N.json files; run the shards (--shard K/N) first",
            dir.display()
        );
    };
    if let Some((p, _, n)) = named.iter().find(|(_, _, n)| *n != count) {
        bail!(
            "--blocks {}: blocks of a {count}-shard run and of a {n}-shard run ({}); remove the stale ones",
            dir.display(),
            p.display()
        );
    }
    let mut blocks = Vec::with_capacity(named.len());
    for (path, k, n) in named {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let b: RankBlock = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a retrieval block (rerun its shard)",
                path.display()
            )
        })?;
        if (b.shard, b.shards) != (k, n) {
            bail!(
                "{}: holds shard {}/{}, not the {k}/{n} its name says",
                path.display(),
                b.shard,
                b.shards
            );
        }
        if b.inputs != inputs {
            bail!(
                "{}: computed from other vectors ({}) than --left/--right ({inputs}); rerun the shards",
                path.display(),
                b.inputs
            );
        }
        blocks.push(b);
    }
    Ok(blocks)
}

/// Writes ranks.csv and retrieval.json into --out as one set.
fn finish(
    args: &RetrievalArgs,
    r: &Retrieval,
    shards: usize,
    shas: &[String; 2],
    quiet: bool,
) -> Result<()> {
    let out = args.out.as_deref().expect("clap requires --out");
    let mut set = OutputSet::new();
    let stage = set.stage(out)?;
    let mut csv = String::from("row,left_to_right,right_to_left\n");
    for (i, (a, b)) in r
        .left_to_right
        .ranks
        .iter()
        .zip(&r.right_to_left.ranks)
        .enumerate()
    {
        csv.push_str(&format!("{i},{a},{b}\n"));
    }
    lexalign::io::write_bytes_atomic(&stage.join("ranks.csv"), csv.as_bytes())?;
    write_json_atomic(
        &stage.join("retrieval.json"),
        &Summary {
            n: r.n,
            dim: r.dim,
            centred: r.centred,
            tie_tolerance: r.tie_tolerance,
            zero_rows_left: r.zero_rows_left,
            zero_rows_right: r.zero_rows_right,
            shards,
            left_sha256: &shas[0],
            right_sha256: &shas[1],
            left_to_right: (&r.left_to_right).into(),
            right_to_left: (&r.right_to_left).into(),
        },
    )?;
    set.commit()?;
    if !quiet {
        eprintln!(
            "retrieval of {} pairs ({}{}): left→right top-1 {:.4}, MRR {:.4}; right→left top-1 {:.4}, MRR {:.4}; wrote {}/ranks.csv and retrieval.json",
            r.n,
            if r.centred { "centred" } else { "raw" },
            if shards > 1 { format!(", merged from {shards} shards") } else { String::new() },
            r.left_to_right.top1,
            r.left_to_right.mrr,
            r.right_to_left.top1,
            r.right_to_left.mrr,
            out.display()
        );
    }
    Ok(())
}
