//! Dense linear algebra: the crate's one door to faer (matrix products, symmetric
//! eigendecomposition, SVD) and the one place where ndarray 0.17 (ours) and 0.16
//! (linfa's) meet.
//!
//! faer parallelises with rayon in the pool it is called from: [`par`] asks for
//! as many threads as that pool has, so work run through
//! [`crate::parallel::install`] follows the configured thread count, and faer's
//! own solvers (which read faer's global setting, by default "the current rayon
//! pool") do too. Inside an already parallel loop, callers pass `Par::Seq`.

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView2};

use crate::error::{Error, Result};

/// faer's parallelism for the rayon pool this runs in.
pub(crate) fn par() -> Par {
    Par::rayon(rayon::current_num_threads())
}

/// Calls `f` with a faer view of `a` (a C-contiguous copy when `a` is neither
/// C- nor F-contiguous).
fn with_view<T: Clone, R>(a: ArrayView2<T>, f: impl FnOnce(MatRef<'_, T>) -> R) -> R {
    let (m, n) = a.dim();
    if let Some(s) = a.to_slice() {
        f(MatRef::from_row_major_slice(s, m, n))
    } else if let Some(s) = a.t().to_slice() {
        f(MatRef::from_column_major_slice(s, m, n))
    } else {
        let c = a.as_standard_layout();
        f(MatRef::from_row_major_slice(
            c.as_slice().unwrap_or_default(),
            m,
            n,
        ))
    }
}

/// `out = a · b` with the given parallelism; `out` is row-major `(a rows, b cols)`.
fn matmul_into<T>(out: &mut [T], a: ArrayView2<T>, b: ArrayView2<T>, one: T, par: Par)
where
    T: faer::traits::ComplexField,
{
    let (m, n) = (a.nrows(), b.ncols());
    let dst = MatMut::from_row_major_slice_mut(out, m, n);
    with_view(a, |a| {
        with_view(b, |b| {
            faer::linalg::matmul::matmul(dst, Accum::Replace, a, b, one, par)
        })
    });
}

/// `a · b` in f64 (any layouts), parallel in the current pool.
pub(crate) fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    assert_eq!(a.ncols(), b.nrows(), "matmul: inner dimensions differ");
    let mut out = Array2::<f64>::zeros((a.nrows(), b.ncols()));
    if let Some(slice) = out.as_slice_mut() {
        matmul_into(slice, a, b, 1.0, par());
    }
    out
}

/// `a · bᵀ` in f32 into `out` (row-major, `a.nrows() × b.nrows()`), with `par`.
pub(crate) fn matmul_abt_f32(out: &mut [f32], a: ArrayView2<f32>, b: ArrayView2<f32>, par: Par) {
    assert_eq!(a.ncols(), b.ncols(), "matmul: inner dimensions differ");
    assert_eq!(out.len(), a.nrows() * b.nrows(), "matmul: output size");
    matmul_into(out, a, b.t(), 1.0, par);
}

/// Eigendecomposition of the symmetric matrix `a` (its lower triangle is read):
/// eigenvalues in ascending order and the unit eigenvectors as columns.
pub(crate) fn eigh(a: &Array2<f64>) -> Result<(Array1<f64>, Array2<f64>)> {
    crate::ensure!(
        a.nrows() == a.ncols(),
        Error::data("eigendecomposition", format!("{:?} is not square", a.dim()))
    );
    let evd = with_view(a.view(), |v| v.self_adjoint_eigen(faer::Side::Lower))
        .map_err(|e| Error::data("eigendecomposition", format!("{e:?}")))?;
    let n = a.nrows();
    let s = evd.S().column_vector();
    let u = evd.U();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| s[i].total_cmp(&s[j]));
    let vals = Array1::from_iter(order.iter().map(|&i| s[i]));
    let vecs = Array2::from_shape_fn((n, n), |(r, c)| u[(r, order[c])]);
    Ok((vals, vecs))
}

/// Thin SVD `a = U diag(s) Vᵀ`: (U, s descending, Vᵀ).
pub(crate) fn svd(a: &Array2<f64>) -> Result<(Array2<f64>, Array1<f64>, Array2<f64>)> {
    let svd =
        with_view(a.view(), |v| v.thin_svd()).map_err(|e| Error::data("SVD", format!("{e:?}")))?;
    let (u, s, v) = (svd.U(), svd.S().column_vector(), svd.V());
    let k = s.nrows();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
    let uu = Array2::from_shape_fn((u.nrows(), k), |(r, c)| u[(r, order[c])]);
    let ss = Array1::from_iter(order.iter().map(|&i| s[i]));
    let vt = Array2::from_shape_fn((k, v.nrows()), |(r, c)| v[(c, order[r])]);
    Ok((uu, ss, vt))
}

/// Solves `a x = b` for square `a` (LU with partial pivoting); `b` may have several columns.
pub(crate) fn solve(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    use faer::linalg::solvers::Solve;
    let lu = with_view(a.view(), |v| v.partial_piv_lu());
    let x = with_view(b.view(), |v| lu.solve(v));
    Array2::from_shape_fn(b.dim(), |(r, c)| x[(r, c)])
}

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
    use ndarray::array;

    #[test]
    fn round_trip_keeps_values_and_layout() {
        let x = Array2::from_shape_fn((3, 2), |(i, j)| (10 * i + j) as f64);
        assert_eq!(from_nd16(&to_nd16(&x)), x);
        // a transposed view's logical order, not its memory order
        let t = x.t().to_owned();
        assert_eq!(to_nd16(&t)[[1, 2]], x[[2, 1]]);
    }

    fn close(a: &Array2<f64>, b: &Array2<f64>, tol: f64) {
        assert_eq!(a.dim(), b.dim());
        let err = (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err <= tol, "max error {err}\n{a:?}\n{b:?}");
    }

    #[test]
    fn products_match_ndarray_for_every_layout() {
        let a = Array2::from_shape_fn((5, 7), |(i, j)| ((i * 7 + j) as f64).sin());
        let b = Array2::from_shape_fn((7, 4), |(i, j)| ((i * 4 + j) as f64).cos());
        close(&matmul(a.view(), b.view()), &a.dot(&b), 1e-12);
        let at = a.t().to_owned();
        close(&matmul(at.t(), b.view()), &a.dot(&b), 1e-12);
        // strided (every other column): copied, same result
        let wide = Array2::from_shape_fn((5, 14), |(i, j)| a[[i, j / 2]]);
        let strided = wide.slice(ndarray::s![.., ..;2]);
        close(&matmul(strided, b.view()), &a.dot(&b), 1e-12);
        let q = a.mapv(|v| v as f32);
        let t = Array2::from_shape_fn((6, 7), |(i, j)| ((i + 2 * j) as f32).cos());
        let mut out = vec![0f32; 5 * 6];
        matmul_abt_f32(&mut out, q.view(), t.view(), Par::Seq);
        let want = q.dot(&t.t());
        for (o, w) in out.iter().zip(want.iter()) {
            assert!((o - w).abs() < 1e-5);
        }
    }

    #[test]
    fn decompositions_reconstruct() {
        let x = array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 1.0]];
        let (vals, vecs) = eigh(&x).unwrap();
        assert!(vals[0] <= vals[1] && vals[1] <= vals[2]);
        close(
            &vecs.dot(&Array2::from_diag(&vals)).dot(&vecs.t()),
            &x,
            1e-12,
        );
        let y = array![[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]];
        let (u, s, vt) = svd(&y).unwrap();
        assert!(s[0] >= s[1]);
        close(&u.dot(&Array2::from_diag(&s)).dot(&vt), &y, 1e-12);
        let b = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
        close(&x.dot(&solve(&x, &b)), &b, 1e-12);
        assert!(eigh(&y).is_err());
    }
}
