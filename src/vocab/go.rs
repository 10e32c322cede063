//! Reader for the Gene Ontology as packaged in Bioconductor's `GO.db`
//! (`GO.sqlite`): labels and aspects from `go_term`, obsolete terms from
//! `go_obsolete`, synonyms and alternative ids from `go_synonym`
//! (`like_go_id = 1` rows are alternative ids, not names), and the release from
//! `metadata.GOSOURCEDATE`. The root pseudo-term `all` (ontology `universal`) is
//! skipped. `GO.sqlite` does not store synonym scopes, so synonyms here are all
//! non-id synonyms in table order.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Result;
use crate::source::Source;
use crate::vocab::sqlite::Db;

/// One GO term.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTerm {
    /// `GO:0006915`.
    pub id: String,
    pub label: String,
    /// `BP`, `MF` or `CC`.
    pub aspect: String,
    /// Name synonyms (any scope; GO.db has none recorded), in table order.
    pub synonyms: Vec<String>,
    pub alt_ids: Vec<String>,
    pub obsolete: bool,
}

impl GoTerm {
    fn new(id: String, label: String, aspect: String, obsolete: bool) -> Self {
        GoTerm {
            id,
            label,
            aspect,
            synonyms: Vec::new(),
            alt_ids: Vec::new(),
            obsolete,
        }
    }
}

fn open(path: &Path) -> Result<Db> {
    Db::open(path, &Source::GeneOntology.what())
}

/// The go-basic release date (`metadata.GOSOURCEDATE`, e.g. `2022-07-01`).
pub fn read_release(path: &Path) -> Result<String> {
    let db = open(path)?;
    db.metadata("GOSOURCEDATE")?
        .ok_or_else(|| db.asset_error("metadata has no GOSOURCEDATE"))
}

/// GO terms: the BP/MF/CC terms in id order with their synonyms and alternative
/// ids, then the obsolete terms.
pub fn read_go(path: &Path) -> Result<Vec<GoTerm>> {
    let db = open(path)?;
    db.require_tables(&["go_term", "go_synonym", "go_obsolete"])?;
    let (mut terms, by_rowid) = read_terms(&db)?;
    add_synonyms(&db, &mut terms, &by_rowid)?;
    terms.extend(read_obsolete(&db)?);
    Ok(terms)
}

/// Current terms, and the index of each by `go_term._id` (the key of `go_synonym`).
fn read_terms(db: &Db) -> Result<(Vec<GoTerm>, HashMap<i64, usize>)> {
    let mut terms = Vec::new();
    let mut by_rowid = HashMap::new();
    db.each_row(
        "SELECT _id, go_id, term, ontology FROM go_term \
         WHERE ontology IN ('BP','MF','CC') ORDER BY go_id",
        |r| {
            by_rowid.insert(r.get::<_, i64>(0)?, terms.len());
            terms.push(GoTerm::new(r.get(1)?, r.get(2)?, r.get(3)?, false));
            Ok(())
        },
    )?;
    Ok((terms, by_rowid))
}

/// Fills synonyms and alternative ids (`like_go_id = 1` rows) in table order.
fn add_synonyms(db: &Db, terms: &mut [GoTerm], by_rowid: &HashMap<i64, usize>) -> Result<()> {
    db.each_row(
        "SELECT _id, synonym, secondary, like_go_id FROM go_synonym ORDER BY rowid",
        |r| {
            // Synonyms of terms not read above (the `all` root) are skipped.
            let Some(&i) = by_rowid.get(&r.get::<_, i64>(0)?) else {
                return Ok(());
            };
            let synonym: String = r.get(1)?;
            let secondary: Option<String> = r.get(2)?;
            if r.get::<_, Option<i64>>(3)? == Some(1) {
                terms[i].alt_ids.push(secondary.unwrap_or(synonym));
            } else if !terms[i].synonyms.contains(&synonym) {
                terms[i].synonyms.push(synonym);
            }
            Ok(())
        },
    )
}

fn read_obsolete(db: &Db) -> Result<Vec<GoTerm>> {
    let mut terms = Vec::new();
    db.each_row(
        "SELECT go_id, term, ontology FROM go_obsolete ORDER BY go_id",
        |r| {
            terms.push(GoTerm::new(r.get(0)?, r.get(1)?, r.get(2)?, true));
            Ok(())
        },
    )?;
    Ok(terms)
}
