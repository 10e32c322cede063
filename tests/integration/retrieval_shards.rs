//! Sharded exact retrieval (`lexalign retrieval --shard K/N`, then `--merge`):
//! the merged ranks equal the unsharded ranks exactly, and missing, stale or
//! foreign blocks are clear errors.

use crate::common;

use ndarray::{s, Array2};

use common::{fails_with, succeeds};
use lexalign::metrics::retrieval::{
    merge_blocks, retrieval, retrieval_block, synthetic_pairs, RetrievalConfig,
};

/// Synthetic pairs with exact duplicates, so ties fall across shard edges.
fn pairs(n: usize, dim: usize, seed: u64) -> (Array2<f32>, Array2<f32>) {
    let (mut l, mut r) = synthetic_pairs(n, dim, seed).unwrap();
    for (from, to) in [(0, n / 3), (5, n / 3 + 1), (n - 1, 2 * n / 3), (7, n - 2)] {
        let row = l.row(from).to_owned();
        l.row_mut(to).assign(&row);
        let row = r.row(from).to_owned();
        r.row_mut(to).assign(&row);
    }
    (l, r)
}

#[test]
fn three_shards_of_20k_equal_the_unsharded_ranks() {
    let (l, r) = pairs(20_000, 64, 11);
    for centred in [true, false] {
        let cfg = RetrievalConfig {
            centred,
            ..Default::default()
        };
        let whole = retrieval(l.view(), r.view(), &cfg).unwrap();
        let blocks: Vec<_> = [3, 1, 2]
            .into_iter()
            .map(|k| retrieval_block(l.view(), r.view(), &cfg, (k, 3), "synthetic").unwrap())
            .collect();
        // the shards split the rows in whole blocks, in order, covering all
        let mut starts: Vec<(usize, usize)> = blocks
            .iter()
            .map(|b| (b.start, b.start + b.row_greater.len()))
            .collect();
        starts.sort();
        assert_eq!(starts.first().unwrap().0, 0);
        assert_eq!(starts.last().unwrap().1, 20_000);
        assert!(starts
            .windows(2)
            .all(|w| w[0].1 == w[1].0 && w[0].1 % 256 == 0));
        let merged = merge_blocks(&blocks).unwrap();
        assert_eq!(merged.left_to_right.ranks, whole.left_to_right.ranks);
        assert_eq!(merged.right_to_left.ranks, whole.right_to_left.ranks);
        assert_eq!(merged.left_to_right.mrr, whole.left_to_right.mrr);
        assert_eq!(merged.right_to_left.top10, whole.right_to_left.top10);
        assert_eq!(
            merged.left_to_right.median_rank,
            whole.left_to_right.median_rank
        );
        // the duplicated pairs tie with their twins: half ranks exist
        assert!(whole.left_to_right.ranks.iter().any(|r| r.fract() == 0.5));
    }
}

#[test]
fn merge_refuses_missing_and_mismatched_blocks() {
    let (l, r) = pairs(1_000, 8, 3);
    let cfg = RetrievalConfig::default();
    let b = |k, n| retrieval_block(l.view(), r.view(), &cfg, (k, n), "x").unwrap();
    let e = merge_blocks(&[b(1, 3), b(3, 3)]).unwrap_err().to_string();
    assert!(e.contains("missing shard(s) 2/3"), "{e}");
    let e = merge_blocks(&[b(1, 2), b(2, 3), b(3, 3)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("shard count"), "{e}");
    let e = merge_blocks(&[b(1, 2), b(1, 2)]).unwrap_err().to_string();
    assert!(e.contains("given twice"), "{e}");
    let other = retrieval_block(l.view(), r.view(), &cfg, (2, 2), "y").unwrap();
    let e = merge_blocks(&[b(1, 2), other]).unwrap_err().to_string();
    assert!(e.contains("inputs"), "{e}");
    // more shards than blocks of rows
    let e = retrieval_block(l.view(), r.view(), &cfg, (1, 5), "x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("at most 4 shards"), "{e}");
}

#[test]
fn cli_shards_then_merge_equal_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (l, r) = pairs(1_500, 16, 5);
    lexalign::io::write_npy(&d.join("l.npy"), &l).unwrap();
    lexalign::io::write_npy(&d.join("r.npy"), &r).unwrap();
    // `lexalign retrieval --left l.npy --right r.npy EXTRA…`
    let retr = |extra: &[&str]| {
        let mut args = vec!["retrieval", "--left", "l.npy", "--right", "r.npy"];
        args.extend_from_slice(extra);
        common::bin().current_dir(d).args(&args).output().unwrap()
    };
    succeeds(&retr(&["--out", "whole"]));
    // merging before every shard ran names what is missing
    succeeds(&retr(&["--shard", "2/3", "--blocks", "b"]));
    let merge = ["--merge", "--blocks", "b", "--out", "merged"];
    fails_with(&retr(&merge), &["missing shard(s) 1/3, 3/3"]);
    for k in ["1/3", "3/3"] {
        succeeds(&retr(&["--shard", k, "--blocks", "b"]));
    }
    let out = retr(&merge);
    succeeds(&out);
    assert!(common::stderr(&out).contains("merged from 3 shards"));
    let read = |p: &str| std::fs::read(d.join(p)).unwrap();
    assert_eq!(read("whole/ranks.csv"), read("merged/ranks.csv"));
    let json = |p: &str| -> serde_json::Value { serde_json::from_slice(&read(p)).unwrap() };
    let (mut a, mut b) = (json("whole/retrieval.json"), json("merged/retrieval.json"));
    assert_eq!(a["shards"], 1);
    assert_eq!(b["shards"], 3);
    a["shards"] = 0.into();
    b["shards"] = 0.into();
    assert_eq!(a, b);
    // a ranks.csv row: row, left→right rank, right→left rank
    let text = String::from_utf8(read("whole/ranks.csv")).unwrap();
    assert_eq!(text.lines().next(), Some("row,left_to_right,right_to_left"));
    assert_eq!(text.lines().count(), 1_501);

    // blocks of other vectors are refused, naming the file
    let mut l2 = l.clone();
    l2.slice_mut(s![0, ..]).fill(0.5);
    lexalign::io::write_npy(&d.join("l.npy"), &l2).unwrap();
    fails_with(
        &retr(&merge),
        &["block-1-of-3.json", "other vectors", "rerun the shards"],
    );
    lexalign::io::write_npy(&d.join("l.npy"), &l).unwrap();
    // a stale block of another shard count is named
    std::fs::write(d.join("b/block-1-of-2.json"), "{}").unwrap();
    fails_with(&retr(&merge), &["2-shard run", "remove the stale ones"]);
    std::fs::remove_file(d.join("b/block-1-of-2.json")).unwrap();
    // a damaged block is named
    std::fs::write(d.join("b/block-2-of-3.json"), "{\"shard\": 2").unwrap();
    fails_with(
        &retr(&merge),
        &["block-2-of-3.json", "not a retrieval block"],
    );
    // flags: a shard writes no --out; --merge needs --blocks
    common::usage_error(
        &retr(&["--shard", "1/3", "--blocks", "b", "--out", "x"]),
        &["--out"],
    );
    common::usage_error(&retr(&["--merge", "--out", "x"]), &["--blocks"]);
    fails_with(
        &retr(&["--blocks", "b", "--out", "x"]),
        &["--shard", "--merge"],
    );
    common::usage_error(&retr(&["--shard", "4/3", "--blocks", "b"]), &["4/3"]);
}
