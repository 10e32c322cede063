//! The crate's one error type. Every variant says what was expected and where
//! (file, line, column) so a user can fix the input without reading the code.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in lexalign's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Malformed input at a known place in a file.
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A table lacks a column it needs; lists the columns it has.
    #[error("{path}: no column {column:?}; columns present: {available}")]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },
    /// An installed asset (runtime library, model, data release) is missing or wrong.
    #[error("{what} not usable at {path}: {problem}. {hint}")]
    Asset {
        what: String,
        path: PathBuf,
        problem: String,
        hint: String,
    },
    /// A model directory or graph lexalign cannot drive.
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },
    /// A parameter outside its valid range, caught before any work is done.
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter { name: String, message: String },
    /// Data that cannot give a meaningful result (too few rows, NaNs, …).
    #[error("{context}: {message}")]
    Data { context: String, message: String },
    #[error("ONNX Runtime: {0}")]
    Ort(#[from] ort::Error),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),
    #[error("sqlite {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("plot: {0}")]
    Plot(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    /// A parse error at `path:line`.
    pub fn parse(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            message: message.into(),
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
}
