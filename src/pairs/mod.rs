//! Pair sets: the (left, right) string pairs whose embeddings the analysis
//! compares, one row per item, each with an item id, a popularity value, a
//! popularity bin and a split. Pairings come from the real vocabularies
//! (`lexalign vocab build`, read back from the processed folder) or from any user
//! table ([`PairFile`]).
//!
//! Layout: this file holds the data model ([`Pairing`], [`PairingMeta`], [`Split`],
//! [`SampleParams`]); `file.rs` reads a user's pair table; `bins.rs` cuts
//! popularity into bins; `sample.rs` draws the paper sample; `store.rs` is the
//! processed folder (pairings on disk, their metadata and the data releases
//! recorded at build time).
//!
//! ```
//! use lexalign::pairs::{sample_paper, Binning, Pairing, PairingMeta, SampleParams, Split};
//! let mut p = Pairing::new("toy", PairingMeta::default());
//! for i in 0..100 {
//!     p.push(format!("name {i}"), format!("ID:{i}"), format!("ID:{i}"), Some(i as f64));
//! }
//! let params = SampleParams { per_split: 20, bins: 5, seed: 1, binning: Binning::Rank };
//! let s = sample_paper(&p, &params).unwrap();
//! assert_eq!(s.len(), 40);
//! assert_eq!(s.split.iter().filter(|x| **x == Split::Train).count(), 20);
//! // Rank bins: 4 training items in each of the 5 bins; bin 1 holds the top 20 items.
//! assert_eq!(s.bin.iter().filter(|b| **b == Some(1)).count(), 8);
//! assert!(s.popularity.iter().zip(&s.bin).all(|(p, b)| (*b == Some(1)) == (p.unwrap() >= 80.0)));
//! ```

mod bins;
mod file;
mod sample;
mod store;

pub use bins::{assign_bins, BinInfo, Binning};
pub use file::PairFile;
pub use sample::sample_paper;
pub use store::{
    default_processed_dir, load_processed, processed_path, read_releases, Sample, COLUMNS,
    VOCAB_JSON,
};

use std::path::Path;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::text_column;
use crate::source::Source;

/// Which part of a sample a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Withheld,
    /// Not part of a sample (full set).
    Full,
}

impl Split {
    /// `train`, `withheld` or `full`, as written to files.
    pub fn as_str(&self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Withheld => "withheld",
            Split::Full => "full",
        }
    }
    /// Parses [`Split::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Some(Split::Train),
            "withheld" => Some(Split::Withheld),
            "full" | "" => Some(Split::Full),
            _ => None,
        }
    }
}

/// What a pairing is and where it comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairingMeta {
    pub description: String,
    pub left_kind: String,
    pub right_kind: String,
    pub popularity_proxy: String,
    /// Data sources to cite, stored as keys (`"hpo"`, …); their releases and
    /// citations come from the processed folder ([`read_releases`]). Empty for user pair sets.
    pub sources: Vec<Source>,
    /// How the `bin` column was made; `None` when there are no bins.
    #[serde(default)]
    pub bins: Option<BinInfo>,
}

/// A pair set, stored column-wise (all vectors have the same length).
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    pub name: String,
    pub left: Vec<String>,
    pub right: Vec<String>,
    pub concept_id: Vec<String>,
    pub popularity: Vec<Option<f64>>,
    pub bin: Vec<Option<u32>>,
    pub split: Vec<Split>,
    pub meta: PairingMeta,
}

/// Parameters of [`sample_paper`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleParams {
    /// Items per split (training and withheld each).
    pub per_split: usize,
    /// Number of popularity bins.
    pub bins: u32,
    /// Seeds the within-bin shuffle and the rank order of tied popularity.
    pub seed: u64,
    pub binning: Binning,
}

impl Default for SampleParams {
    fn default() -> Self {
        SampleParams {
            per_split: 600,
            bins: 20,
            seed: 42,
            binning: Binning::Rank,
        }
    }
}

impl SampleParams {
    /// Rejects zero sizes.
    pub fn validate(&self) -> Result<()> {
        if self.per_split == 0 {
            return Err(Error::param("per_split", "must be at least 1"));
        }
        if self.bins == 0 {
            return Err(Error::param("bins", "must be at least 1"));
        }
        Ok(())
    }
}

impl Pairing {
    /// An empty pairing.
    pub fn new(name: impl Into<String>, meta: PairingMeta) -> Self {
        Pairing {
            name: name.into(),
            left: Vec::new(),
            right: Vec::new(),
            concept_id: Vec::new(),
            popularity: Vec::new(),
            bin: Vec::new(),
            split: Vec::new(),
            meta,
        }
    }

    /// Appends a full-set row (no bin, split `Full`).
    pub fn push(
        &mut self,
        left: String,
        right: String,
        concept_id: String,
        popularity: Option<f64>,
    ) {
        self.left.push(left);
        self.right.push(right);
        self.concept_id.push(concept_id);
        self.popularity.push(popularity);
        self.bin.push(None);
        self.split.push(Split::Full);
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.left.len()
    }

    /// True if there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.left.is_empty()
    }

    /// Rows `idx` (in that order) as a new pairing with the same meta.
    pub fn select(&self, idx: &[usize]) -> Pairing {
        Pairing {
            name: self.name.clone(),
            left: idx.iter().map(|&i| self.left[i].clone()).collect(),
            right: idx.iter().map(|&i| self.right[i].clone()).collect(),
            concept_id: idx.iter().map(|&i| self.concept_id[i].clone()).collect(),
            popularity: idx.iter().map(|&i| self.popularity[i]).collect(),
            bin: idx.iter().map(|&i| self.bin[i]).collect(),
            split: idx.iter().map(|&i| self.split[i]).collect(),
            meta: self.meta.clone(),
        }
    }

    /// Fills `bin` from popularity (see [`assign_bins`]) and records how in the meta.
    pub fn with_bins(mut self, params: &SampleParams) -> Result<Self> {
        self.bin = assign_bins(&self.popularity, params, &self.name)?;
        self.meta.bins = Some(BinInfo {
            binning: params.binning,
            bins: params.bins,
        });
        Ok(self)
    }
}

/// A split column: `train`, `withheld` or empty per row; a clear error otherwise.
fn split_column(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Split>> {
    text_column(df, path, name)?
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Split::parse(s).ok_or_else(|| {
                crate::io::row_error(
                    path,
                    i,
                    format!(
                        "column {name:?}: expected train, withheld, full or empty, found {s:?}"
                    ),
                )
            })
        })
        .collect()
}
