//! `lexalign bench --suite FILE|default --json FILE --figure FILE.png`: the whole
//! benchmark in one invocation. For each model and thread count lexalign is timed
//! and the Python peer right after it, on the same strings; for each N exact
//! retrieval is timed and numpy's GEMM right after it. One JSON holds the
//! settings, the machine, ONNX Runtime's version, the models' identities and every
//! measurement; one two-panel figure shows them.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use super::bench::{self, BenchArgs, Peer, Throughput, Timing};
use lexalign::embed::{GraphOpt, ModelInfo};
use lexalign::plot::{self, ThroughputGroup, TimingSeries};

/// The suite `default` stands for (also `make bench`'s file).
const DEFAULT_SUITE: &str = include_str!("../../configs/bench.toml");

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

/// The suite, checked once: every count and thread number is usable, and a model
/// compared with another's peer comes after it and embeds the same strings.
#[derive(Debug, Clone, Serialize)]
struct Suite {
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
    /// Reads `spec` (`default` or a TOML path); flags given on the command line
    /// (`--graph-opt`, `--no-peer`) win over the file.
    fn resolve(spec: &str, args: &BenchArgs) -> Result<Suite> {
        let (text, origin) = if spec == "default" {
            (DEFAULT_SUITE.to_string(), "the default suite".to_string())
        } else {
            let text = std::fs::read_to_string(spec)
                .with_context(|| format!("reading the bench suite {spec}"))?;
            (text, spec.to_string())
        };
        let file: SuiteFile = toml::from_str(&text).with_context(|| format!("parsing {origin}"))?;
        let at_least_one = |what: &str, v: usize| -> Result<()> {
            ensure!(v >= 1, "{origin}: {what} must be at least 1, got {v}");
            Ok(())
        };
        at_least_one("repeat", file.repeat)?;
        at_least_one("batch_size", file.batch_size)?;
        at_least_one("peer_batch_size", file.peer_batch_size)?;
        ensure!(
            !file.threads.is_empty() || file.models.is_empty(),
            "{origin}: threads is empty"
        );
        let threads = file
            .threads
            .iter()
            .map(|&t| {
                ensure!(t >= 1, "{origin}: threads must be at least 1, got {t}");
                Ok(lexalign::parallel::from_setting(t)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut models: Vec<SuiteModel> = Vec::new();
        for m in file.models {
            at_least_one(&format!("model {:?}: count", m.name), m.count)?;
            let repeat = m.repeat.unwrap_or(file.repeat);
            at_least_one(&format!("model {:?}: repeat", m.name), repeat)?;
            if let Some(other) = &m.also_against {
                let Some(earlier) = models.iter().find(|e| &e.name == other) else {
                    bail!(
                        "{origin}: model {:?}: also_against = {other:?} must name a model listed before it",
                        m.name
                    );
                };
                ensure!(
                    earlier.count == m.count,
                    "{origin}: model {:?}: also_against = {other:?} compares on the same strings, \
                     so its count must equal {other:?}'s ({} ≠ {})",
                    m.name,
                    m.count,
                    earlier.count
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
                ensure!(!r.n.is_empty(), "{origin}: retrieval.n is empty");
                for &n in &r.n {
                    ensure!(n >= 3, "{origin}: retrieval.n must be at least 3, got {n}");
                }
                at_least_one("retrieval.dim", r.dim)?;
                at_least_one("retrieval.repeat", r.repeat)?;
                at_least_one("retrieval.threads", r.threads)?;
                ensure!(
                    r.min_seconds.is_finite() && (0.0..=600.0).contains(&r.min_seconds),
                    "{origin}: retrieval.min_seconds must be 0 to 600, got {}",
                    r.min_seconds
                );
                Ok(RetrievalSuite {
                    n: r.n,
                    dim: r.dim,
                    threads: lexalign::parallel::from_setting(r.threads)?,
                    repeat: r.repeat,
                    min_seconds: r.min_seconds,
                })
            })
            .transpose()?;
        ensure!(
            !models.is_empty() || retrieval.is_some(),
            "{origin}: nothing to measure (no [[model]] and no [retrieval])"
        );
        Ok(Suite {
            threads,
            timing: Timing {
                repeat: file.repeat,
                batch_size: file.batch_size,
                peer_batch_size: file.peer_batch_size,
                graph_opt: args.graph_opt.unwrap_or(file.graph_opt),
                share_prefixes: !args.no_prefix_sharing,
            },
            models,
            retrieval,
            peers: !args.no_peer,
        })
    }
}

/// One model at one thread count: lexalign, then its peer.
#[derive(Debug, Serialize)]
struct ThroughputRow {
    model: String,
    threads: usize,
    strings: usize,
    distinct: usize,
    lexalign: Throughput,
    #[serde(skip_serializing_if = "Option::is_none")]
    python: Option<Throughput>,
    /// lexalign strings/s ÷ the peer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lowest_cosine: Option<f64>,
    /// lexalign strings/s ÷ another model's peer (e.g. int8 against the fp32 peer).
    #[serde(skip_serializing_if = "Option::is_none")]
    against: Option<Against>,
}

#[derive(Debug, Serialize)]
struct Against {
    model: String,
    python_strings_per_s: f64,
    ratio: f64,
}

#[derive(Debug, Serialize)]
struct ModelEntry {
    key: String,
    #[serde(flatten)]
    info: ModelInfo,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: Option<String>,
    /// /proc/loadavg's 1-, 5- and 15-minute averages before and after.
    load_before: Option<[f64; 3]>,
    load_after: Option<[f64; 3]>,
}

#[derive(Debug, Serialize)]
struct OrtEntry {
    version: String,
    build_info: String,
    library: String,
    graph_opt: GraphOpt,
    inter_op_threads: usize,
}

/// What `--json` writes.
#[derive(Debug, Serialize)]
struct SuiteReport {
    date: String,
    lexalign_version: &'static str,
    machine: Machine,
    onnxruntime: OrtEntry,
    settings: Suite,
    models: Vec<ModelEntry>,
    throughput: Vec<ThroughputRow>,
    retrieval: Vec<bench::RetrievalBench>,
    seconds_total: f64,
}

pub fn run(spec: &str, args: &BenchArgs, quiet: bool) -> Result<()> {
    let suite = Suite::resolve(spec, args)?;
    let figure = args.figure.as_deref().map(figure_target).transpose()?;
    let started = Instant::now();
    let date = utc_now();
    let load_before = load_average();
    let peer = Peer::new();
    let scratch = tempfile::tempdir()?;
    let library = args
        .model
        .ort_lib
        .clone()
        .unwrap_or_else(lexalign::assets::ort_library_path);
    let build_info = lexalign::embed::onnxruntime_build_info(&library)?;

    let mut models = Vec::new();
    let mut throughput: Vec<ThroughputRow> = Vec::new();
    if let Some(most) = suite.models.iter().map(|m| m.count).max() {
        let all = scratch.path().join("strings.txt");
        peer.make_input(&all, most)?;
        let all = lexalign::io::read_strings(&all, None)?;
        for m in &suite.models {
            let input = scratch.path().join(format!("{}.txt", models.len()));
            let texts = all[..m.count].to_vec();
            lexalign::io::write_bytes_atomic(&input, (texts.join("\n") + "\n").as_bytes())?;
            for &threads in &suite.threads {
                let row = measure(&suite, m, threads, &texts, &input, &peer, args)?;
                if models.iter().all(|e: &ModelEntry| e.key != m.name) {
                    models.push(ModelEntry {
                        key: m.name.clone(),
                        info: row.1,
                    });
                }
                let mut row = row.0;
                row.against = m.also_against.as_ref().and_then(|other| {
                    let theirs = throughput
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
                });
                if let Some(a) = &row.against {
                    println!(
                        "ratio lexalign {} / python {}: {:.2}x (strings/s)",
                        m.name, a.model, a.ratio
                    );
                }
                throughput.push(row);
            }
        }
    }
    let mut retrieval = Vec::new();
    if let Some(r) = &suite.retrieval {
        for &n in &r.n {
            retrieval.push(bench::time_retrieval(
                n,
                r.dim,
                r.threads,
                (r.repeat, r.min_seconds),
                suite.peers,
                quiet,
            )?);
        }
    }
    let report = SuiteReport {
        date,
        lexalign_version: env!("CARGO_PKG_VERSION"),
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            cpu_model: cpu_model(),
            load_before,
            load_after: load_average(),
        },
        onnxruntime: OrtEntry {
            version: ort_version(&build_info, &library),
            build_info,
            library: library.display().to_string(),
            graph_opt: suite.timing.graph_opt,
            inter_op_threads: 1,
        },
        settings: suite,
        models,
        throughput,
        retrieval,
        seconds_total: started.elapsed().as_secs_f64(),
    };
    println!("suite: {:.0} s in all", report.seconds_total);
    if let Some(p) = &args.json {
        lexalign::io::write_json_atomic(p, &serde_json::to_value(&report)?)?;
        if !quiet {
            eprintln!("wrote {}", p.display());
        }
    }
    if let Some((dir, stem)) = figure {
        for p in draw(&report)?.save(&dir, &stem)? {
            if !quiet {
                eprintln!("wrote {}", p.display());
            }
        }
    }
    Ok(())
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
    args: &BenchArgs,
) -> Result<(ThroughputRow, ModelInfo)> {
    let timing = Timing {
        repeat: m.repeat,
        ..suite.timing
    };
    let mut flags = args.model.clone();
    flags.model = Some(PathBuf::from(&m.name));
    flags.threads = Some(threads.get());
    let t = Instant::now();
    let model = flags
        .load_with(|o| o.with_graph_opt(timing.graph_opt))
        .with_context(|| format!("loading the bench model {}", m.name))?;
    let load_seconds = t.elapsed().as_secs_f64();
    let (mut ours, emb) = bench::time_lexalign(&model, texts, &timing)?;
    ours.load_seconds = Some(load_seconds);
    println!(
        "\n{}: {} strings ({} distinct), {} threads, best of {}",
        m.name,
        texts.len(),
        emb.stats.distinct,
        threads,
        timing.repeat
    );
    bench::print_line("lexalign", &ours);
    let compared = if suite.peers {
        let output = input.with_extension("npy");
        Some(bench::compare(
            peer,
            &model,
            input,
            &timing,
            (&ours, &emb),
            &output,
        )?)
    } else {
        None
    };
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
    };
    Ok((row, model.info().clone()))
}

/// The two-panel figure of a suite's report.
fn draw(report: &SuiteReport) -> Result<plot::Figure> {
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
            ThroughputGroup {
                label: format!(
                    "{}\n{} thread{}",
                    wrap_name(&r.model, 11),
                    r.threads,
                    if r.threads == 1 { "" } else { "s" }
                ),
                lexalign: r.lexalign.strings_per_s,
                peer: r.python.as_ref().map(|p| p.strings_per_s),
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
        "--figure needs both [[model]] and [retrieval] in the suite"
    );
    Ok(plot::bench_panels(
        "lexalign against its Python peers, each pair timed back to back in one run",
        (
            "lexalign",
            "Python peer: onnxruntime (same model, strings, threads) · numpy L @ R.T",
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
    )?)
}

/// The provenance stamp: machine, date, load, ONNX Runtime, models, peers.
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
    format!(
        "{} CPUs{} · {} · load {} → {} · ONNX Runtime {} (graph opt {}, inter-op 1) · {} · \
         strings: {} (peer batch {}) · {} · lexalign {}",
        r.machine.cpus,
        r.machine
            .cpu_model
            .as_deref()
            .map_or(String::new(), |c| format!(" ({c})")),
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

/// `--figure`'s folder and stem; it must name a .png.
fn figure_target(path: &Path) -> Result<(PathBuf, String)> {
    ensure!(
        path.extension().is_some_and(|e| e == "png"),
        "--figure {}: expected a .png path (the .svg goes beside it)",
        path.display()
    );
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("--figure {}: the file name is not UTF-8", path.display()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, stem.to_string()))
}

/// "1.31.1" from the build string's `git-branch=rel-1.31.1`, else the library's
/// file name (libonnxruntime.so.1.31.1).
fn ort_version(build_info: &str, library: &Path) -> String {
    build_info
        .split([',', ' '])
        .find_map(|f| f.trim().strip_prefix("git-branch=rel-"))
        .map(str::to_string)
        .or_else(|| {
            let name = library.file_name()?.to_str()?;
            name.strip_prefix("libonnxruntime.so.").map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut f = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([f.next()??, f.next()??, f.next()??])
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// The current time as "YYYY-MM-DD HH:MM UTC" (civil-from-days, no time zone data).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Howard Hinnant's days-since-1970 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
    fn dates_and_versions() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let info = "ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc, build type=Release";
        assert_eq!(ort_version(info, Path::new("x")), "1.31.1");
        assert_eq!(
            ort_version("", Path::new("/a/libonnxruntime.so.1.31.1")),
            "1.31.1"
        );
        assert!(figure_target(Path::new("figures/bench.svg")).is_err());
        assert_eq!(
            figure_target(Path::new("bench.png")).unwrap(),
            (PathBuf::from("."), "bench".to_string())
        );
    }

    #[test]
    fn the_default_suite_resolves() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let cli = Cli::parse_from(["x", "--suite", "default"]);
        let suite = Suite::resolve("default", &cli.bench).unwrap();
        assert!(suite
            .models
            .iter()
            .any(|m| m.name == "minilm-int8" && m.also_against.as_deref() == Some("minilm")));
        assert_eq!(suite.retrieval.unwrap().n, vec![5000, 20000, 43837]);
    }
}
