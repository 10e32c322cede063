//! A user's own pair table (`--pairs FILE --left COL …`, a `[[pairs]]` table in a
//! config): read as text, checked, named by file and line where something is wrong.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{split_column, Pairing, PairingMeta, SampleParams, Split};
use crate::error::{Error, Result, ResultExt};
use crate::io::{extension, number_column, read_text_table, string_column};

/// A user's pair table: which file and which columns (`--pairs FILE --left COL …`
/// on the command line, a `[[pairs]]` table in a config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairFile {
    /// CSV, TSV or Parquet.
    pub file: PathBuf,
    pub left: String,
    pub right: String,
    /// Item ids (kept as text); default: the 1-based data row number.
    #[serde(default)]
    pub id: Option<String>,
    /// Numeric popularity; without it popularity is not analysed.
    #[serde(default)]
    pub popularity: Option<String>,
    /// `train` / `withheld` per row (empty = neither); without it no probe.
    #[serde(default)]
    pub split: Option<String>,
    /// Name in outputs; default: the file name without extension.
    #[serde(default)]
    pub name: Option<String>,
}

impl PairFile {
    /// The pairing's name: `name`, else the file stem.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pairs".into())
        })
    }

    /// Reads the table. CSV/TSV cells are read as text (`0012` stays `0012`);
    /// rows keep file order. With a popularity column, bins follow `bins`.
    /// Every problem names the file, and the line where there is one.
    pub fn read(&self, bins: &SampleParams) -> Result<Pairing> {
        let path = self.file.as_path();
        let name = self.name();
        crate::ensure!(
            !name.trim().is_empty(),
            Error::param("name", "a pairing needs a non-empty name")
        );
        let ext = extension(path);
        crate::ensure!(
            matches!(ext.as_str(), "csv" | "tsv" | "tab" | "parquet"),
            Error::param(
                "pairs",
                format!(
                    "{}: expected a .csv, .tsv or .parquet table",
                    path.display()
                ),
            )
        );
        let df = read_text_table(path)?;
        let mut p = Pairing::new(
            name,
            PairingMeta {
                description: format!("user pair set from {}", crate::assets::shown_path(path)),
                left_kind: self.left.clone(),
                right_kind: self.right.clone(),
                popularity_proxy: self.popularity.clone().unwrap_or_else(|| "none".into()),
                // The file is named in the description; it is no registered source.
                sources: Vec::new(),
                bins: None,
            },
        );
        p.left = string_column(&df, path, &self.left)?;
        p.right = string_column(&df, path, &self.right)?;
        let n = p.left.len();
        p.concept_id = match &self.id {
            Some(c) => string_column(&df, path, c)?
                .into_iter()
                .map(|s| s.trim().to_string())
                .collect(),
            None => (1..=n).map(|i| i.to_string()).collect(),
        };
        if let Some(c) = &self.id {
            warn_repeated_ids(path, c, &p.concept_id);
        }
        p.popularity = match &self.popularity {
            Some(c) => number_column(&df, path, c)?,
            None => vec![None; n],
        };
        p.split = match &self.split {
            Some(c) => split_column(&df, path, c)?,
            None => vec![Split::Full; n],
        };
        p.bin = vec![None; n];
        if self.popularity.is_some() {
            p = p.with_bins(bins).with_context(|| {
                format!(
                    "{}: column {:?}",
                    path.display(),
                    self.popularity.as_deref().unwrap_or("")
                )
            })?;
        }
        Ok(p)
    }
}

/// Says on stderr, where ids enter, that some repeat: a report flags those rows
/// (`duplicate_id`), but `outcome` joins answers by id and refuses them.
fn warn_repeated_ids(path: &Path, column: &str, ids: &[String]) {
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut repeats = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(&f) = first.get(id.as_str()) {
            repeats.push((f, i));
        } else {
            first.insert(id, i);
        }
    }
    if let Some(&(f, i)) = repeats.first() {
        eprintln!(
            "warning: {}: column {column:?}: {} row(s) repeat an earlier row's id, first {:?} at {} (also at {}); `lexalign outcome` joins by id and will refuse them",
            path.display(),
            repeats.len(),
            ids[i],
            crate::io::row_place(path, i),
            crate::io::row_place(path, f),
        );
    }
}
