//! The crate's one error type. Every variant says what was expected and where
//! (file, line, column) so a user can fix the input without reading the code.
//!
//! Callers add what they were doing with [`ResultExt::context`] instead of rewriting
//! messages; [`Error::root`] reaches the innermost error under any context layers.

use std::fmt;
use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A place in a text file: 1-based line, optionally a 1-based column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: Option<usize>,
}

impl Location {
    pub fn line(line: usize) -> Self {
        Location { line, column: None }
    }
    pub fn at(line: usize, column: usize) -> Self {
        Location {
            line,
            column: Some(column),
        }
    }
}

/// `path`, `path:line` or `path:line:column`.
struct Place<'a>(&'a std::path::Path, Option<Location>);

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.display())?;
        if let Some(l) = self.1 {
            write!(f, ":{}", l.line)?;
            if let Some(c) = l.column {
                write!(f, ":{c}")?;
            }
        }
        Ok(())
    }
}

/// Everything that can go wrong in lexalign's library code.
///
/// Wrapped errors (I/O, polars, JSON, SQLite, inner context layers) are shown in the
/// message and not also exposed as `source()`, so a printed chain never repeats text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named file.
    #[error("{path}: {error}", path = path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Malformed input in a file, at a known place when `at` is set.
    #[error("{}: {message}", Place(path, *at))]
    Parse {
        path: PathBuf,
        at: Option<Location>,
        message: String,
    },
    /// A table lacks a column it needs; lists the columns it has.
    #[error("{path}: no column {column:?}; columns present: {available}", path = path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    /// An installed asset (runtime library, model, data release) is missing or wrong.
    #[error("{what} not usable at {path}: {problem}. {hint}", path = path.display())]
    Asset {
        what: String,
        path: PathBuf,
        problem: String,
        hint: String,
    },
    /// A model directory or graph lexalign cannot drive.
    #[error("model {path}: {message}", path = path.display())]
    Model { path: PathBuf, message: String },
    /// A parameter outside its valid range, caught before any work is done.
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter { name: String, message: String },
    /// Too few usable rows for a statistic: the one error a report skips a pairing on.
    #[error("{what}: {got} usable rows; need at least {needed}")]
    TooFewRows {
        what: String,
        got: usize,
        needed: usize,
    },
    /// Data that cannot give a meaningful result (NaNs, mismatched shapes, …).
    #[error("{context}: {message}")]
    Data { context: String, message: String },
    #[error("ONNX Runtime: {0}")]
    Ort(ort::Error),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A polars failure; `path` names the file when one was being read or written.
    #[error("{}{}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default(), polars_text(error))]
    Polars {
        path: Option<PathBuf>,
        error: polars::error::PolarsError,
    },
    #[error("{path}: sqlite: {error}", path = path.display())]
    Sqlite {
        path: PathBuf,
        error: rusqlite::Error,
    },
    /// A JSON failure; `path` names the file when one was being read or written.
    #[error("{}{error}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_else(|| "json: ".into()))]
    Json {
        path: Option<PathBuf>,
        error: serde_json::Error,
    },
    #[error("plot: {0}")]
    Plot(String),
    /// What the caller was doing when `inner` happened (a pairing, a file, a stage).
    /// The message holds the whole chain; [`Error::root`] reaches the innermost error.
    #[error("{context}: {inner}")]
    Context { context: String, inner: Box<Error> },
}

/// Advice polars appends for its Python API (keyword arguments lexalign users cannot
/// set), each with what a lexalign user can do instead.
const POLARS_PYTHON_HINTS: [(&str, &str); 2] = [
    (
        "\n\nYou might want to try:",
        "; check the values of this column: each must have the column's type",
    ),
    (
        "\n\nConsider setting 'truncate_ragged_lines",
        "; a row has more fields than the header: check the separator (.csv: comma, .tsv: tab) and the quoting",
    ),
];

/// A polars error's text without its Python-only advice.
fn polars_text(error: &polars::error::PolarsError) -> String {
    let text = error.to_string();
    for (hint, instead) in POLARS_PYTHON_HINTS {
        if let Some(i) = text.find(hint) {
            // Keep the facts polars states before the advice (value, column, offset).
            let facts = text[..i].split_whitespace().collect::<Vec<_>>().join(" ");
            return format!("{facts}{instead}");
        }
    }
    text
}

impl From<ort::Error> for Error {
    fn from(error: ort::Error) -> Self {
        Error::Ort(error)
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(error: polars::error::PolarsError) -> Self {
        Error::Polars { path: None, error }
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Error::Json { path: None, error }
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
    /// A parse error at `path:line` (1-based).
    pub fn parse(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            at: Some(Location::line(line)),
            message: message.into(),
        }
    }
    /// A parse error at `path:line:column` (1-based).
    pub fn parse_at(path: impl Into<PathBuf>, at: Location, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            at: Some(at),
            message: message.into(),
        }
    }
    /// A parse error about a whole file (no line to point at).
    pub fn parse_file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            at: None,
            message: message.into(),
        }
    }
    /// A polars error while reading or writing `path`.
    pub fn polars(path: impl Into<PathBuf>, error: polars::error::PolarsError) -> Self {
        Error::Polars {
            path: Some(path.into()),
            error,
        }
    }
    /// A JSON error while reading or writing `path`.
    pub fn json(path: impl Into<PathBuf>, error: serde_json::Error) -> Self {
        Error::Json {
            path: Some(path.into()),
            error,
        }
    }
    /// A parameter rejected before use.
    pub fn param(name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            message: message.into(),
        }
    }
    /// Data that cannot give a meaningful result.
    pub fn data(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Data {
            context: context.into(),
            message: message.into(),
        }
    }
    /// Fewer usable rows than a statistic needs.
    pub fn too_few(what: impl Into<String>, got: usize, needed: usize) -> Self {
        Error::TooFewRows {
            what: what.into(),
            got,
            needed,
        }
    }
    /// Wraps this error with what the caller was doing.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context {
            context: context.into(),
            inner: Box::new(self),
        }
    }
    /// The innermost error under any [`Error::Context`] layers.
    pub fn root(&self) -> &Error {
        let mut e = self;
        while let Error::Context { inner, .. } = e {
            e = inner;
        }
        e
    }
}

/// `.context("…")` / `.with_context(|| …)` on lexalign results.
pub trait ResultExt<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<C: Into<String>>(self, f: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }
    fn with_context<C: Into<String>>(self, f: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(f()))
    }
}

/// Returns early with an error unless `cond` holds: `ensure!(n > 0, Error::param("n", "0"))`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $err:expr $(,)?) => {
        if !$cond {
            return Err($err.into());
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_context() {
        let e = Error::parse_at("a.obo", Location::at(3, 7), "bad tag");
        assert_eq!(e.to_string(), "a.obo:3:7: bad tag");
        assert_eq!(
            Error::parse_file("x.npy", "not 2-D").to_string(),
            "x.npy: not 2-D"
        );
        let wrapped = Error::too_few("auc", 1, 2)
            .context("pairing hpo-label-id")
            .context("report");
        assert_eq!(
            wrapped.to_string(),
            "report: pairing hpo-label-id: auc: 1 usable rows; need at least 2"
        );
        assert!(matches!(wrapped.root(), Error::TooFewRows { .. }));
        assert!(std::error::Error::source(&wrapped).is_none());
    }

    #[test]
    fn io_text_once() {
        let e = Error::io(
            "missing.tsv",
            std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        );
        assert_eq!(e.to_string(), "missing.tsv: gone");
        assert!(std::error::Error::source(&e).is_none());
    }
}
