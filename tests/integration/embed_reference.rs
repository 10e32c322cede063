//! The Rust engine against an independent reference: Python onnxruntime +
//! tokenizers on the same model directory (tests/fixtures/embed_reference*.json,
//! made by scripts/make_reference.py). Every string, every pooling: cosine ≥ 0.99999.

use crate::common;

use common::{cosine, fixture, floats};
use lexalign::embed::{EmbedOptions, Model, ModelOptions, Pooling};

fn load(dir: &str) -> Model {
    Model::load(common::root().join(dir)).expect("model loads (run `make setup` first)")
}

fn texts(fx: &serde_json::Value) -> Vec<String> {
    fx["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect()
}

fn check(model: &Model, fx: &serde_json::Value, key: &str, options: EmbedOptions) {
    let texts = texts(fx);
    let emb = model.embed(&texts, &options.with_cache(None)).unwrap();
    assert_eq!(emb.vectors.nrows(), texts.len());
    let mut worst = 1.0f64;
    for (i, s) in fx["strings"].as_array().unwrap().iter().enumerate() {
        let reference = floats(&s["embeddings"][key]);
        let got = emb.vectors.row(i).to_vec();
        assert_eq!(got.len(), reference.len(), "{key} dim for {:?}", texts[i]);
        if key == "static" && s["static_empty"].as_bool().unwrap() {
            assert!(
                got.iter().all(|&x| x == 0.0),
                "static of a string without tokens is zero: {:?}",
                texts[i]
            );
            continue;
        }
        let c = cosine(&got, &reference);
        worst = worst.min(c);
        assert!(c >= 0.99999, "{key}: cosine {c} for {:?}", texts[i]);
        if key == "mean_norm" {
            let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
        }
    }
    eprintln!(
        "{key}: worst cosine {worst:.9} over {} strings",
        texts.len()
    );
}

#[test]
fn fp32_matches_python_for_every_pooling() {
    let fx = fixture("embed_reference.json");
    assert!(fx["strings"].as_array().unwrap().len() >= 50);
    let model = load("data/external/models/all-MiniLM-L6-v2");
    assert_eq!(
        model.info().onnx_sha256,
        fx["model"]["model_onnx_sha256"].as_str().unwrap()
    );
    check(&model, &fx, "mean", EmbedOptions::default());
    check(
        &model,
        &fx,
        "mean_norm",
        EmbedOptions::default().with_normalize(true),
    );
    check(
        &model,
        &fx,
        "cls",
        EmbedOptions::default().with_pooling(Pooling::Cls),
    );
    check(
        &model,
        &fx,
        "last",
        EmbedOptions::default().with_pooling(Pooling::Last),
    );
    check(
        &model,
        &fx,
        "static",
        EmbedOptions::default().with_static(true),
    );
    // Small batches give the same vectors as one big batch.
    check(
        &model,
        &fx,
        "mean",
        EmbedOptions::default()
            .with_batch_size(3)
            .with_batch_tokens(64),
    );
}

#[test]
fn int8_matches_python() {
    let fx = fixture("embed_reference_int8.json");
    let model = load("data/external/models/all-MiniLM-L6-v2-int8");
    check(&model, &fx, "mean", EmbedOptions::default());
    check(
        &model,
        &fx,
        "mean_norm",
        EmbedOptions::default().with_normalize(true),
    );
    check(
        &model,
        &fx,
        "static",
        EmbedOptions::default().with_static(true),
    );
}

#[test]
fn token_stats_and_offsets_match_python() {
    let fx = fixture("embed_reference.json");
    let model = load("data/external/models/all-MiniLM-L6-v2");
    let texts = texts(&fx);
    let stats = model.token_stats(&texts).unwrap();
    let tokens = model.token_embeddings(&texts).unwrap();
    let mut truncated = 0;
    for ((s, st), te) in fx["strings"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&stats)
        .zip(&tokens)
    {
        let t = &st.text;
        assert_eq!(
            st.n_tokens as u64,
            s["n_tokens"].as_u64().unwrap(),
            "n_tokens {t:?}"
        );
        assert_eq!(
            st.n_continuation as u64,
            s["n_continuation"].as_u64().unwrap(),
            "continuation {t:?}"
        );
        assert_eq!(
            st.n_unknown as u64,
            s["n_unknown"].as_u64().unwrap(),
            "unknown {t:?}"
        );
        assert_eq!(
            st.single_token,
            s["single_token"].as_bool().unwrap(),
            "single {t:?}"
        );
        assert_eq!(
            st.truncated,
            s["truncated"].as_bool().unwrap(),
            "truncated {t:?}"
        );
        truncated += st.truncated as usize;
        let ids: Vec<u32> = s["input_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(te.ids, ids, "ids {t:?}");
        let ref_tokens: Vec<&str> = s["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(te.tokens, ref_tokens, "tokens {t:?}");
        let offsets: Vec<(usize, usize)> = s["offsets_char"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().unwrap() as usize,
                    p[1].as_u64().unwrap() as usize,
                )
            })
            .collect();
        assert_eq!(te.offsets, offsets, "offsets {t:?}");
        assert_eq!(te.vectors.nrows(), ids.len());
        // The mean of the token vectors is the mean-pooled embedding.
        let mean = te.vectors.mean_axis(ndarray::Axis(0)).unwrap().to_vec();
        assert!(
            cosine(&mean, &floats(&s["embeddings"]["mean"])) >= 0.99999,
            "token vectors {t:?}"
        );
    }
    assert!(
        truncated >= 1,
        "the fixture holds a string longer than the maximum length"
    );
    let brca1 = model.token_stats(&["BRCA1"]).unwrap().remove(0);
    assert_eq!(brca1.pieces, vec!["br", "##ca", "##1"]);
    assert_eq!(brca1.n_continuation, 2);
}

#[test]
fn duplicates_are_embedded_once_and_order_is_kept() {
    let model = load("data/external/models/all-MiniLM-L6-v2");
    let texts = ["TP53", "Seizure", "TP53", "", "Seizure", "HP:0001250"];
    let emb = model
        .embed(&texts, &EmbedOptions::default().with_cache(None))
        .unwrap();
    assert_eq!(emb.stats.distinct, 4);
    assert_eq!(emb.stats.computed, 4);
    assert_eq!(emb.stats.empty, 1);
    assert_eq!(emb.vectors.row(0), emb.vectors.row(2));
    assert_eq!(emb.vectors.row(1), emb.vectors.row(4));
    assert_ne!(emb.vectors.row(0), emb.vectors.row(1));
    let single = model
        .embed(&["HP:0001250"], &EmbedOptions::default().with_cache(None))
        .unwrap();
    let diff = (&single.vectors.row(0) - &emb.vectors.row(5))
        .mapv(f32::abs)
        .fold(0f32, |a, &b| a.max(b));
    assert!(diff < 1e-5, "batch composition changes a vector by {diff}");
}

#[test]
fn thread_count_is_resolved_at_load_and_does_not_change_vectors() {
    let dir = common::root().join("data/external/models/all-MiniLM-L6-v2");
    let texts = [
        "TP53",
        "Seizure",
        "HP:0001250",
        "apoptotic process",
        "GO:0006915",
    ];
    let options = EmbedOptions::default().with_cache(None);
    let mut runs = vec![];
    for threads in [1, 2] {
        let model = Model::load_with(&dir, &ModelOptions::default().with_threads(threads)).unwrap();
        assert_eq!(model.threads().get(), threads);
        runs.push(model.embed(&texts, &options).unwrap().vectors);
    }
    assert_eq!(runs[0], runs[1], "vectors depend on the thread count");
    let all = Model::load_with(&dir, &ModelOptions::default().with_threads(0)).unwrap();
    assert_eq!(all.threads(), lexalign::parallel::available());
}

#[test]
fn cache_serves_second_run_and_rebuilds_corrupt_file() {
    let model = load("data/external/models/all-MiniLM-L6-v2");
    let dir = tempfile::tempdir().unwrap();
    let options = EmbedOptions::default().with_cache(Some(dir.path().to_path_buf()));
    let texts = ["apoptotic process", "GO:0006915", "BRCA1"];
    let first = model.embed(&texts, &options).unwrap();
    assert_eq!(first.stats.computed, 3);
    let second = model.embed(&texts, &options).unwrap();
    assert_eq!(second.stats.computed, 0);
    assert_eq!(second.stats.from_cache, 3);
    assert_eq!(first.vectors, second.vectors);
    // A different pooling is a different cache entry.
    let cls = model
        .embed(&texts, &options.clone().with_pooling(Pooling::Cls))
        .unwrap();
    assert_eq!(cls.stats.computed, 3);
    // Corrupt every cache file: detected, recomputed, same numbers.
    for f in walk(dir.path()) {
        let mut bytes = std::fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(&f, bytes).unwrap();
    }
    let third = model.embed(&texts, &options).unwrap();
    assert_eq!(
        third.stats.computed, 3,
        "a corrupt cache is rebuilt, not used"
    );
    assert!(third
        .stats
        .cache_state
        .as_deref()
        .unwrap()
        .contains("Rebuilt"));
    assert_eq!(first.vectors, third.vectors);
    // A foreign file (valid format, other model) is not used either.
    let files = walk(dir.path());
    std::fs::write(&files[0], b"LXCACHE1 not really").unwrap();
    let fourth = model.embed(&texts, &options).unwrap();
    assert_eq!(first.vectors, fourth.vectors);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
