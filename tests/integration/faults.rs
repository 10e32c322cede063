//! Faults and bad input at the command line (issue 13): every case exits with a
//! message naming the file, line or flag, never panics, and leaves no stray or
//! half-written output. See docs/FAILURES.md.

use crate::common;

use common::{fails_with, stderr, succeeds, usage_error};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const CACHE: Option<&str> = Some("lexalign-faults-cache");

fn bin() -> Command {
    common::bin_with_cache(CACHE)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A `.npy` file: version 1.0 header for `descr` and `shape`, then `data`.
fn npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

/// A float32 [4, 3] matrix with distinct rows.
fn matrix(path: &Path) {
    let v: Vec<u8> = (0..12)
        .flat_map(|i| ((i * i % 7) as f32).to_le_bytes())
        .collect();
    npy(path, "<f4", "(4, 3)", &v);
}

/// The repository's pair tables, built once per test run by `vocab build` run from
/// an empty folder: they must land where the defaults look, not in the cwd.
fn built_tables() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cwd = tempfile::tempdir().unwrap();
        let out = bin()
            .args(["vocab", "build", "--quiet"])
            .current_dir(cwd.path())
            .output()
            .unwrap();
        succeeds(&out);
        assert!(
            names(cwd.path()).is_empty(),
            "vocab build wrote into the cwd"
        );
        lexalign::pairs::default_processed_dir()
    })
}

// 1. Broken pipe: quiet exit, as `head` expects.

/// Runs `args` with stdout closed after reading `keep` bytes; returns stderr.
fn with_closed_stdout(args: &[&str], keep: usize) -> (std::process::ExitStatus, String) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; keep];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap(), err)
}

fn quiet_pipe_exit(status: std::process::ExitStatus, err: &str) {
    use std::os::unix::process::ExitStatusExt;
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert!(
        status.signal() == Some(libc::SIGPIPE) || status.code() == Some(0),
        "{status:?}: {err}"
    );
}

#[test]
fn closed_stdout_ends_quietly() {
    let dir = built_tables().to_str().unwrap();
    let args = [
        "vocab",
        "show",
        "hpo-label-id",
        "--sample",
        "full",
        "--head",
        "20000",
        "--dir",
        dir,
    ];
    let (status, err) = with_closed_stdout(&args, 10);
    quiet_pipe_exit(status, &err);
    // `vocab info` prints only after seconds of work: its first line meets a closed pipe.
    let (status, err) = with_closed_stdout(&["vocab", "info"], 0);
    quiet_pipe_exit(status, &err);
}

// 3. HGNC rows with the wrong number of fields; invalid UTF-8 with its line.

/// An asset folder like the installed one, with `raw/<name>` replaced by `bytes`.
fn assets_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let real = lexalign::assets::asset_root();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(real.join("manifest.json"), dir.path().join("manifest.json"))
        .unwrap();
    std::fs::create_dir(dir.path().join("raw")).unwrap();
    for e in std::fs::read_dir(real.join("raw")).unwrap() {
        let e = e.unwrap();
        let to = dir.path().join("raw").join(e.file_name());
        if e.file_name() != name {
            std::os::unix::fs::symlink(e.path(), to).unwrap();
        }
    }
    std::fs::write(dir.path().join("raw").join(name), bytes).unwrap();
    dir
}

fn build_with(assets: &Path) -> (Output, tempfile::TempDir) {
    let out_dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["vocab", "build", "--quiet", "--no-manifest-check", "--out"])
        .arg(out_dir.path())
        .env("LEXALIGN_ASSETS", assets)
        .output()
        .unwrap();
    (out, out_dir)
}

fn real_raw(name: &str) -> Vec<u8> {
    std::fs::read(lexalign::assets::raw_file(name)).unwrap()
}

#[test]
fn hgnc_row_with_a_lost_tab_is_an_error_at_its_line() {
    let text = String::from_utf8(real_raw("hgnc_entries.tsv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[2] = lines[2].replacen('\t', " ", 1);
    let assets = assets_with("hgnc_entries.tsv", (lines.join("\n") + "\n").as_bytes());
    let (out, out_dir) = build_with(assets.path());
    fails_with(
        &out,
        &[
            "hgnc_entries.tsv:3:",
            "12 tab-separated fields; the header has 13",
        ],
    );
    assert!(names(out_dir.path()).is_empty());
}

#[test]
fn hgnc_invalid_utf8_names_its_line() {
    let mut bytes = real_raw("hgnc_entries.tsv");
    let third_line = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .unwrap()
        .0
        + 1;
    bytes[third_line + 3] = 0xff;
    let assets = assets_with("hgnc_entries.tsv", &bytes);
    let (out, _dir) = build_with(assets.path());
    fails_with(&out, &["hgnc_entries.tsv:3:4: invalid UTF-8"]);
}

// 4. A truncated OBO file is an error; the installed one still parses in full.

#[test]
fn obo_cut_inside_a_line_is_an_error() {
    let bytes = real_raw("hp.obo");
    // A quarter in, then forward to the middle of a `name:` value.
    let start = bytes.len() / 4;
    let at = start
        + bytes[start..]
            .windows(6)
            .position(|w| w == b"name: ")
            .unwrap()
        + 9;
    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let assets = assets_with("hp.obo", &bytes[..at]);
    let (out, out_dir) = build_with(assets.path());
    fails_with(
        &out,
        &[
            &format!("hp.obo:{line}: file ends inside this line"),
            "truncated",
        ],
    );
    assert!(names(out_dir.path()).is_empty());
    // Cut at a line end, the same bytes are a (shorter) valid file.
    let whole = at - bytes[..at].iter().rev().position(|&b| b == b'\n').unwrap();
    let assets = assets_with("hp.obo", &bytes[..whole]);
    succeeds(&build_with(assets.path()).0);
}

#[test]
fn installed_hp_obo_parses_in_full() {
    let doc = lexalign::vocab::obo::read_obo(&lexalign::assets::raw_file("hp.obo")).unwrap();
    assert!(doc.terms.len() > 19_000, "{} terms", doc.terms.len());
}

// 5, 6. Output names checked before any work.

#[test]
fn pca_refuses_colliding_outputs_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    matrix(&x);
    let y = dir.path().join("y.json");
    fails_with(
        &common::lexalign(CACHE, &["pca", "--input", s(&x), "--output", s(&y)]),
        &["--output", "y.json", "expected one of npy"],
    );
    fails_with(
        &common::lexalign(CACHE, &["pca", "--input", s(&x), "--output", s(&x)]),
        &["--output", "would replace the input", "x.npy"],
    );
    assert_eq!(names(dir.path()), ["x.npy"]);
    let y = dir.path().join("y.npy");
    succeeds(&common::lexalign(
        CACHE,
        &["pca", "--input", s(&x), "--output", s(&y)],
    ));
    assert_eq!(names(dir.path()), ["x.npy", "y.json", "y.npy"]);
    assert_eq!(lexalign::io::read_npy(&y).unwrap().dim(), (4, 2));
}

#[test]
fn embed_output_location_checked_before_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("terms.txt");
    std::fs::write(&input, "BRCA1\n").unwrap();
    let as_dir = dir.path().join("out.npy");
    std::fs::create_dir(&as_dir).unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    // A model that cannot load: the output check must come first.
    let model = dir.path().join("no-model");
    for (output, needle) in [
        (as_dir.clone(), "is a directory"),
        (file.join("o.npy"), "is not a directory"),
        (dir.path().join("missing/o.npy"), "does not exist"),
    ] {
        let out = common::lexalign(
            CACHE,
            &[
                "embed",
                "--model",
                s(&model),
                "--input",
                s(&input),
                "--output",
                s(&output),
            ],
        );
        fails_with(&out, &["--output", s(&output), needle]);
        assert!(!stderr(&out).contains("model"), "{}", stderr(&out));
    }
    assert_eq!(names(dir.path()), ["file", "out.npy", "terms.txt"]);
}

#[test]
fn report_out_that_is_a_file_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results");
    std::fs::write(&file, "keep").unwrap();
    let start = std::time::Instant::now();
    let out = common::lexalign(
        CACHE,
        &[
            "report",
            "--out",
            s(&file),
            "--figures",
            s(&dir.path().join("f")),
        ],
    );
    fails_with(&out, &["--out", s(&file), "is a file; expected a folder"]);
    assert!(start.elapsed().as_secs() < 10);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
}

// 7. Defaults do not depend on the working directory.

#[test]
fn defaults_work_from_another_directory() {
    built_tables();
    let cwd = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["vocab", "show", "hpo-label-id", "--head", "2"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    succeeds(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("HP:"));
    // Missing tables: the message names the folder looked in.
    let empty = tempfile::tempdir().unwrap();
    let config = cwd.path().join("run.toml");
    let toml = format!(
        "processed_dir = {:?}\npairings = [\"hpo-label-id\"]\n",
        s(empty.path())
    );
    std::fs::write(&config, toml).unwrap();
    let out = bin()
        .args(["report", "--no-cache", "-q", "--config", s(&config)])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    let looked = empty.path().join("pairs");
    fails_with(
        &out,
        &[
            s(&looked),
            "no pairings have been built",
            "lexalign vocab build",
        ],
    );
}

// 8. Outputs follow the umask.

fn mode_under_umask(umask: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    matrix(&x);
    let y = dir.path().join("y.npy");
    let out = Command::new("sh")
        .args(["-c", &format!("umask {umask}; exec \"$0\" \"$@\"")])
        .arg(env!("CARGO_BIN_EXE_lexalign"))
        .args(["pca", "--input", s(&x), "--output", s(&y)])
        .output()
        .unwrap();
    succeeds(&out);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&y), mode(&y.with_extension("json")));
    assert_eq!(
        names(dir.path()),
        ["x.npy", "y.json", "y.npy"],
        "temp files left"
    );
    mode(&y)
}

#[test]
fn outputs_respect_the_umask() {
    assert_eq!(mode_under_umask("022"), 0o644);
    assert_eq!(mode_under_umask("077"), 0o600);
}

// 9. Messages say what was expected and what was found.

#[test]
fn npy_faults_are_described() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("in.npy");
    let y = dir.path().join("y.npy");
    let f4 = |n: usize| vec![0u8; 4 * n];
    let cases: [(&str, &str, Vec<u8>, &str); 4] = [
        ("<f4", "(12,)", f4(12), "found a 1-D array"),
        ("<f4", "(4, 3)", f4(11), "found truncated data"),
        ("<i4", "(4, 3)", f4(12), "found dtype '<i4'"),
        ("<f8", "(4, 3, 1)", vec![0; 96], "found a 3-D array"),
    ];
    for (descr, shape, data, needle) in cases {
        npy(&p, descr, shape, &data);
        let out = common::lexalign(CACHE, &["pca", "--input", s(&p), "--output", s(&y)]);
        fails_with(
            &out,
            &[
                "in.npy: expected a 2-D float32 ('<f4') or float64 ('<f8')",
                needle,
            ],
        );
    }
    std::fs::write(&p, "not numpy").unwrap();
    fails_with(
        &common::lexalign(CACHE, &["pca", "--input", s(&p), "--output", s(&y)]),
        &["no valid .npy header"],
    );
    assert_eq!(names(dir.path()), ["in.npy"]);
}

#[test]
fn input_faults_are_described() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o.npy");
    let run = |input: &Path, column: Option<&str>| {
        let mut args = vec!["embed", "--input", s(input), "--output", s(&o)];
        if let Some(c) = column {
            args.extend(["--column", c]);
        }
        common::lexalign(CACHE, &args)
    };
    fails_with(&run(dir.path(), None), &[s(dir.path()), "is a directory"]);
    fails_with(&run(dir.path(), Some("a")), &["is a directory"]);
    let ragged = dir.path().join("r.csv");
    std::fs::write(&ragged, "a,b\n1,x\n2,y,z\n").unwrap();
    let out = run(&ragged, Some("a"));
    fails_with(&out, &["r.csv", "more fields than", "check the separator"]);
    assert!(
        !stderr(&out).contains("truncate_ragged_lines"),
        "{}",
        stderr(&out)
    );
    assert!(!o.exists());
}

#[test]
fn empty_ort_dylib_path_means_unset() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.txt");
    std::fs::write(&input, "BRCA1\n").unwrap();
    let out = dir.path().join("t.csv");
    let run = bin()
        .args(["tokens", "-q", "--input", s(&input), "--output", s(&out)])
        .env("ORT_DYLIB_PATH", "")
        .output()
        .unwrap();
    succeeds(&run);
    assert!(out.is_file());
}

#[test]
fn bench_retrieval_checks_its_sizes_and_writes_its_keys() {
    for (args, needle) in [
        (&["--retrieval", "0"][..], "--retrieval <N>"),
        (&["--retrieval", "2"][..], "--retrieval <N>"),
        (&["--retrieval", "x"][..], "--retrieval <N>"),
        (&["--retrieval", "10", "--dim", "0"][..], "--dim <D>"),
        (&["--dim", "8"][..], "--retrieval <N>"),
    ] {
        let out = common::lexalign(CACHE, &[&["bench"][..], args].concat());
        usage_error(&out, &[needle]);
    }
    let out = common::lexalign(CACHE, &["bench", "--retrieval", "10", "--repeat", "0"]);
    fails_with(&out, &["--repeat must be at least 1"]);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = common::lexalign(
        CACHE,
        &[
            "bench",
            "--retrieval",
            "300",
            "--dim",
            "16",
            "--threads",
            "2",
            "--repeat",
            "1",
            "--no-peer",
            "--json",
            s(&json),
        ],
    );
    succeeds(&out);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["n"], 300);
    assert_eq!(v["dim"], 16);
    assert_eq!(v["threads"], 2);
    assert!(v["retrieval_seconds"].as_f64().unwrap() > 0.0);
    assert!(v["gflops"].as_f64().unwrap() > 0.0);
    assert!(v.get("ratio").is_none(), "no peer, no ratio: {v}");
}
