//! Facts about the machine and the runtime a benchmark ran on, recorded beside its
//! numbers: CPU model and instruction-set flags (quantised speed depends on them),
//! load averages, the date, ONNX Runtime's version.

use std::num::NonZeroUsize;
use std::path::Path;

use serde::Serialize;

/// The instruction-set extensions that decide how fast int8/4-bit kernels run
/// (VNNI and AMX give int8 dot products; without them int8 can be no faster than fp32).
const ISA_FLAGS: [&str; 14] = [
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
];

/// The machine a benchmark ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    /// The relevant instruction-set flags /proc/cpuinfo lists (of [`ISA_FLAGS`]).
    pub cpu_flags: Vec<String>,
    /// /proc/loadavg's 1-, 5- and 15-minute averages before and after.
    pub load_before: Option<[f64; 3]>,
    pub load_after: Option<[f64; 3]>,
}

impl Machine {
    /// The machine now; `load_after` is filled by [`Machine::finish`].
    pub fn now() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
            cpu_model: cpu_model(&cpuinfo),
            cpu_flags: cpu_flags(&cpuinfo),
            load_before: load_average(),
            load_after: None,
        }
    }

    pub fn finish(&mut self) {
        self.load_after = load_average();
    }

    /// "SSE4.2 AVX2 FMA AVX512-VNNI…" for a figure's stamp; "" when unknown.
    pub fn isa_summary(&self) -> String {
        self.cpu_flags
            .iter()
            .map(|f| f.to_uppercase().replace("4_2", "4.2").replace('_', "-"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// The first CPU's `flags` line, kept to [`ISA_FLAGS`] in that order.
fn cpu_flags(cpuinfo: &str) -> Vec<String> {
    let Some(line) = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags")?.split_once(':'))
    else {
        return Vec::new();
    };
    let present: Vec<&str> = line.1.split_whitespace().collect();
    ISA_FLAGS
        .iter()
        .filter(|f| present.contains(f))
        .map(|f| f.to_string())
        .collect()
}

pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut f = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([f.next()??, f.next()??, f.next()??])
}

/// The current time as "YYYY-MM-DD HH:MM UTC" (civil-from-days, no time zone data).
pub fn utc_now() -> String {
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

/// "1.31.1" from the build string's `git-branch=rel-1.31.1`, else the library's
/// file name (libonnxruntime.so.1.31.1).
pub fn ort_version(build_info: &str, library: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn cpu_facts_from_cpuinfo() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx2 fma avx512f avx512_vnni\n\
                    processor\t: 1\nflags\t\t: fpu\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(
            cpu_flags(text),
            ["sse4_2", "avx2", "fma", "avx512f", "avx512_vnni"]
        );
        assert!(cpu_flags("no flags here").is_empty());
        let machine = Machine {
            cpus: 2,
            cpu_model: None,
            cpu_flags: cpu_flags(text),
            load_before: None,
            load_after: None,
        };
        assert_eq!(machine.isa_summary(), "SSE4.2 AVX2 FMA AVX512F AVX512-VNNI");
    }
}
