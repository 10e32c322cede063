//! A user's own items end to end, from another working folder: `report --pairs`
//! on a pair file in the study's layout, then `outcome` on a results file, with
//! the AUC checked against a direct pair count and bad input named by line.

mod common;

use std::path::Path;

use common::{fails_with, succeeds};

use common::lexalign_in as lexalign;

/// 150 real HPO pairs with popularity and a split, in a user's column names.
fn write_items(dir: &Path) {
    let paper = common::root().join("data/processed/pairs/hpo-label-id.paper.csv");
    let text = std::fs::read_to_string(&paper).expect("make setup && lexalign vocab build");
    let mut rdr: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| {
            // label,right,concept_id,popularity,bin,split; labels may hold quoted commas.
            let fields: Vec<&str> = l.rsplitn(6, ',').collect();
            fields.into_iter().rev().map(str::to_string).collect()
        })
        .collect();
    rdr.truncate(75);
    let withheld: Vec<Vec<String>> = text
        .lines()
        .skip(601)
        .take(75)
        .map(|l| {
            l.rsplitn(6, ',')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .map(str::to_string)
                .collect()
        })
        .collect();
    let mut out = String::from("hpo_term,hpo_id,hpo_annotation_count,part\n");
    for r in rdr.iter().chain(&withheld) {
        out.push_str(&format!("{},{},{},{}\n", r[0], r[1], r[3], r[5]));
    }
    std::fs::write(dir.join("items.csv"), out).unwrap();
}

fn column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let k = header.iter().position(|h| *h == name).unwrap();
    // The per-item table quotes labels with commas; the columns read here come after them
    // only when counted from the end, so split from the right.
    let from_end = header.len() - k;
    lines
        .map(|l| {
            let f: Vec<&str> = l.rsplitn(from_end + 1, ',').collect();
            f[from_end - 1].to_string()
        })
        .collect()
}

#[test]
fn own_items_then_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_items(d);
    let out = lexalign(
        d,
        &[
            "report",
            "--pairs",
            "items.csv",
            "--left",
            "hpo_term",
            "--right",
            "hpo_id",
            "--id",
            "hpo_id",
            "--popularity",
            "hpo_annotation_count",
            "--split",
            "part",
            "--name",
            "mine",
            "--out",
            "rep",
            "--figures",
            "rep/figures",
        ],
    );
    succeeds(&out);
    let items = std::fs::read_to_string(d.join("rep/pairs/mine.csv")).unwrap();
    assert!(items.starts_with("id,left,right,popularity,bin,split,excluded,duplicate_id,lexicalization,rank_left_to_right,rank_right_to_left,cosine,cosine_centred,left_tokens,right_tokens"));
    assert_eq!(items.lines().count(), 151, "one row per input row");
    let ids = column(&items, "right");
    assert!(ids[0].starts_with("HP:"));
    let md = std::fs::read_to_string(d.join("rep/report.md")).unwrap();
    assert!(md.contains("items.csv") && !md.contains("NaN"), "{md}");

    // A results file in the study's layout: correct when the identifier's number is even.
    let lex: Vec<f64> = column(&items, "lexicalization")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let correct: Vec<bool> = ids
        .iter()
        .map(|id| id.trim_start_matches("HP:").parse::<u64>().unwrap() % 2 == 0)
        .collect();
    let mut res = String::from("hpo_id,hpo_term,pmc_term_hits,predicted_hpo_id,pmatch\n");
    for (i, id) in ids.iter().enumerate() {
        res.push_str(&format!(
            "{id},t{i},{},{id},{}\n",
            i * 3 % 17,
            correct[i] as u8
        ));
    }
    res.push_str("HP:9999999,extra,1,HP:9999999,1\n");
    std::fs::write(d.join("answers.csv"), &res).unwrap();
    let out = lexalign(
        d,
        &[
            "outcome",
            "--items",
            "rep/pairs/mine.csv",
            "--results",
            "answers.csv",
            "--id",
            "hpo_id",
            "--correct",
            "pmatch",
            "--predictor",
            "pmc_term_hits",
            "--out",
            "oc",
            "--permutations",
            "200",
        ],
    );
    succeeds(&out);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("oc/outcome.json")).unwrap()).unwrap();
    assert_eq!(j["n"], 150);
    assert_eq!(j["join"]["only_in_results"], 1);
    assert_eq!(j["join"]["only_in_results_first"][0], "HP:9999999");
    let acc = correct.iter().filter(|&&c| c).count() as f64 / 150.0;
    assert!((j["accuracy"].as_f64().unwrap() - acc).abs() < 1e-12);
    // AUC by counting pairs directly (ties ½): independent of the rank formula.
    let (mut wins, mut pairs) = (0.0, 0.0);
    for a in 0..150 {
        for b in 0..150 {
            if correct[a] && !correct[b] {
                pairs += 1.0;
                wins += if lex[a] > lex[b] {
                    1.0
                } else if lex[a] == lex[b] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    let p = &j["predictors"]["lexicalization"];
    assert!(
        (p["auc"].as_f64().unwrap() - wins / pairs).abs() < 1e-12,
        "{p}"
    );
    let ci = p["auc_ci"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= p["auc"].as_f64().unwrap());
    assert!(p["p_value"].as_f64().unwrap() > 0.0 && p["p_value"].as_f64().unwrap() <= 1.0);
    assert!(j["predictors"]["pmc_term_hits"]["auc"].is_number());
    assert!(j["predictors"]["id_leading_zeros"]["auc"].is_number());
    let l = &j["logistic"];
    assert!(l["coefficients"]["lexicalization"].is_number());
    assert!(l["se"]["log1p_popularity"].as_f64().unwrap() > 0.0);
    assert!(l["mcfadden_r2"].as_f64().unwrap() >= 0.0);
    for f in [
        "roc",
        "auc_by_predictor",
        "accuracy_by_lexicalization",
        "accuracy_by_popularity",
        "coefficients",
    ] {
        assert!(d.join(format!("oc/figures/{f}.png")).is_file(), "{f}");
    }
    assert!(d.join("oc/joined.csv").is_file() && d.join("oc/outcome.md").is_file());

    // Bad input: named by file, line and value.
    std::fs::write(
        d.join("bad.csv"),
        format!("hpo_id,pmatch\n{},1\n{},maybe\n", ids[0], ids[1]),
    )
    .unwrap();
    let base = [
        "outcome",
        "--items",
        "rep/pairs/mine.csv",
        "--id",
        "hpo_id",
        "--correct",
        "pmatch",
        "--out",
        "x",
    ];
    let with = |f: &str| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend(["--results", f]);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| lexalign(d, &a.iter().map(String::as_str).collect::<Vec<_>>());
    fails_with(
        &run(with("bad.csv")),
        &["bad.csv:3", "maybe", "0, 1, true or false"],
    );
    std::fs::write(
        d.join("dup.csv"),
        format!("hpo_id,pmatch\n{0},1\n{1},0\n{0},0\n", ids[0], ids[1]),
    )
    .unwrap();
    fails_with(&run(with("dup.csv")), &["dup.csv:4", "first on line 2"]);
    fails_with(&run(with("missing.csv")), &["missing.csv"]);
    assert!(!d.join("x").exists(), "a failed run writes nothing");
}

#[test]
fn pair_file_without_popularity_or_split_is_said_not_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut t = String::from("term\tcode\n");
    for (a, b) in [
        ("heart attack", "I21"),
        ("stroke", "I63"),
        ("influenza", "J11"),
        ("asthma", "J45"),
        ("gout", "M10"),
    ] {
        t.push_str(&format!("{a}\t{b}\n"));
    }
    std::fs::write(d.join("icd.tsv"), t).unwrap();
    let out = lexalign(
        d,
        &[
            "report",
            "--pairs",
            "icd.tsv",
            "--left",
            "term",
            "--right",
            "code",
            "--out",
            "r",
            "--figures",
            "r/f",
        ],
    );
    succeeds(&out);
    let md = std::fs::read_to_string(d.join("r/report.md")).unwrap();
    assert!(
        md.contains("probe not run: no training/withheld split"),
        "{md}"
    );
    assert!(md.contains("popularity not analysed"), "{md}");
    let summary = std::fs::read_to_string(d.join("r/summary.json")).unwrap();
    assert!(!summary.contains("NaN") && !md.contains("NaN"));
    assert!(!d.join("r/f/fig4_lexicalization_by_popularity.png").exists());
    assert!(d.join("r/f/fig1b_cosine_centred.png").is_file());
    let per_item = std::fs::read_to_string(d.join("r/pairs/icd.csv")).unwrap();
    assert!(
        per_item
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("1,heart attack,I21,"),
        "{per_item}"
    );
    // A column that is not there: the file and the columns present are named.
    let out = lexalign(
        d,
        &[
            "report", "--pairs", "icd.tsv", "--left", "term", "--right", "icd10", "--out", "r2",
        ],
    );
    fails_with(&out, &["icd.tsv", "icd10", "term, code"]);
}
