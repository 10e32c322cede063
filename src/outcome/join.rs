//! Joining a model's per-item results with a report's per-item table: one reader
//! per file shape, every problem named by file, line and value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{column_list, number_column, read_text_table, string_column, text_column};
pub use crate::pairs::IdShape;

/// How a predicted answer is compared with the truth. Both are trimmed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MatchMode {
    #[default]
    Exact,
    CaseInsensitive,
}

/// Where per-item correctness comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correctness {
    /// A column of 0/1/true/false.
    Column(String),
    /// `predicted` equals `truth` (after trimming; see [`MatchMode`]).
    Compare {
        predicted: String,
        truth: String,
        mode: MatchMode,
    },
}

/// One results file: a model's per-item answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultsFile {
    #[serde(serialize_with = "crate::io::serialize_path")]
    pub file: PathBuf,
    /// Name in outputs (e.g. the model); default the file stem.
    pub name: String,
    /// Column of item ids, matched against the items table's `id`.
    pub id: String,
    pub correct: Correctness,
    /// Optional column to break results down by (task, direction, …).
    pub group: Option<String>,
    /// Numeric columns of the results file to test as predictors too.
    pub predictors: Vec<String>,
}

/// What the join matched and what it left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JoinStats {
    pub items: usize,
    pub results: usize,
    pub matched: usize,
    pub only_in_items: usize,
    /// The first few such ids, in file order.
    pub only_in_items_first: Vec<String>,
    pub only_in_results: usize,
    pub only_in_results_first: Vec<String>,
    /// Matched items whose predicted answer was empty (counted as wrong).
    pub empty_answers: usize,
    /// Matched items the report left out (identical pairs): no predictors.
    pub excluded_in_items: usize,
}

/// Ids listed in messages and outputs.
const FIRST: usize = 5;

/// The items of one results file, joined: per matched item, in items-table order.
#[derive(Debug, Clone)]
pub struct Joined {
    pub name: String,
    pub ids: Vec<String>,
    /// 0-based rows of the items table.
    pub item_rows: Vec<usize>,
    pub correct: Vec<bool>,
    pub group: Option<Vec<String>>,
    /// Predictor name → value per matched item (`None` = not available).
    pub predictors: Vec<(String, Vec<Option<f64>>)>,
    /// Names of the predictors read from the results file.
    pub user_predictors: Vec<String>,
    /// The items' popularity bins (1 = most popular).
    pub bin: Vec<Option<u32>>,
    pub join: JoinStats,
}

/// A report's per-item table (`pairs/<name>.csv|.parquet`).
#[derive(Debug, Clone)]
pub struct Items {
    pub path: PathBuf,
    pub ids: Vec<String>,
    pub right: Vec<String>,
    pub excluded: Vec<bool>,
    pub bin: Vec<Option<u32>>,
    /// Predictors from the table and from the identifier string.
    pub predictors: Vec<(String, Vec<Option<f64>>)>,
}

/// Predictors read from the items table: (output name, column).
const ITEM_PREDICTORS: [(&str, &str); 5] = [
    ("lexicalization", "lexicalization"),
    ("cosine_centred", "cosine_centred"),
    ("rank_left_to_right", "rank_left_to_right"),
    ("rank_right_to_left", "rank_right_to_left"),
    ("id_tokens", "right_tokens"),
];

impl Items {
    /// Reads the table `lexalign report` wrote; ids must be unique.
    pub fn read(path: &Path) -> Result<Items> {
        let df = read_text_table(path)?;
        for c in ["id", "right", "lexicalization"] {
            crate::ensure!(
                df.column(c).is_ok(),
                Error::parse_file(
                    path,
                    format!(
                        "no column {c:?}: expected a per-item table written by `lexalign report` (OUT/pairs/NAME.csv); columns present: {}",
                        column_list(&df)
                    )
                )
            );
        }
        let ids = trimmed(string_column(&df, path, "id")?);
        unique_ids(path, &ids)?;
        let right = string_column(&df, path, "right")?;
        let excluded = match df.column("excluded") {
            Ok(_) => text_column(&df, path, "excluded")?
                .iter()
                .map(|s| !s.is_empty())
                .collect(),
            Err(_) => vec![false; ids.len()],
        };
        let bin = optional_numbers(&df, path, "bin")?
            .iter()
            .map(|b| b.map(|b| b as u32))
            .collect();
        let mut predictors = Vec::new();
        for (name, col) in ITEM_PREDICTORS {
            if df.column(col).is_ok() {
                predictors.push((name.to_string(), number_column(&df, path, col)?));
            }
        }
        if df.column("popularity").is_ok() {
            let pop = number_column(&df, path, "popularity")?;
            if pop.iter().any(Option::is_some) {
                crate::ensure!(
                    pop.iter().flatten().all(|&p| p >= 0.0),
                    Error::parse_file(path, "column \"popularity\" has a negative value")
                );
                predictors.push((
                    "log1p_popularity".into(),
                    pop.iter().map(|p| p.map(f64::ln_1p)).collect(),
                ));
            }
        }
        let shape: Vec<IdShape> = right.iter().map(|r| IdShape::of(r)).collect();
        predictors.push((
            "id_digits".into(),
            shape.iter().map(|s| Some(s.digits as f64)).collect(),
        ));
        predictors.push((
            "id_leading_zeros".into(),
            shape.iter().map(|s| Some(s.leading_zeros as f64)).collect(),
        ));
        if let Some((_, tokens)) = predictors.iter().find(|(n, _)| n == "id_tokens") {
            let single = tokens
                .iter()
                .map(|t| t.map(|t| (t == 1.0) as u8 as f64))
                .collect();
            predictors.push(("id_single_token".into(), single));
        }
        Ok(Items {
            path: path.to_path_buf(),
            ids,
            right,
            excluded,
            bin,
            predictors,
        })
    }
}

/// Reads one results file and joins it with `items`.
pub fn join(items: &Items, results: &ResultsFile) -> Result<Joined> {
    let path = results.file.as_path();
    let df = read_text_table(path)?;
    let ids = trimmed(string_column(&df, path, &results.id)?);
    unique_ids(path, &ids)?;
    let (correct, empty) = correctness(&df, path, &results.correct)?;
    let group = match &results.group {
        Some(g) => Some(text_column(&df, path, g)?),
        None => None,
    };
    let extra: Vec<(String, Vec<Option<f64>>)> = results
        .predictors
        .iter()
        .map(|c| Ok((c.clone(), number_column(&df, path, c)?)))
        .collect::<Result<_>>()?;
    let row_of: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let item_ids: HashMap<&str, usize> = items
        .ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut stats = JoinStats {
        items: items.ids.len(),
        results: ids.len(),
        ..Default::default()
    };
    let mut j = Joined {
        name: results.name.clone(),
        ids: Vec::new(),
        item_rows: Vec::new(),
        correct: Vec::new(),
        group: group.as_ref().map(|_| Vec::new()),
        predictors: Vec::new(),
        user_predictors: results.predictors.clone(),
        bin: Vec::new(),
        join: JoinStats::default(),
    };
    let mut res_rows = Vec::new();
    for (i, id) in items.ids.iter().enumerate() {
        match row_of.get(id.as_str()) {
            Some(&r) => {
                j.ids.push(id.clone());
                j.item_rows.push(i);
                j.correct.push(correct[r]);
                j.bin.push(items.bin[i]);
                stats.empty_answers += empty[r] as usize;
                stats.excluded_in_items += items.excluded[i] as usize;
                if let (Some(out), Some(g)) = (j.group.as_mut(), group.as_ref()) {
                    out.push(g[r].clone());
                }
                res_rows.push(r);
            }
            None => {
                stats.only_in_items += 1;
                if stats.only_in_items_first.len() < FIRST {
                    stats.only_in_items_first.push(id.clone());
                }
            }
        }
    }
    for id in &ids {
        if !item_ids.contains_key(id.as_str()) {
            stats.only_in_results += 1;
            if stats.only_in_results_first.len() < FIRST {
                stats.only_in_results_first.push(id.clone());
            }
        }
    }
    stats.matched = j.ids.len();
    crate::ensure!(
        stats.matched > 0,
        Error::data(
            format!("joining {} with {}", path.display(), items.path.display()),
            format!(
                "no id in common (results column {:?}, e.g. {:?}; items column \"id\", e.g. {:?})",
                results.id, stats.only_in_results_first, stats.only_in_items_first
            ),
        )
    );
    for (name, values) in &items.predictors {
        j.predictors.push((
            name.clone(),
            j.item_rows.iter().map(|&i| values[i]).collect(),
        ));
    }
    for (name, values) in extra {
        crate::ensure!(
            !j.predictors.iter().any(|(n, _)| *n == name),
            Error::param(
                "predictor",
                format!("{name:?} is already a predictor from the items table; rename the column")
            )
        );
        j.predictors
            .push((name, res_rows.iter().map(|&r| values[r]).collect()));
    }
    j.join = stats;
    Ok(j)
}

/// Correctness per row, and whether the answer was empty.
fn correctness(df: &DataFrame, path: &Path, c: &Correctness) -> Result<(Vec<bool>, Vec<bool>)> {
    match c {
        Correctness::Column(col) => {
            let v = text_column(df, path, col)?;
            let parsed = v
                .iter()
                .enumerate()
                .map(|(i, s)| match s.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" => Ok(true),
                    "0" | "false" => Ok(false),
                    other => Err(Error::parse(
                        path,
                        i + 2,
                        format!("column {col:?}: expected 0, 1, true or false, found {other:?}"),
                    )),
                })
                .collect::<Result<Vec<bool>>>()?;
            let n = parsed.len();
            Ok((parsed, vec![false; n]))
        }
        Correctness::Compare {
            predicted,
            truth,
            mode,
        } => {
            let p = text_column(df, path, predicted)?;
            let t = text_column(df, path, truth)?;
            if let Some(i) = t.iter().position(|s| s.trim().is_empty()) {
                return Err(Error::parse(
                    path,
                    i + 2,
                    format!("column {truth:?} is empty: every item needs its true answer"),
                ));
            }
            let same = |a: &str, b: &str| match mode {
                MatchMode::Exact => a.trim() == b.trim(),
                MatchMode::CaseInsensitive => a.trim().to_lowercase() == b.trim().to_lowercase(),
            };
            let correct = p.iter().zip(&t).map(|(a, b)| same(a, b)).collect();
            let empty = p.iter().map(|a| a.trim().is_empty()).collect();
            Ok((correct, empty))
        }
    }
}

fn trimmed(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.trim().to_string()).collect()
}

/// Duplicate ids are an error naming the lines.
fn unique_ids(path: &Path, ids: &[String]) -> Result<()> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(&j) = first.get(id.as_str()) {
            return Err(Error::parse(
                path,
                i + 2,
                format!(
                    "id {id:?} appears again (first on line {}); ids must be unique to join",
                    j + 2
                ),
            ));
        }
        first.insert(id, i);
    }
    Ok(())
}

/// A numeric column if present, else all `None`.
fn optional_numbers(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Option<f64>>> {
    match df.column(name) {
        Ok(_) => number_column(df, path, name),
        Err(_) => Ok(vec![None; df.height()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_shape() {
        let s = |x| IdShape::of(x);
        assert_eq!(
            s("HP:0001250"),
            IdShape {
                digits: 7,
                leading_zeros: 3
            }
        );
        assert_eq!(
            s("GO:0006915"),
            IdShape {
                digits: 7,
                leading_zeros: 3
            }
        );
        assert_eq!(
            s("HGNC:1100"),
            IdShape {
                digits: 4,
                leading_zeros: 0
            }
        );
        assert_eq!(
            s("BRCA1"),
            IdShape {
                digits: 1,
                leading_zeros: 0
            }
        );
        assert_eq!(
            s("TP53"),
            IdShape {
                digits: 2,
                leading_zeros: 0
            }
        );
        assert_eq!(
            s("ENSG00000139618.5"),
            IdShape {
                digits: 12,
                leading_zeros: 0
            }
        );
        assert_eq!(
            s("X:000"),
            IdShape {
                digits: 3,
                leading_zeros: 2
            }
        );
        assert_eq!(
            s("apoptosis"),
            IdShape {
                digits: 0,
                leading_zeros: 0
            }
        );
    }
}
