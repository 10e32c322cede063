//! Shared helpers for integration tests. The tests need the assets installed by
//! `make setup` (scripts/setup.sh); without them they fail with that hint.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod imported;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> serde_json::Value {
    let path = root().join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y).sum();
    let na: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    dot / (na * nb)
}

pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Each reference row's `key` vector (rows without it are skipped) against the same row
/// of `got`: cosine ≥ 0.99999 and max |Δ| ≤ 2e-3 × (1 + max |reference|); prints the worst.
pub fn assert_rows_match(
    label: &str,
    key: &str,
    got: &ndarray::Array2<f32>,
    rows: &[&serde_json::Value],
) {
    let mut worst = (1.0f64, 0.0f64);
    for (i, s) in rows.iter().enumerate() {
        let Some(want) = s.get(key) else { continue };
        let want = floats(want);
        let row = got.row(i).to_vec();
        let scale = 1.0 + want.iter().map(|x| x.abs()).fold(0.0, f64::max);
        let d = row
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max)
            / scale;
        let c = cosine(&row, &want);
        assert!(
            c >= 0.99999 && d <= 2e-3,
            "{label} {key} {:?}: cosine {c}, |Δ|/(1+max) {d}",
            s["text"]
        );
        worst = (worst.0.min(c), worst.1.max(d));
    }
    eprintln!(
        "{label} {key}: min cosine {:.12}, max |Δ|/(1+max|ref|) {:.2e}",
        worst.0, worst.1
    );
}

/// A command's stderr as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit status 1 (not a signal, not a panic's 101) with every needle in stderr.
pub fn fails_with(out: &std::process::Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "expected exit 1, stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

/// Success, and no panic text.
pub fn succeeds(out: &std::process::Output) {
    let err = stderr(out);
    assert!(out.status.success(), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
}

/// A command-line usage error: clap's exit status 2, with every needle in stderr.
pub fn usage_error(out: &std::process::Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "expected exit 2, stderr: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

/// The `lexalign` binary as a command; every test runs it through here.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_lexalign"))
}

/// [`bin`] with its embedding cache in the folder `cache` under the temp dir when
/// given (one test file's runs share it; `None` keeps the default cache).
pub fn bin_with_cache(cache: Option<&str>) -> std::process::Command {
    let mut c = bin();
    if let Some(name) = cache {
        c.env("LEXALIGN_CACHE", std::env::temp_dir().join(name));
    }
    c
}

/// `lexalign ARGS` run to completion with the cache `cache` (see [`bin_with_cache`]);
/// not quiet, so stderr is what a user sees.
pub fn lexalign(cache: Option<&str>, args: &[&str]) -> std::process::Output {
    bin_with_cache(cache).args(args).output().unwrap()
}

/// `lexalign --quiet ARGS` run in `dir`, as a user in their own folder would.
pub fn lexalign_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    bin()
        .current_dir(dir)
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap()
}

/// Makes `cmd`'s child take SIGINT, SIGQUIT, SIGHUP and SIGTERM the default way,
/// with no signal blocked, however the test itself was started: a background
/// job (`make test &`, nohup) inherits SIGINT and SIGQUIT (and SIGHUP) ignored,
/// and a signal test must not depend on that.
#[cfg(unix)]
pub fn default_signals(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            for s in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGTERM] {
                libc::signal(s, libc::SIG_DFL);
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            Ok(())
        })
    }
}

/// Makes `cmd`'s child ignore SIGINT, as a user's `nohup … &` job does.
#[cfg(unix)]
pub fn sigint_ignored(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    default_signals(cmd);
    // SAFETY: as above.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        })
    }
}

/// Waits (blocking, no polling) until `child` stops itself at a debug-build hook
/// (`LEXALIGN_STOP_AFTER_BATCHES`, `LEXALIGN_STOP_COMMIT_AFTER`); panics if it
/// ends instead.
#[cfg(unix)]
pub fn wait_stopped(child: &std::process::Child) {
    let mut status = 0;
    let pid = child.id() as libc::pid_t;
    // SAFETY: waitpid on our own child; WUNTRACED reports a stop without reaping.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
    assert_eq!(r, pid, "waitpid failed");
    assert!(
        libc::WIFSTOPPED(status),
        "the child ended (status {status:#x}) instead of stopping at the hook"
    );
}

/// Sends `signal` to `child` (stopped or running), then SIGCONT so a stopped
/// child receives it.
#[cfg(unix)]
pub fn signal_and_continue(child: &std::process::Child, signal: i32) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: signals to our own child.
    unsafe {
        libc::kill(pid, signal);
        libc::kill(pid, libc::SIGCONT);
    }
}
