//! Read-only access to the Bioconductor SQLite files (`GO.sqlite`,
//! `org.Hs.eg.sqlite`): every failure names the file, and a file that lacks the
//! expected tables is an asset error, not a SQL one.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use crate::error::{Error, Result};

/// An open SQLite file with the path and description its errors cite.
pub(crate) struct Db {
    conn: Connection,
    path: PathBuf,
    what: String,
}

impl Db {
    /// Opens `path` read-only, with an asset error if it is missing.
    pub(crate) fn open(path: &Path, what: &str) -> Result<Db> {
        crate::assets::require(path, what)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|error| Error::Sqlite {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(Db {
            conn,
            path: path.to_path_buf(),
            what: what.to_string(),
        })
    }

    fn sqlite(&self, error: rusqlite::Error) -> Error {
        Error::Sqlite {
            path: self.path.clone(),
            error,
        }
    }

    /// An asset error about this file (wrong release, missing content).
    pub(crate) fn asset_error(&self, problem: impl Into<String>) -> Error {
        Error::Asset {
            what: self.what.clone(),
            path: self.path.clone(),
            problem: problem.into(),
            hint: crate::assets::SETUP_HINT.into(),
        }
    }

    /// Checks that `tables` exist, so a wrong file gives a clear asset error.
    pub(crate) fn require_tables(&self, tables: &[&str]) -> Result<()> {
        for t in tables {
            let n: i64 = self
                .conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1",
                    [t],
                    |r| r.get(0),
                )
                .map_err(|e| self.sqlite(e))?;
            if n == 0 {
                return Err(self.asset_error(format!(
                    "no table {t:?}; this is not the expected SQLite release"
                )));
            }
        }
        Ok(())
    }

    /// One value from the `metadata(name, value)` table.
    pub(crate) fn metadata(&self, name: &str) -> Result<Option<String>> {
        self.require_tables(&["metadata"])?;
        self.conn
            .query_row("SELECT value FROM metadata WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    /// Runs `sql` and calls `f` on each row in order.
    pub(crate) fn each_row(
        &self,
        sql: &str,
        mut f: impl FnMut(&Row<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.sqlite(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sqlite(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sqlite(e))? {
            f(row).map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }
}
