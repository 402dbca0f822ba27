//! Progress bars on a terminal, nothing otherwise.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar for `len` steps, shown only when stderr is a terminal.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({per_sec}, {eta})")
    {
        pb.set_style(style);
    }
    pb.set_message(what.to_string());
    pb
}

/// A rayon pool with `jobs` threads (0 = all cores).
pub fn pool(jobs: usize) -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| format!("cannot start {jobs} worker threads: {e}"))
}

/// [`pool`], or a setup failure saying why.
pub fn pool_or_fail(jobs: usize) -> Result<rayon::ThreadPool, super::Failure> {
    pool(jobs).map_err(super::Failure::setup)
}
