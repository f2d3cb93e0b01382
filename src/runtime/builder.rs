//! `Builder`: how many cores, pinned where, with how big a ring.

use super::launch::Runtime;
pub use crate::buf::pool::{DEFAULT_POOL_BUFFER_SIZE, DEFAULT_POOL_BUFFERS};
use crate::buf::pool::PoolConfig;
use crate::driver::RingSize;
use std::fmt;
use std::io;

/// Default submission-queue size: SQEs queued in one loop turn beyond this are flushed
/// early (one extra enter). 1,024 covers a loop turn of 128 tasks with several ops each,
/// and costs 96 KiB of ring memory with its 2,048-entry CQ.
pub const DEFAULT_RING_ENTRIES: u32 = 1024;

/// Options for a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = ringio::Runtime::builder().workers(2).ring_entries(64).build().unwrap();
/// let cores = rt.run_per_core(|core| async move { core });
/// assert_eq!(cores, vec![0, 1]);
/// ```
#[derive(Clone, Debug)]
#[doc(alias = "new_event_loop")]
pub struct Builder {
    pub(crate) workers: usize,
    pub(crate) pin_cores: bool,
    pub(crate) ring_entries: u32,
    pub(crate) pool: PoolConfig,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: available_cpus().len().max(1),
            pin_cores: false,
            ring_entries: DEFAULT_RING_ENTRIES,
            pool: PoolConfig::default(),
        }
    }
}

impl Builder {
    /// Number of cores (worker threads, each with its own ring, run queue and timers).
    /// Core 0 is the thread that calls `block_on`/`run_per_core`; the others are started
    /// for the call and joined before it returns. Default: the CPUs this process may use.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Whether to pin core `i` to the `i`-th CPU this process may use (wrapping around if
    /// there are more cores than CPUs; `Debug` of the runtime says so). Default: no.
    pub fn pin_cores(mut self, pin: bool) -> Self {
        self.pin_cores = pin;
        self
    }

    /// Submission-queue size of each ring (a power of two, 1..=32768; default
    /// [`DEFAULT_RING_ENTRIES`]). A tiny ring still works: a full queue is flushed and
    /// retried.
    pub fn ring_entries(mut self, n: u32) -> Self {
        self.ring_entries = n;
        self
    }

    /// Size of each core's receive buffer pool (a provided buffer ring, used by
    /// [`TcpStream::recv_pooled`](crate::net::TcpStream::recv_pooled) and
    /// [`recv_stream`](crate::net::TcpStream::recv_stream)): `buffers` (a power of two,
    /// up to 32,768) of `buffer_size` bytes each. Default [`DEFAULT_POOL_BUFFERS`] ×
    /// [`DEFAULT_POOL_BUFFER_SIZE`] (4 MiB of address space per core, made on first use;
    /// pages count in RSS only once the kernel has written into them).
    ///
    /// The pool bounds how many pooled receives can hold data at once across all
    /// connections of a core; a receive that finds it empty takes its bytes into an owned
    /// buffer of `buffer_size` instead (counted in `Metrics::pool_fallbacks`). A receive
    /// returns at most `buffer_size` bytes.
    pub fn buffer_pool(mut self, buffers: u16, buffer_size: usize) -> Self {
        self.pool = PoolConfig {
            buffers,
            buffer_size,
        };
        self
    }

    /// Checks that io_uring works here with these options, and returns the runtime.
    ///
    /// The check builds one ring per core, all at once (so a RLIMIT_MEMLOCK that fits one
    /// ring but not every core's is reported here), makes one no-op round trip, and drops
    /// them. Each `block_on`/`run_per_core` then builds its cores' rings again, each on
    /// its own core's thread; if that fails after all (the limit was lowered or other
    /// rings took the memory since), [`Runtime::try_block_on`] returns the same error.
    ///
    /// # Errors
    ///
    /// If io_uring cannot be used, an error that names the cause and the fix: kernel too
    /// old (ENOSYS), disabled by `kernel.io_uring_disabled` or denied by seccomp (EPERM),
    /// RLIMIT_MEMLOCK too low for `workers` rings of `ring_entries` (ENOMEM, with the
    /// limit's value). `InvalidInput` if `workers` is 0 or the buffer pool's sizes are out
    /// of range.
    ///
    /// # Examples
    ///
    /// ```
    /// match ringio::Runtime::builder().workers(4).build() {
    ///     Ok(rt) => assert_eq!(rt.run_per_core(|core| async move { core }).len(), 4),
    ///     // e.g. "... RLIMIT_MEMLOCK (ulimit -l, now 64 KiB) is too low for 4 rings ..."
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        if self.workers == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "workers(0): a runtime needs at least one core",
            ));
        }
        self.pool.validate()?;
        let probe = crate::driver::probe(RingSize {
            entries: self.ring_entries,
            rings: self.workers,
        })?;
        Ok(Runtime::new_with(self, probe))
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
    crate::fd::allowed_cpus().unwrap_or_else(|_| {
        (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
    })
}
