//! Descriptors: the one an operation shares with its socket or file, and eventfds.

use crate::net::Unread;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;

/// A descriptor shared by a socket and the operations in flight on it.
///
/// An operation holds a clone until its CQE is reaped, so the descriptor number is not
/// closed (and cannot be reused by a new socket) while the kernel may still act on it.
/// The last clone closes it with a plain `close(2)`: closing needs no ring, so it is safe
/// from any `Drop`, even while the driver is busy.
///
/// The same allocation holds the stash of a stream socket's dropped receives
/// ([`Unread`], `net::unread`), which every receive on the stream checks: one allocation
/// per connection instead of two (80 bytes less per idle connection in
/// `tests/net_conn_memory.rs`), and no second object for each read to bring into the
/// cache. Other descriptors leave it empty.
#[derive(Clone, Debug)]
pub(crate) struct SharedFd(Rc<Shared>);

#[derive(Debug)]
struct Shared {
    fd: OwnedFd,
    unread: Unread,
}

impl SharedFd {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        // A number the epoll backend may know from a closed descriptor (its rule 5).
        crate::driver::fd_changed(fd.as_raw_fd());
        SharedFd(Rc::new(Shared {
            fd,
            unread: Unread::default(),
        }))
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.0.fd.as_raw_fd()
    }

    pub(crate) fn as_fd(&self) -> &OwnedFd {
        &self.0.fd
    }

    /// The stream's stash of bytes its dropped receives took (`net::unread`).
    pub(crate) fn unread(&self) -> &Unread {
        &self.0.unread
    }

    /// The descriptor itself if no op holds a clone any more (`File::close` closes it
    /// through the ring); otherwise the handle back.
    pub(crate) fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the Rc is moved out once.
        let rc = unsafe { std::ptr::read(&this.0) };
        let fd = Rc::try_unwrap(rc).map_err(SharedFd)?.fd;
        crate::driver::fd_changed(fd.as_raw_fd());
        Ok(fd)
    }
}

impl Drop for SharedFd {
    fn drop(&mut self) {
        if Rc::strong_count(&self.0) == 1 {
            // The number is about to be closed (the epoll backend's rule 5).
            crate::driver::fd_changed(self.raw());
        }
    }
}

/// Takes ownership of a descriptor the kernel returned (accept, open).
pub(crate) fn owned_from_raw(fd: RawFd) -> OwnedFd {
    debug_assert!(fd >= 0);
    // SAFETY: the kernel just created `fd` for us and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A close-on-exec eventfd: other threads write to it to wake a sleeping ring. It stays
/// blocking: io_uring answers a read on an O_NONBLOCK file with -EAGAIN instead of waiting.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with no pointers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned_from_raw(fd))
}

/// Adds one to an eventfd's counter, waking a read armed on it.
pub(crate) fn eventfd_signal(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live local; an eventfd accepts exactly that. EAGAIN
    // (counter saturated) means a wake-up is already pending, so the result is ignored.
    let _ = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
}
