//! Command-line layer: clap parsing and printing only; the work is in the library.

pub mod ask;
pub mod bench;
pub mod embed;
pub mod model;
pub mod outcome;
pub mod pairs;
pub mod pca;
pub mod report;
pub mod retrieval;
pub mod vocab;
