//! Input validation for figures. Policy: plot inputs must be finite. A NaN or
//! infinite value is an error naming the figure, the series and the position,
//! never silently dropped or drawn; empty series are errors too.

use crate::error::{Error, Result};

/// Error context for a figure.
pub fn ctx(title: &str) -> String {
    format!("figure {title:?}")
}

/// Fails on the first non-finite value of `values`.
pub fn finite(title: &str, series: &str, values: impl IntoIterator<Item = f64>) -> Result<()> {
    for (i, v) in values.into_iter().enumerate() {
        if !v.is_finite() {
            return Err(Error::data(
                ctx(title),
                format!(
                    "series {series:?} has a non-finite value ({v}) at position {i}; \
                     remove or impute NaN/inf values before plotting"
                ),
            ));
        }
    }
    Ok(())
}

/// Fails if `len` is zero.
pub fn non_empty(title: &str, what: &str, len: usize) -> Result<()> {
    if len == 0 {
        return Err(Error::data(
            ctx(title),
            format!("{what} is empty; nothing to plot"),
        ));
    }
    Ok(())
}

/// Fails unless `len == expected`.
pub fn same_len(title: &str, what: &str, len: usize, expected: usize, of: &str) -> Result<()> {
    if len != expected {
        return Err(Error::data(
            ctx(title),
            format!("{what} has {len} values but there are {expected} {of}"),
        ));
    }
    Ok(())
}

/// A user-given axis range must be finite and increasing.
pub fn range(name: &str, r: Option<(f64, f64)>) -> Result<()> {
    if let Some((lo, hi)) = r {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::param(
                name,
                format!("expected finite bounds with low < high, got ({lo}, {hi})"),
            ));
        }
    }
    Ok(())
}
