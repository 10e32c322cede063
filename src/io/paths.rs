//! One check that no output of a run replaces one of its inputs, used by every
//! command before any work: same file after resolving links and `..`, the same
//! file under another name (hard link: device and inode), or an input inside a
//! folder the run replaces whole.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Fails, naming both flags, when an output (`flag`, path) is an input or holds
/// one. Outputs that do not exist yet are compared by their resolved folder.
pub fn refuse_overwrite(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    for (out_flag, out) in outputs {
        let out_resolved = resolve(out);
        for (in_flag, input) in inputs {
            let in_resolved = resolve(input);
            let clash = same_inode(input, out)
                || match (&in_resolved, &out_resolved) {
                    (Some(i), Some(o)) => i.starts_with(o),
                    _ => false,
                };
            if clash {
                let how = match in_resolved.zip(out_resolved) {
                    Some((i, o)) if i != o && i.starts_with(&o) => "is inside",
                    _ => "is the same file as",
                };
                return Err(Error::param(
                    *out_flag,
                    format!(
                        "{} would replace the input: {in_flag} {} {how} {}; choose another output",
                        out.display(),
                        input.display(),
                        out.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether two paths name one file (existing or not).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b || same_inode(a, b) || resolve(a).is_some_and(|r| Some(r) == resolve(b))
}

/// `path` with links and `..` resolved: the whole path when it exists, else its
/// folder resolved and the name appended. `None` when the name is missing.
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let parent = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let parent = parent
        .canonicalize()
        .unwrap_or_else(|_| std::path::absolute(parent).unwrap_or(parent.to_path_buf()));
    Some(parent.join(path.file_name()?))
}

/// Both exist and are one file (hard links included).
fn same_inode(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_hard_links_and_folders_are_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let input = d.join("p.csv");
        std::fs::write(&input, "a\n").unwrap();
        std::os::unix::fs::symlink(&input, d.join("soft.csv")).unwrap();
        std::fs::hard_link(&input, d.join("hard.csv")).unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        let ins = [("--input", input.as_path())];
        for out in [
            input.clone(),
            d.join("soft.csv"),
            d.join("hard.csv"),
            d.join("sub/../p.csv"),
        ] {
            let e = refuse_overwrite(&ins, &[("--output", &out)]).unwrap_err();
            assert!(
                e.to_string().contains("--output") && e.to_string().contains("same file"),
                "{e}"
            );
        }
        let e = refuse_overwrite(&ins, &[("--out", d)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is inside"), "{e}");
        refuse_overwrite(&ins, &[("--output", &d.join("q.csv"))]).unwrap();
        refuse_overwrite(&ins, &[("--output", &d.join("sub/p.csv"))]).unwrap();
    }
}
