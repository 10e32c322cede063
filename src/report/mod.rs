//! The main job: embed every pairing once, measure, and write the paper's tables,
//! figures and `report.md`.
//!
//! ```no_run
//! use lexalign::report::{run, Run};
//! let report = run(&Run::paper()?)?;            // analyses all 7 pairings
//! for (stem, figure) in report.figures()? {     // six figure kinds
//!     figure.save(std::path::Path::new("figures"), &stem)?;
//! }
//! println!("{}", report.summary_json()?);
//! # Ok::<(), lexalign::Error>(())
//! ```

mod analysis;
mod config;
mod figures;
mod items;
mod layers;
mod markdown;
mod models;
mod summary;

pub use analysis::{
    analyse, analyse_pairing, clean, Cleaning, Exclusion, PairingAnalysis, StageSeconds,
};
pub use config::{AnalysisParams, Config, FigureParams, LayerSetting, Layers, Run, PAPER_PAIRINGS};
pub use items::{item_table, ITEM_COLUMNS};
pub use layers::{LayerPairing, LayerResult};
pub use models::{
    label_of, run_models, Comparison, ComparisonRow, ModelReport, ModelRun, TokenRow,
};
pub use summary::{PairingSummary, Summary};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::Axis;
use polars::prelude::*;
use serde::Serialize;

use crate::embed::{EmbedStats, Embeddings, Model, Pooling, TokenStats};
use crate::error::{Error, Result, ResultExt};
use crate::io::OutputSet;
use crate::pairs::{load_processed, read_releases, Pairing, Sample};
use crate::source::{Source, SourceInfo};

/// The model as every output cites it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelProvenance {
    pub name: String,
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(serialize_with = "crate::assets::serialize_shown_path")]
    pub dir: PathBuf,
    pub onnx_sha256: String,
    pub tokenizer_sha256: String,
    pub output: String,
    pub max_length: usize,
    pub pooling: Pooling,
    /// Whether each vector was scaled to unit length before the metrics.
    pub normalize: bool,
    /// The template each string was wrapped in (`None`: the strings alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl ModelProvenance {
    /// `model NAME VARIANT (sha256 …, POOLING pooling[, L2-normalised]) · template "…"`
    /// (normalisation named only when on, so stamps of raw-vector runs are as before).
    fn caption(&self) -> String {
        let sha = &self.onnx_sha256[..self.onnx_sha256.len().min(8)];
        // The description says what the weights are ("…, Q4_1 GGUF dequantised to fp32").
        let what = match (&self.description, &self.variant) {
            (Some(d), _) => d.clone(),
            (None, Some(v)) => format!("{} {v}", self.name),
            (None, None) => self.name.clone(),
        };
        let normalised = if self.normalize {
            ", L2-normalised"
        } else {
            ""
        };
        let mut s = format!(
            "model {what} (sha256 {sha}…, {} pooling{normalised})",
            self.pooling.as_str()
        );
        if let Some(t) = &self.template {
            s.push_str(&format!(" · template {t:?}"));
        }
        s
    }
}

/// A user's pair table as outputs cite it.
#[derive(Debug, Clone, Serialize)]
pub struct PairFileProvenance {
    pub name: String,
    #[serde(serialize_with = "crate::assets::serialize_shown_path")]
    pub file: PathBuf,
    pub sha256: String,
    /// Which columns were read.
    pub columns: crate::pairs::PairFile,
}

/// Where the numbers come from: cited by every output.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub lexalign_version: String,
    /// How the paths below are written ([`crate::assets::SHOWN_PATHS`]).
    pub paths: &'static str,
    pub model: ModelProvenance,
    /// Releases of the vocabularies the built-in pairings come from (only those
    /// used), as `vocab build` recorded them beside the pairings.
    pub data: Vec<SourceInfo>,
    /// The user's own pair tables.
    pub pair_files: Vec<PairFileProvenance>,
    pub seed: u64,
    /// Which stored set of the built-in pairings; `None` when only pair files ran.
    pub sample: Option<Sample>,
    pub bootstrap: usize,
}

impl Provenance {
    /// The provenance of a run of `model` over `pairings` with `run`'s settings.
    pub fn new(model: &Model, run: &Run, pairings: &[Pairing]) -> Result<Self> {
        let info = model.info();
        let used: HashSet<Source> = pairings
            .iter()
            .flat_map(|p| p.meta.sources.iter().copied())
            .collect();
        // The releases the pairings were built from, as the build recorded them: a
        // report needs no raw file, and a run of pair files alone no processed folder.
        let data = if used.is_empty() {
            Vec::new()
        } else {
            read_releases(&run.processed_dir)?
                .into_iter()
                .filter(|s| used.contains(&s.source))
                .collect()
        };
        let pair_files = run
            .pairs
            .iter()
            .map(|f| {
                Ok(PairFileProvenance {
                    name: f.name(),
                    file: f.file.clone(),
                    sha256: crate::io::sha256_file(&f.file)?,
                    columns: f.clone(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Provenance {
            lexalign_version: env!("CARGO_PKG_VERSION").to_string(),
            paths: crate::assets::SHOWN_PATHS,
            model: ModelProvenance {
                name: info.name.clone(),
                variant: info.variant.clone(),
                description: info.description.clone(),
                dir: info.dir.clone(),
                onnx_sha256: info.onnx_sha256.clone(),
                tokenizer_sha256: info.tokenizer_sha256.clone(),
                output: info.output.clone(),
                max_length: info.max_length,
                pooling: run.embed.pooling,
                normalize: run.embed.normalize,
                template: run.embed.active_template().map(str::to_string),
            },
            data,
            pair_files,
            seed: run.analysis.seed,
            sample: (!run.pairings.is_empty()).then_some(run.sample),
            bootstrap: run.analysis.bootstrap.resamples,
        })
    }

    /// The one-line stamp at the bottom of every figure.
    pub fn caption(&self) -> String {
        self.caption_for(&[&self.model])
    }

    /// The stamp for `models` run over this provenance's data (`report --models`).
    pub fn caption_for(&self, models: &[&ModelProvenance]) -> String {
        let mut parts: Vec<String> = models.iter().map(|m| m.caption()).collect();
        parts.extend(self.data.iter().map(SourceInfo::caption));
        for f in &self.pair_files {
            let file = f.file.file_name().unwrap_or(f.file.as_os_str());
            parts.push(format!(
                "pairs {} (sha256 {}…)",
                file.to_string_lossy(),
                &f.sha256[..f.sha256.len().min(8)]
            ));
        }
        match self.sample {
            Some(s) => parts.push(format!("{s} sample, seed {}", self.seed)),
            None => parts.push(format!("seed {}", self.seed)),
        }
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

/// Wall-clock seconds of a run's stages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    /// Embedding every distinct string (cache lookups included).
    pub embed: f64,
    /// Each pairing's analysis, in input order.
    pub pairings: Vec<(String, f64)>,
    /// Embedding and measuring every requested layer (`--layers`; 0 without).
    pub layers: f64,
    /// From the start of the run (model loading included) to the end of the analysis.
    pub total: f64,
}

/// The analysed pairings of one run.
#[derive(Debug, Clone)]
pub struct Report {
    pub provenance: Provenance,
    pub analyses: Vec<PairingAnalysis>,
    pub skipped: Vec<Skipped>,
    pub embed_stats: EmbedStats,
    pub timings: Timings,
    pub figure_params: FigureParams,
    /// Per-layer numbers (`--layers`); empty otherwise. `analyses` are the final layer's.
    pub layers: Vec<LayerResult>,
}

/// Loads the model and the configured pairings, embeds every distinct string
/// once, and analyses each pairing.
pub fn run(run: &Run) -> Result<Report> {
    let t0 = Instant::now();
    let model = Model::load_with(&run.model_dir, &run.model)?;
    let pairings = load_pairings(run)?;
    run_with(&model, &pairings, run, t0)
}

/// The built-in pairings of a run, then its pair files, in order.
pub fn load_pairings(run: &Run) -> Result<Vec<Pairing>> {
    let mut pairings: Vec<Pairing> = run
        .pairings
        .iter()
        .map(|name| load_processed(&run.processed_dir, name, run.sample))
        .collect::<Result<_>>()?;
    for f in &run.pairs {
        let p = f.read(&run.bins)?;
        // A user's own file too small to measure stops the run here, naming it
        // (a built-in pairing that small is skipped with its reason instead).
        let c = clean(&p);
        crate::ensure!(
            c.rows >= 3,
            Error::data(
                f.file.display().to_string(),
                format!(
                    "too few distinct pairs: {} ({} rows: {} with both sides the same, {} repeated); need at least 3",
                    c.rows, c.input_rows, c.identical_dropped, c.duplicates_dropped
                )
            )
        );
        pairings.push(p);
    }
    Ok(pairings)
}

/// The embedding step of [`run`] for one shard only (`report --shard K/N`): embeds
/// the strings `shard` owns into the cache and stops; a later run without a shard
/// finds every shard's vectors there. Needs the cache.
pub fn embed_shard(run: &Run, shard: crate::embed::Shard) -> Result<EmbedStats> {
    crate::ensure!(
        run.embed.cache.is_some(),
        Error::param(
            "shard",
            "a shard writes to the embedding cache; drop --no-cache"
        )
    );
    let model = Model::load_with(&run.model_dir, &run.model)?;
    let pairings = load_pairings(run)?;
    let mut texts: Vec<&str> = Vec::new();
    for p in &pairings {
        for &i in &clean(p).kept {
            texts.extend([p.left[i].as_str(), p.right[i].as_str()]);
        }
    }
    texts.retain(|t| shard.owns(t));
    Ok(model.embed(&texts, &run.embed)?.stats)
}

/// [`run`] with a loaded model and pairings (user pair sets included).
pub fn run_with(model: &Model, pairings: &[Pairing], run: &Run, t0: Instant) -> Result<Report> {
    let provenance = Provenance::new(model, run, pairings)?;
    // A model without layers given --layers fails before any embedding.
    if let Some(layers) = &run.layers {
        layers.resolve(&model.info().name, model.info().layers)?;
    }
    let cleanings: Vec<Cleaning> = pairings.iter().map(clean).collect();
    let t = Instant::now();
    let emb = embed_all(model, pairings, &cleanings, run)?;
    let embed_seconds = t.elapsed().as_secs_f64();
    let results = analyse_all(model, pairings, cleanings, &emb, run)?;
    let mut report = Report {
        provenance,
        analyses: Vec::new(),
        skipped: Vec::new(),
        embed_stats: emb.stats,
        timings: Timings {
            embed: embed_seconds,
            ..Default::default()
        },
        figure_params: run.figures,
        layers: Vec::new(),
    };
    for (name, secs, result) in results {
        match result {
            Ok(a) => report.analyses.push(a),
            // Only a pairing too small to measure is skipped; anything else
            // (NaN vectors, a broken model) stops the run.
            Err(e) if matches!(e.root(), Error::TooFewRows { .. }) => {
                report.skipped.push(Skipped {
                    name: name.clone(),
                    reason: e.root().to_string(),
                })
            }
            Err(e) => return Err(e),
        }
        report.timings.pairings.push((name, secs));
    }
    if report.analyses.is_empty() {
        let why: Vec<String> = report
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.name, s.reason))
            .collect();
        return Err(Error::data(
            "report",
            format!("no pairing could be measured ({})", why.join("; ")),
        ));
    }
    let t = Instant::now();
    report.layers = layers::measure(model, &report.analyses, run)?;
    report.timings.layers = t.elapsed().as_secs_f64();
    report.timings.total = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Embeds every distinct string of every cleaned pairing in one call.
fn embed_all(
    model: &Model,
    pairings: &[Pairing],
    cleanings: &[Cleaning],
    run: &Run,
) -> Result<Embeddings> {
    let mut texts: Vec<&str> = Vec::new();
    for (p, c) in pairings.iter().zip(cleanings) {
        for &i in &c.kept {
            texts.push(&p.left[i]);
            texts.push(&p.right[i]);
        }
    }
    model.embed(&texts, &run.embed)
}

type PairingResult = (String, f64, Result<PairingAnalysis>);

/// Analyses the pairings in parallel (they are independent), in input order.
/// Each distinct string is tokenised once for the whole run, as it was embedded.
fn analyse_all(
    model: &Model,
    pairings: &[Pairing],
    cleanings: Vec<Cleaning>,
    emb: &Embeddings,
    run: &Run,
) -> Result<Vec<PairingResult>> {
    use rayon::prelude::*;
    let mut row_of: HashMap<&str, usize> = HashMap::with_capacity(emb.texts.len());
    let mut distinct: Vec<&str> = Vec::with_capacity(emb.texts.len());
    for (i, t) in emb.texts.iter().enumerate() {
        if row_of.insert(t.as_str(), i).is_none() {
            distinct.push(t);
        }
    }
    let tokens_of: HashMap<&str, TokenStats> = distinct
        .iter()
        .copied()
        .zip(model.token_stats(&distinct)?)
        .collect();
    let bar = crate::progress::bar(run.progress(), pairings.len() as u64, "analysing");
    let one = |p: &Pairing, cleaning: Cleaning| -> PairingResult {
        let t = Instant::now();
        let rows = |side: &Vec<String>| -> Vec<usize> {
            cleaning
                .kept
                .iter()
                .map(|&i| row_of[side[i].as_str()])
                .collect()
        };
        let tokens = |side: &Vec<String>| -> Vec<TokenStats> {
            cleaning
                .kept
                .iter()
                .map(|&i| tokens_of[side[i].as_str()].clone())
                .collect()
        };
        let left = emb.vectors.select(Axis(0), &rows(&p.left));
        let right = emb.vectors.select(Axis(0), &rows(&p.right));
        let tokens = [tokens(&p.left), tokens(&p.right)];
        let result = analyse(
            p,
            cleaning,
            left.view(),
            right.view(),
            tokens,
            &run.analysis,
        )
        .with_context(|| format!("pairing {}", p.name));
        bar.inc(1);
        (p.name.clone(), t.elapsed().as_secs_f64(), result)
    };
    let results = crate::parallel::install(run.threads, || {
        pairings
            .par_iter()
            .zip(cleanings)
            .map(|(p, cleaning)| one(p, cleaning))
            .collect()
    })?;
    bar.finish_and_clear();
    Ok(results)
}

impl Report {
    /// `summary.json`: provenance plus one entry per pairing.
    pub fn summary(&self) -> Summary<'_> {
        Summary::new(self)
    }

    /// The summary as pretty JSON text.
    pub fn summary_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.summary())?)
    }

    /// One row per pairing: the headline numbers.
    pub fn summary_table(&self) -> Result<DataFrame> {
        let a = &self.analyses;
        let f = |g: &dyn Fn(&PairingAnalysis) -> f64| a.iter().map(g).collect::<Vec<f64>>();
        let opt = |g: &dyn Fn(&PairingAnalysis) -> Option<f64>| {
            a.iter().map(g).collect::<Vec<Option<f64>>>()
        };
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
            // Not computed / not run: null, never NaN.
            Column::new(
                "spearman_popularity".into(),
                opt(&|x| x.popularity.spearman.as_ref().map(|s| s.estimate)),
            ),
            Column::new(
                "probe_train_top1".into(),
                opt(&|x| x.probe.as_ref().map(|p| p.procrustes.train_top1)),
            ),
            Column::new(
                "probe_withheld_top1".into(),
                opt(&|x| x.probe.as_ref().map(|p| p.procrustes.withheld_top1)),
            ),
        ])?;
        Ok(df)
    }

    /// The per-item table of one analysed pairing (`pairs/<name>.csv`): every
    /// input row, in input order (see [`item_table`]).
    pub fn pair_table(analysis: &PairingAnalysis) -> Result<DataFrame> {
        item_table(analysis)
    }

    /// Every figure of the report, with its file stem.
    pub fn figures(&self) -> Result<Vec<(String, crate::plot::Figure)>> {
        figures::all(self, &self.figure_params)
    }

    /// The entries of `out` a report run replaces (a comparison's `labels` are its
    /// per-model folders): no input may be one of them or inside one.
    pub fn replaced_entries(out: &Path, labels: &[String]) -> Vec<PathBuf> {
        ["pairs", "summary.json", "report.md"]
            .into_iter()
            .chain(models::FILES)
            .map(|n| out.join(n))
            .chain(labels.iter().map(|l| out.join(l)))
            .collect()
    }

    /// Writes `out/pairs/<name>.csv|.parquet`, `out/summary.json`, `out/report.md`
    /// and the figures (PNG + SVG) into `figures_dir`, as one set: all are staged,
    /// then swapped in together, so a failure leaves the previous set whole
    /// ([`OutputSet`]). `out/pairs/` is replaced whole; other files in `out` and
    /// `figures_dir` stay, but figures of earlier runs this run lacks are removed.
    pub fn write(&self, out: &Path, figures_dir: &Path) -> Result<Vec<PathBuf>> {
        self.write_as(out, figures_dir, (out, figures_dir))
    }

    /// [`Report::write`] into folders that are themselves staged: `shown` is where
    /// `out` and `figures_dir` will finally be, which report.md's links are made for.
    pub(crate) fn write_as(
        &self,
        out: &Path,
        figures_dir: &Path,
        shown: (&Path, &Path),
    ) -> Result<Vec<PathBuf>> {
        let pairs_dir = out.join("pairs");
        if figures_dir.starts_with(&pairs_dir) {
            return Err(Error::param(
                "figures",
                format!(
                    "{} is inside {}, which each run replaces; choose another figures folder",
                    figures_dir.display(),
                    pairs_dir.display()
                ),
            ));
        }
        let mut set = OutputSet::new();
        let stage = set.stage(out)?;
        let fig_stage = set.stage(figures_dir)?;
        // Where each staged file will be once the set is in place.
        let placed = |p: PathBuf, from: &Path, to: &Path| match p.strip_prefix(from) {
            Ok(rel) => to.join(rel),
            Err(_) => p,
        };
        let mut written = self.write_pairs(&stage.join("pairs"))?;
        let summary = stage.join("summary.json");
        crate::io::write_json_atomic(&summary, &self.summary())?;
        written.push(summary);
        let mut figure_files = Vec::new();
        for (stem, fig) in self.figures()? {
            let files = fig.save(&fig_stage, &stem)?;
            let files: Vec<PathBuf> = files
                .into_iter()
                .map(|f| placed(f, &fig_stage, figures_dir))
                .collect();
            figure_files.push((stem, files[0].clone()));
            written.extend(files);
        }
        for stem in figures::STEMS.iter().chain(&models::STEMS) {
            for ext in ["png", "svg"] {
                set.retire(figures_dir, &format!("{stem}.{ext}"))?;
            }
        }
        // A comparison's files here would not match this run.
        for name in models::FILES {
            set.retire(out, name)?;
        }
        let md = stage.join("report.md");
        let shown_figures: Vec<(String, PathBuf)> = figure_files
            .into_iter()
            .map(|(stem, f)| (stem, placed(f, figures_dir, shown.1)))
            .collect();
        let text = markdown::render(self, &shown_figures, shown.0)?;
        crate::io::write_bytes_atomic(&md, text.as_bytes())?;
        written.push(md);
        let written = written
            .into_iter()
            .map(|f| placed(f, &stage, out))
            .collect();
        set.commit()?;
        Ok(written)
    }

    /// `dir/<name>.csv|.parquet` per analysed pairing.
    fn write_pairs(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut written = Vec::new();
        for a in &self.analyses {
            let mut df = Self::pair_table(a)?;
            for ext in ["csv", "parquet"] {
                let path = dir.join(format!("{}.{ext}", a.pairing.name));
                crate::io::write_table(&path, &mut df)?;
                written.push(path);
            }
        }
        Ok(written)
    }
}
