//! On-disk embedding cache, shared safely by runs in parallel.
//!
//! One folder per (model file hash, embedding options):
//! `<root>/<model sha256[..16]>/<options hash>/`, holding segment files
//! `<pid>-<random>.lxs` (format in [`super::segment`]). A run that computes
//! vectors appends them to a segment of its own as each batch finishes, so an
//! interrupted run keeps its finished batches and concurrent runs never write to
//! the same file. Reading merges every segment; a corrupt or foreign segment is
//! detected and never used. When segments pile up or one is unusable, a run
//! compacts those no live writer holds (each writer keeps its segment locked).
//!
//! Cache problems never stop a run: the first is reported on stderr and the
//! vectors are computed as if there were no cache.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::segment;

/// Segments beyond which a run merges them into one.
const MAX_SEGMENTS: usize = 16;
/// Extension of finished segment files; a segment is written under a hidden
/// temporary name until its header is complete.
const SEGMENT_EXT: &str = "lxs";

/// The cache folder: `$LEXALIGN_CACHE` (when set and not empty), else
/// `.cache/embeddings` in the project.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os("LEXALIGN_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => crate::assets::project_root().join(".cache/embeddings"),
    }
}

/// Text key: SHA-256 of its UTF-8 bytes.
pub(crate) type TextKey = [u8; 32];

/// Hashes a text for the cache.
pub(crate) fn text_key(text: &str) -> TextKey {
    Sha256::digest(text.as_bytes()).into()
}

/// How loading went, so callers can report a rebuilt or unreadable cache.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CacheState {
    /// Nothing cached yet.
    Empty,
    /// Loaded this many vectors.
    Loaded(usize),
    /// A segment was unusable (reason); it is dropped and its vectors recomputed.
    Rebuilt(String),
    /// The folder could not be read (reason); every vector is computed.
    Unreadable(String),
}

/// The vectors cached for one model and option set.
#[derive(Debug)]
pub(crate) struct EmbeddingCache {
    dir: PathBuf,
    header: Vec<u8>,
    dim: usize,
    entries: HashMap<TextKey, Vec<f32>>,
    pub(crate) state: CacheState,
    /// The problem already reported on stderr, if any (one warning per run).
    problem: Option<String>,
}

impl EmbeddingCache {
    /// Reads the cache for `model_sha256` and an options description. Never
    /// fails: an unreadable cache is reported and treated as empty.
    pub(crate) fn open(root: &Path, model_sha256: &str, options_key: &str, dim: usize) -> Self {
        let opt_hash = hex::encode(&Sha256::digest(options_key.as_bytes())[..8]);
        let dir = root
            .join(&model_sha256[..16.min(model_sha256.len())])
            .join(opt_hash);
        let mut cache = EmbeddingCache {
            header: segment::header(model_sha256, options_key, dim),
            dir,
            dim,
            entries: HashMap::new(),
            state: CacheState::Empty,
            problem: None,
        };
        if let Ok((_, others)) = named_segments(&cache.dir) {
            if let Some(p) = others.first() {
                cache.warn(format!(
                    "{} is named like a segment but is not a file; it is ignored (remove or rename it)",
                    p.display()
                ));
            }
        }
        match read_all(&cache.dir, &cache.header, dim) {
            Ok(segments) => cache.load(segments),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                let problem = cache.warn(format!("cannot read it ({e}); every vector is computed"));
                cache.state = CacheState::Unreadable(problem);
            }
        }
        cache
    }

    /// Merges the segments read; drops unusable ones (and compacts) when it can.
    fn load(&mut self, segments: Vec<(PathBuf, Result<Records, String>)>) {
        let count = segments.len();
        let mut unusable = None;
        for (path, records) in segments {
            match records {
                Ok(records) => self.entries.extend(records),
                Err(why) => {
                    unusable.get_or_insert_with(|| format!("{}: {why}", path.display()));
                }
            }
        }
        self.state = match unusable {
            Some(why) => CacheState::Rebuilt(why),
            None if self.entries.is_empty() => CacheState::Empty,
            None => CacheState::Loaded(self.entries.len()),
        };
        if count > MAX_SEGMENTS || matches!(self.state, CacheState::Rebuilt(_)) {
            // Best effort: an uncompacted cache is still correct, only slower.
            let _ = compact(&self.dir, &self.header, self.dim);
        } else if let Ok(folder) = File::open(&self.dir) {
            if folder.try_lock().is_ok() {
                sweep_temps(&self.dir);
            }
        }
    }

    /// The folder holding this model's and options' segments.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A cached vector.
    pub(crate) fn get(&self, key: &TextKey) -> Option<&[f32]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// A writer for this run's new vectors (its segment is made on first use).
    pub(crate) fn writer(&self) -> CacheWriter {
        CacheWriter {
            dir: self.dir.clone(),
            header: self.header.clone(),
            dim: self.dim,
            file: None,
            warned: self.problem.is_some(),
            problem: None,
            batches: 0,
        }
    }

    /// The problem reported while reading, if any.
    pub(crate) fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn warn(&mut self, problem: String) -> String {
        let text = warning(&self.dir, &problem);
        self.problem = Some(text.clone());
        text
    }
}

/// The warning printed for a cache problem (the run goes on without the cache).
fn warning(dir: &Path, problem: &str) -> String {
    let text = format!("embedding cache {}: {problem}", dir.display());
    eprintln!("warning: {text}");
    text
}

type Records = Vec<(TextKey, Vec<f32>)>;

/// Finished segment files in `dir`. Anything else named like one (a folder, a
/// socket) is no segment: it is left out, so it never blocks compaction.
fn segment_paths(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    Ok(named_segments(dir)?.0)
}

/// (segment files, other entries named `*.lxs`) in `dir`, sorted.
fn named_segments(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let (mut files, mut others) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == SEGMENT_EXT) {
            match entry.file_type()?.is_file() {
                true => files.push(path),
                false => others.push(path),
            }
        }
    }
    files.sort();
    others.sort();
    Ok((files, others))
}

/// Removes the temporary files (`.segment-*`, `.compact-*`) of runs killed
/// before they finished one; a live run's are locked and stay. Called with the
/// folder's lock held.
fn sweep_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(".segment-") || name.starts_with(".compact-")) {
            continue;
        }
        if let Ok(f) = File::open(e.path()) {
            if f.try_lock().is_ok() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Every segment in `dir`, parsed. A segment that vanishes while being read was
/// compacted by another run: the folder is listed again so its vectors are found.
fn read_all(
    dir: &Path,
    header: &[u8],
    dim: usize,
) -> std::io::Result<Vec<(PathBuf, Result<Records, String>)>> {
    for _ in 0..3 {
        let mut segments = Vec::new();
        let mut vanished = false;
        for path in segment_paths(dir)? {
            let mut bytes = Vec::new();
            match File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
                Ok(_) => {
                    let records = segment::parse(&bytes, header, dim);
                    segments.push((path, records));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => vanished = true,
                Err(e) => segments.push((path, Err(format!("unreadable: {e}")))),
            }
        }
        if !vanished {
            return Ok(segments);
        }
    }
    Ok(Vec::new())
}

/// Merges the segments no writer holds into one, dropping unusable ones. Runs
/// only while holding the folder's lock, so one run compacts at a time; a
/// segment is taken only when its lock is free, so no live writer loses records.
fn compact(dir: &Path, header: &[u8], dim: usize) -> std::io::Result<()> {
    let folder = File::open(dir)?;
    if folder.try_lock().is_err() {
        return Ok(()); // another run is compacting, or the file system has no locks
    }
    sweep_temps(dir);
    let mut idle = Vec::new();
    for path in segment_paths(dir)? {
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() {
            idle.push((path, file));
        }
    }
    let mut merged: HashMap<TextKey, Vec<f32>> = HashMap::new();
    for (_, file) in &mut idle {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        if let Ok(records) = segment::parse(&bytes, header, dim) {
            merged.extend(records);
        }
    }
    if !merged.is_empty() {
        let mut bytes = header.to_vec();
        for (key, vector) in &merged {
            segment::push_record(&mut bytes, key, vector);
        }
        let mut tmp = temp_file(dir, ".compact-")?;
        let _ = tmp.as_file().try_lock();
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join(segment_name())).map_err(|e| e.error)?;
    }
    // Only after the merged segment is in place: a reader never misses a vector.
    for (path, _) in &idle {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// A hidden temporary file in `dir` (not a segment until renamed). Segments are
/// ordinary files (0666 less the umask), so a shared cache stays shared.
fn temp_file(dir: &Path, prefix: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(dir)
}

/// A new segment's name: unique across processes and runs.
fn segment_name() -> String {
    format!(
        "{}-{:016x}.{SEGMENT_EXT}",
        std::process::id(),
        rand::random::<u64>()
    )
}

/// Appends one run's new vectors to a segment of its own, each batch written
/// and synced as it finishes. A failure is reported once and further vectors
/// are not cached; the run itself goes on.
#[derive(Debug)]
pub(crate) struct CacheWriter {
    dir: PathBuf,
    header: Vec<u8>,
    dim: usize,
    /// The open segment, locked so no compaction takes it while in use.
    file: Option<File>,
    warned: bool,
    problem: Option<String>,
    /// Batches saved so far (for the test hook in [`CacheWriter::write`]).
    batches: usize,
}

impl CacheWriter {
    /// Writes `records` (text key, vector) to this run's segment.
    pub(crate) fn append<'a>(
        &mut self,
        records: impl IntoIterator<Item = (&'a TextKey, &'a [f32])>,
    ) {
        if self.problem.is_some() {
            return;
        }
        let mut bytes = Vec::new();
        for (key, vector) in records {
            if vector.len() == self.dim {
                segment::push_record(&mut bytes, key, vector);
            }
        }
        if bytes.is_empty() {
            return;
        }
        if let Err(e) = self.write(&bytes) {
            let problem = format!(
                "cannot save new vectors ({e}); results are unaffected, but this run's vectors are not cached"
            );
            self.problem = Some(if self.warned {
                problem
            } else {
                warning(&self.dir, &problem)
            });
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(self.create()?);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(bytes)?;
            file.sync_data()?;
        }
        self.batches += 1;
        // Test hook (debug builds): `LEXALIGN_STOP_AFTER_BATCHES=N` stops the
        // process once N batches are safely in the cache, so an interruption
        // test signals it at a known point instead of watching file sizes.
        #[cfg(debug_assertions)]
        if std::env::var("LEXALIGN_STOP_AFTER_BATCHES").is_ok_and(|n| n == self.batches.to_string())
        {
            crate::io::stop_here();
        }
        Ok(())
    }

    /// A new segment holding the header, locked, and only then given its name.
    fn create(&self) -> std::io::Result<File> {
        std::fs::create_dir_all(&self.dir)?;
        // Made and locked under the folder's shared lock, so a compaction (which
        // sweeps unlocked temp files) never takes it for a killed run's.
        let folder = File::open(&self.dir)?;
        let _ = folder.lock_shared();
        let mut tmp = temp_file(&self.dir, ".segment-")?;
        // Without locks (some network file systems) compaction takes no segment.
        let _ = tmp.as_file().try_lock();
        drop(folder);
        tmp.write_all(&self.header)?;
        tmp.persist(self.dir.join(segment_name()))
            .map_err(|e| e.error)
    }

    /// The problem that stopped saving, if any (already reported).
    pub(crate) fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> TextKey {
        text_key(&i.to_string())
    }

    fn segments(dir: &Path) -> usize {
        segment_paths(dir).unwrap().len()
    }

    #[test]
    fn compaction_keeps_live_writers_and_drops_corrupt_segments() {
        let root = tempfile::tempdir().unwrap();
        let open = || EmbeddingCache::open(root.path(), "abc", "opts", 2);
        let cache = open();
        for i in 0..MAX_SEGMENTS + 2 {
            cache.writer().append([(&key(i), &[i as f32, 0.5][..])]);
        }
        let mut live = cache.writer();
        live.append([(&key(100), &[1.0, 2.0][..])]);
        std::fs::write(cache.dir().join("junk.lxs"), b"junk").unwrap();
        assert_eq!(segments(cache.dir()), MAX_SEGMENTS + 4);
        // Compacts the finished segments into one; the live one is left alone.
        assert!(matches!(open().state, CacheState::Rebuilt(ref why) if why.contains("junk")));
        assert_eq!(segments(cache.dir()), 2);
        live.append([(&key(101), &[3.0, 4.0][..])]);
        assert!(live.problem().is_none());
        drop(live);
        let reopened = open();
        assert_eq!(reopened.state, CacheState::Loaded(MAX_SEGMENTS + 4));
        assert_eq!(reopened.get(&key(101)), Some(&[3.0, 4.0][..]));
        assert_eq!(reopened.get(&key(7)), Some(&[7.0, 0.5][..]));
    }

    #[test]
    fn a_folder_named_like_a_segment_never_blocks_compaction() {
        let root = tempfile::tempdir().unwrap();
        let open = || EmbeddingCache::open(root.path(), "abc", "opts", 2);
        let cache = open();
        for i in 0..MAX_SEGMENTS + 2 {
            cache.writer().append([(&key(i), &[i as f32, 0.5][..])]);
        }
        std::fs::create_dir(cache.dir().join("odd.lxs")).unwrap();
        // A killed run's temp files: swept, as no live run holds them.
        std::fs::write(cache.dir().join(".segment-dead"), b"half").unwrap();
        std::fs::write(cache.dir().join(".compact-dead"), b"half").unwrap();
        let reopened = open();
        assert!(reopened.problem().is_some_and(|p| p.contains("odd.lxs")));
        assert_eq!(segments(cache.dir()), 1, "not compacted");
        assert!(cache.dir().join("odd.lxs").is_dir());
        assert!(!cache.dir().join(".segment-dead").exists());
        assert!(!cache.dir().join(".compact-dead").exists());
        assert_eq!(open().state, CacheState::Loaded(MAX_SEGMENTS + 2));
    }

    #[test]
    fn threads_writing_and_compacting_at_once_lose_nothing() {
        let root = tempfile::tempdir().unwrap();
        let open = || EmbeddingCache::open(root.path(), "abc", "opts", 2);
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for round in 0..12 {
                        let mut w = open().writer();
                        for k in 0..5 {
                            let i = t * 1000 + round * 10 + k;
                            w.append([(&key(i), &[i as f32, 1.0][..])]);
                        }
                    }
                });
            }
        });
        let cache = open();
        assert_eq!(cache.state, CacheState::Loaded(4 * 12 * 5));
        assert!(segments(cache.dir()) <= MAX_SEGMENTS + 1);
    }
}
