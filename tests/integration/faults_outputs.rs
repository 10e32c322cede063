//! Issue 24 at the command line: outputs never replace inputs, output sets stay
//! whole under concurrent and killed runs, readers agree on text, quiet wrong
//! analyses are refused or explained, work is bounded, messages point at the
//! place, and results record no machine paths. Each case checks the exit
//! status, the message and what is on disk afterwards.

use crate::common;

use common::{fails_with, stderr, succeeds};

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lexalign"));
    c.current_dir(dir).env("LEXALIGN_CACHE", dir.join(".cache"));
    c
}

/// `lexalign ARGS` run in `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    bin(dir).args(args).output().unwrap()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn write(p: &Path, text: &str) -> PathBuf {
    std::fs::write(p, text).unwrap();
    p.to_path_buf()
}

/// Entries of `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

const TERMS: [(&str, &str); 12] = [
    ("Seizure", "HP:0001250"),
    ("Fever", "HP:0001945"),
    ("Headache", "HP:0002315"),
    ("Cough", "HP:0012735"),
    ("Ataxia", "HP:0001251"),
    ("Tremor", "HP:0001337"),
    ("Obesity", "HP:0001513"),
    ("Anemia", "HP:0001903"),
    ("Asthma", "HP:0002099"),
    ("Nausea", "HP:0002018"),
    ("Dyspnea", "HP:0002094"),
    ("Fatigue", "HP:0012378"),
];

/// A pair table `term,code,id,pop,part` of `rows` of [`TERMS`].
fn pair_csv(path: &Path, rows: std::ops::Range<usize>) -> PathBuf {
    let mut text = String::from("term,code,id,pop,part\n");
    for (k, i) in rows.enumerate() {
        let (t, c) = TERMS[i];
        let part = if k % 2 == 0 { "train" } else { "withheld" };
        text.push_str(&format!("{t},{c},X{i},{},{part}\n", 10 * (i + 1)));
    }
    write(path, &text)
}

/// `report` args for a pair file named `toy` into `out`/`figs` (no cache, 50 resamples).
fn report_args<'a>(config: &'a str, pairs: &'a str, out: &'a str, figs: &'a str) -> Vec<&'a str> {
    vec![
        "report",
        "-q",
        "--no-cache",
        "--config",
        config,
        "--pairs",
        pairs,
        "--name",
        "toy",
        "--left",
        "term",
        "--right",
        "code",
        "--out",
        out,
        "--figures",
        figs,
    ]
}

fn small_config(dir: &Path) -> PathBuf {
    write(&dir.join("run.toml"), "bootstrap = 50\n")
}

// Item 2: an output never replaces an input.

#[test]
fn outputs_that_name_an_input_are_refused_before_work() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_config(d);
    let p = pair_csv(&d.join("p.csv"), 0..6);
    let before = read(&p);
    std::os::unix::fs::symlink(&p, d.join("link.csv")).unwrap();
    std::fs::hard_link(&p, d.join("hard.csv")).unwrap();
    for out in ["p.csv", "./p.csv", "link.csv", "hard.csv"] {
        let o = run(
            d,
            &[
                "tokens", "--input", "p.csv", "--column", "term", "--output", out,
            ],
        );
        fails_with(
            &o,
            &["--output", "would replace the input", "--input p.csv"],
        );
    }
    // embed: a Parquet input named as the output.
    succeeds(&run(
        d,
        &[
            "tokens",
            "-q",
            "--input",
            "p.csv",
            "--column",
            "term",
            "--output",
            "t.parquet",
        ],
    ));
    let t = read(&d.join("t.parquet"));
    let o = run(
        d,
        &[
            "embed",
            "--input",
            "t.parquet",
            "--column",
            "text",
            "--output",
            "t.parquet",
        ],
    );
    fails_with(&o, &["--output", "would replace the input"]);
    assert_eq!(read(&d.join("t.parquet")), t);
    // tokens --vectors naming the input.
    let o = run(
        d,
        &[
            "tokens",
            "--input",
            "t.parquet",
            "--column",
            "text",
            "--output",
            "o.csv",
            "--vectors",
            "t.parquet",
        ],
    );
    fails_with(&o, &["--vectors", "would replace the input"]);
    // ask: refused before the pairs or the model are read.
    let o = run(
        d,
        &[
            "ask",
            "--pairs",
            "p.csv",
            "--left",
            "term",
            "--right",
            "code",
            "--direction",
            "term-to-id",
            "--output",
            "hard.csv",
        ],
    );
    fails_with(
        &o,
        &["--output", "would replace the input", "--pairs p.csv"],
    );
    // report: a --pairs table inside the results folder's pairs/ (replaced whole).
    std::fs::create_dir_all(d.join("res/pairs")).unwrap();
    std::fs::copy(&p, d.join("res/pairs/toy.csv")).unwrap();
    let o = run(
        d,
        &report_args("run.toml", "res/pairs/toy.csv", "res", "figs"),
    );
    fails_with(&o, &["--out", "would replace the input", "is inside"]);
    assert_eq!(read(&d.join("res/pairs/toy.csv")), before);
    // outcome: a results file where the joined table goes.
    std::fs::create_dir_all(d.join("oc")).unwrap();
    std::fs::copy(&p, d.join("oc/joined.csv")).unwrap();
    let o = run(
        d,
        &[
            "outcome",
            "--items",
            "p.csv",
            "--results",
            "oc/joined.csv",
            "--id",
            "id",
            "--correct",
            "pop",
            "--out",
            "oc",
        ],
    );
    fails_with(
        &o,
        &[
            "--out",
            "would replace the input",
            "--results oc/joined.csv",
        ],
    );
    // bench: --json naming the input.
    let o = run(
        d,
        &["bench", "--no-peer", "--input", "p.csv", "--json", "p.csv"],
    );
    fails_with(&o, &["--json", "would replace the input"]);
    assert_eq!(read(&p), before);
    assert!(!d.join("o.csv").exists() && !d.join("figs").exists());
}

// Item 3: concurrent runs into the same folders leave one run's set.

/// Reads `child`'s stderr until a line holds `needle` (blocking: no timing).
fn wait_for_line(child: &mut std::process::Child, needle: &str) -> String {
    let mut err = std::io::BufReader::new(child.stderr.as_mut().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = err.read_line(&mut line).unwrap();
        assert!(n > 0, "stderr ended without {needle:?}: {seen}");
        seen.push_str(&line);
        if line.contains(needle) {
            return seen;
        }
    }
}

#[test]
fn concurrent_reports_into_one_folder_leave_one_set() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_config(d);
    pair_csv(&d.join("a.csv"), 0..8);
    pair_csv(&d.join("b.csv"), 4..12);
    // The reference: run B alone.
    succeeds(&run(d, &report_args("run.toml", "b.csv", "ref", "reffigs")));
    // Run A stops half-way through its swap (folder locks held) …
    let mut a = bin(d);
    a.args(report_args("run.toml", "a.csv", "res", "figs"))
        .env("LEXALIGN_STOP_COMMIT_AFTER", "2")
        .stderr(Stdio::piped());
    let a = common::default_signals(&mut a).spawn().unwrap();
    common::wait_stopped(&a);
    // … then run B into the same folders must wait for it, and says so.
    let mut b = bin(d)
        .args(report_args("run.toml", "b.csv", "res", "figs"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = wait_for_line(&mut b, "waiting for another lexalign run");
    assert!(said.contains("res") || said.contains("figs"), "{said}");
    common::signal_and_continue(&a, libc::SIGCONT);
    succeeds(&a.wait_with_output().unwrap());
    succeeds(&b.wait_with_output().unwrap());
    // B committed last: every file is B's, none is A's.
    assert_eq!(names(&d.join("figs")), names(&d.join("reffigs")));
    for f in names(&d.join("reffigs")) {
        assert_eq!(
            read(&d.join("figs").join(&f)),
            read(&d.join("reffigs").join(&f)),
            "{f} is not run B's"
        );
    }
    assert_eq!(
        read(&d.join("res/pairs/toy.csv")),
        read(&d.join("ref/pairs/toy.csv"))
    );
    let summary = String::from_utf8(read(&d.join("res/summary.json"))).unwrap();
    assert!(summary.contains("b.csv") && !summary.contains("a.csv"));
    assert_eq!(
        names(&d.join("res")),
        ["pairs", "report.md", "summary.json"],
        "staging left behind"
    );
}

// Item 4: a table and its sidecar are one set.

fn matrix(path: &Path, rows: usize) {
    let x = ndarray::Array2::from_shape_fn((rows, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f32);
    lexalign::io::write_npy(path, &x).unwrap();
}

#[test]
fn pca_outputs_are_replaced_together_or_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    matrix(&d.join("x.npy"), 10);
    matrix(&d.join("x2.npy"), 12);
    let pca = |input: &str, env: Option<(&str, &str)>| {
        let mut c = bin(d);
        c.args(["pca", "--input", input, "--output", "y.npy"]);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    succeeds(&pca("x.npy", None));
    let (npy, json) = (read(&d.join("y.npy")), read(&d.join("y.json")));
    // The second file's swap fails: the first is put back.
    let o = pca("x2.npy", Some(("LEXALIGN_FAIL_COMMIT_AFTER", "1")));
    fails_with(&o, &["injected failure after 1"]);
    assert_eq!(
        (read(&d.join("y.npy")), read(&d.join("y.json"))),
        (npy.clone(), json.clone())
    );
    // A folder where the .json goes: refused before work, nothing replaced.
    std::fs::remove_file(d.join("y.json")).unwrap();
    std::fs::create_dir(d.join("y.json")).unwrap();
    let o = pca("x2.npy", None);
    fails_with(&o, &["y.json", "is a folder"]);
    assert_eq!(read(&d.join("y.npy")), npy);
    assert_eq!(names(d), ["x.npy", "x2.npy", "y.json", "y.npy"]);
}

fn smollm2_installed() -> bool {
    let ok = lexalign::assets::model_dir("smollm2".as_ref())
        .join("generate.onnx")
        .is_file();
    if !ok {
        eprintln!("skipping: smollm2 not installed");
    }
    ok
}

#[test]
fn ask_table_and_meta_are_replaced_together_or_not_at_all() {
    if !smollm2_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    pair_csv(&d.join("p.csv"), 0..4);
    let ask = |seed: &str, env: Option<(&str, &str)>| {
        let mut c = bin(d);
        c.args([
            "ask",
            "-q",
            "--pairs",
            "p.csv",
            "--left",
            "term",
            "--right",
            "code",
            "--id",
            "id",
            "--split",
            "part",
            "--direction",
            "term-to-id",
            "--shots",
            "1",
            "--max-new-tokens",
            "3",
            "--threads",
            "1",
            "--seed",
            seed,
            "--output",
            "o.csv",
        ]);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    succeeds(&ask("1", None));
    let (table, meta) = (read(&d.join("o.csv")), read(&d.join("o.csv.meta.json")));
    // The second entry's swap fails: the first is put back.
    let o = ask("2", Some(("LEXALIGN_FAIL_COMMIT_AFTER", "1")));
    fails_with(&o, &["injected failure after 1"]);
    assert_eq!(read(&d.join("o.csv")), table);
    assert_eq!(read(&d.join("o.csv.meta.json")), meta);
    // A folder where the sidecar goes: nothing is replaced.
    std::fs::remove_file(d.join("o.csv.meta.json")).unwrap();
    std::fs::create_dir(d.join("o.csv.meta.json")).unwrap();
    let o = ask("2", None);
    fails_with(
        &o,
        &[
            "o.csv.meta.json",
            "is a folder; this run writes a file there",
        ],
    );
    assert_eq!(read(&d.join("o.csv")), table);
    assert_eq!(names(d), ["o.csv", "o.csv.meta.json", "p.csv"]);
}

// Item 5: staging and temp files of killed runs are swept; live ones stay.

#[test]
fn staging_of_killed_runs_is_swept_and_live_staging_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    matrix(&d.join("x.npy"), 10);
    let pca = |env: Option<(&str, &str)>| {
        let mut c = bin(d);
        c.args(["pca", "--input", "x.npy", "--output", "y.npy"])
            .stderr(Stdio::piped());
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        common::default_signals(&mut c).spawn().unwrap()
    };
    // Killed after staging both files, before swapping any.
    let child = pca(Some(("LEXALIGN_STOP_COMMIT_AFTER", "0")));
    common::wait_stopped(&child);
    common::signal_and_continue(&child, libc::SIGKILL);
    child.wait_with_output().unwrap();
    let left: Vec<String> = names(d)
        .into_iter()
        .filter(|n| n.starts_with(".lexalign"))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    // A half-written temp file of a killed single-file write, and staging a live
    // run holds (its lock taken here).
    write(&d.join(".lexalign-AbC123.tmp"), "half");
    std::fs::create_dir(d.join(".lexalign-new-live")).unwrap();
    let live = std::fs::File::open(d.join(".lexalign-new-live")).unwrap();
    live.lock_shared().unwrap();
    let out = pca(None).wait_with_output().unwrap();
    succeeds(&out);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert_eq!(names(d), [".lexalign-new-live", "x.npy", "y.json", "y.npy"]);
    drop(live);
    // Killed half-way through the swap: the old entry moved aside is kept and
    // named (the folder may mix two runs), never deleted.
    matrix(&d.join("x.npy"), 12);
    let child = pca(Some(("LEXALIGN_STOP_COMMIT_AFTER", "1")));
    common::wait_stopped(&child);
    common::signal_and_continue(&child, libc::SIGKILL);
    child.wait_with_output().unwrap();
    let out = pca(None).wait_with_output().unwrap();
    succeeds(&out);
    fails_with_warning(
        &out,
        &[
            "warning",
            ".lexalign-old-",
            "moved aside",
            "compare, then remove it",
        ],
    );
    let old: Vec<String> = names(d)
        .into_iter()
        .filter(|n| n.starts_with(".lexalign-old-"))
        .collect();
    assert_eq!(old.len(), 1);
    assert_eq!(names(&d.join(&old[0])), ["y.json"]);
}

fn fails_with_warning(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

#[test]
fn cache_temp_files_of_killed_runs_are_swept_and_a_folder_named_like_a_segment_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("t.txt"), "Seizure\nFever\nCough\n");
    succeeds(&run(
        d,
        &["embed", "-q", "--input", "t.txt", "--output", "a.npy"],
    ));
    let seg_dir = walk(&d.join(".cache"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "lxs"))
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    write(&seg_dir.join(".segment-dead1"), "half");
    write(&seg_dir.join(".compact-dead2"), "half");
    std::fs::create_dir(seg_dir.join("odd.lxs")).unwrap();
    let out = run(d, &["embed", "--input", "t.txt", "--output", "b.npy"]);
    succeeds(&out);
    let err = stderr(&out);
    assert!(
        err.contains("odd.lxs") && err.contains("not a file"),
        "{err}"
    );
    assert!(err.contains("3 from cache"), "{err}");
    assert_eq!(read(&d.join("a.npy")), read(&d.join("b.npy")));
    let left = names(&seg_dir);
    assert!(
        !left
            .iter()
            .any(|n| n.starts_with(".segment-") || n.starts_with(".compact-")),
        "{left:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

// Item 6: one reader per format; plain text and CSV agree.

/// The `text` and `n_tokens` columns of a `tokens` CSV output.
fn tokens_of(dir: &Path, input: &str, column: Option<&str>) -> Vec<(String, String)> {
    let mut args = vec!["tokens", "-q", "--input", input, "--output", "tok.csv"];
    if let Some(c) = column {
        args.extend(["--column", c]);
    }
    succeeds(&run(dir, &args));
    let text = String::from_utf8(read(&dir.join("tok.csv"))).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect()
}

#[test]
fn bom_line_endings_and_duplicate_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let plain = tokens_of(
        d,
        &write(&d.join("a.txt"), "Seizure\nFever\nCough\n").to_string_lossy(),
        None,
    );
    assert_eq!(plain.len(), 3);
    for (name, text) in [
        ("bom.txt", "\u{feff}Seizure\nFever\nCough\n"),
        ("cr.txt", "Seizure\rFever\rCough"),
        ("crlf.txt", "\u{feff}Seizure\r\nFever\r\nCough\r\n"),
    ] {
        write(&d.join(name), text);
        assert_eq!(tokens_of(d, name, None), plain, "{name}");
    }
    write(&d.join("bom.csv"), "\u{feff}term\nSeizure\nFever\nCough\n");
    assert_eq!(tokens_of(d, "bom.csv", Some("term")), plain);
    write(&d.join("dup.csv"), "term,code,term\nSeizure,HP:1,x\n");
    let o = run(
        d,
        &[
            "tokens", "--input", "dup.csv", "--column", "term", "--output", "o.csv",
        ],
    );
    fails_with(
        &o,
        &["dup.csv:1:", "\"term\" appears twice", "columns 1 and 3"],
    );
    // Latin-1: the line and column of the first byte that is not UTF-8.
    std::fs::write(d.join("latin.csv"), b"term\nSeizure\nCaf\xe9\n").unwrap();
    let o = run(
        d,
        &[
            "tokens",
            "--input",
            "latin.csv",
            "--column",
            "term",
            "--output",
            "o.csv",
        ],
    );
    fails_with(&o, &["latin.csv:3:4:", "not UTF-8"]);
    assert!(!d.join("o.csv").exists());
}

// Item 7: analyses that would be quietly wrong.

#[test]
fn constant_popularity_gets_no_bins_and_no_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_config(d);
    let mut text = String::from("term,code,pop\n");
    for (t, c) in &TERMS[..8] {
        text.push_str(&format!("{t},{c},5\n"));
    }
    write(&d.join("p.csv"), &text);
    let mut args = report_args("run.toml", "p.csv", "res", "figs");
    args.extend(["--popularity", "pop"]);
    succeeds(&run(d, &args));
    let md = String::from_utf8(read(&d.join("res/report.md"))).unwrap();
    assert!(
        md.contains("popularity is the same (5) for every item"),
        "{md}"
    );
    assert!(!names(&d.join("figs")).iter().any(|f| f.starts_with("fig4")));
    let items = String::from_utf8(read(&d.join("res/pairs/toy.csv"))).unwrap();
    let header: Vec<&str> = items.lines().next().unwrap().split(',').collect();
    let bin = header.iter().position(|&h| h == "bin").unwrap();
    assert!(
        items
            .lines()
            .skip(1)
            .all(|l| l.split(',').nth(bin) == Some("")),
        "{items}"
    );
}

#[test]
fn bench_count_zero_and_repeated_ids_are_flagged_where_they_enter() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fails_with(
        &run(d, &["bench", "--no-peer", "--count", "0"]),
        &["--count 0"],
    );
    write(&d.join("empty.txt"), "");
    fails_with(
        &run(d, &["bench", "--no-peer", "--input", "empty.txt"]),
        &["empty.txt", "no strings"],
    );
    // Id A is on physical lines 2 and 5 (a quoted cell spans lines 2–3).
    write(
        &d.join("dup.csv"),
        "term,code,id\n\"Seizure\nfocal\",HP:0001250,A\nFever,HP:0001945,B\nCough,HP:0012735,A\n",
    );
    let o = run(
        d,
        &[
            "ask",
            "--pairs",
            "dup.csv",
            "--left",
            "term",
            "--right",
            "code",
            "--id",
            "id",
            "--direction",
            "term-to-id",
            "--model",
            "no-such-model",
            "--output",
            "o.csv",
        ],
    );
    fails_with(&o, &["no-such-model"]);
    fails_with_warning(
        &o,
        &[
            "warning: dup.csv",
            "\"A\" at line 5",
            "also at line 2",
            "outcome",
        ],
    );
}

#[test]
fn ask_refuses_more_new_tokens_than_the_model_context() {
    if !smollm2_installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    pair_csv(&d.join("p.csv"), 0..4);
    let o = run(
        d,
        &[
            "ask",
            "--pairs",
            "p.csv",
            "--left",
            "term",
            "--right",
            "code",
            "--direction",
            "term-to-id",
            "--max-new-tokens",
            "100000",
            "--output",
            "o.csv",
        ],
    );
    fails_with(&o, &["max-new-tokens", "100000", "at most 2047 new tokens"]);
    assert_eq!(names(d), ["p.csv"]);
}

// Item 8: bounded work.

#[test]
fn resample_counts_above_the_ceiling_are_refused_before_work() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    pair_csv(&d.join("p.csv"), 0..8);
    write(&d.join("big.toml"), "bootstrap = 100000000\n");
    let o = run(d, &report_args("big.toml", "p.csv", "res", "figs"));
    fails_with(&o, &["bootstrap", "100000000", "at most 100000"]);
    for flag in ["--bootstrap", "--permutations"] {
        let o = run(
            d,
            &[
                "outcome",
                "--items",
                "p.csv",
                "--results",
                "p.csv",
                "--id",
                "id",
                "--correct",
                "pop",
                "--out",
                "oc",
                flag,
                "100000000",
            ],
        );
        fails_with(&o, &[flag, "at most 100000"]);
    }
    assert_eq!(names(d), ["big.toml", "p.csv"]);
}

// Item 9: messages that point at the place.

#[test]
fn messages_name_the_physical_line_the_row_and_the_text() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_config(d);
    // A bad split value on physical line 5 (data row 3; row 1 spans two lines).
    let mut text = String::from("term,code,part\n\"Seizure\nfocal\",HP:0001250,train\nFever,HP:0001945,train\nCough,HP:0012735,test\n");
    for (t, c) in &TERMS[4..8] {
        text.push_str(&format!("{t},{c},withheld\n"));
    }
    write(&d.join("p.csv"), &text);
    let mut args = report_args("run.toml", "p.csv", "res", "figs");
    args.extend(["--split", "part"]);
    fails_with(&run(d, &args), &["p.csv:5:", "\"test\""]);
    // The same as Parquet: a row, not a line.
    let df = lexalign::io::read_text_table(&d.join("p.csv")).unwrap();
    lexalign::io::write_table(&d.join("p.parquet"), &mut df.clone()).unwrap();
    let mut args = report_args("run.toml", "p.parquet", "res", "figs");
    args.extend(["--split", "part"]);
    fails_with(&run(d, &args), &["p.parquet: row 3:", "\"test\""]);
    // A number too large for a float: quoted as written, not `inf`.
    write(
        &d.join("big.csv"),
        "term,code,pop\nSeizure,HP:0001250,1\nFever,HP:0001945,1e400\nCough,HP:0012735,2\n",
    );
    let mut args = report_args("run.toml", "big.csv", "res", "figs");
    args.extend(["--popularity", "pop"]);
    let o = run(d, &args);
    fails_with(&o, &["big.csv:3:", "\"1e400\"", "not a finite number"]);
    assert!(!stderr(&o).contains("inf "), "{}", stderr(&o));
    // A Parquet list column as strings: the column is named.
    write(&d.join("t.txt"), "Seizure\nFever\n");
    succeeds(&run(
        d,
        &["embed", "-q", "--input", "t.txt", "--output", "e.parquet"],
    ));
    let o = run(
        d,
        &[
            "tokens",
            "--input",
            "e.parquet",
            "--column",
            "vector",
            "--output",
            "o.csv",
        ],
    );
    fails_with(
        &o,
        &[
            "e.parquet",
            "column \"vector\" holds list[f32] values",
            "expected text",
        ],
    );
    // Too few distinct pairs, --left == --right: named, not an empty figure.
    pair_csv(&d.join("q.csv"), 0..8);
    let o = run(
        d,
        &[
            "report",
            "-q",
            "--no-cache",
            "--config",
            "run.toml",
            "--pairs",
            "q.csv",
            "--left",
            "term",
            "--right",
            "term",
            "--out",
            "res",
            "--figures",
            "figs",
        ],
    );
    fails_with(
        &o,
        &[
            "q.csv",
            "too few distinct pairs: 0",
            "8 with both sides the same",
            "need at least 3",
        ],
    );
    assert!(!stderr(&o).contains("panels"), "{}", stderr(&o));
    // An empty output folder in the config.
    write(&d.join("empty.toml"), "out = \"\"\n");
    let o = run(
        d,
        &[
            "report",
            "-q",
            "--config",
            "empty.toml",
            "--pairs",
            "q.csv",
            "--left",
            "term",
            "--right",
            "code",
        ],
    );
    fails_with(&o, &["invalid parameter out", "empty path"]);
    // A results file with a header and no rows.
    write(&d.join("r.csv"), "id,ok\n");
    let o = run(
        d,
        &[
            "outcome",
            "--items",
            "q.csv",
            "--results",
            "r.csv",
            "--id",
            "id",
            "--correct",
            "ok",
            "--out",
            "oc",
        ],
    );
    fails_with(&o, &["--results r.csv", "has no rows"]);
    assert!(!d.join("res/summary.json").exists() && !d.join("oc").exists());
}

#[test]
fn a_split_too_small_for_the_probe_skips_it_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_config(d);
    // 4 training rows: fewer than the probe's 5 folds.
    let mut text = String::from("term,code,part\n");
    for (k, (t, c)) in TERMS[..10].iter().enumerate() {
        text.push_str(&format!(
            "{t},{c},{}\n",
            if k < 4 { "train" } else { "withheld" }
        ));
    }
    write(&d.join("p.csv"), &text);
    let mut args = report_args("run.toml", "p.csv", "res", "figs");
    args.extend(["--split", "part"]);
    succeeds(&run(d, &args));
    let md = String::from_utf8(read(&d.join("res/report.md"))).unwrap();
    assert!(
        md.contains("needs at least 5 training and 3 withheld rows, has 4 and 6"),
        "{md}"
    );
}

#[test]
fn embed_counts_every_empty_string_not_distinct_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("t.txt"), "Seizure\n\n \nFever\n\n");
    let o = run(
        d,
        &[
            "embed",
            "--no-cache",
            "--input",
            "t.txt",
            "--output",
            "e.npy",
        ],
    );
    succeeds(&o);
    assert!(
        stderr(&o).contains("embedded 5 strings (4 distinct"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("; 3 empty"), "{}", stderr(&o));
}

// Item 10: results record no machine paths.

#[test]
fn summary_records_paths_relative_to_project_assets_or_working_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    small_config(d);
    pair_csv(&d.join("p.csv"), 0..8);
    succeeds(&run(d, &report_args("run.toml", "p.csv", "res", "figs")));
    let text = String::from_utf8(read(&d.join("res/summary.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let p = &v;
    assert_eq!(p["pair_files"][0]["file"], "./p.csv", "{text}");
    let model = p["model"]["dir"].as_str().unwrap();
    let assets = std::env::var_os("LEXALIGN_ASSETS").filter(|a| !a.is_empty());
    match assets {
        Some(_) => assert!(model.starts_with("$LEXALIGN_ASSETS/models/"), "{model}"),
        None => assert_eq!(model, "data/external/models/all-MiniLM-L6-v2"),
    }
    assert!(p["paths"].as_str().unwrap().contains("project root"));
    for machine in [d.to_str().unwrap(), env!("CARGO_MANIFEST_DIR")] {
        assert!(!text.contains(machine), "{machine} in {text}");
    }
}
