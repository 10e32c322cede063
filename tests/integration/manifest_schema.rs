//! The Python writers of lexalign.json and the Rust reader agree: every key a writer
//! emits is a field of `lexalign::model::Manifest` (none lands in its `other` maps),
//! with the type the reader expects. Checked on scripts/prepare_models.py's writer
//! function itself, and on every installed model's manifest (MiniLM from
//! prepare_models.py; SmolLM2 and Gemma 3 from scripts/gguf_to_onnx.py, whose
//! per-family output tests/integration/gguf_families.rs checks the same way).

use crate::common;

use std::process::Command;

use lexalign::embed::Pooling;
use lexalign::model::{Manifest, ModelKind};

fn strict(text: &str, what: &str) -> Manifest {
    let m = Manifest::parse(text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
    assert_eq!(m.unknown_keys(), Vec::<String>::new(), "{what}");
    m
}

#[test]
fn prepare_models_writer_matches_the_reader() {
    let python = common::root().join(".venv/bin/python");
    if !python.is_file() {
        eprintln!("SKIPPED: no .venv (`make setup`)");
        return;
    }
    let code = r#"
import json, sys
sys.path.insert(0, "scripts")
import prepare_models as p
cfg = {"hidden_size": 384}
out = {
    "fp32": p.lexalign_json("fp32", 128, cfg, {"initializer": "e", "dtype": "float32"}),
    "int8": p.lexalign_json("int8", 128, cfg, {"initializer": "q", "dtype": "int8", "scale": "s",
                                               "dequantize": "float(q[row, col]) * scale[row, 0]"}),
}
print(json.dumps(out))
"#;
    let o = Command::new(&python)
        .args(["-c", code])
        .current_dir(common::root())
        .output()
        .unwrap();
    common::succeeds(&o);
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (variant, v) in all.as_object().unwrap() {
        let m = strict(&v.to_string(), variant);
        assert_eq!(m.variant.as_deref(), Some(variant.as_str()));
        assert_eq!(m.kind(), ModelKind::Encoder);
        assert_eq!((m.pooling, m.normalize), (Some(Pooling::Mean), Some(true)));
        assert_eq!((m.max_length, m.hidden_size), (Some(128), Some(384)));
    }
}

#[test]
fn installed_manifests_are_read_whole() {
    let models = lexalign::assets::asset_root().join("models");
    let Ok(entries) = std::fs::read_dir(&models) else {
        eprintln!("SKIPPED: no installed models at {}", models.display());
        return;
    };
    let mut seen = 0;
    for entry in entries.flatten() {
        let path = entry.path().join("lexalign.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let m = strict(&text, &path.display().to_string());
        if let Some(g) = &m.generate {
            assert_eq!(m.kind(), ModelKind::Decoder, "{}", path.display());
            assert!(
                g.vocab_size.is_some() && g.kv_heads.is_some(),
                "{}",
                path.display()
            );
        }
        seen += 1;
    }
    eprintln!("{seen} installed manifests read whole");
}
