//! IORING_OP_SEND: send on a connected socket, with MSG_NOSIGNAL.

use super::Op;
use super::outgoing::Outgoing;
use crate::buf::IoBuf;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};

/// Keeps the descriptor besides the buffer. A send to a peer that never reads waits once
/// the socket buffer is full: a dropped one is cancelled.
pub(crate) type Send<B> = Outgoing<B, SharedFd>;

impl<B: IoBuf> Op<Send<B>> {
    /// Sends `buf[start..bytes_init]`. MSG_NOSIGNAL: a reset peer gives EPIPE, not SIGPIPE.
    pub(crate) fn send(
        fd: &SharedFd,
        buf: B,
        start: usize,
    ) -> Result<Op<Send<B>>, (std::io::Error, B)> {
        let start = start.min(buf.bytes_init());
        let len = (buf.bytes_init() - start).min(u32::MAX as usize) as u32;
        // SAFETY: start <= bytes_init, so the pointer stays inside the buffer.
        let ptr = unsafe { buf.stable_ptr().add(start) };
        let sqe = opcode::Send::new(types::Fd(fd.raw()), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        // SAFETY: the SQE points into `buf`'s stable storage (IoBuf rule 1), owned by the op.
        unsafe { Op::submit_outgoing(buf, fd.clone(), sqe) }
    }
}
