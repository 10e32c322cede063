//! Dense linear algebra: the crate's one door to faer (matrix products, symmetric
//! eigendecomposition, SVD, LU and Cholesky solves) and the one place where ndarray 0.17 (ours) and 0.16
//! (linfa's) meet.
//!
//! faer parallelises with rayon in the pool it is called from: [`par`] asks for
//! as many threads as that pool has, so work run through
//! [`crate::parallel::install`] follows the configured thread count, and faer's
//! own solvers (which read faer's global setting, by default "the current rayon
//! pool") do too. Inside an already parallel loop, callers pass `Par::Seq`.

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Error, Result};

/// `a · b`, bit for bit what ndarray's `dot` gives: eight running sums over chunks of
/// eight (each product and sum rounded on its own, never fused), combined as
/// (p0+p4), (p1+p5), (p2+p6), (p3+p7), then the tail in order. The crate builds at
/// opt-level 1, where that generic loop is not vectorised; with AVX2 the eight sums
/// are one register's lanes. The sampled null of a `--full` run is ~28M of these.
pub(crate) fn dot_f32(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let (Some(x), Some(y)) = (a.as_slice(), b.as_slice()) {
        if x.len() == y.len() && has_avx2() {
            // SAFETY: AVX2 is present (checked above) and both slices have one length.
            return unsafe { avx2::dot(x, y) };
        }
    }
    a.dot(&b)
}

/// Whether this CPU runs the crate's AVX2 loops (dot products here, retrieval's counting).
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Unaligned 256-bit loads and stores without `copy_nonoverlapping`, which
/// `_mm256_loadu_ps` and kin use: in this crate's debug-assertion builds that call
/// carries a run-time precondition check per load, which made a dot product of 384
/// several times slower. A packed (align 1) wrapper reads and writes the same bytes
/// with one `vmovups`.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    #[repr(C, packed)]
    #[derive(Clone, Copy)]
    struct Unaligned<T>(T);

    /// # Safety
    /// `p .. p + 8` must be readable.
    #[inline(always)]
    pub(crate) unsafe fn load_ps(p: *const f32) -> __m256 {
        // SAFETY: the caller's contract; `Unaligned` has alignment 1.
        unsafe { (*(p as *const Unaligned<__m256>)).0 }
    }

    /// # Safety
    /// `p .. p + 8` must be readable.
    #[inline(always)]
    pub(crate) unsafe fn load_si256(p: *const u32) -> __m256i {
        // SAFETY: as for `load_ps`.
        unsafe { (*(p as *const Unaligned<__m256i>)).0 }
    }

    /// # Safety
    /// `p .. p + 8` must be writable.
    #[inline(always)]
    pub(crate) unsafe fn store_si256(p: *mut u32, v: __m256i) {
        // SAFETY: as for `load_ps`.
        unsafe { *(p as *mut Unaligned<__m256i>) = Unaligned(v) }
    }

    /// [`super::dot_f32`] on slices of one length; the CPU must have AVX2. Raw
    /// pointers and a `while` loop: at opt-level 1 a range iterator and `ptr::add`
    /// are calls with checks, per chunk.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot(x: &[f32], y: &[f32]) -> f32 {
        let n = x.len();
        let (px, py) = (x.as_ptr(), y.as_ptr());
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 ≤ n = the length of both slices
            let (xv, yv) = unsafe { (load_ps(px.wrapping_add(i)), load_ps(py.wrapping_add(i))) };
            acc = _mm256_add_ps(acc, _mm256_mul_ps(xv, yv));
            i += 8;
        }
        // SAFETY: 8 f32 lanes are 256 bits
        let p = unsafe { std::mem::transmute::<__m256, [f32; 8]>(acc) };
        let mut sum = 0.0f32;
        sum += p[0] + p[4];
        sum += p[1] + p[5];
        sum += p[2] + p[6];
        sum += p[3] + p[7];
        while i < n {
            sum += x[i] * y[i];
            i += 1;
        }
        sum
    }
}

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

/// The Cholesky factorisation `a = L Lᵀ` of a symmetric positive-definite matrix,
/// for solves and log-determinants ([`cholesky`]).
pub(crate) struct Cholesky {
    llt: faer::linalg::solvers::Llt<f64>,
}

/// Why [`cholesky`] stopped: `column`'s pivot is not positive relative to its
/// diagonal entry, so the column is (to that tolerance) a combination of the earlier
/// ones; `on_earlier` are its coefficients on them (the solution of
/// `a[..column, ..column] c = a[..column, column]`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NotPositiveDefinite {
    pub column: usize,
    pub on_earlier: Vec<f64>,
}

/// Cholesky factor of the symmetric `a` (its lower triangle is read). A pivot `d`
/// (the square of L's diagonal entry) must be finite and above `pivot_tolerance`
/// times its diagonal entry `a[j, j] > 0`; the first column where it is not is
/// the error.
pub(crate) fn cholesky(
    a: &Array2<f64>,
    pivot_tolerance: f64,
) -> std::result::Result<Cholesky, NotPositiveDefinite> {
    use faer::linalg::cholesky::llt::factor::LltError;
    let p = a.nrows();
    assert_eq!(p, a.ncols(), "cholesky: the matrix is not square");
    let leading =
        |k: usize| with_view(a.slice(ndarray::s![..k, ..k]), |v| v.llt(faer::Side::Lower));
    let small_pivot = |l: MatRef<'_, f64>| {
        (0..l.nrows()).find(|&j| {
            let (d, ajj) = (l[(j, j)] * l[(j, j)], a[[j, j]]);
            !(ajj > 0.0 && d.is_finite() && d > pivot_tolerance * ajj)
        })
    };
    // The first failing column: faer's own, or an earlier pivot that is too small.
    let mut end = p;
    let column = loop {
        match leading(end) {
            Ok(llt) => match small_pivot(llt.L()) {
                Some(j) => break j,
                None if end == p => return Ok(Cholesky { llt }),
                None => break end,
            },
            Err(LltError::NonPositivePivot { index }) if index > 0 && index < end => end = index,
            Err(LltError::NonPositivePivot { index }) => break index.min(end.saturating_sub(1)),
        }
    };
    let on_earlier = match leading(column) {
        Ok(llt) if column > 0 => {
            let b: Vec<f64> = (0..column).map(|i| a[[i, column]]).collect();
            Cholesky { llt }.solve(&b)
        }
        _ => Vec::new(),
    };
    Err(NotPositiveDefinite { column, on_earlier })
}

impl Cholesky {
    /// Solves `L Lᵀ x = b`.
    pub(crate) fn solve(&self, b: &[f64]) -> Vec<f64> {
        use faer::linalg::solvers::Solve;
        let x = self
            .llt
            .solve(MatRef::from_column_major_slice(b, b.len(), 1));
        (0..b.len()).map(|i| x[(i, 0)]).collect()
    }

    /// `a⁻¹`.
    pub(crate) fn inverse(&self) -> Array2<f64> {
        use faer::linalg::solvers::DenseSolveCore;
        let inv = self.llt.inverse();
        Array2::from_shape_fn((inv.nrows(), inv.ncols()), |(r, c)| inv[(r, c)])
    }

    /// log det `a` = 2 Σ log Lⱼⱼ.
    pub(crate) fn log_det(&self) -> f64 {
        let l = self.llt.L();
        2.0 * (0..l.nrows()).map(|i| l[(i, i)].ln()).sum::<f64>()
    }
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
    fn dot_is_ndarrays_dot_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for len in (0..=41).chain([383, 384, 385, 768]) {
            for _ in 0..20 {
                let scale = 10f32.powi(rng.gen_range(-3..4));
                let a = Array1::from_shape_fn(len, |_| (rng.gen::<f32>() - 0.5) * scale);
                let b = Array1::from_shape_fn(len, |_| rng.gen::<f32>() - 0.5);
                assert_eq!(
                    dot_f32(a.view(), b.view()).to_bits(),
                    a.dot(&b).to_bits(),
                    "len {len}"
                );
            }
        }
        // a strided view takes ndarray's own path
        let m = Array2::from_shape_fn((6, 9), |(i, j)| (i * 9 + j) as f32 * 0.37 - 4.0);
        let (c, r) = (m.column(2), m.row(1));
        assert_eq!(
            dot_f32(c, m.column(5)).to_bits(),
            c.dot(&m.column(5)).to_bits()
        );
        assert_eq!(dot_f32(r, m.row(4)).to_bits(), r.dot(&m.row(4)).to_bits());
        // -0.0 sums as ndarray's does (its running sum starts at +0.0)
        let (z, one) = (Array1::from_elem(9, -0.0f32), Array1::from_elem(9, 1.0f32));
        assert_eq!(
            dot_f32(z.view(), one.view()).to_bits(),
            z.dot(&one).to_bits()
        );
    }

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

    #[test]
    fn cholesky_solves_and_names_the_dependent_column() {
        // [[4,2],[2,3]] x = [2,1] → x = [0.5, 0]; det = 8.
        let a = array![[4.0, 2.0], [2.0, 3.0]];
        let c = cholesky(&a, 1e-10).unwrap();
        let x = c.solve(&[2.0, 1.0]);
        assert!((x[0] - 0.5).abs() < 1e-15 && x[1].abs() < 1e-15);
        assert!((c.log_det() - 8f64.ln()).abs() < 1e-14);
        close(&c.inverse().dot(&a), &Array2::eye(2), 1e-14);
        // Column 2 = column 0 + 2 · column 1 (a Gram matrix of such columns).
        let cols = array![
            [1.0, 0.0, 1.0],
            [0.0, 1.0, 2.0],
            [1.0, 1.0, 3.0],
            [2.0, 0.5, 3.0]
        ];
        let g = cols.t().dot(&cols);
        let e = cholesky(&g, 1e-10).err().unwrap();
        assert_eq!(e.column, 2);
        assert!((e.on_earlier[0] - 1.0).abs() < 1e-9 && (e.on_earlier[1] - 2.0).abs() < 1e-9);
        // Exactly singular at the first column, and a pivot barely positive.
        let z = cholesky(&array![[0.0, 0.0], [0.0, 1.0]], 1e-10)
            .err()
            .unwrap();
        assert_eq!((z.column, z.on_earlier.len()), (0, 0));
        let near = array![[1.0, 1.0], [1.0, 1.0 + 1e-12]];
        assert_eq!(cholesky(&near, 1e-10).err().unwrap().column, 1);
    }
}
