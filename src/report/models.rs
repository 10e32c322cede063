//! `report --models a,b`: the same pairings through several models, side by side.
//! Each model's full report goes to `OUT/<label>/` (figures to `FIGURES/<label>/`);
//! the comparison adds `models.json`, `models.csv`, `tokens.csv`, `report.md` and
//! the figures `fig8_models_*` and `fig9_models_pieces`, all written as one set.

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use serde::Serialize;

use super::{load_pairings, run_with, ModelProvenance, PairingAnalysis, Report, Run};
use crate::embed::{EmbedStats, Model};
use crate::error::{Error, Result, ResultExt};
use crate::io::OutputSet;
use crate::plot::{self, BarSeries, Figure, IntervalSeries};

/// Figure stems of a comparison.
pub(crate) const STEMS: [&str; 3] = [
    "fig8_models_auc",
    "fig8_models_lexicalization",
    "fig9_models_pieces",
];

/// Files of a comparison in the results folder (a single-model run retires them).
pub(crate) const FILES: [&str; 3] = ["models.json", "models.csv", "tokens.csv"];

/// One model of a comparison: its label (a folder name) and its resolved run.
#[derive(Debug, Clone)]
pub struct ModelRun {
    pub label: String,
    pub run: Run,
}

/// How one model cuts one pairing's right-hand strings (the identifier in the id
/// pairings), averaged over the analysed items.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub model: String,
    pub pairing: String,
    pub strings: usize,
    /// Mean pieces per string (special tokens excluded).
    pub pieces_mean: f64,
    /// Share of strings that are exactly one vocabulary token.
    pub single_token_share: f64,
    /// Mean digits per string (a property of the strings, the same for every model).
    pub digits_mean: f64,
    /// Mean pieces holding a digit.
    pub digit_pieces_mean: f64,
    /// Mean zeros leading the last digit run (string property).
    pub leading_zeros_mean: f64,
    /// Mean pieces covering those zeros.
    pub leading_zero_pieces_mean: f64,
    /// Strings with at least one leading zero.
    pub with_leading_zeros: usize,
}

/// One model's report and tokenisation rows.
#[derive(Debug, Clone)]
pub struct ModelReport {
    pub label: String,
    pub report: Report,
    pub tokens: Vec<TokenRow>,
    /// Said when `--layers` was not measured for this model (no per-layer states).
    pub note: Option<String>,
}

/// Several models over the same pairings.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub models: Vec<ModelReport>,
}

/// One row per model and pairing: the headline numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonRow {
    pub model: String,
    pub pairing: String,
    pub n: usize,
    pub auc: f64,
    pub auc_ci: [f64; 2],
    pub auc_raw: f64,
    pub lexicalization: f64,
    pub lexicalization_ci: [f64; 2],
    pub top1: f64,
    pub top10: f64,
    pub mrr: f64,
    pub spearman_popularity: Option<f64>,
    pub probe_withheld_top1: Option<f64>,
}

impl ComparisonRow {
    fn new(model: &str, a: &PairingAnalysis) -> Self {
        let auc = &a.alignment.centred.auc;
        let lex = &a.lexicalization.mean;
        ComparisonRow {
            model: model.to_string(),
            pairing: a.pairing.name.clone(),
            n: a.pairing.len(),
            auc: auc.estimate,
            auc_ci: [auc.low, auc.high],
            auc_raw: a.alignment.raw.auc.estimate,
            lexicalization: lex.estimate,
            lexicalization_ci: [lex.low, lex.high],
            top1: a.retrieval.left_to_right.top1,
            top10: a.retrieval.left_to_right.top10,
            mrr: a.retrieval.left_to_right.mrr,
            spearman_popularity: a.popularity.spearman.as_ref().map(|s| s.estimate),
            probe_withheld_top1: a.probe.as_ref().map(|p| p.procrustes.withheld_top1),
        }
    }
}

/// A model as `models.json` lists it.
#[derive(Debug, Serialize)]
struct ModelEntry<'a> {
    label: &'a str,
    model: &'a ModelProvenance,
    /// This model's own report, relative to the results folder.
    summary: String,
    embedding: &'a EmbedStats,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// `models.json`.
#[derive(Debug, Serialize)]
struct ComparisonSummary<'a> {
    lexalign_version: &'a str,
    caption: String,
    models: Vec<ModelEntry<'a>>,
    data: &'a [crate::source::SourceInfo],
    pair_files: &'a [super::PairFileProvenance],
    seed: u64,
    sample: Option<crate::pairs::Sample>,
    rows: Vec<ComparisonRow>,
    tokens: Vec<&'a TokenRow>,
    skipped: Vec<SkippedIn<'a>>,
}

/// A pairing one model could not analyse.
#[derive(Debug, Serialize)]
struct SkippedIn<'a> {
    model: &'a str,
    #[serde(flatten)]
    skipped: &'a super::Skipped,
}

/// A folder name for a `--models` entry: an installed or imported model's name as
/// given, else the last component of its path.
pub fn label_of(spec: &Path) -> Result<String> {
    let label = spec
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::ensure!(
        !label.is_empty() && !label.starts_with('.'),
        Error::param(
            "models",
            format!(
                "{}: cannot name an output folder; give a model name or a directory with a name",
                spec.display()
            )
        )
    );
    crate::ensure!(
        label != "pairs" && !FILES.contains(&label.as_str()),
        Error::param(
            "models",
            format!("{label}: this name is one of the comparison's own outputs; rename the model folder")
        )
    );
    Ok(label)
}

/// Runs every model in turn (one model in memory at a time) on the same pairings.
pub fn run_models(runs: &[ModelRun]) -> Result<Comparison> {
    let first = runs
        .first()
        .ok_or_else(|| Error::param("models", "empty; name at least one model"))?;
    let pairings = load_pairings(&first.run)?;
    let mut models = Vec::new();
    for m in runs {
        let t0 = Instant::now();
        let mut run = m.run.clone();
        let model = Model::load_with(&run.model_dir, &run.model)?;
        // --layers is for the models that have layers; the others are measured at the end only.
        let note = match (&run.layers, model.info().layers) {
            (Some(_), None) => {
                run.layers = None;
                Some(format!(
                    "layers not measured: {} exposes no per-layer states",
                    m.label
                ))
            }
            _ => None,
        };
        let report =
            run_with(&model, &pairings, &run, t0).with_context(|| format!("model {}", m.label))?;
        let tokens = report
            .analyses
            .iter()
            .map(|a| token_row(&model, &m.label, a))
            .collect::<Result<_>>()?;
        models.push(ModelReport {
            label: m.label.clone(),
            report,
            tokens,
            note,
        });
    }
    Ok(Comparison { models })
}

fn token_row(model: &Model, label: &str, a: &PairingAnalysis) -> Result<TokenRow> {
    let right = &a.pairing.right;
    let pieces = model.digit_pieces(right)?;
    let shapes: Vec<crate::ids::IdShape> =
        right.iter().map(|r| crate::ids::IdShape::of(r)).collect();
    let n = right.len().max(1) as f64;
    let mean = |f: &dyn Fn(usize) -> usize| (0..right.len()).map(f).sum::<usize>() as f64 / n;
    Ok(TokenRow {
        model: label.to_string(),
        pairing: a.pairing.name.clone(),
        strings: right.len(),
        pieces_mean: mean(&|i| pieces[i].pieces),
        single_token_share: mean(&|i| usize::from(a.right_tokens[i].single_token)),
        digits_mean: mean(&|i| shapes[i].digits),
        digit_pieces_mean: mean(&|i| pieces[i].digit_pieces),
        leading_zeros_mean: mean(&|i| shapes[i].leading_zeros),
        leading_zero_pieces_mean: mean(&|i| pieces[i].leading_zero_pieces),
        with_leading_zeros: shapes.iter().filter(|s| s.leading_zeros > 0).count(),
    })
}

impl Comparison {
    /// Pairing names in order of first appearance over the models.
    pub fn pairings(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for m in &self.models {
            for a in &m.report.analyses {
                if !names.contains(&a.pairing.name) {
                    names.push(a.pairing.name.clone());
                }
            }
        }
        names
    }

    /// One row per model and pairing, models in order.
    pub fn rows(&self) -> Vec<ComparisonRow> {
        self.models
            .iter()
            .flat_map(|m| {
                m.report
                    .analyses
                    .iter()
                    .map(|a| ComparisonRow::new(&m.label, a))
            })
            .collect()
    }

    /// The token rows of every model, models in order.
    pub fn tokens(&self) -> Vec<&TokenRow> {
        self.models.iter().flat_map(|m| &m.tokens).collect()
    }

    /// The figure stamp: every model, then the data the first report cites.
    pub fn caption(&self) -> String {
        let models: Vec<&ModelProvenance> = self
            .models
            .iter()
            .map(|m| &m.report.provenance.model)
            .collect();
        self.models
            .first()
            .map(|m| m.report.provenance.caption_for(&models))
            .unwrap_or_default()
    }

    fn summary(&self) -> ComparisonSummary<'_> {
        let p = &self.models[0].report.provenance;
        ComparisonSummary {
            lexalign_version: &p.lexalign_version,
            caption: self.caption(),
            models: self
                .models
                .iter()
                .map(|m| ModelEntry {
                    label: &m.label,
                    model: &m.report.provenance.model,
                    summary: format!("{}/summary.json", m.label),
                    embedding: &m.report.embed_stats,
                    seconds: m.report.timings.total,
                    note: m.note.as_deref(),
                })
                .collect(),
            data: &p.data,
            pair_files: &p.pair_files,
            seed: p.seed,
            sample: p.sample,
            rows: self.rows(),
            tokens: self.tokens(),
            skipped: self
                .models
                .iter()
                .flat_map(|m| {
                    m.report.skipped.iter().map(|s| SkippedIn {
                        model: &m.label,
                        skipped: s,
                    })
                })
                .collect(),
        }
    }

    /// `models.csv`: [`ComparisonRow`]s as a table.
    pub fn table(&self) -> Result<DataFrame> {
        let r = self.rows();
        let f = |g: &dyn Fn(&ComparisonRow) -> f64| r.iter().map(g).collect::<Vec<f64>>();
        let o = |g: &dyn Fn(&ComparisonRow) -> Option<f64>| {
            r.iter().map(g).collect::<Vec<Option<f64>>>()
        };
        let s = |g: &dyn Fn(&ComparisonRow) -> &str| {
            r.iter().map(|x| g(x).to_string()).collect::<Vec<String>>()
        };
        Ok(DataFrame::new_infer_height(vec![
            Column::new("model".into(), s(&|x| &x.model)),
            Column::new("pairing".into(), s(&|x| &x.pairing)),
            Column::new("n".into(), r.iter().map(|x| x.n as u32).collect::<Vec<_>>()),
            Column::new("auc_centred".into(), f(&|x| x.auc)),
            Column::new("auc_centred_low".into(), f(&|x| x.auc_ci[0])),
            Column::new("auc_centred_high".into(), f(&|x| x.auc_ci[1])),
            Column::new("auc_raw".into(), f(&|x| x.auc_raw)),
            Column::new("lexicalization".into(), f(&|x| x.lexicalization)),
            Column::new("lexicalization_low".into(), f(&|x| x.lexicalization_ci[0])),
            Column::new("lexicalization_high".into(), f(&|x| x.lexicalization_ci[1])),
            Column::new("top1".into(), f(&|x| x.top1)),
            Column::new("top10".into(), f(&|x| x.top10)),
            Column::new("mrr".into(), f(&|x| x.mrr)),
            Column::new("spearman_popularity".into(), o(&|x| x.spearman_popularity)),
            Column::new("probe_withheld_top1".into(), o(&|x| x.probe_withheld_top1)),
        ])?)
    }

    /// `tokens.csv`: [`TokenRow`]s as a table.
    pub fn token_table(&self) -> Result<DataFrame> {
        let t = self.tokens();
        let f = |g: &dyn Fn(&TokenRow) -> f64| t.iter().map(|x| g(x)).collect::<Vec<f64>>();
        let u = |g: &dyn Fn(&TokenRow) -> usize| t.iter().map(|x| g(x) as u32).collect::<Vec<_>>();
        Ok(DataFrame::new_infer_height(vec![
            Column::new(
                "model".into(),
                t.iter().map(|x| x.model.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "pairing".into(),
                t.iter().map(|x| x.pairing.clone()).collect::<Vec<_>>(),
            ),
            Column::new("strings".into(), u(&|x| x.strings)),
            Column::new("pieces_mean".into(), f(&|x| x.pieces_mean)),
            Column::new("single_token_share".into(), f(&|x| x.single_token_share)),
            Column::new("digits_mean".into(), f(&|x| x.digits_mean)),
            Column::new("digit_pieces_mean".into(), f(&|x| x.digit_pieces_mean)),
            Column::new("leading_zeros_mean".into(), f(&|x| x.leading_zeros_mean)),
            Column::new(
                "leading_zero_pieces_mean".into(),
                f(&|x| x.leading_zero_pieces_mean),
            ),
            Column::new("with_leading_zeros".into(), u(&|x| x.with_leading_zeros)),
        ])?)
    }

    /// The comparison figures with their stems.
    pub fn figures(&self) -> Result<Vec<(String, Figure)>> {
        let caption = self.caption();
        let pairings = self.pairings();
        let find = |m: &ModelReport, p: &str| -> Option<ComparisonRow> {
            let a = m.report.analyses.iter().find(|a| a.pairing.name == p)?;
            Some(ComparisonRow::new(&m.label, a))
        };
        let series = |g: &dyn Fn(&ComparisonRow) -> (f64, f64, f64)| -> Vec<IntervalSeries> {
            self.models
                .iter()
                .map(|m| IntervalSeries {
                    label: m.label.clone(),
                    values: pairings.iter().map(|p| find(m, p).map(|r| g(&r))).collect(),
                })
                .collect()
        };
        let chance = Some((0.5, "chance".to_string()));
        let auc = plot::intervals(
            "Names and their counterparts, model by model: centred AUC",
            "centred AUC (95% bootstrap CI); 0.5 = chance",
            pairings.clone(),
            series(&|r| (r.auc, r.auc_ci[0], r.auc_ci[1])),
            chance.clone(),
            &caption,
        )?;
        let lex = plot::intervals(
            "Lexicalisation of the right-hand strings, model by model",
            "lexicalisation score (95% bootstrap CI); 0.5 = chance",
            pairings.clone(),
            series(&|r| {
                (
                    r.lexicalization,
                    r.lexicalization_ci[0],
                    r.lexicalization_ci[1],
                )
            }),
            chance,
            &caption,
        )?;
        let bars: Vec<BarSeries> = self
            .models
            .iter()
            .map(|m| {
                let values = pairings
                    .iter()
                    .map(|p| {
                        m.tokens
                            .iter()
                            .find(|t| &t.pairing == p)
                            .map_or(0.0, |t| t.pieces_mean)
                    })
                    .collect();
                BarSeries::new(m.label.clone(), values)
            })
            .collect();
        let pieces = plot::grouped_bars(
            "How each model cuts the right-hand strings (identifiers in the id pairings)",
            pairings,
            bars,
            "pieces per string (mean)",
            None,
            &caption,
        )?;
        Ok(vec![
            (STEMS[0].to_string(), auc),
            (STEMS[1].to_string(), lex),
            (STEMS[2].to_string(), pieces),
        ])
    }

    /// Writes every model's report into `out/<label>/` and `figures_dir/<label>/`,
    /// then the comparison, as one set (see [`Report::write`]). Figures and
    /// summaries of an earlier single-model run in the same folders are removed,
    /// and so are model folders an earlier comparison there wrote and this one lacks.
    pub fn write(&self, out: &Path, figures_dir: &Path) -> Result<Vec<PathBuf>> {
        let mut set = OutputSet::new();
        let stage = set.stage(out)?;
        let fig_stage = set.stage(figures_dir)?;
        // Where each staged file will be once the set is in place.
        let unstage = |p: PathBuf| {
            [(&stage, out), (&fig_stage, figures_dir)]
                .iter()
                .find_map(|(from, to)| p.strip_prefix(from).ok().map(|rel| to.join(rel)))
                .unwrap_or(p)
        };
        let mut written = Vec::new();
        for m in &self.models {
            let files = m
                .report
                .write_as(
                    &stage.join(&m.label),
                    &fig_stage.join(&m.label),
                    (&out.join(&m.label), &figures_dir.join(&m.label)),
                )
                .with_context(|| format!("model {}", m.label))?;
            written.extend(files.into_iter().map(unstage));
        }
        let json = stage.join(FILES[0]);
        crate::io::write_json_atomic(&json, &self.summary())?;
        let csv = stage.join(FILES[1]);
        crate::io::write_table(&csv, &mut self.table()?)?;
        let tokens = stage.join(FILES[2]);
        crate::io::write_table(&tokens, &mut self.token_table()?)?;
        written.extend([json, csv, tokens].map(unstage));
        let mut figure_files = Vec::new();
        for (stem, fig) in self.figures()? {
            let files = fig.save(&fig_stage, &stem)?;
            let files: Vec<PathBuf> = files.into_iter().map(unstage).collect();
            figure_files.push((stem, files[0].clone()));
            written.extend(files);
        }
        let md = stage.join("report.md");
        let text = super::markdown::render_comparison(self, &figure_files, out)?;
        crate::io::write_bytes_atomic(&md, text.as_bytes())?;
        written.push(unstage(md));
        // A single-model run's outputs here would not match this set.
        for name in ["summary.json", "pairs"] {
            set.retire(out, name)?;
        }
        for stem in super::figures::STEMS {
            for ext in ["png", "svg"] {
                set.retire(figures_dir, &format!("{stem}.{ext}"))?;
            }
        }
        for label in earlier_labels(out) {
            if !self.models.iter().any(|m| m.label == label) {
                set.retire(out, &label)?;
                set.retire(figures_dir, &label)?;
            }
        }
        set.commit()?;
        Ok(written)
    }
}

/// Model labels an earlier comparison wrote into `out` (none if unreadable).
fn earlier_labels(out: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(out.join(FILES[0])) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    v["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["label"].as_str())
        // Only names that are plain folder names, never a path out of `out`.
        .filter(|l| label_of(Path::new(l)).is_ok_and(|x| x == *l))
        .map(str::to_string)
        .collect()
}
