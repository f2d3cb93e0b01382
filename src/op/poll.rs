//! IORING_OP_POLL_ADD: wait until a descriptor is readable, one-shot.
//!
//! Used for a pidfd on kernels without IORING_OP_WAITID: pidfd_open(2) says a pidfd
//! "indicates as readable" once its process terminates.

use super::{Completable, Op};
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

/// A one-shot poll; keeps the descriptor open until its CQE.
pub(crate) struct PollAdd {
    _fd: SharedFd,
}

impl Completable for PollAdd {
    /// The events that became ready (poll(2) `revents`).
    type Output = io::Result<u32>;
    // Readiness may never come (a child that never exits).
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> io::Result<u32> {
        c.into_result()
    }
}

impl Op<PollAdd> {
    /// Queues a one-shot poll for `POLLIN` on `fd` (io_uring_prep_poll_add(3)).
    pub(crate) fn poll_readable(fd: &SharedFd) -> io::Result<Self> {
        let sqe = opcode::PollAdd::new(types::Fd(fd.raw()), libc::POLLIN as u32).build();
        // SAFETY: a poll SQE points to no memory.
        unsafe { Op::submit(PollAdd { _fd: fd.clone() }, sqe) }.map_err(|(e, _)| e)
    }
}
