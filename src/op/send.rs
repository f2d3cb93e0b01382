//! IORING_OP_SEND: send on a connected socket, with MSG_NOSIGNAL.

use super::Op;
use super::outgoing::Outgoing;
use super::result::{Finish, finish};
use crate::buf::IoBuf;
use crate::runtime::handle::with_driver;
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

/// Sends `buf[start..bytes_init]` (MSG_NOSIGNAL) and gives the count. On the epoll
/// backend a send the socket can take now is one `send(2)` with no op at all (its rule
/// 11), made by this call; otherwise, and always on io_uring, it is an [`Op::send`].
/// So call it where the op would be submitted: in the future that awaits it.
///
/// A plain future for the reason [`finish`] is one.
pub(crate) fn send_buf<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    start: usize,
) -> Finish<Op<Send<B>>, usize, B> {
    match send_now(fd, &buf, start) {
        Some(res) => Finish::ready((res, buf)),
        None => finish(Op::send(fd, buf, start)),
    }
}

/// The epoll backend's send with no op (its rule 11): `buf[start..bytes_init]` sent at
/// once, if the socket can take it now. `None` if it cannot, or on io_uring: submit an
/// [`Op::send`] then.
pub(crate) fn send_now<B: IoBuf>(
    fd: &SharedFd,
    buf: &B,
    start: usize,
) -> Option<std::io::Result<usize>> {
    let start = start.min(buf.bytes_init());
    let len = buf.bytes_init() - start;
    let rest: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: `stable_ptr` points to `bytes_init` initialised bytes (IoBuf rule 1),
        // of which `start..` is the rest; the slice lives only during the call below.
        unsafe { std::slice::from_raw_parts(buf.stable_ptr().add(start), len) }
    };
    with_driver(|driver| driver.send_now(fd.raw(), rest))
}
