//! A model's vector settings, resolved once: the user's choices where given, else
//! the model's own (its manifest). Every command and the notebook helpers resolve
//! through [`VectorSetting::resolve`], so "the model's default" means one thing.

use std::path::Path;

use super::manifest::Manifest;
use super::pooling::Pooling;
use crate::error::{Error, Result};

/// What a user asked for; each `None` means "the model's own".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Asked {
    pub pooling: Option<Pooling>,
    /// `Some(false)`: raw vectors whatever the manifest says (the report measures
    /// raw vectors); `None`: the manifest's `normalize`.
    pub normalize: Option<bool>,
    /// Text each string is wrapped in (exactly one `{}`); `None`: the string alone.
    pub template: Option<String>,
}

/// How a model's vectors are made, resolved and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSetting {
    pub pooling: Pooling,
    pub normalize: bool,
    pub template: Option<String>,
}

impl VectorSetting {
    /// `asked` over the manifest's defaults (`pooling`, else `last` for decoders
    /// and mean for encoders; `normalize`, else false).
    pub fn resolve(manifest: &Manifest, asked: &Asked) -> Result<Self> {
        Self::over(manifest.pooling(), manifest.normalize(), asked)
    }

    /// `asked` over a model's own pooling and normalisation (as a loaded model
    /// reports them, from the same manifest).
    pub fn over(pooling: Pooling, normalize: bool, asked: &Asked) -> Result<Self> {
        if let Some(t) = &asked.template {
            check_template(t)?;
        }
        Ok(VectorSetting {
            pooling: asked.pooling.unwrap_or(pooling),
            normalize: asked.normalize.unwrap_or(normalize),
            template: asked.template.clone(),
        })
    }

    /// [`VectorSetting::resolve`] with the manifest of the model directory `dir`
    /// (none: an encoder's defaults).
    pub fn for_dir(dir: &Path, asked: &Asked) -> Result<Self> {
        Self::resolve(&Manifest::read(dir)?.unwrap_or_default(), asked)
    }
}

/// A template must hold exactly one `{}`.
pub fn check_template(template: &str) -> Result<()> {
    let n = template.matches("{}").count();
    crate::ensure!(
        n == 1,
        Error::param(
            "template",
            format!("{template:?} has {n} `{{}}`; expected exactly one, where the string goes")
        )
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asked_wins_and_the_manifest_fills_in() {
        let dec = Manifest::parse(r#"{"kind": "decoder"}"#).unwrap();
        let enc = Manifest::parse(r#"{"pooling": "mean", "normalize": true}"#).unwrap();
        let own = Asked::default();
        let s = VectorSetting::resolve(&dec, &own).unwrap();
        assert_eq!((s.pooling, s.normalize), (Pooling::Last, false));
        let s = VectorSetting::resolve(&enc, &own).unwrap();
        assert_eq!((s.pooling, s.normalize), (Pooling::Mean, true));
        let raw = Asked {
            normalize: Some(false),
            pooling: Some(Pooling::Cls),
            template: Some("Gene {}".into()),
        };
        let s = VectorSetting::resolve(&enc, &raw).unwrap();
        assert_eq!((s.pooling, s.normalize), (Pooling::Cls, false));
        assert_eq!(s.template.as_deref(), Some("Gene {}"));
        for bad in ["none", "{} and {}"] {
            let asked = Asked {
                template: Some(bad.into()),
                ..Asked::default()
            };
            assert!(VectorSetting::resolve(&enc, &asked).is_err(), "{bad}");
        }
    }
}
