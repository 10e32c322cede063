//! src/outcome/ against numpy (scripts/make_outcome_reference.py →
//! tests/fixtures/outcome_reference.json), hand-computed cases, a simulation with
//! known coefficients, failure cases (separation, constant y, collinear terms) and a
//! cross-check of the unpenalised fit against linfa-logistic.

use crate::common;

use common::{fixture, floats};
use lexalign::outcome::logistic::{fit_logistic, likelihood_ratio, standardise, LogisticFit};
use lexalign::stats::BootstrapConfig;
use lexalign::stats::{predictor_auc, roc_curve, spearman_matrix, wilson};
use lexalign::Error;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use statrs::distribution::{ContinuousCDF, Normal};

/// Φ⁻¹(0.975).
const Z95: f64 = 1.959_963_984_540_054;

struct Items {
    log_popularity: Vec<f64>,
    lexicalization: Vec<f64>,
    token_count: Vec<f64>,
    retrieval_rank: Vec<f64>,
    correct: Vec<bool>,
}

fn items(f: &Value) -> Items {
    let i = &f["inputs"];
    Items {
        log_popularity: floats(&i["popularity"]).iter().map(|p| p.ln_1p()).collect(),
        lexicalization: floats(&i["lexicalization"]),
        token_count: floats(&i["token_count"]),
        retrieval_rank: floats(&i["retrieval_rank"]),
        correct: floats(&i["correct"]).iter().map(|&c| c == 1.0).collect(),
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn matrix(columns: &[&[f64]]) -> Array2<f64> {
    Array2::from_shape_fn((columns[0].len(), columns.len()), |(i, j)| columns[j][i])
}

/// Largest |a − b| over the paired entries.
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// The fixture's full (log_popularity + lexicalization) and reduced fits, on
/// predictors standardised in Rust.
fn fits(it: &Items) -> (LogisticFit, LogisticFit) {
    let (zp, _, _) = standardise(&it.log_popularity).unwrap();
    let (zl, _, _) = standardise(&it.lexicalization).unwrap();
    let full = fit_logistic(
        matrix(&[&zp, &zl]).view(),
        &it.correct,
        &names(&["log_popularity", "lexicalization"]),
        0.95,
    )
    .unwrap();
    let reduced = fit_logistic(
        matrix(&[&zp]).view(),
        &it.correct,
        &names(&["log_popularity"]),
        0.95,
    )
    .unwrap();
    (full, reduced)
}

fn trapezoid(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

#[test]
fn auc_matches_numpy_and_roc_area_equals_auc() {
    let f = fixture("outcome_reference.json");
    let it = items(&f);
    let boot = BootstrapConfig {
        resamples: 300,
        ..BootstrapConfig::default()
    };
    for (name, v) in [
        ("log_popularity", &it.log_popularity),
        ("lexicalization", &it.lexicalization),
        ("token_count", &it.token_count),
        ("retrieval_rank", &it.retrieval_rank),
    ] {
        let expected = f["auc"][name].as_f64().unwrap();
        let r = predictor_auc(v, &it.correct, &boot, 300).unwrap();
        eprintln!("AUC {name}: |Δ| vs numpy = {:e}", (r.auc - expected).abs());
        assert!(
            (r.auc - expected).abs() <= 1e-12,
            "{name}: {} vs numpy {expected}",
            r.auc
        );
        assert_eq!(r.n_correct as u64, f["n_correct"].as_u64().unwrap());
        assert!(
            r.ci.low <= r.auc && r.auc <= r.ci.high,
            "{name}: {:?}",
            r.ci
        );
        let area = trapezoid(&roc_curve(v, &it.correct).unwrap());
        assert!(
            (area - r.auc).abs() <= 1e-12,
            "{name}: ROC area {area} vs AUC {}",
            r.auc
        );
    }
    // Direction: a rank is lower-is-better, so its AUC is below ½ when better-ranked
    // items are more often correct.
    assert!(f["auc"]["retrieval_rank"].as_f64().unwrap() < 0.5);
}

#[test]
fn permutation_p_agrees_with_the_normal_approximation() {
    let f = fixture("outcome_reference.json");
    let it = items(&f);
    let boot = BootstrapConfig::default();
    // A strong predictor: no permutation comes near, p = 1/(1 + B).
    let strong = predictor_auc(&it.log_popularity, &it.correct, &boot, 1000).unwrap();
    assert_eq!(strong.p_value, 1.0 / 1001.0);
    // token_count (weak, many ties): Mann–Whitney normal approximation with the tie
    // correction, σ²(U) = n1 n0 / 12 · ((n + 1) − Σ(t³ − t) / (n (n − 1))).
    let weak = predictor_auc(&it.token_count, &it.correct, &boot, 4000).unwrap();
    let n = it.correct.len() as f64;
    let n1 = weak.n_correct as f64;
    let n0 = n - n1;
    let mut sorted = it.token_count.clone();
    sorted.sort_by(f64::total_cmp);
    let mut tie_sum = 0.0;
    for run in sorted.chunk_by(|a, b| a == b) {
        let t = run.len() as f64;
        tie_sum += t * t * t - t;
    }
    let sd_u = (n1 * n0 / 12.0 * ((n + 1.0) - tie_sum / (n * (n - 1.0)))).sqrt();
    let z = ((weak.auc - 0.5) * n1 * n0).abs() / sd_u;
    let p_normal = 2.0 * Normal::standard().cdf(-z);
    assert!(
        (weak.p_value - p_normal).abs() < 0.02,
        "permutation p {} vs normal approximation {p_normal}",
        weak.p_value
    );
}

#[test]
fn hand_computed_auc_with_ties() {
    // correct: 3, 3, 1; incorrect: 3, 2, 1, 1.
    // Each correct 3 vs incorrect (3, 2, 1, 1): tie ½ + win + win + win = 3.5 → 7 for both.
    // The correct 1 vs (3, 2, 1, 1): loss + loss + tie ½ + tie ½ = 1.
    // AUC = (7 + 1) / (3 · 4) = 8/12 = 2/3.
    let v = [3.0, 3.0, 1.0, 3.0, 2.0, 1.0, 1.0];
    let c = [true, true, true, false, false, false, false];
    let r = predictor_auc(&v, &c, &BootstrapConfig::default(), 100).unwrap();
    assert!((r.auc - 2.0 / 3.0).abs() < 1e-15, "{}", r.auc);
    // ROC from the top: value 3 (2 correct, 1 incorrect) → (1/4, 2/3);
    // value 2 (1 incorrect) → (2/4, 2/3); value 1 (1 correct, 2 incorrect) → (1, 1).
    let roc = roc_curve(&v, &c).unwrap();
    assert_eq!(roc.len(), 4);
    assert_eq!(roc[0], (0.0, 0.0));
    assert_eq!(roc[3], (1.0, 1.0));
    assert!((roc[1].0 - 0.25).abs() < 1e-15 && (roc[1].1 - 2.0 / 3.0).abs() < 1e-15);
    // Trapezoids: ¼·(0 + ⅔)/2 + ¼·⅔ + ½·(⅔ + 1)/2 = 1/12 + 1/6 + 5/12 = 2/3.
    assert!((trapezoid(&roc) - r.auc).abs() < 1e-15);
    // Reversing the values mirrors the AUC.
    let neg: Vec<f64> = v.iter().map(|x| -x).collect();
    let m = predictor_auc(&neg, &c, &BootstrapConfig::default(), 100).unwrap();
    assert!((m.auc - 1.0 / 3.0).abs() < 1e-15);
}

#[test]
fn wilson_hand_case() {
    // 8 of 10 at 95%: z = 1.959963984540054, z² = 3.8414588206941254,
    // denominator 1 + z²/10 = 1.3841458820694126,
    // centre (0.8 + z²/20) / 1.38414588… = 0.7167401600411333,
    // half-width z / 1.38414588… · √(0.8·0.2/10 + z²/400) = 1.41600… · 0.16001139663078787
    //   = 0.2265776885044915 → [0.4901624715366418, 0.9433178485456248].
    let w = wilson(8, 10, 0.95).unwrap();
    assert_eq!(w.estimate, 0.8);
    assert!((w.low - 0.490_162_471_536_641_8).abs() < 1e-12, "{}", w.low);
    assert!(
        (w.high - 0.943_317_848_545_624_8).abs() < 1e-12,
        "{}",
        w.high
    );
    assert_eq!(w.level, 0.95);
}

#[test]
fn spearman_matrix_matches_numpy() {
    let f = fixture("outcome_reference.json");
    let it = items(&f);
    let m = spearman_matrix(&[
        &it.log_popularity,
        &it.lexicalization,
        &it.token_count,
        &it.retrieval_rank,
    ])
    .unwrap();
    let expected: Vec<Vec<f64>> = f["spearman"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let mut worst = 0.0f64;
    for (row, exp) in m.iter().zip(&expected) {
        worst = worst.max(max_diff(row, exp));
    }
    eprintln!("spearman matrix: max |Δ| vs numpy = {worst:e}");
    assert!(worst < 1e-12, "{worst}");
}

#[test]
fn logistic_matches_numpy_irls() {
    let f = fixture("outcome_reference.json");
    let it = items(&f);
    for (col, name) in [
        (&it.log_popularity, "log_popularity"),
        (&it.lexicalization, "lexicalization"),
    ] {
        let (_, mean, sd) = standardise(col).unwrap();
        let exp = floats(&f["standardisation"][name]);
        assert!(
            (mean - exp[0]).abs() < 1e-12 && (sd - exp[1]).abs() < 1e-12,
            "{name}"
        );
    }
    let (full, reduced) = fits(&it);
    for (fit, key) in [(&full, "logistic_full"), (&reduced, "logistic_reduced")] {
        let r = &f[key];
        let exp_names: Vec<String> = r["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert_eq!(fit.names, exp_names);
        let d_coef = max_diff(&fit.coefficients, &floats(&r["coefficients"]));
        let d_se = max_diff(&fit.se, &floats(&r["se"]));
        let d_z = max_diff(&fit.z, &floats(&r["z"]));
        let d_p = max_diff(&fit.p_value, &floats(&r["p_value"]));
        let d_ll = (fit.log_likelihood - r["log_likelihood"].as_f64().unwrap()).abs();
        let d_ll0 = (fit.null_log_likelihood - r["null_log_likelihood"].as_f64().unwrap()).abs();
        let d_r2 = (fit.mcfadden_r2 - r["mcfadden_r2"].as_f64().unwrap()).abs();
        eprintln!(
            "{key}: max |Δ| coef {d_coef:e}, se {d_se:e}, z {d_z:e}, p {d_p:e}, LL {d_ll:e}, \
             LL0 {d_ll0:e}, McFadden {d_r2:e}; {} iterations",
            fit.iterations
        );
        for (what, d) in [
            ("coefficients", d_coef),
            ("se", d_se),
            ("z", d_z),
            ("p", d_p),
            ("LL", d_ll),
            ("LL0", d_ll0),
            ("McFadden", d_r2),
        ] {
            assert!(d < 1e-6, "{key} {what}: {d}");
        }
        for j in 0..fit.coefficients.len() {
            let (b, s) = (fit.coefficients[j], fit.se[j]);
            assert!((fit.ci_low[j] - (b - Z95 * s)).abs() < 1e-12);
            assert!((fit.ci_high[j] - (b + Z95 * s)).abs() < 1e-12);
        }
        assert_eq!(fit.n, 1200);
        assert!(fit.iterations <= 20);
    }
    let lr = likelihood_ratio(&full, &reduced).unwrap();
    let d_lr = (lr.statistic - f["lr_statistic"].as_f64().unwrap()).abs();
    let d_lp = (lr.p_value - f["lr_p_value"].as_f64().unwrap()).abs();
    eprintln!("LR: statistic |Δ| {d_lr:e}, p |Δ| {d_lp:e}");
    assert!(d_lr < 1e-6 && d_lp < 1e-9, "{d_lr} {d_lp}");
    assert_eq!(lr.df, 1);
}

#[test]
fn likelihood_ratio_rejects_unnested_or_mismatched_fits() {
    let f = fixture("outcome_reference.json");
    let it = items(&f);
    let (full, reduced) = fits(&it);
    assert!(likelihood_ratio(&reduced, &full).is_err());
    assert!(likelihood_ratio(&full, &full).is_err());
    let mut other = reduced.clone();
    other.names[1] = "token_count".into();
    assert!(likelihood_ratio(&full, &other).is_err());
    let mut fewer = reduced.clone();
    fewer.n -= 1;
    assert!(likelihood_ratio(&full, &fewer).is_err());
}

#[test]
fn unstandardised_predictors_give_the_same_model_on_their_own_scale() {
    // Standardising is a reparametrisation: LL is unchanged, slope_raw · sd = slope_z.
    // Raw popularity counts (heavy-tailed, up to thousands) fit too: no false
    // separation alarm from a predictor's scale or its outliers.
    let f = fixture("outcome_reference.json");
    let it = items(&f);
    let (full, _) = fits(&it);
    let raw = fit_logistic(
        matrix(&[&it.log_popularity, &it.lexicalization]).view(),
        &it.correct,
        &names(&["log_popularity", "lexicalization"]),
        0.95,
    )
    .unwrap();
    assert!((raw.log_likelihood - full.log_likelihood).abs() < 1e-9);
    for (j, col) in [(1, &it.log_popularity), (2, &it.lexicalization)] {
        let (_, _, sd) = standardise(col).unwrap();
        assert!((raw.coefficients[j] * sd - full.coefficients[j]).abs() < 1e-9);
        assert!((raw.z[j] - full.z[j]).abs() < 1e-7);
    }
    let counts: Vec<f64> = floats(&f["inputs"]["popularity"]);
    let fit = fit_logistic(
        matrix(&[&counts]).view(),
        &it.correct,
        &names(&["popularity"]),
        0.95,
    )
    .unwrap();
    assert!(
        fit.coefficients[1] > 0.0 && fit.p_value[1] < 0.05,
        "{fit:?}"
    );
}

fn covers_truth(fit: &LogisticFit, truth: &[f64]) {
    for (j, &t) in truth.iter().enumerate() {
        assert!(
            fit.ci_low[j] <= t && t <= fit.ci_high[j],
            "{}: true {t} outside [{}, {}]",
            fit.names[j],
            fit.ci_low[j],
            fit.ci_high[j]
        );
    }
}

#[test]
fn fixture_simulation_recovers_known_coefficients() {
    let f = fixture("outcome_reference.json");
    let it = items(&f);
    let (full, _) = fits(&it);
    covers_truth(&full, &floats(&f["true_coefficients"]));
}

/// Standard normal draws by Box–Muller.
fn normals(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let u1: f64 = 1.0 - rng.gen::<f64>();
            let u2: f64 = rng.gen::<f64>();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

/// One simulated results table of `n` items from the known model (ChaCha8, `seed`),
/// generated here independently of the numpy script, and its fit.
fn simulate_and_fit(seed: u64, n: usize, truth: &[f64; 3]) -> LogisticFit {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let latent = normals(&mut rng, n);
    let noise = normals(&mut rng, n);
    // Heavy-tailed "popularity" (log-normal counts) and a (0, 1) score sharing `latent`.
    let log_pop: Vec<f64> = latent
        .iter()
        .map(|l| ((1.5 + 1.8 * l).exp()).floor().ln_1p())
        .collect();
    let lex: Vec<f64> = latent
        .iter()
        .zip(&noise)
        .map(|(l, e)| 1.0 / (1.0 + (-(0.5 * l + e)).exp()))
        .collect();
    let (zp, _, _) = standardise(&log_pop).unwrap();
    let (zl, _, _) = standardise(&lex).unwrap();
    let y: Vec<bool> = (0..n)
        .map(|i| {
            let eta = truth[0] + truth[1] * zp[i] + truth[2] * zl[i];
            rng.gen::<f64>() < 1.0 / (1.0 + (-eta).exp())
        })
        .collect();
    fit_logistic(
        matrix(&[&zp, &zl]).view(),
        &y,
        &names(&["log_popularity", "lexicalization"]),
        0.95,
    )
    .unwrap()
}

#[test]
fn independent_rust_simulation_recovers_known_coefficients() {
    let truth = [-1.0, 1.5, 0.8];
    // One fixed seed: the truth lies in every 95% interval.
    let fit = simulate_and_fit(0, 3000, &truth);
    eprintln!(
        "rust simulation (seed 0): {:?} ± {:?}",
        fit.coefficients, fit.se
    );
    covers_truth(&fit, &truth);
    // Calibration over 40 fixed seeds of 1,200 items: each interval covers the truth
    // in about 95% of them (binomial sd ≈ 1.4 of 40 → at least 34), and the Wald
    // z-scores centre on 0.
    let seeds = 40;
    let mut covered = [0usize; 3];
    let mut z_sum = [0.0f64; 3];
    for seed in 1..=seeds {
        let fit = simulate_and_fit(seed, 1200, &truth);
        for j in 0..3 {
            covered[j] += usize::from(fit.ci_low[j] <= truth[j] && truth[j] <= fit.ci_high[j]);
            z_sum[j] += (fit.coefficients[j] - truth[j]) / fit.se[j];
        }
    }
    eprintln!(
        "coverage of 95% Wald intervals over {seeds} simulations: {covered:?}; mean z {:?}",
        z_sum.map(|s| s / seeds as f64)
    );
    for j in 0..3 {
        assert!(
            covered[j] >= 34,
            "coefficient {j}: covered in {} of {seeds}",
            covered[j]
        );
        assert!(
            (z_sum[j] / seeds as f64).abs() < 0.5,
            "coefficient {j}: mean z {}",
            z_sum[j]
        );
    }
}

fn data_message(e: Error) -> String {
    assert!(matches!(e.root(), Error::Data { .. }), "{e}");
    e.to_string()
}

#[test]
fn complete_separation_is_an_error_naming_the_term() {
    // y = (x > 15) exactly; a second, irrelevant term alongside.
    let x: Vec<f64> = (0..30).map(f64::from).collect();
    let other: Vec<f64> = (0..30).map(|i| ((i * 7) % 11) as f64).collect();
    let y: Vec<bool> = (0..30).map(|i| i > 15).collect();
    let e = fit_logistic(
        matrix(&[&other, &x]).view(),
        &y,
        &names(&["noise", "cut"]),
        0.95,
    )
    .unwrap_err();
    let m = data_message(e);
    eprintln!("{m}");
    assert!(m.contains("separation") && m.contains("\"cut\""), "{m}");
}

#[test]
fn one_term_complete_separation_is_an_error() {
    let x: Vec<f64> = (0..20).map(|i| f64::from(i) / 4.0).collect();
    let y: Vec<bool> = (0..20).map(|i| i >= 8).collect();
    let m = data_message(fit_logistic(matrix(&[&x]).view(), &y, &names(&["x"]), 0.95).unwrap_err());
    eprintln!("{m}");
    assert!(m.contains("separation") && m.contains("\"x\""), "{m}");
}

#[test]
fn quasi_complete_separation_is_an_error_naming_the_term() {
    // x < 0 → always incorrect, x > 0 → always correct, x = 0 → both: the coefficient
    // of x diverges while the likelihood stays below 0.
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 1..=10 {
        x.push(-(i as f64));
        y.push(false);
        x.push(i as f64);
        y.push(true);
    }
    for j in 0..10 {
        x.push(0.0);
        y.push(j % 2 == 0);
    }
    let other: Vec<f64> = (0..x.len()).map(|i| ((i * 5) % 7) as f64).collect();
    let e = fit_logistic(
        matrix(&[&x, &other]).view(),
        &y,
        &names(&["quasi", "noise"]),
        0.95,
    )
    .unwrap_err();
    let m = data_message(e);
    eprintln!("{m}");
    assert!(m.contains("separation") && m.contains("\"quasi\""), "{m}");
}

#[test]
fn constant_y_is_an_error() {
    let x: Vec<f64> = (0..20).map(f64::from).collect();
    for value in [true, false] {
        let y = vec![value; 20];
        let m =
            data_message(fit_logistic(matrix(&[&x]).view(), &y, &names(&["x"]), 0.95).unwrap_err());
        assert!(m.contains("no variation"), "{m}");
    }
}

#[test]
fn collinear_terms_are_an_error_naming_them() {
    let a: Vec<f64> = (0..20).map(|i| ((i * 3) % 7) as f64).collect();
    let b: Vec<f64> = a.iter().map(|v| 2.0 * v + 3.0).collect();
    let y: Vec<bool> = (0..20).map(|i| i % 3 == 0).collect();
    let m = data_message(
        fit_logistic(matrix(&[&a, &b]).view(), &y, &names(&["a", "b"]), 0.95).unwrap_err(),
    );
    eprintln!("{m}");
    assert!(
        m.contains("collinear") && m.contains("\"a\"") && m.contains("\"b\""),
        "{m}"
    );
    // A constant term is collinear with the intercept.
    let c = vec![4.0; 20];
    let m = data_message(
        fit_logistic(matrix(&[&a, &c]).view(), &y, &names(&["a", "const"]), 0.95).unwrap_err(),
    );
    assert!(
        m.contains("\"const\"") && m.contains("\"intercept\""),
        "{m}"
    );
}

#[test]
fn unpenalised_fit_agrees_with_linfa_logistic() {
    use linfa::traits::Fit;
    use linfa_logistic::LogisticRegression;

    let f = fixture("outcome_reference.json");
    let it = items(&f);
    let (full, _) = fits(&it);
    let (zp, _, _) = standardise(&it.log_popularity).unwrap();
    let (zl, _, _) = standardise(&it.lexicalization).unwrap();
    let records =
        ndarray16::Array2::from_shape_fn(
            (zp.len(), 2),
            |(i, j)| if j == 0 { zp[i] } else { zl[i] },
        );
    let targets = ndarray16::Array1::from(it.correct.clone());
    let dataset = linfa::Dataset::new(records, targets);
    let model = LogisticRegression::default()
        .alpha(0.0)
        .gradient_tolerance(1e-8)
        .max_iterations(1000)
        .fit(&dataset)
        .unwrap();
    // linfa models the larger class as positive: flip when that is "incorrect".
    let sign = if model.labels().pos.class { 1.0 } else { -1.0 };
    let theirs = [
        sign * model.intercept(),
        sign * model.params()[0],
        sign * model.params()[1],
    ];
    let d = max_diff(&full.coefficients, &theirs);
    eprintln!("linfa-logistic (L-BFGS, alpha 0): max |Δ coefficient| = {d:e}");
    assert!(d < 1e-3, "{:?} vs linfa {theirs:?}", full.coefficients);
}
