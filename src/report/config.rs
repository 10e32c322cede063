//! What a report run does, in two layers (ripgrep's low/high args, linfa's checked
//! params): [`Config`] is the serde/TOML face — typed, every key optional — and
//! [`Config::resolve`] checks it once into a [`Run`] that every stage trusts.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::embed::{EmbedOptions, ModelOptions, Pooling};
use crate::ensure;
use crate::error::{Error, Location, Result};
use crate::metrics::alignment::AlignmentConfig;
use crate::metrics::probe::ProbeConfig;
use crate::metrics::retrieval::RetrievalConfig;
use crate::model::{Asked, VectorSetting};
use crate::pairs::{Binning, PairFile, Sample, SampleParams};
use crate::stats::BootstrapConfig;
use crate::stats::MAX_RESAMPLES;

/// The pairings of the paper run, in figure order (the seven built-in pairings).
pub const PAPER_PAIRINGS: &[&str] = &crate::vocab::PAIRINGS;

/// A report run's settings as written in TOML or set from the command line.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Model: an installed model's name (minilm, minilm-int8, smollm2) or a directory;
    /// `None` = the installed default model.
    pub model: Option<PathBuf>,
    /// Several models side by side (`report --models`): each as `model` takes it.
    pub models: Option<Vec<PathBuf>>,
    /// Pooling; `None` = the model directory's own default (`lexalign.json`), else mean.
    pub pooling: Option<Pooling>,
    /// Built-in pairings; `None` = the seven of the paper, unless `pairs` are given.
    pub pairings: Option<Vec<String>>,
    /// The user's own pair tables (`[[pairs]]` in TOML; paths relative to the working folder).
    pub pairs: Vec<PairFile>,
    /// How a user pair table's popularity is binned.
    pub binning: Binning,
    /// Number of popularity bins for user pair tables.
    pub bins: u32,
    pub sample: Sample,
    pub seed: u64,
    pub bootstrap: usize,
    pub max_null: usize,
    /// Pairs joined by a line in the PCA figure.
    pub pca_links: usize,
    /// `None` (or 0 in TOML) = all cores.
    #[serde(deserialize_with = "threads_setting")]
    pub threads: Option<NonZeroUsize>,
    /// Pair tables; `None` = where `lexalign vocab build` writes them.
    pub processed_dir: Option<PathBuf>,
    pub out: PathBuf,
    pub figures: PathBuf,
    /// ONNX Runtime library; `None` = `$ORT_DYLIB_PATH` or the installed copy.
    pub ort_lib: Option<PathBuf>,
    /// Graph output to pool instead of the model's default.
    pub output_name: Option<String>,
    /// `cpu` or `cuda` (the GPU build of ONNX Runtime as `ort_lib`).
    pub device: crate::embed::Device,
    /// Layers to measure besides the final one (decoders only): `"all"` (0..=L),
    /// a list `[0, 10, 20]` or the same as text `"0,10,20"`.
    pub layers: Option<LayerSetting>,
    /// Text each string is wrapped in before embedding, with exactly one `{}`
    /// (decoders: the vector is the prompt's last token).
    pub template: Option<String>,
    /// Show progress on stderr.
    #[serde(skip)]
    pub progress: bool,
    /// Use the embedding cache.
    #[serde(skip)]
    pub cache: bool,
}

fn threads_setting<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NonZeroUsize>, D::Error> {
    Ok(NonZeroUsize::new(usize::deserialize(d)?))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            model: None,
            models: None,
            pooling: None,
            pairings: None,
            pairs: Vec::new(),
            binning: Binning::Rank,
            bins: 20,
            sample: Sample::Paper,
            seed: 42,
            bootstrap: 1000,
            max_null: 2_000_000,
            pca_links: 40,
            threads: None,
            processed_dir: None,
            out: PathBuf::from("results"),
            figures: PathBuf::from("figures"),
            ort_lib: None,
            output_name: None,
            device: crate::embed::Device::Cpu,
            layers: None,
            template: None,
            progress: false,
            cache: true,
        }
    }
}

/// `layers` as written: `"all"`, `"0,5,10"` or a TOML list of numbers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum LayerSetting {
    List(Vec<usize>),
    Text(String),
}

/// Which layers a run measures, checked for syntax (the model's depth is checked
/// when it is loaded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layers {
    /// 0..=L for the model's L.
    All,
    /// Sorted, distinct, non-empty.
    List(Vec<usize>),
}

impl LayerSetting {
    /// Parses and checks the setting: `all`, or distinct layer numbers.
    pub fn check(&self) -> Result<Layers> {
        let list = match self {
            LayerSetting::Text(t) if t.trim().eq_ignore_ascii_case("all") => {
                return Ok(Layers::All)
            }
            LayerSetting::Text(t) => t
                .split(',')
                .map(|x| {
                    x.trim().parse::<usize>().map_err(|_| {
                        Error::param(
                            "layers",
                            format!(
                                "{t:?}: expected `all` or layer numbers such as 0,5,10 (got {x:?})"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<usize>>>()?,
            LayerSetting::List(l) => l.clone(),
        };
        ensure!(
            !list.is_empty(),
            Error::param(
                "layers",
                "empty; give `all` or layer numbers such as 0,5,10"
            )
        );
        let mut sorted = list.clone();
        sorted.sort_unstable();
        sorted.dedup();
        ensure!(
            sorted.len() == list.len(),
            Error::param("layers", format!("{list:?} names a layer twice"))
        );
        Ok(Layers::List(sorted))
    }
}

impl Layers {
    /// The layer numbers for a model of `depth` layers (`None`: a model without
    /// per-layer outputs, which is a usage error).
    pub fn resolve(&self, model: &str, depth: Option<usize>) -> Result<Vec<usize>> {
        let depth = depth.ok_or_else(|| {
            Error::param(
                "layers",
                format!(
                    "model {model} exposes no per-layer states (only decoders such as smollm2 do); leave out --layers"
                ),
            )
        })?;
        match self {
            Layers::All => Ok((0..=depth).collect()),
            Layers::List(l) => {
                if let Some(bad) = l.iter().find(|&&x| x > depth) {
                    return Err(Error::param(
                        "layers",
                        format!("layer {bad}: model {model} has layers 0..={depth}"),
                    ));
                }
                Ok(l.clone())
            }
        }
    }
}

/// Analysis parameters, checked: what [`super::analyse`] takes.
#[derive(Debug, Clone)]
pub struct AnalysisParams {
    pub seed: u64,
    pub bootstrap: BootstrapConfig,
    pub alignment: AlignmentConfig,
    pub retrieval: RetrievalConfig,
    pub probe: ProbeConfig,
}

impl AnalysisParams {
    fn new(seed: u64, resamples: usize, max_null: usize) -> Self {
        let bootstrap = BootstrapConfig {
            resamples,
            level: 0.95,
            seed,
        };
        AnalysisParams {
            seed,
            alignment: AlignmentConfig {
                max_null,
                seed,
                bootstrap: bootstrap.clone(),
                ..Default::default()
            },
            retrieval: RetrievalConfig::default(),
            probe: ProbeConfig {
                seed,
                ..Default::default()
            },
            bootstrap,
        }
    }
}

/// Figure parameters, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FigureParams {
    /// Pairs joined by a line in the PCA figure (sampled with the run's seed).
    pub pca_links: usize,
    pub seed: u64,
}

/// A resolved, checked run: nothing below this parses strings or re-validates.
/// Made only by [`Config::resolve`]; read through its accessors.
#[derive(Debug, Clone)]
pub struct Run {
    pub(crate) model_dir: PathBuf,
    pub(crate) model: ModelOptions,
    pub(crate) embed: EmbedOptions,
    /// Built-in pairings, in order (before the user's).
    pub(crate) pairings: Vec<String>,
    /// User pair tables, in order; names unique across both lists.
    pub(crate) pairs: Vec<PairFile>,
    /// Binning of user pair tables with popularity.
    pub(crate) bins: SampleParams,
    pub(crate) sample: Sample,
    pub(crate) processed_dir: PathBuf,
    pub(crate) threads: NonZeroUsize,
    pub(crate) analysis: AnalysisParams,
    pub(crate) figures: FigureParams,
    /// Results folder (pairs/, summary.json, report.md).
    pub(crate) out: PathBuf,
    pub(crate) figures_dir: PathBuf,
    /// Layers measured besides the final output (`None`: the final output only).
    pub(crate) layers: Option<Layers>,
}

impl Config {
    /// The paper run with default settings.
    pub fn paper() -> Self {
        Config::default()
    }

    /// Reads a TOML config; unknown keys and wrong types are errors naming the line.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| match e.span() {
            Some(span) => {
                // A span off a character boundary (never seen) falls back to the whole text.
                let before = text.get(..span.start).unwrap_or(&text);
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                Error::parse_at(path, Location::at(line, column), e.message())
            }
            None => Error::parse_file(path, e.message()),
        })
    }

    /// Checks every setting and resolves defaults (model directory, its pooling,
    /// threads, folders) into a [`Run`].
    pub fn resolve(&self) -> Result<Run> {
        ensure!(
            self.models.is_none(),
            Error::param(
                "models",
                "a comparison of several models; resolve it with Config::resolve_models"
            )
        );
        let pairings = self.resolve_pairings()?;
        let bins = SampleParams {
            bins: self.bins,
            seed: self.seed,
            binning: self.binning,
            ..SampleParams::default()
        };
        bins.validate()?;
        self.check_limits()?;
        let layers = self.layers.as_ref().map(LayerSetting::check).transpose()?;
        let threads = crate::parallel::from_setting(self.threads.map_or(0, NonZeroUsize::get))?;
        let (model_dir, setting, model) = self.resolve_model(threads.get())?;
        let embed = EmbedOptions::default()
            .with_setting(&setting)
            .with_cache(self.cache.then(crate::embed::default_cache_dir))
            .with_progress(self.progress);
        Ok(Run {
            model_dir,
            model,
            embed,
            pairings,
            pairs: self.pairs.clone(),
            bins,
            sample: self.sample,
            processed_dir: self
                .processed_dir
                .clone()
                .unwrap_or_else(crate::pairs::default_processed_dir),
            threads,
            analysis: AnalysisParams::new(self.seed, self.bootstrap, self.max_null),
            figures: FigureParams {
                pca_links: self.pca_links,
                seed: self.seed,
            },
            out: self.out.clone(),
            figures_dir: self.figures.clone(),
            layers,
        })
    }

    /// The named pairings (default: the paper's seven, unless pair files are given).
    fn resolve_pairings(&self) -> Result<Vec<String>> {
        let pairings = match &self.pairings {
            Some(p) => p.clone(),
            None if self.pairs.is_empty() => PAPER_PAIRINGS.iter().map(|s| s.to_string()).collect(),
            None => Vec::new(),
        };
        ensure!(
            !pairings.is_empty() || !self.pairs.is_empty(),
            Error::param("pairings", "empty; name at least one pairing or pair file")
        );
        check_names(&pairings, &self.pairs)?;
        Ok(pairings)
    }

    /// Bounds on the resamples, the null and the output folders.
    fn check_limits(&self) -> Result<()> {
        ensure!(
            self.bootstrap > 0,
            Error::param("bootstrap", "0; need at least 1 resample")
        );
        ensure!(
            self.bootstrap <= MAX_RESAMPLES,
            Error::param(
                "bootstrap",
                format!(
                    "{}; at most {MAX_RESAMPLES} resamples (a bound on the run's time and memory)",
                    self.bootstrap
                )
            )
        );
        ensure!(
            self.max_null > 0,
            Error::param("max_null", "0; need at least 1 mismatched pair")
        );
        for (key, dir) in [("out", &self.out), ("figures", &self.figures)] {
            ensure!(
                !dir.as_os_str().is_empty(),
                Error::param(
                    key,
                    "empty path; give a folder (e.g. \"results\"), or leave it out for the default"
                )
            );
        }
        Ok(())
    }

    /// The model folder, its vector setting and the session options.
    fn resolve_model(&self, threads: usize) -> Result<(PathBuf, VectorSetting, ModelOptions)> {
        let model_dir = match &self.model {
            Some(p) if p.as_os_str().is_empty() => {
                return Err(Error::param(
                    "model",
                    "empty path; leave it out for the installed default model",
                ))
            }
            Some(p) => crate::assets::model_dir(p),
            None => crate::assets::default_model_dir(),
        };
        // The study measures raw vectors: never normalised, whatever the manifest
        // says (recorded in provenance).
        let setting = VectorSetting::for_dir(
            &model_dir,
            &Asked {
                pooling: self.pooling,
                normalize: Some(false),
                template: self.template.clone(),
            },
        )?;
        let mut model = ModelOptions::default().with_threads(threads);
        if let Some(lib) = &self.ort_lib {
            model = model.with_ort_library(lib);
        }
        if let Some(o) = &self.output_name {
            model = model.with_output(o);
        }
        model.device = self.device;
        Ok((model_dir, setting, model))
    }
}

impl Config {
    /// `models` resolved into one [`Run`] per model, each writing into
    /// `out/<label>` and `figures/<label>` (labels: [`super::label_of`]).
    pub fn resolve_models(&self) -> Result<Vec<super::ModelRun>> {
        let models = self
            .models
            .as_ref()
            .ok_or_else(|| Error::param("models", "not set; name the models to compare"))?;
        ensure!(
            self.model.is_none(),
            Error::param(
                "models",
                "given with `model`; name every model in `models` (e.g. --models minilm,smollm2)"
            )
        );
        ensure!(
            !models.is_empty(),
            Error::param("models", "empty; name at least one model")
        );
        let mut runs: Vec<super::ModelRun> = Vec::new();
        for spec in models {
            let label = super::label_of(spec)?;
            ensure!(
                runs.iter().all(|r| r.label != label),
                Error::param(
                    "models",
                    format!("two models would be written to {label:?}; name each model once")
                )
            );
            let one = Config {
                model: Some(spec.clone()),
                models: None,
                out: self.out.join(&label),
                figures: self.figures.join(&label),
                ..self.clone()
            };
            let run = one
                .resolve()
                .map_err(|e| e.context(format!("model {label}")))?;
            // A wrong name fails now, not after the models before it have run.
            crate::embed::check_model_dir(&run.model_dir)?;
            runs.push(super::ModelRun { label, run });
        }
        Ok(runs)
    }
}

/// Pairing names must be unique: they name output files.
fn check_names(pairings: &[String], pairs: &[PairFile]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for f in pairs {
        let name = f.name();
        ensure!(
            !name.trim().is_empty() && !name.contains(['/', '\\']),
            Error::param(
                "pairs",
                format!(
                    "{}: name {name:?} cannot name an output file; give --name",
                    f.file.display()
                )
            )
        );
    }
    let names = pairings
        .iter()
        .cloned()
        .chain(pairs.iter().map(PairFile::name));
    for name in names {
        ensure!(
            seen.insert(name.clone()),
            Error::param(
                "pairs",
                format!("two pairings are named {name:?}; give each pair file its own --name")
            )
        );
    }
    Ok(())
}

impl Run {
    /// The paper run, resolved (installed model, default settings).
    pub fn paper() -> Result<Run> {
        Config::paper().resolve()
    }

    /// Whether progress bars are shown.
    pub fn progress(&self) -> bool {
        self.embed.progress
    }

    /// The model directory.
    pub fn model_dir(&self) -> &Path {
        &self.model_dir
    }
    /// How the model is loaded (threads, library, output, device).
    pub fn model(&self) -> &ModelOptions {
        &self.model
    }
    /// How strings are embedded (pooling, normalisation, template, cache).
    pub fn embed(&self) -> &EmbedOptions {
        &self.embed
    }
    /// Built-in pairings, in order (before the user's).
    pub fn pairings(&self) -> &[String] {
        &self.pairings
    }
    /// User pair tables, in order.
    pub fn pairs(&self) -> &[PairFile] {
        &self.pairs
    }
    /// Binning of user pair tables with popularity.
    pub fn bins(&self) -> &SampleParams {
        &self.bins
    }
    pub fn sample(&self) -> Sample {
        self.sample
    }
    pub fn processed_dir(&self) -> &Path {
        &self.processed_dir
    }
    pub fn threads(&self) -> NonZeroUsize {
        self.threads
    }
    pub fn analysis(&self) -> &AnalysisParams {
        &self.analysis
    }
    pub fn figures(&self) -> &FigureParams {
        &self.figures
    }
    /// Results folder (pairs/, summary.json, report.md).
    pub fn out(&self) -> &Path {
        &self.out
    }
    /// Figures folder.
    pub fn figures_dir(&self) -> &Path {
        &self.figures_dir
    }
    /// Layers measured besides the final output (`None`: the final output only).
    pub fn layers(&self) -> Option<&Layers> {
        self.layers.as_ref()
    }
}
