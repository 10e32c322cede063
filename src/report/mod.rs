//! The main job: embed every pairing once, measure, and write the paper's tables,
//! figures and `report.md`.
//!
//! ```no_run
//! use lexalign::report::{run, Config};
//! let report = run(&Config::paper())?;          // analyses all 7 pairings
//! for (stem, figure) in report.figures()? {     // six figure kinds
//!     figure.save(std::path::Path::new("figures"), &stem)?;
//! }
//! println!("{}", report.summary_json()?);
//! # Ok::<(), lexalign::Error>(())
//! ```

mod analysis;
mod config;
mod figures;
mod markdown;

pub use analysis::{analyse, analyse_pairing, clean, Cleaning, PairingAnalysis};
pub use config::{Config, PAPER_PAIRINGS};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::Axis;
use polars::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};

use crate::embed::{EmbedOptions, Model, ModelOptions};
use crate::error::{Error, Result};
use crate::pairs::{load_processed, Pairing};
use crate::vocab::{releases, BuildOptions, SourceInfo};

/// Where the numbers come from: cited by every output.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub lexalign_version: String,
    pub model: Value,
    pub data: Vec<SourceInfo>,
    pub seed: u64,
    pub sample: String,
    pub bootstrap: usize,
}

impl Provenance {
    /// The one-line stamp at the bottom of every figure.
    pub fn caption(&self) -> String {
        let sha = self.model["onnx_sha256"].as_str().unwrap_or("");
        let mut parts = vec![format!(
            "model {}{} (sha256 {}…, {} pooling)",
            self.model["name"].as_str().unwrap_or("?"),
            self.model["variant"]
                .as_str()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            &sha[..sha.len().min(8)],
            self.model["pooling"].as_str().unwrap_or("?")
        )];
        for s in &self.data {
            parts.push(match s.name.as_str() {
                "HGNC" => format!(
                    "HGNC ({})",
                    s.release.replace(" wheel (file undated)", ", undated")
                ),
                "Gene Ontology" => format!("GO go-basic {}", s.release),
                "Human Phenotype Ontology" => s.citation.clone(),
                _ => s.release.clone(),
            });
        }
        parts.push(format!("{} sample, seed {}", self.sample, self.seed));
        parts.push(format!("lexalign {}", self.lexalign_version));
        parts.join(" · ")
    }
}

/// A pairing that could not be analysed, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// The analysed pairings of one run.
#[derive(Debug, Clone)]
pub struct Report {
    pub provenance: Provenance,
    pub analyses: Vec<PairingAnalysis>,
    pub skipped: Vec<Skipped>,
    pub embed_stats: crate::embed::EmbedStats,
    pub seconds: HashMap<String, f64>,
}

/// Loads the model and the configured pairings, embeds every distinct string
/// once, and analyses each pairing.
pub fn run(config: &Config) -> Result<Report> {
    config.validate()?;
    let t0 = std::time::Instant::now();
    let model = Model::load_with(
        config.model_dir(),
        &ModelOptions::default().with_threads(config.thread_count()),
    )?;
    let sample = config.sample_kind()?;
    let pairings: Vec<Pairing> = config
        .pairings
        .iter()
        .map(|name| load_processed(&config.processed_dir, name, sample))
        .collect::<Result<_>>()?;
    run_with(&model, &pairings, config, t0)
}

/// [`run`] with a loaded model and pairings (user pair sets included).
pub fn run_with(
    model: &Model,
    pairings: &[Pairing],
    config: &Config,
    t0: std::time::Instant,
) -> Result<Report> {
    config.validate()?;
    let mut seconds = HashMap::new();
    let provenance = Provenance {
        lexalign_version: env!("CARGO_PKG_VERSION").to_string(),
        model: json!({
            "name": model.info().name,
            "variant": model.info().variant,
            "dir": model.info().dir,
            "onnx_sha256": model.info().onnx_sha256,
            "tokenizer_sha256": model.info().tokenizer_sha256,
            "output": model.info().output,
            "max_length": model.info().max_length,
            "pooling": config.pooling,
        }),
        data: releases(&BuildOptions::default())?,
        seed: config.seed,
        sample: config.sample.clone(),
        bootstrap: config.bootstrap,
    };
    // Embed every distinct string of every cleaned pairing in one call.
    let cleaned: Vec<(Vec<usize>, Cleaning)> = pairings.iter().map(clean).collect();
    let mut texts: Vec<&str> = Vec::new();
    for (p, (keep, _)) in pairings.iter().zip(&cleaned) {
        for &i in keep {
            texts.push(&p.left[i]);
            texts.push(&p.right[i]);
        }
    }
    let options = EmbedOptions::default()
        .with_pooling(config.pooling_kind()?)
        .with_cache(config.cache.then(crate::embed::default_cache_dir))
        .with_progress(config.progress);
    let t = std::time::Instant::now();
    let emb = model.embed(&texts, &options)?;
    seconds.insert("embed".to_string(), t.elapsed().as_secs_f64());
    let row_of: HashMap<&str, usize> = emb
        .texts
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();

    let bar = crate::embed::progress_bar(config.progress, pairings.len() as u64, "analysing");
    // Pairings are independent: analyse them in parallel, keep input order.
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.thread_count())
        .build()
        .map_err(|e| Error::param("threads", e.to_string()))?;
    let results: Vec<(String, f64, Result<PairingAnalysis>)> = pool.install(|| {
        pairings
            .par_iter()
            .zip(&cleaned)
            .map(|(p, (keep, _))| {
                let t = std::time::Instant::now();
                let rows = |side: &Vec<String>| {
                    keep.iter()
                        .map(|&i| row_of[side[i].as_str()])
                        .collect::<Vec<_>>()
                };
                let left = emb.vectors.select(Axis(0), &rows(&p.left));
                let right = emb.vectors.select(Axis(0), &rows(&p.right));
                let right_texts: Vec<&str> = keep.iter().map(|&i| p.right[i].as_str()).collect();
                let result = model
                    .token_stats(&right_texts)
                    .and_then(|tokens| analyse(p, left.view(), right.view(), &tokens, config));
                bar.inc(1);
                (p.name.clone(), t.elapsed().as_secs_f64(), result)
            })
            .collect()
    });
    let mut analyses = Vec::new();
    let mut skipped = Vec::new();
    for (name, secs, result) in results {
        match result {
            Ok(a) => analyses.push(a),
            Err(e @ Error::Data { .. }) => skipped.push(Skipped {
                name: name.clone(),
                reason: e.to_string(),
            }),
            Err(e) => return Err(e),
        }
        seconds.insert(name, secs);
    }
    bar.finish_and_clear();
    seconds.insert("total".to_string(), t0.elapsed().as_secs_f64());
    Ok(Report {
        provenance,
        analyses,
        skipped,
        embed_stats: emb.stats,
        seconds,
    })
}

impl Report {
    /// `summary.json` as a value: provenance plus one entry per pairing.
    pub fn summary(&self) -> Value {
        let pairings: Vec<Value> = self.analyses.iter().map(pairing_summary).collect();
        json!({
            "lexalign_version": self.provenance.lexalign_version,
            "model": self.provenance.model,
            "data": self.provenance.data,
            "seed": self.provenance.seed,
            "sample": self.provenance.sample,
            "bootstrap": self.provenance.bootstrap,
            "caption": self.provenance.caption(),
            "embedding": self.embed_stats,
            "pairings": pairings,
            "skipped": self.skipped,
        })
    }

    /// The summary as pretty JSON text.
    pub fn summary_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.summary())?)
    }

    /// One row per pairing: the headline numbers.
    pub fn summary_table(&self) -> Result<DataFrame> {
        let a = &self.analyses;
        let f = |g: &dyn Fn(&PairingAnalysis) -> f64| a.iter().map(g).collect::<Vec<f64>>();
        let df = DataFrame::new_infer_height(vec![
            Column::new(
                "pairing".into(),
                a.iter()
                    .map(|x| x.pairing.name.as_str())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "n".into(),
                a.iter().map(|x| x.pairing.len() as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "auc_centred".into(),
                f(&|x| x.alignment.centred.auc.estimate),
            ),
            Column::new("auc_raw".into(), f(&|x| x.alignment.raw.auc.estimate)),
            Column::new("gap_centred".into(), f(&|x| x.alignment.centred.gap)),
            Column::new("top1".into(), f(&|x| x.retrieval.left_to_right.top1)),
            Column::new("top10".into(), f(&|x| x.retrieval.left_to_right.top10)),
            Column::new("mrr".into(), f(&|x| x.retrieval.left_to_right.mrr)),
            Column::new(
                "lexicalization".into(),
                f(&|x| x.lexicalization.mean.estimate),
            ),
            Column::new(
                "spearman_popularity".into(),
                f(&|x| {
                    x.popularity
                        .spearman
                        .as_ref()
                        .map_or(f64::NAN, |s| s.estimate)
                }),
            ),
            Column::new(
                "probe_train_top1".into(),
                f(&|x| {
                    x.probe
                        .as_ref()
                        .map_or(f64::NAN, |p| p.procrustes.train_top1)
                }),
            ),
            Column::new(
                "probe_withheld_top1".into(),
                f(&|x| {
                    x.probe
                        .as_ref()
                        .map_or(f64::NAN, |p| p.procrustes.withheld_top1)
                }),
            ),
        ])?;
        Ok(df)
    }

    /// The per-row table of one analysed pairing (`pairs/<name>.csv`).
    pub fn pair_table(analysis: &PairingAnalysis) -> Result<DataFrame> {
        let a = analysis;
        let p = &a.pairing;
        let mut df = p.to_dataframe()?;
        let cols = vec![
            Column::new("cosine".into(), a.alignment.raw.matched.clone()),
            Column::new("centred_cosine".into(), a.alignment.centred.matched.clone()),
            Column::new(
                "rank_left_to_right".into(),
                a.retrieval.left_to_right.ranks.clone(),
            ),
            Column::new(
                "rank_right_to_left".into(),
                a.retrieval.right_to_left.ranks.clone(),
            ),
            Column::new("lexicalization".into(), a.lexicalization.scores.clone()),
            Column::new(
                "right_tokens".into(),
                a.right_tokens
                    .iter()
                    .map(|t| t.n_tokens as u32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "right_continuation".into(),
                a.right_tokens
                    .iter()
                    .map(|t| t.n_continuation as u32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "right_single_token".into(),
                a.right_tokens
                    .iter()
                    .map(|t| t.single_token)
                    .collect::<Vec<_>>(),
            ),
        ];
        for c in cols {
            df.with_column(c)?;
        }
        Ok(df)
    }

    /// Every figure of the report, with its file stem.
    pub fn figures(&self) -> Result<Vec<(String, crate::plot::Figure)>> {
        figures::all(self)
    }

    /// Writes `out/pairs/<name>.csv|.parquet`, `out/summary.json`, `out/report.md`
    /// and the figures (PNG + SVG) into `figures_dir`. All writes are atomic.
    pub fn write(&self, out: &Path, figures_dir: &Path) -> Result<Vec<PathBuf>> {
        let pairs_dir = out.join("pairs");
        for d in [out, &pairs_dir, figures_dir] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        let mut written = Vec::new();
        for a in &self.analyses {
            let mut df = Self::pair_table(a)?;
            for ext in ["csv", "parquet"] {
                let path = pairs_dir.join(format!("{}.{ext}", a.pairing.name));
                crate::io::write_table(&path, &mut df)?;
                written.push(path);
            }
        }
        let summary = out.join("summary.json");
        crate::io::write_json_atomic(&summary, &self.summary())?;
        written.push(summary);
        let mut figure_files = Vec::new();
        for (stem, fig) in self.figures()? {
            let files = fig.save(figures_dir, &stem)?;
            figure_files.push((stem, files[0].clone()));
            written.extend(files);
        }
        let md = out.join("report.md");
        let text = markdown::render(self, &figure_files, out)?;
        crate::io::write_bytes_atomic(&md, text.as_bytes())?;
        written.push(md);
        Ok(written)
    }
}

fn pairing_summary(a: &PairingAnalysis) -> Value {
    let ci = |i: &crate::metrics::stats::Interval| json!([i.low, i.high]);
    let probe = a.probe.as_ref().map(|p| {
        json!({
            "map": "procrustes",
            "train_top1": p.procrustes.train_top1,
            "withheld_top1": p.procrustes.withheld_top1,
            "train_top10": p.procrustes.train_top10,
            "withheld_top10": p.procrustes.withheld_top10,
            "gap": p.procrustes.gap,
            "chance_withheld_top1": p.chance_withheld_top1,
            "n_train": p.n_train,
            "n_withheld": p.n_withheld,
            "ridge": p.ridge,
        })
    });
    let dir = |d: &crate::metrics::retrieval::DirectionRanks| json!({"top1": d.top1, "top10": d.top10, "mrr": d.mrr, "median_rank": d.median_rank});
    let c = &a.alignment.centred;
    let r = &a.alignment.raw;
    json!({
        "name": a.pairing.name,
        "description": a.pairing.meta.description,
        "sources": a.pairing.meta.sources,
        "n": a.pairing.len(),
        "cleaning": a.cleaning,
        "auc": c.auc.estimate,
        "auc_ci": ci(&c.auc),
        "matched_mean": r.matched_mean,
        "null_mean": r.null_mean,
        "raw_gap": r.gap,
        "auc_raw": r.auc.estimate,
        "auc_raw_ci": ci(&r.auc),
        "cohens_d_raw": r.cohens_d,
        "centered_matched_mean": c.matched_mean,
        "centered_null_mean": c.null_mean,
        "centered_gap": c.gap,
        "cohens_d_centered": c.cohens_d,
        "null": {"kind": a.alignment.null_kind, "size": a.alignment.null_size},
        "zero_vectors": {"left": a.alignment.zero_rows_left, "right": a.alignment.zero_rows_right},
        "top1": a.retrieval.left_to_right.top1,
        "top10": a.retrieval.left_to_right.top10,
        "mrr": a.retrieval.left_to_right.mrr,
        "retrieval": {"centred": a.retrieval.centred, "left_to_right": dir(&a.retrieval.left_to_right), "right_to_left": dir(&a.retrieval.right_to_left)},
        "lexicalization": a.lexicalization.mean.estimate,
        "lexicalization_ci": ci(&a.lexicalization.mean),
        "spearman_popularity": a.popularity.spearman.as_ref().map(|s| s.estimate),
        "spearman_popularity_ci": a.popularity.spearman.as_ref().map(ci),
        "popularity_proxy": a.pairing.meta.popularity_proxy,
        "popularity_bins": a.popularity.bins,
        "probe": probe,
        "pca_explained_variance_ratio": a.pca.explained_variance_ratio,
    })
}
