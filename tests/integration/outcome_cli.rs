//! A user's own items end to end, from another working folder: `report --pairs`
//! on a pair file in the study's layout, then `outcome` on a results file, with
//! the AUC checked against a direct pair count and bad input named by line.

use crate::common;

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

/// A hand-made items table in `lexalign report`'s per-item layout: `n` items of
/// task `task`, a quarter tied at lexicalisation 1.0, a training/withheld split.
/// Returns (ids, lexicalisation, log1p popularity).
fn write_own_items(path: &Path, task: u32, n: usize) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let mut s = String::from("id,right,popularity,bin,split,lexicalization\n");
    let (mut ids, mut lex, mut pop) = (vec![], vec![], vec![]);
    for i in 0..n {
        let id = format!("T{task}:{i:05}");
        let l = if i % 4 == 0 {
            1.0
        } else {
            ((i * 37 + task as usize * 11) % 97) as f64 / 100.0
        };
        let p = ((i * 53) % 211) as f64;
        s.push_str(&format!(
            "{id},X:{:07},{p},{},{},{l}\n",
            i * 13 + 1,
            1 + i % 5,
            if i % 2 == 0 { "train" } else { "withheld" }
        ));
        ids.push(id);
        lex.push(l);
        pop.push(p.ln_1p());
    }
    std::fs::write(path, s).unwrap();
    (ids, lex, pop)
}

/// Deterministic "random" numbers in [0, 1) from an item index and a salt.
fn u(i: usize, salt: u64) -> f64 {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Correct with P = σ(−0.5 + 2(lex − ½) + 0.5(log pop − 3)).
fn simulated_correct(lex: &[f64], pop: &[f64], salt: u64) -> Vec<bool> {
    (0..lex.len())
        .map(|i| {
            let eta = -0.5 + 2.0 * (lex[i] - 0.5) + 0.5 * (pop[i] - 3.0);
            u(i, salt) < 1.0 / (1.0 + (-eta).exp())
        })
        .collect()
}

fn write_results(path: &Path, ids: &[String], correct: &[bool], order: &[usize]) {
    let mut s = String::from("item,ok,hits\n");
    for &i in order {
        s.push_str(&format!(
            "{},{},{}\n",
            ids[i],
            correct[i] as u8,
            (i * 7) % 50
        ));
    }
    std::fs::write(path, s).unwrap();
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn permuting_rows_changes_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("a")).unwrap();
    std::fs::create_dir_all(d.join("b")).unwrap();
    let (ids, lex, pop) = write_own_items(&d.join("a/items.csv"), 1, 400);
    let correct = simulated_correct(&lex, &pop, 1);
    let forward: Vec<usize> = (0..400).collect();
    write_results(&d.join("a/res.csv"), &ids, &correct, &forward);
    // The same rows in another order, in both files.
    let text = std::fs::read_to_string(d.join("a/items.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().skip(1).collect();
    let perm: Vec<usize> = {
        let mut p: Vec<usize> = (0..400).collect();
        p.sort_by(|&a, &b| u(a, 9).total_cmp(&u(b, 9)));
        p
    };
    let permuted: Vec<&str> = perm.iter().map(|&i| lines[i]).collect();
    lines = permuted;
    std::fs::write(
        d.join("b/items.csv"),
        format!(
            "id,right,popularity,bin,split,lexicalization\n{}\n",
            lines.join("\n")
        ),
    )
    .unwrap();
    let reversed: Vec<usize> = (0..400).rev().collect();
    write_results(&d.join("b/res.csv"), &ids, &correct, &reversed);
    for w in ["a", "b"] {
        let out = lexalign(
            &d.join(w),
            &[
                "outcome",
                "--items",
                "items.csv",
                "--results",
                "res.csv",
                "--id",
                "item",
                "--correct",
                "ok",
                "--predictor",
                "hits",
                "--out",
                "oc",
                "--bootstrap",
                "200",
                "--permutations",
                "200",
            ],
        );
        succeeds(&out);
    }
    let strip = |w: &str| {
        let mut j = json(&d.join(w).join("oc/outcome.json"));
        let o = j.as_object_mut().unwrap();
        o.remove("provenance");
        o.remove("caption");
        j
    };
    let (a, b) = (strip("a"), strip("b"));
    assert_eq!(a, b, "outcome.json differs when rows are permuted");
    // The top decile holds every item tied at 1.0 (100 of 400), in either order; no
    // other bin reaches 1.0.
    let bins = a["by_lexicalization_decile"].as_array().unwrap();
    let top = bins.last().unwrap();
    assert!(
        top["n"].as_u64().unwrap() >= 100 && top["range"][1] == 1.0,
        "{top}"
    );
    assert!(bins[..bins.len() - 1]
        .iter()
        .all(|b| b["range"][1].as_f64().unwrap() < 1.0));
    assert!(a["decile_ties"]
        .as_str()
        .unwrap()
        .contains("kept in one bin"));
    let md = |w: &str| {
        std::fs::read_to_string(d.join(w).join("oc/outcome.md"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('_'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        md("a"),
        md("b"),
        "outcome.md differs when rows are permuted"
    );
    assert!(md("a").contains("tied values kept in one bin"));
    assert!(md("a").starts_with("# Do lexicalisation and popularity predict which items"));
}

#[test]
fn log1p_transform_constant_predictor_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ids, lex, pop) = write_own_items(&d.join("items.csv"), 2, 300);
    let correct = simulated_correct(&lex, &pop, 2);
    let mut s = String::from("item,ok,hits,flat\n");
    for i in 0..300 {
        s.push_str(&format!(
            "{},{},{},3\n",
            ids[i],
            correct[i] as u8,
            (i * 7) % 50
        ));
    }
    std::fs::write(d.join("res.csv"), s).unwrap();
    let out = lexalign(
        d,
        &[
            "outcome",
            "--items",
            "items.csv",
            "--results",
            "res.csv",
            "--id",
            "item",
            "--correct",
            "ok",
            "--predictor",
            "flat",
            "--terms",
            "log1p:hits,lexicalization",
            "--out",
            "oc",
            "--bootstrap",
            "100",
            "--permutations",
            "100",
        ],
    );
    succeeds(&out);
    let j = json(&d.join("oc/outcome.json"));
    let l = &j["logistic"];
    assert_eq!(
        l["terms"],
        serde_json::json!(["log1p_hits", "lexicalization"])
    );
    let logs: Vec<f64> = (0..300).map(|i| (((i * 7) % 50) as f64).ln_1p()).collect();
    let mean = logs.iter().sum::<f64>() / 300.0;
    assert!((l["standardisation"]["log1p_hits"][0].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!(j["predictors"]["log1p_hits"]["auc"].is_number());
    // A constant column is said to be constant, not given AUC 0.500.
    let flat = &j["predictors"]["flat"];
    assert!(flat["auc"].is_null(), "{flat}");
    assert!(flat["skipped"].as_str().unwrap().starts_with("constant"));
    let md = std::fs::read_to_string(d.join("oc/outcome.md")).unwrap();
    assert!(md.contains("| flat | 300 | not computed: constant"), "{md}");
    assert!(!md.contains("0.500 [0.500, 0.500]"));
    // A negative count cannot be log1p-transformed: named by file and line.
    std::fs::write(
        d.join("neg.csv"),
        format!("item,ok,hits\n{},1,-3\n", ids[0]),
    )
    .unwrap();
    let out = lexalign(
        d,
        &[
            "outcome",
            "--items",
            "items.csv",
            "--results",
            "neg.csv",
            "--id",
            "item",
            "--correct",
            "ok",
            "--predictor",
            "log1p:hits",
            "--out",
            "x",
        ],
    );
    fails_with(&out, &["neg.csv:2", "log1p"]);
    let out = lexalign(d, &["outcome", "--help"]);
    succeeds(&out);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("popularity comes") && help.contains("items table"),
        "{help}"
    );
    assert!(help.contains("log1p:COL") && help.contains("--firth") && help.contains("--train-on"));
}

#[test]
fn several_tasks_two_models_transfer_and_pairing_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut args: Vec<String> = vec!["outcome".into()];
    let mut files = vec![];
    for t in 1..=3u32 {
        let (ids, lex, pop) = write_own_items(&d.join(format!("task{t}.csv")), t, 240);
        // Tasks differ in accuracy beyond lexicalisation.
        let shift: Vec<f64> = pop.iter().map(|p| p + t as f64 - 2.0).collect();
        for (m, salt) in [(1, 10u64), (2, 20)] {
            let c = simulated_correct(&lex, &shift, salt + t as u64);
            let f = format!("m{m}_task{t}.csv");
            write_results(&d.join(&f), &ids, &c, &(0..240).collect::<Vec<_>>());
            files.push((m, f));
        }
        args.extend(["--items".into(), format!("task{t}.csv")]);
    }
    // Blocks: model 1's three files (in --items order), then model 2's.
    files.sort();
    for (_, f) in &files {
        args.extend(["--results".into(), f.clone()]);
    }
    args.extend(
        [
            "--name",
            "m1",
            "--name",
            "m2",
            "--id",
            "item",
            "--correct",
            "ok",
            "--terms",
            "log1p_popularity,lexicalization,group",
            "--train-on",
            "m1",
            "--out",
            "oc",
            "--bootstrap",
            "100",
            "--permutations",
            "100",
            "--firth",
        ]
        .map(String::from),
    );
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    succeeds(&lexalign(d, &a));
    let j = json(&d.join("oc/outcome.json"));
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for r in runs {
        assert_eq!(r["n"], 720);
        assert_eq!(r["grouping"], "task");
        assert_eq!(r["groups"].as_object().unwrap().len(), 3);
        assert_eq!(r["logistic"]["group_reference"], "task1");
        assert_eq!(r["logistic"]["method"], "firth");
        assert!(r["logistic"]["coefficients"]["group=task3"].is_number());
        let w = &r["within_between"];
        assert_eq!(w["groups_lr"]["df"], 2);
        assert!(w["within_lr"]["p_value"].is_number());
        assert!(r["logistic"]["cv"]["auc"].as_f64().unwrap() > 0.5);
    }
    assert!(runs[0]["transfer"].is_null());
    let t = &runs[1]["transfer"];
    assert_eq!(t["trained_on"], "m1");
    assert_eq!(t["n"], 720);
    assert!(t["auc"].as_f64().unwrap() > 0.6, "{t}");
    for f in ["auc_by_group_m1", "auc_by_group_m2", "roc_m1"] {
        assert!(d.join(format!("oc/figures/{f}.png")).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(d.join("oc/outcome.md")).unwrap();
    assert!(
        md.contains("within vs between tasks") && md.contains("Out of sample"),
        "{md}"
    );
    // 5 results for 3 tables: which goes with which is ambiguous.
    let mut bad: Vec<&str> = vec!["outcome"];
    for t in 1..=3 {
        bad.extend(["--items", ["task1.csv", "task2.csv", "task3.csv"][t - 1]]);
    }
    for (_, f) in files.iter().take(5) {
        bad.extend(["--results", f.as_str()]);
    }
    bad.extend(["--id", "item", "--correct", "ok", "--out", "x"]);
    fails_with(
        &lexalign(d, &bad),
        &["--results is given 5 times for 3 --items", "blocks of 3"],
    );
    assert!(!d.join("x").exists());
}

#[test]
fn fine_tuning_in_three_layouts_gives_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ids, lex, pop) = write_own_items(&d.join("items.csv"), 4, 400);
    let before = simulated_correct(&lex, &pop, 4);
    let after: Vec<bool> = (0..400)
        .map(|i| {
            if before[i] {
                u(i, 5) > 0.05
            } else {
                // Training items are learned more often: memorisation.
                u(i, 6) < if i % 2 == 0 { 0.7 } else { 0.2 + 0.4 * lex[i] }
            }
        })
        .collect();
    let all: Vec<usize> = (0..400).collect();
    write_results(&d.join("before.csv"), &ids, &before, &all);
    write_results(&d.join("after.csv"), &ids, &after, &all);
    let mut both = String::from("item,base,tuned,cat\n");
    for i in 0..400 {
        let cat = match (before[i], after[i]) {
            (true, true) => "c",
            (false, false) => "i",
            (false, true) => "g",
            (true, false) => "l",
        };
        both.push_str(&format!(
            "{},{},{},{cat}\n",
            ids[i], before[i] as u8, after[i] as u8
        ));
    }
    std::fs::write(d.join("both.csv"), both).unwrap();
    let common = [
        "--items",
        "items.csv",
        "--id",
        "item",
        "--bootstrap",
        "100",
        "--permutations",
        "100",
    ];
    let run = |extra: &[&str], out: &str| {
        let mut a = vec!["outcome"];
        a.extend(common);
        a.extend(extra);
        a.extend(["--out", out]);
        succeeds(&lexalign(d, &a));
        json(&d.join(out).join("outcome.json"))["finetune"].clone()
    };
    let a = run(
        &[
            "--before",
            "before.csv",
            "--after",
            "after.csv",
            "--correct",
            "ok",
        ],
        "o1",
    );
    let b = run(
        &[
            "--results",
            "both.csv",
            "--before-col",
            "base",
            "--after-col",
            "tuned",
        ],
        "o2",
    );
    let c = run(&["--results", "both.csv", "--category-col", "cat"], "o3");
    assert_eq!(a["gains"], b["gains"]);
    assert_eq!(a["gains"], c["gains"]);
    let g = &a["gains"];
    let count = |f: &dyn Fn(usize) -> bool| (0..400).filter(|&i| f(i)).count();
    assert_eq!(g["all"]["learned"], count(&|i| !before[i] && after[i]));
    assert_eq!(g["all"]["forgotten"], count(&|i| before[i] && !after[i]));
    assert_eq!(g["train"]["n"], 200);
    let gain = (count(&|i| after[i]) as f64 - count(&|i| before[i]) as f64) / 400.0;
    assert!((g["all"]["gain"].as_f64().unwrap() - gain).abs() < 1e-12);
    assert!(g["train"]["gain"].as_f64().unwrap() > g["withheld"]["gain"].as_f64().unwrap());
    assert!(
        g["withheld"]["predictors"]["lexicalization"]["auc"]
            .as_f64()
            .unwrap()
            > 0.5
    );
    assert!(d.join("o1/figures/learned_by_predictor.png").is_file());
    let table = std::fs::read_to_string(d.join("o1/finetune.csv")).unwrap();
    assert!(table.starts_with("id,split,change\n"), "{table}");
    let md = std::fs::read_to_string(d.join("o1/outcome.md")).unwrap();
    assert!(
        md.contains("## Fine-tuning: before → after")
            && md.contains("What explains being learned (train")
    );
    // A category that is none of c/i/g/l: named by file, line and value.
    std::fs::write(
        d.join("badcat.csv"),
        format!("item,cat\n{},c\n{},x\n", ids[0], ids[1]),
    )
    .unwrap();
    let mut a = vec!["outcome"];
    a.extend(common);
    a.extend([
        "--results",
        "badcat.csv",
        "--category-col",
        "cat",
        "--out",
        "x",
    ]);
    fails_with(&lexalign(d, &a), &["badcat.csv:3", "\"x\"", "c (kept)"]);
}
