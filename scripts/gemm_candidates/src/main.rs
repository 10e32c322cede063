//! GEMM alone, S = L Rᵀ for random f32 L, R (N × dim), best of 3 after a warm-up,
//! in three ways:
//! 1. ndarray's `general_mat_mul` with the `blas` feature (OpenBLAS), row blocks of
//!    4096 into one buffer (as scripts/bench_gemm.py does with numpy);
//! 2. faer with its own parallelism, `Par::rayon(T)`, on the same row blocks;
//! 3. faer as lexalign's retrieval uses it: tiles of 256 × 1024, one sequential
//!    product per tile, tiles spread over a rayon pool of T threads.
//!
//! Usage: `OPENBLAS_NUM_THREADS=T cargo run -- N DIM T`.
extern crate blas_src;
use ndarray::{linalg::general_mat_mul, s, Array2};
use rand::{Rng, SeedableRng};
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if args.len() != 3 || args.contains(&0) {
        eprintln!("usage: gemm-candidates N DIM THREADS (all ≥ 1)");
        std::process::exit(2);
    }
    let (n, d, threads) = (args[0], args[1], args[2]);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let l = Array2::from_shape_fn((n, d), |_| rng.gen::<f32>() - 0.5);
    let r = Array2::from_shape_fn((n, d), |_| rng.gen::<f32>() - 0.5);
    let block = 4096.min(n);
    let flops = 2.0 * (n as f64).powi(2) * d as f64;
    let best = |f: &mut dyn FnMut()| {
        f();
        (0..3)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut out = Array2::<f32>::zeros((block, n));
    let t = best(&mut || {
        for s0 in (0..n).step_by(block) {
            let m = block.min(n - s0);
            let mut o = out.slice_mut(s![..m, ..]);
            general_mat_mul(1.0, &l.slice(s![s0..s0 + m, ..]), &r.t(), 0.0, &mut o);
        }
    });
    println!(
        "openblas (ndarray blas)  n={n} d={d} threads={threads}: {t:.3} s, {:.1} GFLOP/s",
        flops / t / 1e9
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut buf = vec![0f32; block * n];
    let lsl = l.as_slice().unwrap();
    let rsl = r.as_slice().unwrap();
    let t = pool.install(|| {
        best(&mut || {
            for s0 in (0..n).step_by(block) {
                let m = block.min(n - s0);
                let dst = faer::MatMut::from_row_major_slice_mut(&mut buf[..m * n], m, n);
                let a = faer::MatRef::from_row_major_slice(&lsl[s0 * d..(s0 + m) * d], m, d);
                let b = faer::MatRef::from_row_major_slice(rsl, n, d).transpose();
                faer::linalg::matmul::matmul(
                    dst,
                    faer::Accum::Replace,
                    a,
                    b,
                    1.0f32,
                    faer::Par::rayon(threads),
                );
            }
        })
    });
    println!(
        "faer Par::rayon({threads})         n={n} d={d}: {t:.3} s, {:.1} GFLOP/s",
        flops / t / 1e9
    );
    // tiles of 256 × 1024, sequential faer per tile, tiles in parallel
    use rayon::prelude::*;
    let t = pool.install(|| {
        best(&mut || {
            (0..n).into_par_iter().step_by(256).for_each(|s0| {
                let m = 256.min(n - s0);
                let mut tile = vec![0f32; m * 1024];
                for t0 in (0..n).step_by(1024) {
                    let w = 1024.min(n - t0);
                    let dst = faer::MatMut::from_row_major_slice_mut(&mut tile[..m * w], m, w);
                    let a = faer::MatRef::from_row_major_slice(&lsl[s0 * d..(s0 + m) * d], m, d);
                    let b = faer::MatRef::from_row_major_slice(&rsl[t0 * d..(t0 + w) * d], w, d)
                        .transpose();
                    faer::linalg::matmul::matmul(
                        dst,
                        faer::Accum::Replace,
                        a,
                        b,
                        1.0f32,
                        faer::Par::Seq,
                    );
                }
                std::hint::black_box(&tile);
            });
        })
    });
    println!(
        "faer Seq 256×1024 tiles in parallel n={n} d={d}: {t:.3} s, {:.1} GFLOP/s",
        flops / t / 1e9
    );
}
