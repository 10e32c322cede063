//! Whether an installed file is the one `manifest.json` records: size first (free),
//! then sha256. A match is remembered by (path, size, mtime) in a small verdict
//! file under `.cache/`, so a run re-hashes only files that changed since; a
//! missing, unreadable or corrupt verdict file just means "hash again".

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One file found to match its recorded sha256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Verdict {
    path: String,
    bytes: u64,
    mtime_s: u64,
    mtime_ns: u32,
    sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Verdicts {
    verified: Vec<Verdict>,
}

/// Where verdicts are kept: `.cache/verified-assets.json` in the project.
fn verdict_file() -> PathBuf {
    super::project_root().join(".cache/verified-assets.json")
}

/// `None` when `path` has the sha256 `expected`, else the sha256 it has.
pub fn sha256_mismatch(path: &Path, expected: &str) -> Result<Option<String>> {
    sha256_mismatch_with(path, expected, &verdict_file())
}

/// [`sha256_mismatch`] with the verdicts kept in `verdicts`.
pub(crate) fn sha256_mismatch_with(
    path: &Path,
    expected: &str,
    verdicts: &Path,
) -> Result<Option<String>> {
    let key = verdict(path, expected)?;
    let mut known = read_verdicts(verdicts);
    if known.verified.contains(&key) {
        return Ok(None);
    }
    let found = crate::io::sha256_file(path)?;
    if !found.eq_ignore_ascii_case(expected) {
        return Ok(Some(found));
    }
    // Best effort: a verdict that cannot be saved is only re-computed next time.
    known
        .verified
        .retain(|v| v.path != key.path && Path::new(&v.path).exists());
    known.verified.push(key);
    if let Some(dir) = verdicts.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = crate::io::write_json_atomic(verdicts, &known);
    Ok(None)
}

/// The verdict `path` would have if it matched `expected` now.
fn verdict(path: &Path, expected: &str) -> Result<Verdict> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default();
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(Verdict {
        path: full.to_string_lossy().into_owned(),
        bytes: meta.len(),
        mtime_s: mtime.as_secs(),
        mtime_ns: mtime.subsec_nanos(),
        sha256: expected.to_ascii_lowercase(),
    })
}

fn read_verdicts(path: &Path) -> Verdicts {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_remembered_and_invalidated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.tsv");
        let verdicts = dir.path().join("cache/v.json");
        std::fs::write(&file, "a\tb\n").unwrap();
        let sha = crate::io::sha256_file(&file).unwrap();
        assert_eq!(sha256_mismatch_with(&file, &sha, &verdicts).unwrap(), None);
        assert!(read_verdicts(&verdicts).verified.len() == 1);
        // Same size, new content and mtime: hashed again, and found different.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&file, "a b\n\n").unwrap();
        let found = sha256_mismatch_with(&file, &sha, &verdicts).unwrap();
        assert!(found.is_some_and(|f| f != sha));
        // A corrupt verdict file only means hashing again.
        std::fs::write(&verdicts, "{not json").unwrap();
        let sha2 = crate::io::sha256_file(&file).unwrap();
        assert_eq!(sha256_mismatch_with(&file, &sha2, &verdicts).unwrap(), None);
        assert_eq!(read_verdicts(&verdicts).verified.len(), 1);
    }
}
