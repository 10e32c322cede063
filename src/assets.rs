//! Where installed assets live and what they are. `scripts/setup.sh` installs the
//! ONNX Runtime library, the models and the raw vocabularies into one folder
//! (default `data/external/`, or `$LEXALIGN_ASSETS`) and records each file's origin,
//! version and sha256 in `manifest.json`, which every output cites.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod verify;

/// Hint appended to every missing-asset error.
pub const SETUP_HINT: &str =
    "Install the assets with `make setup` (runs scripts/setup.sh; registries only)";

/// The asset folder: `$LEXALIGN_ASSETS` (empty = unset), else `data/external` of this repository
/// (found from the build location), else `./data/external`.
pub fn asset_root() -> PathBuf {
    if let Some(p) = std::env::var_os("LEXALIGN_ASSETS").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/external");
    if built.is_dir() {
        return built;
    }
    PathBuf::from("data/external")
}

/// The repository root (where `Cargo.toml` was when lexalign was built), used for
/// default output folders and the embedding cache.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// How outputs record a path, so a result is the same on every machine (see
/// [`shown_path`]); written beside the paths in summary.json.
pub const SHOWN_PATHS: &str = "relative to the lexalign project root; $LEXALIGN_ASSETS/... under the asset folder LEXALIGN_ASSETS names; ./... under the working folder of the run; absolute only outside all three";

/// `path` as outputs record it ([`SHOWN_PATHS`]): under the asset folder named by
/// `$LEXALIGN_ASSETS` as `$LEXALIGN_ASSETS/…`, under the project root relative to
/// it, under the working folder as `./…`, else absolute.
pub fn shown_path(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let under = |root: &Path| -> Option<String> {
        let root = std::path::absolute(root).ok()?;
        if let Ok(rel) = abs.strip_prefix(&root) {
            return Some(rel.to_string_lossy().into_owned());
        }
        // The same folders reached through links.
        let (a, r) = (abs.canonicalize().ok()?, root.canonicalize().ok()?);
        a.strip_prefix(r)
            .ok()
            .map(|rel| rel.to_string_lossy().into_owned())
    };
    let assets = std::env::var_os("LEXALIGN_ASSETS").filter(|p| !p.is_empty());
    if let Some(rel) = assets.and_then(|a| under(Path::new(&a))) {
        return join_shown("$LEXALIGN_ASSETS", &rel);
    }
    if let Some(rel) = under(&project_root()) {
        return join_shown("", &rel);
    }
    if let Some(rel) = std::env::current_dir().ok().and_then(|d| under(&d)) {
        return join_shown(".", &rel);
    }
    abs.to_string_lossy().into_owned()
}

fn join_shown(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, true) => ".".into(),
        (true, false) => rel.into(),
        (false, true) => base.into(),
        (false, false) => format!("{base}/{rel}"),
    }
}

/// Serializes a path as [`shown_path`] gives it. Use as
/// `#[serde(serialize_with = "crate::assets::serialize_shown_path")]`.
pub fn serialize_shown_path<S: serde::Serializer>(
    path: &Path,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&shown_path(path))
}

/// [`serialize_shown_path`] for a list of paths.
pub fn serialize_shown_paths<S: serde::Serializer>(
    paths: &[PathBuf],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(paths.iter().map(|p| shown_path(p)))
}

/// Default model: all-MiniLM-L6-v2 in fp32, rebuilt by the set-up script.
pub fn default_model_dir() -> PathBuf {
    asset_root().join("models/all-MiniLM-L6-v2")
}

/// Installed models by name: `--model NAME` (else `--model DIR` is a directory).
/// `gemma3-270m` is installed by `make models` (not by the set-up).
pub const MODEL_NAMES: [(&str, &str); 5] = [
    ("minilm", "models/all-MiniLM-L6-v2"),
    ("minilm-int8", "models/all-MiniLM-L6-v2-int8"),
    (
        "minilm-int8-dynamic",
        "models/all-MiniLM-L6-v2-int8-dynamic",
    ),
    ("smollm2", "models/smollm2"),
    ("gemma3-270m", "models/gemma3-270m"),
];

/// The model directory a `--model` value means: an installed model's name
/// ([`MODEL_NAMES`]), else a plain name with a folder `models/NAME` in the asset
/// folder (`lexalign model import … --name NAME`), else the path itself. Names win
/// over a folder of that name — write `./minilm` for the folder.
pub fn model_dir(spec: &Path) -> PathBuf {
    if let Some((_, rel)) = MODEL_NAMES.iter().find(|(n, _)| spec.as_os_str() == *n) {
        return asset_root().join(rel);
    }
    let mut parts = spec.components();
    if let (Some(std::path::Component::Normal(name)), None) = (parts.next(), parts.next()) {
        let imported = asset_root().join("models").join(name);
        if imported.is_dir() {
            return imported;
        }
    }
    spec.to_path_buf()
}

/// The int8 variant of the default model, as shipped on PyPI.
pub fn int8_model_dir() -> PathBuf {
    asset_root().join("models/all-MiniLM-L6-v2-int8")
}

/// The ONNX Runtime shared library: `$ORT_DYLIB_PATH`, else the installed copy.
/// An empty `ORT_DYLIB_PATH=` counts as unset, as shells treat it.
pub fn ort_library_path() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    installed_ort_library()
}

/// The ONNX Runtime library's path in the asset folder, as `manifest.json` records it.
pub const ORT_LIBRARY: &str = "onnxruntime/libonnxruntime.so.1.31.1";

/// The ONNX Runtime library the set-up installed.
pub fn installed_ort_library() -> PathBuf {
    asset_root().join(ORT_LIBRARY)
}

/// A raw vocabulary file installed by the set-up (e.g. `hp.obo`).
pub fn raw_file(name: &str) -> PathBuf {
    asset_root().join("raw").join(name)
}

/// Checks that an asset file exists, with an error that says how to install it.
pub fn require(path: &Path, what: &str) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(Error::Asset {
            what: what.to_string(),
            path: path.to_path_buf(),
            problem: "file not found".into(),
            hint: SETUP_HINT.into(),
        })
    }
}

/// One installed file as recorded by `scripts/write_manifest.py`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AssetEntry {
    pub name: Option<String>,
    pub path: String,
    pub sha256: String,
    pub bytes: Option<u64>,
    pub registry: Option<String>,
    pub package: Option<String>,
    pub version: Option<String>,
    pub member: Option<String>,
    pub licence: Option<String>,
    pub release: Option<String>,
}

/// The asset manifest (`manifest.json` in the asset folder).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub assets: Vec<AssetEntry>,
}

impl Manifest {
    /// Loads `manifest.json` from the asset folder.
    pub fn load() -> Result<Self> {
        Self::load_from(&asset_root().join("manifest.json"))
    }

    /// Loads a manifest from a path.
    pub fn load_from(path: &Path) -> Result<Self> {
        require(path, "asset manifest")?;
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::json(path, e))
    }

    /// The entry whose path (relative to the asset folder) ends with `suffix`.
    pub fn find(&self, suffix: &str) -> Option<&AssetEntry> {
        self.assets.iter().find(|a| a.path.ends_with(suffix))
    }
}
