//! Hugging Face checkpoint folders through `lexalign model import DIR`, end to end against
//! the independent float64 numpy references (scripts/numpy_bert.py, scripts/numpy_llama.py):
//! scripts/check_checkpoints.py writes small synthetic checkpoints (seeded random weights,
//! real tensor names: a BertForMaskedLM with `bert.` names in bf16 shards and a
//! sentence-transformers CLS + Normalize config; a Llama with Llama 3.1 RoPE scaling in f16;
//! a Qwen2 with q/k/v biases and tied embeddings in bf16 shards) and the reference values;
//! `lexalign model import` converts them; lexalign's own embedding (padded batches) and
//! greedy generation (KV cache) must equal the reference: token ids exactly, vectors with
//! cosine ≥ 0.99999 and |Δ| ≤ 2e-3 × (1 + max |reference|), greedy tokens exactly (cut
//! where the reference's top-2 margin is under 1e-3). Also the import's one-line refusals.
//! The MiniLM folder setup downloads, imported and compared with the installed MiniLM, is
//! `minilm_folder_equals_the_installed_minilm` (#[ignore]d: `make test-checkpoints`).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::cosine;
use common::imported::{
    assert_greedy_as_reference, import, import_into, model_dir, one_line, reference,
    reference_strings,
};
use lexalign::embed::{Model, ModelOptions, Pooling};

const CASES: [&str; 3] = ["bert-tiny", "llama", "qwen2"];
const DECODERS: [&str; 2] = ["llama", "qwen2"];

fn python() -> PathBuf {
    common::root().join(".venv/bin/python")
}

/// The work folder: synthetic checkpoints, references, and the asset folder the imports
/// go to. `None` (with a message) when the set-up's venv is missing.
fn work() -> Option<&'static Path> {
    static WORK: OnceLock<Option<tempfile::TempDir>> = OnceLock::new();
    WORK.get_or_init(|| {
        if !python().is_file() {
            eprintln!("SKIPPED: the venv is missing (`make setup`)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new(python())
            .arg(common::root().join("scripts/check_checkpoints.py"))
            .args(["--synthetic", "--reference-only", "--work"])
            .arg(dir.path())
            .output()
            .unwrap();
        common::succeeds(&o);
        for case in CASES {
            let o = import(
                dir.path(),
                &[dir.path().join(case).to_str().unwrap(), "--name", case],
            );
            common::succeeds(&o);
        }
        Some(dir)
    })
    .as_ref()
    .map(|d| d.path())
}

#[test]
fn every_checkpoint_embeds_as_the_numpy_reference() {
    let Some(work) = work() else { return };
    for case in CASES {
        let r = reference(work, case);
        let dir = model_dir(work, case);
        let model = Model::load_with(&dir, &ModelOptions::default().with_threads(2)).unwrap();
        let (rows, texts) = reference_strings(case, &model, &r);
        let middle = r["middle_layer"].as_u64().unwrap() as usize;
        let base = model.embed_options().with_cache(None).with_batch_tokens(64);
        let encoder = !DECODERS.contains(&case);
        if encoder {
            // the folder's sentence-transformers config: CLS pooling, then Normalize
            assert_eq!(base.pooling, Pooling::Cls, "{case}: default pooling");
            assert!(base.normalize, "{case}: default normalize");
        } else {
            assert_eq!(base.pooling, Pooling::Last, "{case}: default pooling");
        }
        let base = base.with_normalize(false);
        let (first, middle_pool) = if encoder {
            (("cls", Pooling::Cls), Pooling::Mean)
        } else {
            (("last", Pooling::Last), Pooling::Last)
        };
        for (key, opts) in [
            (first.0, base.clone().with_pooling(first.1)),
            ("mean", base.clone().with_pooling(Pooling::Mean)),
            (
                "middle",
                base.clone()
                    .with_pooling(middle_pool)
                    .with_layer(Some(middle)),
            ),
        ] {
            let got = model.embed(&texts, &opts).unwrap().vectors;
            common::assert_rows_match(case, key, &got, &rows);
        }
    }
}

#[test]
fn decoders_generate_the_numpy_greedy_tokens() {
    let Some(work) = work() else { return };
    for case in DECODERS {
        let r = reference(work, case);
        let d = assert_greedy_as_reference(case, &model_dir(work, case), &r);
        assert_eq!(d.info().bos_token_id.is_some(), case == "llama", "{case}");
    }
}

/// Copies the folder `from` (flat, plus 1_Pooling/) to `to`.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_folder(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn import_refuses_bad_folders_in_one_line() {
    let Some(work) = work() else { return };
    let bad = work.join("bad");
    // a variant of the bert-tiny (sharded) or llama (one file) checkpoint, changed by `edit`
    let variant = |name: &str, from: &str, edit: &dyn Fn(&Path)| -> String {
        let d = bad.join(name);
        copy_folder(&work.join(from), &d);
        edit(&d);
        d.to_str().unwrap().to_string()
    };
    let try_import = |dir: &str| import(work, &[dir, "--name", "x"]);

    let d = variant("no-config", "bert-tiny", &|d| {
        std::fs::remove_file(d.join("config.json")).unwrap()
    });
    one_line(
        &try_import(&d),
        &["no-config", "is a directory without config.json"],
    );
    let d = variant("bad-json", "bert-tiny", &|d| {
        std::fs::write(d.join("config.json"), "{\"architectures\": [").unwrap()
    });
    one_line(&try_import(&d), &["config.json", "not valid JSON"]);
    let d = variant("roberta", "bert-tiny", &|d| {
        std::fs::write(
            d.join("config.json"),
            r#"{"architectures": ["RobertaModel"], "model_type": "roberta"}"#,
        )
        .unwrap()
    });
    one_line(
        &try_import(&d),
        &[
            "'RobertaModel'",
            "supported",
            "BertModel",
            "LlamaForCausalLM",
            "Qwen2ForCausalLM",
        ],
    );
    // a value of the wrong type: still one line, no traceback
    let d = variant("odd-config", "bert-tiny", &|d| {
        let c = d.join("config.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&c).unwrap()).unwrap();
        v["type_vocab_size"] = "two".into();
        std::fs::write(&c, v.to_string()).unwrap();
    });
    one_line(&try_import(&d), &["odd-config", "unexpected content"]);
    let d = variant("no-weights", "llama", &|d| {
        std::fs::remove_file(d.join("model.safetensors")).unwrap()
    });
    one_line(&try_import(&d), &["no *.safetensors"]);
    let d = variant("missing-shard", "bert-tiny", &|d| {
        std::fs::remove_file(d.join("model-00002-of-00002.safetensors")).unwrap()
    });
    one_line(
        &try_import(&d),
        &["2 shards", "missing", "model-00002-of-00002.safetensors"],
    );
    // a shard that lacks a tensor the index places in it (an older or mismatched shard)
    let d = variant("mismatched-shard", "bert-tiny", &|d| {
        let i = d.join("model.safetensors.index.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&i).unwrap()).unwrap();
        v["weight_map"]["bert.encoder.layer.9.output.dense.weight"] =
            "model-00001-of-00002.safetensors".into();
        std::fs::write(&i, v.to_string()).unwrap();
    });
    one_line(
        &try_import(&d),
        &["lacks tensor bert.encoder.layer.9.output.dense.weight"],
    );
    let d = variant("cut", "llama", &|d| {
        let p = d.join("model.safetensors");
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() / 2]).unwrap();
    });
    one_line(&try_import(&d), &["model.safetensors", "truncated"]);
    let d = variant("no-tokenizer", "qwen2", &|d| {
        std::fs::remove_file(d.join("tokenizer.json")).unwrap()
    });
    one_line(&try_import(&d), &["no tokenizer.json"]);
    // int8 weights (a quantised export): named with the supported dtypes
    let d = variant("int8", "llama", &|d| {
        let c = d.join("config.json");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&c).unwrap()).unwrap();
        v["tie_word_embeddings"] = true.into();
        std::fs::write(&c, v.to_string()).unwrap();
        std::fs::write(d.join("model.safetensors"), safetensors_with("I8", 64)).unwrap();
    });
    one_line(&try_import(&d), &["dtype I8", "F16", "BF16"]);
    one_line(
        &import(
            work,
            &[
                work.join("llama").to_str().unwrap(),
                "--name",
                "x",
                "--keep-q4",
            ],
        ),
        &["--keep-q4", "GGUF"],
    );
    // models/llama holds the llama import: another checkpoint may not replace it
    one_line(
        &import(
            work,
            &[work.join("qwen2").to_str().unwrap(), "--name", "llama"],
        ),
        &["already holds a different model"],
    );
    assert!(!work.join("assets/models/x").exists());
}

/// A safetensors file with one tensor `model.embed_tokens.weight` of `dtype`, `n` bytes.
fn safetensors_with(dtype: &str, n: usize) -> Vec<u8> {
    let mut h = format!(
        r#"{{"model.embed_tokens.weight":{{"dtype":"{dtype}","shape":[{n}],"data_offsets":[0,{n}]}}}}"#
    )
    .into_bytes();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut b = (h.len() as u64).to_le_bytes().to_vec();
    b.extend(h);
    b.extend(vec![1u8; n]);
    b
}

/// The first `count` pairs (both sides) of three paper pairings, as `make figures` builds them.
fn paper_strings(count: usize) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for p in ["hpo-label-id", "gene-name-symbol", "go-label-id"] {
        let path = common::root().join(format!("data/processed/pairs/{p}.paper.csv"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!(
                "SKIPPED: {} missing (`lexalign vocab build`)",
                path.display()
            );
            return None;
        };
        for line in text.lines().skip(1).take(count) {
            let fields = csv_fields(line);
            out.extend(fields.into_iter().take(2));
        }
    }
    Some(out)
}

/// The fields of one CSV line (RFC 4180 quoting; the pairs files have no line breaks in fields).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// (a) The MiniLM checkpoint folder setup downloads (models/source/fp32), imported, gives
/// the installed MiniLM's vectors: min cosine ≥ 0.999999 over 600 paper strings.
#[test]
#[ignore = "converts the 90 MB MiniLM checkpoint (~10 s); `make test-checkpoints`"]
fn minilm_folder_equals_the_installed_minilm() {
    let src = lexalign::assets::asset_root().join("models/source/fp32");
    let installed = lexalign::assets::default_model_dir();
    if !python().is_file() || !src.join("model.safetensors").is_file() || !installed.is_dir() {
        eprintln!(
            "SKIPPED: the venv, {} or the installed MiniLM is missing (`make setup`)",
            src.display()
        );
        return;
    }
    let Some(strings) = paper_strings(100) else {
        return;
    };
    let assets = tempfile::tempdir().unwrap();
    let o = import_into(
        assets.path(),
        &[src.to_str().unwrap(), "--name", "minilm-folder"],
    );
    common::succeeds(&o);
    let texts: Vec<&str> = strings.iter().map(String::as_str).collect();
    let opts = ModelOptions::default().with_threads(2);
    let a = Model::load_with(&installed, &opts).unwrap();
    let b = Model::load_with(assets.path().join("models/minilm-folder"), &opts).unwrap();
    let eo = a.embed_options().with_cache(None);
    assert_eq!(
        b.embed_options().pooling,
        Pooling::Mean,
        "1_Pooling/config.json says mean"
    );
    let va = a.embed(&texts, &eo).unwrap().vectors;
    let vb = b.embed(&texts, &eo).unwrap().vectors;
    let mut worst = 1.0f64;
    for i in 0..texts.len() {
        let want: Vec<f64> = va.row(i).iter().map(|&x| x as f64).collect();
        worst = worst.min(cosine(&vb.row(i).to_vec(), &want));
    }
    eprintln!(
        "MiniLM folder import vs installed: {} strings, min cosine {worst:.15}",
        texts.len()
    );
    assert!(worst >= 0.999999, "min cosine {worst}");
}
