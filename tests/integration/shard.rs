//! `--shard K/N`: shard processes running at once into one cache give, merged, the
//! vectors of an unsharded run without the cache, bit for bit, and a following run
//! of the whole input computes nothing.

use crate::common;

use std::process::Output;

use common::{fails_with, succeeds, usage_error};

/// `lexalign ARGS` started in `dir` with the cache `cache`, its output piped.
fn spawn(dir: &std::path::Path, cache: &std::path::Path, args: &[&str]) -> std::process::Child {
    common::bin()
        .current_dir(dir)
        .env("LEXALIGN_CACHE", cache)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait(c: std::process::Child) -> Output {
    c.wait_with_output().unwrap()
}

#[test]
fn shards_merge_into_the_unsharded_result() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let texts: Vec<String> = (0..240)
        .map(|i| {
            format!(
                "{} HP:{:07} term number {i}",
                ["Seizure", "Ataxia", "Fever"][i % 3],
                i * 37
            )
        })
        .collect();
    std::fs::write(d.join("in.txt"), texts.join("\n") + "\n").unwrap();
    let shards: Vec<_> = (1..=3)
        .map(|k| {
            let out = format!("s{k}.parquet");
            let shard = format!("{k}/3");
            spawn(
                d,
                &cache,
                &[
                    "embed", "--input", "in.txt", "--output", &out, "--shard", &shard,
                ],
            )
        })
        .collect();
    let mut total = 0;
    for s in shards {
        let o = wait(s);
        succeeds(&o);
        let err = common::stderr(&o);
        let n: usize = err
            .split("strings (")
            .nth(1)
            .and_then(|x| x.split(' ').next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("{err}"));
        total += n;
    }
    assert_eq!(total, 240, "the shards cover every string once");
    let merged = wait(spawn(
        d,
        &cache,
        &["embed", "--input", "in.txt", "--output", "all.npy"],
    ));
    succeeds(&merged);
    assert!(
        common::stderr(&merged).contains("240 from cache, 0 computed"),
        "{}",
        common::stderr(&merged)
    );
    let reference = wait(spawn(
        d,
        &cache,
        &[
            "embed",
            "--input",
            "in.txt",
            "--output",
            "ref.npy",
            "--no-cache",
        ],
    ));
    succeeds(&reference);
    assert_eq!(
        std::fs::read(d.join("all.npy")).unwrap(),
        std::fs::read(d.join("ref.npy")).unwrap(),
        "merged shards equal an unsharded run without the cache, bit for bit"
    );
    // Bad shards are usage errors naming the flag.
    usage_error(
        &wait(spawn(
            d,
            &cache,
            &[
                "embed", "--input", "in.txt", "--output", "x.npy", "--shard", "4/3",
            ],
        )),
        &["shard", "4/3"],
    );
    usage_error(
        &wait(spawn(
            d,
            &cache,
            &[
                "embed",
                "--input",
                "in.txt",
                "--output",
                "x.npy",
                "--shard",
                "1/2",
                "--no-cache",
            ],
        )),
        &["--no-cache"],
    );
    let _ = fails_with;
}
