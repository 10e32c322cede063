//! lexalign: how well do language-model embeddings align biomedical names with their
//! identifiers? The modules follow the data flow:
//! vocabularies → pairs → embeddings → metrics → projection → figures → report.

pub mod assets;
pub mod error;
pub mod io;

pub mod vocab;
pub mod pairs;
pub mod embed;
pub mod metrics;
pub mod project;
pub mod plot;
pub mod notebook;

pub use error::{Error, Result};
