//! The one place that decides parallelism. A thread count is resolved once
//! (`None` = all cores) and work runs in a rayon pool of that size; call sites
//! never build pools. Pools are cached per size, so repeated calls (one per
//! embedding batch, one per notebook cell) cost nothing, and work already running
//! inside a pool of the requested size runs in place.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};

/// Most threads a setting may ask for.
pub const MAX_THREADS: usize = 1024;

/// The cores this process may use.
pub fn available() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// A thread setting resolved: `None` means all cores.
pub fn resolve(threads: Option<NonZeroUsize>) -> NonZeroUsize {
    threads.unwrap_or_else(available)
}

/// Checks a user's thread count (`0` = all cores) and resolves it.
pub fn from_setting(threads: usize) -> Result<NonZeroUsize> {
    crate::ensure!(
        threads <= MAX_THREADS,
        Error::param(
            "threads",
            format!("{threads}; expected 0 (all cores) to {MAX_THREADS}")
        )
    );
    Ok(resolve(NonZeroUsize::new(threads)))
}

fn pool(threads: NonZeroUsize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(p) = pools.get(&threads.get()) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.get())
            .thread_name(|i| format!("lexalign-{i}"))
            .build()
            .map_err(|e| Error::param("threads", e.to_string()))?,
    );
    pools.insert(threads.get(), p.clone());
    Ok(p)
}

/// Runs `work` with `threads` rayon workers (in place when already inside a pool of that size).
pub fn install<R: Send>(threads: NonZeroUsize, work: impl FnOnce() -> R + Send) -> Result<R> {
    if rayon::current_thread_index().is_some() && rayon::current_num_threads() == threads.get() {
        return Ok(work());
    }
    Ok(pool(threads)?.install(work))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn pools_have_the_size_asked_for() {
        let two = NonZeroUsize::new(2).unwrap();
        let n = install(two, rayon::current_num_threads).unwrap();
        assert_eq!(n, 2);
        // nested calls of the same size run in place
        let inner = install(two, || install(two, rayon::current_num_threads).unwrap()).unwrap();
        assert_eq!(inner, 2);
        let sum: u64 = install(two, || (1..=100u64).into_par_iter().sum()).unwrap();
        assert_eq!(sum, 5050);
        assert!(from_setting(MAX_THREADS + 1).is_err());
        assert_eq!(from_setting(0).unwrap(), available());
        assert_eq!(from_setting(3).unwrap().get(), 3);
    }
}
