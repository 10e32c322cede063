//! Imported models against their Python references (`model import` of synthetic GGUF
//! files and checkpoint folders; the references are numpy forward passes written as
//! WORK/NAME.reference.json).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lexalign::embed::Model;
use lexalign::generate::{Decoder, DecoderOptions, Stop};

/// `lexalign --quiet model import ARGS` with the asset folder at ASSETS.
pub fn import_into(assets: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lexalign"))
        .args(["--quiet", "model", "import"])
        .args(args)
        .env("LEXALIGN_ASSETS", assets)
        .env("ORT_DYLIB_PATH", lexalign::assets::ort_library_path())
        .output()
        .unwrap()
}

/// `model import` into WORK/assets.
pub fn import(work: &Path, args: &[&str]) -> Output {
    import_into(&work.join("assets"), args)
}

/// The model NAME imported into WORK/assets.
pub fn model_dir(work: &Path, name: &str) -> PathBuf {
    work.join("assets/models").join(name)
}

pub fn reference(work: &Path, name: &str) -> serde_json::Value {
    let p = work.join(format!("{name}.reference.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// The reference's strings and their texts; the model's token ids must equal the reference's.
pub fn reference_strings<'a>(
    label: &str,
    model: &Model,
    r: &'a serde_json::Value,
) -> (Vec<&'a serde_json::Value>, Vec<&'a str>) {
    let rows: Vec<&serde_json::Value> = r["strings"].as_array().unwrap().iter().collect();
    let texts: Vec<&str> = rows.iter().map(|s| s["text"].as_str().unwrap()).collect();
    for (s, e) in rows.iter().zip(model.encode(&texts).unwrap()) {
        assert_eq!(
            e.get_ids(),
            &ids(&s["ids"])[..],
            "{label}: ids of {:?}",
            s["text"]
        );
    }
    (rows, texts)
}

/// Loads the decoder in DIR and checks its prompt ids (BOS included where the model wants
/// one) and its first greedy tokens (one left-padded batch with the KV cache) against the
/// reference's `greedy` cases. Returns the decoder for further checks.
pub fn assert_greedy_as_reference(label: &str, dir: &Path, r: &serde_json::Value) -> Decoder {
    let d = Decoder::load(dir, &DecoderOptions::default()).unwrap();
    let cases = r["greedy"].as_array().unwrap();
    let prompts: Vec<Vec<u32>> = cases.iter().map(|c| ids(&c["prompt_ids"])).collect();
    for (c, p) in cases.iter().zip(&prompts) {
        // encode adds no BOS; a model that wants one says so in bos_token_id
        let mut want = d.info().bos_token_id.into_iter().collect::<Vec<u32>>();
        want.extend(d.encode(c["prompt"].as_str().unwrap()).unwrap());
        assert_eq!(&want, p, "{label}: prompt ids");
    }
    let stop = Stop {
        max_new_tokens: 6,
        at_newline: false,
    };
    let none = d.prefix(&[]).unwrap();
    let out = d.greedy(&none, &prompts, stop).unwrap();
    for (c, o) in cases.iter().zip(&out) {
        let want = ids(&c["new_ids"]);
        assert!(!want.is_empty(), "{label}: nothing to compare");
        assert_eq!(
            &o.ids[..want.len().min(o.ids.len())],
            &want[..],
            "{label}: greedy after {:?}",
            c["prompt"]
        );
    }
    d
}

/// A refusal: exit status 1, the needles in stderr, one line and no Python traceback.
pub fn one_line(o: &Output, needles: &[&str]) {
    super::fails_with(o, needles);
    let err = super::stderr(o);
    assert!(!err.contains("Traceback"), "a Python traceback: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}
