//! `Builder`: how many cores, pinned where, with how big a ring and blocking pool; and
//! the constructors of [`Runtime`] that use it.
#![forbid(unsafe_code)]

use super::Backend;
use super::launch::Runtime;
use super::options::Options;
use crate::buf::pool::PoolConfig;
pub use crate::buf::pool::{DEFAULT_POOL_BUFFER_SIZE, DEFAULT_POOL_BUFFERS};
pub use crate::buf::pool::{MAX_POOL_BUFFER_SIZE, MAX_POOL_BYTES};
use crate::driver::RingSize;
use std::fmt;
use std::io;
use std::time::Duration;

/// Options for a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = ringio::Runtime::builder().workers(2).ring_entries(64).build().unwrap();
/// let cores = rt.run_per_core(|core| async move { core });
/// assert_eq!(cores, vec![0, 1]);
/// ```
#[derive(Clone, Default)]
#[doc(alias = "new_event_loop")]
pub struct Builder {
    options: Options,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        f.debug_struct("Builder")
            .field("workers", &o.workers)
            .field("pin_cores", &o.pin_cores)
            .field("ring_entries", &o.ring_entries)
            .field("pool", &o.pool)
            .field("max_blocking_threads", &o.max_blocking_threads)
            .field("blocking_keep_alive", &o.blocking_keep_alive)
            .field("backend", &o.backend)
            .finish()
    }
}

impl Runtime {
    /// A runtime with default options (one core per CPU this process may use).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// Options for a runtime.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl Builder {
    /// Number of cores (worker threads, each with its own ring, run queue and timers).
    /// Core 0 is the thread that calls `block_on`/`run_per_core`; the others are started
    /// for the call and joined before it returns. Default: the CPUs this process may use.
    pub fn workers(mut self, n: usize) -> Self {
        self.options.workers = n;
        self
    }

    /// Whether to pin core `i` to the `i`-th CPU this process may use (wrapping around if
    /// there are more cores than CPUs; `Debug` of the runtime says so). Default: no.
    pub fn pin_cores(mut self, pin: bool) -> Self {
        self.options.pin_cores = pin;
        self
    }

    /// Submission-queue size of each ring (a power of two, 1..=32768; default
    /// [`DEFAULT_RING_ENTRIES`](super::DEFAULT_RING_ENTRIES)). A tiny ring still works: a full queue is flushed and
    /// retried.
    pub fn ring_entries(mut self, n: u32) -> Self {
        self.options.ring_entries = n;
        self
    }

    /// Size of each core's receive buffer pool (a provided buffer ring, used by
    /// [`TcpStream::recv_pooled`](crate::net::TcpStream::recv_pooled) and
    /// [`recv_stream`](crate::net::TcpStream::recv_stream)): `buffers` (a power of two,
    /// up to 32,768) of `buffer_size` bytes each (1 to [`MAX_POOL_BUFFER_SIZE`], 1 MiB; at
    /// most [`MAX_POOL_BYTES`], 1 GiB, per core). Default [`DEFAULT_POOL_BUFFERS`] ×
    /// [`DEFAULT_POOL_BUFFER_SIZE`] (4 MiB of address space per core, made on first use;
    /// pages count in RSS only once the kernel has written into them).
    ///
    /// The pool bounds how many pooled receives can hold data at once across all
    /// connections of a core; a receive that finds it empty takes its bytes into an owned
    /// buffer of `buffer_size` instead, or of 64 KiB if that is less (counted in
    /// `Metrics::pool_fallbacks`). A receive returns at most `buffer_size` bytes.
    ///
    /// The sizes are checked by [`build`](Self::build), which refuses them with
    /// `InvalidInput` naming the numbers and the bound.
    pub fn buffer_pool(mut self, buffers: u16, buffer_size: usize) -> Self {
        self.options.pool = PoolConfig {
            buffers,
            buffer_size,
        };
        self
    }

    /// The most threads the blocking pool of this runtime runs at once
    /// ([`spawn_blocking`](crate::spawn_blocking)); jobs beyond wait in its queue.
    /// Default 512: blocking work is mostly waiting (files, DNS, sleeps), so this is far
    /// above the core count, as in tokio.
    ///
    /// The pool starts no thread until a job needs one, and grows by one thread when a
    /// job finds none idle.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = ringio::Runtime::builder().max_blocking_threads(4).build().unwrap();
    /// let n = rt.block_on(async { ringio::spawn_blocking(|| 2 + 2).await.unwrap() });
    /// assert_eq!(n, 4);
    /// ```
    pub fn max_blocking_threads(mut self, n: usize) -> Self {
        self.options.max_blocking_threads = n;
        self
    }

    /// How long an idle thread of the blocking pool waits for a job before it exits.
    /// Default 10 s. Idle threads also exit once the `Runtime` is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = ringio::Runtime::builder()
    ///     .blocking_keep_alive(Duration::from_millis(500))
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async { ringio::spawn_blocking(|| ()).await.unwrap() });
    /// ```
    pub fn blocking_keep_alive(mut self, keep_alive: Duration) -> Self {
        self.options.blocking_keep_alive = keep_alive;
        self
    }

    /// The I/O backend ([`Backend`]): `Auto` (the default) runs io_uring where it works
    /// and epoll where it is denied; `IoUring` or `Epoll` force one. Without this call the
    /// environment variable [`RINGIO_BACKEND`](crate::runtime::BACKEND_ENV) decides
    /// (`auto`, `io_uring`, `epoll`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::runtime::Backend;
    ///
    /// let rt = ringio::Runtime::builder().backend(Backend::Epoll).build().unwrap();
    /// let n = rt.block_on(async { ringio::fs::read("/proc/self/comm").await.unwrap().len() });
    /// assert!(n > 0);
    /// ```
    pub fn backend(mut self, backend: Backend) -> Builder {
        self.options.backend = Some(backend);
        self
    }

    /// Debug mode, asyncio's `debug=True` (default: off, unless the environment variable
    /// [`RINGIO_DEBUG`](crate::runtime::DEBUG_ENV) is `1` or `true`). Each core then
    /// reports on stderr:
    /// - a task poll that held the core longer than
    ///   [`slow_poll_threshold`](Self::slow_poll_threshold) (100 ms by default; asyncio's
    ///   `slow_callback_duration`), with the task's name and where it was spawned: the
    ///   poll blocked every other task of the core that long;
    /// - a task that panicked and whose `JoinHandle` was dropped without awaiting it
    ///   (asyncio's "Task exception was never retrieved"), when both have happened.
    ///
    /// With feature `tracing` and a subscriber set, the reports are WARN events of target
    /// `ringio::debug` instead (fields `task`, `spawned_at`, `held_us` or `error`), and
    /// nothing is written to stderr.
    ///
    /// Off, it costs one branch per task poll.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = ringio::Runtime::builder().workers(1).debug(true).build().unwrap();
    /// rt.block_on(async {
    ///     let h = ringio::task::Builder::new().name("slow").spawn(async {
    ///         // Reported on stderr: ringio debug: task "slow" (spawned at src/main.rs:5:54)
    ///         // held core 0 for 150ms in one poll; every other task of the core waited as long
    ///         std::thread::sleep(std::time::Duration::from_millis(150));
    ///     });
    ///     h.await.unwrap();
    /// });
    /// ```
    pub fn debug(mut self, on: bool) -> Builder {
        self.options.debug = Some(on);
        self
    }

    /// How long one task poll may hold its core before debug mode reports it (default
    /// 100 ms). Has no effect unless debug mode is on ([`debug`](Self::debug)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = ringio::Runtime::builder()
    ///     .debug(true)
    ///     .slow_poll_threshold(Duration::from_millis(20))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    #[doc(alias = "slow_callback_duration")]
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.options.slow_poll = threshold;
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
    /// If io_uring cannot be used and the backend is `IoUring` (with `Auto` these causes
    /// fall back to epoll), an error that names the cause and the fix: kernel too old
    /// (ENOSYS), disabled by `kernel.io_uring_disabled` or denied by seccomp (EPERM),
    /// RLIMIT_MEMLOCK too low for `workers` rings of `ring_entries` (ENOMEM, with the
    /// limit's value). `InvalidInput` if `RINGIO_BACKEND` or `RINGIO_DEBUG` holds an unknown value. `InvalidInput` if `workers`, `max_blocking_threads` or
    /// `blocking_keep_alive` is 0, or the buffer pool's sizes are out of range: a count
    /// that is not a power of two up to 32,768, a buffer over [`MAX_POOL_BUFFER_SIZE`], a
    /// pool over [`MAX_POOL_BYTES`] per core, or pools of all cores together larger than
    /// the machine's memory.
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
        let mut o = self.options;
        // The environment is read once, here: every core of this runtime agrees.
        o.debug = Some(o.slow_poll()?.is_some());
        let invalid = |why: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        if o.workers == 0 {
            return invalid("workers(0): a runtime needs at least one core");
        }
        if o.max_blocking_threads == 0 {
            return invalid(
                "max_blocking_threads(0): spawn_blocking needs at least one thread to run on",
            );
        }
        if o.blocking_keep_alive.is_zero() {
            return invalid(
                "blocking_keep_alive(0s): an idle blocking thread must wait for the next job a \
                 little; give at least a millisecond",
            );
        }
        o.pool
            .validate_for(o.workers, crate::sys::rlimit::physical_memory())?;
        let choice = match o.backend {
            Some(b) => b,
            None => Backend::from_env()?.unwrap_or_default(),
        };
        let size = RingSize {
            entries: o.ring_entries,
            rings: o.workers,
        };
        let probe = crate::driver::probe(size, choice)?;
        Ok(Runtime::new_with(o, probe))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(b: Builder) -> String {
        let e = b.build().expect_err("refused before any ring is made");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        e.to_string()
    }

    #[test]
    fn zero_settings_are_refused_with_their_name() {
        assert!(refused(Runtime::builder().workers(0)).starts_with("workers(0)"));
        let e = refused(Runtime::builder().max_blocking_threads(0));
        assert!(e.starts_with("max_blocking_threads(0)"), "{e}");
        let e = refused(Runtime::builder().blocking_keep_alive(Duration::ZERO));
        assert!(e.starts_with("blocking_keep_alive(0s)"), "{e}");
    }

    #[test]
    fn blocking_settings_reach_the_options() {
        let b = Runtime::builder()
            .max_blocking_threads(3)
            .blocking_keep_alive(Duration::from_millis(20));
        assert_eq!(b.options.max_blocking_threads, 3);
        assert_eq!(b.options.blocking_keep_alive, Duration::from_millis(20));
        let d = Builder::default().options;
        assert_eq!(
            (d.max_blocking_threads, d.blocking_keep_alive.as_secs()),
            (512, 10)
        );
    }
}
