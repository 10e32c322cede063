//! Every GGUF family `lexalign model import` converts (llama, llama with the Llama 3
//! tokenizer, qwen2, qwen3, gemma3, phi3), end to end against the independent float64
//! numpy forward pass (scripts/numpy_llama.py): scripts/check_families.py writes a small
//! synthetic checkpoint per family (seeded random weights, the family's tensor names and
//! metadata, 3 or 6 layers) and the reference values; `lexalign model import` converts it;
//! lexalign's own embedding (padded batches, prefix sharing as the model's defaults) and
//! greedy generation (KV cache, one padded batch) must equal the reference:
//! token ids exactly, last-token / mean / middle-layer vectors with cosine ≥ 0.99999 and
//! |Δ| ≤ 2e-3 × (1 + max |reference|), greedy tokens exactly (cut where the reference's
//! top-2 margin is under 1e-3). Also the import's one-line refusals of bad input.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::imported::{
    assert_greedy_as_reference, import, model_dir, one_line, reference, reference_strings,
};
use lexalign::embed::{Model, ModelOptions, Pooling};

const FAMILIES: [&str; 6] = ["llama", "llama3", "qwen2", "qwen3", "gemma3", "phi3"];

fn python() -> PathBuf {
    common::root().join(".venv/bin/python")
}

/// The work folder: synthetic GGUFs, references, and the asset folder the imports go to.
/// `None` (with a message) when the set-up's venv or the SmolLM2 GGUF (the BPE vocab the
/// synthetic tokenizers start from) is missing.
fn work() -> Option<&'static Path> {
    static WORK: OnceLock<Option<tempfile::TempDir>> = OnceLock::new();
    WORK.get_or_init(|| {
        let smol = lexalign::assets::asset_root()
            .join("models/source/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
        if !python().is_file() || !smol.is_file() {
            eprintln!(
                "SKIPPED: the venv or {} is missing (`make setup`)",
                smol.display()
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new(python())
            .arg(common::root().join("scripts/check_families.py"))
            .args(["--synthetic", "--reference-only", "--work"])
            .arg(dir.path())
            .env("LEXALIGN_ASSETS", lexalign::assets::asset_root())
            .output()
            .unwrap();
        common::succeeds(&o);
        for fam in FAMILIES {
            let o = import(
                dir.path(),
                &[fam_gguf(dir.path(), fam).to_str().unwrap(), "--name", fam],
            );
            common::succeeds(&o);
        }
        Some(dir)
    })
    .as_ref()
    .map(|d| d.path())
}

fn fam_gguf(work: &Path, fam: &str) -> PathBuf {
    work.join(format!("{fam}.gguf"))
}

#[test]
fn every_family_embeds_as_the_numpy_reference() {
    let Some(work) = work() else { return };
    for fam in FAMILIES {
        let r = reference(work, fam);
        let dir = model_dir(work, fam);
        let model = Model::load_with(&dir, &ModelOptions::default().with_threads(2)).unwrap();
        let (rows, texts) = reference_strings(fam, &model, &r);
        let base = model.embed_options().with_cache(None).with_batch_tokens(64);
        let middle = r["middle_layer"].as_u64().unwrap() as usize;
        for (key, opts) in [
            ("last", base.clone().with_pooling(Pooling::Last)),
            ("mean", base.clone().with_pooling(Pooling::Mean)),
            (
                "middle",
                base.clone()
                    .with_pooling(Pooling::Last)
                    .with_layer(Some(middle)),
            ),
        ] {
            let got = model.embed(&texts, &opts).unwrap().vectors;
            common::assert_rows_match(fam, key, &got, &rows);
        }
    }
}

#[test]
fn every_family_generates_the_numpy_greedy_tokens() {
    let Some(work) = work() else { return };
    for fam in FAMILIES {
        let r = reference(work, fam);
        assert_greedy_as_reference(fam, &model_dir(work, fam), &r);
    }
}

#[test]
fn import_refuses_bad_input_in_one_line() {
    let Some(work) = work() else { return };
    let bad = work.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let p = |name: &str| bad.join(name).to_str().unwrap().to_string();
    std::fs::write(bad.join("empty.gguf"), b"").unwrap();
    one_line(
        &import(work, &[&p("empty.gguf"), "--name", "x"]),
        &["empty"],
    );
    std::fs::write(bad.join("text.gguf"), b"hello, not a model\n").unwrap();
    one_line(
        &import(work, &[&p("text.gguf"), "--name", "x"]),
        &["not a GGUF file"],
    );
    one_line(
        &import(work, &[bad.to_str().unwrap(), "--name", "x"]),
        &["is a directory"],
    );
    let fifo = bad.join("fifo.gguf");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if made.map(|s| s.success()).unwrap_or(false) {
        one_line(
            &import(work, &[&p("fifo.gguf"), "--name", "x"]),
            &["not a regular file"],
        );
    }
    let whole = std::fs::read(fam_gguf(work, "qwen2")).unwrap();
    std::fs::write(bad.join("cut.gguf"), &whole[..whole.len() / 2]).unwrap();
    one_line(
        &import(work, &[&p("cut.gguf"), "--name", "x"]),
        &["cut.gguf", "truncated"],
    );
    std::fs::write(bad.join("head.gguf"), &whole[..64]).unwrap();
    one_line(
        &import(work, &[&p("head.gguf"), "--name", "x"]),
        &["truncated"],
    );
    let long = "n".repeat(240);
    one_line(
        &import(
            work,
            &[fam_gguf(work, "qwen2").to_str().unwrap(), "--name", &long],
        ),
        &["--name", "too long"],
    );
    let long_path = format!("{}/{}.gguf", bad.display(), "p".repeat(300));
    one_line(&import(work, &[&long_path, "--name", "x"]), &["too long"]);
    // an architecture and a tokenizer lexalign does not convert: the supported ones listed
    std::fs::write(
        bad.join("mamba.gguf"),
        gguf_with(&[("general.architecture", "mamba")]),
    )
    .unwrap();
    one_line(
        &import(work, &[&p("mamba.gguf"), "--name", "x"]),
        &["'mamba'", "llama, qwen2, qwen3, gemma3, phi3"],
    );
    std::fs::write(
        bad.join("wpm.gguf"),
        gguf_with(&[
            ("general.architecture", "llama"),
            ("tokenizer.ggml.model", "bert"),
        ]),
    )
    .unwrap();
    one_line(
        &import(work, &[&p("wpm.gguf"), "--name", "x"]),
        &["'bert'", "supported", "SentencePiece"],
    );
    assert!(!work.join("assets/models/x").exists());
}

/// A GGUF v3 file with string key-values only and no tensors.
fn gguf_with(kv: &[(&str, &str)]) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.extend((kv.len() as u64).to_le_bytes());
    for (k, v) in kv {
        b.extend((k.len() as u64).to_le_bytes());
        b.extend(k.as_bytes());
        b.extend(8u32.to_le_bytes()); // GGUF_TYPE_STRING
        b.extend((v.len() as u64).to_le_bytes());
        b.extend(v.as_bytes());
    }
    b
}

/// Q5_K linear weights stay quantised and exact (8-bit MatMulNBits, zero point 0, minus
/// the sub-block sums of x times the mins, scripts/gguf_to_onnx.py): a small llama
/// checkpoint in Q5_K (hidden 256, ffn 512, random blocks), converted with the default
/// (keep quantised), equals the float64 numpy reference (scripts/check_families.py:
/// cosine ≥ 0.99999, |Δ| ≤ 2e-3 × (1 + max |ref|), greedy tokens), with every linear
/// weight run as MatMulNBits with the correction term.
#[test]
fn q5_k_weights_are_kept_and_equal_the_numpy_reference() {
    let smol = lexalign::assets::asset_root()
        .join("models/source/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !python().is_file() || !smol.is_file() {
        eprintln!("SKIPPED: the venv or {} is missing", smol.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("q5k.json");
    let o = Command::new(python())
        .arg(common::root().join("scripts/check_families.py"))
        .args([
            "--synthetic",
            "--families",
            "llama",
            "--weights",
            "q5_k",
            "--strings",
            "6",
            "--prompts",
            "1",
            "--work",
        ])
        .arg(dir.path())
        .arg("--json")
        .arg(&json)
        .env("LEXALIGN_ASSETS", lexalign::assets::asset_root())
        .output()
        .unwrap();
    common::succeeds(&o);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let r = &r[0];
    assert_eq!(r["ok"], true, "{r}");
    // 3 layers × 7 linear weights, each Q5_K, each with its correction
    assert_eq!(r["kept"]["Q5_K"], 21, "{r}");
    assert_eq!(r["kept"]["corrections"], 21, "{r}");
    assert!(r["last_min_cosine"].as_f64().unwrap() >= 0.99999, "{r}");
}

/// The converter's lexalign.json, for every family, is read whole by the Rust
/// manifest (no key the reader does not know) and says what the import made.
#[test]
fn every_family_manifest_is_read_whole() {
    let Some(work) = work() else { return };
    for fam in FAMILIES {
        let dir = model_dir(work, fam);
        let m = lexalign::model::Manifest::read(&dir).unwrap().unwrap();
        assert_eq!(m.unknown_keys(), Vec::<String>::new(), "{fam}");
        assert_eq!(m.kind(), lexalign::model::ModelKind::Decoder, "{fam}");
        assert_eq!(m.pooling(), Pooling::Last, "{fam}");
        let g = m.generate.as_ref().unwrap();
        assert!(g.kv_heads.unwrap() > 0 && g.head_dim.unwrap() > 0, "{fam}");
        assert!(!g.eos_token_ids.as_ref().unwrap().is_empty(), "{fam}");
        let ext = m.word_embeddings.as_ref().unwrap().external_data.as_ref();
        assert!(ext.unwrap().location.is_some(), "{fam}");
        assert!(m.embed_past.as_ref().unwrap().file.is_some(), "{fam}");
    }
}

/// Token-embedding tables kept as GGUF blocks (untied tables, default import): Q4_K with
/// its mins, Q6_K with int8 sub-block scales, and phi3's Q8_0. lexalign widens the kept
/// parts for `--static` vectors; every value must equal gguf's own dequantiser, bit for
/// bit (the graph's row Gather does the same f32 products; phi3 embeds and generates as
/// the numpy reference in the tests above).
#[test]
fn kept_embedding_tables_equal_the_gguf_dequantiser() {
    let Some(work) = work() else { return };
    let kept = work.join("kept");
    std::fs::create_dir_all(&kept).unwrap();
    let mut cases = vec![(fam_gguf(work, "phi3"), model_dir(work, "phi3"))];
    for embd in ["q4_k", "q6_k"] {
        let g = kept.join(format!("{embd}.gguf"));
        let o = Command::new(python())
            .arg(common::root().join("scripts/make_synthetic_gguf.py"))
            .arg(&g)
            .args(["--preset", "tiny", "--family", "llama", "--layers", "1"])
            .args(["--weights", "q4_k", "--embd", embd, "--untied"])
            .args(["--hidden", "256", "--ffn", "512", "--heads", "4"])
            .args([
                "--head-dim",
                "64",
                "--trim-vocab",
                "4096",
                "--tokenizer-from",
            ])
            .arg(work.join("tokenizer-source.gguf"))
            .output()
            .unwrap();
        common::succeeds(&o);
        let name = format!("kept-{embd}");
        common::succeeds(&import(work, &[g.to_str().unwrap(), "--name", &name]));
        cases.push((g, model_dir(work, &name)));
    }
    for (gguf, dir) in cases {
        let m = lexalign::model::Manifest::read(&dir).unwrap().unwrap();
        let we = m.word_embeddings.as_ref().unwrap();
        assert_eq!(we.dtype.as_deref(), Some("kept"), "{}", dir.display());
        let npy = kept.join(format!(
            "{}.npy",
            dir.file_name().unwrap().to_str().unwrap()
        ));
        let o = Command::new(python())
            .args(["-c", "import sys, gguf, numpy as np\nfrom gguf.quants import dequantize\n\
t = {t.name: t for t in gguf.GGUFReader(sys.argv[1]).tensors}['token_embd.weight']\n\
np.save(sys.argv[2], dequantize(np.asarray(t.data), t.tensor_type).reshape(-1, int(t.shape[0])).astype('<f4'))"])
            .arg(&gguf)
            .arg(&npy)
            .output()
            .unwrap();
        common::succeeds(&o);
        let want = lexalign::io::read_npy(&npy).unwrap();
        let model = Model::load_with(&dir, &ModelOptions::default().with_threads(1)).unwrap();
        let got = model.static_matrix().unwrap();
        assert_eq!(got.shape(), want.shape(), "{}", dir.display());
        let differ = got
            .iter()
            .zip(want.iter())
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(differ, 0, "{}: values differ from gguf's", dir.display());
    }
}
