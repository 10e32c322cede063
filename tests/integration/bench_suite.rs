//! `lexalign bench --suite`: a tiny suite (8 strings, one thread, 300 random pairs,
//! no peers) writes its JSON and its two-panel figure; no timing is asserted.

use crate::common;

use common::{fails_with, succeeds};
use std::path::Path;

const CACHE: Option<&str> = Some("lexalign-bench-suite-cache");

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

const TINY: &str = r#"
threads = [1]
repeat = 1
batch_size = 4
peer_batch_size = 4
[[model]]
name = "minilm"
count = 8
[[model]]
name = "minilm-int8"
count = 8
also_against = "minilm"
[retrieval]
n = [300, 600]
dim = 16
threads = 1
repeat = 1
"#;

#[test]
fn a_tiny_suite_writes_its_json_and_figure() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("tiny.toml");
    std::fs::write(&suite, TINY).unwrap();
    let json = dir.path().join("out/bench.json");
    let png = dir.path().join("fig/bench.png");
    std::fs::create_dir_all(json.parent().unwrap()).unwrap();
    let out = common::lexalign(
        CACHE,
        &[
            "bench",
            "--suite",
            s(&suite),
            "--no-peer",
            "--json",
            s(&json),
            "--figure",
            s(&png),
        ],
    );
    succeeds(&out);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["throughput"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["throughput"][0]["model"], "minilm");
    assert_eq!(v["throughput"][0]["strings"], 8);
    assert!(
        v["throughput"][0]["lexalign"]["load_seconds"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(v["throughput"][0].get("python").is_none(), "no peer: {v}");
    assert_eq!(v["retrieval"][1]["n"], 600);
    assert_eq!(v["onnxruntime"]["version"], "1.31.1");
    assert_eq!(v["onnxruntime"]["graph_opt"], "all");
    assert_eq!(v["models"][1]["key"], "minilm-int8");
    assert_eq!(v["models"][1]["onnx_sha256"].as_str().unwrap().len(), 64);
    assert!(v["machine"]["cpus"].as_u64().unwrap() >= 1);
    assert!(v["date"].as_str().unwrap().ends_with("UTC"));
    // The PNG at 300 dpi (3000 × 1500: IHDR width and height), and the SVG beside it.
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let be = |r: std::ops::Range<usize>| u32::from_be_bytes(bytes[r].try_into().unwrap());
    assert_eq!((be(16..20), be(20..24)), (3000, 1500));
    let svg = std::fs::read_to_string(png.with_extension("svg")).unwrap();
    assert!(svg.contains("minilm-int8") && svg.contains("ONNX Runtime 1.31.1"));
}

#[test]
fn suites_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("bad.toml");
    for (edit, needle) in [
        (("count = 8\nalso", "count = 9\nalso"), "count must equal"),
        (
            ("also_against = \"minilm\"", "also_against = \"smollm2\""),
            "listed before it",
        ),
        (
            ("repeat = 1\nbatch", "repeat = 0\nbatch"),
            "repeat must be at least 1",
        ),
        (
            ("n = [300, 600]", "n = [2]"),
            "retrieval.n must be at least 3",
        ),
        (("threads = [1]", "threeds = [1]"), "unknown field"),
    ] {
        std::fs::write(&suite, TINY.replacen(edit.0, edit.1, 1)).unwrap();
        fails_with(
            &common::lexalign(CACHE, &["bench", "--suite", s(&suite), "--no-peer"]),
            &[needle],
        );
    }
    let out = common::lexalign(CACHE, &["bench", "--suite", "default", "--figure", "x.svg"]);
    fails_with(&out, &["expected a .png path"]);
}

/// `bench --model MODEL` on 6 strings, one repeat, one thread, its JSON at `json`.
fn bench_six(cache: Option<&str>, model: &str, json: &Path) -> std::process::Output {
    common::lexalign(
        cache,
        &[
            "bench",
            "--model",
            model,
            "--count",
            "6",
            "--repeat",
            "1",
            "--threads",
            "1",
            "--json",
            s(json),
        ],
    )
}

/// A decoder is also timed against llama.cpp on its GGUF, or says in its row why not
/// (llama-cpp-python not installed: `make llama-cpp`); an encoder has neither.
#[test]
fn a_decoder_row_has_llama_cpp_or_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = bench_six(CACHE, "smollm2", &json);
    succeeds(&out);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    match (v.get("llama_cpp"), v.get("llama_cpp_skipped")) {
        (Some(l), None) => {
            let ratio = l["ratio"].as_f64().unwrap();
            let theirs = l["strings_per_s"].as_f64().unwrap();
            let ours = v["lexalign"]["strings_per_s"].as_f64().unwrap();
            assert!((ratio - ours / theirs).abs() < 1e-9 * ratio, "{v}");
            // Quantised weights and activations on llama.cpp's side: close, not equal.
            assert!(l["lowest_cosine"].as_f64().unwrap() > 0.99, "{v}");
            assert_eq!(l["strings"], 6);
            assert!(l["peer"].as_str().unwrap().starts_with("llama.cpp"), "{v}");
            assert!(stdout.contains("ratio lexalign / llama.cpp"), "{stdout}");
        }
        (None, Some(why)) => {
            let why = why.as_str().unwrap();
            assert!(why.contains("make llama-cpp"), "{why}");
            // One line, in the output too.
            assert_eq!(
                stdout
                    .lines()
                    .filter(|l| l.contains("no llama.cpp peer"))
                    .count(),
                1,
                "{stdout}"
            );
        }
        other => panic!("expected llama_cpp or llama_cpp_skipped, got {other:?}: {v}"),
    }
    let json2 = dir.path().join("minilm.json");
    let out = bench_six(CACHE, "minilm", &json2);
    succeeds(&out);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json2).unwrap()).unwrap();
    assert!(
        v.get("llama_cpp").is_none() && v.get("llama_cpp_skipped").is_none(),
        "an encoder has no llama.cpp peer: {v}"
    );
}
