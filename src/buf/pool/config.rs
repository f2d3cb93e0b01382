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
/// The largest pooled buffer `Runtime::builder().build()` accepts: 1 MiB. One receive
/// returns at most what the socket holds (its receive buffer, a few MiB at most), and
/// a bigger buffer only multiplies what each buffer of the pool may take.
///
/// # Examples
///
/// ```
/// use ringio::runtime::MAX_POOL_BUFFER_SIZE;
///
/// let e = ringio::Runtime::builder()
///     .buffer_pool(8, MAX_POOL_BUFFER_SIZE + 1)
///     .build()
///     .unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub const MAX_POOL_BUFFER_SIZE: usize = 1 << 20;
/// The most address space one core's pool may take (buffers × buffer size): 1 GiB, 256
/// times the default pool, so that a slip such as `buffer_pool(32768, 1 << 20)` (32 GiB
/// per core) is refused at `build()` instead of failing at the first receive.
///
/// # Examples
///
/// ```
/// let e = ringio::Runtime::builder()
///     .buffer_pool(32768, 1 << 20)
///     .build()
///     .unwrap_err();
/// assert!(e.to_string().contains("MAX_POOL_BYTES"), "{e}");
/// assert_eq!(ringio::runtime::MAX_POOL_BYTES, 1 << 30);
/// ```
pub const MAX_POOL_BYTES: usize = 1 << 30;
/// The most bytes a receive that finds the pool empty (or refused) allocates for its own
/// buffer: 64 KiB, what one receive of a loopback or Ethernet burst mostly returns. The
/// rest stays in the socket for the next receive, so nothing is lost, and a pool of big
/// buffers does not make each fallback allocate one.
pub(crate) const MAX_FALLBACK_RECV: usize = 64 * 1024;
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
    /// Checks the sizes the kernel accepts, a power-of-two count up to 32,768
    /// (io_uring_register_buf_ring(3)), and the bounds above: a buffer of at most
    /// [`MAX_POOL_BUFFER_SIZE`] and a pool of at most [`MAX_POOL_BYTES`].
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
        if self.buffer_size == 0 || self.buffer_size > MAX_POOL_BUFFER_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "buffer_pool: buffer size {} bytes is not in 1..={MAX_POOL_BUFFER_SIZE} \
                     (MAX_POOL_BUFFER_SIZE)",
                    self.buffer_size
                ),
            ));
        }
        let bytes = self.bytes();
        if bytes > MAX_POOL_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "buffer_pool: {} buffers × {} bytes = {bytes} bytes per core, over the \
                     {MAX_POOL_BYTES}-byte bound (MAX_POOL_BYTES); use fewer or smaller buffers",
                    self.buffers, self.buffer_size
                ),
            ));
        }
        Ok(())
    }

    /// Bytes of one core's pool.
    fn bytes(&self) -> usize {
        usize::from(self.buffers) * self.buffer_size
    }

    /// [`validate`](Self::validate), then checks that the pools of `workers` cores fit
    /// in `memory` bytes (the machine's RAM; `None` when unknown: not checked).
    pub(crate) fn validate_for(&self, workers: usize, memory: Option<u64>) -> io::Result<()> {
        self.validate()?;
        let total = (self.bytes() as u64).saturating_mul(workers as u64);
        match memory {
            Some(memory) if total > memory => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "buffer_pool: {workers} cores × {} buffers × {} bytes = {total} bytes, more \
                     than this machine's {memory} bytes of memory (MemTotal); use fewer or \
                     smaller buffers, or fewer workers",
                    self.buffers, self.buffer_size
                ),
            )),
            _ => Ok(()),
        }
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
    /// returns the size to give that buffer: the pool's buffer size, at most
    /// [`MAX_FALLBACK_RECV`].
    pub(crate) fn note_fallback(&self) -> usize {
        self.fallbacks.set(self.fallbacks.get() + 1);
        self.config.buffer_size.min(MAX_FALLBACK_RECV)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(buffers: u16, buffer_size: usize) -> PoolConfig {
        PoolConfig {
            buffers,
            buffer_size,
        }
    }

    #[test]
    fn bounds_are_inclusive_and_named() {
        config(1, MAX_POOL_BUFFER_SIZE).validate().unwrap();
        config(1024, MAX_POOL_BUFFER_SIZE).validate().unwrap(); // exactly MAX_POOL_BYTES
        let e = config(1, MAX_POOL_BUFFER_SIZE + 1).validate().unwrap_err();
        assert!(e.to_string().contains("1048577 bytes"), "{e}");
        let e = config(32768, 1 << 20).validate().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let msg = e.to_string();
        assert!(
            msg.contains("32768 buffers × 1048576 bytes = 34359738368"),
            "{msg}"
        );
        assert!(msg.contains("MAX_POOL_BYTES"), "{msg}");
        let e = config(2048, MAX_POOL_BUFFER_SIZE).validate().unwrap_err();
        assert!(e.to_string().contains("MAX_POOL_BYTES"), "{e}");
    }

    #[test]
    fn all_cores_must_fit_in_memory() {
        let c = config(1024, 1 << 20); // 1 GiB per core
        c.validate_for(4, Some(4 << 30)).unwrap();
        c.validate_for(4, None).unwrap();
        let e = c.validate_for(5, Some(4 << 30)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("5 cores × 1024 buffers"), "{e}");
        assert!(e.to_string().contains("MemTotal"), "{e}");
    }

    #[test]
    fn a_fallback_receive_allocates_at_most_64_kib() {
        let pool = Pool::new(config(1, MAX_POOL_BUFFER_SIZE));
        assert_eq!(pool.note_fallback(), MAX_FALLBACK_RECV);
        let pool = Pool::new(config(1, 4096));
        assert_eq!(pool.note_fallback(), 4096);
        assert_eq!(pool.fallbacks(), 1);
    }
}
