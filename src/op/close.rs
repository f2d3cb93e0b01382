//! IORING_OP_CLOSE: close a descriptor through the ring (`File::close().await`).

use super::Op;
use super::unit::Unit;
use io_uring::{opcode, types};
use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};

/// Keeps nothing: the descriptor's ownership passes to the kernel. A close always
/// finishes: a dropped one is not cancelled.
pub(crate) type Close = Unit<(), false>;

impl Op<Close> {
    /// Closes `fd`; the descriptor number is released by the kernel whatever the result.
    pub(crate) fn close(fd: OwnedFd) -> io::Result<Op<Close>> {
        let raw = fd.into_raw_fd();
        let sqe = opcode::Close::new(types::Fd(raw)).build();
        // SAFETY: a close points to no memory; the fd's ownership passes to the kernel.
        unsafe { Op::submit_unit((), sqe) }.inspect_err(|_| {
            // The kernel never saw the SQE: the descriptor is still ours to close.
            drop(crate::sys::fd::owned_from_raw(raw));
        })
    }
}
