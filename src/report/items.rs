//! The per-item table `pairs/<name>.csv`: one row per *input* row, in input order,
//! with the item's id, so a user can join it back to their own file.

use polars::prelude::*;

use super::{Exclusion, PairingAnalysis};
use crate::error::Result;

/// Columns of the per-item table, in order.
pub const ITEM_COLUMNS: [&str; 18] = [
    "id",
    "left",
    "right",
    "popularity",
    "bin",
    "split",
    "excluded",
    "duplicate_id",
    "lexicalization",
    "rank_left_to_right",
    "rank_right_to_left",
    "cosine",
    "cosine_centred",
    "left_tokens",
    "right_tokens",
    "right_continuation",
    "right_single_token",
    "right_truncated",
];

/// The per-item table of one analysed pairing. Rows left out of the analysis say
/// why in `excluded`: an identical pair has no numbers; a duplicate pair carries
/// the numbers of its first occurrence (the same two strings).
pub fn item_table(a: &PairingAnalysis) -> Result<DataFrame> {
    let input = &a.input;
    let c = &a.cleaning;
    // Analysis row of each input row, if any.
    let mut row_of = vec![None; input.len()];
    for (k, &i) in c.kept.iter().enumerate() {
        row_of[i] = Some(k);
    }
    let analysed: Vec<Option<usize>> = (0..input.len())
        .map(|i| match c.excluded[i] {
            None => row_of[i],
            Some(Exclusion::Duplicate(first)) => row_of[first],
            Some(Exclusion::Identical) => None,
        })
        .collect();
    let excluded: Vec<Option<String>> = c
        .excluded
        .iter()
        .map(|e| {
            e.map(|e| match e {
                Exclusion::Identical => "identical".to_string(),
                Exclusion::Duplicate(first) => {
                    format!("duplicate of {}", input.concept_id[first])
                }
            })
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let duplicate_id: Vec<bool> = input
        .concept_id
        .iter()
        .map(|id| !seen.insert(id.as_str()))
        .collect();
    let col = |f: &dyn Fn(usize) -> f64| -> Vec<Option<f64>> {
        analysed.iter().map(|k| k.map(f)).collect()
    };
    let count = |f: &dyn Fn(usize) -> u32| -> Vec<Option<u32>> {
        analysed.iter().map(|k| k.map(f)).collect()
    };
    let flag = |f: &dyn Fn(usize) -> bool| -> Vec<Option<bool>> {
        analysed.iter().map(|k| k.map(f)).collect()
    };
    let split: Vec<&str> = input.split.iter().map(|s| s.as_str()).collect();
    let al = &a.alignment;
    let re = &a.retrieval;
    let columns = vec![
        Column::new("id".into(), &input.concept_id),
        Column::new("left".into(), &input.left),
        Column::new("right".into(), &input.right),
        Column::new("popularity".into(), &input.popularity),
        Column::new("bin".into(), &input.bin),
        Column::new("split".into(), split),
        Column::new("excluded".into(), excluded),
        Column::new("duplicate_id".into(), duplicate_id),
        Column::new(
            "lexicalization".into(),
            col(&|k| a.lexicalization.scores[k]),
        ),
        Column::new(
            "rank_left_to_right".into(),
            col(&|k| re.left_to_right.ranks[k]),
        ),
        Column::new(
            "rank_right_to_left".into(),
            col(&|k| re.right_to_left.ranks[k]),
        ),
        Column::new("cosine".into(), col(&|k| al.raw.matched[k] as f64)),
        Column::new(
            "cosine_centred".into(),
            col(&|k| al.centred.matched[k] as f64),
        ),
        Column::new(
            "left_tokens".into(),
            count(&|k| a.left_tokens[k].n_tokens as u32),
        ),
        Column::new(
            "right_tokens".into(),
            count(&|k| a.right_tokens[k].n_tokens as u32),
        ),
        Column::new(
            "right_continuation".into(),
            count(&|k| a.right_tokens[k].n_continuation as u32),
        ),
        Column::new(
            "right_single_token".into(),
            flag(&|k| a.right_tokens[k].single_token),
        ),
        Column::new(
            "right_truncated".into(),
            flag(&|k| a.right_tokens[k].truncated),
        ),
    ];
    Ok(DataFrame::new(input.len(), columns)?)
}
