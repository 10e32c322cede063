//! Benchmarks as data: what lexalign measures about its own speed and against which
//! peer, returned as plain structs for the CLI to print and write. Measuring lives
//! here; `lexalign bench` (src/cli/bench.rs) only parses flags and prints.
//!
//! - [`throughput`]: embedding strings/s, best of several runs, and the Python
//!   onnxruntime peer on the same strings, model and threads (for a decoder also
//!   llama.cpp on the GGUF it was imported from);
//! - [`retrieval`]: exact retrieval against numpy's GEMM (the one retrieval timing);
//! - [`suite`]: all of it in one invocation, one report and one figure;
//! - [`peer`]: the peers, as the project venv's scripts;
//! - [`machine`]: CPU, instruction sets, load, date, ONNX Runtime version.

pub mod machine;
pub mod peer;
pub mod retrieval;
pub mod suite;
pub mod throughput;

pub use machine::Machine;
pub use peer::{LlamaCpp, Peer};
pub use retrieval::{time_retrieval, RetrievalBench, Runs};
pub use suite::{Measured, Overrides, Suite, SuiteReport};
pub use throughput::{
    against_llama_cpp, against_peer, time_lexalign, Ours, PeerRun, Throughput, Timing,
};
