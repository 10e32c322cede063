//! The report by layer (`--layers`): every distinct string embedded once for all
//! the requested layers of a decoder, then alignment, retrieval and
//! lexicalisation measured per layer and pairing.

use std::collections::HashMap;

use ndarray::{s, Array2, Axis};
use serde::Serialize;

use super::{AnalysisParams, PairingAnalysis, Run};
use crate::embed::Model;
use crate::error::{Error, Result, ResultExt};
use crate::metrics::alignment::alignment;
use crate::metrics::lexicalization::from_ranks;
use crate::metrics::retrieval::retrieval;
use crate::stats::Interval;

/// Distinct strings per `embed_layers` call: the per-layer vectors of one chunk
/// (31 × 2048 × 576 × 4 B ≈ 146 MB for SmolLM2-135M) are copied into the
/// per-layer matrices before the next chunk, so only the result (layers ×
/// strings × dim floats) grows with the run.
pub(super) const CHUNK_STRINGS: usize = 2048;

/// One pairing's headline numbers at one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerPairing {
    pub name: String,
    /// Centred AUC.
    pub auc: f64,
    pub auc_ci: [f64; 2],
    pub lexicalization: f64,
    pub lexicalization_ci: [f64; 2],
    pub top1_left_to_right: f64,
    pub top1_right_to_left: f64,
}

/// Every analysed pairing at one layer (0 = token embeddings … L = final states).
#[derive(Debug, Clone, Serialize)]
pub struct LayerResult {
    pub layer: usize,
    pub pairings: Vec<LayerPairing>,
}

fn ci(i: &Interval) -> [f64; 2] {
    [i.low, i.high]
}

/// Measures the analysed pairings at each of `run.layers` (none: empty).
pub(super) fn measure(
    model: &Model,
    analyses: &[PairingAnalysis],
    run: &Run,
) -> Result<Vec<LayerResult>> {
    let Some(spec) = &run.layers else {
        return Ok(Vec::new());
    };
    let info = model.info();
    let layers = spec.resolve(&info.name, info.layers)?;
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut texts: Vec<&str> = Vec::new();
    for a in analyses {
        for t in a.pairing.left.iter().chain(&a.pairing.right) {
            index.entry(t.as_str()).or_insert_with(|| {
                texts.push(t.as_str());
                texts.len() - 1
            });
        }
    }
    let vectors = embed_chunked(model, &texts, &layers, run)?;
    let jobs: Vec<(usize, usize)> = (0..layers.len())
        .flat_map(|l| (0..analyses.len()).map(move |p| (l, p)))
        .collect();
    let bar = crate::progress::bar(run.progress(), jobs.len() as u64, "layers");
    let one = |&(l, p): &(usize, usize)| -> Result<LayerPairing> {
        let a = &analyses[p];
        let rows =
            |side: &[String]| -> Vec<usize> { side.iter().map(|t| index[t.as_str()]).collect() };
        let left = vectors[l].select(Axis(0), &rows(&a.pairing.left));
        let right = vectors[l].select(Axis(0), &rows(&a.pairing.right));
        let m = measure_one(&a.pairing.name, left, right, &run.analysis)
            .with_context(|| format!("pairing {} at layer {}", a.pairing.name, layers[l]));
        bar.inc(1);
        m
    };
    let measured: Vec<Result<LayerPairing>> = crate::parallel::install(run.threads, || {
        use rayon::prelude::*;
        jobs.par_iter().map(one).collect()
    })?;
    bar.finish_and_clear();
    let mut measured = measured.into_iter();
    layers
        .iter()
        .map(|&layer| {
            Ok(LayerResult {
                layer,
                pairings: measured
                    .by_ref()
                    .take(analyses.len())
                    .collect::<Result<_>>()?,
            })
        })
        .collect()
}

/// Alignment, retrieval and lexicalisation of one pairing's vectors.
fn measure_one(
    name: &str,
    left: Array2<f32>,
    right: Array2<f32>,
    params: &AnalysisParams,
) -> Result<LayerPairing> {
    let al = alignment(left.view(), right.view(), &params.alignment)?;
    let rt = retrieval(left.view(), right.view(), &params.retrieval)?;
    let lex = from_ranks(&rt.right_to_left.ranks, &params.bootstrap)?;
    Ok(LayerPairing {
        name: name.to_string(),
        auc: al.centred.auc.estimate,
        auc_ci: ci(&al.centred.auc),
        lexicalization: lex.mean.estimate,
        lexicalization_ci: ci(&lex.mean),
        top1_left_to_right: rt.left_to_right.top1,
        top1_right_to_left: rt.right_to_left.top1,
    })
}

/// `[strings, dim]` per layer, embedded [`CHUNK_STRINGS`] strings at a time,
/// each chunk in one model pass for all layers.
fn embed_chunked(
    model: &Model,
    texts: &[&str],
    layers: &[usize],
    run: &Run,
) -> Result<Vec<Array2<f32>>> {
    let mut out: Vec<Array2<f32>> = Vec::new();
    for (c, chunk) in texts.chunks(CHUNK_STRINGS).enumerate() {
        let start = c * CHUNK_STRINGS;
        let got = model.embed_layers(chunk, layers, &run.embed)?;
        crate::ensure!(
            got.len() == layers.len(),
            Error::data(
                "embedding by layer",
                format!("{} layers asked, {} returned", layers.len(), got.len())
            )
        );
        if out.is_empty() {
            out = got
                .iter()
                .map(|e| Array2::zeros((texts.len(), e.vectors.ncols())))
                .collect();
        }
        for (dst, e) in out.iter_mut().zip(&got) {
            dst.slice_mut(s![start..start + chunk.len(), ..])
                .assign(&e.vectors);
        }
    }
    Ok(out)
}
