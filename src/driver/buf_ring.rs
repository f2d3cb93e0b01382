//! A provided buffer ring (io_uring_register_buf_ring(3)): a pool of equal buffers the
//! kernel picks from when data arrives, so a connection waiting for data holds none.
//!
//! Rules (the `SAFETY:` comments below cite them by number):
//! 1. Ring entries and buffers live in two anonymous mappings that are unmapped only when
//!    the last `Rc<BufRing>` goes. The driver holds one `Rc` until it has unregistered the
//!    ring (or leaks it), so the kernel never sees unmapped memory.
//! 2. A buffer is the kernel's from the moment it is published in the ring (tail store)
//!    until a CQE names its id (`IORING_CQE_F_BUFFER`). Only then does the application read
//!    it, through exactly one [`PooledBuf`] (or an orphan that returns it at once).
//! 3. A buffer goes back to the kernel only through [`BufRing::push_entry`], which writes
//!    a fresh entry at the tail and then publishes the tail with a release store: the
//!    kernel reads the entry only after it sees the new tail (the ring's head/tail
//!    protocol).

use std::cell::Cell;
use std::fmt;
use std::io;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, Ordering};

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

/// One entry of the ring, `struct io_uring_buf` in io_uring.h. The ring's tail is the
/// `resv` field of entry 0, which the kernel reads while we write the other fields, so
/// entries are written field by field through raw pointers, never through a `&mut`.
#[repr(C)]
struct RingEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

// The kernel's layout: 16 bytes an entry, the tail at byte 14 of entry 0.
const _: () = assert!(std::mem::size_of::<RingEntry>() == 16);
const _: () = assert!(std::mem::offset_of!(RingEntry, resv) == 14);

/// An anonymous private mapping, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous mapping aliases nothing; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // A forked child must not share memory the parent's kernel ring writes into.
        // SAFETY: the range is the mapping just made. Failure only loses that guard.
        let _ = unsafe { libc::madvise(ptr, len, libc::MADV_DONTFORK) };
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing points into it any more (rule 1).
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// One core's provided buffer ring and its buffers.
pub(crate) struct BufRing {
    entries: Mapping,
    buffers: Mapping,
    config: PoolConfig,
    /// Our copy of the ring tail (the kernel only reads the shared one).
    tail: Cell<u16>,
    /// Buffers out of the kernel's hands: named by a reaped CQE and not given back yet,
    /// whether the application holds them or they wait unread in a queue. Counted at
    /// reap (`note_taken`), so it says truly whether the kernel has any left.
    in_use: Cell<usize>,
    /// Receives that found the pool empty (-ENOBUFS), since the ring was made.
    exhausted: Cell<u64>,
}

impl BufRing {
    /// Maps the ring and its buffers and publishes every buffer. The caller registers
    /// the ring with the kernel (`Driver::buf_ring`).
    pub(crate) fn new(config: PoolConfig) -> io::Result<BufRing> {
        config.validate()?;
        let count = usize::from(config.buffers);
        let entries = Mapping::new(count * std::mem::size_of::<RingEntry>())?;
        let buffers = Mapping::new(count * config.buffer_size)?;
        let ring = BufRing {
            entries,
            buffers,
            config,
            tail: Cell::new(0),
            in_use: Cell::new(0),
            exhausted: Cell::new(0),
        };
        for bid in 0..config.buffers {
            ring.push_entry(bid);
        }
        Ok(ring)
    }

    /// The ring's address and entry count, for registration.
    pub(crate) fn ring_addr(&self) -> (u64, u16) {
        (self.entries.ptr as u64, self.config.buffers)
    }

    pub(crate) fn buffer_size(&self) -> usize {
        self.config.buffer_size
    }

    /// Buffers out of the kernel's hands (see the field).
    pub(crate) fn in_use(&self) -> usize {
        self.in_use.get()
    }

    /// Receives that found the pool empty so far.
    pub(crate) fn exhausted(&self) -> u64 {
        self.exhausted.get()
    }

    /// Counts a receive that found the pool empty (-ENOBUFS), and says whether it still
    /// is: no buffer came back since the kernel looked.
    pub(crate) fn found_empty(&self) -> bool {
        self.exhausted.set(self.exhausted.get() + 1);
        !self.has_free()
    }

    /// A reaped CQE named one of this pool's buffers (`IORING_CQE_F_BUFFER`).
    pub(crate) fn note_taken(&self) {
        self.in_use.set(self.in_use.get() + 1);
    }

    /// Buffers in the pool.
    pub(crate) fn capacity(&self) -> usize {
        usize::from(self.config.buffers)
    }

    fn buffer_ptr(&self, bid: u16) -> *mut u8 {
        assert!(bid < self.config.buffers, "buffer id {bid} out of range");
        // SAFETY: bid < count, so the offset stays inside the buffers mapping.
        unsafe {
            self.buffers
                .ptr
                .add(usize::from(bid) * self.config.buffer_size)
        }
    }

    /// Hands buffer `bid` back to the kernel (rule 3).
    fn give_back(&self, bid: u16) {
        self.push_entry(bid);
        self.in_use.set(self.in_use.get() - 1);
    }

    /// Writes the entry for buffer `bid` at the tail and publishes it (rule 3).
    fn push_entry(&self, bid: u16) {
        let mask = self.config.buffers - 1;
        let tail = self.tail.get();
        let base: *mut RingEntry = self.entries.ptr.cast();
        // SAFETY: `tail & mask` < count: inside the mapping. The kernel reads no entry past
        // the published tail, which this one is until the store below (rule 3); `resv`
        // (entry 0's is the tail, read meanwhile) is left alone, so no `&mut` is made.
        unsafe {
            let entry = base.add(usize::from(tail & mask));
            (&raw mut (*entry).addr).write(self.buffer_ptr(bid) as u64);
            (&raw mut (*entry).len).write(self.config.buffer_size as u32);
            (&raw mut (*entry).bid).write(bid);
        }
        let tail = tail.wrapping_add(1);
        self.tail.set(tail);
        // SAFETY: the tail is entry 0's `resv`, inside the mapping and 2-byte aligned. The
        // kernel reads it concurrently, so it is stored atomically, with release order so
        // the entry written above is visible first.
        unsafe {
            AtomicU16::from_ptr(&raw mut (*base).resv).store(tail, Ordering::Release);
        }
    }

    /// Whether any buffer is in the kernel's hands now.
    pub(crate) fn has_free(&self) -> bool {
        self.in_use.get() < self.capacity()
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("buffers", &self.config.buffers)
            .field("buffer_size", &self.config.buffer_size)
            .field("in_use", &self.in_use.get())
            .finish()
    }
}

/// Takes ownership of buffer `bid`, which a CQE just named, holding `len` bytes. (The
/// driver counted it out of the kernel's hands when it reaped that CQE.)
///
/// # Safety
///
/// `bid` must come from a CQE's `IORING_CQE_F_BUFFER` for this ring, not yet taken
/// (rule 2): nothing else may own that buffer.
pub(crate) unsafe fn take(ring: &Rc<BufRing>, bid: u16, len: usize) -> PooledBuf {
    assert!(len <= ring.buffer_size(), "CQE length past the buffer");
    PooledBuf(Inner::Ring {
        ring: ring.clone(),
        bid,
        len: len as u32,
    })
}

/// Bytes received into a buffer of the core's pool; dropping it gives the buffer back.
///
/// [`TcpStream::recv_pooled`](crate::net::TcpStream::recv_pooled) and
/// [`RecvStream`](crate::net::RecvStream) return it. It derefs to the received bytes and
/// can be written back as it is (`write_all(buf)`), since it implements
/// [`IoBuf`](crate::buf::IoBuf). Hold it only as long as needed: the pool is shared by
/// every connection of the core, and while it is empty receives fall back to allocated
/// buffers. A parser that needs more bytes than one buffer holds should copy what it
/// keeps rather than hold buffers while it waits for the rest.
///
/// An empty `PooledBuf` means end of stream.
pub struct PooledBuf(Inner);

enum Inner {
    Ring {
        ring: Rc<BufRing>,
        bid: u16,
        len: u32,
    },
    /// Bytes that were already in hand (left by a cancelled read), or none (EOF).
    Owned(Vec<u8>),
}

impl PooledBuf {
    pub(crate) fn owned(bytes: Vec<u8>) -> PooledBuf {
        PooledBuf(Inner::Owned(bytes))
    }

    /// The received bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Inner::Ring { ring, bid, len } => {
                // SAFETY: the CQE said the kernel wrote `len` bytes at this buffer, and
                // this value owns it until drop (rule 2), so nothing writes it meanwhile.
                unsafe { std::slice::from_raw_parts(ring.buffer_ptr(*bid), *len as usize) }
            }
            Inner::Owned(v) => v,
        }
    }
}

impl Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Inner::Ring { ring, bid, .. } = &self.0 {
            ring.give_back(*bid);
        }
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pooled = matches!(self.0, Inner::Ring { .. });
        f.debug_struct("PooledBuf")
            .field("len", &self.len())
            .field("pooled", &pooled)
            .finish()
    }
}

// SAFETY: the bytes live in the pool's mapping (or a Vec's heap storage), which does not
// move with the value and outlives it (rule 1); nothing writes them while this value owns
// the buffer (rule 2); `bytes_init == bytes_total == len`.
unsafe impl crate::buf::IoBuf for PooledBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.as_slice().as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}
