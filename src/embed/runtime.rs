//! The ONNX Runtime shared library, loaded once per process with `ort::init_from`
//! so that a missing or wrong library is a clear error, not a panic.

use std::path::Path;
use std::sync::Mutex;

use ort::environment::Environment;

use crate::assets::SETUP_HINT;
use crate::error::{Error, Result};

static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// The process-wide ONNX Runtime environment, loading the library at `library`
/// on first use. Later calls reuse it (the library cannot be swapped in-process).
pub(crate) fn environment(library: &Path) -> Result<Environment> {
    let mut guard = ENVIRONMENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(env) = guard.as_ref() {
        return Ok(env.clone());
    }
    if !library.is_file() {
        return Err(Error::Asset {
            what: "ONNX Runtime library (libonnxruntime.so.1.31.1)".into(),
            path: library.to_path_buf(),
            problem: "file not found".into(),
            hint: format!(
                "{SETUP_HINT}, or point ORT_DYLIB_PATH / --ort-lib at an onnxruntime 1.31 library"
            ),
        });
    }
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
