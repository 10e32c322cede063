//! `report.md`: the figures with one-paragraph readings written from the numbers,
//! and the summary table.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::{PairingAnalysis, Report};
use crate::error::Result;

fn by<F: Fn(&PairingAnalysis) -> f64>(
    a: &[PairingAnalysis],
    f: F,
) -> (Vec<&PairingAnalysis>, Vec<f64>) {
    let mut v: Vec<(&PairingAnalysis, f64)> = a.iter().map(|x| (x, f(x))).collect();
    v.sort_by(|p, q| q.1.total_cmp(&p.1));
    v.into_iter().unzip()
}

fn ranking<F: Fn(&PairingAnalysis) -> f64>(a: &[PairingAnalysis], f: F) -> String {
    let (items, values) = by(a, f);
    items
        .iter()
        .zip(values)
        .map(|(x, v)| format!("{} {:.3}", x.pairing.name, v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Path of `target` as seen from directory `from` (both made absolute first).
fn relative(target: &Path, from: &Path) -> PathBuf {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (t, f) = (abs(target), abs(from));
    let tc: Vec<Component> = t.components().collect();
    let fc: Vec<Component> = f.components().collect();
    let common = tc.iter().zip(&fc).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..fc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c.as_os_str());
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
            reading(stem, &report.analyses)
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
        let sp = x.popularity.spearman.as_ref().map_or("–".to_string(), |v| {
            format!("{:.3} [{:.3}, {:.3}]", v.estimate, v.low, v.high)
        });
        let pr = x.probe.as_ref().map_or("–".to_string(), |p| {
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
            "Mean lexicalisation score (1 = the identifier's nearest name is its own, 0.5 = chance) per popularity bin. Spearman correlation between popularity and score: {}.",
            ranking(a, |x| x.popularity.spearman.as_ref().map_or(f64::NAN, |v| v.estimate))
        ),
        "fig5_tokens_vs_lexicalization" => format!(
            "Each dot an identifier (right string), jittered in x; large markers are means per token count. Mean lexicalisation by pairing: {}.",
            ranking(a, |x| x.lexicalization.mean.estimate)
        ),
        "fig6_probe" => format!(
            "A linear map from left to right embeddings fitted on the 600 training pairs, then used to retrieve right strings of the training pairs and of 600 withheld pairs. Withheld top-1 (Procrustes): {}; training top-1: {}. A map that works on withheld pairs generalises; one that only works on training pairs has memorised them.",
            ranking(a, |x| x.probe.as_ref().map_or(f64::NAN, |p| p.procrustes.withheld_top1)),
            ranking(a, |x| x.probe.as_ref().map_or(f64::NAN, |p| p.procrustes.train_top1))
        ),
        _ => String::new(),
    }
}
