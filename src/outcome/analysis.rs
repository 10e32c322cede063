//! One results file's statistics: accuracy, each predictor's AUC, Spearman between
//! predictors, the logistic fit of correctness on the study's two factors, and
//! accuracy by lexicalisation decile and popularity bin — overall and per group.

use std::collections::BTreeMap;

use ndarray::Array2;
use serde::Serialize;

use super::join::{JoinStats, Joined};
use super::logistic::{
    firth_likelihood_ratio, fit_logistic_with, likelihood_ratio, standardise, LogisticFit, LrTest,
    Method,
};
use crate::error::{Error, Result};
use crate::stats::auc;
use crate::stats::{predictor_auc, roc_curve, wilson};
use crate::stats::{spearman, BootstrapConfig};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The study's two factors: the default logistic terms.
pub const DEFAULT_TERMS: [&str; 2] = ["log1p_popularity", "lexicalization"];

/// Checked settings of an outcome analysis.
#[derive(Debug, Clone)]
pub struct OutcomeParams {
    pub bootstrap: BootstrapConfig,
    /// Label permutations behind each AUC's p-value.
    pub permutations: usize,
    /// Logistic terms; `None` = [`DEFAULT_TERMS`] that are available. The term
    /// [`GROUP_TERM`] stands for indicator terms of the group (or task).
    pub terms: Option<Vec<String>>,
    /// Firth's penalised likelihood instead of maximum likelihood.
    pub firth: bool,
    /// Folds of the cross-validated AUCs (0 = none).
    pub folds: usize,
}

impl OutcomeParams {
    pub fn method(&self) -> Method {
        if self.firth {
            Method::Firth
        } else {
            Method::MaximumLikelihood
        }
    }
}

/// The `--terms` entry for the group's indicator terms (one level is the reference).
pub const GROUP_TERM: &str = "group";

/// Below this many events (items of the rarer outcome) per parameter a logistic
/// fit is flagged (Peduzzi et al. 1996).
pub const MIN_EVENTS_PER_PARAMETER: f64 = 10.0;

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
    /// Cross-validated AUC, the direction learned on the training folds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv: Option<CvAuc>,
}

/// A k-fold cross-validated AUC: each fold's items scored by what was learned on
/// the other folds (stratified folds, seeded).
#[derive(Debug, Clone, Serialize)]
pub struct CvAuc {
    pub folds: usize,
    pub seed: u64,
    /// Mean of the folds' AUCs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    /// Standard deviation of the folds' AUCs (n − 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sd: Option<f64>,
    pub fold_auc: Vec<f64>,
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
    /// "maximum_likelihood" or "firth".
    pub method: Method,
    /// Items of the rarer outcome (correct or wrong).
    pub events: usize,
    /// Coefficients besides the intercept.
    pub parameters: usize,
    pub events_per_parameter: f64,
    /// Set when events per parameter < 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The group's reference level, when the terms hold `group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_reference: Option<String>,
    /// Cross-validated AUC of the model's linear predictor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv: Option<CvAuc>,
}

/// Lexicalisation within tasks against between them.
#[derive(Debug, Clone, Serialize)]
pub struct WithinBetween {
    /// The grouping: `task` (one items table per task) or the `--group` column.
    pub grouping: String,
    pub groups: usize,
    pub reference: String,
    /// Lexicalisation's coefficient (per pooled SD) ignoring the groups.
    pub pooled: Coefficient,
    /// … with group fixed effects (indicator terms): the within-group effect.
    pub within: Coefficient,
    /// LR test of lexicalisation given the group indicators (and other terms).
    pub within_lr: LrSummary,
    /// Mundlak split: lexicalisation's group mean as its own term beside the
    /// within-group deviation; the between-group effect.
    pub between: Coefficient,
    /// Wald test of between − within = 0 (is the pooled effect the within one?).
    pub difference: f64,
    pub difference_se: f64,
    pub difference_p: f64,
    /// LR test of the group indicators given the terms (tasks differ beyond them?).
    pub groups_lr: LrSummary,
    /// The other terms in every model.
    pub other_terms: Vec<String>,
    pub method: Method,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coefficient {
    pub estimate: f64,
    pub se: f64,
    pub ci: [f64; 2],
    pub p_value: f64,
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
    /// Lowest and highest value in the bin (deciles only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
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
    /// How the deciles treat tied values.
    pub decile_ties: &'static str,
    pub by_popularity_bin: Vec<AccuracyBin>,
    /// What the groups are: the `--group` column or `task` (several items tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grouping: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, GroupResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_between: Option<WithinBetween>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_between_skipped: Option<String>,
    /// The model fitted on another results file, scoring these items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// ROC points per predictor with an AUC (for figures).
    #[serde(skip)]
    pub roc: Vec<(String, Vec<(f64, f64)>)>,
}

/// How the lexicalisation deciles treat ties (stated in outputs).
pub const DECILE_TIES: &str = "tied values kept in one bin (bins of unequal size; a bin holds the items whose rank of first occurrence falls in its tenth; empty tenths are dropped)";

/// A model fitted on one results file (`--train-on`) scoring another's items.
#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    pub trained_on: String,
    pub terms: Vec<String>,
    /// Items of this run with every term.
    pub n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auc_ci: Option<[f64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Mean predicted probability of a correct answer, beside the observed accuracy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_predicted: Option<f64>,
    pub accuracy: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Analyses one joined results file.
pub fn analyse(j: &Joined, params: &OutcomeParams) -> Result<OutcomeResult> {
    let level = params.bootstrap.level;
    let n = j.correct.len();
    let n_correct = j.correct.iter().filter(|&&c| c).count();
    let acc = wilson(n_correct, n, level)?;
    let mut predictors = predictor_aucs(j, &j.correct, None, params);
    if params.folds > 0 {
        let folds = stratified_folds(&j.correct, params.folds, params.bootstrap.seed);
        for (name, values) in &j.predictors {
            let e = predictors.get_mut(name).unwrap();
            if e.auc.is_some() {
                e.cv = Some(cv_single(
                    values,
                    &j.correct,
                    folds.as_ref().map(|f| f.as_slice()),
                    params,
                ));
            }
        }
    }
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
    let (logistic, logistic_skipped) = match logistic(j, params) {
        Ok(l) => (Some(l), None),
        // A bad --terms is the user's to fix; a fit the data cannot give is reported.
        Err(e) if matches!(e.root(), Error::InvalidParameter { .. }) => return Err(e),
        Err(e) => (None, Some(e.root().to_string())),
    };
    let (within_between, within_between_skipped) = match group_labels(j) {
        Some((grouping, _)) if lex.is_some() => match within_between(j, params, grouping) {
            Ok(w) => (Some(w), None),
            Err(e) if matches!(e.root(), Error::InvalidParameter { .. }) => return Err(e),
            Err(e) => (None, Some(e.root().to_string())),
        },
        _ => (None, None),
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
        decile_ties: DECILE_TIES,
        by_popularity_bin: by_bin(&j.bin, &j.correct, level)?,
        grouping: group_labels(j).map(|(g, _)| g.to_string()),
        groups: groups(j, params)?,
        within_between,
        within_between_skipped,
        transfer: None,
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

/// Why a predictor has no AUC, if it has none for a reason other than the labels.
fn constant(v: &[f64]) -> Option<String> {
    (!v.is_empty() && v.iter().all(|&x| x == v[0])).then(|| {
        format!(
            "constant (every item has the value {}; no AUC, it cannot rank items)",
            v[0]
        )
    })
}

/// AUC of one predictor for correctness, or why there is none.
pub(super) fn auc_entry(v: &[f64], c: &[bool], params: &OutcomeParams) -> PredictorEntry {
    let skipped = |why: String| PredictorEntry {
        n: v.len(),
        n_correct: None,
        auc: None,
        auc_ci: None,
        p_value: None,
        permutations: None,
        skipped: Some(why),
        cv: None,
    };
    if v.is_empty() {
        return skipped("no item has a value".into());
    }
    if let Some(why) = constant(v) {
        return skipped(why);
    }
    match predictor_auc(v, c, &params.bootstrap, params.permutations) {
        Ok(a) => PredictorEntry {
            n: a.n,
            n_correct: Some(a.n_correct),
            auc: Some(a.auc),
            auc_ci: Some([a.ci.low, a.ci.high]),
            p_value: Some(a.p_value),
            permutations: Some(a.permutations),
            skipped: None,
            cv: None,
        },
        Err(e) => skipped(e.root().to_string()),
    }
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
        out.insert(name.clone(), auc_entry(&v, &c, params));
    }
    out
}

/// Stratified fold of each item (0..k): each class shuffled by a ChaCha8 generator
/// seeded with `seed` on stream 2, then dealt round-robin (the wrong items continue
/// where the correct ones stopped, so fold sizes differ by at most one). Errors
/// when a class has fewer than k items (a fold would lack it).
pub fn stratified_folds(correct: &[bool], k: usize, seed: u64) -> Result<Vec<usize>> {
    crate::ensure!(
        k >= 2,
        Error::param("folds", format!("{k}: need at least 2 folds"))
    );
    let n1 = correct.iter().filter(|&&c| c).count();
    let n0 = correct.len() - n1;
    crate::ensure!(
        n1.min(n0) >= k,
        Error::data(
            "cross-validation",
            format!("{n1} correct and {n0} wrong items: each of {k} folds needs both")
        )
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(2);
    let mut fold = vec![0; correct.len()];
    let mut next = 0;
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..correct.len())
            .filter(|&i| correct[i] == class)
            .collect();
        idx.shuffle(&mut rng);
        for i in idx {
            fold[i] = next % k;
            next += 1;
        }
    }
    Ok(fold)
}

/// Mean and SD of the folds' AUCs; `score(train, test)` gives the test items'
/// scores from a model learned on the training items.
fn cv_auc<F>(folds: &[usize], k: usize, correct: &[bool], seed: u64, mut score: F) -> CvAuc
where
    F: FnMut(&[usize], &[usize]) -> Result<Vec<f64>>,
{
    let mut fold_auc = Vec::with_capacity(k);
    let mut fail = None;
    for f in 0..k {
        let train: Vec<usize> = (0..folds.len()).filter(|&i| folds[i] != f).collect();
        let test: Vec<usize> = (0..folds.len()).filter(|&i| folds[i] == f).collect();
        let result = score(&train, &test).and_then(|s| {
            let pos: Vec<f64> = test
                .iter()
                .zip(&s)
                .filter(|(&i, _)| correct[i])
                .map(|(_, &v)| v)
                .collect();
            let neg: Vec<f64> = test
                .iter()
                .zip(&s)
                .filter(|(&i, _)| !correct[i])
                .map(|(_, &v)| v)
                .collect();
            auc(&pos, &neg)
        });
        match result {
            Ok(a) => fold_auc.push(a),
            Err(e) => {
                fail = Some(format!("fold {}: {}", f + 1, e.root()));
                break;
            }
        }
    }
    let (auc, sd) = if fail.is_none() {
        let (m, v) = crate::stats::mean_var(&fold_auc);
        (Some(m), Some(v.sqrt()))
    } else {
        (None, None)
    };
    CvAuc {
        folds: k,
        seed,
        auc,
        sd,
        fold_auc: if fail.is_none() { fold_auc } else { Vec::new() },
        skipped: fail,
    }
}

fn cv_skipped(k: usize, seed: u64, why: String) -> CvAuc {
    CvAuc {
        folds: k,
        seed,
        auc: None,
        sd: None,
        fold_auc: Vec::new(),
        skipped: Some(why),
    }
}

/// A single predictor cross-validated: its direction (higher or lower values for
/// a correct answer) is learned on the training folds (training AUC ≥ ½ keeps it).
fn cv_single(
    values: &[Option<f64>],
    correct: &[bool],
    folds: std::result::Result<&[usize], &Error>,
    params: &OutcomeParams,
) -> CvAuc {
    let (k, seed) = (params.folds, params.bootstrap.seed);
    let folds = match folds {
        Ok(f) => f,
        Err(e) => return cv_skipped(k, seed, e.root().to_string()),
    };
    if values.iter().any(Option::is_none) {
        // Folds are dealt over all items; re-deal over the complete ones.
        let rows: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
        let c: Vec<bool> = rows.iter().map(|&i| correct[i]).collect();
        let v: Vec<Option<f64>> = rows.iter().map(|&i| values[i]).collect();
        return match stratified_folds(&c, k, seed) {
            Ok(f) => cv_single(&v, &c, Ok(&f), params),
            Err(e) => cv_skipped(k, seed, e.root().to_string()),
        };
    }
    let v: Vec<f64> = values.iter().map(|x| x.unwrap()).collect();
    cv_auc(folds, k, correct, seed, |train, test| {
        let pos: Vec<f64> = train
            .iter()
            .filter(|&&i| correct[i])
            .map(|&i| v[i])
            .collect();
        let neg: Vec<f64> = train
            .iter()
            .filter(|&&i| !correct[i])
            .map(|&i| v[i])
            .collect();
        let sign = if auc(&pos, &neg)? >= 0.5 { 1.0 } else { -1.0 };
        Ok(test.iter().map(|&i| sign * v[i]).collect())
    })
}

/// The grouping of the items for indicator terms and per-group results: the
/// `--group` column, else the task when the items come from several tables.
pub(super) fn group_labels(j: &Joined) -> Option<(&'static str, &[String])> {
    if let Some(g) = &j.group {
        return Some(("group", g));
    }
    let several = j.task.iter().any(|t| *t != j.task[0]);
    several.then_some(("task", j.task.as_slice()))
}

/// A logistic design: z-scored terms and group indicators over complete cases.
#[derive(Debug, Clone)]
pub(super) struct Design {
    /// Column names (a `group` term expands to `group=LEVEL` columns).
    pub columns: Vec<String>,
    pub rows: Vec<usize>,
    pub x: Array2<f64>,
    pub y: Vec<bool>,
    pub standardisation: BTreeMap<String, [f64; 2]>,
    /// Reference level and the levels with an indicator.
    pub levels: Option<(String, Vec<String>)>,
}

/// Checks `--terms` names against the predictors (and `group`).
fn resolve_terms(j: &Joined, params: &OutcomeParams) -> Result<Vec<String>> {
    let available = |t: &str| {
        j.predictors
            .iter()
            .any(|(n, v)| n == t && v.iter().any(Option::is_some))
    };
    let terms: Vec<String> = match &params.terms {
        Some(t) => {
            for name in t {
                crate::ensure!(
                    name == GROUP_TERM || j.predictors.iter().any(|(n, _)| n == name),
                    Error::param(
                        "terms",
                        format!(
                            "{name:?} is no predictor; predictors: {}, and {GROUP_TERM} (indicator terms of --group or of the tasks)",
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
    if terms.iter().any(|t| t == GROUP_TERM) && group_labels(j).is_none() {
        return Err(Error::param(
            "terms",
            "the term \"group\" needs --group COL or several --items tables (tasks)",
        ));
    }
    Ok(terms)
}

/// The design of `terms` over the items of `j` that have every term. With `fixed`
/// (a design fitted elsewhere), its standardisation and levels are used.
pub(super) fn design(j: &Joined, terms: &[String], fixed: Option<&Design>) -> Result<Design> {
    let numeric: Vec<&String> = terms.iter().filter(|t| *t != GROUP_TERM).collect();
    let cols: Vec<&Vec<Option<f64>>> = numeric
        .iter()
        .map(|t| {
            j.predictors
                .iter()
                .find(|(n, _)| n == *t)
                .map(|(_, v)| v)
                .ok_or_else(|| Error::data("logistic fit", format!("no predictor {t:?}")))
        })
        .collect::<Result<_>>()?;
    let rows: Vec<usize> = (0..j.correct.len())
        .filter(|&i| cols.iter().all(|c| c[i].is_some()))
        .collect();
    crate::ensure!(
        !rows.is_empty(),
        Error::data("logistic fit", "no item has a value for every term")
    );
    let y: Vec<bool> = rows.iter().map(|&i| j.correct[i]).collect();
    let levels = if terms.iter().any(|t| t == GROUP_TERM) {
        let (_, g) = group_labels(j).ok_or_else(|| {
            Error::param(
                "terms",
                "the term \"group\" needs --group COL or several --items",
            )
        })?;
        match fixed.and_then(|f| f.levels.clone()) {
            Some(l) => {
                if let Some(&i) = rows.iter().find(|&&i| g[i] != l.0 && !l.1.contains(&g[i])) {
                    return Err(Error::data(
                        "logistic fit",
                        format!(
                            "group {:?} was not in the data the model was fitted on",
                            g[i]
                        ),
                    ));
                }
                Some(l)
            }
            None => {
                let mut all: Vec<String> = rows.iter().map(|&i| g[i].clone()).collect();
                all.sort();
                all.dedup();
                crate::ensure!(
                    all.len() >= 2,
                    Error::data(
                        "logistic fit",
                        format!("the term \"group\" has one level only ({:?})", all[0])
                    )
                );
                let reference = all.remove(0);
                Some((reference, all))
            }
        }
    } else {
        None
    };
    let mut columns = Vec::new();
    let mut data: Vec<Vec<f64>> = Vec::new();
    let mut standardisation = BTreeMap::new();
    let mut numeric_k = 0;
    for t in terms {
        if t == GROUP_TERM {
            let (_, g) = group_labels(j).unwrap();
            for level in &levels.as_ref().unwrap().1 {
                columns.push(format!("{GROUP_TERM}={level}"));
                data.push(
                    rows.iter()
                        .map(|&i| (g[i] == *level) as u8 as f64)
                        .collect(),
                );
            }
            continue;
        }
        let c = cols[numeric_k];
        numeric_k += 1;
        let raw: Vec<f64> = rows.iter().map(|&i| c[i].unwrap()).collect();
        let (z, mean, sd) = match fixed.and_then(|f| f.standardisation.get(t)) {
            Some(&[m, s]) => (raw.iter().map(|v| (v - m) / s).collect(), m, s),
            _ => standardise(&raw)
                .map_err(|e| Error::data("logistic fit", format!("term {t:?}: {}", e.root())))?,
        };
        columns.push(t.clone());
        data.push(z);
        standardisation.insert(t.clone(), [mean, sd]);
    }
    let x = Array2::from_shape_fn((rows.len(), columns.len()), |(i, k)| data[k][i]);
    Ok(Design {
        columns,
        rows,
        x,
        y,
        standardisation,
        levels,
    })
}

/// Fits a design's columns `keep` (all when `None`).
fn fit(d: &Design, keep: Option<&[usize]>, params: &OutcomeParams) -> Result<LogisticFit> {
    let level = params.bootstrap.level;
    match keep {
        None => fit_logistic_with(d.x.view(), &d.y, &d.columns, level, params.method()),
        Some(k) => {
            let names: Vec<String> = k.iter().map(|&i| d.columns[i].clone()).collect();
            fit_logistic_with(
                d.x.select(ndarray::Axis(1), k).view(),
                &d.y,
                &names,
                level,
                params.method(),
            )
        }
    }
}

/// LR test of dropping the columns `drop` from the design.
fn lr_drop(
    d: &Design,
    full: &LogisticFit,
    drop: &[usize],
    params: &OutcomeParams,
) -> Result<LrSummary> {
    let dropped = drop
        .iter()
        .map(|&i| d.columns[i].clone())
        .collect::<Vec<_>>()
        .join(", ");
    if params.firth {
        let LrTest {
            statistic,
            df,
            p_value,
        } = firth_likelihood_ratio(full, d.x.view(), &d.y, drop)?;
        return Ok(LrSummary {
            dropped,
            statistic,
            df,
            p_value,
        });
    }
    let keep: Vec<usize> = (0..d.columns.len()).filter(|i| !drop.contains(i)).collect();
    let reduced = if keep.is_empty() {
        // Intercept only: LL₀ (ML); Firth refits an intercept-only model via a zero-column design.
        fit_logistic_with(
            Array2::<f64>::zeros((d.y.len(), 0)).view(),
            &d.y,
            &[],
            params.bootstrap.level,
            params.method(),
        )?
    } else {
        fit(d, Some(&keep), params)?
    };
    let LrTest {
        statistic,
        df,
        p_value,
    } = likelihood_ratio(full, &reduced)?;
    Ok(LrSummary {
        dropped: drop
            .iter()
            .map(|&i| d.columns[i].clone())
            .collect::<Vec<_>>()
            .join(", "),
        statistic,
        df,
        p_value,
    })
}

/// The logistic fit on z-scored terms over complete cases, with the LR test of
/// lexicalisation given the other terms, the events-per-parameter check and the
/// cross-validated AUC of the model.
fn logistic(j: &Joined, params: &OutcomeParams) -> Result<LogisticSummary> {
    let terms = resolve_terms(j, params)?;
    let d = design(j, &terms, None)?;
    let full = fit(&d, None, params)?;
    let lr_test = match d.columns.iter().position(|t| t == "lexicalization") {
        Some(k) if d.columns.len() > 1 => Some(lr_drop(&d, &full, &[k], params)?),
        _ => None,
    };
    let n1 = d.y.iter().filter(|&&c| c).count();
    let events = n1.min(d.y.len() - n1);
    let parameters = d.columns.len();
    let epv = events as f64 / parameters as f64;
    let warning = (epv < MIN_EVENTS_PER_PARAMETER).then(|| {
        format!(
            "few events: {events} items of the rarer outcome for {parameters} coefficients ({epv:.1} per parameter, < {MIN_EVENTS_PER_PARAMETER}); {}",
            if params.firth {
                "Firth's penalised likelihood was used, which removes the small-sample bias, but the intervals stay wide"
            } else {
                "maximum-likelihood coefficients are biased away from 0 and Wald intervals unreliable; rerun with --firth"
            }
        )
    });
    let cv = (params.folds > 0).then(|| cv_model(&d, params));
    let mut s = summarise(&full, d.standardisation.clone(), lr_test);
    s.events = events;
    s.parameters = parameters;
    s.events_per_parameter = epv;
    s.warning = warning;
    s.group_reference = d.levels.as_ref().map(|l| l.0.clone());
    s.cv = cv;
    Ok(s)
}

/// The model's cross-validated AUC: refitted on each fold's training items (the
/// columns are z-scored over all items, which changes no prediction: the fit is
/// equivariant under affine changes of a term).
fn cv_model(d: &Design, params: &OutcomeParams) -> CvAuc {
    let (k, seed) = (params.folds, params.bootstrap.seed);
    let folds = match stratified_folds(&d.y, k, seed) {
        Ok(f) => f,
        Err(e) => return cv_skipped(k, seed, e.root().to_string()),
    };
    cv_auc(&folds, k, &d.y, seed, |train, test| {
        let x = d.x.select(ndarray::Axis(0), train);
        let y: Vec<bool> = train.iter().map(|&i| d.y[i]).collect();
        let f = fit_logistic_with(
            x.view(),
            &y,
            &d.columns,
            params.bootstrap.level,
            params.method(),
        )?;
        Ok(test
            .iter()
            .map(|&i| linear(&f, d.x.row(i).iter().copied()))
            .collect())
    })
}

/// β₀ + Σ βₖ xₖ.
pub(super) fn linear(f: &LogisticFit, x: impl Iterator<Item = f64>) -> f64 {
    f.coefficients[0]
        + f.coefficients[1..]
            .iter()
            .zip(x)
            .map(|(b, v)| b * v)
            .sum::<f64>()
}

fn coefficient(f: &LogisticFit, name: &str) -> Coefficient {
    let i = f.names.iter().position(|n| n == name).unwrap();
    Coefficient {
        estimate: f.coefficients[i],
        se: f.se[i],
        ci: [f.ci_low[i], f.ci_high[i]],
        p_value: f.p_value[i],
    }
}

/// Lexicalisation within groups (fixed effects) against between them (Mundlak).
fn within_between(j: &Joined, params: &OutcomeParams, grouping: &str) -> Result<WithinBetween> {
    let terms = resolve_terms(j, params)?;
    let other: Vec<String> = terms
        .iter()
        .filter(|t| *t != GROUP_TERM && *t != "lexicalization")
        .cloned()
        .collect();
    let mut with_lex = other.clone();
    with_lex.push("lexicalization".into());
    let mut fe_terms = with_lex.clone();
    fe_terms.push(GROUP_TERM.into());
    let d = design(j, &fe_terms, None)?;
    let lex = d
        .columns
        .iter()
        .position(|c| c == "lexicalization")
        .unwrap();
    let indicators: Vec<usize> = (0..d.columns.len())
        .filter(|&i| d.columns[i].starts_with("group="))
        .collect();
    let fe = fit(&d, None, params)?;
    let within_lr = lr_drop(&d, &fe, &[lex], params)?;
    let groups_lr = lr_drop(&d, &fe, &indicators, params)?;
    let pooled_cols: Vec<usize> = (0..d.columns.len())
        .filter(|i| !indicators.contains(i))
        .collect();
    let pooled = fit(&d, Some(&pooled_cols), params)?;
    // Mundlak: z(lex) = (z − group mean of z) + group mean of z, each its own term.
    let (_, g) = group_labels(j).unwrap();
    let labels: Vec<&String> = d.rows.iter().map(|&i| &g[i]).collect();
    let mut sums: BTreeMap<&String, (f64, usize)> = BTreeMap::new();
    for (r, l) in labels.iter().enumerate() {
        let e = sums.entry(l).or_default();
        e.0 += d.x[[r, lex]];
        e.1 += 1;
    }
    let mean_of = |l: &String| sums[l].0 / sums[l].1 as f64;
    let mut names: Vec<String> = other.clone();
    names.push("lexicalization_within".into());
    names.push("lexicalization_between".into());
    let others: Vec<usize> = other
        .iter()
        .map(|t| d.columns.iter().position(|c| c == t).unwrap())
        .collect();
    let x = Array2::from_shape_fn((d.rows.len(), names.len()), |(r, k)| {
        if k < others.len() {
            d.x[[r, others[k]]]
        } else if k == others.len() {
            d.x[[r, lex]] - mean_of(labels[r])
        } else {
            mean_of(labels[r])
        }
    });
    let m = fit_logistic_with(
        x.view(),
        &d.y,
        &names,
        params.bootstrap.level,
        params.method(),
    )?;
    let (a, b) = (names.len() - 1, names.len());
    let diff = m.coefficients[b] - m.coefficients[a];
    let var = m.covariance[[a, a]] + m.covariance[[b, b]] - 2.0 * m.covariance[[a, b]];
    let se = var.max(0.0).sqrt();
    let p = 2.0
        * statrs::distribution::ContinuousCDF::cdf(
            &statrs::distribution::Normal::standard(),
            -(diff / se).abs(),
        );
    Ok(WithinBetween {
        grouping: grouping.to_string(),
        groups: d.levels.as_ref().unwrap().1.len() + 1,
        reference: d.levels.as_ref().unwrap().0.clone(),
        pooled: coefficient(&pooled, "lexicalization"),
        within: coefficient(&fe, "lexicalization"),
        within_lr,
        between: coefficient(&m, "lexicalization_between"),
        difference: diff,
        difference_se: se,
        difference_p: p,
        groups_lr,
        other_terms: other,
        method: params.method(),
    })
}

fn summarise(
    fit: &LogisticFit,
    standardisation: BTreeMap<String, [f64; 2]>,
    lr_test: Option<LrSummary>,
) -> LogisticSummary {
    let map = |v: &[f64]| -> BTreeMap<String, f64> {
        fit.names.iter().cloned().zip(v.iter().copied()).collect()
    };
    LogisticSummary {
        terms: fit.names[1..].to_vec(),
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
        method: fit.method,
        events: 0,
        parameters: 0,
        events_per_parameter: 0.0,
        warning: None,
        group_reference: None,
        cv: None,
    }
}

/// The model of `train` (its terms and standardisation) scoring the items of `target`.
pub fn transfer(train: &Joined, target: &Joined, params: &OutcomeParams) -> Result<Transfer> {
    let terms = resolve_terms(train, params)?;
    let d = design(train, &terms, None)?;
    let f = fit(&d, None, params)?;
    let acc = target.correct.iter().filter(|&&c| c).count() as f64 / target.correct.len() as f64;
    let mut out = Transfer {
        trained_on: train.name.clone(),
        terms: d.columns.clone(),
        n: 0,
        auc: None,
        auc_ci: None,
        p_value: None,
        mean_predicted: None,
        accuracy: acc,
        skipped: None,
    };
    let t = match design(target, &terms, Some(&d)) {
        Ok(t) => t,
        Err(e) => {
            out.skipped = Some(e.root().to_string());
            return Ok(out);
        }
    };
    let eta: Vec<f64> = (0..t.rows.len())
        .map(|r| linear(&f, t.x.row(r).iter().copied()))
        .collect();
    out.n = t.rows.len();
    out.accuracy = t.y.iter().filter(|&&c| c).count() as f64 / t.y.len() as f64;
    out.mean_predicted =
        Some(eta.iter().map(|e| 1.0 / (1.0 + (-e).exp())).sum::<f64>() / eta.len() as f64);
    let e = auc_entry(&eta, &t.y, params);
    out.auc = e.auc;
    out.auc_ci = e.auc_ci;
    out.p_value = e.p_value;
    out.skipped = e.skipped;
    Ok(out)
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

/// Accuracy by decile of `values` (1 = lowest). Tied values stay in one bin: a run
/// of equal values goes to the tenth in which its first rank falls, so bins can
/// differ in size and a tenth can be empty (dropped). No result depends on row order.
fn deciles(values: &[Option<f64>], correct: &[bool], level: f64) -> Result<Vec<AccuracyBin>> {
    let mut idx: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    idx.sort_by(|&a, &b| values[a].unwrap().total_cmp(&values[b].unwrap()));
    let n = idx.len();
    let mut b = vec![None; values.len()];
    let mut start = 0;
    while start < n {
        let v = values[idx[start]].unwrap();
        let mut end = start;
        while end < n && values[idx[end]].unwrap() == v {
            end += 1;
        }
        let bin = (start * 10 / n) as u32 + 1;
        for &i in &idx[start..end] {
            b[i] = Some(bin);
        }
        start = end;
    }
    let mut out = by_bin(&b, correct, level)?;
    for bin in &mut out {
        let vals = (0..values.len())
            .filter(|&i| b[i] == Some(bin.bin))
            .map(|i| values[i].unwrap());
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        bin.range = Some([lo, hi]);
    }
    Ok(out)
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
                range: None,
                n,
                correct: k,
                accuracy: w.estimate,
                ci: [w.low, w.high],
            })
        })
        .collect()
}

fn groups(j: &Joined, params: &OutcomeParams) -> Result<BTreeMap<String, GroupResult>> {
    let Some((_, g)) = group_labels(j) else {
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

/// The items `rows` of `j` with `correct` replaced (e.g. "learned" for the items
/// wrong before fine-tuning).
pub(super) fn subset(j: &Joined, rows: &[usize], correct: &[bool]) -> Joined {
    let pick = |v: &[String]| rows.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
    Joined {
        name: j.name.clone(),
        ids: pick(&j.ids),
        item_rows: rows.iter().map(|&i| j.item_rows[i]).collect(),
        task: pick(&j.task),
        split: j.split.as_deref().map(pick),
        correct: correct.to_vec(),
        group: j.group.as_deref().map(pick),
        predictors: j
            .predictors
            .iter()
            .map(|(n, v)| (n.clone(), rows.iter().map(|&i| v[i]).collect()))
            .collect(),
        user_predictors: j.user_predictors.clone(),
        bin: rows.iter().map(|&i| j.bin[i]).collect(),
        join: j.join.clone(),
    }
}

/// Which predictors explain an outcome of the items `rows` of `j` (AUCs and the
/// logistic fit, as for correctness; bad `--terms` is an error).
pub(super) type LearnedAnalysis = (
    BTreeMap<String, PredictorEntry>,
    Option<LogisticSummary>,
    Option<String>,
);

pub(super) fn analyse_learned(
    j: &Joined,
    rows: &[usize],
    outcome: &[bool],
    params: &OutcomeParams,
) -> Result<LearnedAnalysis> {
    let s = subset(j, rows, outcome);
    let mut predictors = predictor_aucs(&s, &s.correct, None, params);
    if params.folds > 0 {
        let folds = stratified_folds(&s.correct, params.folds, params.bootstrap.seed);
        for (name, values) in &s.predictors {
            let e = predictors.get_mut(name).unwrap();
            if e.auc.is_some() {
                e.cv = Some(cv_single(
                    values,
                    &s.correct,
                    folds.as_ref().map(|f| f.as_slice()),
                    params,
                ));
            }
        }
    }
    if s.correct.is_empty() {
        return Ok((predictors, None, Some("no item was wrong before".into())));
    }
    match logistic(&s, params) {
        Ok(l) => Ok((predictors, Some(l), None)),
        Err(e) if matches!(e.root(), Error::InvalidParameter { .. }) => Err(e),
        Err(e) => Ok((predictors, None, Some(e.root().to_string()))),
    }
}

/// Cross-validated AUC of a logistic model of `y` on the columns of `x` (z-scored
/// or not: predictions do not change) for given folds (0..k per item).
pub fn cross_validated_model(
    x: ndarray::ArrayView2<f64>,
    y: &[bool],
    names: &[String],
    folds: &[usize],
    k: usize,
    params: &OutcomeParams,
) -> CvAuc {
    cv_auc(folds, k, y, params.bootstrap.seed, |train, test| {
        let xt = x.select(ndarray::Axis(0), train);
        let yt: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        let f = fit_logistic_with(
            xt.view(),
            &yt,
            names,
            params.bootstrap.level,
            params.method(),
        )?;
        Ok(test
            .iter()
            .map(|&i| linear(&f, x.row(i).iter().copied()))
            .collect())
    })
}

/// Cross-validated AUC of one predictor for given folds, its direction learned on
/// the training folds.
pub fn cross_validated_single(
    values: &[f64],
    y: &[bool],
    folds: &[usize],
    params: &OutcomeParams,
) -> CvAuc {
    let v: Vec<Option<f64>> = values.iter().map(|&x| Some(x)).collect();
    cv_single(&v, y, Ok(folds), params)
}
