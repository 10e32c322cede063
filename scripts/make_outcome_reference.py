#!/usr/bin/env python3
"""Reference fixture for tests/integration/outcome_reference.rs (src/outcome/).

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

Also writes tests/fixtures/outcome_predictive_reference.json (its own seed), again with
numpy only:
  - Firth's penalised logistic regression (modified score, Heinze & Schemper 2002) on
    hand-checkable cases (intercept only: p = (k + 1/2)/(n + 1); one binary term: the
    2x2 log odds ratio with 1/2 added to each cell, finite under complete separation),
    on a completely separated continuous case, and on a few-events sample;
  - k-fold cross-validated AUCs for given folds (logistic model refitted per fold; a single
    predictor oriented by its training-fold AUC);
  - task fixed effects: the LR test of lexicalisation given task indicators, the LR test of
    the indicators, and the Mundlak within/between coefficients with the Wald test of their
    difference, on four simulated tasks whose mean lexicalisation differs;
  - Newcombe's paired interval (method 10) of an accuracy gain on 2x2 tables.
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


# ---------------------------------------------------------------------------------------
# Predictive framework reference (outcome_predictive_reference.json)

PRED_OUT = "tests/fixtures/outcome_predictive_reference.json"
PRED_SEED = 20261207


def firth(x, y, tol=1e-12, max_iter=200, free=None):
    """Firth logistic regression: Newton steps on the modified score
    U*(b) = X'(y - mu + h (1/2 - mu)), h = diag(W^1/2 X (X'WX)^-1 X' W^1/2), with step
    halving on the penalised log-likelihood l(b) + 1/2 log det(X'WX). With `free`, only
    those coefficients move (the others stay 0; the penalty keeps the whole X): the
    restricted fit of the penalised likelihood-ratio test (as in logistf)."""
    free = list(range(x.shape[1])) if free is None else free
    def pen(b):
        eta = x @ b
        mu = sigmoid(eta)
        info = x.T @ ((mu * (1 - mu))[:, None] * x)
        sign, logdet = np.linalg.slogdet(info)
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)) + 0.5 * logdet)

    b = np.zeros(x.shape[1])
    cur = pen(b)
    for it in range(1, max_iter + 1):
        mu = sigmoid(x @ b)
        w = mu * (1 - mu)
        info = x.T @ (w[:, None] * x)
        inv = np.linalg.inv(info)
        h = w * np.einsum("ij,jk,ik->i", x, inv, x)
        ustar = x.T @ (y - mu + h * (0.5 - mu))
        step = np.zeros_like(b)
        step[free] = np.linalg.solve(info[np.ix_(free, free)], ustar[free])
        t = 1.0
        while pen(b + t * step) < cur - 1e-12 * (1 + abs(cur)) and t > 1e-9:
            t /= 2
        b = b + t * step
        cur = pen(b)
        if np.max(np.abs(t * step)) < tol:
            break
    mu = sigmoid(x @ b)
    cov = np.linalg.inv(x.T @ ((mu * (1 - mu))[:, None] * x))
    eta = x @ b
    return {
        "coefficients": b.tolist(),
        "se": np.sqrt(np.diag(cov)).tolist(),
        "log_likelihood": float(np.sum(y * eta - np.logaddexp(0.0, eta))),
        "penalised_log_likelihood": cur,
    }


def auc_simple(scores, y):
    return auc_pairs(np.asarray(scores), np.asarray(y, dtype=bool))


def cv_logistic(x, y, folds, k):
    out = []
    for f in range(k):
        tr, te = folds != f, folds == f
        b = np.array(irls(x[tr], y[tr])["coefficients"])
        out.append(auc_simple(x[te] @ b, y[te] == 1))
    return out


def cv_single(v, y, folds, k):
    out = []
    for f in range(k):
        tr, te = folds != f, folds == f
        sign = 1.0 if auc_simple(v[tr], y[tr] == 1) >= 0.5 else -1.0
        out.append(auc_simple(sign * v[te], y[te] == 1))
    return out


def wilson_np(k, n, z=1.959963984540054):
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z / d * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return p, (0.0 if k == 0 else max(c - h, 0.0)), (1.0 if k == n else min(c + h, 1.0))


def newcombe10(kept, lost, gained, never):
    n = kept + lost + gained + never
    pb, lb, ub = wilson_np(kept + lost, n)
    pa, la, ua = wilson_np(kept + gained, n)
    a, b, c, d = kept, lost, gained, never
    m = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(m) if m > 0 else 0.0
    dl = math.sqrt(max((pa - la) ** 2 - 2 * phi * (pa - la) * (ub - pb) + (ub - pb) ** 2, 0))
    du = math.sqrt(max((ua - pa) ** 2 - 2 * phi * (ua - pa) * (pb - lb) + (pb - lb) ** 2, 0))
    est = pa - pb
    return [est, max(est - dl, -1.0), min(est + du, 1.0)]


def predictive():
    rng = np.random.default_rng(PRED_SEED)
    ref = {"seed": PRED_SEED}

    # Firth, hand-checkable cases.
    y = np.array([1] * 3 + [0] * 17, dtype=float)
    ref["firth_intercept"] = {"y": y.astype(int).tolist(), "fit": firth(np.ones((20, 1)), y),
                              "closed_form": math.log(3.5 / 17.5)}
    # 2x2: x = 1 for 12 items (7 correct), 0 for 10 (0 correct: separation in one cell).
    x = np.array([1] * 12 + [0] * 10, dtype=float)
    y = np.array([1] * 7 + [0] * 5 + [0] * 10, dtype=float)
    a, b, c, d = 7, 5, 0, 10  # x=1: y=1, y=0; x=0: y=1, y=0
    ref["firth_2x2"] = {"x": x.tolist(), "y": y.astype(int).tolist(),
                        "fit": firth(np.column_stack([np.ones(22), x]), y),
                        "closed_form_slope": math.log((a + .5) * (d + .5) / ((b + .5) * (c + .5))),
                        "closed_form_intercept": math.log((c + .5) / (d + .5))}
    # Complete separation on a continuous term: ML diverges, Firth is finite.
    x = np.linspace(-2, 2, 16)
    y = (x > 0.1).astype(float)
    ref["firth_separated"] = {"x": x.tolist(), "y": y.astype(int).tolist(),
                              "fit": firth(np.column_stack([np.ones(16), x]), y)}
    # Few events: 40 items, about 6 correct, two terms.
    x1, x2 = rng.standard_normal(40), rng.standard_normal(40)
    y = (rng.random(40) < sigmoid(-2.2 + 1.0 * x1 + 0.5 * x2)).astype(float)
    xf = np.column_stack([np.ones(40), x1, x2])
    full = firth(xf, y)
    ref["firth_few"] = {"x1": x1.tolist(), "x2": x2.tolist(), "y": y.astype(int).tolist(),
                        "fit": full, "ml": irls(xf, y),
                        # penalised LR statistics of dropping x2, and both terms
                        "lr_drop_x2": 2 * (full["penalised_log_likelihood"]
                                           - firth(xf, y, free=[0, 1])["penalised_log_likelihood"]),
                        "lr_drop_both": 2 * (full["penalised_log_likelihood"]
                                             - firth(xf, y, free=[0])["penalised_log_likelihood"])}

    # Cross-validation with given folds (round-robin within each class, in input order).
    n = 300
    v1, v2 = rng.standard_normal(n), rng.standard_normal(n)
    y = (rng.random(n) < sigmoid(-0.3 + 1.2 * v1 - 0.6 * v2)).astype(float)
    k = 5
    folds = np.zeros(n, dtype=int)
    nxt = 0
    for cls in (1.0, 0.0):
        for i in np.flatnonzero(y == cls):
            folds[i] = nxt % k
            nxt += 1
    xcv = np.column_stack([np.ones(n), v1, v2])
    ref["cv"] = {"v1": v1.tolist(), "v2": v2.tolist(), "y": y.astype(int).tolist(),
                 "folds": folds.tolist(), "k": k,
                 "model_fold_auc": cv_logistic(xcv, y, folds, k),
                 "v1_fold_auc": cv_single(v1, y, folds, k),
                 "v2_fold_auc": cv_single(v2, y, folds, k)}

    # Four tasks: lexicalisation differs between tasks; the within-task effect is smaller.
    tasks = ["go", "hgnc", "hpo", "symbols"]
    base_lex = [0.50, 0.55, 0.52, 0.95]
    base_eta = [-2.5, -1.0, -2.0, 2.0]
    rows = []
    for t, bl, be in zip(tasks, base_lex, base_eta):
        m = 150
        lex = bl + 0.05 * rng.standard_normal(m)
        pop = rng.poisson(np.exp(1.0 + rng.standard_normal(m)))
        eta = be + 10.0 * (lex - bl) + 0.4 * (np.log1p(pop) - 1.0)
        yy = rng.random(m) < sigmoid(eta)
        for i in range(m):
            rows.append((t, float(lex[i]), int(pop[i]), int(yy[i])))
    task = np.array([r[0] for r in rows])
    lex = np.array([r[1] for r in rows])
    pop = np.log1p(np.array([r[2] for r in rows], dtype=float))
    y = np.array([r[3] for r in rows], dtype=float)
    zl, zp = zscore(lex), zscore(pop)
    ind = np.column_stack([(task == t).astype(float) for t in tasks[1:]])
    ones = np.ones(len(y))
    fe = irls(np.column_stack([ones, zp, zl, ind]), y)
    fe_nolex = irls(np.column_stack([ones, zp, ind]), y)
    no_ind = irls(np.column_stack([ones, zp, zl]), y)
    means = {t: zl[task == t].mean() for t in tasks}
    between = np.array([means[t] for t in task])
    within = zl - between
    xm = np.column_stack([ones, zp, within, between])
    mund = irls(xm, y)
    bm = np.array(mund["coefficients"])
    mu = sigmoid(xm @ bm)
    cov = np.linalg.inv(xm.T @ ((mu * (1 - mu))[:, None] * xm))
    diff = bm[3] - bm[2]
    se = math.sqrt(cov[2, 2] + cov[3, 3] - 2 * cov[2, 3])
    ref["tasks"] = {
        "task": task.tolist(), "lexicalization": lex.tolist(), "popularity": [r[2] for r in rows],
        "correct": y.astype(int).tolist(), "levels": tasks,
        "fe": fe, "pooled": no_ind,
        "within_lr": 2 * (fe["log_likelihood"] - fe_nolex["log_likelihood"]),
        "groups_lr": 2 * (fe["log_likelihood"] - no_ind["log_likelihood"]),
        "mundlak": mund, "difference": diff, "difference_se": se,
    }

    ref["newcombe"] = [{"table": list(t), "interval": newcombe10(*t)}
                       for t in [(40, 5, 30, 25), (10, 0, 0, 10), (0, 3, 12, 5), (50, 10, 10, 30),
                                 (7, 1, 22, 70)]]
    with open(PRED_OUT, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    print(f"{PRED_OUT}: firth 2x2 slope {ref['firth_2x2']['fit']['coefficients'][1]:.6f} "
          f"(closed form {ref['firth_2x2']['closed_form_slope']:.6f}); within LR {ref['tasks']['within_lr']:.3f}")


if __name__ == "__main__":
    main()
    predictive()
