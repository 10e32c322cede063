//! The one place where ndarray 0.17 (ours) and 0.16 (linfa's) meet: copies
//! between the two `Array2<f64>` types, for linfa's SVD and eigendecompositions.

use ndarray::Array2;

/// A linfa-side copy of `x`.
pub(crate) fn to_nd16(x: &Array2<f64>) -> ndarray16::Array2<f64> {
    ndarray16::Array2::from_shape_fn(x.dim(), |(i, j)| x[[i, j]])
}

/// Our copy of a linfa result.
pub(crate) fn from_nd16(x: &ndarray16::Array2<f64>) -> Array2<f64> {
    Array2::from_shape_fn(x.dim(), |(i, j)| x[[i, j]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_values_and_layout() {
        let x = Array2::from_shape_fn((3, 2), |(i, j)| (10 * i + j) as f64);
        assert_eq!(from_nd16(&to_nd16(&x)), x);
        // a transposed view's logical order, not its memory order
        let t = x.t().to_owned();
        assert_eq!(to_nd16(&t)[[1, 2]], x[[2, 1]]);
    }
}
