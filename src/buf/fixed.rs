//! [`FixedBufPool`]: buffers registered with the core's ring (IORING_REGISTER_BUFFERS,
//! io_uring_register(2)), so that [`File::read_fixed_at`] and [`File::write_fixed_at`]
//! skip the kernel's per-op mapping of user pages.
//!
//! Rules (the `SAFETY:` comments here and in `op/read_fixed.rs` cite them as "fixed rule N"):
//! 1. The pool's memory is one zeroed [`AlignedMem`] of `count × size` bytes, page-aligned;
//!    buffer `i` is bytes `i × size .. (i + 1) × size`. It is freed only when the last of
//!    the pool and its [`FixedBuf`]s is dropped, after the table was unregistered.
//! 2. Each buffer index is out in at most one [`FixedBuf`] at a time: the free list holds
//!    the others, and a `FixedBuf` returns its index only in its `Drop`. An op in flight
//!    owns its `FixedBuf` until its CQE (op rule 2), so a dropped fixed read keeps its
//!    buffer out of the pool until the kernel is done with it.
//! 3. The semaphore's permits equal the free list's length, so [`FixedBufPool::next`]
//!    waits first-come first-served and a waiter dropped after its grant passes it on.
//! 4. The table is registered on the core that made the pool and unregistered on that core
//!    when the last reference goes. Each ring holds one table: one pool per core at a time.
//!
//! [`File::read_fixed_at`]: crate::fs::File::read_fixed_at
//! [`File::write_fixed_at`]: crate::fs::File::write_fixed_at

use super::aligned::AlignedMem;
use super::{IoBuf, IoBufMut};
use crate::runtime::handle::DriverHandle;
use crate::sync::Semaphore;
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

/// Most buffers one table holds (IORING_MAX_REG_BUFFERS in the kernel's io_uring/rsrc.c).
const MAX_BUFFERS: usize = 1 << 14;
/// Largest registered buffer the kernel accepts (1 GiB, io_uring_register(2)).
const MAX_BUFFER_SIZE: usize = 1 << 30;
/// Alignment of the pool's memory: a page, so that buffers whose size is a multiple of
/// 4 KiB all start page-aligned, which any device's direct I/O accepts.
const POOL_ALIGN: usize = 4096;

struct Inner {
    /// The core whose ring holds the table; `None` on the epoll backend (no table).
    registered: Option<DriverHandle>,
    /// Free buffer indices (rule 2).
    free: RefCell<Vec<u16>>,
    /// As many permits as `free` holds indices (rule 3).
    available: Semaphore,
    size: usize,
    count: usize,
    /// Declared last: freed after `Drop` unregistered the table (rule 1).
    mem: AlignedMem,
}

impl Inner {
    fn ptr(&self, index: u16) -> *mut u8 {
        // SAFETY: index < count (rule 2), so the offset stays inside the allocation (rule 1).
        unsafe { self.mem.ptr().add(usize::from(index) * self.size) }
    }

    /// Hands out a free index; the caller took one permit for it (rule 3).
    fn take(self: &Rc<Self>) -> FixedBuf {
        let index = self
            .free
            .borrow_mut()
            .pop()
            .expect("a permit stands for a free index (rule 3)");
        FixedBuf {
            inner: self.clone(),
            index,
            len: 0,
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // No FixedBuf is left, so no op names the table (rule 2): safe to drop it now.
        if let Some(core) = &self.registered {
            core.driver().unregister_buffers();
        }
    }
}

/// Buffers registered with the current core's ring, for [`File::read_fixed_at`] and
/// [`File::write_fixed_at`] (IORING_OP_READ_FIXED / WRITE_FIXED): the kernel pins their
/// pages once instead of at every operation.
///
/// [`get`](FixedBufPool::get) or [`next`](FixedBufPool::next) checks a buffer out; dropping
/// the [`FixedBuf`] gives it back. An operation in flight owns its buffer, so a read whose
/// future is dropped keeps the buffer out of the pool until the kernel has finished with it.
///
/// A ring holds one table of registered buffers: one pool per core at a time. The table
/// stays registered until the pool and every buffer from it are dropped.
///
/// On the epoll backend there is no ring: nothing is registered, and fixed reads and
/// writes are plain `pread`/`pwrite` calls on the blocking pool into the same buffers.
///
/// The memory is page-aligned and each buffer starts at a multiple of `size` from it, so
/// with `size` a multiple of 4096 every buffer suits direct I/O (O_DIRECT).
///
/// [`File::read_fixed_at`]: crate::fs::File::read_fixed_at
/// [`File::write_fixed_at`]: crate::fs::File::write_fixed_at
///
/// # Examples
///
/// ```
/// use ringio::buf::FixedBufPool;
///
/// ringio::run(async {
///     let pool = FixedBufPool::new(4, 4096).unwrap();
///     let buf = pool.get().unwrap();
///     assert_eq!((buf.len(), buf.capacity()), (0, 4096));
///     assert_eq!(pool.available(), 3);
///     drop(buf);
///     assert_eq!(pool.available(), 4);
/// });
/// ```
pub struct FixedBufPool {
    inner: Rc<Inner>,
}

impl FixedBufPool {
    /// Allocates `count` zeroed buffers of `size` bytes and registers them with the current
    /// core's ring.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `count` is not in 1..=16384 or `size` not in 1..=1 GiB (the
    /// kernel's limits); `ResourceBusy` if this core already has a pool registered;
    /// `OutOfMemory` if the pinned pages exceed RLIMIT_MEMLOCK; the kernel's other refusals
    /// as they come. Each message gives the count and size.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let err = ringio::buf::FixedBufPool::new(0, 4096).err().unwrap();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    pub fn new(count: usize, size: usize) -> io::Result<FixedBufPool> {
        if !(1..=MAX_BUFFERS).contains(&count) || !(1..=MAX_BUFFER_SIZE).contains(&size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "FixedBufPool of {count} buffers of {size} bytes: the count must be in \
                     1..={MAX_BUFFERS} and the size in 1..={MAX_BUFFER_SIZE}"
                ),
            ));
        }
        let total = count.checked_mul(size).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("FixedBufPool of {count} × {size} bytes overflows usize"),
            )
        })?;
        let mem = AlignedMem::new(total, POOL_ALIGN);
        let iovecs: Vec<libc::iovec> = (0..count)
            .map(|i| libc::iovec {
                // SAFETY: i < count, so the offset stays inside the allocation.
                iov_base: unsafe { mem.ptr().add(i * size) }.cast(),
                iov_len: size,
            })
            .collect();
        let core = DriverHandle::current();
        // SAFETY: the memory lives in `Inner` and is freed only after `Inner::drop`
        // unregistered the table, which happens once no FixedBuf, hence no op, is left
        // (fixed rules 1 and 2).
        let registered = unsafe { core.driver().register_buffers(&iovecs) }
            .map_err(|e| refused(e, count, size))?;
        Ok(FixedBufPool {
            inner: Rc::new(Inner {
                registered: registered.then_some(core),
                free: RefCell::new((0..count as u16).rev().collect()),
                available: Semaphore::new(count),
                size,
                count,
                mem,
            }),
        })
    }

    /// A free buffer (length 0), or `None` if every one is out.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let pool = ringio::buf::FixedBufPool::new(1, 512).unwrap();
    ///     let held = pool.get().unwrap();
    ///     assert!(pool.get().is_none());
    ///     drop(held);
    ///     assert!(pool.get().is_some());
    /// });
    /// ```
    pub fn get(&self) -> Option<FixedBuf> {
        self.inner.available.try_acquire()?.forget();
        Some(self.inner.take())
    }

    /// Waits for a free buffer (length 0); waiters are served in the order they came.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped call takes no buffer, and one granted to it goes to the next
    /// waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let pool = std::rc::Rc::new(ringio::buf::FixedBufPool::new(1, 512).unwrap());
    ///     let held = pool.get().unwrap();
    ///     let waiter = ringio::spawn({
    ///         let pool = pool.clone();
    ///         async move { pool.next().await.capacity() }
    ///     });
    ///     ringio::yield_now().await;
    ///     drop(held);
    ///     assert_eq!(waiter.await.unwrap(), 512);
    /// });
    /// ```
    pub async fn next(&self) -> FixedBuf {
        self.inner.available.acquire().await.forget();
        self.inner.take()
    }

    /// Buffers in the pool now (not checked out, nor held by an operation in flight).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let pool = ringio::buf::FixedBufPool::new(2, 512).unwrap();
    ///     let _one = pool.get();
    ///     assert_eq!(pool.available(), 1);
    /// });
    /// ```
    pub fn available(&self) -> usize {
        self.inner.free.borrow().len()
    }

    /// How many buffers the pool has.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     assert_eq!(ringio::buf::FixedBufPool::new(2, 512).unwrap().count(), 2);
    /// });
    /// ```
    pub fn count(&self) -> usize {
        self.inner.count
    }

    /// The size of each buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     assert_eq!(ringio::buf::FixedBufPool::new(2, 512).unwrap().buffer_size(), 512);
    /// });
    /// ```
    pub fn buffer_size(&self) -> usize {
        self.inner.size
    }

    /// Whether the buffers are registered with a ring: false on the epoll backend.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let pool = ringio::buf::FixedBufPool::new(1, 512).unwrap();
    ///     let ring = ringio::metrics().backend == ringio::runtime::Backend::IoUring;
    ///     assert_eq!(pool.is_registered(), ring);
    /// });
    /// ```
    pub fn is_registered(&self) -> bool {
        self.inner.registered.is_some()
    }
}

impl fmt::Debug for FixedBufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufPool")
            .field("count", &self.inner.count)
            .field("size", &self.inner.size)
            .field("available", &self.available())
            .field("registered", &self.is_registered())
            .finish()
    }
}

/// The error for a table the kernel would not register.
fn refused(e: io::Error, count: usize, size: usize) -> io::Error {
    let what = format!("cannot register a FixedBufPool of {count} × {size} bytes");
    match e.raw_os_error() {
        Some(libc::EBUSY) => io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!(
                "{what}: this core's ring already has registered buffers (one FixedBufPool per \
                 core at a time); drop the other pool and its buffers first ({e})"
            ),
        ),
        Some(libc::ENOMEM) => io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "{what}: not enough locked memory to pin them (RLIMIT_MEMLOCK is {}); raise \
                 the limit (ulimit -l) or register fewer bytes ({e})",
                crate::sys::rlimit::memlock_limit()
                    .map_or("unknown".to_string(), |l| format!("{l} bytes"))
            ),
        ),
        _ => crate::io::context::with_context(e, what),
    }
}

/// One buffer of a [`FixedBufPool`]; dropping it gives it back to the pool.
///
/// It holds `len` bytes of data (0 when checked out) in room for
/// [`capacity`](FixedBuf::capacity) bytes; its memory is always initialised (zeroed when
/// the pool was made), so [`set_len`](FixedBuf::set_len) is safe. A fixed read fills it
/// from the start and sets its length to what was read; a fixed write sends its first
/// `len` bytes. It also works as an ordinary [`IoBuf`]/[`IoBufMut`] with
/// [`read_at`](crate::fs::File::read_at) and the socket calls.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let pool = ringio::buf::FixedBufPool::new(1, 4096).unwrap();
///     let mut buf = pool.get().unwrap();
///     buf.set_len(5);
///     buf.copy_from_slice(b"fixed");
///     assert_eq!(&buf[..], b"fixed");
/// });
/// ```
pub struct FixedBuf {
    inner: Rc<Inner>,
    index: u16,
    len: usize,
}

impl FixedBuf {
    /// Bytes holding data.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let pool = ringio::buf::FixedBufPool::new(1, 64).unwrap();
    ///     assert_eq!(pool.get().unwrap().len(), 0);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no data.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let pool = ringio::buf::FixedBufPool::new(1, 64).unwrap();
    ///     assert!(pool.get().unwrap().is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer's size: the pool's buffer size.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let pool = ringio::buf::FixedBufPool::new(1, 64).unwrap();
    ///     assert_eq!(pool.get().unwrap().capacity(), 64);
    /// });
    /// ```
    pub fn capacity(&self) -> usize {
        self.inner.size
    }

    /// Sets the length; bytes past the old length are what the buffer last held.
    ///
    /// # Panics
    ///
    /// If `len` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let pool = ringio::buf::FixedBufPool::new(1, 64).unwrap();
    ///     let mut buf = pool.get().unwrap();
    ///     buf.set_len(64);
    ///     assert!(buf.iter().all(|&b| b == 0));
    /// });
    /// ```
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.capacity(),
            "set_len({len}) past the capacity of a FixedBuf of {} bytes",
            self.capacity()
        );
        self.len = len;
    }

    /// The buffer's index in its ring's table (what a fixed op names).
    pub(crate) fn index(&self) -> u16 {
        self.index
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        self.inner.free.borrow_mut().push(self.index);
        self.inner.available.add_permits(1);
    }
}

impl Deref for FixedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: this value owns buffer `index` (fixed rule 2), whose `len <= size` bytes
        // are initialised (rule 1).
        unsafe { std::slice::from_raw_parts(self.inner.ptr(self.index), self.len) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.inner.ptr(self.index), self.len) }
    }
}

impl AsRef<[u8]> for FixedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: the pool's memory does not move and outlives this value (fixed rule 1); only
// this value uses buffer `index` (rule 2); len <= size.
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.inner.ptr(self.index)
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.inner.size
    }
}

// SAFETY: `size` bytes from the pointer belong to this buffer and are writable.
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.inner.ptr(self.index)
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // Always initialised (fixed rule 1): only the length moves, never back.
        self.len = self.len.max(pos.min(self.inner.size));
    }
}
