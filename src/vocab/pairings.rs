//! The seven built-in pairings as rows of one table ([`PAIRING_DEFS`]): each row
//! says which vocabulary it draws from and which side of a concept goes left and
//! right; the vocabulary fixes the concept id, the popularity and the sources.

use serde::Serialize;

use crate::pairs::{Pairing, PairingMeta, SampleParams};
use crate::source::Source;
use crate::vocab::VocabSet;

/// Which concepts a pairing draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConceptSet {
    /// HGNC genes; popularity is PubMed articles per gene.
    Genes,
    /// GO terms; popularity is human genes annotated, propagated.
    Go,
    /// HPO terms; popularity is diseases annotated directly.
    Hpo,
}

impl ConceptSet {
    /// The sources a pairing over this vocabulary cites: the concepts, then the
    /// popularity counts.
    pub fn sources(self) -> &'static [Source] {
        match self {
            ConceptSet::Genes => &[Source::Hgnc, Source::NcbiGene],
            ConceptSet::Go => &[Source::GeneOntology, Source::NcbiGene],
            ConceptSet::Hpo => &[Source::Hpo, Source::HpoAnnotations],
        }
    }

    /// What the popularity counts, as recorded in the pairing metadata.
    fn popularity_proxy(self, set: &VocabSet) -> String {
        match self {
            ConceptSet::Genes => format!(
                "PubMed articles per gene (NCBI gene2pubmed, {}), joined on the NCBI Gene ID",
                set.release(Source::NcbiGene)
            ),
            ConceptSet::Go => "distinct human genes annotated to the term or a descendant (org.Hs.eg.db go_*_all, propagated)".into(),
            ConceptSet::Hpo => "distinct diseases annotated directly to the term in phenotype.hpoa (NOT annotations excluded)".into(),
        }
    }
}

/// What a pairing puts on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Approved gene name, GO or HPO label.
    Label,
    /// Approved gene symbol (genes only).
    Symbol,
    /// `HGNC:…`, `GO:…`, `HP:…`.
    Id,
    /// The first synonym that differs from the label ignoring case: GO synonyms
    /// of any scope (GO.db stores none), HPO EXACT synonyms only.
    Synonym,
}

/// One built-in pairing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingDef {
    pub name: &'static str,
    pub description: &'static str,
    pub left_kind: &'static str,
    pub right_kind: &'static str,
    pub concepts: ConceptSet,
    pub left: Side,
    pub right: Side,
}

/// The seven built-in pairings, in output order.
pub const PAIRING_DEFS: [PairingDef; 7] = [
    PairingDef {
        name: "gene-name-symbol",
        description: "HGNC approved gene name ↔ approved symbol",
        left_kind: "gene name",
        right_kind: "gene symbol",
        concepts: ConceptSet::Genes,
        left: Side::Label,
        right: Side::Symbol,
    },
    PairingDef {
        name: "gene-name-hgnc-id",
        description: "HGNC approved gene name ↔ HGNC ID",
        left_kind: "gene name",
        right_kind: "HGNC ID",
        concepts: ConceptSet::Genes,
        left: Side::Label,
        right: Side::Id,
    },
    PairingDef {
        name: "gene-symbol-hgnc-id",
        description: "HGNC approved symbol ↔ HGNC ID",
        left_kind: "gene symbol",
        right_kind: "HGNC ID",
        concepts: ConceptSet::Genes,
        left: Side::Symbol,
        right: Side::Id,
    },
    PairingDef {
        name: "go-label-id",
        description: "GO term label ↔ GO ID (aspect in the concept table and the aspect column)",
        left_kind: "GO label",
        right_kind: "GO ID",
        concepts: ConceptSet::Go,
        left: Side::Label,
        right: Side::Id,
    },
    PairingDef {
        name: "hpo-label-id",
        description: "HPO term label ↔ HPO ID",
        left_kind: "HPO label",
        right_kind: "HPO ID",
        concepts: ConceptSet::Hpo,
        left: Side::Label,
        right: Side::Id,
    },
    PairingDef {
        name: "go-label-synonym",
        description: "GO term label ↔ its first synonym in GO.db order that differs from the label (GO.db stores no synonym scope, so any scope)",
        left_kind: "GO label",
        right_kind: "GO synonym",
        concepts: ConceptSet::Go,
        left: Side::Label,
        right: Side::Synonym,
    },
    PairingDef {
        name: "hpo-label-synonym",
        description: "HPO term label ↔ its first EXACT synonym in file order that differs from the label (positive control)",
        left_kind: "HPO label",
        right_kind: "HPO exact synonym",
        concepts: ConceptSet::Hpo,
        left: Side::Label,
        right: Side::Synonym,
    },
];

/// Names of the seven built-in pairings, in output order.
pub const PAIRINGS: [&str; 7] = {
    let mut names = [""; 7];
    let mut i = 0;
    while i < names.len() {
        names[i] = PAIRING_DEFS[i].name;
        i += 1;
    }
    names
};

/// Per-pairing counts.
#[derive(Debug, Clone, Serialize)]
pub struct PairingStats {
    pub name: String,
    pub rows: usize,
    pub with_popularity: usize,
    /// Concepts dropped because left equals right ignoring case.
    pub dropped_identical: usize,
    /// Concepts with no candidate (e.g. no synonym).
    pub without_candidate: usize,
}

/// A concept as the pairings see it, whatever its vocabulary.
struct Concept<'a> {
    id: &'a str,
    label: &'a str,
    symbol: Option<&'a str>,
    /// Candidates for [`Side::Synonym`], in order.
    synonyms: Vec<&'a str>,
    popularity: Option<f64>,
}

impl Side {
    fn of(self, c: &Concept) -> Option<String> {
        match self {
            Side::Label => Some(c.label.to_string()),
            Side::Symbol => c.symbol.map(str::to_string),
            Side::Id => Some(c.id.to_string()),
            Side::Synonym => first_different(c.label, c.synonyms.iter().copied()),
        }
    }
}

impl PairingDef {
    /// The definition of a built-in pairing.
    pub fn get(name: &str) -> Option<&'static PairingDef> {
        PAIRING_DEFS.iter().find(|d| d.name == name)
    }

    fn meta(&self, set: &VocabSet) -> PairingMeta {
        PairingMeta {
            description: self.description.into(),
            left_kind: self.left_kind.into(),
            right_kind: self.right_kind.into(),
            popularity_proxy: self.concepts.popularity_proxy(set),
            sources: self.concepts.sources().to_vec(),
            bins: None,
        }
    }

    /// The full pairing over `set` (bins filled) and what was dropped.
    pub fn build(&self, set: &VocabSet) -> (Pairing, PairingStats) {
        let rows = set.concepts(self.concepts).into_iter().map(|c| {
            let id = c.id.to_string();
            (self.left.of(&c), self.right.of(&c), id, c.popularity)
        });
        make(self.name, self.meta(set), rows)
    }
}

impl VocabSet {
    /// All seven pairings (full sets, with 20 log-scale bins filled).
    pub fn pairings(&self) -> Vec<Pairing> {
        self.pairings_with_stats()
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// The pairings and how many concepts each dropped.
    pub fn pairings_with_stats(&self) -> Vec<(Pairing, PairingStats)> {
        PAIRING_DEFS.iter().map(|d| d.build(self)).collect()
    }

    /// The concepts of `which` that pairings use, in file order: withdrawn
    /// genes and obsolete terms only with `include_obsolete`.
    fn concepts(&self, which: ConceptSet) -> Vec<Concept<'_>> {
        let keep = |obsolete: bool| self.include_obsolete || !obsolete;
        match which {
            ConceptSet::Genes => self
                .genes
                .iter()
                .filter(|g| keep(!g.hgnc.is_approved()))
                .map(|g| Concept {
                    id: &g.hgnc.hgnc_id,
                    label: &g.hgnc.name,
                    symbol: Some(&g.hgnc.symbol),
                    synonyms: Vec::new(),
                    popularity: g.pubmed_articles.map(|n| n as f64),
                })
                .collect(),
            ConceptSet::Go => self
                .go
                .iter()
                .filter(|g| keep(g.term.obsolete))
                .map(|g| Concept {
                    id: &g.term.id,
                    label: &g.term.label,
                    symbol: None,
                    synonyms: g.term.synonyms.iter().map(String::as_str).collect(),
                    popularity: Some(g.genes_propagated as f64),
                })
                .collect(),
            ConceptSet::Hpo => self
                .hpo
                .terms
                .iter()
                .filter(|t| keep(t.obsolete))
                .map(|t| Concept {
                    id: &t.id,
                    label: &t.label,
                    symbol: None,
                    synonyms: t.exact_synonyms().collect(),
                    popularity: Some(t.diseases_direct as f64),
                })
                .collect(),
        }
    }
}

/// First candidate that differs from `label` ignoring case; if all are equal to
/// it, the first candidate (which [`make`] then drops and counts as identical).
fn first_different<'a>(label: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let l = label.to_lowercase();
    let mut first = None;
    for c in candidates {
        if c.to_lowercase() != l {
            return Some(c.to_string());
        }
        first.get_or_insert(c);
    }
    first.map(str::to_string)
}

/// Builds a pairing from (left, right, concept_id, popularity) rows; rows with a
/// side missing or with left == right (ignoring case) are dropped and counted,
/// and each concept is kept once.
fn make(
    name: &str,
    meta: PairingMeta,
    rows: impl Iterator<Item = (Option<String>, Option<String>, String, Option<f64>)>,
) -> (Pairing, PairingStats) {
    let mut p = Pairing::new(name, meta);
    let mut dropped_identical = 0;
    let mut without_candidate = 0;
    let mut seen = std::collections::HashSet::new();
    for (left, right, id, pop) in rows {
        let (Some(left), Some(right)) = (left, right) else {
            without_candidate += 1;
            continue;
        };
        if left.trim().is_empty() || right.trim().is_empty() {
            without_candidate += 1;
            continue;
        }
        if left.to_lowercase() == right.to_lowercase() {
            dropped_identical += 1;
            continue;
        }
        if !seen.insert(id.clone()) {
            continue;
        }
        p.push(left, right, id, pop);
    }
    let stats = PairingStats {
        name: name.into(),
        rows: p.len(),
        with_popularity: p.popularity.iter().filter(|x| x.is_some()).count(),
        dropped_identical,
        without_candidate,
    };
    let p = p
        .with_bins(&SampleParams::default())
        .expect("counts are finite and non-negative");
    (p, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_table() {
        assert_eq!(PAIRINGS.len(), PAIRING_DEFS.len());
        for (name, def) in PAIRINGS.iter().zip(&PAIRING_DEFS) {
            assert_eq!(*name, def.name);
            assert_eq!(PairingDef::get(name), Some(def));
        }
        assert_eq!(PAIRINGS[0], "gene-name-symbol");
        assert_eq!(PAIRINGS[6], "hpo-label-synonym");
    }

    #[test]
    fn first_different_skips_case_variants() {
        let both = ["seizure", "Epileptic seizure"];
        assert_eq!(
            first_different("Seizure", both.into_iter()).as_deref(),
            Some("Epileptic seizure")
        );
        // Only case variants: the first, which `make` counts as identical.
        assert_eq!(
            first_different("Seizure", ["seizure"].into_iter()).as_deref(),
            Some("seizure")
        );
        assert_eq!(first_different("Seizure", std::iter::empty()), None);
    }
}
