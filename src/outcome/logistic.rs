//! Logistic regression of per-item correctness on predictors, by Newton–Raphson
//! (iteratively reweighted least squares) with an intercept, and likelihood-ratio
//! tests between nested fits. The (k+1) × (k+1) information matrix is factored by
//! Cholesky through [`crate::linalg`] (faer).
//!
//! Everything that would give NaN or a meaningless coefficient is an `Error::Data`
//! instead: no variation in y, collinear terms (named), and complete or
//! quasi-complete separation (the term named), where the maximum-likelihood
//! coefficient does not exist.
//!
//! ```
//! use lexalign::outcome::logistic::{fit_logistic, standardise};
//! use ndarray::Array2;
//! let raw: Vec<f64> = (0..40).map(|i| i as f64).collect();
//! let (z, _mean, _sd) = standardise(&raw).unwrap();
//! let y: Vec<bool> = (0..40).map(|i| (i * 7) % 10 < i / 4).collect();
//! let x = Array2::from_shape_vec((40, 1), z).unwrap();
//! let fit = fit_logistic(x.view(), &y, &["x".to_string()], 0.95).unwrap();
//! assert_eq!(fit.names, ["intercept", "x"]);
//! assert!(fit.coefficients[1] > 0.0 && fit.mcfadden_r2 > 0.0);
//! ```

use ndarray::{Array2, ArrayView2};
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

use crate::error::{Error, Result};
use crate::linalg::{cholesky, Cholesky, NotPositiveDefinite};
use crate::stats::{mean_var, normal_quantile};

/// Newton iterations allowed before the fit is declared non-convergent (separation).
pub const MAX_ITERATIONS: usize = 100;
/// Converged when the largest coefficient change is below this.
pub const BETA_TOLERANCE: f64 = 1e-10;
/// … or when the log-likelihood changes by less than this fraction of itself.
pub const LL_TOLERANCE: f64 = 1e-12;
/// Rows needed beyond the number of parameters (intercept + terms).
pub const EXTRA_ROWS: usize = 5;
/// A Cholesky pivot below this fraction of its diagonal entry means the column is
/// (weighted) R² > 1 − 1e-10 explained by the earlier ones: singular.
const PIVOT_TOLERANCE: f64 = 1e-10;
/// At convergence the last Newton step must move no item's linear predictor by more
/// than this; a larger move means the likelihood is still rising along a direction
/// where the coefficients diverge (quasi-complete separation).
const ETA_STEP_TOLERANCE: f64 = 1e-3;
/// Fitted probabilities closer than this to 0 or 1 are reported as "numerically 0 or 1".
const PROBABILITY_EDGE: f64 = 1e-8;

const WHAT: &str = "logistic regression";

/// z-scores `(x − mean) / sd` with the sample standard deviation (n − 1), and the
/// mean and sd used. Errors: fewer than 2 values, a non-finite value, a constant
/// column.
pub fn standardise(x: &[f64]) -> Result<(Vec<f64>, f64, f64)> {
    crate::ensure!(x.len() >= 2, Error::too_few("standardise", x.len(), 2));
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::data(
            "standardise",
            format!("value {i} is {} (must be finite)", x[i]),
        ));
    }
    let (mean, var) = mean_var(x);
    let sd = var.sqrt();
    crate::ensure!(
        sd > 0.0 && x.iter().any(|&v| v != x[0]),
        Error::data("standardise", "the column is constant; it has no z-scores")
    );
    Ok((x.iter().map(|v| (v - mean) / sd).collect(), mean, sd))
}

/// A fitted logistic regression. Vectors run over `names`: "intercept", then the
/// terms in the order of the columns of x.
#[derive(Debug, Clone, Serialize)]
pub struct LogisticFit {
    pub names: Vec<String>,
    /// Log-odds coefficients β.
    pub coefficients: Vec<f64>,
    /// √diag((XᵀWX)⁻¹) at the optimum.
    pub se: Vec<f64>,
    /// Wald interval β ± z·se at `level`.
    pub ci_low: Vec<f64>,
    pub ci_high: Vec<f64>,
    /// Wald statistic β / se.
    pub z: Vec<f64>,
    /// Two-sided Wald p-value 2·Φ(−|z|).
    pub p_value: Vec<f64>,
    /// Log-likelihood at the optimum.
    pub log_likelihood: f64,
    /// Log-likelihood of the intercept-only model.
    pub null_log_likelihood: f64,
    /// 1 − LL / LL₀.
    pub mcfadden_r2: f64,
    /// Newton steps taken.
    pub iterations: usize,
    /// Items.
    pub n: usize,
    /// Coverage of the Wald intervals.
    pub level: f64,
    /// How the coefficients were estimated.
    pub method: Method,
    /// (XᵀWX)⁻¹ at the optimum: the Wald covariance of the coefficients.
    #[serde(skip)]
    pub covariance: Array2<f64>,
    /// Firth's penalised log-likelihood LL + ½ log det(XᵀWX) at the optimum (Firth fits only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalised_log_likelihood: Option<f64>,
}

/// Maximum likelihood, or Firth's penalised likelihood (Jeffreys-prior penalty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    #[default]
    MaximumLikelihood,
    /// Firth (1993): maximises LL(β) + ½ log det I(β), solving the modified score
    /// Xᵀ(y − μ + h(½ − μ)) = 0 (h = leverages). Finite under separation, and the
    /// O(1/n) bias of the ML estimate is removed; the remedy for few events.
    Firth,
}

/// The Cholesky factor of an information or Gram matrix, or which column is singular.
fn factor(m: &Array2<f64>) -> std::result::Result<Cholesky, NotPositiveDefinite> {
    cholesky(m, PIVOT_TOLERANCE)
}

/// log(1 + eᵗ) without overflow.
fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

/// σ(η) and σ(η)(1 − σ(η)) without overflow or cancellation.
fn sigmoid_and_weight(eta: f64) -> (f64, f64) {
    let e = (-eta.abs()).exp();
    let mu = if eta >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (mu, e / ((1.0 + e) * (1.0 + e)))
}

/// Linear predictor Xβ.
fn linear_predictor(x: &Array2<f64>, beta: &[f64]) -> Vec<f64> {
    x.rows()
        .into_iter()
        .map(|r| r.iter().zip(beta).map(|(a, b)| a * b).sum())
        .collect()
}

/// Σ y log μ + (1 − y) log(1 − μ) = Σ −softplus(∓η).
fn log_likelihood(eta: &[f64], y: &[bool]) -> f64 {
    eta.iter()
        .zip(y)
        .map(|(&e, &yi)| if yi { -softplus(-e) } else { -softplus(e) })
        .sum()
}

/// Copies the lower triangle of a square matrix onto its upper triangle.
fn mirror_lower(m: &mut Array2<f64>) {
    for a in 1..m.nrows() {
        for b in 0..a {
            m[[b, a]] = m[[a, b]];
        }
    }
}

/// Gradient Xᵀ(y − μ) and information XᵀWX at η.
fn score_and_information(x: &Array2<f64>, y: &[bool], eta: &[f64]) -> (Vec<f64>, Array2<f64>) {
    let p = x.ncols();
    let mut g = vec![0.0; p];
    let mut h = Array2::zeros((p, p));
    for (i, row) in x.rows().into_iter().enumerate() {
        let (mu, w) = sigmoid_and_weight(eta[i]);
        let r = if y[i] { 1.0 - mu } else { -mu };
        for a in 0..p {
            g[a] += row[a] * r;
            let wa = w * row[a];
            for b in 0..=a {
                h[[a, b]] += wa * row[b];
            }
        }
    }
    mirror_lower(&mut h);
    (g, h)
}

/// "column j is a combination of …": the earlier columns with a non-negligible
/// coefficient `c` in the regression of column j on them (G[..j,..j] c = G[..j, j]).
fn collinear_error(names: &[String], gram: &Array2<f64>, singular: NotPositiveDefinite) -> Error {
    let NotPositiveDefinite {
        column: j,
        on_earlier: c,
    } = singular;
    let norm = |a: usize| gram[[a, a]].sqrt();
    let involved: Vec<String> = (0..j)
        .filter(|&i| norm(j) > 0.0 && (c[i] * norm(i) / norm(j)).abs() > 1e-6)
        .map(|i| format!("{:?}", names[i]))
        .collect();
    let message = if gram[[j, j]] == 0.0 {
        format!("term {:?} is zero for every item", names[j])
    } else if involved.is_empty() {
        format!("term {:?} is collinear with the earlier terms", names[j])
    } else {
        format!(
            "term {:?} is (almost) a linear combination of {}: the terms are collinear \
             and the information matrix is singular; drop one of them",
            names[j],
            involved.join(", ")
        )
    };
    Error::data(WHAT, message)
}

/// The separation error: names the term that moves the linear predictor most along
/// the last Newton step (the direction in which the coefficients diverge).
fn separation_error(
    names: &[String],
    scales: &[f64],
    last_step: &[f64],
    eta: &[f64],
    iterations: usize,
    why: &str,
) -> Error {
    let term = (1..names.len())
        .max_by(|&a, &b| {
            (last_step[a] * scales[a])
                .abs()
                .total_cmp(&(last_step[b] * scales[b]).abs())
        })
        .unwrap_or(0);
    let edge = eta
        .iter()
        .filter(|&&e| {
            let (mu, _) = sigmoid_and_weight(e);
            mu.min(1.0 - mu) < PROBABILITY_EDGE
        })
        .count();
    Error::data(
        WHAT,
        format!(
            "complete or quasi-complete separation is likely, driven by term {:?}: {why} after \
             {iterations} Newton steps, {edge} of {} fitted probabilities are numerically 0 or 1, \
             and its coefficient diverges, so no maximum-likelihood estimate exists. Check whether \
             {:?} alone (or with the other terms) splits correct from incorrect items; drop or \
             coarsen it",
            names[term],
            eta.len(),
            names[term]
        ),
    )
}

/// Logistic regression of `y` on the columns of `x` (n × k, no intercept column;
/// one is added first) with `names` for the k terms, by Newton–Raphson from β = 0.
///
/// Each step solves (XᵀWX) Δ = Xᵀ(y − μ) by Cholesky; a step that lowers the
/// log-likelihood is halved (up to 30 times). Converged when max |Δ| < 1e-10 or
/// |ΔLL| < 1e-12 |LL|, within 100 steps. Standard errors are √diag((XᵀWX)⁻¹) at the
/// optimum, Wald intervals β ± Φ⁻¹(1 − (1 − level)/2)·se, p = 2Φ(−|β/se|),
/// McFadden R² = 1 − LL/LL₀ with LL₀ = n₁ log(n₁/n) + n₀ log(n₀/n).
///
/// Errors (never NaN): shapes that do not match, non-finite values, level outside
/// (0, 1), y all true or all false, fewer than k + 1 + [`EXTRA_ROWS`] rows, collinear
/// terms (the information matrix XᵀX is singular; the terms are named), and
/// separation (no convergence, a singular weighted information matrix during the
/// iterations, or a last step that still moves the linear predictor; the term
/// driving it is named).
pub fn fit_logistic(
    x: ArrayView2<f64>,
    y: &[bool],
    names: &[String],
    level: f64,
) -> Result<LogisticFit> {
    fit_logistic_with(x, y, names, level, Method::MaximumLikelihood)
}

/// Firth's penalised fit by modified-score Newton steps from β = 0: Δ = I⁻¹ U*,
/// U* = Xᵀ(y − μ + h(½ − μ)), with h_i = w_i x_iᵀ I⁻¹ x_i, halving a step that
/// lowers LL + ½ log det I; converged when max |Δ| < 1e-10. Returns β, η, steps.
/// Only the coefficients `free` move (the others stay 0) while the penalty keeps the
/// whole design's information: the restricted fit of Firth's penalised LR test.
fn firth_newton(
    design: &Array2<f64>,
    y: &[bool],
    names: &[String],
    free: &[usize],
) -> Result<(Vec<f64>, Vec<f64>, usize)> {
    let (n, p) = design.dim();
    let penalised = |eta: &[f64]| -> Option<f64> {
        let (_, h) = score_and_information(design, y, eta);
        let l = factor(&h).ok()?;
        Some(log_likelihood(eta, y) + 0.5 * l.log_det())
    };
    let mut beta = vec![0.0; p];
    let mut eta = vec![0.0; n];
    let mut pll =
        penalised(&eta).ok_or_else(|| Error::data(WHAT, "singular information at β = 0"))?;
    for iterations in 1..=MAX_ITERATIONS {
        let (_, h) = score_and_information(design, y, &eta);
        let l = factor(&h).map_err(|_| {
            Error::data(
                WHAT,
                format!(
                    "Firth fit: the information matrix became singular after {iterations} steps"
                ),
            )
        })?;
        let u = firth_score(design, y, &eta, &l);
        let delta = if free.len() == p {
            l.solve(&u)
        } else {
            free_block_step(&h, &u, free)?
        };
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..=30 {
            let b: Vec<f64> = beta.iter().zip(&delta).map(|(b, d)| b + step * d).collect();
            let e = linear_predictor(design, &b);
            if let Some(v) = penalised(&e) {
                if v >= pll - 1e-10 * (1.0 + pll.abs()) {
                    accepted = Some((b, e, v));
                    break;
                }
            }
            step /= 2.0;
        }
        let Some((b, e, v)) = accepted else {
            return Err(Error::data(
                WHAT,
                format!(
                    "Firth fit: no step raised the penalised likelihood after {iterations} steps"
                ),
            ));
        };
        let max_step = delta.iter().fold(0.0f64, |m, d| m.max((step * d).abs()));
        beta = b;
        eta = e;
        pll = v;
        if max_step < BETA_TOLERANCE {
            return Ok((beta, eta, iterations));
        }
    }
    Err(Error::data(
        WHAT,
        format!(
            "Firth fit of {:?} did not converge in {MAX_ITERATIONS} steps",
            names
        ),
    ))
}

/// Firth's modified score U* = Xᵀ(y − μ + h(½ − μ)) at η, with the leverages
/// h_i = w_i x_iᵀ I⁻¹ x_i from the factored information `l`.
fn firth_score(design: &Array2<f64>, y: &[bool], eta: &[f64], l: &Cholesky) -> Vec<f64> {
    let mut u = vec![0.0; design.ncols()];
    for (i, row) in design.rows().into_iter().enumerate() {
        let (mu, w) = sigmoid_and_weight(eta[i]);
        let xi = row.to_vec();
        let hi = w * xi.iter().zip(l.solve(&xi)).map(|(a, b)| a * b).sum::<f64>();
        let r = if y[i] { 1.0 - mu } else { -mu } + hi * (0.5 - mu);
        for (ua, xa) in u.iter_mut().zip(&xi) {
            *ua += xa * r;
        }
    }
    u
}

/// Newton on the free coefficients only: (X_fᵀWX_f) Δ_f = U*_f, the others 0.
fn free_block_step(h: &Array2<f64>, u: &[f64], free: &[usize]) -> Result<Vec<f64>> {
    let block = Array2::from_shape_fn((free.len(), free.len()), |(a, b)| h[[free[a], free[b]]]);
    let lf = factor(&block)
        .map_err(|_| Error::data(WHAT, "Firth restricted fit: singular information"))?;
    let uf: Vec<f64> = free.iter().map(|&a| u[a]).collect();
    let mut d = vec![0.0; u.len()];
    for (k, df) in lf.solve(&uf).into_iter().enumerate() {
        d[free[k]] = df;
    }
    Ok(d)
}

/// [`fit_logistic`] with a choice of [`Method`]. Firth fits skip the separation
/// checks (their estimate is finite under separation) but not the collinearity one;
/// their standard errors are √diag(I⁻¹) at the penalised estimate (Wald).
pub fn fit_logistic_with(
    x: ArrayView2<f64>,
    y: &[bool],
    names: &[String],
    level: f64,
    method: Method,
) -> Result<LogisticFit> {
    let z_level = check_inputs(x, y, names, level)?;
    let mut all_names = Vec::with_capacity(names.len() + 1);
    all_names.push("intercept".to_string());
    all_names.extend(names.iter().cloned());
    let design = with_intercept(x);
    check_collinear(&design, &all_names)?;
    let scales = term_scales(&design);
    let fit = match method {
        Method::Firth => {
            let all: Vec<usize> = (0..design.ncols()).collect();
            let (beta, eta, iterations) = firth_newton(&design, y, &all_names, &all)?;
            Fitted {
                last_step: vec![0.0; beta.len()],
                beta,
                eta,
                iterations,
            }
        }
        Method::MaximumLikelihood => newton_ml(&design, y, &all_names, &scales)?,
    };
    finish(&design, y, all_names, fit, level, z_level, &scales, method)
}

/// Shapes, level, enough rows, finite values and both outcomes present; the
/// level's normal quantile.
fn check_inputs(x: ArrayView2<f64>, y: &[bool], names: &[String], level: f64) -> Result<f64> {
    let (n, k) = x.dim();
    let p = k + 1;
    crate::ensure!(
        y.len() == n,
        Error::data(
            WHAT,
            format!("{n} rows of predictors but {} outcomes", y.len())
        )
    );
    crate::ensure!(
        names.len() == k,
        Error::data(
            WHAT,
            format!("{k} predictor columns but {} names", names.len())
        )
    );
    let z_level = normal_quantile(level)?;
    crate::ensure!(n >= p + EXTRA_ROWS, Error::too_few(WHAT, n, p + EXTRA_ROWS));
    if let Some(((i, j), v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::data(
            WHAT,
            format!("term {:?}, row {i}: value {v} is not finite", names[j]),
        ));
    }
    let n1 = y.iter().filter(|&&c| c).count();
    crate::ensure!(
        n1 > 0 && n1 < n,
        Error::data(
            WHAT,
            format!("{n1} of {n} outcomes are true; y has no variation to model")
        )
    );
    Ok(z_level)
}

/// The design matrix: a column of ones, then `x`.
fn with_intercept(x: ArrayView2<f64>) -> Array2<f64> {
    let (n, k) = x.dim();
    Array2::from_shape_fn(
        (n, k + 1),
        |(i, j)| if j == 0 { 1.0 } else { x[[i, j - 1]] },
    )
}

/// Collinearity, on XᵀX, independently of y: an error naming the terms involved.
fn check_collinear(design: &Array2<f64>, all_names: &[String]) -> Result<()> {
    let p = design.ncols();
    let mut gram = Array2::zeros((p, p));
    for row in design.rows() {
        for a in 0..p {
            for b in 0..=a {
                gram[[a, b]] += row[a] * row[b];
            }
        }
    }
    mirror_lower(&mut gram);
    match factor(&gram) {
        Ok(_) => Ok(()),
        Err(singular) => Err(collinear_error(all_names, &gram, singular)),
    }
}

/// Scale of each term (sd; 1 for the intercept), to compare coefficient steps as
/// moves of the linear predictor.
fn term_scales(design: &Array2<f64>) -> Vec<f64> {
    (0..design.ncols())
        .map(|j| {
            if j == 0 {
                1.0
            } else {
                mean_var(&design.column(j).to_vec()).1.sqrt()
            }
        })
        .collect()
}

/// Maximum likelihood by Newton–Raphson from β = 0 (see [`fit_logistic`]); no
/// convergence, or convergence while the linear predictor keeps moving, is
/// separation: an error naming the term that drives it.
fn newton_ml(design: &Array2<f64>, y: &[bool], names: &[String], scales: &[f64]) -> Result<Fitted> {
    let separation = |fit: &Fitted, why: &str| {
        separation_error(names, scales, &fit.last_step, &fit.eta, fit.iterations, why)
    };
    let (n, p) = design.dim();
    let mut fit = Fitted {
        beta: vec![0.0; p],
        eta: vec![0.0; n],
        iterations: 0,
        last_step: vec![0.0; p],
    };
    let mut ll = log_likelihood(&fit.eta, y);
    let mut converged = false;
    while fit.iterations < MAX_ITERATIONS {
        fit.iterations += 1;
        let (g, h) = score_and_information(design, y, &fit.eta);
        let l = factor(&h)
            .map_err(|_| separation(&fit, "the weighted information matrix became singular"))?;
        let delta = l.solve(&g);
        let (step, new_beta, new_eta, new_ll) = halving_step(design, y, &fit.beta, &delta, ll);
        fit.last_step = delta.iter().map(|d| step * d).collect();
        if !(new_ll.is_finite() && new_beta.iter().all(|b| b.is_finite())) {
            return Err(separation(&fit, "the coefficients overflowed"));
        }
        let max_step = fit.last_step.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        let ll_change = (new_ll - ll).abs();
        let old_ll = ll;
        fit.beta = new_beta;
        fit.eta = new_eta;
        ll = new_ll;
        if max_step < BETA_TOLERANCE || ll_change < LL_TOLERANCE * old_ll.abs() {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(separation(&fit, "no convergence"));
    }
    let eta_step = linear_predictor(design, &fit.last_step)
        .iter()
        .fold(0.0f64, |m, d| m.max(d.abs()));
    if eta_step > ETA_STEP_TOLERANCE {
        return Err(separation(
            &fit,
            "the log-likelihood levelled off while the linear predictor kept moving",
        ));
    }
    Ok(fit)
}

/// The Newton step `delta` from `beta`, halved (up to 30 times) while it lowers
/// the log-likelihood `ll`: the step length taken and the new β, η and LL.
fn halving_step(
    design: &Array2<f64>,
    y: &[bool],
    beta: &[f64],
    delta: &[f64],
    ll: f64,
) -> (f64, Vec<f64>, Vec<f64>, f64) {
    let mut step = 1.0;
    let mut halvings = 0;
    loop {
        let new_beta: Vec<f64> = beta.iter().zip(delta).map(|(b, d)| b + step * d).collect();
        let new_eta = linear_predictor(design, &new_beta);
        let new_ll = log_likelihood(&new_eta, y);
        if new_ll >= ll - 1e-10 * (1.0 + ll.abs()) || halvings == 30 {
            return (step, new_beta, new_eta, new_ll);
        }
        step /= 2.0;
        halvings += 1;
    }
}

/// An optimum and how it was reached.
struct Fitted {
    beta: Vec<f64>,
    eta: Vec<f64>,
    iterations: usize,
    /// The last Newton step (names the diverging term if the information is singular).
    last_step: Vec<f64>,
}

/// Standard errors, Wald intervals and likelihoods at the optimum `beta`.
#[allow(clippy::too_many_arguments)]
fn finish(
    design: &Array2<f64>,
    y: &[bool],
    all_names: Vec<String>,
    fit: Fitted,
    level: f64,
    z_level: f64,
    scales: &[f64],
    method: Method,
) -> Result<LogisticFit> {
    let Fitted {
        beta,
        eta,
        iterations,
        last_step,
    } = fit;
    let (n, p) = design.dim();
    // Information at the optimum, inverted column by column.
    let (_, h) = score_and_information(design, y, &eta);
    let l = factor(&h).map_err(|_| {
        separation_error(
            &all_names,
            scales,
            &last_step,
            &eta,
            iterations,
            "the information matrix at the optimum is singular",
        )
    })?;
    let ll = log_likelihood(&eta, y);
    let covariance = l.inverse();
    let se: Vec<f64> = (0..p).map(|j| covariance[[j, j]].sqrt()).collect();
    let normal = Normal::standard();
    let z: Vec<f64> = beta.iter().zip(&se).map(|(b, s)| b / s).collect();
    let p_value = z.iter().map(|t| 2.0 * normal.cdf(-t.abs())).collect();
    let n1 = y.iter().filter(|&&c| c).count();
    let (nf, n1f) = (n as f64, n1 as f64);
    let n0f = nf - n1f;
    let null_ll = n1f * (n1f / nf).ln() + n0f * (n0f / nf).ln();
    Ok(LogisticFit {
        names: all_names,
        ci_low: beta.iter().zip(&se).map(|(b, s)| b - z_level * s).collect(),
        ci_high: beta.iter().zip(&se).map(|(b, s)| b + z_level * s).collect(),
        coefficients: beta,
        se,
        z,
        p_value,
        log_likelihood: ll,
        null_log_likelihood: null_ll,
        mcfadden_r2: 1.0 - ll / null_ll,
        iterations,
        n,
        level,
        method,
        covariance,
        penalised_log_likelihood: (method == Method::Firth).then(|| ll + 0.5 * l.log_det()),
    })
}

/// A likelihood-ratio test of nested logistic fits.
#[derive(Debug, Clone, Serialize)]
pub struct LrTest {
    /// 2 (LL_full − LL_reduced).
    pub statistic: f64,
    /// Parameters of the full fit minus those of the reduced one.
    pub df: usize,
    /// P(χ²_df ≥ statistic).
    pub p_value: f64,
}

/// Likelihood-ratio test of `reduced` against `full`: statistic 2(LL_full −
/// LL_reduced), χ² with df = difference in the number of parameters. The fits must
/// be on the same items (same n and the same null log-likelihood, i.e. the same
/// number of correct items) and nested: every name of `reduced` is in `full`, which
/// has more parameters. A statistic below 0 by rounding (≥ −1e-8) is set to 0; a
/// clearly negative one means the fits are not nested and is an error.
pub fn likelihood_ratio(full: &LogisticFit, reduced: &LogisticFit) -> Result<LrTest> {
    let what = "likelihood-ratio test";
    crate::ensure!(
        full.n == reduced.n,
        Error::data(
            what,
            format!(
                "the full fit has {} items, the reduced one {}; both must use the same items",
                full.n, reduced.n
            )
        )
    );
    let ll0 = full.null_log_likelihood;
    if (ll0 - reduced.null_log_likelihood).abs() > 1e-9 * ll0.abs().max(1.0) {
        return Err(Error::data(
            what,
            "the two fits have different outcomes (null log-likelihoods differ)",
        ));
    }
    crate::ensure!(
        full.coefficients.len() > reduced.coefficients.len(),
        Error::data(
            what,
            format!(
                "the full fit has {} parameters, the reduced one {}; the full one needs more",
                full.coefficients.len(),
                reduced.coefficients.len()
            )
        )
    );
    if let Some(missing) = reduced.names.iter().find(|r| !full.names.contains(r)) {
        return Err(Error::data(
            what,
            format!("term {missing:?} of the reduced fit is not in the full fit; the fits are not nested"),
        ));
    }
    // Separately fitted Firth models have penalties of different dimension: not comparable.
    crate::ensure!(
        full.method == Method::MaximumLikelihood && reduced.method == Method::MaximumLikelihood,
        Error::data(what, "Firth fits are tested with firth_likelihood_ratio")
    );
    let df = full.coefficients.len() - reduced.coefficients.len();
    let mut statistic = 2.0 * (full.log_likelihood - reduced.log_likelihood);
    if statistic < -1e-8 {
        return Err(Error::data(
            what,
            format!(
                "the reduced fit has a higher log-likelihood (by {}); the fits are not nested",
                -statistic / 2.0
            ),
        ));
    }
    statistic = statistic.max(0.0);
    let chi = ChiSquared::new(df as f64)
        .map_err(|e| Error::data(what, format!("chi-square with {df} df: {e}")))?;
    Ok(LrTest {
        statistic,
        df,
        p_value: chi.sf(statistic),
    })
}

/// Firth's penalised likelihood-ratio test of the terms `drop` (0-based among the
/// columns of `x`, as fitted in `full`, a Firth fit of the same x and y): the
/// restricted fit sets them to 0 and maximises the penalised likelihood with the
/// penalty of the whole design (Heinze & Schemper 2002, as in logistf), so the
/// statistic 2(LL*_full − LL*_restricted) ≥ 0, ~ χ² with df = the terms dropped.
pub fn firth_likelihood_ratio(
    full: &LogisticFit,
    x: ArrayView2<f64>,
    y: &[bool],
    drop: &[usize],
) -> Result<LrTest> {
    let what = "penalised likelihood-ratio test";
    let (n, k) = x.dim();
    crate::ensure!(
        full.method == Method::Firth && full.n == n && full.coefficients.len() == k + 1,
        Error::data(what, "the full fit must be a Firth fit of the same design")
    );
    crate::ensure!(
        !drop.is_empty() && drop.iter().all(|&d| d < k),
        Error::data(
            what,
            format!("terms to drop {drop:?} must be among the {k} terms")
        )
    );
    let design = with_intercept(x);
    let free: Vec<usize> = (0..=k)
        .filter(|j| *j == 0 || !drop.contains(&(j - 1)))
        .collect();
    let (_, eta, _) = firth_newton(&design, y, &full.names, &free)?;
    let (_, h) = score_and_information(&design, y, &eta);
    let l =
        factor(&h).map_err(|_| Error::data(what, "singular information at the restricted fit"))?;
    let restricted = log_likelihood(&eta, y) + 0.5 * l.log_det();
    let full_pll = full
        .penalised_log_likelihood
        .ok_or_else(|| Error::data(what, "the full fit has no penalised likelihood"))?;
    let statistic = (2.0 * (full_pll - restricted)).max(0.0);
    let df = drop.len();
    let chi = ChiSquared::new(df as f64)
        .map_err(|e| Error::data(what, format!("chi-square with {df} df: {e}")))?;
    Ok(LrTest {
        statistic,
        df,
        p_value: chi.sf(statistic),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|j| format!("x{j}")).collect()
    }

    #[test]
    fn stable_helpers() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert!(softplus(-1000.0) >= 0.0);
        let (mu, w) = sigmoid_and_weight(-800.0);
        assert!(mu >= 0.0 && w >= 0.0 && mu.is_finite());
    }

    #[test]
    fn standardise_uses_n_minus_1() {
        let (z, m, s) = standardise(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((m, s), (2.0, 1.0));
        assert_eq!(z, vec![-1.0, 0.0, 1.0]);
        assert!(standardise(&[2.0, 2.0]).is_err());
        assert!(standardise(&[2.0, f64::INFINITY]).is_err());
    }

    #[test]
    fn intercept_only_style_fit_matches_closed_form() {
        // One balanced term: y does not depend on x → β₁ = 0 exactly by symmetry and
        // β₀ = logit(6/10).
        let x: Vec<f64> = [-1.0, 1.0].repeat(10);
        let y: Vec<bool> = (0..20).map(|i| (i / 2) % 5 < 3).collect();
        let xm = Array2::from_shape_vec((20, 1), x).unwrap();
        let fit = fit_logistic(xm.view(), &y, &names(1), 0.95).unwrap();
        assert!((fit.coefficients[0] - (0.6f64 / 0.4).ln()).abs() < 1e-12);
        assert!(fit.coefficients[1].abs() < 1e-12);
        assert!(fit.mcfadden_r2.abs() < 1e-12);
    }

    #[test]
    fn errors() {
        let x = Array2::from_shape_vec((10, 1), (0..10).map(f64::from).collect()).unwrap();
        let all_true = vec![true; 10];
        assert!(fit_logistic(x.view(), &all_true, &names(1), 0.95).is_err());
        let y: Vec<bool> = (0..10).map(|i| i % 3 == 0).collect();
        assert!(fit_logistic(x.view(), &y[..9], &names(1), 0.95).is_err());
        assert!(fit_logistic(x.view(), &y, &names(2), 0.95).is_err());
        assert!(fit_logistic(x.view(), &y, &names(1), 1.5).is_err());
        let few = Array2::from_shape_vec((6, 1), (0..6).map(f64::from).collect()).unwrap();
        let e = fit_logistic(few.view(), &y[..6], &names(1), 0.95).unwrap_err();
        assert!(matches!(e, Error::TooFewRows { .. }), "{e}");
    }
}
