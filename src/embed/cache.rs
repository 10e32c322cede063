//! On-disk embedding cache. One file per (model file hash, embedding options):
//! `<root>/<model sha256[..16]>/<options hash>.lxc`, holding the SHA-256 of each
//! text and its vector, a header naming the model and options, and a trailing
//! checksum. A corrupt or foreign file is detected on load and rebuilt, never used.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"LXCACHE1";

/// The cache folder: `$LEXALIGN_CACHE`, else `.cache/embeddings` in the project.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os("LEXALIGN_CACHE") {
        Some(p) => PathBuf::from(p),
        None => crate::assets::project_root().join(".cache/embeddings"),
    }
}

/// Text key: SHA-256 of its UTF-8 bytes.
pub(crate) type TextKey = [u8; 32];

/// Hashes a text for the cache.
pub(crate) fn text_key(text: &str) -> TextKey {
    Sha256::digest(text.as_bytes()).into()
}

/// How loading went, so callers can report a rebuilt cache.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CacheState {
    /// No file yet.
    Empty,
    /// Loaded this many vectors.
    Loaded(usize),
    /// A file was there but unusable (reason); it will be replaced.
    Rebuilt(String),
}

/// The vectors cached for one model and option set.
#[derive(Debug)]
pub(crate) struct EmbeddingCache {
    path: PathBuf,
    header: String,
    dim: usize,
    entries: HashMap<TextKey, Vec<f32>>,
    dirty: bool,
    pub(crate) state: CacheState,
}

impl EmbeddingCache {
    /// Opens (or starts) the cache for `model_sha256` and an options description.
    pub(crate) fn open(
        root: &Path,
        model_sha256: &str,
        options_key: &str,
        dim: usize,
    ) -> Result<Self> {
        let opt_hash = hex::encode(&Sha256::digest(options_key.as_bytes())[..8]);
        let path = root
            .join(&model_sha256[..16.min(model_sha256.len())])
            .join(format!("{opt_hash}.lxc"));
        let header = serde_json::json!({
            "model_sha256": model_sha256,
            "options": options_key,
            "dim": dim,
        })
        .to_string();
        let mut cache = EmbeddingCache {
            path,
            header,
            dim,
            entries: HashMap::new(),
            dirty: false,
            state: CacheState::Empty,
        };
        if cache.path.is_file() {
            match cache.read() {
                Ok(entries) => {
                    cache.state = CacheState::Loaded(entries.len());
                    cache.entries = entries;
                }
                Err(reason) => {
                    cache.state = CacheState::Rebuilt(reason);
                    cache.dirty = true;
                }
            }
        }
        Ok(cache)
    }

    /// Where the cache file lives.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> std::result::Result<HashMap<TextKey, Vec<f32>>, String> {
        let mut bytes = Vec::new();
        std::fs::File::open(&self.path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| format!("unreadable: {e}"))?;
        if bytes.len() < MAGIC.len() + 4 + 32 || &bytes[..8] != MAGIC {
            return Err("not a lexalign cache file".into());
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            return Err("checksum mismatch (corrupt or truncated)".into());
        }
        let hlen = u32::from_le_bytes([body[8], body[9], body[10], body[11]]) as usize;
        let header = body.get(12..12 + hlen).ok_or("header truncated")?;
        if header != self.header.as_bytes() {
            return Err("written for another model or options (foreign file)".into());
        }
        let records = &body[12 + hlen..];
        let rec = 32 + 4 * self.dim;
        if records.len() % rec != 0 {
            return Err("record size mismatch".into());
        }
        let mut entries = HashMap::with_capacity(records.len() / rec);
        for r in records.chunks_exact(rec) {
            let mut key: TextKey = [0; 32];
            key.copy_from_slice(&r[..32]);
            let v: Vec<f32> = r[32..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            entries.insert(key, v);
        }
        Ok(entries)
    }

    /// A cached vector.
    pub(crate) fn get(&self, key: &TextKey) -> Option<&[f32]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Adds a vector (kept in memory until [`save`](Self::save)).
    pub(crate) fn insert(&mut self, key: TextKey, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dim);
        self.entries.insert(key, vector.to_vec());
        self.dirty = true;
    }

    /// Writes the cache atomically if anything changed.
    pub(crate) fn save(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut body = Vec::with_capacity(
            12 + self.header.len() + self.entries.len() * (32 + 4 * self.dim) + 32,
        );
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&(self.header.len() as u32).to_le_bytes());
        body.extend_from_slice(self.header.as_bytes());
        let mut keys: Vec<&TextKey> = self.entries.keys().collect();
        keys.sort();
        for k in keys {
            body.extend_from_slice(k);
            for v in &self.entries[k] {
                body.extend_from_slice(&v.to_le_bytes());
            }
        }
        let sum = Sha256::digest(&body);
        body.extend_from_slice(&sum);
        crate::io::write_bytes_atomic(&self.path, &body)?;
        self.dirty = false;
        Ok(())
    }
}
