//! One results file's statistics: accuracy, each predictor's AUC, Spearman between
//! predictors, the logistic fit of correctness on the study's two factors, and
//! accuracy by lexicalisation decile and popularity bin — overall and per group.

use std::collections::BTreeMap;

use ndarray::Array2;
use serde::Serialize;

use super::join::{JoinStats, Joined};
use super::logistic::{fit_logistic, likelihood_ratio, standardise, LogisticFit, LrTest};
use super::stats::{predictor_auc, roc_curve, wilson};
use crate::error::{Error, Result};
use crate::metrics::stats::{spearman, BootstrapConfig};

/// The study's two factors: the default logistic terms.
pub const DEFAULT_TERMS: [&str; 2] = ["log1p_popularity", "lexicalization"];

/// Checked settings of an outcome analysis.
#[derive(Debug, Clone)]
pub struct OutcomeParams {
    pub bootstrap: BootstrapConfig,
    /// Label permutations behind each AUC's p-value.
    pub permutations: usize,
    /// Logistic terms; `None` = [`DEFAULT_TERMS`] that are available.
    pub terms: Option<Vec<String>>,
}

/// A predictor's AUC for correctness, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct PredictorEntry {
    /// Items with a value.
    pub n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_correct: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc_ci: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permutations: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The logistic fit as written to `outcome.json`: maps keyed by term.
#[derive(Debug, Clone, Serialize)]
pub struct LogisticSummary {
    pub terms: Vec<String>,
    /// Complete cases used.
    pub n: usize,
    /// Terms are z-scored (mean, SD of the items used), so a coefficient is the
    /// change in log-odds per SD.
    pub standardisation: BTreeMap<String, [f64; 2]>,
    pub coefficients: BTreeMap<String, f64>,
    pub se: BTreeMap<String, f64>,
    pub ci: BTreeMap<String, [f64; 2]>,
    pub p_value: BTreeMap<String, f64>,
    pub mcfadden_r2: f64,
    pub log_likelihood: f64,
    pub null_log_likelihood: f64,
    pub level: f64,
    /// Likelihood-ratio test of lexicalisation given the other terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_test: Option<LrSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LrSummary {
    /// The term dropped in the reduced model.
    pub dropped: String,
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
}

/// Accuracy within one bin (Wilson interval).
#[derive(Debug, Clone, Serialize)]
pub struct AccuracyBin {
    pub bin: u32,
    pub n: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub ci: [f64; 2],
}

/// Spearman correlations between predictors (pairwise complete items).
#[derive(Debug, Clone, Serialize)]
pub struct SpearmanTable {
    pub names: Vec<String>,
    /// `None` where a pair has < 3 common items or a constant column.
    pub matrix: Vec<Vec<Option<f64>>>,
}

/// A group's accuracy and predictor AUCs.
#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    pub n: usize,
    pub accuracy: f64,
    pub accuracy_ci: [f64; 2],
    pub predictors: BTreeMap<String, PredictorEntry>,
}

/// Everything measured for one results file.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeResult {
    pub name: String,
    pub n: usize,
    pub n_correct: usize,
    pub accuracy: f64,
    pub accuracy_ci: [f64; 2],
    /// Mean lexicalisation score of the joined items (the report model's), beside
    /// the accuracy it may explain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexicalization_mean: Option<f64>,
    pub join: JoinStats,
    /// Predictor names in table order (the maps below are sorted by name).
    pub predictor_order: Vec<String>,
    /// Those that came from the results file (`--predictor`).
    pub user_predictors: Vec<String>,
    pub predictors: BTreeMap<String, PredictorEntry>,
    pub spearman: SpearmanTable,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logistic: Option<LogisticSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logistic_skipped: Option<String>,
    pub by_lexicalization_decile: Vec<AccuracyBin>,
    pub by_popularity_bin: Vec<AccuracyBin>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, GroupResult>,
    /// ROC points per predictor with an AUC (for figures).
    #[serde(skip)]
    pub roc: Vec<(String, Vec<(f64, f64)>)>,
}

/// Analyses one joined results file.
pub fn analyse(j: &Joined, params: &OutcomeParams) -> Result<OutcomeResult> {
    let level = params.bootstrap.level;
    let n = j.correct.len();
    let n_correct = j.correct.iter().filter(|&&c| c).count();
    let acc = wilson(n_correct, n, level)?;
    let predictors = predictor_aucs(j, &j.correct, None, params);
    let mut roc = Vec::new();
    for (name, values) in &j.predictors {
        if predictors[name].auc.is_some() {
            let (v, c) = complete(values, &j.correct);
            roc.push((name.clone(), roc_curve(&v, &c)?));
        }
    }
    let lex = j
        .predictors
        .iter()
        .find(|(n, _)| n == "lexicalization")
        .map(|(_, v)| v.as_slice());
    let (logistic, logistic_skipped) = match logistic(j, params, level) {
        Ok(l) => (Some(l), None),
        // A bad --terms is the user's to fix; a fit the data cannot give is reported.
        Err(e) if matches!(e.root(), Error::InvalidParameter { .. }) => return Err(e),
        Err(e) => (None, Some(e.root().to_string())),
    };
    Ok(OutcomeResult {
        name: j.name.clone(),
        n,
        n_correct,
        accuracy: acc.estimate,
        accuracy_ci: [acc.low, acc.high],
        lexicalization_mean: lex.and_then(|v| {
            let x: Vec<f64> = v.iter().flatten().copied().collect();
            (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
        }),
        join: j.join.clone(),
        predictor_order: j.predictors.iter().map(|(n, _)| n.clone()).collect(),
        user_predictors: j.user_predictors.clone(),
        predictors,
        spearman: spearman_table(j),
        logistic,
        logistic_skipped,
        by_lexicalization_decile: match lex {
            Some(v) => deciles(v, &j.correct, level)?,
            None => Vec::new(),
        },
        by_popularity_bin: by_bin(&j.bin, &j.correct, level)?,
        groups: groups(j, params)?,
        roc,
    })
}

/// Values and labels of the items that have a value.
fn complete(values: &[Option<f64>], correct: &[bool]) -> (Vec<f64>, Vec<bool>) {
    values
        .iter()
        .zip(correct)
        .filter_map(|(v, &c)| v.map(|v| (v, c)))
        .unzip()
}

/// AUC per predictor over the items in `rows` (all when `None`).
fn predictor_aucs(
    j: &Joined,
    correct: &[bool],
    rows: Option<&[usize]>,
    params: &OutcomeParams,
) -> BTreeMap<String, PredictorEntry> {
    let mut out = BTreeMap::new();
    for (name, values) in &j.predictors {
        let (v, c): (Vec<f64>, Vec<bool>) = match rows {
            Some(r) => complete(
                &r.iter().map(|&i| values[i]).collect::<Vec<_>>(),
                &r.iter().map(|&i| correct[i]).collect::<Vec<_>>(),
            ),
            None => complete(values, correct),
        };
        let entry = match predictor_auc(&v, &c, &params.bootstrap, params.permutations) {
            Ok(a) => PredictorEntry {
                n: a.n,
                n_correct: Some(a.n_correct),
                auc: Some(a.auc),
                auc_ci: Some([a.ci.low, a.ci.high]),
                p_value: Some(a.p_value),
                permutations: Some(a.permutations),
                skipped: None,
            },
            Err(e) => PredictorEntry {
                n: v.len(),
                n_correct: None,
                auc: None,
                auc_ci: None,
                p_value: None,
                permutations: None,
                skipped: Some(if v.is_empty() {
                    "no item has a value".to_string()
                } else {
                    e.root().to_string()
                }),
            },
        };
        out.insert(name.clone(), entry);
    }
    out
}

/// The logistic fit on z-scored terms over complete cases, with the LR test of
/// lexicalisation given the other terms.
fn logistic(j: &Joined, params: &OutcomeParams, level: f64) -> Result<LogisticSummary> {
    let available = |t: &str| {
        j.predictors
            .iter()
            .any(|(n, v)| n == t && v.iter().any(Option::is_some))
    };
    let terms: Vec<String> = match &params.terms {
        Some(t) => {
            for name in t {
                crate::ensure!(
                    j.predictors.iter().any(|(n, _)| n == name),
                    Error::param(
                        "terms",
                        format!(
                            "{name:?} is no predictor; predictors: {}",
                            j.predictors
                                .iter()
                                .map(|(n, _)| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    )
                );
            }
            t.clone()
        }
        None => DEFAULT_TERMS
            .iter()
            .filter(|t| available(t))
            .map(|t| t.to_string())
            .collect(),
    };
    crate::ensure!(
        !terms.is_empty(),
        Error::data(
            "logistic fit",
            "no term has values (no popularity and no lexicalisation)"
        )
    );
    let cols: Vec<&Vec<Option<f64>>> = terms
        .iter()
        .map(|t| &j.predictors.iter().find(|(n, _)| n == t).unwrap().1)
        .collect();
    let rows: Vec<usize> = (0..j.correct.len())
        .filter(|&i| cols.iter().all(|c| c[i].is_some()))
        .collect();
    let y: Vec<bool> = rows.iter().map(|&i| j.correct[i]).collect();
    let mut x = Array2::<f64>::zeros((rows.len(), terms.len()));
    let mut standardisation = BTreeMap::new();
    for (k, c) in cols.iter().enumerate() {
        let raw: Vec<f64> = rows.iter().map(|&i| c[i].unwrap()).collect();
        let (z, mean, sd) = standardise(&raw).map_err(|e| {
            Error::data("logistic fit", format!("term {:?}: {}", terms[k], e.root()))
        })?;
        x.column_mut(k).assign(&ndarray::Array1::from(z));
        standardisation.insert(terms[k].clone(), [mean, sd]);
    }
    let fit = fit_logistic(x.view(), &y, &terms, level)?;
    let lr_test = match terms.iter().position(|t| t == "lexicalization") {
        Some(k) if terms.len() > 1 => {
            let keep: Vec<usize> = (0..terms.len()).filter(|&i| i != k).collect();
            let names: Vec<String> = keep.iter().map(|&i| terms[i].clone()).collect();
            let reduced =
                fit_logistic(x.select(ndarray::Axis(1), &keep).view(), &y, &names, level)?;
            let LrTest {
                statistic,
                df,
                p_value,
            } = likelihood_ratio(&fit, &reduced)?;
            Some(LrSummary {
                dropped: "lexicalization".into(),
                statistic,
                df,
                p_value,
            })
        }
        _ => None,
    };
    Ok(summarise(&fit, terms, standardisation, lr_test))
}

fn summarise(
    fit: &LogisticFit,
    terms: Vec<String>,
    standardisation: BTreeMap<String, [f64; 2]>,
    lr_test: Option<LrSummary>,
) -> LogisticSummary {
    let map = |v: &[f64]| -> BTreeMap<String, f64> {
        fit.names.iter().cloned().zip(v.iter().copied()).collect()
    };
    LogisticSummary {
        terms,
        n: fit.n,
        standardisation,
        coefficients: map(&fit.coefficients),
        se: map(&fit.se),
        ci: fit
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), [fit.ci_low[i], fit.ci_high[i]]))
            .collect(),
        p_value: map(&fit.p_value),
        mcfadden_r2: fit.mcfadden_r2,
        log_likelihood: fit.log_likelihood,
        null_log_likelihood: fit.null_log_likelihood,
        level: fit.level,
        lr_test,
    }
}

fn spearman_table(j: &Joined) -> SpearmanTable {
    let names: Vec<String> = j.predictors.iter().map(|(n, _)| n.clone()).collect();
    let k = names.len();
    let rho = |a: usize, b: usize| -> Option<f64> {
        let (x, y): (Vec<f64>, Vec<f64>) = j.predictors[a]
            .1
            .iter()
            .zip(&j.predictors[b].1)
            .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
            .unzip();
        if x.len() >= 3 {
            spearman(&x, &y).ok()
        } else {
            None
        }
    };
    // Symmetric: compute the upper triangle, mirror it.
    let mut matrix = vec![vec![None; k]; k];
    for (a, b) in (0..k).flat_map(|a| (a..k).map(move |b| (a, b))) {
        let r = rho(a, b);
        matrix[a][b] = r;
        matrix[b][a] = r;
    }
    SpearmanTable { names, matrix }
}

/// Accuracy by decile of `values` (equal-count bins over rank, 1 = lowest).
fn deciles(values: &[Option<f64>], correct: &[bool], level: f64) -> Result<Vec<AccuracyBin>> {
    let mut idx: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    idx.sort_by(|&a, &b| values[a].unwrap().total_cmp(&values[b].unwrap()));
    let n = idx.len();
    let bins: Vec<Option<u32>> = {
        let mut b = vec![None; values.len()];
        for (r, &i) in idx.iter().enumerate() {
            b[i] = Some((r * 10 / n.max(1)) as u32 + 1);
        }
        b
    };
    by_bin(&bins, correct, level)
}

fn by_bin(bins: &[Option<u32>], correct: &[bool], level: f64) -> Result<Vec<AccuracyBin>> {
    let mut m: BTreeMap<u32, (usize, usize)> = BTreeMap::new();
    for (b, &c) in bins.iter().zip(correct) {
        if let Some(b) = b {
            let e = m.entry(*b).or_default();
            e.0 += 1;
            e.1 += c as usize;
        }
    }
    m.into_iter()
        .map(|(bin, (n, k))| {
            let w = wilson(k, n, level)?;
            Ok(AccuracyBin {
                bin,
                n,
                correct: k,
                accuracy: w.estimate,
                ci: [w.low, w.high],
            })
        })
        .collect()
}

fn groups(j: &Joined, params: &OutcomeParams) -> Result<BTreeMap<String, GroupResult>> {
    let Some(g) = &j.group else {
        return Ok(BTreeMap::new());
    };
    let mut rows: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, name) in g.iter().enumerate() {
        rows.entry(name.as_str()).or_default().push(i);
    }
    rows.into_iter()
        .map(|(name, r)| {
            let k = r.iter().filter(|&&i| j.correct[i]).count();
            let w = wilson(k, r.len(), params.bootstrap.level)?;
            Ok((
                name.to_string(),
                GroupResult {
                    n: r.len(),
                    accuracy: w.estimate,
                    accuracy_ci: [w.low, w.high],
                    predictors: predictor_aucs(j, &j.correct, Some(&r), params),
                },
            ))
        })
        .collect()
}
