//! lexalign: how well do language-model embeddings align biomedical names with their
//! identifiers? The modules follow the data flow:
//! vocabularies → pairs → embeddings → metrics → projection → figures → report.

pub mod assets;
pub mod error;
pub mod io;
pub mod pairs;
pub mod vocab;

pub use error::{Error, Result};
pub mod embed;
