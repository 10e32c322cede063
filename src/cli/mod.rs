//! Subcommands of the `lexalign` binary.
pub mod pca;
