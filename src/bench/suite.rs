//! A whole benchmark in one invocation (`bench --suite`): for each model and thread
//! count lexalign is timed and the Python peer right after it, on the same strings
//! (a decoder also against llama.cpp on its GGUF, when `make llama-cpp` installed it);
//! for each N exact retrieval is timed and numpy's GEMM right after it. One report
//! holds the settings, the machine, ONNX Runtime's version, the models' identities
//! and every measurement; [`draw`] makes its two-panel figure.

use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::machine::{self, Machine};
use super::peer::Peer;
use super::retrieval::{time_retrieval, RetrievalBench, Runs};
use super::throughput::{against_llama_cpp, against_peer, time_lexalign, Ours, Throughput, Timing};
use crate::embed::{GraphOpt, Model, ModelInfo, ModelKind, ModelOptions};
use crate::model::Asked;
use crate::plot::{self, ThroughputGroup, TimingSeries};
use crate::{ensure, Error, Result};

/// The suite `default` stands for (also `make bench`'s file).
pub const DEFAULT_SUITE: &str = include_str!("../../configs/bench.toml");

/// A suite file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    threads: Vec<usize>,
    repeat: usize,
    batch_size: usize,
    peer_batch_size: usize,
    #[serde(default)]
    graph_opt: GraphOpt,
    #[serde(default, rename = "model")]
    models: Vec<ModelFile>,
    retrieval: Option<RetrievalFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    name: String,
    count: usize,
    repeat: Option<usize>,
    /// Also the ratio to this (earlier) model's peer at the same thread count.
    also_against: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrievalFile {
    n: Vec<usize>,
    dim: usize,
    threads: usize,
    repeat: usize,
    /// More runs (up to 50) until lexalign's add up to this many seconds.
    #[serde(default)]
    min_seconds: f64,
}

/// What the command line sets over a suite file.
#[derive(Debug, Clone, Copy)]
pub struct Overrides {
    pub graph_opt: Option<GraphOpt>,
    pub share_prefixes: bool,
    /// `false` (`--no-peer`): lexalign only.
    pub peers: bool,
}

/// The suite, checked once: every count and thread number is usable, and a model
/// compared with another's peer comes after it and embeds the same strings.
#[derive(Debug, Clone, Serialize)]
pub struct Suite {
    threads: Vec<NonZeroUsize>,
    timing: Timing,
    models: Vec<SuiteModel>,
    retrieval: Option<RetrievalSuite>,
    /// `--no-peer`: lexalign only.
    peers: bool,
}

#[derive(Debug, Clone, Serialize)]
struct SuiteModel {
    name: String,
    count: usize,
    repeat: usize,
    also_against: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct RetrievalSuite {
    n: Vec<usize>,
    dim: usize,
    threads: NonZeroUsize,
    repeat: usize,
    min_seconds: f64,
}

impl Suite {
    /// Checks a suite file's `text`; `origin` names it in errors.
    pub fn resolve(text: &str, origin: &str, overrides: Overrides) -> Result<Suite> {
        let file: SuiteFile = toml::from_str(text)
            .map_err(|e| Error::parse_file(origin, e.to_string().trim_end().to_string()))?;
        let invalid = |message: String| Error::param(origin, message);
        let at_least_one = |what: &str, v: usize| -> Result<()> {
            ensure!(
                v >= 1,
                invalid(format!("{what} must be at least 1, got {v}"))
            );
            Ok(())
        };
        at_least_one("repeat", file.repeat)?;
        at_least_one("batch_size", file.batch_size)?;
        at_least_one("peer_batch_size", file.peer_batch_size)?;
        ensure!(
            !file.threads.is_empty() || file.models.is_empty(),
            invalid("threads is empty".into())
        );
        let threads = file
            .threads
            .iter()
            .map(|&t| {
                ensure!(
                    t >= 1,
                    invalid(format!("threads must be at least 1, got {t}"))
                );
                crate::parallel::from_setting(t)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut models: Vec<SuiteModel> = Vec::new();
        for m in file.models {
            at_least_one(&format!("model {:?}: count", m.name), m.count)?;
            let repeat = m.repeat.unwrap_or(file.repeat);
            at_least_one(&format!("model {:?}: repeat", m.name), repeat)?;
            if let Some(other) = &m.also_against {
                let Some(earlier) = models.iter().find(|e| &e.name == other) else {
                    return Err(invalid(format!(
                        "model {:?}: also_against = {other:?} must name a model listed before it",
                        m.name
                    )));
                };
                ensure!(
                    earlier.count == m.count,
                    invalid(format!(
                        "model {:?}: also_against = {other:?} compares on the same strings, \
                         so its count must equal {other:?}'s ({} ≠ {})",
                        m.name, m.count, earlier.count
                    ))
                );
            }
            models.push(SuiteModel {
                name: m.name,
                count: m.count,
                repeat,
                also_against: m.also_against,
            });
        }
        let retrieval = file
            .retrieval
            .map(|r| -> Result<RetrievalSuite> {
                ensure!(!r.n.is_empty(), invalid("retrieval.n is empty".into()));
                for &n in &r.n {
                    ensure!(
                        n >= 3,
                        invalid(format!("retrieval.n must be at least 3, got {n}"))
                    );
                }
                at_least_one("retrieval.dim", r.dim)?;
                at_least_one("retrieval.repeat", r.repeat)?;
                at_least_one("retrieval.threads", r.threads)?;
                ensure!(
                    r.min_seconds.is_finite() && (0.0..=600.0).contains(&r.min_seconds),
                    invalid(format!(
                        "retrieval.min_seconds must be 0 to 600, got {}",
                        r.min_seconds
                    ))
                );
                Ok(RetrievalSuite {
                    n: r.n,
                    dim: r.dim,
                    threads: crate::parallel::from_setting(r.threads)?,
                    repeat: r.repeat,
                    min_seconds: r.min_seconds,
                })
            })
            .transpose()?;
        ensure!(
            !models.is_empty() || retrieval.is_some(),
            invalid("nothing to measure (no [[model]] and no [retrieval])".into())
        );
        Ok(Suite {
            threads,
            timing: Timing {
                repeat: file.repeat,
                batch_size: file.batch_size,
                peer_batch_size: file.peer_batch_size,
                graph_opt: overrides.graph_opt.unwrap_or(file.graph_opt),
                share_prefixes: overrides.share_prefixes,
            },
            models,
            retrieval,
            peers: overrides.peers,
        })
    }

    /// Whether the suite can draw its two-panel figure (it needs both kinds).
    pub fn drawable(&self) -> bool {
        !self.models.is_empty() && self.retrieval.is_some()
    }
}

/// One model at one thread count: lexalign, then its peer.
#[derive(Debug, Serialize)]
pub struct ThroughputRow {
    pub model: String,
    pub threads: usize,
    pub strings: usize,
    pub distinct: usize,
    pub lexalign: Throughput,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<Throughput>,
    /// lexalign strings/s ÷ the peer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowest_cosine: Option<f64>,
    /// lexalign strings/s ÷ another model's peer (e.g. int8 against the fp32 peer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<Against>,
    /// A decoder: llama.cpp on the GGUF it was imported from (same strings, threads,
    /// pooling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llama_cpp: Option<LlamaCppRow>,
    /// Why a decoder has no llama.cpp measurement (not installed, no GGUF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llama_cpp_skipped: Option<String>,
}

/// llama.cpp's run beside lexalign's.
#[derive(Debug, Serialize)]
pub struct LlamaCppRow {
    #[serde(flatten)]
    pub throughput: Throughput,
    /// lexalign strings/s ÷ llama.cpp's.
    pub ratio: f64,
    /// The lowest cosine between a string's lexalign and llama.cpp vectors (llama.cpp
    /// runs the quantised weights and quantises activations: close, not equal).
    pub lowest_cosine: f64,
}

impl LlamaCppRow {
    /// llama.cpp beside lexalign's run when peers run and the model is a decoder:
    /// its row, or why it did not run (nothing when it was not asked for).
    pub fn measure(
        peer: &Peer,
        ours: &Ours<'_>,
        output: &Path,
        peers: bool,
    ) -> Result<(Option<LlamaCppRow>, Option<String>)> {
        if !peers || ours.model.info().kind != ModelKind::Decoder {
            return Ok((None, None));
        }
        Ok(match against_llama_cpp(peer, ours, output)? {
            Ok(run) => (
                Some(LlamaCppRow {
                    throughput: run.throughput,
                    ratio: run.ratio,
                    lowest_cosine: run.lowest_cosine,
                }),
                None,
            ),
            Err(why) => (None, Some(why)),
        })
    }
}

#[derive(Debug, Serialize)]
pub struct Against {
    pub model: String,
    pub python_strings_per_s: f64,
    pub ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct ModelEntry {
    pub key: String,
    #[serde(flatten)]
    pub info: ModelInfo,
}

#[derive(Debug, Serialize)]
pub struct OrtEntry {
    pub version: String,
    pub build_info: String,
    pub library: String,
    pub graph_opt: GraphOpt,
    pub inter_op_threads: usize,
}

/// Everything a suite measured (what `--json` writes).
#[derive(Debug, Serialize)]
pub struct SuiteReport {
    pub date: String,
    pub lexalign_version: &'static str,
    pub machine: Machine,
    pub onnxruntime: OrtEntry,
    pub settings: Suite,
    pub models: Vec<ModelEntry>,
    pub throughput: Vec<ThroughputRow>,
    pub retrieval: Vec<RetrievalBench>,
    pub seconds_total: f64,
}

/// A measurement as it completes, for the caller to show.
pub enum Measured<'a> {
    Throughput {
        row: &'a ThroughputRow,
        repeat: usize,
    },
    Retrieval(&'a RetrievalBench),
}

/// Runs `suite`, loading each model by name with `base`'s library, device and output
/// (threads and graph optimisation from the suite); `on` sees each measurement.
pub fn run(
    suite: Suite,
    base: &ModelOptions,
    mut on: impl FnMut(Measured<'_>),
) -> Result<SuiteReport> {
    let started = Instant::now();
    let date = machine::utc_now();
    let mut machine = Machine::now();
    let peer = Peer::new();
    let scratch = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let build_info = crate::embed::onnxruntime_build_info(&base.ort_library)?;
    let (models, throughput) = run_throughput(&suite, base, &peer, scratch.path(), &mut on)?;
    let retrieval = run_retrieval(&suite, &peer, &mut on)?;
    machine.finish();
    Ok(SuiteReport {
        date,
        lexalign_version: env!("CARGO_PKG_VERSION"),
        machine,
        onnxruntime: OrtEntry {
            version: machine::ort_version(&build_info, &base.ort_library),
            build_info,
            library: crate::assets::shown_path(&base.ort_library),
            graph_opt: suite.timing.graph_opt,
            inter_op_threads: 1,
        },
        settings: suite,
        models,
        throughput,
        retrieval,
        seconds_total: started.elapsed().as_secs_f64(),
    })
}

/// Every model at every thread count, on the peer's strings (one file per model
/// in `scratch`): the models as loaded, and one row per (model, threads).
fn run_throughput(
    suite: &Suite,
    base: &ModelOptions,
    peer: &Peer,
    scratch: &Path,
    on: &mut impl FnMut(Measured<'_>),
) -> Result<(Vec<ModelEntry>, Vec<ThroughputRow>)> {
    let mut models: Vec<ModelEntry> = Vec::new();
    let mut throughput: Vec<ThroughputRow> = Vec::new();
    let Some(most) = suite.models.iter().map(|m| m.count).max() else {
        return Ok((models, throughput));
    };
    let all = scratch.join("strings.txt");
    peer.make_input(&all, most)?;
    let all = crate::io::read_strings(&all, None)?;
    for (k, m) in suite.models.iter().enumerate() {
        let input = scratch.join(format!("{k}.txt"));
        let texts = all[..m.count.min(all.len())].to_vec();
        crate::io::write_bytes_atomic(&input, (texts.join("\n") + "\n").as_bytes())?;
        for &threads in &suite.threads {
            let (mut row, info) = measure(suite, m, threads, &texts, &input, peer, base)?;
            if models.iter().all(|e| e.key != m.name) {
                models.push(ModelEntry {
                    key: m.name.clone(),
                    info,
                });
            }
            row.against = against(m, &throughput, threads, &row);
            on(Measured::Throughput {
                row: &row,
                repeat: m.repeat,
            });
            throughput.push(row);
        }
    }
    Ok((models, throughput))
}

/// `row` against the peer of the model `m` is compared with (`also_against`), at
/// the same thread count, from the rows measured so far.
fn against(
    m: &SuiteModel,
    done: &[ThroughputRow],
    threads: NonZeroUsize,
    row: &ThroughputRow,
) -> Option<Against> {
    let other = m.also_against.as_ref()?;
    let theirs = done
        .iter()
        .find(|r| &r.model == other && r.threads == threads.get())?
        .python
        .as_ref()?
        .strings_per_s;
    Some(Against {
        model: other.clone(),
        python_strings_per_s: theirs,
        ratio: row.lexalign.strings_per_s / theirs,
    })
}

/// Retrieval at each size of the suite, against numpy where the peer runs.
fn run_retrieval(
    suite: &Suite,
    peer: &Peer,
    on: &mut impl FnMut(Measured<'_>),
) -> Result<Vec<RetrievalBench>> {
    let mut retrieval = Vec::new();
    if let Some(r) = &suite.retrieval {
        let numpy = (suite.peers && peer.available()).then_some(peer);
        for &n in &r.n {
            let runs = Runs {
                min_runs: r.repeat,
                min_seconds: r.min_seconds,
            };
            let timed = time_retrieval(n, r.dim, r.threads, runs, numpy)?;
            on(Measured::Retrieval(&timed));
            retrieval.push(timed);
        }
    }
    Ok(retrieval)
}

/// Times one model at one thread count: lexalign (best of the model's repeat),
/// then the peer on the same strings.
fn measure(
    suite: &Suite,
    m: &SuiteModel,
    threads: NonZeroUsize,
    texts: &[String],
    input: &Path,
    peer: &Peer,
    base: &ModelOptions,
) -> Result<(ThroughputRow, ModelInfo)> {
    let timing = Timing {
        repeat: m.repeat,
        ..suite.timing
    };
    let options = base
        .clone()
        .with_threads(threads.get())
        .with_graph_opt(timing.graph_opt);
    let t = Instant::now();
    let model = Model::load_with(crate::assets::model_dir(Path::new(&m.name)), &options)
        .map_err(|e| e.context(format!("loading the bench model {}", m.name)))?;
    let load_seconds = t.elapsed().as_secs_f64();
    // one setting for lexalign and its peers: the model's own pooling and normalisation
    let setting = model.setting(&Asked::default())?;
    let (mut ours, emb) = time_lexalign(&model, &setting, texts, &timing)?;
    ours.load_seconds = Some(load_seconds);
    let run = Ours {
        model: &model,
        setting: &setting,
        input,
        timing: &timing,
        throughput: &ours,
        embeddings: &emb,
    };
    let compared = if suite.peers {
        Some(against_peer(peer, &run, &input.with_extension("npy"))?)
    } else {
        None
    };
    let (llama_cpp, llama_cpp_skipped) =
        LlamaCppRow::measure(peer, &run, &input.with_extension("llama.npy"), suite.peers)?;
    let row = ThroughputRow {
        model: m.name.clone(),
        threads: threads.get(),
        strings: texts.len(),
        distinct: emb.stats.distinct,
        lexalign: ours,
        ratio: compared.as_ref().map(|c| c.ratio),
        lowest_cosine: compared.as_ref().map(|c| c.lowest_cosine),
        python: compared.map(|c| c.throughput),
        against: None,
        llama_cpp,
        llama_cpp_skipped,
    };
    Ok((row, model.info().clone()))
}

/// The two-panel figure of a suite's report.
pub fn draw(report: &SuiteReport) -> Result<plot::Figure> {
    let groups = report
        .throughput
        .iter()
        .map(|r| {
            let mut notes = Vec::new();
            if let Some(x) = r.ratio {
                notes.push(format!("{x:.2}× own peer"));
            }
            if let Some(a) = &r.against {
                notes.push(format!("{:.2}× {} peer", a.ratio, a.model));
            }
            if let Some(l) = &r.llama_cpp {
                notes.push(format!("{:.2}× llama.cpp", l.ratio));
            }
            ThroughputGroup {
                label: format!(
                    "{}\n{} thread{}",
                    wrap_name(&r.model, 11),
                    r.threads,
                    if r.threads == 1 { "" } else { "s" }
                ),
                lexalign: r.lexalign.strings_per_s,
                peer: r.python.as_ref().map(|p| p.strings_per_s),
                llama_cpp: r.llama_cpp.as_ref().map(|l| l.throughput.strings_per_s),
                notes,
            }
        })
        .collect::<Vec<_>>();
    let ours = TimingSeries {
        label: "lexalign".into(),
        points: report
            .retrieval
            .iter()
            .map(|r| (r.n as f64, r.retrieval_seconds))
            .collect(),
    };
    let numpy: Vec<(f64, f64)> = report
        .retrieval
        .iter()
        .filter_map(|r| Some((r.n as f64, r.numpy_seconds?)))
        .collect();
    let theirs = (!numpy.is_empty()).then(|| TimingSeries {
        label: "numpy GEMM".into(),
        points: numpy,
    });
    ensure!(
        !groups.is_empty() && !ours.points.is_empty(),
        Error::param(
            "figure",
            "the figure needs both [[model]] and [retrieval] in the suite"
        )
    );
    plot::bench_panels(
        "lexalign against its peers, each pair timed back to back in one run",
        (
            "lexalign",
            "Python peer: onnxruntime (same model, strings, threads) · numpy L @ R.T",
            "llama.cpp (same GGUF, strings, threads)",
        ),
        groups,
        ours,
        theirs,
        &report.settings.retrieval.as_ref().map_or_else(
            || "N pairs (log scale)".to_string(),
            |r| {
                format!(
                    "N pairs (log scale; dim {}, {} thread{})",
                    r.dim,
                    r.threads,
                    if r.threads.get() == 1 { "" } else { "s" },
                )
            },
        ),
        &caption(report),
    )
}

/// The provenance stamp: machine (with its instruction sets), date, load, ONNX
/// Runtime, models, peers.
fn caption(r: &SuiteReport) -> String {
    let load = |l: Option<[f64; 3]>| l.map_or("?".into(), |l| format!("{:.1}", l[0]));
    let models = r
        .models
        .iter()
        .map(|m| {
            format!(
                "{} = {}{} (onnx {})",
                m.key,
                m.info.name,
                m.info
                    .variant
                    .as_deref()
                    .map_or(String::new(), |v| format!(" {v}")),
                &m.info.onnx_sha256[..m.info.onnx_sha256.len().min(8)]
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let strings = r
        .settings
        .models
        .iter()
        .map(|m| {
            // A decoder's shared prefixes are work the peer does and lexalign does not.
            let shared = r
                .throughput
                .iter()
                .find(|t| t.model == m.name && t.lexalign.shared_tokens > 0)
                .map_or(String::new(), |t| {
                    format!(
                        ", lexalign skipped {:.0}% of tokens: prefixes that several strings share ran once",
                        100.0 * t.lexalign.shared_tokens as f64 / t.lexalign.tokens.max(1) as f64
                    )
                });
            format!("{} {} (best of {}{shared})", m.name, m.count, m.repeat)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let numpy = r
        .retrieval
        .iter()
        .find_map(|x| {
            x.numpy_gemm
                .as_ref()?
                .get("blas")?
                .as_str()
                .map(String::from)
        })
        .unwrap_or_default();
    let isa = r.machine.isa_summary();
    let llama = r
        .throughput
        .iter()
        .find_map(|t| t.llama_cpp.as_ref()?.throughput.peer.clone())
        .map_or(String::new(), |p| format!(" · {p} on the GGUF"));
    format!(
        "{} CPUs{}{} · {} · load {} → {} · ONNX Runtime {} (graph opt {}, inter-op 1) · {} · \
         strings: {} (peer batch {}) · {}{llama} · lexalign {}",
        r.machine.cpus,
        r.machine
            .cpu_model
            .as_deref()
            .map_or(String::new(), |c| format!(" ({c})")),
        if isa.is_empty() {
            String::new()
        } else {
            format!(" [{isa}]")
        },
        r.date,
        load(r.machine.load_before),
        load(r.machine.load_after),
        r.onnxruntime.version,
        r.onnxruntime.graph_opt,
        models,
        strings,
        r.settings.timing.peer_batch_size,
        numpy,
        r.lexalign_version
    )
}

/// A model name cut at hyphens into lines of about `width` characters, so long
/// names (`minilm-int8-dynamic`) do not run into the next cluster's label.
fn wrap_name(name: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for (k, part) in name.split('-').enumerate() {
        let piece = if k == 0 {
            part.to_string()
        } else {
            format!("-{part}")
        };
        match lines.last_mut() {
            Some(l) if l.chars().count() + piece.chars().count() <= width => l.push_str(&piece),
            _ => lines.push(piece),
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_model_names_wrap_at_hyphens() {
        assert_eq!(wrap_name("minilm", 11), "minilm");
        assert_eq!(wrap_name("minilm-int8", 11), "minilm-int8");
        assert_eq!(
            wrap_name("minilm-int8-dynamic", 11),
            "minilm-int8\n-dynamic"
        );
    }

    #[test]
    fn the_default_suite_resolves() {
        let overrides = Overrides {
            graph_opt: None,
            share_prefixes: true,
            peers: true,
        };
        let suite = Suite::resolve(DEFAULT_SUITE, "default", overrides).unwrap();
        assert!(suite
            .models
            .iter()
            .any(|m| m.name == "minilm-int8" && m.also_against.as_deref() == Some("minilm")));
        assert_eq!(suite.retrieval.unwrap().n, vec![5000, 20000, 43837]);
    }

    #[test]
    fn bad_suites_name_the_file_and_the_field() {
        let overrides = Overrides {
            graph_opt: None,
            share_prefixes: true,
            peers: false,
        };
        let bad = "threads = [1]\nrepeat = 0\nbatch_size = 1\npeer_batch_size = 1\n";
        let e = Suite::resolve(bad, "s.toml", overrides)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.toml") && e.contains("repeat must be at least 1"),
            "{e}"
        );
        let against = "threads = [1]\nrepeat = 1\nbatch_size = 1\npeer_batch_size = 1\n\
                       [[model]]\nname = \"b\"\ncount = 5\nalso_against = \"a\"\n";
        let e = Suite::resolve(against, "s.toml", overrides)
            .unwrap_err()
            .to_string();
        assert!(e.contains("must name a model listed before it"), "{e}");
    }
}
