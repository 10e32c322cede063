//! Concept tables: one row per concept of each vocabulary, obsolete ones
//! included. Common columns: id, label, namespace, synonyms (` | `-joined),
//! alt_ids, obsolete, popularity, popularity_proxy, source_release; then
//! per-vocabulary extras.

use polars::prelude::*;

use crate::error::Result;
use crate::source::Source;
use crate::vocab::VocabSet;

/// `f` over `items`, as a column's values.
fn values<T, U>(items: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    items.iter().map(f).collect()
}

fn join(v: &[String]) -> String {
    v.join(" | ")
}

impl VocabSet {
    /// The tables `hgnc`, `go` and `hpo`, in that order.
    pub fn concept_tables(&self) -> Result<Vec<(String, DataFrame)>> {
        Ok(vec![
            ("hgnc".into(), self.hgnc_table()?),
            ("go".into(), self.go_table()?),
            ("hpo".into(), self.hpo_table()?),
        ])
    }

    /// Genes; extras `symbol`, `status`, `ncbi_gene_id`. Namespace is the locus
    /// type, alt_ids the previous symbols, obsolete "not Approved".
    fn hgnc_table(&self) -> Result<DataFrame> {
        let g = &self.genes;
        let n = g.len();
        let release = self.citation(Source::Hgnc);
        let df = DataFrame::new(
            n,
            vec![
                Column::new("id".into(), values(g, |g| g.hgnc.hgnc_id.clone())),
                Column::new("label".into(), values(g, |g| g.hgnc.name.clone())),
                Column::new("namespace".into(), values(g, |g| g.hgnc.locus_type.clone())),
                Column::new("synonyms".into(), values(g, |g| join(&g.hgnc.aliases))),
                Column::new(
                    "alt_ids".into(),
                    values(g, |g| join(&g.hgnc.previous_symbols)),
                ),
                Column::new("obsolete".into(), values(g, |g| !g.hgnc.is_approved())),
                Column::new("popularity".into(), values(g, |g| g.pubmed_articles)),
                Column::new("popularity_proxy".into(), vec!["pubmed_articles"; n]),
                Column::new("source_release".into(), vec![release.as_str(); n]),
                Column::new("symbol".into(), values(g, |g| g.hgnc.symbol.clone())),
                Column::new("status".into(), values(g, |g| g.hgnc.status.clone())),
                Column::new(
                    "ncbi_gene_id".into(),
                    values(g, |g| g.hgnc.entrez_id.clone()),
                ),
            ],
        )?;
        Ok(df)
    }

    /// GO terms; extra `popularity_direct`. Namespace is the aspect.
    fn go_table(&self) -> Result<DataFrame> {
        let g = &self.go;
        let n = g.len();
        let release = self.citation(Source::GeneOntology);
        let df = DataFrame::new(
            n,
            vec![
                Column::new("id".into(), values(g, |g| g.term.id.clone())),
                Column::new("label".into(), values(g, |g| g.term.label.clone())),
                Column::new("namespace".into(), values(g, |g| g.term.aspect.clone())),
                Column::new("synonyms".into(), values(g, |g| join(&g.term.synonyms))),
                Column::new("alt_ids".into(), values(g, |g| join(&g.term.alt_ids))),
                Column::new("obsolete".into(), values(g, |g| g.term.obsolete)),
                Column::new("popularity".into(), values(g, |g| g.genes_propagated)),
                Column::new("popularity_proxy".into(), vec!["human_genes_propagated"; n]),
                Column::new("source_release".into(), vec![release.as_str(); n]),
                Column::new("popularity_direct".into(), values(g, |g| g.genes_direct)),
            ],
        )?;
        Ok(df)
    }

    /// HPO terms; extras `popularity_propagated`, `exact_synonyms`. Synonyms
    /// carry their scope (`text [EXACT]`).
    fn hpo_table(&self) -> Result<DataFrame> {
        let t = &self.hpo.terms;
        let n = t.len();
        let release = self.citation(Source::Hpo);
        let scoped = |x: &crate::vocab::hpo::HpoTerm| {
            let s: Vec<String> = x
                .synonyms
                .iter()
                .map(|s| format!("{} [{}]", s.text, s.scope.as_str()))
                .collect();
            join(&s)
        };
        let df = DataFrame::new(
            n,
            vec![
                Column::new("id".into(), values(t, |x| x.id.clone())),
                Column::new("label".into(), values(t, |x| x.label.clone())),
                Column::new("namespace".into(), vec!["human_phenotype"; n]),
                Column::new("synonyms".into(), values(t, scoped)),
                Column::new("alt_ids".into(), values(t, |x| join(&x.alt_ids))),
                Column::new("obsolete".into(), values(t, |x| x.obsolete)),
                Column::new("popularity".into(), values(t, |x| x.diseases_direct)),
                Column::new("popularity_proxy".into(), vec!["diseases_direct"; n]),
                Column::new("source_release".into(), vec![release.as_str(); n]),
                Column::new(
                    "popularity_propagated".into(),
                    values(t, |x| x.diseases_propagated),
                ),
                Column::new(
                    "exact_synonyms".into(),
                    values(t, |x| x.exact_synonyms().collect::<Vec<_>>().join(" | ")),
                ),
            ],
        )?;
        Ok(df)
    }
}
