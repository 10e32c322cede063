//! The report end to end on small pairings: outputs exist and follow the
//! contract, numbers are consistent with an independent recomputation from the
//! embeddings, and degenerate pairings are reported, not fatal.

use crate::common;

use lexalign::embed::{EmbedOptions, Model};
use lexalign::pairs::{load_processed, Pairing, PairingMeta, Sample, Split};
use lexalign::report::{run_with, Config, Run};

fn small(name: &str, per_split: usize) -> Pairing {
    let p = load_processed(&common::root().join("data/processed"), name, Sample::Paper)
        .expect("run `lexalign vocab build` first (make test does)");
    let train: Vec<usize> = (0..p.len())
        .filter(|&i| p.split[i] == Split::Train)
        .take(per_split)
        .collect();
    let withheld: Vec<usize> = (0..p.len())
        .filter(|&i| p.split[i] == Split::Withheld)
        .take(per_split)
        .collect();
    p.select(&[train, withheld].concat())
}

fn config() -> Run {
    Config {
        bootstrap: 200,
        cache: false,
        ..Config::paper()
    }
    .resolve()
    .unwrap()
}

#[test]
fn report_writes_the_contract_and_handles_degenerate_pairings() {
    let model = Model::load_default().expect("run `make setup` first");
    let mut tiny = Pairing::new("tiny", PairingMeta::default());
    tiny.push(
        "Seizure".into(),
        "HP:0001250".into(),
        "HP:0001250".into(),
        Some(2439.0),
    );
    tiny.push(
        "Ataxia".into(),
        "HP:0001251".into(),
        "HP:0001251".into(),
        None,
    );
    let mut messy = Pairing::new("messy", PairingMeta::default());
    for (l, r) in [
        ("apoptotic process", "GO:0006915"),
        ("apoptotic process", "GO:0006915"), // duplicate
        ("BRCA1", "brca1"),                  // identical ignoring case
        ("nucleus", "GO:0005634"),
        ("cell cycle", "GO:0007049"),
        ("", "GO:0008150"), // empty string: special tokens only
    ] {
        messy.push(l.into(), r.into(), r.into(), Some(1.0));
    }
    let pairings = vec![
        small("gene-name-symbol", 40),
        small("hpo-label-id", 40),
        tiny,
        messy,
    ];
    let report = run_with(&model, &pairings, &config(), std::time::Instant::now()).unwrap();

    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].name, "tiny");
    assert!(
        report.skipped[0].reason.contains("need at least 3"),
        "{}",
        report.skipped[0].reason
    );
    let messy = report
        .analyses
        .iter()
        .find(|a| a.pairing.name == "messy")
        .unwrap();
    assert_eq!(messy.cleaning.duplicates_dropped, 1);
    assert_eq!(messy.cleaning.identical_dropped, 1);
    assert_eq!(messy.pairing.len(), 4);
    assert!(
        messy.probe.is_none(),
        "no training/withheld split, no probe"
    );

    let summary = serde_json::to_value(report.summary()).unwrap();
    for key in ["model", "data", "seed", "pairings", "caption"] {
        assert!(summary.get(key).is_some(), "summary lacks {key}");
    }
    assert!(summary["caption"]
        .as_str()
        .unwrap()
        .contains("Human Phenotype Ontology, release 2025-01-16"));
    for p in summary["pairings"].as_array().unwrap() {
        for key in [
            "name",
            "n",
            "auc",
            "auc_ci",
            "matched_mean",
            "null_mean",
            "centred_gap",
            "top1",
            "top10",
            "mrr",
            "lexicalization",
            "lexicalization_ci",
            "spearman_popularity",
        ] {
            assert!(p.get(key).is_some(), "pairing summary lacks {key}");
        }
        let auc = p["auc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc));
    }
    let gene = &summary["pairings"][0];
    assert_eq!(gene["name"], "gene-name-symbol");
    assert_eq!(gene["n"], 80);
    assert!(gene["probe"]["train_top1"].as_f64().is_some());
    assert!(gene["probe"]["withheld_top1"].as_f64().is_some());

    // Independent check: the table's cosine is the cosine of freshly embedded strings.
    let g = &report.analyses[0];
    let emb_l = model
        .embed(&g.pairing.left, &EmbedOptions::default().with_cache(None))
        .unwrap();
    let emb_r = model
        .embed(&g.pairing.right, &EmbedOptions::default().with_cache(None))
        .unwrap();
    for i in 0..g.pairing.len() {
        let (a, b) = (emb_l.vectors.row(i), emb_r.vectors.row(i));
        let cos = a.dot(&b) / (a.dot(&a).sqrt() * b.dot(&b).sqrt());
        assert!(
            (cos - g.alignment.raw.matched[i]).abs() < 1e-5,
            "row {i}: {cos} vs {}",
            g.alignment.raw.matched[i]
        );
    }
    // Lexicalisation is 1 − (rank − 1)/(N − 1) of the right→left rank.
    let n = g.pairing.len() as f64;
    for (s, r) in g
        .lexicalization
        .scores
        .iter()
        .zip(&g.retrieval.right_to_left.ranks)
    {
        assert!((s - (1.0 - (r - 1.0) / (n - 1.0))).abs() < 1e-12);
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let figs = dir.path().join("figures");
    report.write(&out, &figs).unwrap();
    let csv = std::fs::read_to_string(out.join("pairs/gene-name-symbol.csv")).unwrap();
    assert!(csv.starts_with(
        "id,left,right,popularity,bin,split,excluded,duplicate_id,lexicalization,rank_left_to_right,rank_right_to_left,cosine,cosine_centred,left_tokens,right_tokens"
    ), "{}", &csv[..200]);
    assert!(out.join("pairs/gene-name-symbol.parquet").is_file());
    assert!(out.join("summary.json").is_file());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| gene-name-symbol |"));
    for stem in [
        "fig1a_cosine_raw",
        "fig1b_cosine_centred",
        "fig2_pca",
        "fig3_retrieval",
        "fig4_lexicalization_by_popularity",
        "fig5_tokens_vs_lexicalization",
        "fig6_probe",
    ] {
        for ext in ["png", "svg"] {
            let f = figs.join(format!("{stem}.{ext}"));
            assert!(
                std::fs::metadata(&f)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{}",
                f.display()
            );
        }
        assert!(md.contains(&format!("{stem}.png")));
    }
    let leftovers: Vec<_> = std::fs::read_dir(&figs)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());

    // pca_links is honoured: the PCA figure joins that many pairs per panel.
    let links_in_pca = |n: usize| {
        let mut r = report.clone();
        r.figure_params.pca_links = n;
        let figures = r.figures().unwrap();
        let (_, fig) = figures.iter().find(|(s, _)| s == "fig2_pca").unwrap();
        fig.svg().matches("<polyline").count()
    };
    let expected =
        |k: usize| -> usize { report.analyses.iter().map(|a| a.pairing.len().min(k)).sum() };
    let (none, five, forty) = (links_in_pca(0), links_in_pca(5), links_in_pca(40));
    // One polyline per link, plus the legend's sample line once there are links.
    assert_eq!(five - none, expected(5) + 1, "pca_links = 5");
    assert_eq!(forty - five, expected(40) - expected(5), "pca_links = 40");
}

#[test]
fn same_seed_same_numbers() {
    let model = Model::load_default().unwrap();
    let pairings = vec![small("go-label-synonym", 30)];
    let a = run_with(&model, &pairings, &config(), std::time::Instant::now()).unwrap();
    let b = run_with(&model, &pairings, &config(), std::time::Instant::now()).unwrap();
    let json = |r: &lexalign::report::Report| serde_json::to_value(r.summary()).unwrap();
    assert_eq!(json(&a)["pairings"], json(&b)["pairings"]);
}

#[test]
fn config_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "seed = 1\nbootsrap = 10\n").unwrap();
    let err = Config::from_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("bad.toml:2") && err.contains("bootsrap"),
        "{err}"
    );
    std::fs::write(&path, "sample = \"half\"\n").unwrap();
    let err = Config::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("paper"), "{err}");
    // Enum values are spelled one way: "Mean" is not "mean".
    std::fs::write(&path, "pooling = \"Mean\"\n").unwrap();
    let err = Config::from_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("bad.toml:1:11") && err.contains("mean"),
        "{err}"
    );
    let shipped = Config::from_file(&common::root().join("configs/paper.toml")).unwrap();
    assert_eq!(shipped.pairings.as_ref().map(Vec::len), Some(7));
    let run = shipped.resolve().unwrap();
    assert_eq!(
        run.threads(),
        lexalign::parallel::available(),
        "threads = 0 is all cores"
    );
    assert_eq!(run.figures().pca_links, 40);
    assert_eq!(
        run.processed_dir(),
        lexalign::pairs::default_processed_dir()
    );
}

#[test]
fn resolve_checks_settings_once() {
    let bad = |c: Config| c.resolve().unwrap_err().to_string();
    assert!(bad(Config {
        bootstrap: 0,
        ..Config::paper()
    })
    .contains("bootstrap"));
    assert!(bad(Config {
        max_null: 0,
        ..Config::paper()
    })
    .contains("max_null"));
    assert!(bad(Config {
        pairings: Some(vec![]),
        ..Config::paper()
    })
    .contains("pairings"));
    // Two pairings may not share a name: it names their output files.
    let twice = |name: &str| lexalign::pairs::PairFile {
        file: "x.csv".into(),
        left: "a".into(),
        right: "b".into(),
        id: None,
        popularity: None,
        split: None,
        name: Some(name.into()),
    };
    assert!(bad(Config {
        pairs: vec![twice("hpo-label-id")],
        pairings: Some(vec!["hpo-label-id".into()]),
        ..Config::paper()
    })
    .contains("two pairings are named \"hpo-label-id\""));
    assert!(bad(Config {
        pairs: vec![twice("../x")],
        ..Config::paper()
    })
    .contains("--name"));
    // Pair files alone: no built-in pairing unless named.
    let own = Config {
        pairs: vec![twice("mine")],
        ..Config::paper()
    }
    .resolve()
    .unwrap();
    assert!(own.pairings().is_empty());
    assert_eq!(own.pairs().len(), 1);
    let empty_model = Config {
        model: Some("".into()),
        ..Config::paper()
    };
    assert!(bad(empty_model).contains("model"));
    // The model directory's own metadata supplies the pooling default.
    let run = Config::paper().resolve().unwrap();
    assert_eq!(run.embed().pooling, lexalign::embed::Pooling::Mean);
    assert_eq!(run.analysis().alignment.seed, 42);
    assert_eq!(run.analysis().probe.seed, 42);
    let seeded = Config {
        seed: 7,
        ..Config::paper()
    }
    .resolve()
    .unwrap();
    assert_eq!(seeded.analysis().bootstrap.seed, 7);
    assert_eq!(seeded.figures().seed, 7);
}
