//! An outcome run and its outputs: `outcome.json`, `outcome.md`, the joined
//! per-item table(s) and the figures, written as one set.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use super::analysis::{analyse, OutcomeParams, OutcomeResult};
use super::join::{join, Items, Joined, ResultsFile};
use crate::error::{Error, Result};
use crate::io::OutputSet;
use crate::plot::{intervals, lines_with_bands, Figure, IntervalSeries, LineSeries};

/// Where an outcome's numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeProvenance {
    pub lexalign_version: String,
    #[serde(serialize_with = "crate::io::serialize_path")]
    pub items: PathBuf,
    pub items_sha256: String,
    /// The report run the items come from (its `summary.json` caption), if found.
    pub report_caption: Option<String>,
    pub results: Vec<ResultsProvenance>,
    pub seed: u64,
    pub bootstrap: usize,
    pub permutations: usize,
    pub level: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResultsProvenance {
    #[serde(flatten)]
    pub spec: ResultsFile,
    pub sha256: String,
}

impl OutcomeProvenance {
    /// The stamp on every figure.
    pub fn caption(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.report_caption {
            parts.push(c.clone());
        }
        let file = |p: &Path| {
            p.file_name()
                .unwrap_or(p.as_os_str())
                .to_string_lossy()
                .into_owned()
        };
        parts.push(format!("items {}", file(&self.items)));
        for r in &self.results {
            parts.push(format!(
                "results {} ({}, sha256 {}…)",
                file(&r.spec.file),
                r.spec.name,
                &r.sha256[..8.min(r.sha256.len())]
            ));
        }
        parts.push(format!(
            "bootstrap {}, permutations {}, seed {}",
            self.bootstrap, self.permutations, self.seed
        ));
        parts.join(" · ")
    }
}

/// One outcome run: the items joined with each results file, and the statistics.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub provenance: OutcomeProvenance,
    pub joined: Vec<Joined>,
    pub results: Vec<OutcomeResult>,
}

/// `outcome.json`: one results file flat at the top level; several under `runs`.
#[derive(Serialize)]
struct Json<'a> {
    provenance: &'a OutcomeProvenance,
    caption: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    single: Option<&'a OutcomeResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<&'a [OutcomeResult]>,
}

impl Outcome {
    /// Reads the items and every results file, joins and analyses each.
    pub fn run(items: &Path, results: &[ResultsFile], params: &OutcomeParams) -> Result<Outcome> {
        crate::ensure!(
            !results.is_empty(),
            Error::param("results", "give at least one results file")
        );
        let mut names = std::collections::HashSet::new();
        for r in results {
            crate::ensure!(
                names.insert(r.name.as_str()),
                Error::param(
                    "name",
                    format!(
                        "two results files are named {:?}; give each its own --name",
                        r.name
                    )
                )
            );
        }
        params.bootstrap.validate()?;
        let table = Items::read(items)?;
        let mut joined = Vec::new();
        let mut out = Vec::new();
        for r in results {
            let j = join(&table, r)?;
            out.push(analyse(&j, params).map_err(|e| {
                Error::data(
                    format!("results {}", r.file.display()),
                    e.root().to_string(),
                )
            })?);
            joined.push(j);
        }
        let report_caption = items
            .parent()
            .and_then(Path::parent)
            .map(|d| d.join("summary.json"))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| {
                v.get("caption")
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            });
        let provenance = OutcomeProvenance {
            lexalign_version: env!("CARGO_PKG_VERSION").into(),
            items: items.to_path_buf(),
            items_sha256: crate::io::sha256_file(items)?,
            report_caption,
            results: results
                .iter()
                .map(|r| {
                    Ok(ResultsProvenance {
                        spec: r.clone(),
                        sha256: crate::io::sha256_file(&r.file)?,
                    })
                })
                .collect::<Result<_>>()?,
            seed: params.bootstrap.seed,
            bootstrap: params.bootstrap.resamples,
            permutations: params.permutations,
            level: params.bootstrap.level,
        };
        Ok(Outcome {
            provenance,
            joined,
            results: out,
        })
    }

    /// `outcome.json` as text.
    pub fn json(&self) -> Result<String> {
        let single = self.results.len() == 1;
        let j = Json {
            provenance: &self.provenance,
            caption: self.provenance.caption(),
            single: single.then(|| &self.results[0]),
            runs: (!single).then_some(self.results.as_slice()),
        };
        Ok(serde_json::to_string_pretty(&j)?)
    }

    /// The joined per-item table of run `k`: items columns plus correctness,
    /// group and every predictor.
    pub fn joined_table(&self, k: usize) -> Result<DataFrame> {
        let j = &self.joined[k];
        let mut cols = vec![
            Column::new("id".into(), &j.ids),
            Column::new(
                "correct".into(),
                j.correct.iter().map(|&c| c as u32).collect::<Vec<_>>(),
            ),
        ];
        if let Some(g) = &j.group {
            cols.push(Column::new("group".into(), g));
        }
        cols.push(Column::new("bin".into(), &j.bin));
        for (name, v) in &j.predictors {
            cols.push(Column::new(name.as_str().into(), v));
        }
        Ok(DataFrame::new(j.ids.len(), cols)?)
    }

    /// Every figure with its file stem.
    pub fn figures(&self) -> Result<Vec<(String, Figure)>> {
        let cap = self.provenance.caption();
        let several = self.results.len() > 1;
        let mut out = Vec::new();
        for r in &self.results {
            if r.roc.is_empty() {
                continue;
            }
            let stem = if several {
                format!("roc_{}", r.name)
            } else {
                "roc".into()
            };
            out.push((stem, roc_figure(r, &cap)?));
        }
        out.push(("auc_by_predictor".into(), auc_figure(&self.results, &cap)?));
        let lex: Vec<LineSeries> = self
            .results
            .iter()
            .filter(|r| !r.by_lexicalization_decile.is_empty())
            .map(|r| accuracy_series(&r.name, &r.by_lexicalization_decile))
            .collect();
        if !lex.is_empty() {
            out.push((
                "accuracy_by_lexicalization".into(),
                lines_with_bands(
                    "Accuracy by lexicalisation decile (95% Wilson CI)",
                    "lexicalisation decile (1 = lowest score, equal-count)",
                    "accuracy",
                    lex,
                    None,
                    &cap,
                )?,
            ));
        }
        let pop: Vec<LineSeries> = self
            .results
            .iter()
            .filter(|r| !r.by_popularity_bin.is_empty())
            .map(|r| accuracy_series(&r.name, &r.by_popularity_bin))
            .collect();
        if !pop.is_empty() {
            out.push((
                "accuracy_by_popularity".into(),
                lines_with_bands(
                    "Accuracy by popularity bin (95% Wilson CI)",
                    "popularity bin of the items table (1 = most popular)",
                    "accuracy",
                    pop,
                    None,
                    &cap,
                )?,
            ));
        }
        if let Some(f) = coefficient_figure(&self.results, &cap)? {
            out.push(("coefficients".into(), f));
        }
        Ok(out)
    }

    /// Writes `outcome.json`, `outcome.md`, `joined.csv` (one per results file
    /// when several: `joined_<name>.csv`) and `figures/*.png|svg` into `out`, as
    /// one set (all staged, then swapped in).
    pub fn write(&self, out: &Path) -> Result<Vec<PathBuf>> {
        let mut set = OutputSet::new();
        let stage = set.stage(out)?;
        let mut written = Vec::new();
        let json = stage.join("outcome.json");
        crate::io::write_bytes_atomic(&json, self.json()?.as_bytes())?;
        written.push(out.join("outcome.json"));
        let several = self.results.len() > 1;
        let mut tables = Vec::new();
        for k in 0..self.results.len() {
            let name = if several {
                format!("joined_{}.csv", self.results[k].name)
            } else {
                "joined.csv".into()
            };
            crate::io::write_table(&stage.join(&name), &mut self.joined_table(k)?)?;
            written.push(out.join(&name));
            tables.push(name);
        }
        let mut figs = Vec::new();
        for (stem, f) in self.figures()? {
            f.save(&stage.join("figures"), &stem)?;
            written.push(out.join("figures").join(format!("{stem}.png")));
            written.push(out.join("figures").join(format!("{stem}.svg")));
            figs.push(stem);
        }
        let md = super::markdown::render(self, &tables, &figs);
        crate::io::write_bytes_atomic(&stage.join("outcome.md"), md.as_bytes())?;
        written.push(out.join("outcome.md"));
        set.retire(out, "figures")?;
        set.commit()?;
        Ok(written)
    }
}

fn accuracy_series(name: &str, bins: &[super::AccuracyBin]) -> LineSeries {
    LineSeries {
        label: name.to_string(),
        points: bins
            .iter()
            .map(|b| (b.bin as f64, b.accuracy, b.ci[0], b.ci[1]))
            .collect(),
    }
}

/// Predictors drawn in the ROC figure, in this order after the user's own: few
/// enough that every line has its own colour (all AUCs are in outcome.json).
const ROC_SHOWN: [&str; 5] = [
    "lexicalization",
    "log1p_popularity",
    "cosine_centred",
    "id_tokens",
    "id_leading_zeros",
];

fn roc_figure(r: &OutcomeResult, cap: &str) -> Result<Figure> {
    let mut shown: Vec<&str> = vec![ROC_SHOWN[0], ROC_SHOWN[1]];
    shown.extend(r.user_predictors.iter().map(String::as_str));
    shown.extend(&ROC_SHOWN[2..]);
    shown.truncate(6);
    let mut series: Vec<LineSeries> = shown
        .iter()
        .filter_map(|n| r.roc.iter().find(|(name, _)| name == n))
        .map(|(name, pts)| LineSeries {
            label: format!(
                "{name} (AUC {:.2})",
                r.predictors[name].auc.unwrap_or(f64::NAN)
            ),
            points: pts
                .iter()
                .map(|&(x, y)| (x, y, f64::NAN, f64::NAN))
                .collect(),
        })
        .collect();
    series.push(LineSeries {
        label: "chance".into(),
        points: vec![
            (0.0, 0.0, f64::NAN, f64::NAN),
            (1.0, 1.0, f64::NAN, f64::NAN),
        ],
    });
    let title = format!("ROC of each predictor for a correct answer ({})", r.name);
    lines_with_bands(
        &title,
        "false-positive rate (wrong items above the threshold)",
        "true-positive rate (correct items above the threshold)",
        series,
        None,
        cap,
    )
}

fn auc_figure(results: &[OutcomeResult], cap: &str) -> Result<Figure> {
    let names = results[0].predictor_order.clone();
    let series = results
        .iter()
        .map(|r| IntervalSeries {
            label: r.name.clone(),
            values: names
                .iter()
                .map(|n| {
                    let e = r.predictors.get(n)?;
                    Some((e.auc?, e.auc_ci?[0], e.auc_ci?[1]))
                })
                .collect(),
        })
        .collect();
    intervals(
        "AUC of each predictor for a correct answer (95% bootstrap CI)",
        "AUC (> 0.5: correct items have higher values; ranks: lower is better)",
        names,
        series,
        Some((0.5, "chance".into())),
        cap,
    )
}

fn coefficient_figure(results: &[OutcomeResult], cap: &str) -> Result<Option<Figure>> {
    let fitted: Vec<&OutcomeResult> = results.iter().filter(|r| r.logistic.is_some()).collect();
    let Some(first) = fitted.first() else {
        return Ok(None);
    };
    let terms = first.logistic.as_ref().unwrap().terms.clone();
    let series = fitted
        .iter()
        .map(|r| {
            let l = r.logistic.as_ref().unwrap();
            IntervalSeries {
                label: r.name.clone(),
                values: terms
                    .iter()
                    .map(|t| Some((*l.coefficients.get(t)?, l.ci.get(t)?[0], l.ci.get(t)?[1])))
                    .collect(),
            }
        })
        .collect();
    Ok(Some(intervals(
        "Logistic regression of a correct answer on z-scored predictors (95% Wald CI)",
        "change in log-odds per standard deviation",
        terms,
        series,
        Some((0.0, "no effect".into())),
        cap,
    )?))
}
