//! Shared prefixes (a decoder's embed_past.onnx with a KV cache) give the vectors a
//! whole run gives. The reference is the same installed model loaded without its
//! embed_past graph, so every string runs whole through model.onnx (which
//! tests/integration/decoder_reference.rs checks against the float64 numpy forward pass).
//!
//! Tolerances: final states |Δ| ≤ 1e-4 and cosine ≥ 0.99999 (check_decoder.py
//! measures 3e-5 against numpy for either graph); hidden layers (activations up to
//! ~2e4) |Δ| ≤ 1e-5 × the vector's max |value|.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lexalign::embed::{EmbedOptions, Embeddings, Model, ModelOptions, Pooling};

fn installed() -> Option<PathBuf> {
    let dir = lexalign::assets::model_dir(Path::new("smollm2"));
    if dir.join("embed_past.onnx").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} has no embed_past.onnx; `make setup` installs the decoder",
            dir.display()
        );
        None
    }
}

fn load(dir: &Path) -> Model {
    let options = ModelOptions::default().with_threads(2).with_max_length(64);
    Model::load_with(dir, &options).expect("smollm2 loads")
}

/// (the installed model, the same files without embed_past), loaded once.
fn models() -> Option<&'static (Model, Model, tempfile::TempDir)> {
    static MODELS: OnceLock<Option<(Model, Model, tempfile::TempDir)>> = OnceLock::new();
    MODELS
        .get_or_init(|| {
            let dir = installed()?;
            let whole = tempfile::tempdir().unwrap();
            for f in [
                "model.onnx",
                "model.weights",
                "tokenizer.json",
                "config.json",
            ] {
                std::os::unix::fs::symlink(dir.join(f), whole.path().join(f)).unwrap();
            }
            let mut lex: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("lexalign.json")).unwrap()).unwrap();
            lex.as_object_mut().unwrap().remove("embed_past");
            std::fs::write(
                whole.path().join("lexalign.json"),
                serde_json::to_vec(&lex).unwrap(),
            )
            .unwrap();
            Some((load(&dir), load(whole.path()), whole))
        })
        .as_ref()
}

/// Strings that share prefixes in many ways: identifier families, a string that
/// begins another, duplicates, one-token strings, unicode, whitespace, the empty
/// string and two long strings equal up to the 64-token cut.
fn texts() -> Vec<String> {
    let long = "The highly regulated and programmed death of a cell in response to an intrinsic or extrinsic signal, involving caspase activation and DNA fragmentation. ".repeat(3);
    let mut t: Vec<String> = [
        "HP:0001250",
        "HP:0001251",
        "HP:0001252",
        "HP:0000118",
        "HP:0000707",
        "GO:0006915",
        "GO:0006916",
        "GO:0008150",
        "HGNC:1100",
        "HGNC:1101",
        "HGNC:11998",
        "BRCA1",
        "BRCA2",
        "BRCA1 DNA repair associated",
        "Abnormality",
        "Abnormality of the nervous system",
        "Abnormality of the eye",
        "Abnormality of the eye",
        "α-synuclein",
        "α-synuclein aggregates",
        "a",
        "a",
        " ",
        "  ",
        "",
        "TP53",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    t.push(format!("{long}one"));
    t.push(format!("{long}two"));
    t
}

fn options(model: &Model) -> EmbedOptions {
    model.embed_options().with_cache(None)
}

fn check(got: &Embeddings, want: &Embeddings, relative: bool) {
    assert_eq!(got.vectors.dim(), want.vectors.dim());
    for (i, (g, w)) in got
        .vectors
        .rows()
        .into_iter()
        .zip(want.vectors.rows())
        .enumerate()
    {
        let d = g
            .iter()
            .zip(w.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let scale = if relative {
            1e-5 * w.iter().map(|x| x.abs()).fold(0f32, f32::max)
        } else {
            1e-4
        };
        assert!(
            d <= scale,
            "{:?} (layer {:?}): |Δ| {d} > {scale}",
            got.texts[i],
            got.layer
        );
        let (dot, ng, nw) = g
            .iter()
            .zip(w.iter())
            .fold((0f64, 0f64, 0f64), |a, (x, y)| {
                let (x, y) = (*x as f64, *y as f64);
                (a.0 + x * y, a.1 + x * x, a.2 + y * y)
            });
        if ng > 0.0 || nw > 0.0 {
            let c = dot / (ng.sqrt() * nw.sqrt());
            assert!(c >= 0.99999, "{:?}: cosine {c}", got.texts[i]);
        }
    }
}

#[test]
fn shared_prefixes_give_the_whole_run_vectors() {
    let Some((shared, whole, _dir)) = models() else {
        return;
    };
    assert_eq!(shared.info().graph, "embed_past.onnx");
    assert_eq!(whole.info().graph, "model.onnx");
    let texts = texts();
    let a = shared.embed(&texts, &options(shared)).unwrap();
    let b = whole.embed(&texts, &options(whole)).unwrap();
    assert_eq!(a.pooling, Pooling::Last);
    assert!(
        a.stats.shared_tokens >= 40,
        "identifier families share their prefixes: {:?}",
        a.stats
    );
    assert!(a.stats.padding_efficiency() <= 1.0);
    assert_eq!(b.stats.shared_tokens, 0);
    assert_eq!(a.stats.real_tokens, b.stats.real_tokens);
    assert_eq!(a.stats.truncated, 2);
    assert_eq!(a.stats.no_tokens, 1, "the empty string");
    check(&a, &b, false);
    // Tiny batches mix pasts of different lengths and prefix batches of one.
    let small = shared
        .embed(&texts, &options(shared).with_batch_size(3))
        .unwrap();
    check(&small, &b, false);
    // Sharing off runs every string whole through the same graph.
    let off = shared
        .embed(&texts, &options(shared).with_share_prefixes(false))
        .unwrap();
    assert_eq!(off.stats.shared_tokens, 0);
    check(&off, &b, false);
}

#[test]
fn layers_templates_and_mean_pooling() {
    let Some((shared, whole, _dir)) = models() else {
        return;
    };
    let texts = texts();
    let a = shared
        .embed_layers(&texts, &[0, 7, 15, 30], &options(shared))
        .unwrap();
    let b = whole
        .embed_layers(&texts, &[0, 7, 15, 30], &options(whole))
        .unwrap();
    assert!(a[0].stats.shared_tokens > 0);
    for (x, y) in a.iter().zip(&b) {
        check(x, y, true);
    }
    // A template's prompt is a prefix every string shares.
    let t = Some("Question: what does {} denote? Answer in one word:".to_string());
    let a = shared
        .embed(&texts, &options(shared).with_template(t.clone()))
        .unwrap();
    let b = whole
        .embed(&texts, &options(whole).with_template(t))
        .unwrap();
    // "Question: what does" is ≥ 3 tokens before any string's own; one copy runs.
    assert!(
        a.stats.shared_tokens >= 3 * (a.stats.distinct - 1),
        "{:?}",
        a.stats
    );
    check(&a, &b, false);
    // A token budget smaller than prompt + string: continuation batches split by past.
    let tight = shared
        .embed(
            &texts,
            &options(shared)
                .with_template(Some(
                    "Question: what does {} denote? Answer in one word:".into(),
                ))
                .with_batch_tokens(24),
        )
        .unwrap();
    check(&tight, &b, false);
    assert!(tight.stats.batches > a.stats.batches);
    // Mean pooling needs every position's states: no sharing, same vectors.
    let a = shared
        .embed(&texts, &options(shared).with_pooling(Pooling::Mean))
        .unwrap();
    let b = whole
        .embed(&texts, &options(whole).with_pooling(Pooling::Mean))
        .unwrap();
    assert_eq!(a.stats.shared_tokens, 0);
    check(&a, &b, false);
}
