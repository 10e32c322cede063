//! `outcome.md`: the join, accuracy, predictor AUCs, the logistic fit and the
//! figures, each with a sentence read from the numbers.

use std::fmt::Write as _;

use super::{Outcome, OutcomeResult};

fn f3(x: f64) -> String {
    format!("{x:.3}")
}

fn p(x: f64) -> String {
    if x < 0.001 {
        format!("{x:.1e}")
    } else {
        format!("{x:.3}")
    }
}

pub(super) fn render(o: &Outcome, tables: &[String], figures: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Does lexicalisation predict the model's errors?\n");
    let _ = writeln!(s, "_{}_\n", o.provenance.caption());
    overview(&mut s, o);
    for (r, table) in o.results.iter().zip(tables) {
        run(&mut s, r, table);
    }
    let _ = writeln!(s, "## Figures\n");
    for f in figures {
        let _ = writeln!(s, "### {f}\n\n![{f}](figures/{f}.png)\n");
    }
    let _ = writeln!(
        s,
        "AUC: P(a correct item's value > a wrong item's) + ½ P(tie), percentile-bootstrap CI, two-sided permutation p-value. Logistic terms are z-scored. Formulas: docs/METRICS.md, \"Outcome statistics\"."
    );
    s
}

fn run(s: &mut String, r: &OutcomeResult, table: &str) {
    let j = &r.join;
    let _ = writeln!(s, "## {}\n", r.name);
    let _ = writeln!(
        s,
        "Joined {} of {} results rows with {} items (per-item table: `{table}`). Only in the items: {}{}. Only in the results: {}{}. Empty answers: {}. Items the report left out (identical pairs, no predictors): {}.\n",
        j.matched,
        j.results,
        j.items,
        j.only_in_items,
        first(&j.only_in_items_first),
        j.only_in_results,
        first(&j.only_in_results_first),
        j.empty_answers,
        j.excluded_in_items
    );
    let _ = writeln!(
        s,
        "**Accuracy {} [{}, {}]** ({} of {} correct).\n",
        f3(r.accuracy),
        f3(r.accuracy_ci[0]),
        f3(r.accuracy_ci[1]),
        r.n_correct,
        r.n
    );
    let _ = writeln!(
        s,
        "| predictor | n | AUC [95% CI] | permutation p |\n|---|---:|---|---:|"
    );
    for name in &r.predictor_order {
        let e = &r.predictors[name];
        match (e.auc, e.auc_ci, e.p_value) {
            (Some(a), Some(ci), Some(pv)) => {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {} [{}, {}] | {} |",
                    e.n,
                    f3(a),
                    f3(ci[0]),
                    f3(ci[1]),
                    p(pv)
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "| {name} | {} | not computed: {} | |",
                    e.n,
                    e.skipped.as_deref().unwrap_or("")
                );
            }
        }
    }
    let _ = writeln!(s);
    match (&r.logistic, &r.logistic_skipped) {
        (Some(l), _) => {
            let _ = writeln!(
                s,
                "Logistic regression of correctness on {} (z-scored; n = {}): McFadden R² = {}.\n",
                l.terms.join(" + "),
                l.n,
                f3(l.mcfadden_r2)
            );
            let _ = writeln!(
                s,
                "| term | coefficient [95% CI] | SE | p |\n|---|---|---:|---:|"
            );
            let names = std::iter::once("intercept".to_string()).chain(l.terms.iter().cloned());
            for t in names {
                let _ = writeln!(
                    s,
                    "| {t} | {} [{}, {}] | {} | {} |",
                    f3(l.coefficients[&t]),
                    f3(l.ci[&t][0]),
                    f3(l.ci[&t][1]),
                    f3(l.se[&t]),
                    p(l.p_value[&t])
                );
            }
            if let Some(lr) = &l.lr_test {
                let _ = writeln!(
                    s,
                    "\nLikelihood-ratio test of {} given the other terms: χ² = {} (df {}), p = {}.",
                    lr.dropped,
                    f3(lr.statistic),
                    lr.df,
                    p(lr.p_value)
                );
            }
            let _ = writeln!(s);
        }
        (None, Some(why)) => {
            let _ = writeln!(s, "Logistic regression not fitted: {why}.\n");
        }
        (None, None) => {}
    }
    if !r.groups.is_empty() {
        let _ = writeln!(
            s,
            "| group | n | accuracy [95% CI] | AUC lexicalisation |\n|---|---:|---|---:|"
        );
        for (g, x) in &r.groups {
            let lex = x
                .predictors
                .get("lexicalization")
                .and_then(|e| e.auc)
                .map_or("–".to_string(), f3);
            let _ = writeln!(
                s,
                "| {g} | {} | {} [{}, {}] | {lex} |",
                x.n,
                f3(x.accuracy),
                f3(x.accuracy_ci[0]),
                f3(x.accuracy_ci[1])
            );
        }
        let _ = writeln!(s);
    }
}

/// One row per results file: accuracy beside the items' lexicalisation.
fn overview(s: &mut String, o: &Outcome) {
    let _ = writeln!(
        s,
        "| results | n | accuracy [95% CI] | mean lexicalisation of the items | AUC of lexicalisation for a correct answer [95% CI] |\n|---|---:|---|---:|---|"
    );
    for r in &o.results {
        let lex = r.lexicalization_mean.map_or("–".to_string(), f3);
        let auc = r
            .predictors
            .get("lexicalization")
            .and_then(|e| {
                Some(format!(
                    "{} [{}, {}]",
                    f3(e.auc?),
                    f3(e.auc_ci?[0]),
                    f3(e.auc_ci?[1])
                ))
            })
            .unwrap_or_else(|| "not computed".into());
        let _ = writeln!(
            s,
            "| {} | {} | {} [{}, {}] | {lex} | {auc} |",
            r.name,
            r.n,
            f3(r.accuracy),
            f3(r.accuracy_ci[0]),
            f3(r.accuracy_ci[1])
        );
    }
    let _ = writeln!(s);
}

fn first(ids: &[String]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!(" (e.g. {})", ids.join(", "))
    }
}
