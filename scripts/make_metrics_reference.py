#!/usr/bin/env python3
"""Reference fixtures for tests/integration/metrics_known.rs and tests/integration/pca_exact.rs.

Computed with numpy only, by the plain definitions (O(n^2) pair counts, SVD),
independently of the Rust code. Run from the repository root:
    .venv/bin/python scripts/make_metrics_reference.py
"""
import json
import numpy as np

TIE_TOL = 1e-6


def avg_ranks(x):
    x = np.asarray(x, dtype=np.float64)
    ranks = np.empty(len(x))
    for v in np.unique(x):
        idx = np.where(x == v)[0]
        below = np.sum(x < v)
        ranks[idx] = below + (len(idx) + 1) / 2.0
    return ranks


def spearman(x, y):
    rx, ry = avg_ranks(x), avg_ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def auc_pairs(pos, neg):
    pos = np.asarray(pos)[:, None]
    neg = np.asarray(neg)[None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def cohens_d(a, b):
    na, nb = len(a), len(b)
    sp = np.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2))
    return float((np.mean(a) - np.mean(b)) / sp)


def unit(x, centred):
    x = x.astype(np.float64)
    if centred:
        x = x - x.mean(axis=0)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / n


def ranks_of(sims):
    """rank of the diagonal entry in each row among that row, ties (|diff|<=tol) averaged."""
    n = sims.shape[0]
    out = []
    for i in range(n):
        own = sims[i, i]
        other = np.delete(sims[i], i)
        greater = np.sum(other > own + TIE_TOL)
        ties = np.sum(np.abs(other - own) <= TIE_TOL)
        out.append(1.0 + greater + 0.5 * ties)
    return out


def direction(ranks):
    r = np.asarray(ranks)
    return {"ranks": list(map(float, r)), "top1": float(np.mean(r <= 1)), "top10": float(np.mean(r <= 10)),
            "mrr": float(np.mean(1 / r))}


def metrics_case(seed, n, d, noise):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    rot, _ = np.linalg.qr(rng.standard_normal((d, d)))
    offset_l = 3 * rng.standard_normal(d)
    offset_r = 3 * rng.standard_normal(d)
    left = (z + offset_l + noise * rng.standard_normal((n, d))).astype(np.float32)
    right = (z @ rot + offset_r + noise * rng.standard_normal((n, d))).astype(np.float32)
    # coarse values for Spearman with ties
    pop = np.round(rng.standard_normal(n) * 2).astype(np.float64)
    case = {"seed": seed, "n": n, "d": d,
            "left": left.astype(np.float64).tolist(), "right": right.astype(np.float64).tolist(),
            "popularity": pop.tolist()}
    for centred in (False, True):
        l, r = unit(left, centred), unit(right, centred)
        s = l @ r.T
        matched = np.diag(s)
        null = s[~np.eye(n, dtype=bool)]
        key = "centred" if centred else "raw"
        case[key] = {
            "matched": matched.tolist(), "matched_mean": float(matched.mean()), "null_mean": float(null.mean()),
            "gap": float(matched.mean() - null.mean()), "cohens_d": cohens_d(matched, null),
            "auc": auc_pairs(matched, null),
            "left_to_right": direction(ranks_of(s)), "right_to_left": direction(ranks_of(s.T)),
        }
    r2l = np.asarray(case["centred"]["right_to_left"]["ranks"])
    lex = 1 - (r2l - 1) / (n - 1)
    case["lexicalisation"] = lex.tolist()
    case["lexicalisation_mean"] = float(lex.mean())
    case["spearman_popularity_lexicalisation"] = spearman(pop, lex)
    return case


def lcg_data(n, d, seed):
    """Integer-exact structured data, reproduced bit for bit by the Rust test."""
    mask = (1 << 64) - 1
    state = seed

    def draw(m):
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        return (state >> 33) % m

    scales = [24, 20, 16, 14, 12, 10, 8, 6, 5, 4]
    r = len(scales)
    z = np.array([[draw(101) - 50 for _ in range(r)] for _ in range(n)], dtype=np.float64)
    w = np.array([[draw(11) - 5 for _ in range(d)] for _ in range(r)], dtype=np.float64)
    e = np.array([[draw(41) - 20 for _ in range(d)] for _ in range(n)], dtype=np.float64)
    x = (z * np.array(scales, dtype=np.float64)) @ w + e
    return (x / 64.0).astype(np.float32)


def pca_case(n, d, seed, k=10):
    x = lcg_data(n, d, seed).astype(np.float64)
    xc = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    vt = vt[:k]
    for j in range(k):
        if vt[j, np.argmax(np.abs(vt[j]))] < 0:
            vt[j] = -vt[j]
    var = s ** 2 / (n - 1)
    total = float(np.sum(xc ** 2) / (n - 1))
    proj = xc[:5] @ vt.T
    return {"n": n, "d": d, "seed": seed, "components": vt.tolist(), "singular_values": s[:k].tolist(),
            "explained_variance": var[:k].tolist(), "explained_variance_ratio": (var[:k] / total).tolist(),
            "total_variance": total, "projection_first5": proj.tolist(),
            "x_checksum": float(x.sum())}


if __name__ == "__main__":
    # hand-checkable Spearman with ties
    small = {"x": [1, 2, 2, 3, 5, 5, 5, 0], "y": [2, 1, 4, 4, 3, 9, 9, 1]}
    small["spearman"] = spearman(small["x"], small["y"])
    metrics = {"tie_tolerance": TIE_TOL, "spearman_small": small,
               "cases": [metrics_case(7, 60, 16, 1.0), metrics_case(11, 150, 24, 3.0)]}
    with open("tests/fixtures/metrics_reference.json", "w") as f:
        json.dump(metrics, f)
    pca = {"cases": [pca_case(500, 384, 1), pca_case(2000, 384, 2), pca_case(120, 384, 3)]}
    with open("tests/fixtures/pca_reference.json", "w") as f:
        json.dump(pca, f)
    print("wrote tests/fixtures/metrics_reference.json and pca_reference.json")
