//! Scale benchmark of the analysis (no model needed): per-metric time on one
//! paper-sized pairing, exact retrieval at full-vocabulary size (44k × 44k × 384)
//! and PCA over all embeddings of a full run (250k × 384).
//! Run: `make bench` (or `cargo bench --profile dev --bench scale`).
use std::time::Instant;

use lexalign::metrics::{alignment::*, lexicalization::from_ranks, probe::*, retrieval::*};
use lexalign::stats::BootstrapConfig;
use ndarray::Array2;
use rand::{Rng, SeedableRng};

fn data(n: usize, seed: u64) -> (Array2<f32>, Array2<f32>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let l = Array2::from_shape_fn((n, 384), |_| rng.gen::<f32>() - 0.5);
    let r = &l + &Array2::from_shape_fn((n, 384), |_| rng.gen::<f32>() - 0.5);
    (l, r)
}

fn time<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    println!("{what:<44} {:>8.2} s", t.elapsed().as_secs_f64());
    out
}

fn main() {
    let threads = rayon::current_num_threads();
    println!("threads: {threads}");
    let (l, r) = data(1200, 1);
    time("alignment 1200 (1.44M null pairs, 1000 boot)", || {
        alignment(l.view(), r.view(), &AlignmentConfig::default()).unwrap()
    });
    let ret = time("retrieval 1200 × 1200, both directions", || {
        retrieval(l.view(), r.view(), &RetrievalConfig::default()).unwrap()
    });
    time("lexicalisation + bootstrap", || {
        from_ranks(&ret.right_to_left.ranks, &BootstrapConfig::default()).unwrap()
    });
    let train: Vec<bool> = (0..1200).map(|i| i % 2 == 0).collect();
    time("probe (Procrustes + 5-fold ridge, 13 λ)", || {
        probe(l.view(), r.view(), &train, &ProbeConfig::default()).unwrap()
    });
    let joint = ndarray::concatenate(ndarray::Axis(0), &[l.view(), r.view()]).unwrap();
    time("PCA 2400 × 384 (linfa-reduction route)", || {
        lexalign::project::fit_pca(joint.view(), 2).unwrap()
    });
    // `outcome` on a results table: 1,200 items, 10 predictors, each with 1,000
    // bootstrap resamples and 1,000 permutations (was a wall-clock check in
    // tests/integration/outcome_reference.rs; timings live here).
    let correct: Vec<bool> = (0..1200).map(|i| (i * 7919) % 10 < 4).collect();
    time("outcome AUC 1200 items × 10 predictors", || {
        for k in 0..10 {
            let v: Vec<f64> = (0..1200).map(|i| ((i * (k + 3)) % 97) as f64).collect();
            lexalign::stats::predictor_auc(&v, &correct, &BootstrapConfig::default(), 1000)
                .unwrap();
        }
    });

    if std::env::args().any(|a| a == "--quick") {
        return;
    }
    // Retrieval's one timing (also `bench --retrieval` and the suite), without its peer.
    let all = std::num::NonZeroUsize::new(threads).unwrap();
    let runs = lexalign::bench::Runs {
        min_runs: 1,
        min_seconds: 0.0,
    };
    let timed = lexalign::bench::time_retrieval(43_837, 384, all, runs, None).unwrap();
    println!(
        "{:<44} {:>8.2} s",
        "retrieval 43,837 × 43,837 × 384, both dirs", timed.retrieval_seconds
    );
    let (l, r) = data(43_837, 2);
    time("alignment 43,837 (2M sampled null)", || {
        alignment(l.view(), r.view(), &AlignmentConfig::default()).unwrap()
    });
    drop((l, r));
    let (big, _) = data(250_000, 3);
    time("PCA 250,000 × 384 → 2 (fit + project)", || {
        let p = lexalign::project::fit_pca(big.view(), 2).unwrap();
        p.project(big.view()).unwrap()
    });
}
