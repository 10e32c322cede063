//! How token vectors become one vector per string: the choice, which a model's
//! manifest and the user's flags make (the pooling itself is in `embed`).

use serde::{Deserialize, Serialize};

/// How token vectors are pooled into one vector per string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over all non-padding positions, special tokens included
    /// (as sentence-transformers does). The default.
    #[default]
    Mean,
    /// The first position (`[CLS]` for BERT-style encoders).
    Cls,
    /// The last non-padding position (for decoder-only models).
    Last,
}

impl Pooling {
    /// Lower-case name, as used on the command line and in cache keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Last => "last",
        }
    }
}

impl std::str::FromStr for Pooling {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mean" => Ok(Pooling::Mean),
            "cls" => Ok(Pooling::Cls),
            "last" => Ok(Pooling::Last),
            other => Err(crate::Error::param(
                "pooling",
                format!("{other:?}; expected mean, cls or last"),
            )),
        }
    }
}
