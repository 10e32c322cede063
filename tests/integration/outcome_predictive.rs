//! The predictive framework against numpy (scripts/make_outcome_reference.py →
//! tests/fixtures/outcome_predictive_reference.json) and closed forms: Firth's
//! penalised fit, cross-validated AUCs, task fixed effects with the within/between
//! comparison, Newcombe's paired interval; and by simulation: the paired interval's
//! coverage, known fine-tuning effects recovered within their intervals.

use crate::common;

use std::collections::BTreeMap;

use common::{fixture, floats};
use lexalign::outcome::logistic::{
    firth_likelihood_ratio, fit_logistic, fit_logistic_with, Method,
};
use lexalign::outcome::{
    analyse, cross_validated_model, cross_validated_single, stratified_folds, JoinStats, Joined,
    OutcomeParams,
};
use lexalign::stats::paired_difference;
use lexalign::stats::BootstrapConfig;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn params(folds: usize, firth: bool, terms: Option<&[&str]>) -> OutcomeParams {
    OutcomeParams {
        bootstrap: BootstrapConfig {
            resamples: 200,
            ..BootstrapConfig::default()
        },
        permutations: 200,
        terms: terms.map(|t| t.iter().map(|s| s.to_string()).collect()),
        firth,
        folds,
    }
}

fn bools(v: &Value) -> Vec<bool> {
    floats(v).iter().map(|&x| x == 1.0).collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let d = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    eprintln!("{what}: max |Δ| = {d:e}");
    assert!(d <= tol, "{what}: {a:?} vs {b:?}");
}

fn columns(cols: &[&[f64]]) -> Array2<f64> {
    Array2::from_shape_fn((cols[0].len(), cols.len()), |(i, j)| cols[j][i])
}

#[test]
fn firth_matches_closed_forms_and_numpy() {
    let f = fixture("outcome_predictive_reference.json");
    // Intercept only: logit((k + ½) / (n + 1)).
    let c = &f["firth_intercept"];
    let y = bools(&c["y"]);
    let fit = fit_logistic_with(
        Array2::<f64>::zeros((y.len(), 0)).view(),
        &y,
        &[],
        0.95,
        Method::Firth,
    )
    .unwrap();
    let closed = (3.5f64 / 17.5).ln();
    assert!((fit.coefficients[0] - closed).abs() < 1e-10, "{fit:?}");
    close(
        &fit.coefficients,
        &floats(&c["fit"]["coefficients"]),
        1e-10,
        "firth intercept",
    );

    // One binary term with an empty cell (separation): ½ added to each cell.
    let c = &f["firth_2x2"];
    let x = floats(&c["x"]);
    let y = bools(&c["y"]);
    let xm = columns(&[&x]);
    let e = fit_logistic(xm.view(), &y, &names(&["x"]), 0.95).unwrap_err();
    assert!(e.to_string().contains("separation"), "{e}");
    let fit = fit_logistic_with(xm.view(), &y, &names(&["x"]), 0.95, Method::Firth).unwrap();
    let slope = (7.5f64 * 10.5 / (5.5 * 0.5)).ln();
    let intercept = (0.5f64 / 10.5).ln();
    assert!((fit.coefficients[1] - slope).abs() < 1e-10, "{fit:?}");
    assert!((fit.coefficients[0] - intercept).abs() < 1e-10, "{fit:?}");
    close(&fit.se, &floats(&c["fit"]["se"]), 1e-8, "firth 2x2 se");

    // Complete separation on a continuous term, and a few-events sample with two terms.
    for (case, cols) in [
        ("firth_separated", vec!["x"]),
        ("firth_few", vec!["x1", "x2"]),
    ] {
        let c = &f[case];
        let y = bools(&c["y"]);
        let data: Vec<Vec<f64>> = cols.iter().map(|n| floats(&c[n])).collect();
        let refs: Vec<&[f64]> = data.iter().map(Vec::as_slice).collect();
        let xm = columns(&refs);
        let fit = fit_logistic_with(xm.view(), &y, &names(&cols), 0.95, Method::Firth).unwrap();
        close(
            &fit.coefficients,
            &floats(&c["fit"]["coefficients"]),
            1e-8,
            &format!("{case} coefficients"),
        );
        close(
            &fit.se,
            &floats(&c["fit"]["se"]),
            1e-8,
            &format!("{case} se"),
        );
        let pll = c["fit"]["penalised_log_likelihood"].as_f64().unwrap();
        assert!((fit.penalised_log_likelihood.unwrap() - pll).abs() < 1e-9);
        let ll = c["fit"]["log_likelihood"].as_f64().unwrap();
        assert!((fit.log_likelihood - ll).abs() < 1e-9);
    }
    // Penalised LR tests (restricted fits keep the whole design's penalty).
    let c = &f["firth_few"];
    let (x1, x2, y) = (floats(&c["x1"]), floats(&c["x2"]), bools(&c["y"]));
    let xm = columns(&[&x1, &x2]);
    let full =
        fit_logistic_with(xm.view(), &y, &names(&["x1", "x2"]), 0.95, Method::Firth).unwrap();
    for (drop, key) in [(vec![1], "lr_drop_x2"), (vec![0, 1], "lr_drop_both")] {
        let t = firth_likelihood_ratio(&full, xm.view(), &y, &drop).unwrap();
        let want = c[key].as_f64().unwrap();
        eprintln!("{key}: {} vs numpy {want}", t.statistic);
        assert!((t.statistic - want).abs() < 1e-8, "{key}");
        assert_eq!(t.df, drop.len());
    }
    // Separately fitted Firth models are not compared by the ML test.
    assert!(lexalign::outcome::logistic::likelihood_ratio(&full, &full).is_err());
    // Firth shrinks the few-events ML coefficients towards 0.
    let ml = floats(&c["ml"]["coefficients"]);
    let fi = floats(&c["fit"]["coefficients"]);
    assert!(fi[1].abs() < ml[1].abs() && fi[2].abs() < ml[2].abs());
}

#[test]
fn cross_validated_auc_matches_numpy_for_given_folds() {
    let f = fixture("outcome_predictive_reference.json");
    let c = &f["cv"];
    let (v1, v2, y) = (floats(&c["v1"]), floats(&c["v2"]), bools(&c["y"]));
    let folds: Vec<usize> = floats(&c["folds"]).iter().map(|&x| x as usize).collect();
    let k = c["k"].as_u64().unwrap() as usize;
    let p = params(k, false, None);
    let m = cross_validated_model(
        columns(&[&v1, &v2]).view(),
        &y,
        &names(&["v1", "v2"]),
        &folds,
        k,
        &p,
    );
    close(
        &m.fold_auc,
        &floats(&c["model_fold_auc"]),
        1e-12,
        "cv model",
    );
    let mean = m.fold_auc.iter().sum::<f64>() / k as f64;
    assert!((m.auc.unwrap() - mean).abs() < 1e-15);
    for (v, key) in [(&v1, "v1_fold_auc"), (&v2, "v2_fold_auc")] {
        let s = cross_validated_single(v, &y, &folds, &p);
        close(&s.fold_auc, &floats(&c[key]), 1e-12, key);
    }
    // v2 has a negative effect: oriented on the training folds, its CV AUC is > ½.
    assert!(cross_validated_single(&v2, &y, &folds, &p).auc.unwrap() > 0.5);
}

#[test]
fn stratified_folds_are_balanced_seeded_and_need_both_classes() {
    let y: Vec<bool> = (0..103).map(|i| i % 4 == 0).collect();
    let a = stratified_folds(&y, 5, 9).unwrap();
    assert_eq!(a, stratified_folds(&y, 5, 9).unwrap());
    assert_ne!(a, stratified_folds(&y, 5, 10).unwrap());
    for f in 0..5 {
        let pos = (0..103).filter(|&i| a[i] == f && y[i]).count();
        let all = (0..103).filter(|&i| a[i] == f).count();
        assert!((5..=6).contains(&pos), "fold {f}: {pos} correct");
        assert!((20..=21).contains(&all), "fold {f}: {all} items");
    }
    let few: Vec<bool> = (0..50).map(|i| i < 3).collect();
    let e = stratified_folds(&few, 5, 1).unwrap_err().to_string();
    assert!(e.contains("3 correct") && e.contains("5 folds"), "{e}");
}

/// A Joined of simulated items (ids zero-padded so id order = row order).
fn joined(
    task: Vec<String>,
    correct: Vec<bool>,
    predictors: Vec<(&str, Vec<f64>)>,
    split: Option<Vec<String>>,
) -> Joined {
    let n = correct.len();
    Joined {
        name: "sim".into(),
        ids: (0..n).map(|i| format!("ID:{i:06}")).collect(),
        item_rows: (0..n).collect(),
        task,
        split,
        correct,
        group: None,
        predictors: predictors
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.into_iter().map(Some).collect()))
            .collect(),
        user_predictors: Vec::new(),
        bin: vec![None; n],
        join: JoinStats::default(),
    }
}

#[test]
fn task_fixed_effects_and_within_between_match_numpy() {
    let f = fixture("outcome_predictive_reference.json");
    let t = &f["tasks"];
    let task: Vec<String> = t["task"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let pop: Vec<f64> = floats(&t["popularity"]).iter().map(|p| p.ln_1p()).collect();
    let j = joined(
        task,
        bools(&t["correct"]),
        vec![
            ("log1p_popularity", pop),
            ("lexicalization", floats(&t["lexicalization"])),
        ],
        None,
    );
    let p = params(
        0,
        false,
        Some(&["log1p_popularity", "lexicalization", "group"]),
    );
    let r = analyse(&j, &p).unwrap();
    assert_eq!(r.grouping.as_deref(), Some("task"));
    assert_eq!(r.groups.len(), 4);
    let l = r.logistic.as_ref().unwrap();
    assert_eq!(l.group_reference.as_deref(), Some("go"));
    let order = [
        "intercept",
        "log1p_popularity",
        "lexicalization",
        "group=hgnc",
        "group=hpo",
        "group=symbols",
    ];
    let got: Vec<f64> = order.iter().map(|n| l.coefficients[*n]).collect();
    close(
        &got,
        &floats(&t["fe"]["coefficients"]),
        1e-9,
        "task FE coefficients",
    );
    let se: Vec<f64> = order.iter().map(|n| l.se[*n]).collect();
    close(&se, &floats(&t["fe"]["se"]), 1e-9, "task FE se");
    let w = r.within_between.as_ref().unwrap();
    let within_lr = t["within_lr"].as_f64().unwrap();
    assert!((w.within_lr.statistic - within_lr).abs() < 1e-8);
    assert!((l.lr_test.as_ref().unwrap().statistic - within_lr).abs() < 1e-8);
    assert!((w.groups_lr.statistic - t["groups_lr"].as_f64().unwrap()).abs() < 1e-8);
    assert_eq!(w.groups_lr.df, 3);
    let pooled = floats(&t["pooled"]["coefficients"]);
    assert!((w.pooled.estimate - pooled[2]).abs() < 1e-9);
    let m = floats(&t["mundlak"]["coefficients"]);
    assert!((w.between.estimate - m[3]).abs() < 1e-9);
    assert!((w.difference - t["difference"].as_f64().unwrap()).abs() < 1e-9);
    assert!((w.difference_se - t["difference_se"].as_f64().unwrap()).abs() < 1e-9);
    // The simulation's between-task effect is larger than its within-task one.
    assert!(w.between.estimate > w.within.estimate);
}

#[test]
fn newcombe_interval_matches_numpy_and_covers() {
    let f = fixture("outcome_predictive_reference.json");
    for case in f["newcombe"].as_array().unwrap() {
        let t: Vec<usize> = floats(&case["table"]).iter().map(|&x| x as usize).collect();
        let i = paired_difference(t[0], t[1], t[2], t[3], 0.95).unwrap();
        close(
            &[i.estimate, i.low, i.high],
            &floats(&case["interval"]),
            1e-12,
            &format!("newcombe {t:?}"),
        );
    }
    // Coverage by simulation: 100 items answered twice, P(right before) 0.4,
    // P(right after | wrong before) 0.5, P(wrong after | right before) 0.1:
    // true gain = 0.6·0.5 − 0.4·0.1 = 0.26.
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut covered, runs) = (0, 2000);
    for _ in 0..runs {
        let mut t = [0usize; 4];
        for _ in 0..100 {
            let before = rng.gen::<f64>() < 0.4;
            let after = if before {
                rng.gen::<f64>() >= 0.1
            } else {
                rng.gen::<f64>() < 0.5
            };
            t[match (before, after) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            }] += 1;
        }
        let i = paired_difference(t[0], t[1], t[2], t[3], 0.95).unwrap();
        covered += (i.low <= 0.26 && 0.26 <= i.high) as usize;
    }
    let rate = covered as f64 / runs as f64;
    eprintln!("Newcombe coverage at 95%: {rate}");
    assert!((0.93..=0.97).contains(&rate), "coverage {rate}");
}

#[test]
fn few_events_are_flagged_and_firth_is_used_when_asked() {
    let f = fixture("outcome_predictive_reference.json");
    let c = &f["firth_few"];
    let n = floats(&c["x1"]).len();
    let j = joined(
        vec!["t".into(); n],
        bools(&c["y"]),
        vec![
            ("log1p_popularity", floats(&c["x1"])),
            ("lexicalization", floats(&c["x2"])),
        ],
        None,
    );
    let ml = analyse(&j, &params(0, false, None)).unwrap();
    let l = ml.logistic.as_ref().unwrap();
    assert_eq!((l.events, l.parameters), (3, 2));
    assert!((l.events_per_parameter - 1.5).abs() < 1e-15);
    assert!(
        l.warning.as_ref().unwrap().contains("--firth"),
        "{:?}",
        l.warning
    );
    let fi = analyse(&j, &params(0, true, None)).unwrap();
    let l = fi.logistic.as_ref().unwrap();
    assert_eq!(l.method, Method::Firth);
    assert!(l.warning.as_ref().unwrap().contains("Firth"));
    // Firth on z-scored terms: the same fitted probabilities as on the raw terms, so the
    // coefficient is numpy's raw one times the term's SD.
    let sd = l.standardisation["lexicalization"][1];
    let raw = floats(&c["fit"]["coefficients"])[2];
    assert!((l.coefficients["lexicalization"] - raw * sd).abs() < 1e-8);
    // No warning with many events.
    let t = &f["cv"];
    let many = joined(
        vec!["t".into(); 300],
        bools(&t["y"]),
        vec![
            ("log1p_popularity", floats(&t["v1"])),
            ("lexicalization", floats(&t["v2"])),
        ],
        None,
    );
    let r = analyse(&many, &params(5, false, None)).unwrap();
    assert!(r.logistic.as_ref().unwrap().warning.is_none());
    assert!(
        r.logistic
            .as_ref()
            .unwrap()
            .cv
            .as_ref()
            .unwrap()
            .auc
            .unwrap()
            > 0.6
    );
}

#[test]
fn constant_predictor_is_not_computed() {
    let n = 40;
    let j = joined(
        vec!["t".into(); n],
        (0..n).map(|i| i % 3 == 0).collect(),
        vec![
            ("lexicalization", (0..n).map(|i| (i % 7) as f64).collect()),
            ("id_digits", vec![7.0; n]),
        ],
        None,
    );
    let r = analyse(&j, &params(5, false, None)).unwrap();
    let e = &r.predictors["id_digits"];
    assert!(e.auc.is_none() && e.auc_ci.is_none() && e.cv.is_none());
    assert!(e.skipped.as_ref().unwrap().starts_with("constant"), "{e:?}");
    assert!(r.roc.iter().all(|(n, _)| n != "id_digits"));
    assert!(r.predictors["lexicalization"].auc.is_some());
}

#[test]
fn deciles_keep_ties_together() {
    // 60 items; 23 share the top value: they must all land in one bin.
    let n = 60;
    let lex: Vec<f64> = (0..n)
        .map(|i| if i >= 37 { 1.0 } else { i as f64 / 100.0 })
        .collect();
    let j = joined(
        vec!["t".into(); n],
        (0..n).map(|i| i % 2 == 0).collect(),
        vec![("lexicalization", lex)],
        None,
    );
    let r = analyse(&j, &params(0, false, None)).unwrap();
    let bins = &r.by_lexicalization_decile;
    let top = bins.last().unwrap();
    // Tenths of 60 ranks are 6 ranks wide. The tie starts at rank 37 (0-based), in the
    // 7th tenth (ranks 36–41), which also holds rank 36 (value 0.36): 1 + 23 items. The
    // tie is not split over tenths 7–10; tenths 8–10 are empty and dropped.
    assert_eq!(top.bin, 7);
    assert_eq!(top.n, 24);
    assert_eq!(top.range, Some([0.36, 1.0]));
    assert_eq!(bins.len(), 7);
    assert!(bins[..6].iter().all(|b| b.n == 6));
    assert_eq!(bins.iter().map(|b| b.n).sum::<usize>(), n);
    assert!(r.decile_ties.contains("tied values kept in one bin"));
}

/// Fine-tuning with known effects: before ~ logit(−0.5 + 0.8 z(lex)); among the
/// items wrong before, learned ~ logit(a + b_lex z(lex) + b_pop z(pop)) with
/// training (a, b_lex, b_pop) = (0.5, 0, 1.2) (memorised by popularity) and withheld
/// (−1.5, 1.0, 0) (generalised by lexicalisation); forgotten with P 0.05. The
/// fitted coefficients and gains must cover the truth.
#[test]
fn simulated_fine_tuning_effects_are_recovered() {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let n = 3000;
    let normal = |rng: &mut ChaCha8Rng| {
        let (u, v): (f64, f64) = (rng.gen(), rng.gen());
        (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    };
    let zl: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
    let zp: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
    let split: Vec<String> = (0..n)
        .map(|i| if i % 2 == 0 { "training" } else { "withheld" }.to_string())
        .collect();
    let sig = |t: f64| 1.0 / (1.0 + (-t).exp());
    let truth: BTreeMap<&str, [f64; 3]> = [
        ("training", [0.5, 0.0, 1.2]),
        ("withheld", [-1.5, 1.0, 0.0]),
    ]
    .into_iter()
    .collect();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut expected_gain: BTreeMap<&str, f64> = BTreeMap::new();
    for i in 0..n {
        let pb = sig(-0.5 + 0.8 * zl[i]);
        let [a, bl, bp] = truth[split[i].as_str()];
        let pl = sig(a + bl * zl[i] + bp * zp[i]);
        // E[after − before] for this item: (1 − pb)·pl − pb·0.05.
        *expected_gain
            .entry(if i % 2 == 0 { "training" } else { "withheld" })
            .or_default() += ((1.0 - pb) * pl - pb * 0.05) / (n / 2) as f64;
        let b = rng.gen::<f64>() < pb;
        let a_ = if b {
            rng.gen::<f64>() >= 0.05
        } else {
            rng.gen::<f64>() < pl
        };
        before.push(b);
        after.push(a_);
    }
    let preds = |_: ()| {
        vec![
            ("lexicalization", zl.clone()),
            ("log1p_popularity", zp.clone()),
        ]
    };
    let jb = joined(vec!["t".into(); n], before, preds(()), Some(split.clone()));
    let mut ja = joined(vec!["t".into(); n], after, preds(()), Some(split));
    ja.name = "after".into();
    let p = params(5, false, None);
    let ft = lexalign::outcome::finetune(&jb, &ja, &p).unwrap();
    for (s, [a, bl, bp]) in &truth {
        let g = &ft.gains[*s];
        eprintln!(
            "{s}: gain {:.3} [{:.3}, {:.3}] (expected {:.3})",
            g.gain, g.gain_ci[0], g.gain_ci[1], expected_gain[s]
        );
        assert!(g.gain_ci[0] <= expected_gain[s] && expected_gain[s] <= g.gain_ci[1]);
        let l = g.logistic.as_ref().unwrap();
        // Terms are z-scored over the wrong-before items: back to the simulation's scale.
        for (term, b) in [("lexicalization", bl), ("log1p_popularity", bp)] {
            let sd = l.standardisation[term][1];
            let ci = l.ci[term];
            eprintln!(
                "{s} {term}: {:.3} [{:.3}, {:.3}] per unit, truth {b}",
                l.coefficients[term] / sd,
                ci[0] / sd,
                ci[1] / sd
            );
            assert!(ci[0] / sd <= *b && *b <= ci[1] / sd, "{s} {term}");
        }
        let _ = a;
    }
    // Memorisation by popularity on training, generalisation by lexicalisation on withheld.
    let tr = &ft.gains["training"].predictors;
    let wh = &ft.gains["withheld"].predictors;
    assert!(tr["log1p_popularity"].auc.unwrap() > 0.6 && wh["lexicalization"].auc.unwrap() > 0.6);
    let all = &ft.gains["all"];
    assert_eq!(all.n, n);
    assert_eq!(all.kept + all.learned + all.forgotten + all.never, n);
}
