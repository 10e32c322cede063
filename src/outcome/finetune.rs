//! Fine-tuning: the same items answered by a base model (before) and its
//! fine-tuned version (after). Per item learned / forgotten / kept / never; the
//! accuracy gain with a paired interval; and which predictors explain being
//! learned (among the items wrong before) — separately for the items table's
//! `train` split (memorisation) and `withheld` split (generalisation).

use std::collections::BTreeMap;

use serde::Serialize;

use super::analysis::{analyse_learned, LogisticSummary, OutcomeParams, PredictorEntry};
use super::join::Joined;
use crate::error::{Error, Result};
use crate::stats::{paired_difference, wilson};

/// What happened to one item under fine-tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Right before and after.
    Kept,
    /// Wrong before, right after.
    Learned,
    /// Right before, wrong after.
    Forgotten,
    /// Wrong before and after.
    Never,
}

impl Change {
    pub fn of(before: bool, after: bool) -> Change {
        match (before, after) {
            (true, true) => Change::Kept,
            (false, true) => Change::Learned,
            (true, false) => Change::Forgotten,
            (false, false) => Change::Never,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Change::Kept => "kept",
            Change::Learned => "learned",
            Change::Forgotten => "forgotten",
            Change::Never => "never",
        }
    }
}

/// The gain on one set of items (a split, or all).
#[derive(Debug, Clone, Serialize)]
pub struct Gain {
    pub n: usize,
    pub kept: usize,
    pub learned: usize,
    pub forgotten: usize,
    pub never: usize,
    pub accuracy_before: f64,
    pub accuracy_after: f64,
    /// accuracy_after − accuracy_before.
    pub gain: f64,
    /// Newcombe's paired interval (method 10).
    pub gain_ci: [f64; 2],
    /// learned / (learned + never): how many of the items wrong before were learned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_rate_ci: Option<[f64; 2]>,
    /// AUC of each predictor for being learned (items wrong before).
    pub predictors: BTreeMap<String, PredictorEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logistic: Option<LogisticSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logistic_skipped: Option<String>,
}

/// Everything measured about one fine-tuning.
#[derive(Debug, Clone, Serialize)]
pub struct Finetune {
    pub before: String,
    pub after: String,
    /// Items answered by both.
    pub n: usize,
    /// Items answered before only or after only (left out).
    pub unpaired: usize,
    /// "all", then each split value of the items table (`train` = memorisation,
    /// `withheld` = generalisation).
    pub gains: BTreeMap<String, Gain>,
    /// Per item, in id order.
    #[serde(skip)]
    pub ids: Vec<String>,
    #[serde(skip)]
    pub changes: Vec<Change>,
    #[serde(skip)]
    pub split: Option<Vec<String>>,
}

/// Pairs the two runs by id and measures the gain overall and per split.
pub fn finetune(before: &Joined, after: &Joined, params: &OutcomeParams) -> Result<Finetune> {
    let after_row: std::collections::HashMap<&str, usize> = after
        .ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let pairs: Vec<(usize, usize)> = before
        .ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| after_row.get(id.as_str()).map(|&k| (i, k)))
        .collect();
    crate::ensure!(
        !pairs.is_empty(),
        Error::data(
            "fine-tuning",
            format!(
                "no item answered both by {:?} and by {:?}",
                before.name, after.name
            )
        )
    );
    let rows: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    let changes: Vec<Change> = pairs
        .iter()
        .map(|&(b, a)| Change::of(before.correct[b], after.correct[a]))
        .collect();
    let split: Option<Vec<String>> = before
        .split
        .as_ref()
        .map(|s| rows.iter().map(|&i| s[i].clone()).collect());
    let mut sets: Vec<(String, Vec<usize>)> = vec![("all".into(), (0..rows.len()).collect())];
    if let Some(s) = &split {
        let mut names: Vec<&String> = s.iter().filter(|v| !v.is_empty()).collect();
        names.sort();
        names.dedup();
        for name in names {
            sets.push((
                name.clone(),
                (0..rows.len()).filter(|&k| s[k] == *name).collect(),
            ));
        }
    }
    let mut gains = BTreeMap::new();
    for (name, set) in sets {
        let count = |c: Change| set.iter().filter(|&&k| changes[k] == c).count();
        let (kept, learned, forgotten, never) = (
            count(Change::Kept),
            count(Change::Learned),
            count(Change::Forgotten),
            count(Change::Never),
        );
        let n = set.len();
        let level = params.bootstrap.level;
        let d = paired_difference(kept, forgotten, learned, never, level)?;
        let rate = (learned + never > 0)
            .then(|| wilson(learned, learned + never, level))
            .transpose()?;
        // Items wrong before: is each learned?
        let wrong: Vec<usize> = set
            .iter()
            .filter(|&&k| matches!(changes[k], Change::Learned | Change::Never))
            .map(|&k| rows[k])
            .collect();
        let learned_flag: Vec<bool> = set
            .iter()
            .filter(|&&k| matches!(changes[k], Change::Learned | Change::Never))
            .map(|&k| changes[k] == Change::Learned)
            .collect();
        let (predictors, logistic, logistic_skipped) =
            analyse_learned(before, &wrong, &learned_flag, params)?;
        gains.insert(
            name,
            Gain {
                n,
                kept,
                learned,
                forgotten,
                never,
                accuracy_before: (kept + forgotten) as f64 / n as f64,
                accuracy_after: (kept + learned) as f64 / n as f64,
                gain: d.estimate,
                gain_ci: [d.low, d.high],
                learned_rate: rate.as_ref().map(|r| r.estimate),
                learned_rate_ci: rate.as_ref().map(|r| [r.low, r.high]),
                predictors,
                logistic,
                logistic_skipped,
            },
        );
    }
    Ok(Finetune {
        before: before.name.clone(),
        after: after.name.clone(),
        n: rows.len(),
        unpaired: before.ids.len() + after.ids.len() - 2 * rows.len(),
        gains,
        ids: rows.iter().map(|&i| before.ids[i].clone()).collect(),
        changes,
        split,
    })
}
