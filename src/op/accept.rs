//! IORING_OP_ACCEPT: take connections from a listening socket, many per SQE (multishot)
//! or, on kernels without it, one per SQE.
//!
//! Both forms pass no address buffer (the listeners ask the socket for the peer), so one
//! owned state, [`AcceptMulti`], serves both: a [`MultiOp<AcceptMulti>`] is a multishot
//! accept, an [`Op<AcceptMulti>`] a single-shot one. A listener keeps either armed across
//! its `accept` calls, so a connection the kernel takes while no caller waits stays there.

use super::new_fd::NewFd;
use super::{MultiOp, Op};
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

/// An accept on a listening socket: holds the socket until the last CQE. Named for its
/// first use, the multishot accept; the single-shot fallback uses it too.
pub(crate) type AcceptMulti = NewFd<SharedFd>;

impl MultiOp<AcceptMulti> {
    /// Arms a multishot accept (Linux 5.19) on the listening socket `fd`. The driver
    /// cancels it once `limit` accepted connections wait unclaimed at a reap, so a listener
    /// nobody accepts from leaves later connections in the kernel's backlog.
    pub(crate) fn accept_multi(fd: &SharedFd, limit: usize) -> io::Result<Self> {
        let sqe = opcode::AcceptMulti::new(types::Fd(fd.raw()))
            .flags(libc::SOCK_CLOEXEC)
            .build();
        let data = NewFd::new(fd.clone());
        // SAFETY: a multishot accept passes no address buffer; the SQE points to nothing.
        unsafe { MultiOp::submit(data, sqe, limit) }.map_err(|(e, _)| e)
    }
}

impl Op<AcceptMulti> {
    /// Queues one accept on the listening socket `fd`: the fallback for kernels without
    /// multishot accept.
    pub(crate) fn accept_single(fd: &SharedFd) -> io::Result<Self> {
        let sqe = opcode::Accept::new(
            types::Fd(fd.raw()),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
        .flags(libc::SOCK_CLOEXEC)
        .build();
        let data = NewFd::new(fd.clone());
        // SAFETY: no address buffer (accept(2) allows NULL addr and addrlen); the SQE
        // points to nothing.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, _)| e)
    }
}
