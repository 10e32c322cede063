//! Prefix sharing for decoders. A causal model's state at a token depends only on
//! the tokens up to it, so strings that begin with the same tokens (`HP:000…`,
//! `GO:000…`, a template's prompt) can run that prefix once and continue each
//! string from its KV cache (a decoder's embed_past.onnx). Last-token pooling
//! reads only the continuation's states, which equal a whole run's to float
//! rounding (tests/integration/decoder_prefix.rs).

use std::collections::HashMap;

use super::batch::{padded_tokens, plan_batches, BatchLimits, Packing};
use super::model::{BatchStates, Model};
use crate::error::Result;
use crate::model::KvCache;

/// Most strings planned together: prefixes are shared within a chunk of the
/// lexicographically sorted strings, and a chunk's KV caches are held at once.
pub(crate) const CHUNK: usize = 1024;
/// Most bytes of KV cache a chunk may hold (SmolLM2-135M: 46 KB per token, so
/// ~11,600 tokens; an 8B Llama: 256 KB, ~2,000): a chunk's strings' tokens, which
/// bound its prefixes' tokens, stay under it.
const CACHE_BYTES: usize = 512 << 20;

/// Consecutive runs of `lengths` with at most `CHUNK` members and at most
/// `budget` tokens each (a longer string alone).
fn chunks(lengths: &[usize], budget: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut tokens) = (0, 0);
    for (i, &len) in lengths.iter().enumerate() {
        if i > start && (i - start >= CHUNK || tokens + len > budget) {
            out.push(start..i);
            (start, tokens) = (i, 0);
        }
        tokens += len;
    }
    if start < lengths.len() {
        out.push(start..lengths.len());
    }
    out
}

/// Batches of rows of new tokens (`lengths`) that follow pasts (`past(row)` tokens):
/// length-sorted, then split for their pasts.
fn batches_after(
    lengths: &[usize],
    past: impl Fn(usize) -> usize + Copy,
    limits: BatchLimits,
    packing: Packing,
) -> Vec<Vec<usize>> {
    plan_batches(lengths, limits, packing)
        .into_iter()
        .flat_map(|b| {
            let width = b.iter().map(|&r| lengths[r]).max().unwrap_or(1);
            split_for_pasts(&b, past, width, limits.max_tokens)
        })
        .collect()
}

/// Splits a batch of continuations so that rows × (longest past + `width`) stays
/// within `max_tokens`: the attention and the pasts fed grow with the past.
/// Rows go longest past first.
fn split_for_pasts(
    batch: &[usize],
    past: impl Fn(usize) -> usize,
    width: usize,
    max_tokens: usize,
) -> Vec<Vec<usize>> {
    let mut rows = batch.to_vec();
    rows.sort_by_key(|&r| std::cmp::Reverse(past(r)));
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut longest = 0;
    for r in rows {
        match out.last_mut() {
            Some(cur) if (cur.len() + 1) * (longest + width) <= max_tokens => cur.push(r),
            _ => {
                longest = past(r);
                out.push(vec![r]);
            }
        }
    }
    out
}

/// Which strings share which prefix.
#[derive(Debug, PartialEq)]
pub(crate) struct Plan {
    /// Each shared prefix: a string that begins with it, and its length in tokens.
    pub prefixes: Vec<(usize, usize)>,
    /// Each string's prefix (an index into `prefixes`), or `None` to run it whole.
    pub of: Vec<Option<usize>>,
}

/// Plans prefix sharing for non-empty token sequences. Each string takes the
/// longest prefix it has in common with a neighbour in sorted order, short of its
/// own last token (whose state is the vector); a prefix that only one string
/// takes is not shared. Deterministic: prefixes are numbered in sorted order.
pub(crate) fn plan(ids: &[&[u32]]) -> Plan {
    let n = ids.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| ids[a].cmp(ids[b]).then(a.cmp(&b)));
    let common = |a: &[u32], b: &[u32]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let mut want = vec![0usize; n];
    for (j, &i) in order.iter().enumerate() {
        let before = j
            .checked_sub(1)
            .map_or(0, |k| common(ids[i], ids[order[k]]));
        let after = order.get(j + 1).map_or(0, |&k| common(ids[i], ids[k]));
        want[i] = before.max(after).min(ids[i].len().saturating_sub(1));
    }
    let mut takers: HashMap<&[u32], Vec<usize>> = HashMap::new();
    let mut first_seen: Vec<&[u32]> = Vec::new();
    for &i in &order {
        if want[i] == 0 {
            continue;
        }
        let key = &ids[i][..want[i]];
        let list = takers.entry(key).or_default();
        if list.is_empty() {
            first_seen.push(key);
        }
        list.push(i);
    }
    let mut plan = Plan {
        prefixes: Vec::new(),
        of: vec![None; n],
    };
    for key in first_seen {
        let members = &takers[key];
        if members.len() < 2 {
            continue;
        }
        let p = plan.prefixes.len();
        plan.prefixes.push((members[0], key.len()));
        for &m in members {
            plan.of[m] = Some(p);
        }
    }
    plan
}

/// A prefix to run once: its tokens from the string's start, and the shorter
/// shared prefix it continues from (if any).
#[derive(Debug, PartialEq)]
pub(crate) struct Node<'a> {
    pub seq: &'a [u32],
    pub parent: Option<usize>,
}

/// Prefixes of prefixes: level 0 holds the prefixes strings take, level k + 1
/// those that level k's prefixes take, until none is shared.
#[derive(Debug, PartialEq)]
pub(crate) struct Tree<'a> {
    pub nodes: Vec<Node<'a>>,
    /// Node indices per level.
    pub levels: Vec<Vec<usize>>,
    /// Each string's prefix (a level-0 node), or `None` to run it whole.
    pub of: Vec<Option<usize>>,
}

impl<'a> Tree<'a> {
    pub fn of(rows: &[&'a [u32]]) -> Tree<'a> {
        let mut nodes: Vec<Node<'a>> = Vec::new();
        let mut levels: Vec<Vec<usize>> = Vec::new();
        let take = |seqs: &[&'a [u32]], nodes: &mut Vec<Node<'a>>| {
            let p = plan(seqs);
            let made: Vec<usize> = p
                .prefixes
                .iter()
                .map(|&(m, len)| {
                    nodes.push(Node {
                        seq: &seqs[m][..len],
                        parent: None,
                    });
                    nodes.len() - 1
                })
                .collect();
            let of: Vec<Option<usize>> = p.of.iter().map(|o| o.map(|q| made[q])).collect();
            (made, of)
        };
        let (mut level, of) = take(rows, &mut nodes);
        while !level.is_empty() {
            let seqs: Vec<&'a [u32]> = level.iter().map(|&n| nodes[n].seq).collect();
            let (next, parents) = take(&seqs, &mut nodes);
            for (&n, parent) in level.iter().zip(parents) {
                nodes[n].parent = parent;
            }
            levels.push(std::mem::replace(&mut level, next));
        }
        Tree { nodes, levels, of }
    }
}

/// Token work of a shared run, for [`super::EmbedStats`].
#[derive(Debug, Default)]
pub(crate) struct Work {
    /// Token slots computed, padding included (prefixes and continuations).
    pub padded: usize,
    /// Real tokens not computed because their prefix was run once for several strings.
    pub shared: usize,
}

/// One finished batch: string indices, their states (`[batch, seq, dim]` per
/// layer), and how many of each row's positions are real.
pub(crate) type OnBatch<'a> = dyn FnMut(&[usize], BatchStates, &[usize]) -> Result<()> + 'a;

impl Model {
    /// Runs `strings` (indices into `ids`, each non-empty) with shared prefixes:
    /// per chunk, the shared prefixes once (keeping their KV caches), then every
    /// string's remaining tokens after its prefix, in length-sorted batches handed
    /// to `each` as they finish; returns the token work done. Needs a graph with a
    /// KV cache ([`Model::past_shape`]).
    pub(crate) fn run_shared(
        &self,
        ids: &[&[u32]],
        strings: &[usize],
        layers: &[Option<usize>],
        limits: BatchLimits,
        packing: Packing,
        each: &mut OnBatch<'_>,
    ) -> Result<Work> {
        let mut work = Work::default();
        let shape = self.past_shape().ok_or_else(|| crate::Error::Model {
            path: self.info().dir.clone(),
            message: "prefix sharing needs a graph with a KV cache".into(),
        })?;
        let mut sorted = strings.to_vec();
        sorted.sort_by(|&a, &b| ids[a].cmp(ids[b]).then(a.cmp(&b)));
        let sorted_lengths: Vec<usize> = sorted.iter().map(|&i| ids[i].len()).collect();
        let budget = (CACHE_BYTES / (4 * shape.per_token()).max(1)).max(1);
        for range in chunks(&sorted_lengths, budget) {
            let chunk = &sorted[range];
            let rows: Vec<&[u32]> = chunk.iter().map(|&i| ids[i]).collect();
            let tree = Tree::of(&rows);
            // Prefixes, shortest level first, each after its parent's cache; a level's
            // parents are freed once it is done.
            let mut kv: Vec<Option<KvCache>> = vec![None; tree.nodes.len()];
            let mut computed = 0;
            for (depth, level) in tree.levels.iter().enumerate().rev() {
                let parent_len =
                    |n: usize| tree.nodes[n].parent.map_or(0, |p| tree.nodes[p].seq.len());
                let own: Vec<&[u32]> = level
                    .iter()
                    .map(|&n| &tree.nodes[n].seq[parent_len(n)..])
                    .collect();
                let own_lengths: Vec<usize> = own.iter().map(|r| r.len()).collect();
                computed += own_lengths.iter().sum::<usize>();
                let batches =
                    batches_after(&own_lengths, |k| parent_len(level[k]), limits, packing);
                work.padded += padded_tokens(&own_lengths, &batches);
                for batch in &batches {
                    let batch_rows: Vec<&[u32]> = batch.iter().map(|&k| own[k]).collect();
                    let batch_pasts: Vec<Option<&KvCache>> = batch
                        .iter()
                        .map(|&k| tree.nodes[level[k]].parent.and_then(|p| kv[p].as_ref()))
                        .collect();
                    let whole = self.run_prefixes(&batch_rows, &batch_pasts)?;
                    for (&k, cache) in batch.iter().zip(whole) {
                        kv[level[k]] = Some(cache);
                    }
                }
                if let Some(parents) = tree.levels.get(depth + 1) {
                    for &p in parents {
                        kv[p] = None;
                    }
                }
            }
            // Every string's own tokens after its prefix.
            let cut = |r: usize| tree.of[r].map_or(0, |p| tree.nodes[p].seq.len());
            let rest: Vec<&[u32]> = (0..rows.len()).map(|r| &rows[r][cut(r)..]).collect();
            let rest_lengths: Vec<usize> = rest.iter().map(|r| r.len()).collect();
            let batches = batches_after(&rest_lengths, cut, limits, packing);
            work.padded += padded_tokens(&rest_lengths, &batches);
            computed += rest_lengths.iter().sum::<usize>();
            work.shared += rows.iter().map(|r| r.len()).sum::<usize>() - computed;
            for batch in &batches {
                let batch_rows: Vec<&[u32]> = batch.iter().map(|&r| rest[r]).collect();
                let batch_pasts: Vec<Option<&KvCache>> = batch
                    .iter()
                    .map(|&r| tree.of[r].and_then(|p| kv[p].as_ref()))
                    .collect();
                let states = self.run_after(&batch_rows, &batch_pasts, layers)?;
                let members: Vec<usize> = batch.iter().map(|&r| chunk[r]).collect();
                let lens: Vec<usize> = batch.iter().map(|&r| rest_lengths[r]).collect();
                each(&members, states, &lens)?;
            }
        }
        Ok(work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_share_their_longest_common_prefix() {
        // HP:0001250, HP:0001251, HP:0002000, BRCA1 as made-up ids.
        let a: &[u32] = &[7, 1, 0, 0, 0, 1, 2, 5, 0];
        let b: &[u32] = &[7, 1, 0, 0, 0, 1, 2, 5, 1];
        let c: &[u32] = &[7, 1, 0, 0, 0, 2, 0, 0, 0];
        let d: &[u32] = &[9, 3];
        let p = plan(&[c, a, d, b]);
        // a and b share 8 tokens; c's longest common prefix (5, with a) is taken by nobody else.
        assert_eq!(p.prefixes, vec![(1, 8)]);
        assert_eq!(p.of, vec![None, Some(0), None, Some(0)]);
    }

    #[test]
    fn prefixes_share_shorter_prefixes() {
        // Two families under [7, 1, 0]: [.., 1, 2] and [.., 2, 2], two strings each.
        let rows: Vec<&[u32]> = vec![
            &[7, 1, 0, 1, 2, 5],
            &[7, 1, 0, 1, 2, 6],
            &[7, 1, 0, 2, 2, 5],
            &[7, 1, 0, 2, 2, 6],
            &[9],
        ];
        let t = Tree::of(&rows);
        assert_eq!(t.levels, vec![vec![0, 1], vec![2]]);
        assert_eq!(t.nodes[0].seq, &[7, 1, 0, 1, 2]);
        assert_eq!(t.nodes[1].seq, &[7, 1, 0, 2, 2]);
        assert_eq!(t.nodes[2].seq, &[7, 1, 0]);
        assert_eq!(t.nodes[0].parent, Some(2));
        assert_eq!(t.nodes[2].parent, None);
        assert_eq!(t.of, vec![Some(0), Some(0), Some(1), Some(1), None]);
    }

    #[test]
    fn chunks_and_past_splits_bound_memory() {
        assert_eq!(chunks(&[3, 3, 3, 10, 1], 6), vec![0..2, 2..3, 3..4, 4..5]);
        assert_eq!(chunks(&[], 6), Vec::<std::ops::Range<usize>>::new());
        let many = vec![1; CHUNK + 1];
        assert_eq!(chunks(&many, usize::MAX), vec![0..CHUNK, CHUNK..CHUNK + 1]);
        // Pasts 0, 8, 2, 8 with 2-token rows under 24 slots: [8, 8] (2 × 10), then [2, 0].
        let pasts = [0, 8, 2, 8];
        assert_eq!(
            split_for_pasts(&[0, 1, 2, 3], |r| pasts[r], 2, 24),
            vec![vec![1, 3], vec![2, 0]]
        );
        // A row always goes somewhere, even past the budget alone.
        assert_eq!(split_for_pasts(&[1], |r| pasts[r], 2, 4), vec![vec![1]]);
    }

    #[test]
    fn a_string_keeps_its_last_token_and_duplicates_share() {
        // [4, 5] is a prefix of [4, 5, 6] but keeps its last token, so it would take
        // [4] alone and runs whole; the two [4, 5, 6] share [4, 5].
        let p = plan(&[&[4, 5, 6], &[4, 5], &[4, 5, 6]]);
        assert_eq!(p.prefixes, vec![(0, 2)]);
        assert_eq!(p.of, vec![Some(0), None, Some(0)]);
        // One-token strings and lone strings run whole.
        let p = plan(&[&[1], &[1], &[2, 3]]);
        assert!(p.prefixes.is_empty());
        assert_eq!(p.of, vec![None; 3]);
        assert_eq!(plan(&[]).of, Vec::<Option<usize>>::new());
    }
}
