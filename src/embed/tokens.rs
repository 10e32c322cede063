//! Tokenisation statistics: how a model's tokenizer cuts each string. An identifier
//! like `HP:0001250` that falls into many short pieces has no single lexical
//! meaning to the model; a gene symbol that is one vocabulary token may have.

use serde::Serialize;
use tokenizers::{Encoding, ModelWrapper, Tokenizer};

/// How a tokenizer marks pieces inside a word.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PieceConvention {
    /// Continuation pieces carry a prefix (WordPiece `##`, some BPE models).
    ContinuationPrefix(String),
    /// Word-initial pieces carry a marker (SentencePiece `▁`, byte-level BPE `Ġ`);
    /// a piece without it continues the previous word.
    WordStartMarker(String),
    /// Neither: continuation is judged from character offsets (no gap to the previous piece).
    Offsets,
}

impl PieceConvention {
    /// Reads the convention from the tokenizer's model.
    pub(crate) fn of(tokenizer: &Tokenizer) -> Self {
        match tokenizer.get_model() {
            ModelWrapper::WordPiece(wp) => {
                PieceConvention::ContinuationPrefix(wp.continuing_subword_prefix.clone())
            }
            ModelWrapper::BPE(bpe) => match bpe.get_continuing_subword_prefix() {
                Some(p) if !p.is_empty() => PieceConvention::ContinuationPrefix(p.clone()),
                _ => {
                    let vocab = tokenizer.get_vocab(false);
                    if vocab.keys().any(|k| k.starts_with('Ġ')) {
                        PieceConvention::WordStartMarker("Ġ".into())
                    } else if vocab.keys().any(|k| k.starts_with('▁')) {
                        PieceConvention::WordStartMarker("▁".into())
                    } else {
                        PieceConvention::Offsets
                    }
                }
            },
            ModelWrapper::Unigram(_) => PieceConvention::WordStartMarker("▁".into()),
            _ => PieceConvention::Offsets,
        }
    }
}

/// Tokenisation of one string, special tokens excluded.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenStats {
    pub text: String,
    /// Pieces after truncation, without special tokens.
    pub n_tokens: usize,
    pub pieces: Vec<String>,
    /// Pieces that continue a word (`##…` for WordPiece).
    pub n_continuation: usize,
    /// Pieces equal to the unknown token.
    pub n_unknown: usize,
    /// True when the string is exactly one vocabulary token.
    pub single_token: bool,
    /// True when the string was cut at the model's maximum length.
    pub truncated: bool,
}

/// Id of the tokenizer's unknown token, if its model has one.
/// The special token the tokenizer puts before every string (`[CLS]`, `<s>`), if
/// any: what `cls` pooling reads. Decoder tokenizers put the string's own first
/// token there.
pub(crate) fn leading_special(tokenizer: &Tokenizer) -> Option<String> {
    let e = tokenizer.encode("a", true).ok()?;
    (e.get_special_tokens_mask().first() == Some(&1)).then(|| e.get_tokens()[0].clone())
}

pub(crate) fn unknown_id(tokenizer: &Tokenizer) -> Option<u32> {
    let name = match tokenizer.get_model() {
        ModelWrapper::WordPiece(wp) => Some(wp.unk_token.clone()),
        ModelWrapper::BPE(bpe) => bpe.get_unk_token().clone(),
        ModelWrapper::WordLevel(wl) => Some(wl.unk_token.clone()),
        ModelWrapper::Unigram(_) => ["<unk>", "[UNK]", "<UNK>"]
            .iter()
            .find(|t| tokenizer.token_to_id(t).is_some())
            .map(|t| t.to_string()),
    }?;
    tokenizer.token_to_id(&name)
}

/// Statistics of an encoding made with special tokens (`[CLS] … [SEP]`).
pub(crate) fn stats(
    text: &str,
    encoding: &Encoding,
    convention: &PieceConvention,
    unk_id: Option<u32>,
) -> TokenStats {
    let special = encoding.get_special_tokens_mask();
    let positions: Vec<usize> = real_positions(special);
    let tokens = encoding.get_tokens();
    let ids = encoding.get_ids();
    let offsets = encoding.get_offsets();
    let pieces: Vec<String> = positions.iter().map(|&i| tokens[i].clone()).collect();
    let n_continuation = positions
        .iter()
        .enumerate()
        .filter(|(k, &i)| match convention {
            PieceConvention::ContinuationPrefix(p) => tokens[i].starts_with(p.as_str()),
            PieceConvention::WordStartMarker(m) => *k > 0 && !tokens[i].starts_with(m.as_str()),
            PieceConvention::Offsets => *k > 0 && offsets[positions[k - 1]].1 == offsets[i].0,
        })
        .count();
    let n_unknown = match unk_id {
        Some(u) => positions.iter().filter(|&&i| ids[i] == u).count(),
        None => 0,
    };
    TokenStats {
        text: text.to_string(),
        n_tokens: pieces.len(),
        single_token: pieces.len() == 1,
        pieces,
        n_continuation,
        n_unknown,
        truncated: !encoding.get_overflowing().is_empty(),
    }
}

/// How a string's digits fall into a tokenizer's pieces (special tokens excluded):
/// `HP:0001250` is 5 pieces for MiniLM (`hp : 000 ##12 ##50`: 3 hold digits, 1 the
/// leading zeros) and 9 for SmolLM2 (one per digit: 7 and 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DigitPieces {
    pub pieces: usize,
    /// Pieces whose characters include a digit.
    pub digit_pieces: usize,
    /// Pieces that cover any of the zeros leading the last digit run
    /// ([`crate::ids::IdShape::leading_zero_chars`]).
    pub leading_zero_pieces: usize,
}

/// [`DigitPieces`] of `text` from its encoding (offsets in chars).
pub(crate) fn digit_pieces(text: &str, encoding: &Encoding) -> DigitPieces {
    let chars: Vec<char> = text.chars().collect();
    let zeros = crate::ids::IdShape::leading_zero_chars(text);
    let offsets = encoding.get_offsets();
    let positions = real_positions(encoding.get_special_tokens_mask());
    let spans = || positions.iter().map(|&i| offsets[i]);
    DigitPieces {
        pieces: positions.len(),
        digit_pieces: spans()
            .filter(|&(a, b)| {
                chars
                    .get(a..b)
                    .is_some_and(|s| s.iter().any(char::is_ascii_digit))
            })
            .count(),
        leading_zero_pieces: spans()
            .filter(|&(a, b)| a < zeros.end && zeros.start < b)
            .count(),
    }
}

/// Positions of the string's own pieces: all but the special tokens the
/// post-processor added. A literal "[CLS]" typed in the text counts as a piece.
pub(crate) fn real_positions(special_mask: &[u32]) -> Vec<usize> {
    special_mask
        .iter()
        .enumerate()
        .filter(|(_, &m)| m == 0)
        .map(|(i, _)| i)
        .collect()
}
