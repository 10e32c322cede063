//! The real vocabularies — HGNC genes, the Gene Ontology and the Human Phenotype
//! Ontology — read offline from the raw files `scripts/setup.sh` installs, turned
//! into concept tables and the seven pairings the analysis embeds:
//!
//! | pairing | left | right | popularity |
//! |---|---|---|---|
//! | `gene-name-symbol` | approved name | approved symbol | PubMed articles |
//! | `gene-name-hgnc-id` | approved name | `HGNC:…` | PubMed articles |
//! | `gene-symbol-hgnc-id` | approved symbol | `HGNC:…` | PubMed articles |
//! | `go-label-id` | GO label | `GO:…` | human genes (propagated) |
//! | `hpo-label-id` | HPO label | `HP:…` | diseases (direct) |
//! | `go-label-synonym` | GO label | first synonym | human genes (propagated) |
//! | `hpo-label-synonym` | HPO label | first EXACT synonym | diseases (direct) |
//!
//! Obsolete terms and withdrawn genes are left out of pairings unless
//! [`BuildOptions::include_obsolete`] is set; each concept appears at most once per
//! pairing, and pairs whose two sides are equal ignoring case are dropped (counted
//! in [`PairingStats`]). GO.sqlite has no synonym scopes, so `go-label-synonym`
//! uses the first non-id synonym of any scope (a weaker positive control than
//! `hpo-label-synonym`, which uses EXACT synonyms only).
//!
//! Layout: the data sources and their static facts are the leaf
//! [`crate::source`]; `build.rs` reads the raw files ([`build_all`]) and each
//! source's release from its own file ([`releases`]), with the manifest checks;
//! one file per source reads it (`hgnc.rs`, `go.rs`, `hpo.rs` with `obo.rs`,
//! `popularity.rs`); `pairings.rs` holds the table above as data
//! ([`PAIRING_DEFS`]); `concepts.rs` the concept tables; `write.rs` the
//! processed folder; `sqlite.rs` the read-only SQLite access the readers share.

mod build;
mod concepts;
pub mod go;
pub mod hgnc;
pub mod hpo;
pub mod obo;
mod pairings;
pub mod popularity;
mod sqlite;
mod write;

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::source::{Source, SourceInfo};

pub use build::{build_all, releases};
pub use pairings::{ConceptSet, PairingDef, PairingStats, Side, PAIRINGS, PAIRING_DEFS};
pub use write::{BuildSummary, SampleSummary};

/// Where the raw files are and what to include.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub hgnc: PathBuf,
    pub hp_obo: PathBuf,
    pub hpoa: PathBuf,
    pub go_sqlite: PathBuf,
    pub org_sqlite: PathBuf,
    /// Keep obsolete terms and withdrawn genes in the pairings.
    pub include_obsolete: bool,
    /// Check each default-located raw file's size and release against
    /// `manifest.json` (catches a wrong or partial download).
    pub check_manifest: bool,
}

impl BuildOptions {
    /// Where these options say `source`'s file is.
    pub fn path(&self, source: Source) -> &std::path::Path {
        match source {
            Source::Hgnc => &self.hgnc,
            Source::GeneOntology => &self.go_sqlite,
            Source::Hpo => &self.hp_obo,
            Source::HpoAnnotations => &self.hpoa,
            Source::NcbiGene => &self.org_sqlite,
        }
    }
}

impl Default for BuildOptions {
    fn default() -> Self {
        let raw = |s: Source| crate::assets::raw_file(s.file_name());
        BuildOptions {
            hgnc: raw(Source::Hgnc),
            hp_obo: raw(Source::Hpo),
            hpoa: raw(Source::HpoAnnotations),
            go_sqlite: raw(Source::GeneOntology),
            org_sqlite: raw(Source::NcbiGene),
            include_obsolete: false,
            check_manifest: true,
        }
    }
}

/// An HGNC gene with its PubMed count (`None` if it has no NCBI Gene ID known to
/// org.Hs.eg.db).
#[derive(Debug, Clone)]
pub struct Gene {
    pub hgnc: hgnc::HgncGene,
    pub pubmed_articles: Option<u64>,
}

/// A GO term with its annotated-gene counts.
#[derive(Debug, Clone)]
pub struct GoConcept {
    pub term: go::GoTerm,
    pub genes_propagated: u64,
    pub genes_direct: u64,
}

/// Everything `lexalign vocab build` reads.
#[derive(Debug, Clone)]
pub struct VocabSet {
    pub genes: Vec<Gene>,
    pub go: Vec<GoConcept>,
    pub hpo: hpo::Hpo,
    /// One per [`Source`], in [`Source::ALL`] order.
    pub sources: Vec<SourceInfo>,
    pub include_obsolete: bool,
    /// Seconds per build stage.
    pub timings: Vec<(String, f64)>,
}

/// Raw-file counts.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub hgnc_rows: usize,
    pub hgnc_approved: usize,
    pub hgnc_protein_coding: usize,
    pub go_terms: usize,
    pub go_obsolete: usize,
    pub hpo_terms: usize,
    pub hpo_not_obsolete: usize,
    pub hpo_synonyms: usize,
    pub hpoa_annotations: usize,
    pub hpoa_not_annotations: usize,
    pub hpoa_diseases: usize,
}

impl VocabSet {
    /// Raw-file counts.
    pub fn counts(&self) -> Counts {
        let approved = |g: &&Gene| g.hgnc.is_approved();
        Counts {
            hgnc_rows: self.genes.len(),
            hgnc_approved: self.genes.iter().filter(approved).count(),
            hgnc_protein_coding: self
                .genes
                .iter()
                .filter(approved)
                .filter(|g| g.hgnc.locus_type.as_deref() == Some("gene with protein product"))
                .count(),
            go_terms: self.go.iter().filter(|g| !g.term.obsolete).count(),
            go_obsolete: self.go.iter().filter(|g| g.term.obsolete).count(),
            hpo_terms: self.hpo.terms.len(),
            hpo_not_obsolete: self.hpo.terms.iter().filter(|t| !t.obsolete).count(),
            hpo_synonyms: self.hpo.synonym_count,
            hpoa_annotations: self.hpo.annotation_rows,
            hpoa_not_annotations: self.hpo.not_rows,
            hpoa_diseases: self.hpo.diseases,
        }
    }

    /// What [`build_all`] read about `source`.
    pub fn source(&self, source: Source) -> Option<&SourceInfo> {
        self.sources.iter().find(|s| s.source == source)
    }

    /// The line outputs cite for `source` (empty if it was not read).
    pub fn citation(&self, source: Source) -> String {
        self.source(source)
            .map(|s| s.citation.clone())
            .unwrap_or_default()
    }

    /// The release of `source` as its file states it (empty if it was not read).
    pub fn release(&self, source: Source) -> String {
        self.source(source)
            .map(|s| s.release.clone())
            .unwrap_or_default()
    }

    /// The citation line for the HPO ("Human Phenotype Ontology, release …").
    pub fn hpo_citation(&self) -> String {
        self.citation(Source::Hpo)
    }

    /// GO aspect (`BP`/`MF`/`CC`) per GO id.
    pub fn go_aspects(&self) -> HashMap<&str, &str> {
        self.go
            .iter()
            .map(|g| (g.term.id.as_str(), g.term.aspect.as_str()))
            .collect()
    }
}
