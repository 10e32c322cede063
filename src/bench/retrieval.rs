//! Exact retrieval's cost: ranks in both directions for N seeded synthetic pairs,
//! against numpy's `L @ R.T` alone on the same sizes and threads. The one place
//! retrieval is timed (`bench --retrieval`, the suite and `benches/scale.rs` call it).

use std::num::NonZeroUsize;
use std::time::Instant;

use serde::Serialize;

use super::peer::Peer;
use crate::metrics::retrieval::{retrieval, synthetic_pairs, RetrievalConfig};
use crate::{Error, Result};

/// One retrieval size's timing.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalBench {
    pub n: usize,
    pub dim: usize,
    pub threads: usize,
    pub repeat: usize,
    /// Best of `repeat` runs of `retrieval` (centring, unit rows, the product and
    /// the rank counts of both directions).
    pub retrieval_seconds: f64,
    /// 2·n²·dim / retrieval_seconds, in 10⁹ per second.
    pub gflops: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numpy_gemm: Option<serde_json::Value>,
    /// numpy's GEMM seconds (also inside `numpy_gemm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numpy_seconds: Option<f64>,
    /// retrieval_seconds / numpy's GEMM seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

impl RetrievalBench {
    /// numpy's GFLOP/s on the same product, when it ran.
    pub fn numpy_gflops(&self) -> Option<f64> {
        Some(self.flops() / self.numpy_seconds? / 1e9)
    }

    fn flops(&self) -> f64 {
        2.0 * (self.n as f64).powi(2) * self.dim as f64
    }
}

/// How many timed runs: at least `min_runs`, and more (up to 50) until lexalign's
/// runs add up to `min_seconds`, so a 0.1-s size is not judged on two samples.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    pub min_runs: usize,
    pub min_seconds: f64,
}

/// Times retrieval of `n` synthetic pairs and, when `peer` is given, numpy's GEMM on
/// the same sizes right after, each the best of the same number of runs.
pub fn time_retrieval(
    n: usize,
    dim: usize,
    threads: NonZeroUsize,
    runs: Runs,
    peer: Option<&Peer>,
) -> Result<RetrievalBench> {
    let (left, right) = synthetic_pairs(n, dim, 1)?;
    let config = RetrievalConfig::default();
    let mut best = f64::INFINITY;
    let (mut repeat, mut total) = (0, 0.0);
    while repeat < runs.min_runs.max(1) || (total < runs.min_seconds && repeat < 50) {
        let t = Instant::now();
        let r =
            crate::parallel::install(threads, || retrieval(left.view(), right.view(), &config))??;
        let seconds = t.elapsed().as_secs_f64();
        best = best.min(seconds);
        total += seconds;
        repeat += 1;
        std::hint::black_box(r);
    }
    drop((left, right));
    let mut report = RetrievalBench {
        n,
        dim,
        threads: threads.get(),
        repeat,
        retrieval_seconds: best,
        gflops: 0.0,
        numpy_gemm: None,
        numpy_seconds: None,
        ratio: None,
    };
    report.gflops = report.flops() / best / 1e9;
    if let Some(peer) = peer {
        let gemm = peer.gemm(n, dim, report.threads, repeat)?;
        let secs = gemm
            .get("gemm_seconds")
            .and_then(|v| v.as_f64())
            .ok_or_else(|| Error::data("numpy peer", "printed no gemm_seconds"))?;
        report.numpy_gemm = Some(gemm);
        report.numpy_seconds = Some(secs);
        report.ratio = Some(best / secs);
    }
    Ok(report)
}
