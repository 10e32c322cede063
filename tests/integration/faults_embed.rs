//! Embedding and cache faults (issue 13): bad model settings are errors naming the
//! model, cache problems are warnings that never cost the output, and the cache
//! keeps finished work across interruptions and concurrent runs.

use crate::common;

use common::{fails_with, stderr, succeeds};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn model_dir() -> PathBuf {
    lexalign::assets::default_model_dir()
}

fn bin(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lexalign"));
    c.env("LEXALIGN_CACHE", cache);
    c
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `embed` args for `input` → `output` (stats printed: no `-q`).
fn embed_args<'a>(input: &'a Path, output: &'a Path) -> Vec<&'a str> {
    vec!["embed", "--input", s(input), "--output", s(output)]
}

/// (from cache, computed) from `embed`'s summary line.
fn cache_counts(out: &Output) -> (usize, usize) {
    let err = stderr(out);
    let line = err
        .lines()
        .find(|l| l.starts_with("embedded "))
        .unwrap_or_else(|| panic!("no summary: {err}"));
    let number_before = |what: &str| -> usize {
        let end = line
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?}: {line}"));
        let start = line[..end].rfind([' ', '(']).unwrap() + 1;
        line[start..end].parse().unwrap()
    };
    (number_before(" from cache"), number_before(" computed"))
}

/// A model folder with the default model's files linked, `tokenizer.json` edited
/// by `edit` and extra files (name, contents) written.
fn edited_model(
    root: &Path,
    edit: impl FnOnce(&mut serde_json::Value),
    extra: &[(&str, &str)],
) -> PathBuf {
    let dir = root.join("model");
    std::fs::create_dir(&dir).unwrap();
    for f in ["model.onnx", "config.json"] {
        std::os::unix::fs::symlink(model_dir().join(f), dir.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(model_dir().join("tokenizer.json")).unwrap();
    let mut tokenizer: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut tokenizer);
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    for (name, contents) in extra {
        std::fs::write(dir.join(name), contents).unwrap();
    }
    dir
}

fn terms(dir: &Path, lines: &[&str]) -> PathBuf {
    let p = dir.join("terms.txt");
    std::fs::write(&p, lines.join("\n")).unwrap();
    p
}

#[test]
fn max_length_without_room_for_the_string_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = terms(tmp.path(), &["BRCA1", "Seizure"]);
    let output = tmp.path().join("out.npy");
    let no_edit: fn(&mut serde_json::Value) = |_| {};
    let cut_at_1: fn(&mut serde_json::Value) = |t| t["truncation"]["max_length"] = 1.into();
    let cases = [
        ("lexalign.json", no_edit, Some(r#"{"max_length": 1}"#)),
        ("lexalign.json", no_edit, Some(r#"{"max_length": 2}"#)),
        ("tokenizer.json", cut_at_1, None),
    ];
    for (i, (source, edit, local)) in cases.into_iter().enumerate() {
        let root = tmp.path().join(i.to_string());
        std::fs::create_dir(&root).unwrap();
        let extra: Vec<_> = local.map(|l| ("lexalign.json", l)).into_iter().collect();
        let model = edited_model(&root, edit, &extra);
        let mut args = embed_args(&input, &output);
        args.extend(["--model", s(&model)]);
        let out = bin(&tmp.path().join("cache")).args(&args).output().unwrap();
        fails_with(
            &out,
            &[
                s(&model),
                "(from ",
                source,
                "adds 2 special tokens",
                "at least 3",
            ],
        );
        assert!(!output.exists());
    }
}

#[test]
fn output_width_that_follows_the_sequence_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("w");
    std::fs::create_dir(&model).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("tests/fixtures/bad_models/width_follows_length.onnx"),
        model.join("model.onnx"),
    )
    .unwrap();
    std::fs::copy(
        model_dir().join("tokenizer.json"),
        model.join("tokenizer.json"),
    )
    .unwrap();
    let input = terms(
        tmp.path(),
        &["BRCA1", "apoptotic process of the cell", "HP:0001250"],
    );
    let output = tmp.path().join("out.npy");
    let run = || {
        let mut args = embed_args(&input, &output);
        args.extend(["--model", s(&model), "--batch-size", "1"]);
        bin(&tmp.path().join("cache")).args(&args).output().unwrap()
    };
    fails_with(
        &run(),
        &[s(&model), "for an earlier batch", "fixed hidden size"],
    );
    // With a declared width (config.json), the first batch already disagrees.
    std::fs::write(model.join("config.json"), r#"{"hidden_size": 3}"#).unwrap();
    fails_with(&run(), &[s(&model), "3 wide declared", "fixed hidden size"]);
    assert!(!output.exists());
}

#[test]
fn cls_pooling_needs_a_leading_special_token() {
    let tmp = tempfile::tempdir().unwrap();
    let input = terms(tmp.path(), &["BRCA1", "Seizure"]);
    let output = tmp.path().join("out.npy");
    let cache = tmp.path().join("cache");
    // A tokenizer that adds no special tokens, as decoders' do.
    let model = edited_model(
        tmp.path(),
        |t| t["post_processor"] = serde_json::Value::Null,
        &[],
    );
    let run = |model: &Path, pooling: &str| {
        let mut args = embed_args(&input, &output);
        args.extend(["--model", s(model), "--pooling", pooling]);
        bin(&cache).args(&args).output().unwrap()
    };
    fails_with(
        &run(&model, "cls"),
        &["pooling", "cls", s(&model), "[CLS]", "mean or last"],
    );
    assert!(!output.exists());
    succeeds(&run(&model, "mean"));
    succeeds(&run(&model_dir(), "cls"));
}

#[test]
fn bench_takes_non_utf8_paths() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let odd = |name: &[u8]| tmp.path().join(std::ffi::OsStr::from_bytes(name));
    let input = odd(b"terms\xff.txt");
    std::fs::write(&input, "BRCA1\nSeizure\n").unwrap();
    let model = odd(b"model\xff");
    std::os::unix::fs::symlink(model_dir(), &model).unwrap();
    let json = odd(b"bench\xff.json");
    let out = bin(&tmp.path().join("cache"))
        .args(["bench", "--repeat", "1", "--input"])
        .arg(&input)
        .arg("--model")
        .arg(&model)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    succeeds(&out);
    assert!(json.is_file());
}

#[test]
fn empty_lexalign_cache_means_unset() {
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = terms(tmp.path(), &["BRCA1"]);
    let output = tmp.path().join("out.npy");
    let out = bin(Path::new(""))
        .args(embed_args(&input, &output))
        .current_dir(cwd.path())
        .output()
        .unwrap();
    succeeds(&out);
    assert!(output.is_file());
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "cache in the cwd"
    );
}

/// Cache folders that cannot be written: a file, a path under /proc (unwritable
/// even for root) and, when not root, a read-only folder.
fn unwritable_caches(tmp: &Path) -> Vec<PathBuf> {
    let file = tmp.join("cache-file");
    std::fs::write(&file, "not a folder").unwrap();
    let mut caches = vec![file, PathBuf::from("/proc/lexalign-no-cache-here")];
    let read_only = tmp.join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(read_only.join("probe"), "").is_err() {
        caches.push(read_only);
    }
    caches
}

#[test]
fn unwritable_cache_is_a_warning_and_the_output_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..300).map(|i| format!("term {i}")).collect();
    let input = terms(
        tmp.path(),
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let reference = tmp.path().join("reference.npy");
    let mut args = embed_args(&input, &reference);
    args.push("--no-cache");
    succeeds(&bin(tmp.path()).args(&args).output().unwrap());
    for cache in unwritable_caches(tmp.path()) {
        let output = tmp.path().join("out.npy");
        let out = bin(&cache)
            .args(embed_args(&input, &output))
            .args(["--batch-size", "16"])
            .output()
            .unwrap();
        succeeds(&out);
        let err = stderr(&out);
        assert_eq!(
            err.matches("warning: embedding cache").count(),
            1,
            "{cache:?}: {err}"
        );
        assert_eq!(
            std::fs::read(&output).unwrap(),
            std::fs::read(&reference).unwrap()
        );
        std::fs::remove_file(&output).unwrap();
    }
}

/// `n` distinct short strings of varied length, `tag` making them unique to a run.
fn strings(tag: &str, n: usize) -> Vec<String> {
    let words = [
        "protein", "kinase", "of the", "abnormal", "HP:", "receptor", "x",
    ];
    (0..n)
        .map(|i| format!("{tag} {i} {}", words[..1 + i % words.len()].join(" ")))
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n")).unwrap();
}

/// Runs the `inputs` as concurrent `embed` processes on one cache.
fn embed_concurrently(cache: &Path, inputs: &[PathBuf]) {
    let children: Vec<_> = inputs
        .iter()
        .map(|input| {
            bin(cache)
                .args(embed_args(input, &input.with_extension("npy")))
                .args(["--threads", "1", "--batch-size", "32"])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        succeeds(&child.wait_with_output().unwrap());
    }
}

#[test]
fn concurrent_runs_keep_every_vector() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let mut all = Vec::new();
    let mut inputs = Vec::new();
    for tag in ["alpha", "beta", "gamma"] {
        let lines = strings(tag, 200);
        let input = tmp.path().join(format!("{tag}.txt"));
        write_lines(&input, &lines);
        all.extend(lines);
        inputs.push(input);
    }
    embed_concurrently(&cache, &inputs);
    // Identical inputs at once: each run writes the same vectors; all must stay usable.
    let same = strings("same", 200);
    let same_inputs: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = tmp.path().join(format!("same{i}.txt"));
            write_lines(&p, &same);
            p
        })
        .collect();
    embed_concurrently(&cache, &same_inputs);
    all.extend(same);

    let union = tmp.path().join("all.txt");
    write_lines(&union, &all);
    let cached = tmp.path().join("all.npy");
    let out = bin(&cache)
        .args(embed_args(&union, &cached))
        .output()
        .unwrap();
    succeeds(&out);
    assert_eq!(cache_counts(&out), (all.len(), 0), "{}", stderr(&out));
    let fresh = tmp.path().join("fresh.npy");
    let mut args = embed_args(&union, &fresh);
    args.push("--no-cache");
    succeeds(&bin(&cache).args(&args).output().unwrap());
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(&fresh).unwrap()
    );
}

/// Starts `embed` on `input` with default signal handling, lets it stop itself
/// once `batches` batches are in the cache (debug-build hook), sends `signal`
/// and checks the process ended by it (so the run was really interrupted).
fn interrupt(cache: &Path, input: &Path, output: &Path, signal: i32, batches: usize) {
    let mut cmd = bin(cache);
    cmd.args(embed_args(input, output))
        .args(["--batch-size", "64", "--threads", "1"])
        .env("LEXALIGN_STOP_AFTER_BATCHES", batches.to_string())
        .stderr(Stdio::null());
    let child = common::default_signals(&mut cmd).spawn().unwrap();
    common::wait_stopped(&child);
    common::signal_and_continue(&child, signal);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        child.wait_with_output().unwrap().status.signal(),
        Some(signal)
    );
    assert!(!output.exists(), "an interrupted run wrote its output");
}

#[test]
fn interrupted_runs_keep_finished_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = strings("interrupted", 2000);
    let input = tmp.path().join("terms.txt");
    write_lines(&input, &lines);
    let fresh = tmp.path().join("fresh.npy");
    let mut args = embed_args(&input, &fresh);
    args.push("--no-cache");
    succeeds(&bin(tmp.path()).args(&args).output().unwrap());
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        let cache = tmp.path().join(format!("cache{signal}"));
        let output = tmp.path().join(format!("out{signal}.npy"));
        interrupt(&cache, &input, &output, signal, 3);
        let out = bin(&cache)
            .args(embed_args(&input, &output))
            .output()
            .unwrap();
        succeeds(&out);
        // Exactly the three finished batches of 64 strings were kept.
        assert_eq!(
            cache_counts(&out),
            (3 * 64, lines.len() - 3 * 64),
            "signal {signal}: {}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(&output).unwrap(),
            std::fs::read(&fresh).unwrap()
        );
    }
}

/// A run started with SIGINT ignored (a user's `nohup … &` job) keeps that
/// choice, as shell jobs expect: the SIGINT changes nothing, the run finishes,
/// and the output is the same as an undisturbed run's; no work is lost.
#[test]
fn inherited_ignored_sigint_is_kept_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = strings("nohup", 300);
    let input = tmp.path().join("terms.txt");
    write_lines(&input, &lines);
    let fresh = tmp.path().join("fresh.npy");
    let mut args = embed_args(&input, &fresh);
    args.push("--no-cache");
    succeeds(&bin(tmp.path()).args(&args).output().unwrap());
    let output = tmp.path().join("out.npy");
    let mut cmd = bin(&tmp.path().join("cache"));
    cmd.args(embed_args(&input, &output))
        .args(["--batch-size", "64", "--threads", "1"])
        .env("LEXALIGN_STOP_AFTER_BATCHES", "2")
        .stderr(Stdio::piped());
    let child = common::sigint_ignored(&mut cmd).spawn().unwrap();
    common::wait_stopped(&child);
    common::signal_and_continue(&child, libc::SIGINT);
    succeeds(&child.wait_with_output().unwrap());
    assert_eq!(
        std::fs::read(&output).unwrap(),
        std::fs::read(&fresh).unwrap()
    );
}

#[test]
fn cuda_without_the_gpu_library_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "seizure\n").unwrap();
    let output = dir.path().join("out.npy");
    let mut args = embed_args(&input, &output);
    args.extend(["--device", "cuda"]);
    let out = bin(&dir.path().join("cache")).args(&args).output().unwrap();
    fails_with(
        &out,
        &[
            "device",
            "built without CUDA",
            "onnxruntime-gpu==1.31.1",
            "--ort-lib",
        ],
    );
    assert!(!output.exists());
}
