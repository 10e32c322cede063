//! The one way lexalign opens an ONNX Runtime session: threads, graph optimisation
//! and device, for every graph (model.onnx, embed_past.onnx, generate.onnx).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use ort::session::{builder::GraphOptimizationLevel, Session};

use crate::error::{Error, Result};

/// ONNX Runtime's graph optimisation level. `all` is the default: on this
/// project's models it was the fastest or within noise of it, and its extra
/// session load time (≤ 0.15 s) is paid once per process (docs/PERFORMANCE.md,
/// "ONNX Runtime session settings").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum GraphOpt {
    Disable,
    Basic,
    Extended,
    #[default]
    All,
}

impl GraphOpt {
    fn level(self) -> GraphOptimizationLevel {
        match self {
            GraphOpt::Disable => GraphOptimizationLevel::Disable,
            GraphOpt::Basic => GraphOptimizationLevel::Level1,
            GraphOpt::Extended => GraphOptimizationLevel::Level2,
            GraphOpt::All => GraphOptimizationLevel::All,
        }
    }
}

impl std::fmt::Display for GraphOpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GraphOpt::Disable => "disable",
            GraphOpt::Basic => "basic",
            GraphOpt::Extended => "extended",
            GraphOpt::All => "all",
        })
    }
}

/// Where ONNX Runtime runs a model. `cuda` needs the GPU build of the library
/// (PyPI `onnxruntime-gpu`, same version) given as `--ort-lib`/`ORT_DYLIB_PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
}

/// How a session is opened, resolved once: intra-op threads, graph optimisation,
/// device and the ONNX Runtime library.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSettings {
    pub threads: NonZeroUsize,
    pub graph_opt: GraphOpt,
    pub device: Device,
    pub ort_library: PathBuf,
}

impl SessionSettings {
    /// A session on `graph` (a file in the model directory `dir`, which errors name).
    pub fn open(&self, graph: &Path, dir: &Path) -> Result<Session> {
        let env = super::runtime::environment(&self.ort_library)?;
        let mut builder = Session::builder(&env)?;
        if self.device == Device::Cuda {
            builder = cuda(builder, &self.ort_library)?;
        }
        builder
            .with_optimization_level(self.graph_opt.level())
            .map_err(ort::Error::from)?
            .with_intra_threads(self.threads.get())
            .map_err(ort::Error::from)?
            .with_inter_threads(1)
            .map_err(ort::Error::from)?
            .commit_from_file(graph)
            .map_err(|e| {
                let name = graph.file_name().unwrap_or_default().to_string_lossy();
                Error::Model {
                    path: dir.to_path_buf(),
                    message: format!("ONNX Runtime could not load {name}: {e}"),
                }
            })
    }

    /// Loads the ONNX Runtime library (a no-op once loaded; in evcxr a later cell
    /// has its own copy of `ort`, whose library handle must be set before any call).
    pub(crate) fn ready(&self) -> Result<()> {
        super::runtime::environment(&self.ort_library).map(|_| ())
    }
}

/// Registers the CUDA execution provider, or says why it cannot be used.
fn cuda(
    builder: ort::session::builder::SessionBuilder,
    lib: &Path,
) -> Result<ort::session::builder::SessionBuilder> {
    use ort::ep::ExecutionProvider;
    let hint = "install the GPU build of the same version (pip install onnxruntime-gpu==1.31.1) and give its \
                onnxruntime/capi/libonnxruntime.so.1.31.1 as --ort-lib or ORT_DYLIB_PATH; the CUDA and cuDNN libraries that build needs must be on the library path";
    let available = ort::ep::CUDA::is_available().unwrap_or(false);
    crate::ensure!(
        available,
        Error::param(
            "device",
            format!(
                "cuda: the ONNX Runtime library {} was built without CUDA; {hint}",
                lib.display()
            )
        )
    );
    builder
        .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
        .map_err(|e| {
            Error::param(
                "device",
                format!("cuda: ONNX Runtime could not start CUDA: {e}; {hint}"),
            )
        })
}
