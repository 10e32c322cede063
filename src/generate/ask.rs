//! `lexalign ask`: few-shot greedy questions over a pairing (term → id or id → term),
//! each answer scored against the truth. See docs/ASK.md for the prompt and the rules.

use std::collections::HashSet;
use std::time::Instant;

use polars::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Continuation, Decoder, DecoderInfo, Prefix, Stop};
use crate::error::{Error, Result};
use crate::pairs::{Pairing, Split};

/// Which side is asked and which is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Left (term, name, label) in, right (identifier, symbol) out.
    TermToId,
    /// Right in, left out.
    IdToTerm,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::TermToId => "term-to-id",
            Direction::IdToTerm => "id-to-term",
        }
    }
}

/// How the few-shot prompt is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum PromptStyle {
    /// Plain completion: `Q: x\nA: y\n\n` blocks, then `Q: x\nA:` (the default).
    #[default]
    Plain,
    /// ChatML turns (SmolLM2's chat template): one user/assistant pair per shot.
    Chat,
}

impl PromptStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            PromptStyle::Plain => "plain",
            PromptStyle::Chat => "chat",
        }
    }
}

/// Settings of one `ask` run.
#[derive(Debug, Clone, Serialize)]
pub struct AskOptions {
    pub direction: Direction,
    pub style: PromptStyle,
    /// Few-shot examples (0 allowed).
    pub shots: usize,
    /// Ask at most this many items (a seeded random subset, kept in table order).
    pub limit: Option<usize>,
    /// Seeds the choice of shots and of the `limit` subset.
    pub seed: u64,
    pub max_new_tokens: usize,
    /// Items per generation batch.
    pub batch: usize,
    #[serde(skip)]
    pub progress: bool,
}

impl Default for AskOptions {
    fn default() -> Self {
        AskOptions {
            direction: Direction::TermToId,
            style: PromptStyle::Plain,
            shots: 3,
            limit: None,
            seed: 42,
            max_new_tokens: 16,
            batch: 8,
            progress: false,
        }
    }
}

impl AskOptions {
    pub fn validate(&self) -> Result<()> {
        crate::ensure!(
            self.max_new_tokens >= 1,
            Error::param("max-new-tokens", "0; expected at least 1")
        );
        crate::ensure!(
            self.batch >= 1,
            Error::param("batch", "0; expected at least 1")
        );
        crate::ensure!(
            self.limit != Some(0),
            Error::param("limit", "0; expected at least 1")
        );
        crate::ensure!(
            self.shots <= 64,
            Error::param("shots", format!("{}; expected 0 to 64", self.shots))
        );
        Ok(())
    }
}

/// One asked item.
#[derive(Debug, Clone, Serialize)]
pub struct AskItem {
    /// The pairing's concept_id (the join key of `lexalign outcome`).
    pub id: String,
    pub input: String,
    /// The continuation up to the first line break (or EOS), trimmed.
    pub answer: String,
    pub truth: String,
    pub correct: bool,
    pub correct_normalised: bool,
    pub split: Split,
    /// Tokens of the item's own prompt part (after the shared few-shot prefix).
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    /// `eos`, `newline`, `max_tokens`, or `too_long` (prompt over the model's length; not run).
    pub stop: String,
}

/// A shot as shown in the prompt.
#[derive(Debug, Clone, Serialize)]
pub struct Shot {
    pub id: String,
    pub input: String,
    pub answer: String,
}

/// Provenance and summary of a run (the CSV's `.meta.json` sidecar).
#[derive(Debug, Clone, Serialize)]
pub struct AskMeta {
    pub lexalign_version: &'static str,
    pub model: DecoderInfo,
    pub pairing: String,
    pub pairing_description: String,
    pub options: AskOptions,
    /// One item's prompt: the prefix (system turn and shots) then the query; `{input}` marks the item.
    pub prompt_template: String,
    pub prefix_text: String,
    pub prefix_tokens: usize,
    pub shot_pool: &'static str,
    pub shots: Vec<Shot>,
    pub labels: [String; 2],
    pub normalisation: &'static str,
    pub items: usize,
    pub correct: usize,
    pub correct_normalised: usize,
    pub accuracy: f64,
    pub accuracy_normalised: f64,
    pub empty_answers: usize,
    pub too_long: usize,
    pub stops: std::collections::BTreeMap<String, usize>,
    pub new_tokens: usize,
    pub prefix_seconds: f64,
    pub generation_seconds: f64,
    pub tokens_per_second: f64,
    pub items_per_second: f64,
}

/// A finished run: items in table order and the sidecar.
#[derive(Debug, Clone)]
pub struct AskRun {
    pub items: Vec<AskItem>,
    pub meta: AskMeta,
}

/// How answers are compared for `correct_normalised`.
pub const NORMALISATION: &str = "both sides: trim, drop one trailing '.', collapse runs of \
whitespace to one space, lower-case (Unicode); then a CURIE-like identifier PREFIX:DIGITS or \
PREFIX_DIGITS (PREFIX letters only) is written prefix:digits without leading zeros, so \
HP:0001250 = hp_0001250 = HP:1250. Symbols without ':'/'_' (ABCA10) are compared as text.";

/// `s` normalised as [`NORMALISATION`] says.
pub fn normalise(s: &str) -> String {
    let t = s.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    let text = t
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if let Some(i) = text.find([':', '_']) {
        let (prefix, digits) = (&text[..i], &text[i + 1..]);
        if !prefix.is_empty()
            && prefix.chars().all(char::is_alphabetic)
            && !digits.is_empty()
            && digits.bytes().all(|c| c.is_ascii_digit())
        {
            let n = digits.trim_start_matches('0');
            return format!("{prefix}:{}", if n.is_empty() { "0" } else { n });
        }
    }
    text
}

/// The question and answer labels: the pairing's `left_kind` / `right_kind` with a
/// capital first letter ("HPO label", "HPO ID"); "Term" / "Identifier" when empty.
pub fn labels(pairing: &Pairing, direction: Direction) -> [String; 2] {
    let cap = |s: &str, default: &str| {
        let s = s.trim();
        let s = if s.is_empty() { default } else { s };
        let mut c = s.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    };
    let left = cap(&pairing.meta.left_kind, "term");
    let right = cap(&pairing.meta.right_kind, "identifier");
    match direction {
        Direction::TermToId => [left, right],
        Direction::IdToTerm => [right, left],
    }
}

/// The prompt pieces: text blocks tokenised one at a time.
struct Template {
    style: PromptStyle,
    q: String,
    a: String,
}

impl Template {
    fn system(&self) -> Option<String> {
        match self.style {
            PromptStyle::Plain => None,
            PromptStyle::Chat => Some(format!(
                "<|im_start|>system\nGive the {} for the {} the user writes. Answer with the {} only.<|im_end|>\n",
                self.a, self.q, self.a
            )),
        }
    }
    fn shot(&self, x: &str, y: &str) -> String {
        match self.style {
            PromptStyle::Plain => format!("{}: {x}\n{}: {y}\n\n", self.q, self.a),
            PromptStyle::Chat => {
                format!("<|im_start|>user\n{x}<|im_end|>\n<|im_start|>assistant\n{y}<|im_end|>\n")
            }
        }
    }
    fn query(&self, x: &str) -> String {
        match self.style {
            PromptStyle::Plain => format!("{}: {x}\n{}:", self.q, self.a),
            PromptStyle::Chat => {
                format!("<|im_start|>user\n{x}<|im_end|>\n<|im_start|>assistant\n")
            }
        }
    }
    /// The template with placeholders, for the sidecar.
    fn describe(&self, shots: usize) -> String {
        let mut s = self.system().unwrap_or_default();
        for _ in 0..shots {
            s.push_str(&self.shot("{shot input}", "{shot answer}"));
        }
        s.push_str(&self.query("{input}"));
        s
    }
}

/// The answer text of a continuation: EOS ids dropped, cut at the first line
/// break, trimmed.
pub fn answer_text(decoder: &Decoder, c: &Continuation) -> Result<String> {
    let ids: Vec<u32> = c
        .ids
        .iter()
        .copied()
        .filter(|id| !decoder.info().eos_token_ids.contains(id))
        .collect();
    let text = decoder.decode(&ids)?;
    let line = text.split(['\n', '\r']).next().unwrap_or("");
    Ok(line.trim().to_string())
}

/// Asks every chosen item of `pairing` (see the module docs and docs/ASK.md), in
/// stages where the data changes shape: check → draw (shots, items) → prompt start
/// (its KV cache once) → generate (length-sorted batches) → score → summarise.
pub fn ask(decoder: &Decoder, pairing: &Pairing, options: &AskOptions) -> Result<AskRun> {
    check(decoder, pairing, options)?;
    let sides = Sides::of(pairing, options.direction);
    let draw = draw(pairing, &sides, options)?;
    let labels = labels(pairing, options.direction);
    let template = Template {
        style: options.style,
        q: labels[0].clone(),
        a: labels[1].clone(),
    };
    let start = prompt_start(decoder, &template, &sides, &draw.shots)?;
    let queries: Vec<Vec<u32>> = draw
        .asked
        .iter()
        .map(|&i| decoder.encode(&template.query(sides.inputs[i].trim())))
        .collect::<Result<_>>()?;
    let generated = generate(decoder, &start.prefix, &queries, options)?;
    let items = score(
        decoder,
        pairing,
        &sides,
        &draw.asked,
        &queries,
        &generated.results,
    )?;
    let meta = summarise(
        decoder, pairing, &sides, options, &template, &draw, &start, &generated, labels, &items,
    );
    Ok(AskRun { items, meta })
}

/// Settings that depend on the model and the pairing.
fn check(decoder: &Decoder, pairing: &Pairing, options: &AskOptions) -> Result<()> {
    options.validate()?;
    let context = decoder.info().max_length;
    crate::ensure!(
        options.max_new_tokens < context,
        Error::param(
            "max-new-tokens",
            format!(
                "{}; model {} takes at most {context} tokens for prompt and answer together (max_length), so at most {} new tokens",
                options.max_new_tokens,
                decoder.info().name,
                context.saturating_sub(1)
            )
        )
    );
    crate::ensure!(
        !pairing.is_empty(),
        Error::data(format!("pairing {}", pairing.name), "no rows")
    );
    Ok(())
}

/// What is asked and what answers it, per row.
struct Sides<'p> {
    inputs: &'p [String],
    truths: &'p [String],
}

impl<'p> Sides<'p> {
    fn of(pairing: &'p Pairing, direction: Direction) -> Self {
        let (inputs, truths) = match direction {
            Direction::TermToId => (&pairing.left, &pairing.right),
            Direction::IdToTerm => (&pairing.right, &pairing.left),
        };
        Sides { inputs, truths }
    }

    fn usable(&self, i: usize) -> bool {
        !self.inputs[i].trim().is_empty() && !self.truths[i].trim().is_empty()
    }
}

/// The seeded draw: the shot rows, the rows asked (table order) and where the
/// shots came from.
struct Draw {
    shots: Vec<usize>,
    asked: Vec<usize>,
    shot_pool: &'static str,
}

fn draw(pairing: &Pairing, sides: &Sides, options: &AskOptions) -> Result<Draw> {
    let train: Vec<usize> = (0..pairing.len())
        .filter(|&i| pairing.split[i] == Split::Train)
        .filter(|&i| sides.usable(i))
        .collect();
    let (pool, shot_pool) = if train.is_empty() {
        (
            (0..pairing.len())
                .filter(|&i| sides.usable(i))
                .collect::<Vec<_>>(),
            "all rows (no training split); shots are never asked",
        )
    } else {
        (train, "training split; shots are never asked")
    };
    crate::ensure!(
        pool.len() >= options.shots,
        Error::param(
            "shots",
            format!(
                "{}; only {} usable rows to draw examples from",
                options.shots,
                pool.len()
            )
        )
    );
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let shots: Vec<usize> = pool
        .choose_multiple(&mut rng, options.shots)
        .copied()
        .collect();
    let taken: HashSet<usize> = shots.iter().copied().collect();
    let mut asked: Vec<usize> = (0..pairing.len()).filter(|i| !taken.contains(i)).collect();
    if let Some(n) = options.limit.filter(|&n| n < asked.len()) {
        asked = asked.choose_multiple(&mut rng, n).copied().collect();
        asked.sort_unstable();
    }
    crate::ensure!(
        !asked.is_empty(),
        Error::data(
            format!("pairing {}", pairing.name),
            "no items left to ask after taking the shots"
        )
    );
    Ok(Draw {
        shots,
        asked,
        shot_pool,
    })
}

/// The shared prompt start (BOS, system turn, shots): its text, and its KV cache
/// computed once.
struct PromptStart {
    text: String,
    prefix: Prefix,
    seconds: f64,
}

fn prompt_start(
    decoder: &Decoder,
    template: &Template,
    sides: &Sides,
    shots: &[usize],
) -> Result<PromptStart> {
    let mut text = String::new();
    // The model's BOS (Gemma's <bos>) starts the prompt; SmolLM2 has none.
    let mut ids: Vec<u32> = decoder.info().bos_token_id.into_iter().collect();
    let blocks = template.system().into_iter().chain(
        shots
            .iter()
            .map(|&i| template.shot(sides.inputs[i].trim(), sides.truths[i].trim())),
    );
    for block in blocks {
        ids.extend(decoder.encode(&block)?);
        text.push_str(&block);
    }
    let started = Instant::now();
    let prefix = decoder.prefix(&ids)?;
    Ok(PromptStart {
        text,
        prefix,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Each query's continuation (`None`: prompt start + query + answer would not fit),
/// how many ran, and the generation's wall time.
struct Generated {
    results: Vec<Option<Continuation>>,
    ran: usize,
    seconds: f64,
}

fn generate(
    decoder: &Decoder,
    prefix: &Prefix,
    queries: &[Vec<u32>],
    options: &AskOptions,
) -> Result<Generated> {
    let stop = Stop {
        max_new_tokens: options.max_new_tokens,
        at_newline: true,
    };
    let limit = decoder.info().max_length;
    let fits = |q: &Vec<u32>| prefix.len() + q.len() + options.max_new_tokens <= limit;
    // Similar lengths together: less padding. Results go back to table order.
    let mut order: Vec<usize> = (0..queries.len()).filter(|&k| fits(&queries[k])).collect();
    order.sort_by_key(|&k| queries[k].len());
    let mut results: Vec<Option<Continuation>> = vec![None; queries.len()];
    let bar = crate::progress::bar(options.progress, queries.len() as u64, "ask");
    bar.inc((queries.len() - order.len()) as u64);
    let started = Instant::now();
    for chunk in order.chunks(options.batch) {
        let prompts: Vec<Vec<u32>> = chunk.iter().map(|&k| queries[k].clone()).collect();
        let out = decoder.greedy(prefix, &prompts, stop)?;
        for (&k, c) in chunk.iter().zip(out) {
            results[k] = Some(c);
        }
        bar.inc(chunk.len() as u64);
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(Generated {
        results,
        ran: order.len(),
        seconds,
    })
}

/// One row per asked item: the answer against the truth.
fn score(
    decoder: &Decoder,
    pairing: &Pairing,
    sides: &Sides,
    asked: &[usize],
    queries: &[Vec<u32>],
    results: &[Option<Continuation>],
) -> Result<Vec<AskItem>> {
    let mut items = Vec::with_capacity(asked.len());
    for (k, &i) in asked.iter().enumerate() {
        let truth = sides.truths[i].trim().to_string();
        let (answer, new_tokens, stop) = match &results[k] {
            Some(c) => (
                answer_text(decoder, c)?,
                c.ids.len(),
                c.stop.as_str().to_string(),
            ),
            None => (String::new(), 0, "too_long".to_string()),
        };
        let correct = !answer.is_empty() && answer == truth;
        let correct_normalised = !answer.is_empty() && normalise(&answer) == normalise(&truth);
        items.push(AskItem {
            id: pairing.concept_id[i].clone(),
            input: sides.inputs[i].trim().to_string(),
            answer,
            truth,
            correct,
            correct_normalised,
            split: pairing.split[i],
            prompt_tokens: queries[k].len(),
            new_tokens,
            stop,
        });
    }
    Ok(items)
}

/// The run's provenance and counts.
#[allow(clippy::too_many_arguments)]
fn summarise(
    decoder: &Decoder,
    pairing: &Pairing,
    sides: &Sides,
    options: &AskOptions,
    template: &Template,
    draw: &Draw,
    start: &PromptStart,
    generated: &Generated,
    labels: [String; 2],
    items: &[AskItem],
) -> AskMeta {
    let n = items.len();
    let correct = items.iter().filter(|x| x.correct).count();
    let correct_normalised = items.iter().filter(|x| x.correct_normalised).count();
    let new_tokens: usize = items.iter().map(|x| x.new_tokens).sum();
    let mut stops = std::collections::BTreeMap::new();
    for x in items {
        *stops.entry(x.stop.clone()).or_insert(0) += 1;
    }
    let per_s = |x: usize| {
        if generated.seconds > 0.0 {
            x as f64 / generated.seconds
        } else {
            0.0
        }
    };
    AskMeta {
        lexalign_version: env!("CARGO_PKG_VERSION"),
        model: decoder.info().clone(),
        pairing: pairing.name.clone(),
        pairing_description: pairing.meta.description.clone(),
        options: options.clone(),
        prompt_template: template.describe(draw.shots.len()),
        prefix_text: start.text.clone(),
        prefix_tokens: start.prefix.len(),
        shot_pool: draw.shot_pool,
        shots: draw
            .shots
            .iter()
            .map(|&i| Shot {
                id: pairing.concept_id[i].clone(),
                input: sides.inputs[i].trim().to_string(),
                answer: sides.truths[i].trim().to_string(),
            })
            .collect(),
        labels,
        normalisation: NORMALISATION,
        items: n,
        correct,
        correct_normalised,
        accuracy: correct as f64 / n as f64,
        accuracy_normalised: correct_normalised as f64 / n as f64,
        empty_answers: items.iter().filter(|x| x.answer.is_empty()).count(),
        too_long: items.iter().filter(|x| x.stop == "too_long").count(),
        stops,
        new_tokens,
        prefix_seconds: start.seconds,
        generation_seconds: generated.seconds,
        tokens_per_second: per_s(new_tokens),
        items_per_second: per_s(generated.ran),
    }
}

impl AskRun {
    /// The per-item table: id, input, answer, truth, correct, correct_normalised (0/1),
    /// split, prompt_tokens, new_tokens, stop.
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        let col = |f: fn(&AskItem) -> String| -> Vec<String> { self.items.iter().map(f).collect() };
        let flag = |f: fn(&AskItem) -> bool| -> Vec<i32> {
            self.items.iter().map(|x| i32::from(f(x))).collect()
        };
        let count = |f: fn(&AskItem) -> usize| -> Vec<u32> {
            self.items.iter().map(|x| f(x) as u32).collect()
        };
        Ok(DataFrame::new(
            self.items.len(),
            vec![
                Column::new("id".into(), col(|x| x.id.clone())),
                Column::new("input".into(), col(|x| x.input.clone())),
                Column::new("answer".into(), col(|x| x.answer.clone())),
                Column::new("truth".into(), col(|x| x.truth.clone())),
                Column::new("correct".into(), flag(|x| x.correct)),
                Column::new("correct_normalised".into(), flag(|x| x.correct_normalised)),
                Column::new("split".into(), col(|x| x.split.as_str().to_string())),
                Column::new("prompt_tokens".into(), count(|x| x.prompt_tokens)),
                Column::new("new_tokens".into(), count(|x| x.new_tokens)),
                Column::new("stop".into(), col(|x| x.stop.clone())),
            ],
        )?)
    }

    /// Writes the table (CSV/TSV/Parquet by extension) and `<path>.meta.json` as
    /// one set: both are staged, then swapped in together, or neither is.
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        let mut df = self.to_dataframe()?;
        let mut set = crate::io::OutputSet::new();
        crate::io::write_table(&set.stage_file(path)?, &mut df)?;
        crate::io::write_json_atomic(&set.stage_file(&meta_path(path))?, &self.meta)?;
        set.commit()
    }
}

/// `<table>.meta.json`: where an ask table's provenance goes.
pub fn meta_path(table: &std::path::Path) -> std::path::PathBuf {
    let mut sidecar = table.as_os_str().to_owned();
    sidecar.push(".meta.json");
    sidecar.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_is_principled() {
        assert_eq!(normalise("HP:0001250"), "hp:1250");
        assert_eq!(normalise(" hp_1250. "), "hp:1250");
        assert_eq!(normalise("HP:0001250"), normalise("HP_0001250"));
        assert_eq!(normalise("HGNC:30"), "hgnc:30");
        assert_eq!(normalise("GO:0000000"), "go:0");
        assert_eq!(normalise("ABCA10"), "abca10");
        assert_ne!(normalise("ABCA10"), normalise("ABCA010"));
        assert_eq!(normalise("Small   Scrotum"), "small scrotum");
        assert_eq!(normalise("HLA-DRB1"), "hla-drb1");
        assert_eq!(normalise("C4orf:x"), "c4orf:x");
        assert_eq!(normalise(""), "");
    }

    #[test]
    fn labels_follow_the_meta() {
        let mut p = Pairing::new("x", Default::default());
        assert_eq!(labels(&p, Direction::TermToId), ["Term", "Identifier"]);
        p.meta.left_kind = "HPO label".into();
        p.meta.right_kind = "HPO ID".into();
        assert_eq!(labels(&p, Direction::IdToTerm), ["HPO ID", "HPO label"]);
    }
}
