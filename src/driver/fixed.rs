//! The ring's table of registered (fixed) buffers, IORING_REGISTER_BUFFERS
//! (io_uring_register(2)): the kernel pins their pages once, so READ_FIXED and
//! WRITE_FIXED skip the per-op page walk. One table per ring; `buf::fixed` owns the
//! memory and decides when to register and unregister it.

use super::{Driver, Queue};
use std::io;

impl Driver {
    /// Registers `bufs` as this ring's fixed-buffer table. Returns `false` on the epoll
    /// backend, which has no table: its fixed reads and writes are plain ones on the same
    /// memory.
    ///
    /// # Safety
    ///
    /// Every iovec must describe memory that stays allocated until
    /// [`unregister_buffers`](Driver::unregister_buffers) or until no op that names the
    /// table is in flight any more, whichever is later.
    ///
    /// # Errors
    ///
    /// The kernel's refusal as it came: `EBUSY` (a table is already registered),
    /// `ENOMEM` (RLIMIT_MEMLOCK), `EINVAL`/`EFAULT` (bad iovecs).
    pub(crate) unsafe fn register_buffers(&mut self, bufs: &[libc::iovec]) -> io::Result<bool> {
        match &self.queue {
            // SAFETY: the caller's promise: the memory outlives its use by the kernel.
            Queue::Ring(ring) => unsafe { ring.submitter().register_buffers(bufs) }.map(|()| true),
            Queue::Epoll(_) => Ok(false),
        }
    }

    /// Drops this ring's fixed-buffer table. Ops already submitted keep their buffers
    /// pinned until they complete (the kernel holds a reference per request).
    pub(crate) fn unregister_buffers(&mut self) {
        if let Queue::Ring(ring) = &self.queue {
            let _ = ring.submitter().unregister_buffers();
        }
    }
}
