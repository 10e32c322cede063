//! The one place that decides progress display: bars on stderr, or hidden ones
//! when the user asked for quiet (so long work never needs an `if` at call sites).

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar of `len` steps labelled `what`, or a hidden one when `show` is false.
pub fn bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg:>10} [{bar:40}] {pos}/{len} ({elapsed} elapsed, {per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    // Redrawn twice a second, so a long step (one pairing's bootstrap) shows its
    // time running even before the count moves.
    bar.enable_steady_tick(std::time::Duration::from_millis(500));
    bar
}
