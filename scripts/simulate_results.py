"""A SIMULATED results file in the layout of a real term→ID normalisation run, for
trying `lexalign outcome` without a model: correctness is drawn from a known
logistic model of the items' own lexicalisation and popularity,

    logit P(correct) = b0 + b_pop · z(log(1 + popularity)) + b_lex · z(lexicalization)

(defaults −1, 1.5, 0.8), so `lexalign outcome` should recover those coefficients
within their CIs. Wrong answers are another item's id. Output columns:
hpo_id, hpo_term, pmc_term_hits, hpo_annotation_count, predicted_hpo_id, pmatch
(pmc_term_hits is a noisy second popularity proxy). numpy only.

usage: simulate_results.py ITEMS.csv OUT.csv [--seed S] [--b0 B] [--b-pop B] [--b-lex B]
"""
import argparse
import csv
import math

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("items")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--b0", type=float, default=-1.0)
    ap.add_argument("--b-pop", type=float, default=1.5)
    ap.add_argument("--b-lex", type=float, default=0.8)
    a = ap.parse_args()
    rows = [r for r in csv.DictReader(open(a.items, newline="")) if r["lexicalization"] and r["popularity"]]
    if not rows:
        raise SystemExit(f"{a.items}: no rows with both lexicalization and popularity")
    pop = np.array([math.log1p(float(r["popularity"])) for r in rows])
    lex = np.array([float(r["lexicalization"]) for r in rows])
    z = lambda x: (x - x.mean()) / x.std(ddof=1)
    eta = a.b0 + a.b_pop * z(pop) + a.b_lex * z(lex)
    rng = np.random.default_rng(a.seed)
    correct = rng.random(len(rows)) < 1 / (1 + np.exp(-eta))
    hits = np.round(np.expm1(pop) * rng.lognormal(0.0, 1.0, len(rows)) * 3).astype(int)
    ids = [r["id"] for r in rows]
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["hpo_id", "hpo_term", "pmc_term_hits", "hpo_annotation_count", "predicted_hpo_id", "pmatch"])
        for i, r in enumerate(rows):
            wrong = ids[(i + 1 + rng.integers(len(ids) - 1)) % len(ids)]
            w.writerow([r["id"], r["left"], hits[i], int(float(r["popularity"])), r["id"] if correct[i] else wrong, int(correct[i])])
    print(f"wrote {a.out}: {len(rows)} simulated answers, accuracy {correct.mean():.3f}")


if __name__ == "__main__":
    main()
