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
    let _ = writeln!(
        s,
        "# Do lexicalisation and popularity predict which items the model answers correctly?\n"
    );
    let _ = writeln!(s, "_{}_\n", o.provenance.caption());
    overview(&mut s, o);
    for (r, table) in o.results.iter().zip(tables) {
        run(&mut s, r, table);
    }
    if let Some(ft) = &o.finetune {
        finetune(&mut s, ft);
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

/// One results file: the join, accuracy, predictors, the logistic fit, transfer,
/// within vs between groups, accuracy by decile and the groups.
fn run(s: &mut String, r: &OutcomeResult, table: &str) {
    join_and_accuracy(s, r, table);
    let _ = writeln!(
        s,
        "| predictor | n | AUC [95% CI] | permutation p | cross-validated AUC |\n|---|---:|---|---:|---|"
    );
    predictor_rows(s, &r.predictor_order, &r.predictors);
    let _ = writeln!(s);
    logistic(s, &r.logistic, &r.logistic_skipped, "correctness");
    if let Some(t) = &r.transfer {
        transfer(s, t);
    }
    if let Some(w) = &r.within_between {
        within_between(s, w);
    } else if let Some(why) = &r.within_between_skipped {
        let _ = writeln!(
            s,
            "Lexicalisation within vs between groups: not computed: {why}.\n"
        );
    }
    if !r.by_lexicalization_decile.is_empty() {
        by_decile(s, r);
    }
    groups(s, r);
}

/// What joined, and the accuracy.
fn join_and_accuracy(s: &mut String, r: &OutcomeResult, table: &str) {
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
}

/// The model fitted on another results file, scoring these items.
fn transfer(s: &mut String, t: &crate::outcome::Transfer) {
    match (t.auc, t.auc_ci) {
        (Some(a), Some(ci)) => {
            let _ = writeln!(
                    s,
                    "**Out of sample, across results:** the model fitted on {} ({}) scores these {} items with AUC {} [{}, {}] (p {}); mean predicted accuracy {} vs observed {}.\n",
                    t.trained_on,
                    t.terms.join(" + "),
                    t.n,
                    f3(a),
                    f3(ci[0]),
                    f3(ci[1]),
                    p(t.p_value.unwrap_or(f64::NAN)),
                    f3(t.mean_predicted.unwrap_or(f64::NAN)),
                    f3(t.accuracy)
                );
        }
        _ => {
            let _ = writeln!(
                s,
                "Transfer from {}: not computed: {}.\n",
                t.trained_on,
                t.skipped.as_deref().unwrap_or("")
            );
        }
    }
}

/// Lexicalisation's coefficient pooled, within groups and between them.
fn within_between(s: &mut String, w: &crate::outcome::WithinBetween) {
    let c = |x: &crate::outcome::Coefficient| {
        format!(
            "{} [{}, {}] (p {})",
            f3(x.estimate),
            f3(x.ci[0]),
            f3(x.ci[1]),
            p(x.p_value)
        )
    };
    let _ = writeln!(
            s,
            "**Lexicalisation within vs between {by}s** ({} {by}s, reference {by} {:?}; other terms: {}; per pooled SD of lexicalisation, log-odds):\n\n\
             | model | lexicalisation coefficient [95% CI] |\n|---|---|\n\
             | pooled (no {by} terms) | {} |\n\
             | within: with {by} fixed effects | {} |\n\
             | between: {by} mean of lexicalisation (Mundlak) | {} |\n\n\
             Within {by}s, the likelihood-ratio test of lexicalisation given the {by} indicators: χ² = {} (df {}), p = {}. \
             Between − within = {} (SE {}, Wald p = {}). The {by}s differ beyond the terms: χ² = {} (df {}), p = {}.\n",
            w.groups,
            w.reference,
            if w.other_terms.is_empty() { "none".to_string() } else { w.other_terms.join(", ") },
            c(&w.pooled),
            c(&w.within),
            c(&w.between),
            f3(w.within_lr.statistic),
            w.within_lr.df,
            p(w.within_lr.p_value),
            f3(w.difference),
            f3(w.difference_se),
            p(w.difference_p),
            f3(w.groups_lr.statistic),
            w.groups_lr.df,
            p(w.groups_lr.p_value),
            by = w.grouping
        );
}

/// Accuracy by lexicalisation decile.
fn by_decile(s: &mut String, r: &OutcomeResult) {
    let _ = writeln!(
            s,
            "Accuracy by lexicalisation decile — {}:\n\n| decile | lexicalisation range | n | accuracy [95% Wilson CI] |\n|---:|---|---:|---|",
            r.decile_ties
        );
    for b in &r.by_lexicalization_decile {
        let range = b
            .range
            .map_or(String::new(), |[lo, hi]| format!("{} – {}", f3(lo), f3(hi)));
        let _ = writeln!(
            s,
            "| {} | {range} | {} | {} [{}, {}] |",
            b.bin,
            b.n,
            f3(b.accuracy),
            f3(b.ci[0]),
            f3(b.ci[1])
        );
    }
    let _ = writeln!(s);
}

fn cv_cell(e: &crate::outcome::PredictorEntry) -> String {
    match &e.cv {
        Some(cv) => match (cv.auc, cv.sd) {
            (Some(a), Some(sd)) => format!("{} ± {} ({}-fold)", f3(a), f3(sd), cv.folds),
            _ => format!("not computed: {}", cv.skipped.as_deref().unwrap_or("")),
        },
        None => String::new(),
    }
}

fn predictor_rows(
    s: &mut String,
    order: &[String],
    predictors: &std::collections::BTreeMap<String, crate::outcome::PredictorEntry>,
) {
    for name in order {
        let Some(e) = predictors.get(name) else {
            continue;
        };
        match (e.auc, e.auc_ci, e.p_value) {
            (Some(a), Some(ci), Some(pv)) => {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {} [{}, {}] | {} | {} |",
                    e.n,
                    f3(a),
                    f3(ci[0]),
                    f3(ci[1]),
                    p(pv),
                    cv_cell(e)
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "| {name} | {} | not computed: {} | | |",
                    e.n,
                    e.skipped.as_deref().unwrap_or("")
                );
            }
        }
    }
}

fn logistic(
    s: &mut String,
    l: &Option<crate::outcome::LogisticSummary>,
    skipped: &Option<String>,
    outcome: &str,
) {
    match (l, skipped) {
        (Some(l), _) => {
            let method = match l.method {
                crate::outcome::logistic::Method::Firth => "Firth's penalised likelihood",
                crate::outcome::logistic::Method::MaximumLikelihood => "maximum likelihood",
            };
            let _ = writeln!(
                s,
                "Logistic regression of {outcome} on {} ({method}; numeric terms z-scored{}; n = {}, {} events for {} coefficients = {:.1} per parameter): McFadden R² = {}.\n",
                l.terms.join(" + "),
                l.group_reference
                    .as_ref()
                    .map_or(String::new(), |g| format!("; group indicators against the reference level {g:?}")),
                l.n,
                l.events,
                l.parameters,
                l.events_per_parameter,
                f3(l.mcfadden_r2)
            );
            if let Some(w) = &l.warning {
                let _ = writeln!(s, "> **Warning:** {w}.\n");
            }
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
            if let Some(cv) = &l.cv {
                let _ = writeln!(
                    s,
                    "\nOut of sample: {}-fold cross-validated AUC of the model (stratified folds, seed {}): {}.",
                    cv.folds,
                    cv.seed,
                    match (cv.auc, cv.sd) {
                        (Some(a), Some(sd)) => format!("{} ± {} (mean ± SD over folds)", f3(a), f3(sd)),
                        _ => format!("not computed: {}", cv.skipped.as_deref().unwrap_or("")),
                    }
                );
            }
            let _ = writeln!(s);
        }
        (None, Some(why)) => {
            let _ = writeln!(s, "Logistic regression of {outcome} not fitted: {why}.\n");
        }
        (None, None) => {}
    }
}

fn groups(s: &mut String, r: &OutcomeResult) {
    if !r.groups.is_empty() {
        let _ = writeln!(
            s,
            "| {} | n | accuracy [95% CI] | AUC lexicalisation |\n|---|---:|---|---:|",
            r.grouping.as_deref().unwrap_or("group")
        );
        for (g, x) in &r.groups {
            let lex = x
                .predictors
                .get("lexicalization")
                .map_or("–".to_string(), |e| {
                    e.auc.map_or_else(
                        || format!("not computed: {}", e.skipped.as_deref().unwrap_or("")),
                        f3,
                    )
                });
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
            .map(|e| match (e.auc, e.auc_ci) {
                (Some(a), Some(ci)) => format!("{} [{}, {}]", f3(a), f3(ci[0]), f3(ci[1])),
                _ => format!("not computed: {}", e.skipped.as_deref().unwrap_or("")),
            })
            .unwrap_or_else(|| "not computed: no lexicalisation".into());
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

/// The fine-tuning section: changes, gains per split, what explains being learned.
fn finetune(s: &mut String, ft: &crate::outcome::Finetune) {
    let _ = writeln!(
        s,
        "## Fine-tuning: {} → {}\n\n{} items answered by both ({} answered by one only, left out). Gain = accuracy after − before, with Newcombe's paired 95% interval; memorisation = gain on the items tuned on (the items table's `train` split), generalisation = on `withheld`. Per-item changes: `finetune.csv`.\n",
        ft.before, ft.after, ft.n, ft.unpaired
    );
    let _ = writeln!(
        s,
        "| items | n | kept | learned | forgotten | never | accuracy before → after | gain [95% CI] | learned of wrong before [95% CI] |\n|---|---:|---:|---:|---:|---:|---|---|---|"
    );
    for (name, g) in &ft.gains {
        let rate = match (g.learned_rate, g.learned_rate_ci) {
            (Some(r), Some(ci)) => format!("{} [{}, {}]", f3(r), f3(ci[0]), f3(ci[1])),
            _ => "–".into(),
        };
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {} → {} | {} [{}, {}] | {rate} |",
            g.n,
            g.kept,
            g.learned,
            g.forgotten,
            g.never,
            f3(g.accuracy_before),
            f3(g.accuracy_after),
            f3(g.gain),
            f3(g.gain_ci[0]),
            f3(g.gain_ci[1])
        );
    }
    let _ = writeln!(s);
    for (name, g) in &ft.gains {
        let _ = writeln!(
            s,
            "### What explains being learned ({name}: {} learned of {} wrong before)\n\n| predictor | n | AUC [95% CI] | permutation p | cross-validated AUC |\n|---|---:|---|---:|---|",
            g.learned,
            g.learned + g.never
        );
        let order: Vec<String> = g.predictors.keys().cloned().collect();
        predictor_rows(s, &order, &g.predictors);
        let _ = writeln!(s);
        logistic(s, &g.logistic, &g.logistic_skipped, "being learned");
    }
}
