//! Batch planning: sort encoded strings by length and cut them into batches that
//! are padded only to their own longest member, under a token budget.

/// Limits for one inference batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Most strings in one batch.
    pub max_strings: usize,
    /// Most padded tokens (strings × longest length) in one batch.
    pub max_tokens: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_strings: 256,
            max_tokens: 8192,
        }
    }
}

/// With [`Packing::Loose`], batches are only split for padding once they hold this many strings.
const MIN_SPLIT: usize = 32;
/// Padding efficiency a batch is kept above (once it may be split).
const TARGET_EFFICIENCY: f64 = 0.95;

/// How hard batches are cut to avoid padding ([`super::EmbedOptions::packing`];
/// by default decoders pack tightly and encoders loosely).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// Split for padding only batches of at least `MIN_SPLIT` strings: for
    /// encoders, where a run's fixed cost is worth many tokens.
    Loose,
    /// Split whenever padding would pass the target: for decoders, whose cost per
    /// token dwarfs a run's fixed cost.
    Tight,
}

/// Groups item indices into batches: longest first, each batch holding strings of
/// similar length so little compute goes to padding. Returns indices into `lengths`.
pub(crate) fn plan_batches(
    lengths: &[usize],
    limits: BatchLimits,
    packing: Packing,
) -> Vec<Vec<usize>> {
    let min_split = match packing {
        Packing::Loose => MIN_SPLIT,
        Packing::Tight => 1,
    };
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut longest = 0;
    let mut real = 0;
    for i in order {
        let len = lengths[i].max(1);
        let width = longest.max(len);
        // Past a minimum size, a batch also closes when the next string would bring
        // its padding efficiency (real ÷ padded tokens) below the target.
        let too_padded = current.len() >= min_split
            && ((real + len) as f64) < TARGET_EFFICIENCY * ((current.len() + 1) * width) as f64;
        if !current.is_empty()
            && (current.len() >= limits.max_strings.max(1)
                || (current.len() + 1) * width > limits.max_tokens
                || too_padded)
        {
            batches.push(std::mem::take(&mut current));
            longest = 0;
            real = 0;
        }
        longest = longest.max(len);
        real += len;
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Tokens computed for a batch plan: each batch is padded to its longest member.
pub(crate) fn padded_tokens(lengths: &[usize], batches: &[Vec<usize>]) -> usize {
    batches
        .iter()
        .map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap_or(0))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_first_under_the_string_limit() {
        let lengths = [3, 10, 4, 9];
        let limits = BatchLimits {
            max_strings: 2,
            max_tokens: 100,
        };
        let batches = plan_batches(&lengths, limits, Packing::Loose);
        assert_eq!(batches, vec![vec![1, 3], vec![2, 0]]);
        assert_eq!(padded_tokens(&lengths, &batches), 2 * 10 + 2 * 4);
    }

    #[test]
    fn token_budget_closes_a_batch() {
        let limits = BatchLimits {
            max_strings: 10,
            max_tokens: 20,
        };
        assert_eq!(
            plan_batches(&[10, 10, 10], limits, Packing::Loose),
            vec![vec![0, 1], vec![2]]
        );
        assert!(plan_batches(&[], limits, Packing::Loose).is_empty());
    }

    #[test]
    fn tight_packing_splits_small_batches_for_padding() {
        let limits = BatchLimits::default();
        let lengths = [9, 9, 8, 4, 4, 1];
        // Loose: six strings are never split for padding; 15 real tokens of 54 padded.
        assert_eq!(
            plan_batches(&lengths, limits, Packing::Loose),
            vec![vec![0, 1, 2, 3, 4, 5]]
        );
        // Tight: 8 joins the 9s (26 of 27 slots), 4 opens a batch, so does 1.
        let tight = plan_batches(&lengths, limits, Packing::Tight);
        assert_eq!(tight, vec![vec![0, 1, 2], vec![3, 4], vec![5]]);
        assert_eq!(padded_tokens(&lengths, &tight), 27 + 8 + 1);
    }
}
