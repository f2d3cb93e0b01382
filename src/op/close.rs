//! IORING_OP_CLOSE: close a descriptor through the ring (`File::close().await`).

use super::{Completable, Op};
use crate::driver::Completion;
use io_uring::{opcode, types};
use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};

pub(crate) struct Close;

impl Completable for Close {
    type Output = io::Result<()>;
    const CANCEL_ON_DROP: bool = false;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

impl Op<Close> {
    /// Closes `fd`; the descriptor number is released by the kernel whatever the result.
    pub(crate) fn close(fd: OwnedFd) -> io::Result<Op<Close>> {
        let raw = fd.into_raw_fd();
        let sqe = opcode::Close::new(types::Fd(raw)).build();
        // SAFETY: a close points to no memory; the fd's ownership passes to the kernel.
        unsafe { Op::submit(Close, sqe) }.map_err(|(e, _)| {
            // The kernel never saw the SQE: the descriptor is still ours to close.
            drop(crate::fd::owned_from_raw(raw));
            e
        })
    }
}
