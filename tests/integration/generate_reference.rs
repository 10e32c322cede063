//! Greedy generation against the numpy float64 reference (`greedy` section of
//! tests/fixtures/decoder_reference.json): KV cache and full recompute, one prompt at
//! a time and as left-padded batches, with and without a shared prefix. Skips (with a
//! message) only when the smollm2 model or the ONNX Runtime library is not installed.

use crate::common;

use std::sync::OnceLock;

use lexalign::generate::{Continuation, Decoder, DecoderOptions, Prefix, Stop, StopReason};

fn decoder() -> Option<&'static Decoder> {
    static DECODER: OnceLock<Option<Decoder>> = OnceLock::new();
    DECODER
        .get_or_init(|| {
            let dir = lexalign::assets::model_dir("smollm2".as_ref());
            let lib = lexalign::assets::ort_library_path();
            if !dir.join("generate.onnx").is_file() || !lib.is_file() {
                eprintln!(
                    "skipping: smollm2 ({}) or ONNX Runtime ({}) not installed",
                    dir.display(),
                    lib.display()
                );
                return None;
            }
            Some(Decoder::load(&dir, &DecoderOptions::default()).expect("load smollm2"))
        })
        .as_ref()
}

struct Case {
    prompt: String,
    prompt_ids: Vec<u32>,
    new_ids: Vec<u32>,
}

fn cases() -> (Vec<Case>, Stop) {
    let fx = common::fixture("decoder_reference.json");
    let g = &fx["greedy"];
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let cases = g["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Case {
            prompt: p["prompt"].as_str().unwrap().to_string(),
            prompt_ids: ids(&p["prompt_ids"]),
            new_ids: ids(&p["new_ids"]),
        })
        .collect();
    let stop = Stop {
        max_new_tokens: g["max_new_tokens"].as_u64().unwrap() as usize,
        at_newline: false,
    };
    (cases, stop)
}

fn tokens(out: &[Continuation]) -> Vec<Vec<u32>> {
    out.iter().map(|c| c.ids.clone()).collect()
}

#[test]
fn prompts_tokenise_as_the_reference() {
    let Some(d) = decoder() else { return };
    for c in cases().0 {
        assert_eq!(d.encode(&c.prompt).unwrap(), c.prompt_ids, "{:?}", c.prompt);
    }
}

#[test]
fn greedy_one_at_a_time_with_and_without_cache() {
    let Some(d) = decoder() else { return };
    let (cases, stop) = cases();
    let none = d.prefix(&[]).unwrap();
    for c in &cases {
        let prompt = vec![c.prompt_ids.clone()];
        let cached = d.greedy(&none, &prompt, stop).unwrap();
        assert_eq!(cached[0].ids, c.new_ids, "cache: {:?}", c.prompt);
        let full = d.greedy_no_cache(&prompt, stop).unwrap();
        assert_eq!(full[0].ids, c.new_ids, "no cache: {:?}", c.prompt);
        let eos = d.info().eos_token_ids.contains(c.new_ids.last().unwrap());
        let want = if eos {
            StopReason::Eos
        } else {
            StopReason::MaxTokens
        };
        assert_eq!(cached[0].stop, want);
    }
}

#[test]
fn greedy_as_a_left_padded_batch() {
    let Some(d) = decoder() else { return };
    let (cases, stop) = cases();
    let prompts: Vec<Vec<u32>> = cases.iter().map(|c| c.prompt_ids.clone()).collect();
    let want: Vec<Vec<u32>> = cases.iter().map(|c| c.new_ids.clone()).collect();
    let none = d.prefix(&[]).unwrap();
    assert_eq!(tokens(&d.greedy(&none, &prompts, stop).unwrap()), want);
    assert_eq!(tokens(&d.greedy_no_cache(&prompts, stop).unwrap()), want);
}

/// A shared prefix (computed once, repeated per row; padding sits between the
/// prefix and each row's own tokens) gives the tokens of the whole prompt.
#[test]
fn shared_prefix_gives_the_same_tokens() {
    let Some(d) = decoder() else { return };
    let (cases, stop) = cases();
    let chat: Vec<&Case> = cases.iter().filter(|c| c.prompt_ids.len() > 20).collect();
    let plain: Vec<&Case> = cases.iter().filter(|c| c.prompt_ids.len() <= 20).collect();
    // The chat prompt's system turn as prefix.
    let c = chat[0];
    let cut = 21;
    let prefix: Prefix = d.prefix(&c.prompt_ids[..cut]).unwrap();
    let out = d
        .greedy(&prefix, &[c.prompt_ids[cut..].to_vec()], stop)
        .unwrap();
    assert_eq!(out[0].ids, c.new_ids);
    // Plain prompts sharing their first token ("The") batched with different rest lengths.
    let the: Vec<&&Case> = plain
        .iter()
        .filter(|c| c.prompt_ids[0] == plain[0].prompt_ids[0])
        .collect();
    assert!(the.len() >= 2);
    let prefix = d.prefix(&the[0].prompt_ids[..1]).unwrap();
    let rests: Vec<Vec<u32>> = the.iter().map(|c| c.prompt_ids[1..].to_vec()).collect();
    let want: Vec<Vec<u32>> = the.iter().map(|c| c.new_ids.clone()).collect();
    assert_eq!(tokens(&d.greedy(&prefix, &rests, stop).unwrap()), want);
}

#[test]
fn stop_at_newline_and_bad_prompts_are_errors() {
    let Some(d) = decoder() else { return };
    let (cases, _) = cases();
    let c = cases
        .iter()
        .find(|c| c.prompt == "The capital of France is")
        .unwrap();
    let stop = Stop {
        max_new_tokens: 8,
        at_newline: true,
    };
    let none = d.prefix(&[]).unwrap();
    let out = d
        .greedy(&none, std::slice::from_ref(&c.prompt_ids), stop)
        .unwrap();
    // " Paris." then "\n".
    assert_eq!(out[0].ids, c.new_ids[..3]);
    assert_eq!(out[0].stop, StopReason::Newline);
    let e = d.greedy(&none, &[vec![]], stop).unwrap_err().to_string();
    assert!(e.contains("no tokens"), "{e}");
    let e = d
        .greedy(&none, &[vec![999_999]], stop)
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside the vocabulary"), "{e}");
    let zero = Stop {
        max_new_tokens: 0,
        at_newline: false,
    };
    assert!(d
        .greedy(&none, std::slice::from_ref(&c.prompt_ids), zero)
        .is_err());
    let long = vec![c.prompt_ids[0]; d.info().max_length];
    let e = d.greedy(&none, &[long], stop).unwrap_err().to_string();
    assert!(e.contains("max_length"), "{e}");
}
