//! PCA against numpy's SVD of the centred data (scripts/make_metrics_reference.py),
//! on integer-exact structured data regenerated here bit for bit.

use crate::common;

use common::{fixture, floats};
use lexalign::project::{fit_pca, fit_pca_with, PcaMethod, PcaRoute};
use ndarray::Array2;
use serde_json::Value;

/// Same LCG and construction as `lcg_data` in the reference script.
fn lcg_data(n: usize, d: usize, seed: u64) -> Array2<f32> {
    let mut state = seed;
    let mut draw = |m: u64| -> f64 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % m) as f64
    };
    let scales = [24.0, 20.0, 16.0, 14.0, 12.0, 10.0, 8.0, 6.0, 5.0, 4.0];
    let r = scales.len();
    let z: Vec<f64> = (0..n * r).map(|_| draw(101) - 50.0).collect();
    let w: Vec<f64> = (0..r * d).map(|_| draw(11) - 5.0).collect();
    let e: Vec<f64> = (0..n * d).map(|_| draw(41) - 20.0).collect();
    Array2::from_shape_fn((n, d), |(i, j)| {
        let s: f64 = (0..r)
            .map(|k| z[i * r + k] * scales[k] * w[k * d + j])
            .sum();
        ((s + e[i * d + j]) / 64.0) as f32
    })
}

fn check(case: &Value, route: PcaRoute) {
    let (n, d) = (
        case["n"].as_u64().unwrap() as usize,
        case["d"].as_u64().unwrap() as usize,
    );
    let x = lcg_data(n, d, case["seed"].as_u64().unwrap());
    let checksum: f64 = x.iter().map(|&v| v as f64).sum();
    assert!(
        (checksum - case["x_checksum"].as_f64().unwrap()).abs() < 1e-6,
        "data differ from the script's"
    );
    let comps: Vec<Vec<f64>> = case["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    let sv = floats(&case["singular_values"]);
    let var = floats(&case["explained_variance"]);
    let ratio = floats(&case["explained_variance_ratio"]);
    let proj: Vec<Vec<f64>> = case["projection_first5"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    for k in [1usize, 2, 3, 10] {
        let t = std::time::Instant::now();
        let p = fit_pca_with(x.view(), k, route).unwrap();
        eprintln!(
            "n={n} k={k} route={route:?} → {:?} in {:.2} s",
            p.method,
            t.elapsed().as_secs_f64()
        );
        if route != PcaRoute::Linfa {
            assert_eq!(p.method, PcaMethod::Covariance);
        }
        assert_eq!(p.components.dim(), (k, d));
        for j in 0..k {
            let got = p.components.row(j);
            // same sign convention as the script; compare up to sign anyway
            let sign = if got.dot(&ndarray::ArrayView1::from(&comps[j])) < 0.0 {
                -1.0
            } else {
                1.0
            };
            assert_eq!(sign, 1.0, "sign convention differs for component {j}");
            let err = got
                .iter()
                .zip(&comps[j])
                .map(|(g, w)| (g * sign - w).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-6, "n={n} k={k} component {j}: max error {err}");
            assert!(
                (p.singular_values[j] / sv[j] - 1.0).abs() < 1e-6,
                "singular value {j}"
            );
            assert!(
                (p.explained_variance[j] / var[j] - 1.0).abs() < 1e-6,
                "variance {j}"
            );
            assert!(
                (p.explained_variance_ratio[j] - ratio[j]).abs() < 1e-6,
                "ratio {j}"
            );
        }
        assert!((p.total_variance / case["total_variance"].as_f64().unwrap() - 1.0).abs() < 1e-9);
        let y = p.project(x.view()).unwrap();
        assert_eq!(y.dim(), (n, k));
        for i in 0..5 {
            for j in 0..k {
                let want = proj[i][j];
                assert!(
                    (y[[i, j]] as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "projection [{i},{j}]"
                );
            }
        }
    }
}

#[test]
fn pca_matches_numpy_svd_auto_route() {
    for case in fixture("pca_reference.json")["cases"].as_array().unwrap() {
        check(case, PcaRoute::Auto);
    }
}

#[test]
fn pca_matches_numpy_svd_linfa_route() {
    for case in fixture("pca_reference.json")["cases"].as_array().unwrap() {
        check(case, PcaRoute::Linfa);
    }
}

#[test]
fn pca_matches_numpy_svd_covariance_route() {
    for case in fixture("pca_reference.json")["cases"].as_array().unwrap() {
        check(case, PcaRoute::Covariance);
    }
}

#[test]
fn pca_rejects_bad_input() {
    let x = lcg_data(5, 4, 9);
    assert!(fit_pca(x.view(), 5).is_err());
    assert!(fit_pca(x.view(), 0).is_err());
    let mut bad = x.clone();
    bad[[3, 2]] = f32::NAN;
    assert!(fit_pca(bad.view(), 2)
        .unwrap_err()
        .to_string()
        .contains("row 3"));
}

/// 250k × 384 timing: `cargo test --test integration pca_exact:: -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_pca_250k() {
    let x = lcg_data(250_000, 384, 4);
    let t = std::time::Instant::now();
    let p = fit_pca(x.view(), 2).unwrap();
    let y = p.project(x.view()).unwrap();
    eprintln!(
        "PCA 250000×384 k=2: {:?} in {:.2} s, ratio {:?}, {:?}",
        p.method,
        t.elapsed().as_secs_f64(),
        p.explained_variance_ratio,
        y.dim()
    );
}
