//! IORING_OP_SEND_ZC: a zero-copy send on a connected socket (io_uring_prep_send_zc(3)),
//! with MSG_NOSIGNAL.
//!
//! Rules:
//! 1. The kernel posts up to two CQEs: the send's result, with `IORING_CQE_F_MORE` if a
//!    notification follows, then the notification (`IORING_CQE_F_NOTIF`, without
//!    `F_MORE`) once the kernel no longer reads the buffer (io_uring_enter(2),
//!    IORING_OP_SEND_ZC). The buffer is the kernel's until that last CQE, not the first:
//!    the op is a multishot op (`multishot`), which keeps its state until a CQE without
//!    `F_MORE`, and hands the buffer back only with that CQE.
//! 2. A kernel without the opcode answers -EINVAL with no notification (the epoll backend
//!    answers unknown opcodes the same way): the caller falls back to a plain send.

use super::{MultiCompletable, MultiOp};
use crate::buf::IoBuf;
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use io_uring::{cqueue, opcode, types};
use std::io;

/// A zero-copy send in flight: the buffer and the socket, kept until the last CQE.
pub(crate) struct SendZc<B> {
    buf: Option<B>,
    _fd: SharedFd,
}

/// What one CQE of a zero-copy send gives.
pub(crate) struct SendZcItem<B> {
    /// The send's result (bytes sent or the error); `None` for the notification.
    pub(crate) sent: Option<io::Result<usize>>,
    /// Whether this CQE was the notification (`IORING_CQE_F_NOTIF`).
    pub(crate) notif: bool,
    /// The buffer, with the last CQE only (rule 1).
    pub(crate) buf: Option<B>,
}

impl<B: IoBuf> MultiCompletable for SendZc<B> {
    type Item = SendZcItem<B>;

    fn item(&mut self, c: Completion) -> SendZcItem<B> {
        let notif = cqueue::notif(c.flags);
        SendZcItem {
            sent: (!notif).then(|| c.into_result().map(|n| n as usize)),
            notif,
            buf: if c.more() { None } else { self.buf.take() },
        }
    }

    // A dropped send's CQEs carry nothing to release; the buffer is dropped with the op
    // state after the last one (rule 1).
    fn discard(&mut self, _: Completion) {}
}

impl<B: IoBuf> MultiOp<SendZc<B>> {
    /// Sends `buf[..bytes_init]` without copying it into the kernel. MSG_NOSIGNAL: a
    /// reset peer gives EPIPE, not SIGPIPE.
    pub(crate) fn send_zc(fd: &SharedFd, buf: B) -> Result<Self, (io::Error, B)> {
        let len = buf.bytes_init().min(u32::MAX as usize) as u32;
        let sqe = opcode::SendZc::new(types::Fd(fd.raw()), buf.stable_ptr(), len)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        let data = SendZc {
            buf: Some(buf),
            _fd: fd.clone(),
        };
        // SAFETY: the SQE points into `buf`'s stable storage (IoBuf rule 1), owned by the
        // op state until the last CQE (rule 1). No cancel limit: a send posts at most two.
        unsafe { MultiOp::submit(data, sqe, 0) }
            .map_err(|(e, d)| (e, d.buf.expect("the buffer is taken only by the last CQE")))
    }
}
