//! The decoder path (SmolLM2-135M-Instruct, data/external/models/smollm2) against
//! an independent float64 numpy forward pass and BPE (scripts/numpy_llama.py →
//! tests/fixtures/decoder_reference.json, max_length 64, vectors not normalised):
//! token ids, last / mean / static / layer-15 vectors, padding, truncation, and the
//! empty and whitespace strings.
//!
//! Tolerances: final states (last, mean) and static rows |Δ| ≤ 1e-3 and cosine ≥
//! 0.99999; layer 15 (activations up to ~2e4) |Δ| ≤ 1e-5 × the vector's max |value|.

use crate::common;

use std::sync::OnceLock;

use common::{cosine, fixture, floats};
use lexalign::embed::{EmbedOptions, Model, ModelKind, ModelOptions, Pooling};

const LAYER: usize = 15;

fn model_dir() -> std::path::PathBuf {
    lexalign::assets::model_dir(std::path::Path::new("smollm2"))
}

/// The model at max_length 64 (as the fixture), loaded once; `None` (with a
/// message) when the decoder is not installed.
fn model() -> Option<&'static Model> {
    static MODEL: OnceLock<Option<Model>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = model_dir();
            if !dir.join("model.onnx").is_file() {
                eprintln!(
                    "SKIPPED: {} is missing; `make setup` installs the decoder (scripts/setup.sh)",
                    dir.display()
                );
                return None;
            }
            let options = ModelOptions::default().with_threads(2).with_max_length(64);
            Some(Model::load_with(&dir, &options).expect("smollm2 loads"))
        })
        .as_ref()
}

fn fx() -> &'static serde_json::Value {
    static FX: OnceLock<serde_json::Value> = OnceLock::new();
    FX.get_or_init(|| fixture("decoder_reference.json"))
}

fn strings() -> Vec<&'static serde_json::Value> {
    fx()["strings"].as_array().unwrap().iter().collect()
}

fn texts() -> Vec<String> {
    strings()
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect()
}

/// The model's own options, no cache; batches of at most 256 padded tokens, so the
/// 64-token string does not pad every other string to 64 (still padded batches).
fn options(model: &Model) -> EmbedOptions {
    model
        .embed_options()
        .with_cache(None)
        .with_batch_tokens(256)
}

fn max_abs(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs())
        .fold(0.0, f64::max)
}

/// Compares every non-empty string's row of `got` with the fixture's `key`.
/// `relative`: |Δ| over the reference's max |value| (for mid layers).
fn compare(key: &str, got: &ndarray::Array2<f32>, relative: bool) -> f64 {
    let mut worst = 0.0f64;
    let mut worst_cos = 1.0f64;
    for (i, s) in strings().iter().enumerate() {
        let row = got.row(i).to_vec();
        if s["n_tokens"].as_u64() == Some(0) {
            assert!(
                row.iter().all(|&x| x == 0.0),
                "{key}: the empty string's vector is zero"
            );
            continue;
        }
        let reference = floats(&s[key]);
        assert_eq!(row.len(), reference.len(), "{key} width");
        let d = max_abs(&row, &reference);
        let c = cosine(&row, &reference);
        let text = s["text"].as_str().unwrap();
        if relative {
            let scale = reference.iter().map(|x| x.abs()).fold(0.0, f64::max);
            let r = d / scale;
            assert!(
                r <= 1e-5,
                "{key}: |Δ| {d} = {r:e} of max |value| {scale} for {text:?}"
            );
            worst = worst.max(r);
        } else {
            assert!(d <= 1e-3, "{key}: |Δ| {d} for {text:?}");
            assert!(c >= 0.99999, "{key}: cosine {c} for {text:?}");
            worst = worst.max(d);
        }
        worst_cos = worst_cos.min(c);
    }
    eprintln!(
        "{key}: worst {} {worst:.3e}, worst cosine {worst_cos:.12}",
        if relative { "relative |Δ|" } else { "|Δ|" }
    );
    worst
}

#[test]
fn metadata_drives_the_defaults() {
    let Some(model) = model() else { return };
    let info = model.info();
    assert_eq!(info.kind, ModelKind::Decoder);
    assert_eq!(info.layers, Some(30));
    assert_eq!(info.hidden_states.as_deref(), Some("hidden_states"));
    assert_eq!(info.pooling, Pooling::Last);
    assert!(!info.normalize);
    assert_eq!(info.dim, Some(576));
    assert_eq!(info.max_length, 64);
    assert!(info.inputs.contains(&"position_ids".to_string()));
    assert_eq!(
        lexalign::embed::default_pooling(&model_dir()).unwrap(),
        Pooling::Last
    );
    // No leading special token: cls would read the first word.
    let e = model
        .embed(&["BRCA1"], &options(model).with_pooling(Pooling::Cls))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cls"), "{e}");
    let e = model
        .embed(&["BRCA1"], &options(model).with_layer(Some(31)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("31") && e.contains("0 (token embeddings) to 30"),
        "{e}"
    );
    let e = model
        .embed(
            &["BRCA1"],
            &options(model).with_static(true).with_layer(Some(3)),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("static"), "{e}");
}

#[test]
fn token_ids_equal_the_independent_bpe() {
    let Some(model) = model() else { return };
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let encodings = model.encode(&refs).unwrap();
    for (s, e) in strings().iter().zip(&encodings) {
        let want: Vec<u32> = s["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(e.get_ids(), &want[..], "ids of {:?}", s["text"]);
    }
    let long = strings()
        .into_iter()
        .find(|s| s.get("n_tokens_untruncated").is_some())
        .unwrap();
    assert!(long["n_tokens_untruncated"].as_u64().unwrap() > 64);
    assert_eq!(long["ids"].as_array().unwrap().len(), 64);
}

#[test]
fn vectors_equal_the_float64_reference() {
    let Some(model) = model() else { return };
    let texts = texts();
    let opts = options(model);
    let last = model.embed(&texts, &opts).unwrap();
    assert_eq!(last.pooling, Pooling::Last);
    assert_eq!(last.stats.truncated, 1, "the long string is cut at 64");
    assert_eq!(last.stats.no_tokens, 1, "the empty string");
    assert_eq!(last.stats.empty, 1);
    compare("last", &last.vectors, false);
    let mean = model
        .embed(&texts, &opts.clone().with_pooling(Pooling::Mean))
        .unwrap();
    compare("mean", &mean.vectors, false);
    let stat = model
        .embed(&texts, &opts.clone().with_static(true))
        .unwrap();
    assert_eq!(stat.stats.no_tokens, 1);
    compare("static", &stat.vectors, false);
    // Layer 15 and the final layer in one pass; the final layer is last_hidden_state.
    let layers = model.embed_layers(&texts, &[0, LAYER, 30], &opts).unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[1].layer, Some(LAYER));
    compare("layer15", &layers[1].vectors, true);
    let d = layers[2]
        .vectors
        .iter()
        .zip(last.vectors.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(d <= 1e-5, "layer 30 = last_hidden_state: |Δ| {d}");
    // Layer 0 at the last token is that token's input-embedding row.
    let matrix = model.static_matrix().unwrap();
    for (i, s) in strings().iter().enumerate() {
        if let Some(id) = s["ids"].as_array().unwrap().last() {
            let row = matrix.row(id.as_u64().unwrap() as usize);
            let d = row
                .iter()
                .zip(layers[0].vectors.row(i))
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(d <= 1e-6, "layer 0 of {:?}: |Δ| {d}", s["text"]);
        }
    }
    // embed(layer) is embed_layers' entry.
    let one = model
        .embed(&texts[..4], &opts.clone().with_layer(Some(LAYER)))
        .unwrap();
    assert_eq!(one.layer, Some(LAYER));
    for i in 0..4 {
        let d = one
            .vectors
            .row(i)
            .iter()
            .zip(layers[1].vectors.row(i))
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let scale = one
            .vectors
            .row(i)
            .iter()
            .map(|x| x.abs())
            .fold(1f32, f32::max);
        assert!(d <= 1e-5 * scale, "embed(layer) vs embed_layers: {d}");
    }
}

#[test]
fn a_padded_batch_equals_one_at_a_time() {
    let Some(model) = model() else { return };
    let texts = texts();
    // Loose packing and whole strings: batches really padded.
    let opts = options(model)
        .with_packing(Some(lexalign::embed::Packing::Loose))
        .with_share_prefixes(false);
    let batched = model.embed_layers(&texts, &[LAYER, 30], &opts).unwrap();
    assert!(batched[0].stats.batches < texts.len() / 2, "really batched");
    assert!(batched[0].stats.padding_efficiency() < 1.0, "really padded");
    let single = model
        .embed_layers(&texts, &[LAYER, 30], &opts.clone().with_batch_size(1))
        .unwrap();
    assert_eq!(single[0].stats.padding_efficiency(), 1.0);
    for (b, s) in batched.iter().zip(&single) {
        for (i, text) in texts.iter().enumerate() {
            let (rb, rs) = (b.vectors.row(i), s.vectors.row(i));
            let scale = rs.iter().map(|x| x.abs()).fold(0f32, f32::max).max(1.0);
            let d = rb
                .iter()
                .zip(rs)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(
                d <= 1e-5 * scale,
                "layer {:?} of {text:?}: batched vs alone |Δ| {d}",
                b.layer
            );
        }
    }
}

#[test]
fn empty_and_whitespace_strings() {
    let Some(model) = model() else { return };
    let texts = ["", " ", "\n", "BRCA1", ""];
    let emb = model.embed(&texts, &options(model)).unwrap();
    // Counted over the input strings, repeats included (issue 24): both "".
    assert_eq!(emb.stats.no_tokens, 2, "two empty strings");
    assert_eq!(emb.stats.empty, 2);
    assert_eq!(emb.stats.computed, 4);
    assert!(emb.vectors.row(0).iter().all(|&x| x == 0.0));
    assert!(emb.vectors.row(4).iter().all(|&x| x == 0.0));
    for (i, text) in texts.iter().enumerate().take(4).skip(1) {
        assert!(emb.vectors.row(i).iter().any(|&x| x != 0.0), "{text:?}");
    }
    let alone = model.embed(&[""], &options(model)).unwrap();
    assert_eq!(alone.stats.batches, 0, "never a T = 0 model call");
    assert!(alone.vectors.iter().all(|&x| x == 0.0));
    assert_eq!(alone.vectors.ncols(), 576);
    let tokens = model.token_embeddings_layers(&["", " "], &[0, 30]).unwrap();
    assert_eq!(tokens[0][0].vectors.nrows(), 0);
    assert_eq!(tokens[1][1].ids, vec![216]);
    assert_eq!(tokens[1][1].byte_offsets, vec![(0, 1)]);
}

#[test]
fn token_vectors_have_byte_offsets_and_match_pooling() {
    let Some(model) = model() else { return };
    let texts = ["HP:0001250", "神经系统异常", "naïve café"];
    let tokens = model.token_embeddings_layers(&texts, &[LAYER, 30]).unwrap();
    let last = model
        .embed_layers(&texts, &[LAYER, 30], &options(model))
        .unwrap();
    for (i, per_layer) in tokens.iter().enumerate() {
        for (k, t) in per_layer.iter().enumerate() {
            assert_eq!(t.layer, last[k].layer);
            let n = t.vectors.nrows();
            assert_eq!(n, t.ids.len());
            for &(s, e) in &t.byte_offsets {
                assert!(texts[i].is_char_boundary(s) && texts[i].is_char_boundary(e) && s < e);
            }
            let d = t
                .vectors
                .row(n - 1)
                .iter()
                .zip(last[k].vectors.row(i))
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            let scale = t.vectors.iter().map(|x| x.abs()).fold(1f32, f32::max);
            assert!(d <= 1e-5 * scale, "{:?} layer {:?}: {d}", texts[i], t.layer);
        }
    }
    let hp = &tokens[0][1];
    assert_eq!(hp.tokens[0], "HP");
    assert_eq!(hp.byte_offsets[0], (0, 2));
    assert_eq!(hp.byte_offsets[8], (9, 10));
    // 神 is three byte-level pieces, each covering the character's 3 bytes.
    assert_eq!(&tokens[1][0].byte_offsets[..3], &[(0, 3), (0, 3), (0, 3)]);
}

#[test]
fn static_rows_come_from_the_external_weights() {
    let Some(model) = model() else { return };
    assert_eq!(
        model.static_matrix_name().unwrap(),
        "model.embed_tokens.weight"
    );
    assert_eq!(model.static_matrix().unwrap().dim(), (49152, 576));
}

#[test]
fn cli_tokens_vectors_and_embed_layer() {
    use polars::prelude::*;
    if model().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "HP:0001250\n \nBRCA1\n").unwrap();
    let out = dir.path().join("tokens.csv");
    let vectors = dir.path().join("vectors.parquet");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_lexalign"))
            .args(args)
            .args(["--model", "smollm2", "--threads", "2", "--quiet"])
            .output()
            .unwrap()
    };
    let p = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let o = run(&[
        "tokens",
        "--input",
        &p(&input),
        "--output",
        &p(&out),
        "--vectors",
        &p(&vectors),
        "--layer",
        "all",
    ]);
    common::succeeds(&o);
    let file = std::fs::File::open(&vectors).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    // (9 + 1 + 3 tokens) × 31 layers.
    assert_eq!(df.height(), 13 * 31);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "string_index",
            "text",
            "token_index",
            "piece",
            "token_id",
            "start",
            "end",
            "layer",
            "vector"
        ]
    );
    // Rows of string 0 at layer 15 (eager filter: the crate builds polars without its lazy engine).
    let mask = {
        let si = df.column("string_index").unwrap().u32().unwrap();
        let layer = df.column("layer").unwrap().u32().unwrap();
        let keep: Vec<bool> = si
            .iter()
            .zip(layer.iter())
            .map(|(s, l)| s == Some(0) && l == Some(15))
            .collect();
        BooleanChunked::from_slice("keep".into(), &keep)
    };
    let hp = df.filter(&mask).unwrap();
    assert_eq!(hp.height(), 9);
    let start: Vec<Option<u32>> = (0..9)
        .map(|i| hp.column("start").unwrap().u32().unwrap().get(i))
        .collect();
    let end: Vec<Option<u32>> = (0..9)
        .map(|i| hp.column("end").unwrap().u32().unwrap().get(i))
        .collect();
    assert_eq!(start[0], Some(0));
    assert_eq!(end[0], Some(2));
    assert_eq!(end[8], Some(10));
    let piece = hp
        .column("piece")
        .unwrap()
        .str()
        .unwrap()
        .get(1)
        .map(str::to_string);
    assert_eq!(piece.as_deref(), Some(":"));

    let npy = dir.path().join("e.npy");
    let o = run(&[
        "embed",
        "--input",
        &p(&input),
        "--output",
        &p(&npy),
        "--layer",
        "31",
        "--no-cache",
    ]);
    common::fails_with(&o, &["layer", "0 (token embeddings) to 30"]);
    let o = run(&[
        "tokens",
        "--input",
        &p(&input),
        "--output",
        &p(&out),
        "--vectors",
        &p(&dir.path().join("v.csv")),
    ]);
    common::fails_with(&o, &["--vectors", "parquet"]);
}

fn gguf() -> std::path::PathBuf {
    lexalign::assets::asset_root().join("models/source/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// `lexalign model import` with the asset folder at `assets` (ONNX Runtime stays
/// the installed one).
fn import(assets: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lexalign"))
        .args(["model", "import"])
        .args(args)
        .env("LEXALIGN_ASSETS", assets)
        .env("ORT_DYLIB_PATH", lexalign::assets::ort_library_path())
        .output()
        .unwrap()
}

#[test]
fn model_import_refuses_clearly() {
    if !gguf().is_file() {
        eprintln!("SKIPPED: {} is missing (`make setup`)", gguf().display());
        return;
    }
    let g = gguf();
    let g = g.to_str().unwrap();
    let assets = tempfile::tempdir().unwrap();
    let o = import(
        assets.path(),
        &[g, "--name", "x", "--python", "/nonexistent/python"],
    );
    common::fails_with(&o, &["/nonexistent/python", "make setup"]);
    let o = import(assets.path(), &[g, "--name", "minilm"]);
    common::fails_with(&o, &["taken"]);
    let o = import(assets.path(), &[g, "--name", "../up"]);
    common::fails_with(&o, &["--name"]);
    let o = import(assets.path(), &["/nonexistent.gguf", "--name", "x"]);
    common::fails_with(&o, &["no such GGUF"]);
    // A folder that is not an imported model, and a different imported model.
    let models = assets.path().join("models");
    std::fs::create_dir_all(models.join("mine")).unwrap();
    let o = import(assets.path(), &[g, "--name", "mine"]);
    common::fails_with(&o, &["not a model imported"]);
    std::fs::create_dir_all(models.join("other")).unwrap();
    std::fs::write(
        models.join("other/lexalign.json"),
        r#"{"gguf_sha256": "00ff", "variant": "fp32"}"#,
    )
    .unwrap();
    let o = import(assets.path(), &[g, "--name", "other"]);
    common::fails_with(&o, &["already holds a different model"]);
    assert!(!models.join("other/model.onnx").exists());
}

/// Converts the installed SmolLM2 GGUF (~10–20 s, 540 MB in a temp folder), then
/// `--model NAME` gives the installed model's vectors; a second import is a no-op.
#[test]
#[ignore = "converts a GGUF (~15 s, 540 MB of temp files); run with --ignored"]
fn model_import_converts_and_the_name_resolves() {
    let Some(installed) = model() else { return };
    let g = gguf();
    let assets = tempfile::tempdir().unwrap();
    // --fp32: the installed model is the fp32 conversion (import keeps quantised by default)
    let args = [g.to_str().unwrap(), "--name", "smol-copy", "--fp32"];
    let o = import(assets.path(), &args);
    common::succeeds(&o);
    assert!(common::stderr(&o).contains("--model smol-copy"));
    let dir = assets.path().join("models/smol-copy");
    let copy = Model::load_with(
        &dir,
        &ModelOptions::default().with_threads(2).with_max_length(64),
    )
    .unwrap();
    assert_eq!(copy.info().kind, ModelKind::Decoder);
    let texts = texts();
    let a = copy.embed(&texts, &options(&copy)).unwrap();
    let b = installed.embed(&texts, &options(installed)).unwrap();
    assert_eq!(a.vectors, b.vectors);
    let again = import(assets.path(), &args);
    common::succeeds(&again);
    assert!(common::stderr(&again).contains("up to date"));
    // `--model smol-copy` resolves to the imported folder.
    let input = assets.path().join("in.txt");
    std::fs::write(&input, "BRCA1\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_lexalign"))
        .args(["embed", "--model", "smol-copy", "--no-cache", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(assets.path().join("e.npy"))
        .env("LEXALIGN_ASSETS", assets.path())
        .env("ORT_DYLIB_PATH", lexalign::assets::ort_library_path())
        .output()
        .unwrap();
    common::succeeds(&o);
}
