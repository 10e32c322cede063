//! `report --layers`: settings are checked, a model without layers refuses it,
//! and a decoder's final layer reproduces the main per-pairing numbers.

use lexalign::embed::Model;
use lexalign::pairs::{Pairing, PairingMeta};
use lexalign::report::{run_with, Config, LayerSetting, Layers};

fn pairing() -> Pairing {
    let mut p = Pairing::new("genes", PairingMeta::default());
    for (l, r) in [
        ("tumor protein p53", "TP53"),
        ("BRCA1 DNA repair associated", "BRCA1"),
        ("epidermal growth factor receptor", "EGFR"),
        ("insulin", "INS"),
        ("hemoglobin subunit beta", "HBB"),
        ("apolipoprotein E", "APOE"),
        (
            "cystic fibrosis transmembrane conductance regulator",
            "CFTR",
        ),
        ("huntingtin", "HTT"),
    ] {
        p.push(l.into(), r.into(), r.into(), None);
    }
    p
}

fn config(layers: &str) -> Config {
    Config {
        bootstrap: 50,
        cache: false,
        threads: std::num::NonZeroUsize::new(2),
        layers: Some(LayerSetting::Text(layers.into())),
        ..Config::paper()
    }
}

#[test]
fn layer_settings_are_checked() {
    let check = |s: LayerSetting| s.check();
    assert_eq!(
        check(LayerSetting::Text("all".into())).unwrap(),
        Layers::All
    );
    assert_eq!(
        check(LayerSetting::Text("10, 0,5".into())).unwrap(),
        Layers::List(vec![0, 5, 10])
    );
    for bad in ["", "1,1", "x", "1;2", "-1"] {
        let err = check(LayerSetting::Text(bad.into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("layers"), "{bad:?}: {err}");
    }
    assert!(check(LayerSetting::List(vec![])).is_err());
    // TOML takes a list or text.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.toml");
    std::fs::write(&path, "layers = [0, 15, 30]\n").unwrap();
    let c = Config::from_file(&path).unwrap();
    assert_eq!(c.layers, Some(LayerSetting::List(vec![0, 15, 30])));
    std::fs::write(&path, "layers = \"all\"\n").unwrap();
    let run = Config::from_file(&path).unwrap().resolve().unwrap();
    assert_eq!(run.layers(), Some(&Layers::All));
    // Depth is checked against the model.
    assert_eq!(Layers::All.resolve("m", Some(3)).unwrap(), vec![0, 1, 2, 3]);
    let err = Layers::List(vec![0, 31])
        .resolve("m", Some(30))
        .unwrap_err();
    assert!(err.to_string().contains("0..=30"), "{err}");
}

#[test]
fn a_model_without_layers_refuses_them() {
    let model = Model::load_default().expect("run `make setup` first");
    let err = run_with(
        &model,
        &[pairing()],
        &config("all").resolve().unwrap(),
        std::time::Instant::now(),
    )
    .unwrap_err();
    let root = err.root().to_string();
    assert!(
        root.contains("layers") && root.contains("smollm2"),
        "{root}"
    );
}

#[test]
fn decoder_layers_end_at_the_main_numbers() {
    let dir = lexalign::assets::model_dir(std::path::Path::new("smollm2"));
    if !dir.join("model.onnx").exists() {
        eprintln!("skipped: smollm2 not installed ({})", dir.display());
        return;
    }
    let c = Config {
        model: Some("smollm2".into()),
        ..config("0,15,30")
    };
    let run = c.resolve().unwrap();
    let model = Model::load_with(run.model_dir(), run.model()).unwrap();
    let report = run_with(&model, &[pairing()], &run, std::time::Instant::now()).unwrap();
    let layers: Vec<usize> = report.layers.iter().map(|l| l.layer).collect();
    assert_eq!(layers, [0, 15, 30]);
    let main = &report.analyses[0];
    let last = &report.layers[2].pairings[0];
    assert_eq!(last.name, "genes");
    assert!((last.auc - main.alignment.centred.auc.estimate).abs() < 1e-6);
    assert!((last.lexicalization - main.lexicalization.mean.estimate).abs() < 1e-6);
    assert!((last.top1_left_to_right - main.retrieval.left_to_right.top1).abs() < 1e-6);
    // Token embeddings (layer 0) are not the final states.
    assert_ne!(report.layers[0].pairings[0].auc, last.auc);
    let json = serde_json::to_value(report.summary()).unwrap();
    assert_eq!(json["layers"].as_array().unwrap().len(), 3);
    assert!(json["layers"][1]["pairings"][0]["auc_ci"].is_array());
    let stems: Vec<String> = report.figures().unwrap().into_iter().map(|f| f.0).collect();
    assert!(stems.contains(&"fig7_layers_auc".to_string()), "{stems:?}");
    assert!(stems.contains(&"fig7_layers_lexicalization".to_string()));
    // Without --layers nothing changes: no `layers` key, no fig7.
    let plain = Config { layers: None, ..c }.resolve().unwrap();
    let r = run_with(&model, &[pairing()], &plain, std::time::Instant::now()).unwrap();
    assert!(serde_json::to_value(r.summary())
        .unwrap()
        .get("layers")
        .is_none());
    assert!(r
        .figures()
        .unwrap()
        .iter()
        .all(|f| !f.0.starts_with("fig7")));
}
