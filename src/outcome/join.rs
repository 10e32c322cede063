//! Joining a model's per-item results with a report's per-item table: one reader
//! per file shape, every problem named by file, line and value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::IdShape;
use crate::io::{column_list, number_column, read_text_table, string_column, text_column};

/// How a predicted answer is compared with the truth. Both are trimmed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
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
    /// A fine-tuning category column: c = kept (correct before and after),
    /// i = never correct, g = gained (learned), l = lost (forgotten); case-insensitive.
    /// `after` picks the fine-tuned model's correctness, else the base model's.
    Category { column: String, after: bool },
}

/// A `--predictor` spec: `COL` or `log1p:COL` (named `log1p_COL`, values ln(1 + x),
/// which must be > −1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictorSpec {
    pub name: String,
    pub column: String,
    pub log1p: bool,
}

impl PredictorSpec {
    pub fn parse(spec: &str) -> Result<PredictorSpec> {
        match spec.split_once(':') {
            Some(("log1p", col)) if !col.is_empty() => Ok(PredictorSpec {
                name: format!("log1p_{col}"),
                column: col.to_string(),
                log1p: true,
            }),
            Some((t, _)) => Err(Error::param(
                "predictor",
                format!("{spec:?}: unknown transform {t:?}; the one known is log1p:COL"),
            )),
            None => Ok(PredictorSpec {
                name: spec.to_string(),
                column: spec.to_string(),
                log1p: false,
            }),
        }
    }
}

/// One results file: a model's per-item answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultsFile {
    #[serde(serialize_with = "crate::assets::serialize_shown_path")]
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
    /// The first few such ids, in id order.
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
    /// In id order (not file order), so no number depends on the order of rows.
    pub ids: Vec<String>,
    /// 0-based rows of the items table.
    pub item_rows: Vec<usize>,
    /// The items table each item comes from (its task), when there are several.
    pub task: Vec<String>,
    /// The items' `split` (training / withheld), if the table has one.
    pub split: Option<Vec<String>>,
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
    /// The `split` column (`training` / `withheld`), if the table has one.
    pub split: Option<Vec<String>>,
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
        let split = match df.column("split") {
            Ok(_) => Some(trimmed(text_column(&df, path, "split")?)),
            Err(_) => None,
        };
        Ok(Items {
            path: path.to_path_buf(),
            split,
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
    let extra = user_predictors(&df, path, &results.predictors)?;
    let row_of: HashMap<&str, usize> = ids
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
        task: Vec::new(),
        split: items.split.as_ref().map(|_| Vec::new()),
        predictors: Vec::new(),
        user_predictors: results
            .predictors
            .iter()
            .map(|c| PredictorSpec::parse(c).map(|s| s.name))
            .collect::<Result<_>>()?,
        bin: Vec::new(),
        join: JoinStats::default(),
    };
    let mut res_rows = Vec::new();
    // Id order: every statistic (bootstrap, folds, ties) then ignores row order.
    let mut order: Vec<usize> = (0..items.ids.len()).collect();
    order.sort_by(|&a, &b| items.ids[a].cmp(&items.ids[b]));
    for i in order {
        let id = &items.ids[i];
        match row_of.get(id.as_str()) {
            Some(&r) => {
                j.ids.push(id.clone());
                if let (Some(out), Some(s)) = (j.split.as_mut(), items.split.as_ref()) {
                    out.push(s[i].clone());
                }
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
    count_only_in_results(&ids, items, &mut stats);
    stats.matched = j.ids.len();
    j.task = vec![task_name(&items.path); stats.matched];
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
    attach_predictors(&mut j, items, extra, &res_rows)?;
    j.join = stats;
    Ok(j)
}

/// The results file's own predictor columns (`--predictor COL|log1p:COL`), by name.
fn user_predictors(
    df: &DataFrame,
    path: &Path,
    specs: &[String],
) -> Result<Vec<(String, Vec<Option<f64>>)>> {
    specs
        .iter()
        .map(|c| {
            let spec = PredictorSpec::parse(c)?;
            let mut v = number_column(df, path, &spec.column)?;
            if spec.log1p {
                if let Some(i) = v.iter().position(|x| x.is_some_and(|x| x <= -1.0)) {
                    return Err(crate::io::row_error(
                        path,
                        i,
                        format!(
                            "column {:?}: log1p needs values > −1, found {}",
                            spec.column,
                            v[i].unwrap()
                        ),
                    ));
                }
                v.iter_mut().for_each(|x| *x = x.map(f64::ln_1p));
            }
            Ok((spec.name, v))
        })
        .collect()
}

/// Counts the results' ids that no item has (the first few named), in id order.
fn count_only_in_results(ids: &[String], items: &Items, stats: &mut JoinStats) {
    let item_ids: std::collections::HashSet<&str> = items.ids.iter().map(String::as_str).collect();
    let mut sorted_ids: Vec<&String> = ids.iter().collect();
    sorted_ids.sort();
    for id in sorted_ids {
        if !item_ids.contains(id.as_str()) {
            stats.only_in_results += 1;
            if stats.only_in_results_first.len() < FIRST {
                stats.only_in_results_first.push(id.clone());
            }
        }
    }
}

/// The matched rows' predictors: the items table's, then the results file's
/// (`res_rows`: the results row of each matched item); a name in both is an error.
fn attach_predictors(
    j: &mut Joined,
    items: &Items,
    extra: Vec<(String, Vec<Option<f64>>)>,
    res_rows: &[usize],
) -> Result<()> {
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
    Ok(())
}

/// Several tasks' joins of one model pooled into one: items task by task (in the
/// order given), predictors by name (missing in a task = no value), join counts
/// summed. The group is kept only if every part has one.
pub fn pool(parts: Vec<Joined>) -> Result<Joined> {
    crate::ensure!(!parts.is_empty(), Error::param("items", "nothing to pool"));
    if parts.len() == 1 {
        return Ok(parts.into_iter().next().unwrap());
    }
    let mut names: Vec<String> = Vec::new();
    for p in &parts {
        for (n, _) in &p.predictors {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    let mut out = Joined {
        name: parts[0].name.clone(),
        ids: Vec::new(),
        item_rows: Vec::new(),
        task: Vec::new(),
        split: parts.iter().all(|p| p.split.is_some()).then(Vec::new),
        correct: Vec::new(),
        group: parts.iter().all(|p| p.group.is_some()).then(Vec::new),
        predictors: names.iter().map(|n| (n.clone(), Vec::new())).collect(),
        user_predictors: parts[0].user_predictors.clone(),
        bin: Vec::new(),
        join: JoinStats::default(),
    };
    let mut tasks = std::collections::HashSet::new();
    for p in parts {
        crate::ensure!(
            tasks.insert(p.task[0].clone()),
            Error::param(
                "items",
                format!(
                    "two items tables are both named {:?} (file stem); tasks need distinct names",
                    p.task[0]
                )
            )
        );
        let n = p.ids.len();
        out.ids.extend(p.ids);
        out.item_rows.extend(p.item_rows);
        out.task.extend(p.task);
        out.correct.extend(p.correct);
        out.bin.extend(p.bin);
        if let (Some(o), Some(s)) = (out.split.as_mut(), p.split) {
            o.extend(s);
        }
        if let (Some(o), Some(g)) = (out.group.as_mut(), p.group) {
            o.extend(g);
        }
        for (name, col) in out.predictors.iter_mut() {
            match p.predictors.iter().find(|(m, _)| m == name) {
                Some((_, v)) => col.extend(v.iter().copied()),
                None => col.extend(std::iter::repeat_n(None, n)),
            }
        }
        let j = &mut out.join;
        j.items += p.join.items;
        j.results += p.join.results;
        j.matched += p.join.matched;
        j.only_in_items += p.join.only_in_items;
        j.only_in_results += p.join.only_in_results;
        j.empty_answers += p.join.empty_answers;
        j.excluded_in_items += p.join.excluded_in_items;
        for (a, b) in [
            (&mut j.only_in_items_first, p.join.only_in_items_first),
            (&mut j.only_in_results_first, p.join.only_in_results_first),
        ] {
            a.extend(b);
            a.truncate(FIRST);
        }
    }
    Ok(out)
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
                    other => Err(crate::io::row_error(
                        path,
                        i,
                        format!("column {col:?}: expected 0, 1, true or false, found {other:?}"),
                    )),
                })
                .collect::<Result<Vec<bool>>>()?;
            let n = parsed.len();
            Ok((parsed, vec![false; n]))
        }
        Correctness::Category { column, after } => {
            let v = text_column(df, path, column)?;
            let parsed = v
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    // (before, after) per category.
                    let (b, a) = match s.trim().to_ascii_lowercase().as_str() {
                        "c" => (true, true),
                        "i" => (false, false),
                        "g" => (false, true),
                        "l" => (true, false),
                        other => {
                            return Err(crate::io::row_error(path, i,
                                format!(
                                    "column {column:?}: expected a category c (kept), i (never), g (gained) or l (lost), found {other:?}"
                                ),
                            ))
                        }
                    };
                    Ok(if *after { a } else { b })
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
                return Err(crate::io::row_error(
                    path,
                    i,
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

/// An items table's task name: its file stem.
pub fn task_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn trimmed(v: Vec<String>) -> Vec<String> {
    v.into_iter().map(|s| s.trim().to_string()).collect()
}

/// Duplicate ids are an error naming the lines.
fn unique_ids(path: &Path, ids: &[String]) -> Result<()> {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(&j) = first.get(id.as_str()) {
            return Err(crate::io::row_error(
                path,
                i,
                format!(
                    "id {id:?} appears again (first on {}); ids must be unique to join",
                    crate::io::row_place(path, j)
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
