//! The pool's sizes and one core's pool policy: made on first use, a refusal remembered,
//! fallbacks to owned buffers counted.

use super::BufRing;
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

/// Default number of buffers in a core's pool; see [`crate::runtime::Builder::buffer_pool`].
pub const DEFAULT_POOL_BUFFERS: u16 = 1024;
/// Default size of each pooled buffer, in bytes.
pub const DEFAULT_POOL_BUFFER_SIZE: usize = 4096;
/// The buffer group id of each core's pool (one pool per ring, so one id suffices).
pub(crate) const POOL_GROUP: u16 = 0;

/// How big a core's buffer pool is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolConfig {
    pub(crate) buffers: u16,
    pub(crate) buffer_size: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            buffers: DEFAULT_POOL_BUFFERS,
            buffer_size: DEFAULT_POOL_BUFFER_SIZE,
        }
    }
}

impl PoolConfig {
    /// Checks the sizes the kernel accepts: a power-of-two count up to 32,768
    /// (io_uring_register_buf_ring(3)) and a buffer length that fits a CQE's `res`.
    pub(crate) fn validate(&self) -> io::Result<()> {
        if !self.buffers.is_power_of_two() || self.buffers > 32768 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "buffer_pool: {} buffers; the count must be a power of two, 1..=32768",
                    self.buffers
                ),
            ));
        }
        if self.buffer_size == 0 || self.buffer_size > i32::MAX as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "buffer_pool: buffer size {} is not in 1..=2^31-1",
                    self.buffer_size
                ),
            ));
        }
        Ok(())
    }
}

/// One core's buffer pool as its receives see it: the ring, made and registered on first
/// use, or why the kernel refused it.
#[derive(Debug)]
pub(crate) struct Pool {
    config: PoolConfig,
    ring: RefCell<Option<Rc<BufRing>>>,
    /// Why the kernel refused the pool, once it did: receives then use owned buffers,
    /// and registration is not tried again.
    refused: RefCell<Option<(io::ErrorKind, Rc<str>)>>,
    /// Receives that used an owned buffer: the pool was refused, or found empty.
    fallbacks: Cell<u64>,
}

impl Pool {
    /// A pool of `config`'s sizes, not made yet.
    pub(crate) fn new(config: PoolConfig) -> Pool {
        Pool {
            config,
            ring: RefCell::new(None),
            refused: RefCell::new(None),
            fallbacks: Cell::new(0),
        }
    }

    /// The ring, made on first use and handed to `register`, which registers it with the
    /// kernel (the driver, which keeps it until it unregisters it: pool rule 1).
    ///
    /// # Errors
    ///
    /// If the kernel refuses the registration: too old (provided buffer rings need Linux
    /// 5.19), or out of locked memory (RLIMIT_MEMLOCK); the message says which. The
    /// refusal is remembered: later calls return the same error without a syscall.
    pub(crate) fn ring(
        &self,
        register: impl FnOnce(&Rc<BufRing>) -> io::Result<()>,
    ) -> io::Result<Rc<BufRing>> {
        if let Some(ring) = &*self.ring.borrow() {
            return Ok(ring.clone());
        }
        if let Some(e) = self.error() {
            return Err(e);
        }
        let made = BufRing::new(self.config).map(Rc::new).and_then(|ring| {
            register(&ring).map_err(|e| refused(e, self.config))?;
            Ok(ring)
        });
        match &made {
            Ok(ring) => *self.ring.borrow_mut() = Some(ring.clone()),
            Err(e) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(target: "ringio::net", error = %e, "buffer pool refused: receives use owned buffers");
                *self.refused.borrow_mut() = Some((e.kind(), e.to_string().into()));
            }
        }
        made
    }

    /// Why the kernel refused this pool, if it did.
    pub(crate) fn error(&self) -> Option<io::Error> {
        let refused = self.refused.borrow();
        let (kind, why) = refused.as_ref()?;
        Some(io::Error::new(*kind, why.to_string()))
    }

    /// Counts a receive that uses an owned buffer (pool refused or found empty) and
    /// returns the size to give that buffer: the pool's buffer size.
    pub(crate) fn note_fallback(&self) -> usize {
        self.fallbacks.set(self.fallbacks.get() + 1);
        self.config.buffer_size
    }

    /// Receives that used an owned buffer (pool refused or found empty).
    pub(crate) fn fallbacks(&self) -> u64 {
        self.fallbacks.get()
    }

    /// The ring, if one was made: (buffers in use, capacity, times found empty).
    pub(crate) fn stats(&self) -> (usize, usize, u64) {
        self.ring
            .borrow()
            .as_ref()
            .map_or((0, 0, 0), |r| (r.in_use(), r.capacity(), r.exhausted()))
    }
}

/// The error for a buffer pool the kernel would not register.
fn refused(e: io::Error, pool: PoolConfig) -> io::Error {
    let bytes = usize::from(pool.buffers) * pool.buffer_size;
    let why = match e.raw_os_error() {
        Some(libc::EINVAL) => "provided buffer rings need Linux 5.19 or later".to_string(),
        Some(libc::ENOMEM) => format!(
            "not enough locked memory to pin its ring of {} entries ({} bytes; RLIMIT_MEMLOCK \
             is {}); raise the limit (ulimit -l) or use fewer buffers (Builder::buffer_pool)",
            pool.buffers,
            usize::from(pool.buffers) * 16,
            crate::sys::rlimit::memlock_limit()
                .map_or("unknown".to_string(), |l| format!("{l} bytes"))
        ),
        _ => "the kernel refused it".to_string(),
    };
    io::Error::new(
        e.kind(),
        format!(
            "cannot register the buffer pool ({} × {} bytes = {bytes} bytes): {why} ({e})",
            pool.buffers, pool.buffer_size
        ),
    )
}
