//! Splitting the strings of one job across processes (`--shard K/N`, e.g. one Slurm
//! array task each): every process embeds only the strings its shard owns into the
//! shared cache, and a later unsharded run reads them all back without computing.

use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Shard `index` (1-based, as written: `K/N`) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// `K/N` with 1 ≤ K ≤ N.
    pub fn new(index: usize, count: usize) -> Result<Shard> {
        crate::ensure!(
            count >= 1 && (1..=count).contains(&index),
            Error::param(
                "shard",
                format!("{index}/{count}: expected K/N with 1 ≤ K ≤ N")
            )
        );
        Ok(Shard { index, count })
    }

    /// Whether this shard embeds `text`. The owner depends on the text alone (the
    /// first 8 bytes of its SHA-256), so every process agrees without talking, the
    /// shards are disjoint and cover everything, and sizes are balanced in expectation.
    pub fn owns(&self, text: &str) -> bool {
        let h = Sha256::digest(text.as_bytes());
        let x = u64::from_le_bytes(h[..8].try_into().expect("8 bytes"));
        (x % self.count as u64) as usize == self.index - 1
    }
}

impl FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Shard> {
        let bad = || Error::param("shard", format!("{s:?}: expected K/N, e.g. 3/16"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k = k.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_strings() {
        let texts: Vec<String> = (0..3000).map(|i| format!("term {i}")).collect();
        let shards: Vec<Shard> = (1..=4).map(|k| Shard::new(k, 4).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for t in &texts {
            let owners: Vec<usize> = (0..4).filter(|&k| shards[k].owns(t)).collect();
            assert_eq!(owners.len(), 1, "{t}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&s| (600..900).contains(&s)), "{sizes:?}");
        assert!(Shard::new(1, 1).unwrap().owns("anything"));
        assert_eq!(
            "2/8".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 8 }
        );
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
