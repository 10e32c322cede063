//! Embedding throughput: lexalign's best of several timed runs, and the peer's on
//! the same strings with how far its vectors are from ours.

use std::path::Path;
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::peer::{LlamaCpp, Peer};
use crate::embed::{Embeddings, GraphOpt, Model};
use crate::model::VectorSetting;
use crate::{Error, Result};

/// How each throughput measurement is timed (resolved from flags or a suite).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    /// Timed runs; the best is reported.
    pub repeat: usize,
    /// lexalign's batch size (strings).
    pub batch_size: usize,
    /// The Python peer's batch size.
    pub peer_batch_size: usize,
    pub graph_opt: GraphOpt,
    /// lexalign shares prefixes between strings where the model allows it.
    pub share_prefixes: bool,
}

#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct Throughput {
    pub strings: usize,
    pub seconds: f64,
    pub strings_per_s: f64,
    pub tokens: usize,
    pub tokens_per_s: f64,
    pub padding_efficiency: f64,
    /// Real tokens not computed: several strings began with them (lexalign, decoders).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shared_tokens: usize,
    pub threads: usize,
    /// Session (and, for lexalign, tokenizer) load time, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_seconds: Option<f64>,
    /// What the peer says it is, e.g. "python onnxruntime 1.31.1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The peer's run on the same strings, against ours.
#[derive(Debug, Clone)]
pub struct PeerRun {
    pub throughput: Throughput,
    /// lexalign strings/s ÷ the peer's.
    pub ratio: f64,
    /// The lowest cosine between a string's two vectors.
    pub lowest_cosine: f64,
}

/// Best of `timing.repeat` timed runs (after a warm-up), without the cache, making
/// vectors as `setting` says (the caller resolves it once, and the peers get the same).
pub fn time_lexalign(
    model: &Model,
    setting: &VectorSetting,
    texts: &[String],
    timing: &Timing,
) -> Result<(Throughput, Embeddings)> {
    crate::ensure!(
        !texts.is_empty(),
        Error::param("strings", "nothing to time: the input has no strings")
    );
    let options = model
        .embed_options()
        .with_setting(setting)
        .with_cache(None)
        .with_batch_size(timing.batch_size)
        .with_share_prefixes(timing.share_prefixes);
    model.embed(&texts[..texts.len().min(64)], &options)?; // warm-up
    let mut best: Option<(f64, Embeddings)> = None;
    for _ in 0..timing.repeat.max(1) {
        let t = Instant::now();
        let emb = model.embed(texts, &options)?;
        let s = t.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|(b, _)| s < *b) {
            best = Some((s, emb));
        }
    }
    let (seconds, emb) = best.expect("at least one timed run");
    let ours = Throughput {
        strings: texts.len(),
        seconds,
        strings_per_s: texts.len() as f64 / seconds,
        tokens: emb.stats.real_tokens,
        tokens_per_s: emb.stats.real_tokens as f64 / seconds,
        padding_efficiency: emb.stats.padding_efficiency(),
        shared_tokens: emb.stats.shared_tokens,
        threads: model.threads().get(),
        load_seconds: None,
        peer: None,
    };
    Ok((ours, emb))
}

/// lexalign's timed run that the peers are compared with: the model, how it made its
/// vectors, the strings' file, the timing, and what it measured and embedded.
pub struct Ours<'a> {
    pub model: &'a Model,
    pub setting: &'a VectorSetting,
    pub input: &'a Path,
    pub timing: &'a Timing,
    pub throughput: &'a Throughput,
    pub embeddings: &'a Embeddings,
}

impl Ours<'_> {
    /// Speed ratio and lowest cosine against a peer's run whose vectors are in `output`.
    fn compare(&self, theirs: Throughput, output: &Path) -> Result<PeerRun> {
        Ok(PeerRun {
            ratio: self.throughput.strings_per_s / theirs.strings_per_s,
            lowest_cosine: lowest_cosine(&self.embeddings.vectors, &crate::io::read_npy(output)?),
            throughput: theirs,
        })
    }
}

/// Runs the Python peer on the strings `ours` embedded and compares: speed ratio and
/// the lowest cosine between the two sets of vectors.
pub fn against_peer(peer: &Peer, ours: &Ours<'_>, output: &Path) -> Result<PeerRun> {
    let theirs = peer.embed(ours.model, ours.setting, ours.input, ours.timing, output)?;
    ours.compare(theirs, output)
}

/// llama.cpp on the GGUF the decoder came from, on the strings `ours` embedded: as
/// [`against_peer`]; `Err(why)` inside when it could not run (not installed, no GGUF).
pub fn against_llama_cpp(
    peer: &Peer,
    ours: &Ours<'_>,
    output: &Path,
) -> Result<std::result::Result<PeerRun, String>> {
    match peer.llama_cpp(ours.model, ours.setting, ours.input, ours.timing, output)? {
        LlamaCpp::Ran(theirs) => Ok(Ok(ours.compare(theirs, output)?)),
        LlamaCpp::Unavailable(why) => Ok(Err(why)),
    }
}

/// The lowest cosine between corresponding rows of `a` and `b` (in f64).
pub fn lowest_cosine(a: &Array2<f32>, b: &Array2<f32>) -> f64 {
    a.rows()
        .into_iter()
        .zip(b.rows())
        .map(|(x, y)| {
            let dot: f64 = x.iter().zip(y).map(|(&p, &q)| p as f64 * q as f64).sum();
            let nx: f64 = x.iter().map(|&p| (p as f64).powi(2)).sum::<f64>().sqrt();
            let ny: f64 = y.iter().map(|&q| (q as f64).powi(2)).sum::<f64>().sqrt();
            dot / (nx * ny)
        })
        .fold(1.0, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_cosine_by_hand() {
        let a = ndarray::arr2(&[[1.0f32, 0.0], [1.0, 1.0]]);
        let b = ndarray::arr2(&[[2.0f32, 0.0], [1.0, 0.0]]);
        assert!((lowest_cosine(&a, &b) - 1.0 / 2f64.sqrt()).abs() < 1e-12);
        assert!((lowest_cosine(&a, &a.mapv(|v| 3.0 * v)) - 1.0).abs() < 1e-12);
    }
}
