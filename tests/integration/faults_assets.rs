//! Installed assets that are not what the manifest records, and output sets
//! that must never mix two runs (issue 13, items 5, 6 and 12). See docs/FAILURES.md.

use crate::common;

use common::{fails_with, succeeds};

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lexalign"));
    c.env(
        "LEXALIGN_CACHE",
        std::env::temp_dir().join("lexalign-faults-cache"),
    )
    .env_remove("ORT_DYLIB_PATH")
    .env_remove("LEXALIGN_FAIL_COMMIT_AFTER");
    c
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Entries of `dir` whose names start with `.lexalign` (staging left behind).
fn staging_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".lexalign"))
        .collect()
}

/// A temp asset folder with the real manifest and `rel` holding `bytes`.
fn assets_with(rel: &str, bytes: &[u8]) -> tempfile::TempDir {
    let real = lexalign::assets::asset_root();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(real.join("manifest.json"), dir.path().join("manifest.json")).unwrap();
    let path = dir.path().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    dir
}

/// `lexalign embed` of one string with the installed model and `env` set.
fn embed_with(env: &[(&str, &Path)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.txt");
    std::fs::write(&input, "BRCA1\n").unwrap();
    let model = lexalign::assets::default_model_dir();
    let mut cmd = bin();
    cmd.args(["embed", "-q", "--model", s(&model), "--input", s(&input)])
        .args(["--output", s(&dir.path().join("t.npy"))]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

// 5. A truncated ONNX Runtime library is refused before it is loaded (it would
// kill the process with SIGBUS), installed or given by the user.

#[test]
fn truncated_ort_library_is_an_error_not_a_signal() {
    let real = std::fs::read(lexalign::assets::installed_ort_library()).unwrap();
    let cut = &real[..real.len() * 2 / 3];
    let assets = assets_with(lexalign::assets::ORT_LIBRARY, cut);
    let out = embed_with(&[("LEXALIGN_ASSETS", assets.path())]);
    fails_with(
        &out,
        &[
            "ONNX Runtime library",
            "libonnxruntime.so.1.31.1",
            &format!("manifest.json records {} bytes", real.len()),
            "make setup",
        ],
    );
    // Same size, one byte changed: the sha256 tells.
    let mut changed = real.clone();
    changed[real.len() / 2] ^= 1;
    let assets = assets_with(lexalign::assets::ORT_LIBRARY, &changed);
    let out = embed_with(&[("LEXALIGN_ASSETS", assets.path())]);
    fails_with(&out, &["its sha256", "corrupt or altered", "make setup"]);
    // The user's own library has no manifest entry: it must be a whole ELF file.
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libonnxruntime.so");
    std::fs::write(&lib, cut).unwrap();
    let out = embed_with(&[("ORT_DYLIB_PATH", &lib)]);
    fails_with(&out, &[s(&lib), "truncated", "ORT_DYLIB_PATH"]);
    std::fs::write(&lib, &real).unwrap();
    succeeds(&embed_with(&[("ORT_DYLIB_PATH", &lib)]));
}

// 6. Raw data of the recorded size but other bytes: the sha256 tells.

fn vocab_build(assets: &Path, out: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["vocab", "build", "--quiet", "--out", s(out)])
        .args(extra)
        .env("LEXALIGN_ASSETS", assets)
        .output()
        .unwrap()
}

/// An asset folder of links to the installed raw files and manifest, with
/// `raw/hgnc_entries.tsv` a real copy altered by `alter`.
fn raw_assets(alter: impl FnOnce(&mut Vec<u8>)) -> tempfile::TempDir {
    let real = lexalign::assets::asset_root();
    let mut hgnc = std::fs::read(real.join("raw/hgnc_entries.tsv")).unwrap();
    alter(&mut hgnc);
    let dir = assets_with("raw/hgnc_entries.tsv", &hgnc);
    for e in std::fs::read_dir(real.join("raw")).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "hgnc_entries.tsv" {
            std::os::unix::fs::symlink(e.path(), dir.path().join("raw").join(e.file_name()))
                .unwrap();
        }
    }
    dir
}

#[test]
fn same_size_corruption_of_raw_data_is_caught() {
    // One tab of the third line becomes a space: same size, other bytes.
    let assets = raw_assets(|b| {
        let nl = b
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == b'\n')
            .nth(1)
            .unwrap()
            .0;
        let tab = nl + b[nl..].iter().position(|&c| c == b'\t').unwrap();
        b[tab] = b' ';
    });
    let out_dir = tempfile::tempdir().unwrap();
    let out = vocab_build(assets.path(), out_dir.path(), &[]);
    fails_with(
        &out,
        &[
            "hgnc_entries.tsv",
            "differs from the installed release",
            "sha256",
            "make setup",
            "--no-manifest-check",
        ],
    );
    assert!(std::fs::read_dir(out_dir.path()).unwrap().next().is_none());
    // --no-manifest-check skips it: the file's own fault is then what is reported.
    let out = vocab_build(assets.path(), out_dir.path(), &["--no-manifest-check"]);
    fails_with(&out, &["hgnc_entries.tsv:3:", "12 tab-separated fields"]);
}

// 12. Output sets replace the previous set whole, or not at all.

#[test]
fn vocab_build_replaces_its_set_whole_or_not_at_all() {
    let assets = raw_assets(|_| {});
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("processed");
    std::fs::create_dir_all(out.join("pairs")).unwrap();
    std::fs::create_dir_all(out.join("concepts")).unwrap();
    for f in [
        "pairs/stale.csv",
        "concepts/hgnc.csv",
        "vocab.json",
        "notes.txt",
    ] {
        std::fs::write(out.join(f), "old").unwrap();
    }
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_default();
    // Fails after two of the three entries were swapped in: all are put back.
    let run = bin()
        .args(["vocab", "build", "--quiet", "--out", s(&out)])
        .env("LEXALIGN_ASSETS", assets.path())
        .env("LEXALIGN_FAIL_COMMIT_AFTER", "2")
        .output()
        .unwrap();
    fails_with(&run, &["injected failure after 2 entries"]);
    for f in ["pairs/stale.csv", "concepts/hgnc.csv", "vocab.json"] {
        assert_eq!(read(f), "old", "{f}");
    }
    assert!(!out.join("pairs/hpo-label-id.csv").exists());
    assert!(staging_left(&out).is_empty(), "{:?}", staging_left(&out));
    succeeds(&vocab_build(assets.path(), &out, &[]));
    assert!(!out.join("pairs/stale.csv").exists());
    assert!(read("concepts/hgnc.csv").starts_with("id,label"));
    assert!(read("vocab.json").contains("\"pairings\""));
    assert!(out.join("pairs/hpo-label-id.paper.csv").is_file());
    assert_eq!(read("notes.txt"), "old", "a user's file stays");
    assert!(staging_left(&out).is_empty(), "{:?}", staging_left(&out));
}

#[test]
fn report_replaces_its_set_whole_or_not_at_all() {
    let root = tempfile::tempdir().unwrap();
    let (out, figures) = (root.path().join("results"), root.path().join("figures"));
    std::fs::create_dir_all(out.join("pairs")).unwrap();
    std::fs::create_dir_all(&figures).unwrap();
    for f in ["pairs/stale.csv", "summary.json", "report.md", "mine.txt"] {
        std::fs::write(out.join(f), "old").unwrap();
    }
    std::fs::write(figures.join("fig2_pca.svg"), "old").unwrap();
    let config = root.path().join("small.toml");
    std::fs::write(
        &config,
        format!(
            "pairings = [\"hpo-label-id\"]\nbootstrap = 20\nout = {:?}\nfigures = {:?}\n",
            s(&out),
            s(&figures)
        ),
    )
    .unwrap();
    let report = |fail: Option<&str>| {
        let mut c = bin();
        c.args(["report", "-q", "--config", s(&config)]);
        if let Some(n) = fail {
            c.env("LEXALIGN_FAIL_COMMIT_AFTER", n);
        }
        c.output().unwrap()
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    // pairs/, report.md and summary.json are in; the first figure fails: all undone.
    fails_with(&report(Some("3")), &["injected failure after 3 entries"]);
    for f in ["pairs/stale.csv", "summary.json", "report.md"] {
        assert_eq!(read(&out.join(f)), "old", "{f}");
    }
    assert_eq!(read(&figures.join("fig2_pca.svg")), "old");
    assert!(!figures.join("fig1a_cosine_raw.png").exists());
    assert!(staging_left(&out).is_empty() && staging_left(&figures).is_empty());
    succeeds(&report(None));
    assert!(!out.join("pairs/stale.csv").exists());
    assert!(out.join("pairs/hpo-label-id.csv").is_file());
    assert!(read(&out.join("summary.json")).contains("hpo-label-id"));
    assert!(read(&out.join("report.md")).contains("fig2_pca.png"));
    assert!(read(&figures.join("fig2_pca.svg")).starts_with("<svg"));
    assert_eq!(read(&out.join("mine.txt")), "old", "a user's file stays");
    assert!(staging_left(&out).is_empty() && staging_left(&figures).is_empty());
}
