//! Reader for the Gene Ontology as packaged in Bioconductor's `GO.db`
//! (`GO.sqlite`): labels and aspects from `go_term`, obsolete terms from
//! `go_obsolete`, synonyms and alternative ids from `go_synonym`
//! (`like_go_id = 1` rows are alternative ids, not names), and the release from
//! `metadata.GOSOURCEDATE`. The root pseudo-term `all` (ontology `universal`) is
//! skipped. `GO.sqlite` does not store synonym scopes, so synonyms here are all
//! non-id synonyms in table order.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

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

/// Opens a SQLite file read-only, with an asset error if it is missing.
pub(crate) fn open_sqlite(path: &Path, what: &str) -> Result<Connection> {
    crate::assets::require(path, what)?;
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| Error::Sqlite {
        path: path.to_path_buf(),
        error,
    })
}

/// Checks that `tables` exist, so a wrong file gives a clear asset error.
pub(crate) fn require_tables(
    conn: &Connection,
    path: &Path,
    what: &str,
    tables: &[&str],
) -> Result<()> {
    for t in tables {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1",
                [t],
                |r| r.get(0),
            )
            .map_err(|error| Error::Sqlite {
                path: path.to_path_buf(),
                error,
            })?;
        if n == 0 {
            return Err(Error::Asset {
                what: what.to_string(),
                path: path.to_path_buf(),
                problem: format!("no table {t:?}; this is not the expected SQLite release"),
                hint: crate::assets::SETUP_HINT.into(),
            });
        }
    }
    Ok(())
}

/// Reads one value from a `metadata(name, value)` table.
pub(crate) fn metadata_value(conn: &Connection, path: &Path, name: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT value FROM metadata WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
    .map_err(|error| Error::Sqlite {
        path: path.to_path_buf(),
        error,
    })
}

/// GO terms and the go-basic release date (e.g. `2022-07-01`).
pub fn read_go(path: &Path) -> Result<(Vec<GoTerm>, String)> {
    let what = "GO.sqlite (Bioconductor GO.db)";
    let conn = open_sqlite(path, what)?;
    require_tables(
        &conn,
        path,
        what,
        &["go_term", "go_synonym", "go_obsolete", "metadata"],
    )?;
    let sq = |error| Error::Sqlite {
        path: path.to_path_buf(),
        error,
    };
    let release = metadata_value(&conn, path, "GOSOURCEDATE")?.ok_or_else(|| Error::Asset {
        what: what.into(),
        path: path.to_path_buf(),
        problem: "metadata has no GOSOURCEDATE".into(),
        hint: crate::assets::SETUP_HINT.into(),
    })?;

    let mut terms = Vec::new();
    let mut by_rowid: HashMap<i64, usize> = HashMap::new();
    {
        let mut stmt = conn
            .prepare("SELECT _id, go_id, term, ontology FROM go_term WHERE ontology IN ('BP','MF','CC') ORDER BY go_id")
            .map_err(sq)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(sq)?;
        for row in rows {
            let (rowid, id, label, aspect) = row.map_err(sq)?;
            by_rowid.insert(rowid, terms.len());
            terms.push(GoTerm {
                id,
                label,
                aspect,
                synonyms: Vec::new(),
                alt_ids: Vec::new(),
                obsolete: false,
            });
        }
    }
    {
        let mut stmt = conn
            .prepare("SELECT _id, synonym, secondary, like_go_id FROM go_synonym ORDER BY rowid")
            .map_err(sq)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })
            .map_err(sq)?;
        for row in rows {
            let (rowid, synonym, secondary, like_id) = row.map_err(sq)?;
            let Some(&i) = by_rowid.get(&rowid) else {
                continue;
            };
            if like_id == Some(1) {
                terms[i].alt_ids.push(secondary.unwrap_or(synonym));
            } else if !terms[i].synonyms.contains(&synonym) {
                terms[i].synonyms.push(synonym);
            }
        }
    }
    {
        let mut stmt = conn
            .prepare("SELECT go_id, term, ontology FROM go_obsolete ORDER BY go_id")
            .map_err(sq)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(sq)?;
        for row in rows {
            let (id, label, aspect) = row.map_err(sq)?;
            terms.push(GoTerm {
                id,
                label,
                aspect,
                synonyms: Vec::new(),
                alt_ids: Vec::new(),
                obsolete: true,
            });
        }
    }
    Ok((terms, release))
}
