//! What a notebook or a small program usually needs, in one import:
//! `use lexalign::prelude::*;`. It also brings the [`Html`] trait into scope, so a
//! table, data frame or cosine matrix that ends an evcxr cell shows as HTML.
//!
//! Modules whose items are used by path (`report::run`, `plot::scatter_pairs`,
//! `metrics::alignment::alignment`, `io::read_table`, `project::fit_pca`) come in
//! as modules.
//!
//! ```
//! use lexalign::prelude::*;
//! let m = CosineMatrix::from_vectors(
//!     vec!["Seizure".into()],
//!     vec!["HP:0001250".into()],
//!     ndarray::array![[1.0f32, 0.0]].view(),
//!     ndarray::array![[0.6f32, 0.8]].view(),
//! )?;
//! assert!(m.to_html().contains("0.600"));
//! # Ok::<(), Error>(())
//! ```

pub use crate::embed::{EmbedOptions, Model, Pooling};
pub use crate::error::{Error, Result, ResultExt};
pub use crate::notebook::{
    embed, embed_strings, fmt_num, heading, token_table, CosineMatrix, Html, Table, Vocabulary,
};
pub use crate::pairs::{default_processed_dir, load_processed, Sample};
pub use crate::plot::{labelled_scatter, Figure, LabelledPoints, ScatterData};
pub use crate::{assets, io, metrics, plot, project, report};
