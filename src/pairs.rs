//! Pair sets: the (left, right) string pairs whose embeddings the analysis
//! compares, one row per item, each with an item id, a popularity value, a
//! popularity bin and a split. Pairings come from the real vocabularies
//! ([`crate::vocab`]) or from any user table ([`PairFile`]).
//!
//! ## Popularity bins
//! Bins are numbered from 1 = **most popular**. Two binnings ([`Binning`]):
//! - `rank` (default, as in the study): items are ranked by popularity (rank 1 =
//!   most popular) and the ranks cut into `bins` **equal-count** bins, so every bin
//!   holds ⌊n/bins⌋ or ⌈n/bins⌉ items. Ties in popularity are ordered by a seeded
//!   shuffle, not by input order (which often follows the identifier's age), so a
//!   tie that straddles a bin edge is split at random, reproducibly.
//! - `log`: equal-width intervals of `ln(1 + popularity)` between the smallest and
//!   largest value (the top edge belongs to bin 1). It spreads bins over orders of
//!   magnitude, so the top bins are nearly empty for heavy-tailed popularity.
//!
//! ## Paper sample
//! [`sample_paper`] draws `per_split` training and `per_split` withheld items
//! stratified over the bins: each bin gets the same quota of pairs (one training +
//! one withheld item) — with rank bins and enough items that is exactly
//! `per_split / bins` per bin per split (the study's 30 × 20 = 600). A bin with
//! fewer items gives all it has (an odd item out is left) and the shortfall is
//! shared among the larger bins, so both splits always have exactly `per_split`
//! items with the same bin distribution. Items without popularity are never
//! sampled. If fewer than `2 × per_split` items can be placed the sample fails with
//! an error saying how many are available. Within a bin items are shuffled with
//! ChaCha8 seeded by `seed`, so a seed always gives the same sample.
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

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, ResultExt};
use crate::io::{
    extension, number_column, read_table, read_text_table, string_column, text_column,
    write_json_atomic, write_table,
};
use crate::vocab::Source;

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

/// How popularity is cut into bins (see the module docs). Bin 1 is the most popular.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Binning {
    /// Equal-count bins over popularity rank (the study's binning).
    #[default]
    Rank,
    /// Equal-width bins over ln(1 + popularity).
    Log,
}

impl Binning {
    /// `rank` or `log`, as in configs and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Binning::Rank => "rank",
            Binning::Log => "log",
        }
    }

    /// How figures and reports describe `bins` bins of this kind.
    pub fn describe(self, bins: u32) -> String {
        match self {
            Binning::Rank => {
                format!("{bins} equal-count bins over popularity rank, 1 = most popular")
            }
            Binning::Log => {
                format!("{bins} equal-width bins over ln(1 + popularity), 1 = most popular")
            }
        }
    }
}

/// The bins a pairing's `bin` column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinInfo {
    pub binning: Binning,
    pub bins: u32,
}

/// What a pairing is and where it comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PairingMeta {
    pub description: String,
    pub left_kind: String,
    pub right_kind: String,
    pub popularity_proxy: String,
    /// Data sources to cite, stored as keys (`"hpo"`, …); their releases and
    /// citations come from [`crate::vocab::releases`]. Empty for user pair sets.
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

/// Output column names, in order.
pub const COLUMNS: [&str; 6] = ["left", "right", "concept_id", "popularity", "bin", "split"];

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

    /// Fills `bin` from popularity (see the module docs) and records how in the meta.
    pub fn with_bins(mut self, params: &SampleParams) -> Result<Self> {
        self.bin = assign_bins(&self.popularity, params, &self.name)?;
        self.meta.bins = Some(BinInfo {
            binning: params.binning,
            bins: params.bins,
        });
        Ok(self)
    }

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

/// Popularity bins 1..=`params.bins`, 1 = most popular (see the module docs);
/// `None` for items without popularity. Popularity must be finite and ≥ 0.
pub fn assign_bins(
    popularity: &[Option<f64>],
    params: &SampleParams,
    context: &str,
) -> Result<Vec<Option<u32>>> {
    let bins = params.bins;
    crate::ensure!(bins > 0, Error::param("bins", "must be at least 1"));
    if let Some((i, v)) = popularity
        .iter()
        .enumerate()
        .find_map(|(i, p)| p.filter(|v| !v.is_finite() || *v < 0.0).map(|v| (i, v)))
    {
        return Err(Error::data(
            context,
            format!(
                "popularity of item {} is {v}; expected a finite number ≥ 0",
                i + 1
            ),
        ));
    }
    // One value for every item orders nothing: bins would only follow the
    // tie-break, so there are none (and no popularity figure).
    let mut values = popularity.iter().flatten();
    if let Some(first) = values.next() {
        if values.all(|v| v == first) {
            return Ok(vec![None; popularity.len()]);
        }
    }
    Ok(match params.binning {
        Binning::Rank => rank_bins(popularity, bins, params.seed),
        Binning::Log => log_bins(popularity, bins),
    })
}

/// Equal-count bins over popularity rank; ties ordered by a seeded shuffle.
fn rank_bins(popularity: &[Option<f64>], bins: u32, seed: u64) -> Vec<Option<u32>> {
    let mut order: Vec<usize> = (0..popularity.len())
        .filter(|&i| popularity[i].is_some())
        .collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    // Stable: tied items keep their shuffled order.
    order.sort_by(|&a, &b| popularity[b].unwrap().total_cmp(&popularity[a].unwrap()));
    let n = order.len() as u64;
    let mut out = vec![None; popularity.len()];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = Some((rank as u64 * bins as u64 / n) as u32 + 1);
    }
    out
}

/// Equal-width bins over ln(1 + popularity); the top edge belongs to bin 1.
fn log_bins(popularity: &[Option<f64>], bins: u32) -> Vec<Option<u32>> {
    let x = |v: f64| v.ln_1p();
    let (lo, hi) = popularity
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(x(v)), hi.max(x(v)))
        });
    let width = (hi - lo) / bins as f64;
    popularity
        .iter()
        .map(|p| {
            p.map(|v| {
                let from_bottom = if width > 0.0 {
                    (((x(v) - lo) / width).floor() as u32).min(bins - 1)
                } else {
                    bins - 1
                };
                bins - from_bottom
            })
        })
        .collect()
}

/// Draws the paper sample: `per_split` training and `per_split` withheld items,
/// stratified over popularity bins (see the module docs). Rows are
/// ordered training first, then withheld, each in the pairing's order.
pub fn sample_paper(pairing: &Pairing, params: &SampleParams) -> Result<Pairing> {
    params.validate()?;
    let bins = assign_bins(&pairing.popularity, params, &pairing.name)?;
    let nb = params.bins as usize;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); nb];
    for (i, b) in bins.iter().enumerate() {
        if let Some(b) = b {
            members[*b as usize - 1].push(i);
        }
    }
    let capacity: Vec<usize> = members.iter().map(|m| m.len() / 2).collect();
    let total: usize = capacity.iter().sum();
    if total < params.per_split {
        let with_pop = bins.iter().filter(|b| b.is_some()).count();
        return Err(Error::data(
            format!("pairing {}", pairing.name),
            format!(
                "too small for a sample of {} + {} items: {} of {} items have a popularity and at most {} \
                 per split fit the {} bins; lower per_split or use the full set",
                params.per_split,
                params.per_split,
                with_pop,
                pairing.len(),
                total,
                params.bins
            ),
        ));
    }
    let quota = fill_quotas(&capacity, params.per_split);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut train = Vec::with_capacity(params.per_split);
    let mut withheld = Vec::with_capacity(params.per_split);
    for (b, m) in members.iter_mut().enumerate() {
        m.shuffle(&mut rng);
        train.extend_from_slice(&m[..quota[b]]);
        withheld.extend_from_slice(&m[quota[b]..2 * quota[b]]);
    }
    train.sort_unstable();
    withheld.sort_unstable();
    let order: Vec<usize> = train.iter().chain(withheld.iter()).copied().collect();
    let mut out = pairing.select(&order);
    out.meta.bins = Some(BinInfo {
        binning: params.binning,
        bins: params.bins,
    });
    for (k, &i) in order.iter().enumerate() {
        out.bin[k] = bins[i];
        out.split[k] = if k < train.len() {
            Split::Train
        } else {
            Split::Withheld
        };
    }
    Ok(out)
}

/// Shares `want` among bins with the given capacities as evenly as possible
/// (water-filling: small bins give all they have). Requires Σ capacity ≥ want.
fn fill_quotas(capacity: &[usize], want: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..capacity.len()).filter(|&b| capacity[b] > 0).collect();
    order.sort_by_key(|&b| (capacity[b], b));
    let mut quota = vec![0; capacity.len()];
    let mut remaining = want;
    for (k, &b) in order.iter().enumerate() {
        let fair = remaining / (order.len() - k);
        quota[b] = capacity[b].min(fair);
        remaining -= quota[b];
    }
    // Integer division may leave a few; give them to bins with room, lowest first.
    for b in 0..capacity.len() {
        if remaining == 0 {
            break;
        }
        let add = (capacity[b] - quota[b]).min(remaining);
        quota[b] += add;
        remaining -= add;
    }
    quota
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

/// Digits of an identifier: all of them, and the zeros that lead its last run of
/// digits (`HP:0001250` → 7 digits, 3 leading zeros; `BRCA1` → 1, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShape {
    pub digits: usize,
    pub leading_zeros: usize,
}

impl IdShape {
    pub fn of(id: &str) -> IdShape {
        IdShape {
            digits: id.chars().filter(char::is_ascii_digit).count(),
            leading_zeros: Self::leading_zero_chars(id).len(),
        }
    }

    /// Where the leading zeros of the last digit run lie, in chars (empty if none).
    /// A run of zeros alone ("HP:000") is all leading zeros but its last.
    pub fn leading_zero_chars(id: &str) -> std::ops::Range<usize> {
        let chars: Vec<char> = id.chars().collect();
        let Some(end) = chars.iter().rposition(char::is_ascii_digit).map(|i| i + 1) else {
            return 0..0;
        };
        let start = chars[..end]
            .iter()
            .rposition(|c| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        let zeros = chars[start..end].iter().take_while(|&&c| c == '0').count();
        let zeros = if start + zeros == end {
            zeros - 1
        } else {
            zeros
        };
        start..start + zeros
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros_of_the_last_digit_run() {
        let z = IdShape::leading_zero_chars;
        assert_eq!(z("HP:0001250"), 3..6);
        assert_eq!(z("HP:000"), 3..5);
        assert_eq!(z("BRCA1"), 4..4);
        assert_eq!(z("abc"), 0..0);
        assert_eq!(z("0012"), 0..2);
        assert_eq!(z("A01B002x"), 4..6);
        assert_eq!(z("é:007"), 2..4);
        assert_eq!(
            IdShape::of("HP:0001250"),
            IdShape {
                digits: 7,
                leading_zeros: 3
            }
        );
    }

    fn params(bins: u32, binning: Binning) -> SampleParams {
        SampleParams {
            bins,
            binning,
            ..SampleParams::default()
        }
    }

    #[test]
    fn log_bins_are_equal_width_most_popular_first() {
        // ln(1+p): 0, ln 10, ln 100, ln 1000 → widths of ln(1000)/3 each.
        let pop = [Some(0.0), Some(9.0), Some(99.0), Some(999.0), None];
        let b = assign_bins(&pop, &params(3, Binning::Log), "t").unwrap();
        assert_eq!(b, [Some(3), Some(2), Some(1), Some(1), None]);
        // All equal: popularity ranks nothing, so no bins (issue 24).
        for binning in [Binning::Log, Binning::Rank] {
            assert_eq!(
                assign_bins(&[Some(5.0), None, Some(5.0)], &params(20, binning), "t").unwrap(),
                [None, None, None]
            );
        }
        for binning in [Binning::Log, Binning::Rank] {
            assert!(assign_bins(&[Some(-1.0)], &params(3, binning), "t").is_err());
            assert!(assign_bins(&[Some(f64::NAN)], &params(3, binning), "t").is_err());
            assert!(assign_bins(&[Some(1.0)], &params(0, binning), "t").is_err());
        }
    }

    #[test]
    fn rank_bins_are_equal_count_most_popular_first() {
        // 10 items, 5 bins: two per bin, by descending popularity.
        let pop: Vec<Option<f64>> = (0..10).map(|i| Some(i as f64)).collect();
        let b = assign_bins(&pop, &params(5, Binning::Rank), "t").unwrap();
        let want: Vec<Option<u32>> = [5, 5, 4, 4, 3, 3, 2, 2, 1, 1].map(Some).to_vec();
        assert_eq!(b, want);
        // 7 items, 3 bins: ⌊rank·3/7⌋ + 1 gives sizes 3, 2, 2.
        let b = assign_bins(&pop[..7], &params(3, Binning::Rank), "t").unwrap();
        let count = |k| b.iter().filter(|x| **x == Some(k)).count();
        assert_eq!((count(1), count(2), count(3)), (3, 2, 2));
        // Ties straddling an edge are split by the seeded shuffle: counts stay equal,
        // and the same seed gives the same assignment.
        let mut ties = vec![Some(1.0); 8];
        ties.push(Some(0.0));
        let a1 = assign_bins(&ties, &params(4, Binning::Rank), "t").unwrap();
        assert_eq!(a1.iter().filter(|x| **x == Some(1)).count(), 3);
        assert_eq!(a1[8], Some(4));
        assert_eq!(
            a1,
            assign_bins(&ties, &params(4, Binning::Rank), "t").unwrap()
        );
        let other = SampleParams {
            seed: 7,
            ..params(4, Binning::Rank)
        };
        assert_ne!(a1, assign_bins(&ties, &other, "t").unwrap());
    }

    #[test]
    fn quotas_water_fill() {
        assert_eq!(fill_quotas(&[10, 10, 10], 15), [5, 5, 5]);
        assert_eq!(fill_quotas(&[1, 0, 100, 100], 30), [1, 0, 14, 15]);
        assert_eq!(fill_quotas(&[3, 3, 3], 9), [3, 3, 3]);
        let q = fill_quotas(&[7, 2, 9, 4, 1], 20);
        assert_eq!(q.iter().sum::<usize>(), 20);
        assert!(q.iter().zip([7, 2, 9, 4, 1]).all(|(q, c)| *q <= c));
    }

    #[test]
    fn items_without_popularity_are_not_sampled() {
        let mut p = Pairing::new("t", PairingMeta::default());
        for i in 0..50 {
            let pop = if i % 2 == 0 { Some(i as f64) } else { None };
            p.push(format!("l{i}"), format!("r{i}"), format!("c{i}"), pop);
        }
        let s = sample_paper(
            &p,
            &SampleParams {
                per_split: 10,
                bins: 4,
                seed: 3,
                binning: Binning::Log,
            },
        )
        .unwrap();
        assert_eq!(s.len(), 20);
        assert!(s.popularity.iter().all(Option::is_some));
        assert!(sample_paper(
            &p,
            &SampleParams {
                per_split: 13,
                bins: 4,
                seed: 3,
                binning: Binning::Log,
            }
        )
        .is_err());
        assert!(sample_paper(
            &p,
            &SampleParams {
                per_split: 0,
                bins: 4,
                seed: 3,
                binning: Binning::Log,
            }
        )
        .is_err());
    }
}
