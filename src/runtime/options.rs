//! What a runtime is built with: the options [`Builder`](crate::Builder) collects, and
//! the CPU plan they give. Plain data, so both the builder and the launcher use it
//! without using each other.
#![forbid(unsafe_code)]

use crate::buf::pool::PoolConfig;
use std::fmt;
use std::time::Duration;

/// Default submission-queue size: SQEs queued in one loop turn beyond this are flushed
/// early (one extra enter). 1,024 covers a loop turn of 128 tasks with several ops each,
/// and costs 96 KiB of ring memory with its 2,048-entry CQ.
pub const DEFAULT_RING_ENTRIES: u32 = 1024;

/// Default for the most threads the blocking pool runs at once. Blocking work is mostly
/// waiting (files, DNS, sleeps), so this is far above the core count, as in tokio.
pub(crate) const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;

/// Default for [`Builder::slow_poll_threshold`](crate::Builder::slow_poll_threshold):
/// asyncio's `slow_callback_duration`.
pub(crate) const DEFAULT_SLOW_POLL: Duration = Duration::from_millis(100);

/// The environment variable that turns debug mode on (`1` or `true`) or off (`0` or
/// `false`) where [`Builder::debug`](crate::Builder::debug) was not called.
pub const DEBUG_ENV: &str = "RINGIO_DEBUG";

/// Default for how long an idle blocking-pool thread waits for a job before it exits.
pub(crate) const DEFAULT_BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The options of one runtime.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub(crate) workers: usize,
    pub(crate) pin_cores: bool,
    pub(crate) ring_entries: u32,
    pub(crate) pool: PoolConfig,
    pub(crate) max_blocking_threads: usize,
    pub(crate) blocking_keep_alive: Duration,
    /// `None`: [`BACKEND_ENV`](super::BACKEND_ENV), else `Auto`.
    pub(crate) backend: Option<super::Backend>,
    /// `None`: [`DEBUG_ENV`], else off.
    pub(crate) debug: Option<bool>,
    pub(crate) slow_poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: available_cpus().len().max(1),
            pin_cores: false,
            ring_entries: DEFAULT_RING_ENTRIES,
            pool: PoolConfig::default(),
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            blocking_keep_alive: DEFAULT_BLOCKING_KEEP_ALIVE,
            backend: None,
            debug: None,
            slow_poll: DEFAULT_SLOW_POLL,
        }
    }
}

impl Options {
    /// Debug mode's slow-poll threshold if debug mode is on: [`Options::debug`], else
    /// [`DEBUG_ENV`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `RINGIO_DEBUG` holds anything but `0`, `1`, `false` or `true`.
    pub(crate) fn slow_poll(&self) -> std::io::Result<Option<Duration>> {
        let on = match self.debug {
            Some(on) => on,
            None => match std::env::var(DEBUG_ENV) {
                Err(_) => false,
                Ok(v) => match v.as_str() {
                    "1" | "true" => true,
                    "0" | "false" | "" => false,
                    _ => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!("{DEBUG_ENV}={v:?}: expected 1, true, 0 or false"),
                        ));
                    }
                },
            },
        };
        Ok(on.then_some(self.slow_poll))
    }

    /// The CPU each core is pinned to, if pinning is on.
    pub(crate) fn cpu_plan(&self) -> CpuPlan {
        let cpus = available_cpus();
        if !self.pin_cores || cpus.is_empty() {
            return CpuPlan {
                cpus: Vec::new(),
                wrapped: false,
            };
        }
        CpuPlan {
            cpus: (0..self.workers).map(|i| cpus[i % cpus.len()]).collect(),
            wrapped: self.workers > cpus.len(),
        }
    }
}

/// Which CPU each core runs on.
#[derive(Clone, Default)]
pub(crate) struct CpuPlan {
    /// `cpus[i]` for core `i`; empty when not pinned.
    pub(crate) cpus: Vec<usize>,
    /// More cores than CPUs: some CPUs carry two cores.
    pub(crate) wrapped: bool,
}

impl fmt::Debug for CpuPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cpus.is_empty() {
            return f.write_str("not pinned");
        }
        write!(f, "cores on CPUs {:?}", self.cpus)?;
        if self.wrapped {
            f.write_str(" (more cores than CPUs: wrapped around)")?;
        }
        Ok(())
    }
}

/// The CPUs this thread may run on (its affinity mask), in order: what `workers` and
/// `pin_cores` count by default.
///
/// # Examples
///
/// ```
/// assert!(!ringio::runtime::available_cpus().is_empty());
/// ```
pub fn available_cpus() -> Vec<usize> {
    crate::sys::affinity::allowed_cpus().unwrap_or_else(|_| {
        (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
    })
}
