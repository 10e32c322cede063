"""A SIMULATED results file in the layout of a real term→ID normalisation run, for
trying `lexalign outcome` without a model: correctness is drawn from a known
logistic model of the items' own lexicalisation and popularity,

    logit P(correct) = b0 + b_pop · z(log(1 + popularity)) + b_lex · z(lexicalization)

(defaults −1, 1.5, 0.8), so `lexalign outcome` should recover those coefficients
within their CIs. Wrong answers are another item's id. Output columns:
hpo_id, hpo_term, pmc_term_hits, hpo_annotation_count, predicted_hpo_id, pmatch
(pmc_term_hits is a noisy second popularity proxy). numpy only.

With --finetune, pmatch is the base model's correctness and three columns describe a
fine-tuned version of it, from the items table's `split`:
    before, after (0/1) and category (c kept, i never, g gained, l lost);
an item right before is forgotten with P 0.05; an item wrong before is learned with
    logit P(learned) = a + l · z(lexicalization) + p · z(log(1 + popularity)),
z over the items wrong before, (a, l, p) = (0.5, 0, 1.2) on `train` items (memorised
by popularity) and (−1.5, 1.0, 0) on `withheld` items (generalised by lexicalisation).

usage: simulate_results.py ITEMS.csv OUT.csv [--seed S] [--b0 B] [--b-pop B] [--b-lex B] [--finetune]
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
    ap.add_argument("--finetune", action="store_true")
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
    wrong = [ids[(i + 1 + rng.integers(len(ids) - 1)) % len(ids)] for i in range(len(rows))]
    header = ["hpo_id", "hpo_term", "pmc_term_hits", "hpo_annotation_count", "predicted_hpo_id", "pmatch"]
    extra = [[] for _ in rows]
    if a.finetune:
        after = correct.copy()
        wb = ~correct
        zw = lambda x: (x - x[wb].mean()) / x[wb].std(ddof=1)
        zl, zp = zw(lex), zw(pop)
        training = np.array([r.get("split", "") in ("train", "training") for r in rows])
        eta = np.where(training, 0.5 + 1.2 * zp, -1.5 + 1.0 * zl)
        u = rng.random(len(rows))
        after = np.where(correct, u >= 0.05, u < 1 / (1 + np.exp(-eta)))
        cat = {(True, True): "c", (False, False): "i", (False, True): "g", (True, False): "l"}
        header += ["before", "after", "category"]
        extra = [[int(correct[i]), int(after[i]), cat[(bool(correct[i]), bool(after[i]))]] for i in range(len(rows))]
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, r in enumerate(rows):
            w.writerow([r["id"], r["left"], hits[i], int(float(r["popularity"])), r["id"] if correct[i] else wrong[i], int(correct[i])] + extra[i])
    print(f"wrote {a.out}: {len(rows)} simulated answers, accuracy {correct.mean():.3f}"
          + (f", after fine-tuning {np.mean(after):.3f}" if a.finetune else ""))


if __name__ == "__main__":
    main()
