//! Command-line layer: clap parsing and printing only; the work is in the library.

pub mod embed;
pub mod vocab;
