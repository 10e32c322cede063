//! [`OutputSet`]: a run's output files replace the previous run's as one set.
//!
//! Everything is first written into a hidden staging folder inside each target
//! folder (`.lexalign-new-*`, same file system, so moves are renames). Only when
//! every file is written does [`OutputSet::commit`] move each old entry aside
//! (`.lexalign-old-*`) and the new one in; if a move fails, the moves done so far
//! are undone. A failed run therefore leaves the old set untouched and no
//! staging folders. Only the entries the set names are replaced: other files a
//! user keeps in the folder stay.
//!
//! Runs writing into the same folders at once are serialised by folder locks
//! (`flock` on the folder itself): a commit holds every target folder's lock,
//! taken in path order, so two runs' swaps never interleave and the folders
//! hold one run's set whole; a run that finds a folder locked says so and
//! waits. Each staging folder carries a shared lock of its own while its run
//! lives, so a later run can tell staging that a killed run left behind (lock
//! free: removed) from staging in use (lock held: left alone).

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::sync_dir;

/// One target folder and its staging folders.
struct Stage {
    dir: PathBuf,
    new: tempfile::TempDir,
    old: tempfile::TempDir,
    /// Shared locks on `new` and `old`, held while this run lives: they mark the
    /// staging as in use (see [`sweep`]).
    _owner: [Option<File>; 2],
    /// Entries to remove from `dir` on commit when the new set lacks them.
    retired: Vec<String>,
}

/// The outputs of one run, staged until [`commit`](OutputSet::commit).
#[derive(Default)]
pub struct OutputSet {
    stages: Vec<Stage>,
}

/// A move done by a commit, undone on failure.
struct Done {
    target: PathBuf,
    /// Where the old entry went, if there was one.
    backup: Option<PathBuf>,
    /// Where the new entry came from, if it was moved in.
    staged: Option<PathBuf>,
}

impl OutputSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The staging folder for outputs bound for `dir` (made if needed): a file
    /// written there as `NAME` replaces `dir/NAME` on commit.
    pub fn stage(&mut self, dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let canon = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        if let Some(s) = self.stages.iter().find(|s| s.dir == canon) {
            return Ok(s.new.path().to_path_buf());
        }
        // Under the folder's lock: no other run sweeps while this one's staging
        // exists but is not yet marked as in use.
        let folder = lock_folder(&canon, true)?;
        sweep(&canon);
        let temp = |kind: &str| {
            tempfile::Builder::new()
                .prefix(&format!(".lexalign-{kind}-"))
                .tempdir_in(&canon)
                .map_err(|e| Error::io(dir, e))
        };
        let (new, old) = (temp("new")?, temp("old")?);
        let owner = [mark_in_use(new.path()), mark_in_use(old.path())];
        drop(folder);
        let stage = Stage {
            dir: canon,
            new,
            old,
            _owner: owner,
            retired: Vec::new(),
        };
        let path = stage.new.path().to_path_buf();
        self.stages.push(stage);
        Ok(path)
    }

    /// Where to write the new version of the file `path`: its name in the staging
    /// folder of its folder (which must exist). Files staged this way are
    /// swapped in together on commit: a set of single files, e.g. a table and its
    /// `.meta.json`, is replaced whole or not at all.
    pub fn stage_file(&mut self, path: &Path) -> Result<PathBuf> {
        let name = path.file_name().ok_or_else(|| {
            Error::io(
                path,
                std::io::Error::other("expected a file name, not a folder"),
            )
        })?;
        let dir = super::output_dir(path)?;
        Ok(self.stage(&dir)?.join(name))
    }

    /// Marks `dir/name` as an output of earlier runs that this set may lack: it
    /// is removed on commit unless the set writes it anew.
    pub fn retire(&mut self, dir: &Path, name: &str) -> Result<()> {
        self.stage(dir)?;
        let canon = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        if let Some(s) = self.stages.iter_mut().find(|s| s.dir == canon) {
            s.retired.push(name.to_string());
        }
        Ok(())
    }

    /// Swaps every staged entry in; on failure restores the old set and says
    /// which move failed. The staging folders are removed either way.
    pub fn commit(self) -> Result<()> {
        // Every target folder locked, in one order for all runs (no deadlock).
        let mut dirs: Vec<&Path> = self.stages.iter().map(|s| s.dir.as_path()).collect();
        dirs.sort();
        let _locks = dirs
            .into_iter()
            .map(|d| lock_folder(d, true))
            .collect::<Result<Vec<_>>>()?;
        self.check_kinds()?;
        let mut done = Vec::new();
        let result = self.swap_in(&mut done);
        if result.is_err() {
            for d in done.iter().rev() {
                undo(d);
            }
        }
        for s in &self.stages {
            sync_dir(&s.dir);
        }
        result
    }

    /// A staged file never replaces a folder, nor a staged folder a file: a
    /// user's folder named like an output is not moved aside and deleted.
    fn check_kinds(&self) -> Result<()> {
        for s in &self.stages {
            for name in staged_names(s.new.path())? {
                let target = s.dir.join(&name);
                let Ok(old) = fs::symlink_metadata(&target) else {
                    continue;
                };
                let new_is_dir = s.new.path().join(&name).is_dir();
                if old.is_dir() != new_is_dir {
                    let (is, wants) = match new_is_dir {
                        true => ("is a file", "a folder"),
                        false => ("is a folder", "a file"),
                    };
                    return Err(Error::io(
                        &target,
                        std::io::Error::other(format!(
                            "{is}; this run writes {wants} there (nothing was replaced: move it away or choose another output)"
                        )),
                    ));
                }
            }
        }
        Ok(())
    }

    fn swap_in(&self, done: &mut Vec<Done>) -> Result<()> {
        for s in &self.stages {
            let mut names = staged_names(s.new.path())?;
            for r in &s.retired {
                if !names.contains(r) {
                    names.push(r.clone());
                }
            }
            for name in names {
                fail_point(done.len())?;
                let target = s.dir.join(&name);
                let mut step = Done {
                    target: target.clone(),
                    backup: None,
                    staged: None,
                };
                if fs::symlink_metadata(&target).is_ok() {
                    let backup = s.old.path().join(&name);
                    fs::rename(&target, &backup).map_err(|e| Error::io(&target, e))?;
                    step.backup = Some(backup);
                }
                let staged = s.new.path().join(&name);
                if staged.exists() {
                    let moved = fs::rename(&staged, &target).map_err(|e| Error::io(&target, e));
                    if moved.is_ok() {
                        step.staged = Some(staged);
                    }
                    done.push(step);
                    moved?;
                } else {
                    done.push(step);
                }
            }
        }
        Ok(())
    }
}

/// Puts one target back as it was (best effort: the undo of a rename).
fn undo(d: &Done) {
    if let Some(staged) = &d.staged {
        let _ = fs::rename(&d.target, staged);
    }
    if let Some(backup) = &d.backup {
        let _ = fs::rename(backup, &d.target);
    }
}

/// Top-level names in a staging folder, sorted (files before the folders that
/// hold more of the set would not matter: each name is swapped whole).
fn staged_names(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Test hooks (debug builds only): `LEXALIGN_FAIL_COMMIT_AFTER=N` fails a commit
/// after N entries are swapped, to show the rollback; `LEXALIGN_STOP_COMMIT_AFTER=N`
/// stops the process there (SIGSTOP, folder locks held), so a test can start a
/// second run against it or kill it mid-swap at a known point.
fn fail_point(swapped: usize) -> Result<()> {
    #[cfg(debug_assertions)]
    {
        let hook = |name: &str| std::env::var(name).is_ok_and(|n| n == swapped.to_string());
        if hook("LEXALIGN_STOP_COMMIT_AFTER") {
            crate::io::stop_here();
        }
        if hook("LEXALIGN_FAIL_COMMIT_AFTER") {
            return Err(Error::io(
                "output set",
                std::io::Error::other(format!("injected failure after {swapped} entries")),
            ));
        }
    }
    let _ = swapped;
    Ok(())
}

/// The held lock of a folder (`None` where the file system has no locks).
pub(crate) struct FolderLock(#[allow(dead_code)] Option<File>);

/// Locks `dir` (exclusive or shared), saying so on stderr and waiting when
/// another run holds it. A file system without locks gives no lock, not an error.
pub(crate) fn lock_folder(dir: &Path, exclusive: bool) -> Result<FolderLock> {
    // A folder that cannot be opened for reading (mode -wx) cannot be locked either.
    let Ok(file) = File::open(dir) else {
        return Ok(FolderLock(None));
    };
    let tried = match exclusive {
        true => file.try_lock(),
        false => file.try_lock_shared(),
    };
    match tried {
        Ok(()) => Ok(FolderLock(Some(file))),
        Err(TryLockError::WouldBlock) => {
            eprintln!(
                "waiting for another lexalign run that is writing in {}",
                dir.display()
            );
            match exclusive {
                true => file.lock(),
                false => file.lock_shared(),
            }
            .map_err(|e| Error::io(dir, e))?;
            Ok(FolderLock(Some(file)))
        }
        Err(TryLockError::Error(_)) => Ok(FolderLock(None)),
    }
}

/// A shared lock on a staging folder, held for the run's life.
fn mark_in_use(dir: &Path) -> Option<File> {
    let f = File::open(dir).ok()?;
    f.try_lock_shared().ok()?;
    Some(f)
}

/// Whether staging that `path` names is abandoned: its owner's lock is free.
/// `None`: cannot tell (no locks on this file system).
fn abandoned(path: &Path) -> Option<bool> {
    let f = File::open(path).ok()?;
    match f.try_lock() {
        Ok(()) => Some(true),
        Err(TryLockError::WouldBlock) => Some(false),
        Err(TryLockError::Error(_)) => None,
    }
}

/// Removes the staging folders and temp files that runs killed while writing
/// left in `dir` (`.lexalign-new-*`, `.lexalign-old-*`, `.lexalign-*.tmp`) and
/// no live run holds; warns about what it cannot prove abandoned or must not
/// remove. Called with `dir`'s lock held.
pub(crate) fn sweep(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(kind) = e.file_type() else { continue };
        let staging = kind.is_dir()
            && (name.starts_with(".lexalign-new-") || name.starts_with(".lexalign-old-"));
        let temp = kind.is_file() && name.starts_with(".lexalign-") && name.ends_with(".tmp");
        if !staging && !temp {
            continue;
        }
        let path = e.path();
        match abandoned(&path) {
            Some(false) => {}
            None => eprintln!(
                "warning: {}: left by a lexalign run; cannot tell whether that run still writes (no file locks here); remove it once no run writes in {}",
                path.display(),
                dir.display()
            ),
            Some(true) if name.starts_with(".lexalign-old-") && !is_empty_dir(&path) => eprintln!(
                "warning: {}: holds outputs a run moved aside and was stopped before finishing its swap; {} may mix two runs' outputs; compare, then remove it",
                path.display(),
                dir.display()
            ),
            Some(true) => {
                let removed = match staging {
                    true => fs::remove_dir_all(&path),
                    false => fs::remove_file(&path),
                };
                if let Err(err) = removed {
                    eprintln!(
                        "warning: {}: left by an interrupted lexalign run; cannot remove it: {err}",
                        path.display()
                    );
                }
            }
        }
    }
}

fn is_empty_dir(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    fn hidden(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".lexalign"))
            .collect()
    }

    #[test]
    fn failed_commit_leaves_the_old_set_and_success_replaces_it() {
        let root = tempfile::tempdir().unwrap();
        let (out, figs) = (root.path().join("out"), root.path().join("figs"));
        fs::create_dir_all(out.join("pairs")).unwrap();
        fs::create_dir_all(&figs).unwrap();
        fs::write(out.join("pairs/old.csv"), "old").unwrap();
        fs::write(out.join("summary.json"), "old").unwrap();
        fs::write(out.join("mine.txt"), "user").unwrap();
        fs::write(figs.join("fig6.png"), "old").unwrap();
        let write_new = || {
            let mut set = OutputSet::new();
            let o = set.stage(&out).unwrap();
            fs::create_dir(o.join("pairs")).unwrap();
            fs::write(o.join("pairs/new.csv"), "new").unwrap();
            fs::write(o.join("summary.json"), "new").unwrap();
            let f = set.stage(&figs).unwrap();
            fs::write(f.join("fig1.png"), "new").unwrap();
            set.retire(&figs, "fig6.png").unwrap();
            set
        };
        // The figures folder vanishes before the commit: its move fails after
        // the results folder's entries were swapped, and those are undone.
        let set = write_new();
        fs::rename(&figs, root.path().join("gone")).unwrap();
        assert!(set.commit().is_err());
        fs::rename(root.path().join("gone"), &figs).unwrap();
        for n in hidden(&figs) {
            fs::remove_dir_all(figs.join(n)).unwrap();
        }
        assert_eq!(read(&out.join("summary.json")), "old");
        assert_eq!(read(&out.join("pairs/old.csv")), "old");
        assert!(!out.join("pairs/new.csv").exists());
        assert!(hidden(&out).is_empty(), "{:?}", hidden(&out));
        // Success: the set is replaced whole; the user's file stays.
        write_new().commit().unwrap();
        assert_eq!(read(&out.join("summary.json")), "new");
        assert!(!out.join("pairs/old.csv").exists());
        assert_eq!(read(&out.join("pairs/new.csv")), "new");
        assert_eq!(read(&out.join("mine.txt")), "user");
        assert!(!figs.join("fig6.png").exists());
        assert_eq!(read(&figs.join("fig1.png")), "new");
        assert!(hidden(&out).is_empty() && hidden(&figs).is_empty());
    }
}
