//! `lexalign ask` at the command line: bad input exits with a message (never a
//! panic), and a small user pair file runs end to end (skipped without smollm2).

use crate::common;

use common::{fails_with, stderr, succeeds, usage_error};

use std::path::Path;

const CACHE: Option<&str> = None;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn installed() -> bool {
    let ok = lexalign::assets::model_dir("smollm2".as_ref())
        .join("generate.onnx")
        .is_file()
        && lexalign::assets::ort_library_path().is_file();
    if !ok {
        eprintln!("skipping: smollm2 or ONNX Runtime not installed");
    }
    ok
}

/// A small pair file: id, term, code.
fn pairs(dir: &Path, extra: &str) -> std::path::PathBuf {
    let f = dir.join("p.csv");
    let text = format!(
        "code_id,term,code,part\nA1,Seizure,HP:0001250,train\nA2,Fever,HP:0001945,train\nA3,Headache,HP:0002315,train\nA4,Cough,HP:0012735,withheld\n{extra}"
    );
    std::fs::write(&f, text).unwrap();
    f
}

fn ask<'a>(file: &'a str, out: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "ask", "-q", "--pairs", file, "--left", "term", "--right", "code", "--id", "code_id",
        "--split", "part", "--output", out,
    ];
    a.extend_from_slice(more);
    a
}

#[test]
fn usage_errors() {
    let out = common::lexalign(
        CACHE,
        &[
            "ask",
            "--pairing",
            "hpo-label-id",
            "--direction",
            "sideways",
            "--output",
            "x.csv",
        ],
    );
    usage_error(&out, &["sideways", "term-to-id", "id-to-term"]);
    let out = common::lexalign(
        CACHE,
        &["ask", "--direction", "term-to-id", "--output", "x.csv"],
    );
    usage_error(&out, &["--pairing"]);
    let out = common::lexalign(
        CACHE,
        &[
            "ask",
            "--pairing",
            "hpo-label-id",
            "--direction",
            "term-to-id",
            "--prompt",
            "poem",
            "--output",
            "x.csv",
        ],
    );
    usage_error(&out, &["poem", "plain", "chat"]);
}

#[test]
fn bad_values_fail_before_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let f = pairs(dir.path(), "");
    let o = dir.path().join("o.csv");
    let (f, o) = (s(&f), s(&o));
    let run = |more: &[&str]| {
        common::lexalign(
            CACHE,
            &ask(f, o, &[&["--direction", "term-to-id"], more].concat()),
        )
    };
    fails_with(&run(&["--batch", "0"]), &["batch"]);
    fails_with(&run(&["--max-new-tokens", "0"]), &["max-new-tokens"]);
    fails_with(&run(&["--limit", "0"]), &["limit"]);
    let bad = dir.path().join("o.txt");
    fails_with(
        &common::lexalign(CACHE, &ask(f, s(&bad), &["--direction", "term-to-id"])),
        &["o.txt", ".csv"],
    );
    let nodir = dir.path().join("missing/o.csv");
    fails_with(
        &common::lexalign(CACHE, &ask(f, s(&nodir), &["--direction", "term-to-id"])),
        &["does not exist"],
    );
    let out = common::lexalign(
        CACHE,
        &[
            "ask",
            "-q",
            "--pairs",
            f,
            "--left",
            "nope",
            "--right",
            "code",
            "--direction",
            "term-to-id",
            "--output",
            o,
        ],
    );
    fails_with(&out, &["nope"]);
    let out = common::lexalign(
        CACHE,
        &[
            "ask",
            "-q",
            "--pairing",
            "no-such-pairing",
            "--direction",
            "term-to-id",
            "--output",
            o,
        ],
    );
    fails_with(&out, &["pairing"]);
    assert!(!Path::new(o).exists());
}

#[test]
fn encoders_and_missing_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = pairs(dir.path(), "");
    let o = dir.path().join("o.csv");
    let (f, o) = (s(&f), s(&o));
    let model = dir.path().join("no-model");
    let out = common::lexalign(
        CACHE,
        &ask(f, o, &["--direction", "term-to-id", "--model", s(&model)]),
    );
    fails_with(
        &out,
        &["no such model directory", "needs a decoder", "smollm2"],
    );
    if lexalign::assets::model_dir("minilm".as_ref()).is_dir() {
        let out = common::lexalign(
            CACHE,
            &ask(f, o, &["--direction", "term-to-id", "--model", "minilm"]),
        );
        fails_with(&out, &["needs a decoder", "smollm2"]);
    }
    assert!(!Path::new(o).exists());
}

#[test]
fn a_small_pair_file_end_to_end() {
    if !installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One input longer than the model's 2048 tokens: counted as too_long, not run.
    let long = format!("A5,{},HP:0000002,withheld\n", "word ".repeat(2100).trim());
    let f = pairs(dir.path(), &long);
    let o = dir.path().join("o.csv");
    let (f, o) = (s(&f), s(&o));
    // Too many shots for 3 training rows.
    let out = common::lexalign(
        CACHE,
        &ask(f, o, &["--direction", "term-to-id", "--shots", "9"]),
    );
    fails_with(&out, &["shots", "usable rows"]);
    let out = common::lexalign(
        CACHE,
        &ask(
            f,
            o,
            &[
                "--direction",
                "term-to-id",
                "--shots",
                "1",
                "--max-new-tokens",
                "12",
            ],
        ),
    );
    succeeds(&out);
    let text = std::fs::read_to_string(o).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,input,answer,truth,correct,correct_normalised,split,prompt_tokens,new_tokens,stop"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("A5,") && r.ends_with(",too_long")),
        "{text}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{o}.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["shots"].as_array().unwrap().len(), 1);
    assert_eq!(meta["too_long"], 1);
    assert_eq!(meta["items"], 4);
    assert!(meta["shot_pool"]
        .as_str()
        .unwrap()
        .starts_with("training split"));
    let shot = meta["shots"][0]["id"].as_str().unwrap();
    assert!(
        !rows.iter().any(|r| r.starts_with(&format!("{shot},"))),
        "shot asked: {text}"
    );
    assert!(meta["prompt_template"]
        .as_str()
        .unwrap()
        .ends_with("Term: {input}\nCode:"));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}
