//! What a report run does: a TOML file (`configs/paper.toml`) or defaults,
//! validated before any work starts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::embed::Pooling;
use crate::error::{Error, Result};
use crate::pairs::Sample;

/// The pairings of the paper run, in figure order (the seven built-in pairings).
pub const PAPER_PAIRINGS: &[&str] = &crate::vocab::PAIRINGS;

/// A report run's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Model directory; empty = the installed default model.
    pub model: String,
    pub pooling: String,
    pub pairings: Vec<String>,
    /// "paper" or "full".
    pub sample: String,
    pub seed: u64,
    pub bootstrap: usize,
    pub max_null: usize,
    pub pca_links: usize,
    /// 0 = all cores.
    pub threads: usize,
    pub processed_dir: PathBuf,
    pub out: PathBuf,
    pub figures: PathBuf,
    /// Show progress on stderr.
    #[serde(skip)]
    pub progress: bool,
    /// Use the embedding cache.
    #[serde(skip)]
    pub cache: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            model: String::new(),
            pooling: "mean".into(),
            pairings: PAPER_PAIRINGS.iter().map(|s| s.to_string()).collect(),
            sample: "paper".into(),
            seed: 42,
            bootstrap: 1000,
            max_null: 2_000_000,
            pca_links: 40,
            threads: 0,
            processed_dir: PathBuf::from("data/processed"),
            out: PathBuf::from("results"),
            figures: PathBuf::from("figures"),
            progress: false,
            cache: true,
        }
    }
}

impl Config {
    /// The paper run with default settings.
    pub fn paper() -> Self {
        Config::default()
    }

    /// Reads a TOML config; unknown keys are errors (typos must not pass silently).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: Config = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| {
                    text.as_bytes()[..s.start.min(text.len())]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1
                })
                .unwrap_or(0);
            Error::parse(path, line, e.message().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting before use.
    pub fn validate(&self) -> Result<()> {
        self.pooling_kind()?;
        self.sample_kind()?;
        if self.pairings.is_empty() {
            return Err(Error::param("pairings", "empty; name at least one pairing"));
        }
        if self.bootstrap == 0 {
            return Err(Error::param("bootstrap", "0; need at least 1 resample"));
        }
        if self.max_null == 0 {
            return Err(Error::param(
                "max_null",
                "0; need at least 1 mismatched pair",
            ));
        }
        if self.threads > 1024 {
            return Err(Error::param(
                "threads",
                format!("{}; expected 0 (all cores) to 1024", self.threads),
            ));
        }
        Ok(())
    }

    pub fn pooling_kind(&self) -> Result<Pooling> {
        self.pooling.parse()
    }

    pub fn sample_kind(&self) -> Result<Sample> {
        match self.sample.as_str() {
            "paper" => Ok(Sample::Paper),
            "full" => Ok(Sample::Full),
            other => Err(Error::param(
                "sample",
                format!("{other:?}; expected \"paper\" or \"full\""),
            )),
        }
    }

    /// Threads to use (0 resolved to all cores).
    pub fn thread_count(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            self.threads
        }
    }

    /// The model directory to load.
    pub fn model_dir(&self) -> PathBuf {
        if self.model.is_empty() {
            crate::assets::default_model_dir()
        } else {
            PathBuf::from(&self.model)
        }
    }
}
