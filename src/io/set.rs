//! [`OutputSet`]: a run's output files replace the previous run's as one set.
//!
//! Everything is first written into a hidden staging folder inside each target
//! folder (`.lexalign-new-*`, same file system, so moves are renames). Only when
//! every file is written does [`OutputSet::commit`] move each old entry aside
//! (`.lexalign-old-*`) and the new one in; if a move fails, the moves done so far
//! are undone. A failed run therefore leaves the old set untouched and no
//! staging folders. Only the entries the set names are replaced: other files a
//! user keeps in the folder stay.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::sync_dir;

/// One target folder and its staging folders.
struct Stage {
    dir: PathBuf,
    new: tempfile::TempDir,
    old: tempfile::TempDir,
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
        let temp = |kind: &str| {
            tempfile::Builder::new()
                .prefix(&format!(".lexalign-{kind}-"))
                .tempdir_in(&canon)
                .map_err(|e| Error::io(dir, e))
        };
        let (new, old) = (temp("new")?, temp("old")?);
        let stage = Stage {
            dir: canon,
            new,
            old,
            retired: Vec::new(),
        };
        let path = stage.new.path().to_path_buf();
        self.stages.push(stage);
        Ok(path)
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

/// Test hook (debug builds only): `LEXALIGN_FAIL_COMMIT_AFTER=N` fails a commit
/// after N entries are swapped, to show the rollback.
fn fail_point(swapped: usize) -> Result<()> {
    #[cfg(debug_assertions)]
    if std::env::var("LEXALIGN_FAIL_COMMIT_AFTER").is_ok_and(|n| n == swapped.to_string()) {
        return Err(Error::io(
            "output set",
            std::io::Error::other(format!("injected failure after {swapped} entries")),
        ));
    }
    let _ = swapped;
    Ok(())
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
