//! The ONNX Runtime shared library, loaded once per process with `ort::init_from`
//! so that a missing or wrong library is a clear error, not a panic. A truncated
//! library would kill the process with SIGBUS inside `dlopen`, so it is checked
//! first: the installed one against `manifest.json` (size, then sha256), any
//! library for a complete ELF file.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

use ort::environment::Environment;

use crate::assets::{self, verify, Manifest, SETUP_HINT};
use crate::error::{Error, Result};

static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

const WHAT: &str = "ONNX Runtime library (libonnxruntime.so.1.31.1)";

/// The process-wide ONNX Runtime environment, loading the library at `library`
/// on first use. Later calls reuse it (the library cannot be swapped in-process).
pub(crate) fn environment(library: &Path) -> Result<Environment> {
    let mut guard = ENVIRONMENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(env) = guard.as_ref() {
        return Ok(env.clone());
    }
    check_library(library)?;
    let builder = ort::init_from(library).map_err(|e| Error::Asset {
        what: "ONNX Runtime library".into(),
        path: library.to_path_buf(),
        problem: e.to_string(),
        hint: format!("{SETUP_HINT}; lexalign needs onnxruntime 1.31 (API 31)"),
    })?;
    let env = builder.with_name("lexalign").build()?;
    *guard = Some(env.clone());
    Ok(env)
}

/// ONNX Runtime's build string (version, git branch and commit) of the library
/// at `library`, loading it first if this process has not.
pub fn build_info(library: &Path) -> Result<String> {
    environment(library)?;
    Ok(ort::info().to_string())
}

/// Refuses a library that is missing, not a file, not ELF, cut short, or (the
/// installed one) not the file `manifest.json` records.
fn check_library(library: &Path) -> Result<()> {
    let installed = is_installed(library);
    let wrong = |problem: String| Error::Asset {
        what: WHAT.into(),
        path: library.to_path_buf(),
        problem,
        hint: if installed {
            "Re-install it with `make setup` (runs scripts/setup.sh)".into()
        } else {
            "Point ORT_DYLIB_PATH / --ort-lib at a complete onnxruntime 1.31 library, \
             or unset it to use the installed one"
                .into()
        },
    };
    let meta = std::fs::metadata(library).map_err(|e| {
        wrong(match e.kind() {
            std::io::ErrorKind::NotFound => "file not found".into(),
            _ => e.to_string(),
        })
    })?;
    if !meta.is_file() {
        return Err(wrong("not a regular file".into()));
    }
    if installed {
        check_against_manifest(library, meta.len()).map_err(wrong)?;
    }
    check_elf(library, meta.len()).map_err(wrong)
}

/// Whether `library` is the copy the set-up installed (the one the manifest records).
fn is_installed(library: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    canon(library).is_some_and(|l| Some(l) == canon(&assets::installed_ort_library()))
}

/// The installed library's size, then sha256, against `manifest.json`. Without a
/// manifest (or an entry) only the ELF check applies.
fn check_against_manifest(library: &Path, size: u64) -> std::result::Result<(), String> {
    let Some(entry) = Manifest::load()
        .ok()
        .and_then(|m| m.find(assets::ORT_LIBRARY).cloned())
    else {
        return Ok(());
    };
    if let Some(bytes) = entry.bytes.filter(|b| *b != size) {
        return Err(format!(
            "{size} bytes, but manifest.json records {bytes} bytes: the file is truncated or altered"
        ));
    }
    match verify::sha256_mismatch(library, &entry.sha256) {
        Ok(None) => Ok(()),
        Ok(Some(found)) => Err(format!(
            "its sha256 {found} differs from the {} manifest.json records: the file is corrupt or altered",
            entry.sha256
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The ELF header's promise that the file holds its program and section header
/// tables and every loadable segment; a cut-short file breaks it.
fn check_elf(library: &Path, size: u64) -> std::result::Result<(), String> {
    let mut f = std::fs::File::open(library).map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = read_up_to(&mut f, &mut head)?;
    if n < 52 || head[..4] != *b"\x7fELF" {
        return Err("not a shared library: no ELF header".into());
    }
    let elf = Elf::new(&head).ok_or("not a shared library: unknown ELF class or byte order")?;
    let (ph_off, ph_size, ph_num, sh_end) = elf.tables(&head);
    let ph_end = ph_off.saturating_add(ph_size.saturating_mul(ph_num));
    let mut needed = sh_end.max(ph_end);
    if ph_end <= size && ph_size >= elf.ph_min() {
        let mut table = vec![0u8; (ph_size * ph_num) as usize];
        f.seek(SeekFrom::Start(ph_off))
            .and_then(|_| f.read_exact(&mut table))
            .map_err(|e| e.to_string())?;
        for ph in table.chunks_exact(ph_size as usize) {
            needed = needed.max(elf.segment_end(ph));
        }
    }
    if needed > size {
        return Err(format!(
            "truncated: the file has {size} bytes, but its ELF headers describe {needed}"
        ));
    }
    Ok(())
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::result::Result<usize, String> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(n)
}

/// ELF class (32/64-bit) and byte order, for reading header fields.
struct Elf {
    wide: bool,
    little: bool,
}

impl Elf {
    fn new(head: &[u8; 64]) -> Option<Elf> {
        let wide = match head[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let little = match head[5] {
            1 => true,
            2 => false,
            _ => return None,
        };
        Some(Elf { wide, little })
    }

    /// An unsigned field of `len` bytes at `at`.
    fn field(&self, b: &[u8], at: usize, len: usize) -> u64 {
        let bytes = &b[at..at + len];
        let fold = |acc: u64, x: &u8| (acc << 8) | u64::from(*x);
        if self.little {
            bytes.iter().rev().fold(0, fold)
        } else {
            bytes.iter().fold(0, fold)
        }
    }

    /// Program header table offset, entry size, count; end of the section header table.
    fn tables(&self, h: &[u8; 64]) -> (u64, u64, u64, u64) {
        let (ph_off, sh_off, sizes) = if self.wide {
            (self.field(h, 0x20, 8), self.field(h, 0x28, 8), 0x36)
        } else {
            (self.field(h, 0x1c, 4), self.field(h, 0x20, 4), 0x2a)
        };
        let ph_size = self.field(h, sizes, 2);
        let ph_num = self.field(h, sizes + 2, 2);
        let sh_size = self.field(h, sizes + 4, 2);
        let sh_num = self.field(h, sizes + 6, 2);
        (ph_off, ph_size, ph_num, sh_off + sh_size * sh_num)
    }

    /// The smallest program header entry this class has.
    fn ph_min(&self) -> u64 {
        if self.wide {
            56
        } else {
            32
        }
    }

    /// Where a loadable segment's file bytes end (0 for other entries).
    fn segment_end(&self, ph: &[u8]) -> u64 {
        const PT_LOAD: u64 = 1;
        if self.field(ph, 0, 4) != PT_LOAD {
            return 0;
        }
        let (off, filesz) = if self.wide {
            (self.field(ph, 8, 8), self.field(ph, 0x20, 8))
        } else {
            (self.field(ph, 4, 4), self.field(ph, 0x10, 4))
        };
        off.saturating_add(filesz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_libraries_are_refused_whole_ones_pass() {
        let lib = assets::installed_ort_library();
        if !lib.is_file() {
            return;
        }
        let bytes = std::fs::read(&lib).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("libonnxruntime.so");
        std::fs::write(&copy, &bytes).unwrap();
        assert_eq!(check_elf(&copy, bytes.len() as u64), Ok(()));
        for keep in [bytes.len() - 1, bytes.len() / 2, 4096, 10] {
            std::fs::write(&copy, &bytes[..keep]).unwrap();
            let e = check_library(&copy).unwrap_err().to_string();
            assert!(
                e.contains("truncated") || e.contains("no ELF header"),
                "{e}"
            );
            assert!(e.contains("ORT_DYLIB_PATH"), "{e}");
        }
        std::fs::write(&copy, b"#!/bin/sh\n").unwrap();
        let e = check_library(&copy).unwrap_err().to_string();
        assert!(e.contains("no ELF header"), "{e}");
        let e = check_library(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
