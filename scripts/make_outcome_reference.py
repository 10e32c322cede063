#!/usr/bin/env python3
"""Reference fixture for tests/outcome_reference.rs (src/outcome/).

Simulates a results-like table of 1,200 items, each with predictors a model's
per-item correctness is joined with, and correctness drawn from a known logistic
model. Computes, with numpy only and independently of the Rust code:
  - exact AUCs (Mann-Whitney U on average ranks, checked against an O(n1*n0) pair count),
  - the Spearman matrix of the predictors (average ranks),
  - a logistic regression by IRLS on standardised predictors (coefficients, SE from
    the inverse information matrix, Wald z, LL, LL0, McFadden R^2),
  - the likelihood-ratio statistic of (log_popularity, lexicalization) against
    log_popularity alone.
Writes tests/fixtures/outcome_reference.json. Run from the repository root:
    .venv/bin/python scripts/make_outcome_reference.py
"""
import json
import math

import numpy as np

SEED = 20240611
N = 1200
TRUE_BETA = [-1.0, 1.5, 0.8]  # intercept, z(log1p popularity), z(lexicalization)
OUT = "tests/fixtures/outcome_reference.json"


def zscore(x):
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / x.std(ddof=1)


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def simulate(rng):
    latent = rng.standard_normal(N)
    # Popularity: heavy-tailed counts (Poisson with a log-normal mean; many small, a few huge).
    popularity = rng.poisson(np.exp(1.5 + 1.8 * latent)).astype(np.int64)
    # Lexicalisation in (0, 1), mildly correlated with popularity through `latent`.
    lexicalization = sigmoid(0.5 * latent + rng.standard_normal(N))
    # Integer token counts: many ties; longer names slightly less lexicalised.
    token_count = 1 + rng.poisson(np.exp(0.9 - 0.6 * (lexicalization - 0.5)))
    # A retrieval rank (lower is better) that follows lexicalisation: ties too.
    retrieval_rank = 1 + rng.poisson(40.0 * (1.0 - lexicalization) ** 2)
    eta = (TRUE_BETA[0] + TRUE_BETA[1] * zscore(np.log1p(popularity))
           + TRUE_BETA[2] * zscore(lexicalization))
    correct = rng.random(N) < sigmoid(eta)
    return popularity, lexicalization, token_count, retrieval_rank, correct


def average_ranks(x):
    """1-based ranks; ties get the mean of the ranks they span (via np.unique)."""
    x = np.asarray(x, dtype=np.float64)
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    below = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (below + (counts + 1) / 2.0)[inverse]


def auc_mann_whitney(values, correct):
    ranks = average_ranks(values)
    n1 = int(correct.sum())
    n0 = len(values) - n1
    u = ranks[correct].sum() - n1 * (n1 + 1) / 2.0
    return u / (n1 * n0)


def auc_pairs(values, correct):
    pos = np.asarray(values)[correct][:, None]
    neg = np.asarray(values)[~correct][None, :]
    wins = np.sum(pos > neg)
    ties = np.sum(pos == neg)
    return (wins + 0.5 * ties) / (pos.size * neg.size)


def spearman_matrix(columns):
    ranks = np.array([average_ranks(c) for c in columns])
    return np.corrcoef(ranks)


def irls(x, y, tol=1e-13, max_iter=100):
    """Newton-Raphson for the logistic log-likelihood; x has the intercept column."""
    beta = np.zeros(x.shape[1])
    for it in range(1, max_iter + 1):
        mu = sigmoid(x @ beta)
        w = mu * (1.0 - mu)
        info = x.T @ (w[:, None] * x)
        step = np.linalg.solve(info, x.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    eta = x @ beta
    mu = sigmoid(eta)
    w = mu * (1.0 - mu)
    cov = np.linalg.inv(x.T @ (w[:, None] * x))
    se = np.sqrt(np.diag(cov))
    ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    n1 = y.sum()
    n = len(y)
    ll0 = float(n1 * math.log(n1 / n) + (n - n1) * math.log((n - n1) / n))
    z = beta / se
    return {
        "coefficients": beta.tolist(),
        "se": se.tolist(),
        "z": z.tolist(),
        "p_value": [math.erfc(abs(t) / math.sqrt(2.0)) for t in z],
        "log_likelihood": ll,
        "null_log_likelihood": ll0,
        "mcfadden_r2": 1.0 - ll / ll0,
        "iterations": it,
    }


def main():
    rng = np.random.default_rng(SEED)
    popularity, lexicalization, token_count, retrieval_rank, correct = simulate(rng)
    log_popularity = np.log1p(popularity)
    y = correct.astype(np.float64)

    predictors = {
        "log_popularity": log_popularity,
        "lexicalization": lexicalization,
        "token_count": token_count.astype(np.float64),
        "retrieval_rank": retrieval_rank.astype(np.float64),
    }
    aucs = {}
    for name, v in predictors.items():
        a = auc_mann_whitney(v, correct)
        b = auc_pairs(v, correct)
        assert abs(a - b) < 1e-12, (name, a, b)
        aucs[name] = float(a)

    z_pop = zscore(log_popularity)
    z_lex = zscore(lexicalization)
    ones = np.ones(N)
    full = irls(np.column_stack([ones, z_pop, z_lex]), y)
    reduced = irls(np.column_stack([ones, z_pop]), y)
    lr = 2.0 * (full["log_likelihood"] - reduced["log_likelihood"])

    reference = {
        "seed": SEED,
        "true_coefficients": TRUE_BETA,
        "inputs": {
            "popularity": popularity.tolist(),
            "lexicalization": lexicalization.tolist(),
            "token_count": token_count.tolist(),
            "retrieval_rank": retrieval_rank.tolist(),
            "correct": correct.astype(int).tolist(),
        },
        "standardisation": {
            "log_popularity": [float(log_popularity.mean()), float(log_popularity.std(ddof=1))],
            "lexicalization": [float(lexicalization.mean()), float(lexicalization.std(ddof=1))],
        },
        "n_correct": int(correct.sum()),
        "auc": aucs,
        "spearman_order": list(predictors),
        "spearman": spearman_matrix(list(predictors.values())).tolist(),
        "logistic_full": dict(names=["intercept", "log_popularity", "lexicalization"], **full),
        "logistic_reduced": dict(names=["intercept", "log_popularity"], **reduced),
        "lr_statistic": lr,
        # chi-square with 1 df: P(X >= s) = erfc(sqrt(s / 2))
        "lr_p_value": math.erfc(math.sqrt(lr / 2.0)),
    }
    with open(OUT, "w") as f:
        json.dump(reference, f, separators=(",", ":"))
        f.write("\n")
    print(f"{OUT}: {N} items, {int(correct.sum())} correct; AUCs {aucs}; "
          f"beta {np.round(full['coefficients'], 3).tolist()}; LR {lr:.3f}")


if __name__ == "__main__":
    main()
