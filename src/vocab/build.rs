//! [`build_all`]: reads every raw file into a [`VocabSet`], with stage timings.

use std::time::Instant;

use crate::error::Result;
use crate::vocab::sources::checked_releases;
use crate::vocab::{go, hgnc, hpo, popularity, BuildOptions, Gene, GoConcept, VocabSet};

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
