//! Metrics against numpy references (scripts/make_metrics_reference.py) and
//! hand-computed cases; probe on a known rotation and on random pairings.

use crate::common;

use common::{fixture, floats};
use lexalign::metrics::alignment::{alignment, AlignmentConfig, NullKind};
use lexalign::metrics::lexicalization::from_ranks;
use lexalign::metrics::popularity::popularity;
use lexalign::metrics::probe::{probe, ProbeConfig};
use lexalign::metrics::retrieval::{retrieval, RetrievalConfig};
use lexalign::stats::{spearman, BootstrapConfig};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn matrix(v: &Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: {a} vs reference {b}");
}

#[test]
fn spearman_with_ties_matches_numpy() {
    let f = fixture("metrics_reference.json");
    let s = &f["spearman_small"];
    close(
        spearman(&floats(&s["x"]), &floats(&s["y"])).unwrap(),
        s["spearman"].as_f64().unwrap(),
        1e-12,
        "spearman",
    );
}

#[test]
fn alignment_matches_numpy() {
    for case in fixture("metrics_reference.json")["cases"]
        .as_array()
        .unwrap()
    {
        let (l, r) = (matrix(&case["left"]), matrix(&case["right"]));
        let a = alignment(l.view(), r.view(), &AlignmentConfig::default()).unwrap();
        assert_eq!(a.null_kind, NullKind::AllPairs);
        for (key, got) in [("raw", &a.raw), ("centred", &a.centred)] {
            let want = &case[key];
            for (g, w) in got.matched.iter().zip(floats(&want["matched"])) {
                close(*g as f64, w, 1e-5, "matched cosine");
            }
            close(
                got.matched_mean,
                want["matched_mean"].as_f64().unwrap(),
                1e-6,
                "matched mean",
            );
            close(
                got.null_mean,
                want["null_mean"].as_f64().unwrap(),
                1e-6,
                "null mean",
            );
            close(got.gap, want["gap"].as_f64().unwrap(), 1e-6, "gap");
            close(
                got.cohens_d.unwrap(),
                want["cohens_d"].as_f64().unwrap(),
                1e-4,
                "cohen's d",
            );
            close(got.auc.estimate, want["auc"].as_f64().unwrap(), 1e-4, "auc");
            assert!(
                got.auc.low <= got.auc.estimate + 1e-3 && got.auc.estimate - 1e-3 <= got.auc.high,
                "{:?}",
                got.auc
            );
        }
    }
}

/// f32 vs f64 cosines may fall on different sides of the tie tolerance for a
/// handful of near-ties; allow ≤ 2% of ranks to differ, by at most 1.
fn ranks_agree(got: &[f64], want: &[f64]) {
    let differ = got.iter().zip(want).filter(|(g, w)| g != w).count();
    assert!(
        differ * 50 <= got.len(),
        "{differ} of {} ranks differ",
        got.len()
    );
    assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 1.0));
}

#[test]
fn retrieval_and_lexicalisation_match_numpy() {
    for case in fixture("metrics_reference.json")["cases"]
        .as_array()
        .unwrap()
    {
        let (l, r) = (matrix(&case["left"]), matrix(&case["right"]));
        for (key, centred) in [("raw", false), ("centred", true)] {
            let cfg = RetrievalConfig {
                centred,
                block: 7,
                ..Default::default()
            };
            let got = retrieval(l.view(), r.view(), &cfg).unwrap();
            for (dir, g) in [
                ("left_to_right", &got.left_to_right),
                ("right_to_left", &got.right_to_left),
            ] {
                let want = &case[key][dir];
                ranks_agree(&g.ranks, &floats(&want["ranks"]));
                close(g.top1, want["top1"].as_f64().unwrap(), 0.02, "top1");
                close(g.top10, want["top10"].as_f64().unwrap(), 0.02, "top10");
                close(g.mrr, want["mrr"].as_f64().unwrap(), 0.01, "mrr");
            }
            if centred {
                let lex =
                    from_ranks(&got.right_to_left.ranks, &BootstrapConfig::default()).unwrap();
                let want = floats(&case["lexicalisation"]);
                close(
                    lex.mean.estimate,
                    case["lexicalisation_mean"].as_f64().unwrap(),
                    1e-3,
                    "lexicalisation mean",
                );
                let pop: Vec<Option<f64>> =
                    floats(&case["popularity"]).into_iter().map(Some).collect();
                let bins = vec![Some(0u32); pop.len()];
                let p = popularity(&want, &pop, &bins, &BootstrapConfig::default()).unwrap();
                let rho = p.spearman.unwrap();
                close(
                    rho.estimate,
                    case["spearman_popularity_lexicalisation"].as_f64().unwrap(),
                    1e-12,
                    "spearman",
                );
                assert!(rho.low <= rho.estimate && rho.estimate <= rho.high);
                assert_eq!(p.bins[0].n, pop.len());
            }
        }
    }
}

#[test]
fn nan_and_shape_errors_are_clear() {
    let mut l = Array2::<f32>::ones((4, 3));
    let r = Array2::<f32>::ones((4, 3));
    l[[2, 1]] = f32::INFINITY;
    let e = retrieval(l.view(), r.view(), &RetrievalConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("left") && e.contains("row 2"), "{e}");
    let short = Array2::<f32>::ones((3, 3));
    assert!(alignment(short.view(), r.view(), &AlignmentConfig::default()).is_err());
}

fn gaussian(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Array2<f32> {
    // sum of 12 uniforms − 6: near-normal, plenty for a test
    Array2::from_shape_fn((n, d), |_| {
        (0..12).map(|_| rng.gen::<f32>()).sum::<f32>() - 6.0
    })
}

#[test]
fn procrustes_recovers_a_rotation_and_fails_on_random_pairs() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (n, d) = (400, 24);
    let x = gaussian(&mut rng, n, d);
    // a rotation from Gram–Schmidt of a random matrix
    let mut q = gaussian(&mut rng, d, d).mapv(|v| v as f64);
    for i in 0..d {
        for j in 0..i {
            let p = q.row(i).dot(&q.row(j));
            let rj = q.row(j).to_owned();
            q.row_mut(i).scaled_add(-p, &rj);
        }
        let norm = q.row(i).dot(&q.row(i)).sqrt();
        q.row_mut(i).mapv_inplace(|v| v / norm);
    }
    let y = x.mapv(|v| v as f64).dot(&q).mapv(|v| v as f32);
    let train: Vec<bool> = (0..n).map(|i| i % 4 != 0).collect();
    let p = probe(x.view(), y.view(), &train, &ProbeConfig::default()).unwrap();
    assert_eq!(p.procrustes.train_top1, 1.0);
    assert_eq!(p.procrustes.withheld_top1, 1.0);
    assert!(p.ridge.withheld_top1 > 0.95, "{:?}", p.ridge);

    let random = gaussian(&mut rng, n, d);
    let p = probe(x.view(), random.view(), &train, &ProbeConfig::default()).unwrap();
    // 100 withheld rows: chance top-1 is 0.01
    assert!(p.procrustes.withheld_top1 <= 0.05, "{:?}", p.procrustes);
    assert!(p.ridge.withheld_top1 <= 0.05, "{:?}", p.ridge);
    assert!(p.procrustes.gap > 0.0);
}
