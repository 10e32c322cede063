//! `report.md`: the figures with one-paragraph readings written from the numbers,
//! and the summary table.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::{PairingAnalysis, Report};
use crate::error::Result;

fn ranking<F: Fn(&PairingAnalysis) -> f64>(a: &[PairingAnalysis], f: F) -> String {
    ranking_of(a, |x| Some(f(x)))
}

/// Pairings in descending order of `f`; those without a value are named after.
fn ranking_of<F: Fn(&PairingAnalysis) -> Option<f64>>(a: &[PairingAnalysis], f: F) -> String {
    let mut v: Vec<(&PairingAnalysis, f64)> =
        a.iter().filter_map(|x| f(x).map(|v| (x, v))).collect();
    v.sort_by(|p, q| q.1.total_cmp(&p.1));
    let mut parts: Vec<String> = v
        .iter()
        .map(|(x, v)| format!("{} {:.3}", x.pairing.name, v))
        .collect();
    let missing: Vec<&str> = a
        .iter()
        .filter(|x| f(x).is_none())
        .map(|x| x.pairing.name.as_str())
        .collect();
    if !missing.is_empty() {
        parts.push(format!("not available for {}", missing.join(", ")));
    }
    parts.join(", ")
}

/// Path of `target` as seen from directory `from`. Both are made absolute against
/// the working folder and normalised without touching the disk: when this runs,
/// the figures are still staged, not yet where the link points.
fn relative(target: &Path, from: &Path) -> PathBuf {
    let abs = |p: &Path| -> Vec<std::ffi::OsString> {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut parts = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(n) => parts.push(n.to_os_string()),
                Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        parts
    };
    let (tc, fc) = (abs(target), abs(from));
    let common = tc.iter().zip(&fc).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..fc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c);
    }
    out
}

/// `report.md`: provenance, summary table, then each figure with its reading.
pub fn render(report: &Report, figures: &[(String, PathBuf)], out: &Path) -> Result<String> {
    let mut s = String::new();
    header(&mut s, report);
    summary_table(&mut s, &report.analyses);
    let _ = writeln!(s, "## Figures\n");
    for (stem, png) in figures {
        let rel = relative(png, out);
        let _ = writeln!(
            s,
            "### {stem}\n\n![{stem}]({})\n\n{}\n",
            rel.display(),
            layers_reading(stem, &report.layers).unwrap_or_else(|| reading(stem, &report.analyses))
        );
    }
    Ok(s)
}

fn header(s: &mut String, report: &Report) {
    let p = &report.provenance;
    let e = &report.embed_stats;
    let _ = writeln!(s, "# lexalign report\n");
    let _ = writeln!(s, "_{}_\n", p.caption());
    let _ = writeln!(s, "Data sources:\n");
    for d in &p.data {
        let _ = writeln!(
            s,
            "- {} — {}; licence: {}; from {}",
            d.name, d.citation, d.licence, d.origin
        );
    }
    for f in &p.pair_files {
        let c = &f.columns;
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "–".into());
        let _ = writeln!(
            s,
            "- pairing {}: your table {} (sha256 {}); left = `{}`, right = `{}`, id = `{}`, popularity = `{}`, split = `{}`",
            f.name,
            f.file.display(),
            f.sha256,
            c.left,
            c.right,
            c.id.clone().unwrap_or_else(|| "row number".into()),
            opt(&c.popularity),
            opt(&c.split)
        );
    }
    let _ = writeln!(
        s,
        "\nEmbedded {} strings ({} distinct; {} from the cache, {} computed, {} truncated). Formulas: docs/METRICS.md.\n",
        e.strings, e.distinct, e.from_cache, e.computed, e.truncated
    );
    for sk in &report.skipped {
        let _ = writeln!(s, "**Skipped {}**: {}\n", sk.name, sk.reason);
    }
}

fn summary_table(s: &mut String, a: &[PairingAnalysis]) {
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(
        s,
        "| pairing | n | AUC centred [95% CI] | AUC raw | gap centred | top-1 | top-10 | MRR | lexicalisation [95% CI] | Spearman(popularity) | probe train / withheld top-1 |"
    );
    let _ = writeln!(s, "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---|");
    for x in a {
        let c = &x.alignment.centred;
        let l = &x.lexicalization.mean;
        let sp = x
            .popularity
            .spearman
            .as_ref()
            .map_or("not computed".to_string(), |v| {
                format!("{:.3} [{:.3}, {:.3}]", v.estimate, v.low, v.high)
            });
        let pr = x.probe.as_ref().map_or("not run".to_string(), |p| {
            format!(
                "{:.3} / {:.3}",
                p.procrustes.train_top1, p.procrustes.withheld_top1
            )
        });
        let _ = writeln!(
            s,
            "| {} | {} | {:.3} [{:.3}, {:.3}] | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} [{:.3}, {:.3}] | {} | {} |",
            x.pairing.name,
            x.pairing.len(),
            c.auc.estimate,
            c.auc.low,
            c.auc.high,
            x.alignment.raw.auc.estimate,
            c.gap,
            x.retrieval.left_to_right.top1,
            x.retrieval.left_to_right.top10,
            x.retrieval.left_to_right.mrr,
            l.estimate,
            l.low,
            l.high,
            sp,
            pr
        );
    }
    let _ = writeln!(s, "\ntop-1, top-10 and MRR: each left string (name/label) retrieving its right string among all right strings of the pairing; both directions are in summary.json.\n");
    notes(s, a);
}

/// What was not analysed, and why; rows left out by cleaning.
fn notes(s: &mut String, a: &[PairingAnalysis]) {
    let mut lines = Vec::new();
    for x in a {
        let c = &x.cleaning;
        if c.identical_dropped + c.duplicates_dropped + c.duplicate_ids > 0 {
            lines.push(format!(
                "- {}: {} input rows; left out {} identical and {} duplicate pairs (flagged in `excluded` of pairs/{}.csv); {} repeated ids (`duplicate_id`).",
                x.pairing.name, c.input_rows, c.identical_dropped, c.duplicates_dropped, x.pairing.name, c.duplicate_ids
            ));
        }
        if let Some(why) = x.probe_skipped() {
            lines.push(format!("- {}: probe {why}.", x.pairing.name));
        }
        if let Some(why) = x.popularity_skipped() {
            lines.push(format!("- {}: popularity {why}.", x.pairing.name));
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(s, "Notes:\n\n{}\n", lines.join("\n"));
    }
}

/// One paragraph reading a figure, written from the numbers.
fn reading(stem: &str, a: &[PairingAnalysis]) -> String {
    match stem {
        "fig1a_cosine_raw" => format!(
            "Raw cosines of matched pairs against all (or a seeded sample of) mismatched pairs. Raw cosines sit in a narrow cone, so the null itself is high (mean null cosine: {}). AUC raw by pairing: {}.",
            ranking(a, |x| x.alignment.raw.null_mean),
            ranking(a, |x| x.alignment.raw.auc.estimate)
        ),
        "fig1b_cosine_centred" => format!(
            "The same after subtracting each side's mean vector, which removes the shared direction. AUC = P(matched > mismatched): {}. An AUC of 0.5 means the matched partner is no closer than a random one.",
            ranking(a, |x| x.alignment.centred.auc.estimate)
        ),
        "fig2_pca" => format!(
            "Names and identifiers projected jointly onto the first two principal components of each pairing; grey lines join a seeded sample of true pairs. Share of variance on PC1+PC2: {}. When the two sides form separate clouds, the main directions of variation separate the kinds of string, not the concepts.",
            ranking(a, |x| x.pca.explained_variance_ratio.iter().take(2).sum())
        ),
        "fig3_retrieval" => format!(
            "Exact retrieval among all items of the pairing (chance top-1 ≈ 1/n). Top-1 left→right: {}. Top-1 right→left: {}.",
            ranking(a, |x| x.retrieval.left_to_right.top1),
            ranking(a, |x| x.retrieval.right_to_left.top1)
        ),
        "fig4_lexicalization_by_popularity" => format!(
            "Mean lexicalisation score (1 = the identifier's nearest name is its own, 0.5 = chance) per popularity bin ({}). Spearman correlation between popularity and score: {}.",
            super::figures::binning_label(a),
            ranking_of(a, |x| x.popularity.spearman.as_ref().map(|v| v.estimate))
        ),
        "fig5_tokens_vs_lexicalization" => format!(
            "Each dot an identifier (right string), jittered in x; large markers are means per token count. Mean lexicalisation by pairing: {}.",
            ranking(a, |x| x.lexicalization.mean.estimate)
        ),
        "fig6_probe" => format!(
            "A linear map from left to right embeddings fitted on the training pairs, then used to retrieve right strings of the training pairs and of the withheld pairs. Withheld top-1 (Procrustes): {}; training top-1: {}. A map that works on withheld pairs generalises; one that only works on training pairs has memorised them.",
            ranking_of(a, |x| x.probe.as_ref().map(|p| p.procrustes.withheld_top1)),
            ranking_of(a, |x| x.probe.as_ref().map(|p| p.procrustes.train_top1))
        ),
        _ => String::new(),
    }
}

/// The reading of the per-layer figures (`fig7_*`), from the numbers; `None` for other stems.
fn layers_reading(stem: &str, layers: &[super::LayerResult]) -> Option<String> {
    type Pick = fn(&super::LayerPairing) -> (f64, [f64; 2]);
    let (what, value): (&str, Pick) = match stem {
        "fig7_layers_auc" => ("Centred AUC", |p| (p.auc, p.auc_ci)),
        "fig7_layers_lexicalization" => ("Lexicalisation", |p| {
            (p.lexicalization, p.lexicalization_ci)
        }),
        _ => return None,
    };
    let (first, last) = (layers.first()?, layers.last()?);
    let mut earlier = Vec::new();
    let per_pairing: Vec<String> = first
        .pairings
        .iter()
        .map(|p0| {
            let at = |l: &super::LayerResult| {
                l.pairings
                    .iter()
                    .find(|p| p.name == p0.name)
                    .map(value)
                    .unwrap_or((f64::NAN, [f64::NAN; 2]))
            };
            let best = layers
                .iter()
                .max_by(|a, b| at(a).0.total_cmp(&at(b).0))
                .unwrap_or(last);
            // The peak is above chance and clearly above the final layer (beyond its 95% interval).
            if best.layer != last.layer && at(best).1[0] > 0.5 && at(best).0 > at(last).1[1] {
                earlier.push(format!("{} (layer {})", p0.name, best.layer));
            }
            format!(
                "{}: {:.3} at layer {}, peak {:.3} at layer {}, {:.3} at the final layer {}",
                p0.name,
                at(first).0,
                first.layer,
                at(best).0,
                best.layer,
                at(last).0,
                last.layer
            )
        })
        .collect();
    let verdict = if earlier.is_empty() {
        "No pairing peaks clearly (above chance and above the final layer's 95% interval) before the final layer."
            .to_string()
    } else {
        format!(
            "Peaking before the final layer, above chance and above the final layer's 95% interval: {}: there names meet their symbols before the final layer, and the last layers partly undo it.",
            earlier.join(", ")
        )
    };
    Some(format!(
        "Alignment and lexicalisation at each measured layer (0 = token embeddings, {} = final normed states), one line per pairing with its 95% bootstrap band; 0.5 is chance. {what} by pairing: {}. {verdict}",
        last.layer,
        per_pairing.join("; ")
    ))
}

/// `report.md` of `report --models`: the models, one row per model and pairing,
/// the tokenisation table, and the comparison figures with their readings.
pub(super) fn render_comparison(
    c: &super::Comparison,
    figures: &[(String, PathBuf)],
    out: &Path,
) -> Result<String> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# lexalign report: {} models side by side\n",
        c.models.len()
    );
    let _ = writeln!(s, "_{}_\n", c.caption());
    comparison_models(&mut s, c);
    comparison_rows(&mut s, c);
    comparison_tokens(&mut s, c);
    comparison_figures(&mut s, c, figures, out);
    Ok(s)
}

/// The models compared, with the notes and skipped pairings of each.
fn comparison_models(s: &mut String, c: &super::Comparison) {
    let _ = writeln!(
        s,
        "| model | name | pooling | distinct strings (computed) | seconds | its own report |\n|---|---|---|---:|---:|---|"
    );
    for m in &c.models {
        let p = &m.report.provenance.model;
        let e = &m.report.embed_stats;
        let _ = writeln!(
            s,
            "| {} | {}{} | {} | {} ({}) | {:.1} | [{}/report.md]({}/report.md) |",
            m.label,
            p.name,
            p.variant
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default(),
            p.pooling.as_str(),
            e.distinct,
            e.computed,
            m.report.timings.total,
            m.label,
            m.label
        );
    }
    let notes: Vec<String> = c
        .models
        .iter()
        .flat_map(|m| {
            m.note.iter().cloned().chain(
                m.report
                    .skipped
                    .iter()
                    .map(move |sk| format!("{}: skipped {}: {}", m.label, sk.name, sk.reason)),
            )
        })
        .collect();
    for n in &notes {
        let _ = writeln!(s, "\n- {n}");
    }
}

/// One row per model and pairing.
fn comparison_rows(s: &mut String, c: &super::Comparison) {
    let _ = writeln!(s, "\n## Summary: one row per model and pairing\n");
    let _ = writeln!(
        s,
        "| pairing | model | n | AUC centred [95% CI] | lexicalisation [95% CI] | top-1 | top-10 | MRR | probe withheld top-1 |\n|---|---|---:|---|---|---:|---:|---:|---:|"
    );
    let rows = c.rows();
    for p in c.pairings() {
        for r in rows.iter().filter(|r| r.pairing == p) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.3} [{:.3}, {:.3}] | {:.3} [{:.3}, {:.3}] | {:.3} | {:.3} | {:.3} | {} |",
                r.pairing,
                r.model,
                r.n,
                r.auc,
                r.auc_ci[0],
                r.auc_ci[1],
                r.lexicalization,
                r.lexicalization_ci[0],
                r.lexicalization_ci[1],
                r.top1,
                r.top10,
                r.mrr,
                r.probe_withheld_top1
                    .map_or("not run".to_string(), |v| format!("{v:.3}"))
            );
        }
    }
}

/// How each model's tokenizer cuts the right-hand strings.
fn comparison_tokens(s: &mut String, c: &super::Comparison) {
    let _ = writeln!(
        s,
        "\n## Tokenisation of the right-hand strings\n\nThe right-hand string is the identifier in the id pairings (the symbol in gene-name-symbol, the synonym in the synonym pairings), cut by each model's own tokenizer without special tokens. Digits and leading zeros (the zeros before the last digit run, `HP:0001250` → 3) are properties of the strings; the piece counts are the model's.\n"
    );
    let _ = writeln!(
        s,
        "| pairing | model | strings | pieces per string | single-token share | digits | pieces holding digits | leading zeros | pieces covering them |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    let tokens = c.tokens();
    for p in c.pairings() {
        for t in tokens.iter().filter(|t| t.pairing == p) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.2} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} |",
                t.pairing,
                t.model,
                t.strings,
                t.pieces_mean,
                t.single_token_share,
                t.digits_mean,
                t.digit_pieces_mean,
                t.leading_zeros_mean,
                t.leading_zero_pieces_mean
            );
        }
    }
}

/// The comparison figures, each with its reading.
fn comparison_figures(
    s: &mut String,
    c: &super::Comparison,
    figures: &[(String, PathBuf)],
    out: &Path,
) {
    let _ = writeln!(s, "\n## Figures\n");
    for (stem, png) in figures {
        let rel = relative(png, out);
        let reading = match stem.as_str() {
            "fig8_models_auc" => compare_reading(c, "centred AUC", |r| (r.auc, r.auc_ci)),
            "fig8_models_lexicalization" => compare_reading(c, "lexicalisation", |r| {
                (r.lexicalization, r.lexicalization_ci)
            }),
            _ => "Mean pieces per right-hand string per model (table above). A model that keeps an identifier in few pieces can give it a meaning of its own; one that splits every digit cannot.".to_string(),
        };
        let _ = writeln!(
            s,
            "### {stem}\n\n![{stem}]({})\n\n{reading}\n",
            rel.display()
        );
    }
}

/// Per pairing: the model with the highest value, and whether its interval
/// clears every other model's.
fn compare_reading(
    c: &super::Comparison,
    what: &str,
    f: impl Fn(&super::ComparisonRow) -> (f64, [f64; 2]),
) -> String {
    let rows = c.rows();
    let mut lines = Vec::new();
    for p in c.pairings() {
        let mut v: Vec<(&str, f64, [f64; 2])> = rows
            .iter()
            .filter(|r| r.pairing == p)
            .map(|r| {
                let (e, ci) = f(r);
                (r.model.as_str(), e, ci)
            })
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        let Some(&(top, e, ci)) = v.first() else {
            continue;
        };
        let list: Vec<String> = v
            .iter()
            .map(|(m, e, ci)| format!("{m} {e:.3} [{:.3}, {:.3}]", ci[0], ci[1]))
            .collect();
        let verdict = if v.len() < 2 {
            String::new()
        } else if v[1..].iter().all(|(_, _, o)| o[1] < ci[0]) {
            format!(": {top} is higher and the intervals do not overlap")
        } else {
            format!(": {top} {e:.3} is highest, but the intervals overlap")
        };
        lines.push(format!("- {p} — {}{verdict}", list.join(", ")));
    }
    format!("{what} per pairing, highest first:\n\n{}", lines.join("\n"))
}
