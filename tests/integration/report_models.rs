//! `report --models`: several models over a user's pair file from another folder;
//! the comparison's rows equal each model's own report, its links resolve, a
//! later run leaves no stale half of an earlier set; digit pieces against the
//! pieces Python `tokenizers` gives for the same tokenizer files.

use crate::common;

use std::path::Path;

use common::{fails_with, succeeds, usage_error};
use lexalign::embed::{DigitPieces, Model};

use common::lexalign_in as lexalign;

/// 60 made-up terms and identifiers: `XY:00…n` with leading zeros.
fn write_pairs(dir: &Path) -> Vec<String> {
    let words = ["alpha", "beta", "gamma", "delta", "kappa", "sigma"];
    let mut ids = Vec::new();
    let mut text = String::from("term,code\n");
    for i in 0..60 {
        let id = format!("XY:{:07}", 1000 + 37 * i);
        text.push_str(&format!("{} {} finding,{id}\n", words[i % 6], i));
        ids.push(id);
    }
    std::fs::write(dir.join("mine.csv"), text).unwrap();
    ids
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every `![..](link)` of a report.md points at a file that exists.
fn links_resolve(md: &Path) {
    let text = std::fs::read_to_string(md).unwrap();
    let base = md.parent().unwrap();
    let mut n = 0;
    for part in text.split("](").skip(1) {
        let link = &part[..part.find(')').unwrap()];
        if link.ends_with(".png") {
            assert!(
                base.join(link).is_file(),
                "{}: {link} missing",
                md.display()
            );
            n += 1;
        }
    }
    assert!(n > 0, "{}: no figure links", md.display());
}

const PAIRS: [&str; 6] = ["--pairs", "mine.csv", "--left", "term", "--right", "code"];

#[test]
fn two_models_side_by_side_from_another_folder() {
    let dir = tempfile::tempdir().unwrap();
    let ids = write_pairs(dir.path());
    let mut args = vec![
        "report",
        "--models",
        "minilm,minilm-int8",
        "--out",
        "res",
        "--figures",
        "figs",
    ];
    args.extend(PAIRS);
    succeeds(&lexalign(dir.path(), &args));
    let res = dir.path().join("res");
    let figs = dir.path().join("figs");
    let summary = json(&res.join("models.json"));
    let labels: Vec<&str> = summary["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["minilm", "minilm-int8"]);
    let rows = summary["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    // Each comparison row is that model's own report, number for number.
    for row in rows {
        let label = row["model"].as_str().unwrap();
        let own = json(&res.join(label).join("summary.json"));
        let p = &own["pairings"][0];
        assert_eq!(p["name"], "mine");
        for key in [
            "auc",
            "auc_ci",
            "auc_raw",
            "n",
            "lexicalization",
            "lexicalization_ci",
            "top1",
            "mrr",
        ] {
            assert_eq!(row[key], p[key], "{label} {key}");
        }
        assert!(figs.join(label).join("fig1a_cosine_raw.png").is_file());
        links_resolve(&res.join(label).join("report.md"));
    }
    // The int8 model is a different model file.
    assert_ne!(
        summary["models"][0]["model"]["onnx_sha256"],
        summary["models"][1]["model"]["onnx_sha256"]
    );
    // Tokenisation: string facts by hand (7 digits, 3 leading zeros each), pieces
    // the same for both (one tokenizer), and digit pieces never more than digits.
    let tokens = summary["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    let lz: f64 = ids
        .iter()
        .map(|id| id[3..].chars().take_while(|&c| c == '0').count() as f64)
        .sum::<f64>()
        / ids.len() as f64;
    for t in tokens {
        assert_eq!(t["strings"], 60);
        assert_eq!(t["digits_mean"].as_f64().unwrap(), 7.0);
        assert!((t["leading_zeros_mean"].as_f64().unwrap() - lz).abs() < 1e-12);
        assert!(t["digit_pieces_mean"].as_f64().unwrap() <= 7.0);
        assert_eq!(t["pieces_mean"], tokens[0]["pieces_mean"]);
    }
    for f in ["models.csv", "tokens.csv", "report.md"] {
        assert!(res.join(f).is_file(), "{f}");
    }
    for stem in [
        "fig8_models_auc",
        "fig8_models_lexicalization",
        "fig9_models_pieces",
    ] {
        assert!(figs.join(format!("{stem}.png")).is_file(), "{stem}");
    }
    links_resolve(&res.join("report.md"));
    let csv = std::fs::read_to_string(res.join("models.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");

    // A comparison of one model in the same folders: the other model's folders go.
    let mut args = vec![
        "report",
        "--models",
        "minilm",
        "--out",
        "res",
        "--figures",
        "figs",
    ];
    args.extend(PAIRS);
    succeeds(&lexalign(dir.path(), &args));
    assert!(!res.join("minilm-int8").exists());
    assert!(!figs.join("minilm-int8").exists());
    assert_eq!(
        json(&res.join("models.json"))["rows"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A single-model run there: no comparison files of the earlier set stay.
    let mut args = vec!["report", "--out", "res", "--figures", "figs"];
    args.extend(PAIRS);
    succeeds(&lexalign(dir.path(), &args));
    for f in ["models.json", "models.csv", "tokens.csv"] {
        assert!(!res.join(f).exists(), "{f} stayed");
    }
    assert!(!figs.join("fig8_models_auc.png").exists());
    assert!(res.join("summary.json").is_file());
    links_resolve(&res.join("report.md"));
}

#[test]
fn bad_model_lists_fail_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    write_pairs(dir.path());
    let run = |models: &str, extra: &[&str]| {
        let mut args = vec!["report", "--models", models, "--out", "res"];
        args.extend(PAIRS);
        args.extend(extra);
        lexalign(dir.path(), &args)
    };
    fails_with(&run("minilm,minilm", &[]), &["two models", "minilm"]);
    fails_with(
        &run("minilm,no-such-model", &[]),
        &["no-such-model", "model.onnx"],
    );
    // Nothing was written for the model before the bad one.
    assert!(!dir.path().join("res/minilm").exists());
    usage_error(&run("minilm", &["--model", "smollm2"]), &["--model"]);
}

/// Pieces, digit pieces and leading-zero pieces of each string, as Python
/// `tokenizers` 0.22 cuts them with the installed tokenizer.json files (special
/// tokens left out): `HP:0001250` is `hp : 000 ##12 ##50` for MiniLM and one piece
/// per digit for SmolLM2.
#[test]
fn digit_pieces_match_the_python_tokenizer() {
    // (string, [pieces, digit pieces, leading-zero pieces])
    type Case<'a> = (&'a str, [usize; 3]);
    let cases: [(&str, &[Case]); 2] = [
        (
            "minilm",
            &[
                ("HP:0001250", [5, 3, 1]),
                ("GO:0006915", [6, 4, 1]),
                ("HGNC:1100", [5, 1, 0]),
                ("BRCA1", [3, 1, 0]),
                ("0012", [2, 2, 1]),
            ],
        ),
        (
            "smollm2",
            &[
                ("HP:0001250", [9, 7, 3]),
                ("GO:0006915", [9, 7, 3]),
                ("HGNC:1100", [8, 4, 0]),
                ("BRCA1", [3, 1, 0]),
                ("0012", [4, 4, 2]),
            ],
        ),
    ];
    for (name, expected) in cases {
        let model = Model::load(lexalign::assets::model_dir(Path::new(name))).unwrap();
        let texts: Vec<&str> = expected.iter().map(|(t, _)| *t).collect();
        let got = model.digit_pieces(&texts).unwrap();
        for ((text, [pieces, digit_pieces, leading_zero_pieces]), g) in expected.iter().zip(got) {
            assert_eq!(
                g,
                DigitPieces {
                    pieces: *pieces,
                    digit_pieces: *digit_pieces,
                    leading_zero_pieces: *leading_zero_pieces
                },
                "{name} {text}"
            );
        }
    }
}
