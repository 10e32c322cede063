//! An outcome run and its outputs: `outcome.json`, `outcome.md`, the joined
//! per-item table(s) and the figures, written as one set.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use super::analysis::{analyse, transfer, OutcomeParams, OutcomeResult};
use super::finetune::{finetune, Finetune};
use super::join::{join, pool, task_name, Items, Joined, ResultsFile};
use crate::error::{Error, Result};
use crate::io::OutputSet;
use crate::plot::{
    intervals, lines_distinct, lines_with_bands, Figure, IntervalSeries, LineSeries,
};

/// Where an outcome's numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeProvenance {
    pub lexalign_version: String,
    /// The items tables (one per task).
    pub items: Vec<ItemsProvenance>,
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
    /// The task (items table) these results answer.
    pub task: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemsProvenance {
    #[serde(serialize_with = "crate::assets::serialize_shown_path")]
    pub file: PathBuf,
    pub task: String,
    pub sha256: String,
}

/// What one outcome run reads: the items tables, each results file with its table,
/// and what to compare.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub items: Vec<PathBuf>,
    /// Each results file with the index of its items table. Files sharing a name
    /// (a model) across tables are pooled into one run, with the task as group.
    pub results: Vec<(usize, ResultsFile)>,
    /// Fit on this run, predict every other.
    pub train_on: Option<String>,
    /// The runs before and after fine-tuning (names).
    pub finetune: Option<(String, String)>,
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
        parts.push(format!(
            "items {}",
            self.items
                .iter()
                .map(|i| file(&i.file))
                .collect::<Vec<_>>()
                .join(", ")
        ));
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
    pub finetune: Option<Finetune>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    finetune: Option<&'a Finetune>,
}

impl Outcome {
    /// Reads the items and every results file, joins and analyses each.
    pub fn run(items: &Path, results: &[ResultsFile], params: &OutcomeParams) -> Result<Outcome> {
        Outcome::run_plan(
            &Plan {
                items: vec![items.to_path_buf()],
                results: results.iter().map(|r| (0, r.clone())).collect(),
                ..Plan::default()
            },
            params,
        )
    }

    /// Reads every items table and results file, joins each results file with its
    /// table, pools a model's tasks, analyses each run, and the transfer and
    /// fine-tuning comparisons the plan asks for.
    pub fn run_plan(plan: &Plan, params: &OutcomeParams) -> Result<Outcome> {
        check_plan(plan, params)?;
        let tables: Vec<Items> = plan
            .items
            .iter()
            .map(|p| Items::read(p))
            .collect::<Result<_>>()?;
        let names = result_names(plan);
        let mut joined = Vec::new();
        let mut out = Vec::new();
        for name in &names {
            let (j, analysed) = analyse_name(plan, &tables, name, params)?;
            joined.push(j);
            out.push(analysed);
        }
        if let Some(t) = &plan.train_on {
            let k = names.iter().position(|n| *n == t.as_str()).ok_or_else(|| {
                Error::param(
                    "train-on",
                    format!("{t:?} is no results name; names: {}", names.join(", ")),
                )
            })?;
            crate::ensure!(
                names.len() > 1,
                Error::param("train-on", "needs a second results file to predict")
            );
            for i in (0..names.len()).filter(|&i| i != k) {
                out[i].transfer =
                    Some(transfer(&joined[k], &joined[i], params).map_err(|e| {
                        Error::data(format!("--train-on {t}"), e.root().to_string())
                    })?);
            }
        }
        let finetune = match &plan.finetune {
            Some((b, a)) => {
                let at = |n: &String| {
                    names.iter().position(|m| *m == n.as_str()).ok_or_else(|| {
                        Error::param("before", format!("no results named {n:?} to compare"))
                    })
                };
                Some(finetune(&joined[at(b)?], &joined[at(a)?], params)?)
            }
            None => None,
        };
        Ok(Outcome {
            provenance: provenance(plan, params)?,
            joined,
            results: out,
            finetune,
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
            finetune: self.finetune.as_ref(),
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
        if j.task.iter().any(|t| *t != j.task[0]) {
            cols.push(Column::new("task".into(), &j.task));
        }
        if let Some(s) = &j.split {
            cols.push(Column::new("split".into(), s));
        }
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
        for r in &self.results {
            if r.groups.len() < 2 {
                continue;
            }
            let stem = if several {
                format!("auc_by_group_{}", r.name)
            } else {
                "auc_by_group".into()
            };
            if let Some(f) = forest_figure(r, &cap)? {
                out.push((stem, f));
            }
        }
        if let Some(ft) = &self.finetune {
            if let Some(f) = learned_figure(ft, &cap)? {
                out.push(("learned_by_predictor".into(), f));
            }
        }
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
                    "Accuracy by lexicalisation decile (95% Wilson CI; tied scores kept in one bin)",
                    "lexicalisation decile (1 = lowest; ties in one bin: sizes differ, a tenth may be missing)",
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
        if let Some(ft) = &self.finetune {
            let mut cols = vec![Column::new("id".into(), &ft.ids)];
            if let Some(sp) = &ft.split {
                cols.push(Column::new("split".into(), sp));
            }
            cols.push(Column::new(
                "change".into(),
                ft.changes.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            ));
            let mut df = DataFrame::new(ft.ids.len(), cols)?;
            crate::io::write_table(&stage.join("finetune.csv"), &mut df)?;
            written.push(out.join("finetune.csv"));
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

/// The ROC of every predictor with an AUC: each line its own colour, dash pattern
/// and marker, so overlapping curves stay apart; the study's two factors first.
fn roc_figure(r: &OutcomeResult, cap: &str) -> Result<Figure> {
    let mut order: Vec<&(String, Vec<(f64, f64)>)> = r.roc.iter().collect();
    let rank = |n: &str| match n {
        "lexicalization" => 0,
        "log1p_popularity" => 1,
        _ => 2,
    };
    order.sort_by_key(|(n, _)| rank(n));
    let mut series: Vec<LineSeries> = order
        .into_iter()
        .map(|(name, pts)| LineSeries {
            label: format!(
                "{name} (AUC {:.3})",
                r.predictors[name].auc.unwrap_or(f64::NAN)
            ),
            points: pts
                .iter()
                .map(|&(x, y)| (x, y, f64::NAN, f64::NAN))
                .collect(),
        })
        .collect();
    series.push(LineSeries {
        label: "chance (AUC 0.5)".into(),
        points: vec![
            (0.0, 0.0, f64::NAN, f64::NAN),
            (1.0, 1.0, f64::NAN, f64::NAN),
        ],
    });
    let title = format!("ROC of each predictor for a correct answer ({})", r.name);
    lines_distinct(
        &title,
        "false-positive rate (wrong items above the threshold)",
        "true-positive rate (correct items above the threshold)",
        series,
        None,
        cap,
    )
}

/// Forest plot: each group's (task's) AUC of the study's factors, 95% bootstrap CI.
fn forest_figure(r: &OutcomeResult, cap: &str) -> Result<Option<Figure>> {
    let groups: Vec<String> = r.groups.keys().cloned().collect();
    let mut series = Vec::new();
    for p in ["lexicalization", "log1p_popularity"]
        .iter()
        .copied()
        .chain(r.user_predictors.iter().map(String::as_str))
    {
        let values: Vec<Option<(f64, f64, f64)>> = r
            .groups
            .values()
            .map(|g| {
                let e = g.predictors.get(p)?;
                Some((e.auc?, e.auc_ci?[0], e.auc_ci?[1]))
            })
            .collect();
        if values.iter().any(Option::is_some) {
            series.push(IntervalSeries {
                label: p.to_string(),
                values,
            });
        }
    }
    if series.is_empty() {
        return Ok(None);
    }
    let by = r.grouping.as_deref().unwrap_or("group");
    Ok(Some(intervals(
        &format!(
            "AUC for a correct answer within each {by} ({}; 95% bootstrap CI; a missing point: not computed)",
            r.name
        ),
        "AUC (> 0.5: correct items have higher values)",
        groups,
        series,
        Some((0.5, "chance".into())),
        cap,
    )?))
}

/// Which predictors explain being learned: AUC among the items wrong before
/// fine-tuning, per split of the items table.
fn learned_figure(ft: &Finetune, cap: &str) -> Result<Option<Figure>> {
    let splits: Vec<&String> = {
        let s: Vec<&String> = ft.gains.keys().filter(|k| *k != "all").collect();
        if s.is_empty() {
            ft.gains.keys().collect()
        } else {
            s
        }
    };
    let names: Vec<String> = ft.gains["all"].predictors.keys().cloned().collect();
    let series: Vec<IntervalSeries> = splits
        .iter()
        .map(|s| {
            let g = &ft.gains[*s];
            IntervalSeries {
                label: format!(
                    "{s} ({} learned of {} wrong before)",
                    g.learned,
                    g.learned + g.never
                ),
                values: names
                    .iter()
                    .map(|n| {
                        let e = g.predictors.get(n)?;
                        Some((e.auc?, e.auc_ci?[0], e.auc_ci?[1]))
                    })
                    .collect(),
            }
        })
        .collect();
    if series.iter().all(|s| s.values.iter().all(Option::is_none)) {
        return Ok(None);
    }
    let names = labelled_rows(&names, &series, |n| {
        ft.gains["all"]
            .predictors
            .get(n)?
            .skipped
            .as_deref()
            .map(short)
    });
    Ok(Some(intervals(
        &format!(
            "Which items did fine-tuning teach? AUC of each predictor for being learned ({} → {}; items wrong before; 95% bootstrap CI)",
            ft.before, ft.after
        ),
        "AUC for learned vs never learned (> 0.5: learned items have higher values)",
        names,
        series,
        Some((0.5, "chance".into())),
        cap,
    )?))
}

/// Row labels of an interval figure: a row no series has a value for says why
/// (e.g. a constant predictor), instead of standing empty.
fn labelled_rows(
    names: &[String],
    series: &[IntervalSeries],
    why: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    names
        .iter()
        .enumerate()
        .map(|(k, n)| {
            if series.iter().all(|s| s.values[k].is_none()) {
                format!("{n} (not computed: {})", why(n).unwrap_or_default())
            } else {
                n.clone()
            }
        })
        .collect()
}

/// The first word(s) of a skip reason ("constant", "no item has a value", …).
fn short(why: &str) -> String {
    why.split(" (").next().unwrap_or(why).to_string()
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
        .collect::<Vec<_>>();
    let names = labelled_rows(&names, &series, |n| {
        results[0].predictors.get(n)?.skipped.as_deref().map(short)
    });
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

/// The plan's own checks: something to join, one name per results file and task.
fn check_plan(plan: &Plan, params: &OutcomeParams) -> Result<()> {
    crate::ensure!(
        !plan.results.is_empty(),
        Error::param("results", "give at least one results file")
    );
    crate::ensure!(
        !plan.items.is_empty(),
        Error::param("items", "give at least one items table")
    );
    let mut seen = std::collections::HashSet::new();
    for (k, r) in &plan.results {
        crate::ensure!(
            seen.insert((*k, r.name.as_str())),
            Error::param(
                "name",
                format!(
                    "two results files for {} are named {:?}; give each its own --name",
                    plan.items[*k].display(),
                    r.name
                )
            )
        );
    }
    params.bootstrap.validate()
}

/// The results names in the order they first appear.
fn result_names(plan: &Plan) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for (_, r) in &plan.results {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    names
}

/// One name's results files joined to their tasks' items, pooled, and analysed
/// (an analysis error names the files).
fn analyse_name(
    plan: &Plan,
    tables: &[Items],
    name: &str,
    params: &OutcomeParams,
) -> Result<(Joined, OutcomeResult)> {
    let mine = || plan.results.iter().filter(|(_, r)| r.name == name);
    let parts = mine()
        .map(|(k, r)| join(&tables[*k], r))
        .collect::<Result<Vec<_>>>()?;
    let j = pool(parts)?;
    let files: Vec<String> = mine().map(|(_, r)| r.file.display().to_string()).collect();
    let analysed = analyse(&j, params).map_err(|e| {
        Error::data(
            format!("results {}", files.join(", ")),
            e.root().to_string(),
        )
    })?;
    Ok((j, analysed))
}

/// What the outcome came from: the files (with sha256), the report's caption when
/// the first items table sits in a report's `pairs/`, and the settings.
fn provenance(plan: &Plan, params: &OutcomeParams) -> Result<OutcomeProvenance> {
    let report_caption = plan.items[0]
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
    Ok(OutcomeProvenance {
        lexalign_version: env!("CARGO_PKG_VERSION").into(),
        items: plan
            .items
            .iter()
            .map(|p| {
                Ok(ItemsProvenance {
                    file: p.clone(),
                    task: task_name(p),
                    sha256: crate::io::sha256_file(p)?,
                })
            })
            .collect::<Result<_>>()?,
        report_caption,
        results: plan
            .results
            .iter()
            .map(|(k, r)| {
                Ok(ResultsProvenance {
                    spec: r.clone(),
                    sha256: crate::io::sha256_file(&r.file)?,
                    task: task_name(&plan.items[*k]),
                })
            })
            .collect::<Result<_>>()?,
        seed: params.bootstrap.seed,
        bootstrap: params.bootstrap.resamples,
        permutations: params.permutations,
        level: params.bootstrap.level,
    })
}
