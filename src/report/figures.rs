//! Maps analysis results onto the figure kinds of [`crate::plot`]: the six
//! figures of the paper, each stamped with model and data releases.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{FigureParams, PairingAnalysis, Report};
use crate::error::Result;
use crate::plot::{self, BarSeries, Figure, HistPanel, LineSeries, ScatterData};

/// Every figure stem a report can write, in order (`fig6_probe` only with a probe).
pub(crate) const STEMS: [&str; 9] = [
    "fig1a_cosine_raw",
    "fig1b_cosine_centred",
    "fig2_pca",
    "fig3_retrieval",
    "fig4_lexicalization_by_popularity",
    "fig5_tokens_vs_lexicalization",
    "fig6_probe",
    "fig7_layers_auc",
    "fig7_layers_lexicalization",
];

/// All figures with their file stems, in paper order.
pub fn all(report: &Report, params: &FigureParams) -> Result<Vec<(String, Figure)>> {
    let caption = report.provenance.caption();
    let a = &report.analyses;
    let mut out = vec![
        (STEMS[0].to_string(), cosine_histograms(a, false, &caption)?),
        (STEMS[1].to_string(), cosine_histograms(a, true, &caption)?),
        (STEMS[2].to_string(), pca_scatter(a, params, &caption)?),
        (STEMS[3].to_string(), retrieval_bars(a, &caption)?),
    ];
    // Pair files without popularity have no bins: no figure 4 then.
    if a.iter().any(|x| !x.popularity.bins.is_empty()) {
        out.push((STEMS[4].to_string(), lexicalization_by_bin(a, &caption)?));
    }
    out.push((STEMS[5].to_string(), tokens_vs_lexicalization(a, &caption)?));
    if a.iter().any(|x| x.probe.is_some()) {
        out.push((STEMS[6].to_string(), probe_bars(a, &caption)?));
    }
    out.extend(layer_figures(&report.layers, &caption)?);
    Ok(out)
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Figure 1: matched vs mismatched cosine per pairing.
pub fn cosine_histograms(
    analyses: &[PairingAnalysis],
    centred: bool,
    caption: &str,
) -> Result<Figure> {
    let panels: Vec<HistPanel> = analyses
        .iter()
        .map(|a| {
            let s = if centred {
                &a.alignment.centred
            } else {
                &a.alignment.raw
            };
            HistPanel {
                title: format!("{} (AUC {:.2})", a.pairing.name, s.auc.estimate),
                x_label: if centred {
                    "centred cosine".into()
                } else {
                    "cosine".into()
                },
                series: vec![
                    ("matched pairs".into(), to_f64(&s.matched)),
                    ("mismatched pairs (null)".into(), to_f64(&s.null_sample)),
                ],
            }
        })
        .collect();
    let title = if centred {
        "Matched vs mismatched cosine, mean-centred embeddings"
    } else {
        "Matched vs mismatched cosine, raw embeddings"
    };
    plot::histograms(title, &panels, caption)
}

/// Figure 2: joint PCA of names and identifiers per pairing.
/// `params.pca_links` true pairs per panel, drawn with the run's seed, are joined by a line.
pub fn pca_scatter(
    analyses: &[PairingAnalysis],
    params: &FigureParams,
    caption: &str,
) -> Result<Figure> {
    let panels: Vec<(String, ScatterData)> = analyses
        .iter()
        .map(|a| {
            let n = a.pairing.len();
            let p = &a.projection;
            let pts = |range: std::ops::Range<usize>| {
                range
                    .map(|i| (p[[i, 0]] as f64, p[[i, 1]] as f64))
                    .collect()
            };
            let mut idx: Vec<usize> = (0..n).collect();
            idx.shuffle(&mut ChaCha8Rng::seed_from_u64(params.seed));
            let r = &a.pca.explained_variance_ratio;
            (
                a.pairing.name.clone(),
                ScatterData {
                    points_left: pts(0..n),
                    points_right: pts(n..2 * n),
                    left_label: "name / label (left)".into(),
                    right_label: "identifier / symbol (right)".into(),
                    links: idx
                        .into_iter()
                        .take(params.pca_links)
                        .map(|i| (i, i))
                        .collect(),
                    x_label: format!("PC1 ({:.1}%)", 100.0 * r[0]),
                    y_label: format!("PC2 ({:.1}%)", 100.0 * r.get(1).copied().unwrap_or(0.0)),
                },
            )
        })
        .collect();
    plot::scatter_grid(
        "PCA of names and identifiers (joint projection per pairing)",
        &panels,
        caption,
    )
}

/// Figure 3: retrieval by pairing and direction.
pub fn retrieval_bars(analyses: &[PairingAnalysis], caption: &str) -> Result<Figure> {
    let groups = analyses.iter().map(|a| a.pairing.name.clone()).collect();
    let col = |f: &dyn Fn(&PairingAnalysis) -> f64| analyses.iter().map(f).collect::<Vec<f64>>();
    let series = vec![
        BarSeries::new("top-1 left→right", col(&|a| a.retrieval.left_to_right.top1)),
        BarSeries::new(
            "top-10 left→right",
            col(&|a| a.retrieval.left_to_right.top10),
        ),
        BarSeries::new("MRR left→right", col(&|a| a.retrieval.left_to_right.mrr)),
        BarSeries::new("top-1 right→left", col(&|a| a.retrieval.right_to_left.top1)),
        BarSeries::new(
            "top-10 right→left",
            col(&|a| a.retrieval.right_to_left.top10),
        ),
        BarSeries::new("MRR right→left", col(&|a| a.retrieval.right_to_left.mrr)),
    ];
    plot::grouped_bars(
        "Retrieval among all items of the pairing (centred cosine)",
        groups,
        series,
        "fraction of queries / MRR",
        Some((0.0, 1.0)),
        caption,
    )
}

/// Figure 4: lexicalisation score by popularity bin.
pub fn lexicalization_by_bin(analyses: &[PairingAnalysis], caption: &str) -> Result<Figure> {
    let series = analyses
        .iter()
        .map(|a| LineSeries {
            label: a.pairing.name.clone(),
            points: a
                .popularity
                .bins
                .iter()
                .map(|b| {
                    let (lo, hi) = if b.n >= 2 {
                        (b.mean.low, b.mean.high)
                    } else {
                        (f64::NAN, f64::NAN)
                    };
                    (b.bin as f64, b.mean.estimate, lo, hi)
                })
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    plot::lines_with_bands(
        "Lexicalisation score by popularity bin (mean, 95% bootstrap CI)",
        &format!("popularity bin ({})", binning_label(analyses)),
        "lexicalisation score",
        series,
        Some((0.5, "chance".into())),
        caption,
    )
}

/// How the pairings' bins were made, e.g. "20 equal-count bins over popularity
/// rank, 1 = most popular"; pairings binned differently are named.
pub(crate) fn binning_label(analyses: &[PairingAnalysis]) -> String {
    let mut kinds: Vec<(String, Vec<&str>)> = Vec::new();
    for a in analyses.iter().filter(|a| !a.popularity.bins.is_empty()) {
        let d = match a.pairing.meta.bins {
            Some(b) => b.binning.describe(b.bins),
            None => "bins as given in the pair table".to_string(),
        };
        match kinds.iter_mut().find(|(k, _)| *k == d) {
            Some((_, names)) => names.push(&a.pairing.name),
            None => kinds.push((d, vec![&a.pairing.name])),
        }
    }
    match kinds.len() {
        0 => "no bins".into(),
        1 => kinds.remove(0).0,
        _ => kinds
            .iter()
            .map(|(k, n)| format!("{}: {k}", n.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Figure 5: identifier token count vs lexicalisation score.
pub fn tokens_vs_lexicalization(analyses: &[PairingAnalysis], caption: &str) -> Result<Figure> {
    let series = analyses
        .iter()
        .map(|a| {
            let pts = a
                .right_tokens
                .iter()
                .zip(&a.lexicalization.scores)
                .map(|(t, &s)| (t.n_tokens as f64, s))
                .collect();
            (a.pairing.name.clone(), pts)
        })
        .collect();
    plot::scatter_jitter(
        "Identifier token count vs lexicalisation score",
        "tokens in the right-hand string (identifier / symbol / synonym)",
        "lexicalisation score",
        series,
        caption,
    )
}

/// Figure 6: the probe, training vs withheld top-1 per map.
pub fn probe_bars(analyses: &[PairingAnalysis], caption: &str) -> Result<Figure> {
    let with: Vec<&PairingAnalysis> = analyses.iter().filter(|a| a.probe.is_some()).collect();
    let groups = with.iter().map(|a| a.pairing.name.clone()).collect();
    let col = |f: &dyn Fn(&crate::metrics::probe::Probe) -> f64| {
        with.iter()
            .map(|a| f(a.probe.as_ref().unwrap()))
            .collect::<Vec<f64>>()
    };
    let series = vec![
        BarSeries::new("Procrustes, training", col(&|p| p.procrustes.train_top1)),
        BarSeries::new("Procrustes, withheld", col(&|p| p.procrustes.withheld_top1)),
        BarSeries::new("ridge, training", col(&|p| p.ridge.train_top1)),
        BarSeries::new("ridge, withheld", col(&|p| p.ridge.withheld_top1)),
    ];
    plot::grouped_bars(
        "Memorisation vs generalisation: top-1 of a linear map left→right",
        groups,
        series,
        "top-1 retrieval",
        Some((0.0, 1.0)),
        caption,
    )
}

/// Figure 7 (`--layers` only): centred AUC and lexicalisation by layer, one line
/// per pairing with its 95% CI band, chance at 0.5.
pub fn layer_figures(
    layers: &[super::LayerResult],
    caption: &str,
) -> Result<Vec<(String, Figure)>> {
    if layers.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = layers[0].pairings.iter().map(|p| p.name.as_str()).collect();
    let series = |f: &dyn Fn(&super::LayerPairing) -> (f64, [f64; 2])| -> Vec<LineSeries> {
        names
            .iter()
            .map(|&name| LineSeries {
                label: name.to_string(),
                points: layers
                    .iter()
                    .filter_map(|l| {
                        let p = l.pairings.iter().find(|p| p.name == name)?;
                        let (y, [lo, hi]) = f(p);
                        Some((l.layer as f64, y, lo, hi))
                    })
                    .collect(),
            })
            .collect()
    };
    let depth = layers.last().map_or(0, |l| l.layer);
    let x_label = format!("layer (0 = token embeddings, {depth} = final states)");
    Ok(vec![
        (
            STEMS[7].to_string(),
            plot::lines_with_bands(
                "Where in the network names meet their symbols: centred AUC by layer",
                &x_label,
                "centred AUC (95% bootstrap CI)",
                series(&|p| (p.auc, p.auc_ci)),
                Some((0.5, "chance".into())),
                caption,
            )?,
        ),
        (
            STEMS[8].to_string(),
            plot::lines_with_bands(
                "Where in the network names meet their symbols: lexicalisation by layer",
                &x_label,
                "lexicalisation score (95% bootstrap CI)",
                series(&|p| (p.lexicalization, p.lexicalization_ci)),
                Some((0.5, "chance".into())),
                caption,
            )?,
        ),
    ])
}
