//! The Human Phenotype Ontology: terms from `hp.obo` joined with disease counts
//! from `phenotype.hpoa`. The release comes from the OBO header's `data-version`
//! (`hp/releases/2025-01-16` → `2025-01-16`); every output that uses HPO cites
//! it as [`Source::citation`] words it.

use std::path::Path;

use crate::error::{Error, Result};
use crate::source::Source;
use crate::vocab::obo::{parse_obo, read_obo, OboDocument, Synonym, SynonymScope};
use crate::vocab::popularity::{read_hpoa, HpoAnnotations};

/// One HPO term with its popularity.
#[derive(Debug, Clone, PartialEq)]
pub struct HpoTerm {
    /// `HP:0001250`.
    pub id: String,
    pub label: String,
    pub synonyms: Vec<Synonym>,
    pub alt_ids: Vec<String>,
    pub obsolete: bool,
    /// Distinct diseases annotated directly (NOT annotations excluded).
    pub diseases_direct: u64,
    /// Distinct diseases annotated to the term or an `is_a` descendant.
    pub diseases_propagated: u64,
}

impl HpoTerm {
    /// EXACT synonyms in file order.
    pub fn exact_synonyms(&self) -> impl Iterator<Item = &str> {
        self.synonyms
            .iter()
            .filter(|s| s.scope == SynonymScope::Exact)
            .map(|s| s.text.as_str())
    }
}

/// The HPO as read from the raw files.
#[derive(Debug, Clone)]
pub struct Hpo {
    pub terms: Vec<HpoTerm>,
    /// e.g. `2025-01-16`.
    pub release: String,
    /// `#version` of phenotype.hpoa.
    pub annotations_version: Option<String>,
    pub annotation_rows: usize,
    pub not_rows: usize,
    pub diseases: usize,
    /// Synonym lines in non-obsolete and obsolete terms.
    pub synonym_count: usize,
}

/// The release date from `data-version` (`hp/releases/2025-01-16` → `2025-01-16`).
pub fn release_of(doc: &OboDocument, path: &Path) -> Result<String> {
    let v = doc
        .header_value("data-version")
        .ok_or_else(|| Error::Asset {
            what: Source::Hpo.what(),
            path: path.to_path_buf(),
            problem: "no data-version header; cannot tell the release".into(),
            hint: crate::assets::SETUP_HINT.into(),
        })?;
    Ok(v.rsplit('/').next().unwrap_or(v).to_string())
}

/// The release of `hp.obo`, read from its header alone (the lines before the
/// first stanza, at most [`HEADER_LINES`]).
pub fn read_release(path: &Path) -> Result<String> {
    use std::io::BufRead;
    crate::assets::require(path, &Source::Hpo.what())?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut header = Vec::new();
    for line in std::io::BufReader::new(file).lines().take(HEADER_LINES) {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.starts_with('[') {
            break;
        }
        header.extend_from_slice(line.as_bytes());
        header.push(b'\n');
    }
    release_of(&parse_obo(&header, path)?, path)
}

/// Header lines [`read_release`] reads at most (hp.obo has about 30).
const HEADER_LINES: usize = 200;

/// Reads `hp.obo` and `phenotype.hpoa`.
pub fn read_hpo(obo_path: &Path, hpoa_path: &Path) -> Result<Hpo> {
    crate::assets::require(obo_path, &Source::Hpo.what())?;
    let doc = read_obo(obo_path)?;
    let release = release_of(&doc, obo_path)?;
    let ann = read_hpoa(hpoa_path)?;
    Ok(from_parts(&doc, &ann, release))
}

/// Joins a parsed ontology with its annotations.
pub fn from_parts(doc: &OboDocument, ann: &HpoAnnotations, release: String) -> Hpo {
    let direct = ann.direct_counts();
    let propagated = ann.propagated_counts(doc);
    let terms = doc
        .terms
        .iter()
        .map(|t| HpoTerm {
            id: t.id.clone(),
            label: t.name.clone().unwrap_or_default(),
            synonyms: t.synonyms.clone(),
            alt_ids: t.alt_ids.clone(),
            obsolete: t.is_obsolete,
            diseases_direct: direct.get(&t.id).copied().unwrap_or(0),
            diseases_propagated: propagated.get(&t.id).copied().unwrap_or(0),
        })
        .collect();
    Hpo {
        terms,
        release,
        annotations_version: ann.version.clone(),
        annotation_rows: ann.rows,
        not_rows: ann.not_rows,
        diseases: ann.diseases.len(),
        synonym_count: doc.terms.iter().map(|t| t.synonyms.len()).sum(),
    }
}
