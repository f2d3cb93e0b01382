//! What the backend's unit tests share: a backend, socket pairs, and a send.

use super::{Epoll, Spare};
use crate::runtime::blocking::BlockingPool;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// A backend whose lazy receives stay lazy (rule 10), however long a test sleeps.
pub(super) fn epoll() -> Epoll {
    let mut ep = Epoll::new(BlockingPool::new(1, Duration::from_secs(1))).unwrap();
    ep.spare = Spare::fixed(false);
    ep
}

/// A connected pair of Unix sockets of type `ty` (`SOCK_STREAM`, `SOCK_DGRAM`).
pub(in crate::driver) fn pair(ty: libc::c_int) -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two descriptors into the live local array.
    let r =
        unsafe { libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0);
    (
        crate::sys::fd::owned_from_raw(fds[0]),
        crate::sys::fd::owned_from_raw(fds[1]),
    )
}

/// Sends all of `bytes` on `fd` at once.
pub(super) fn send(fd: &OwnedFd, bytes: &[u8]) {
    // SAFETY: a live slice.
    let n = unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
    assert_eq!(n, bytes.len() as isize);
}
