//! IORING_OP_SENDMSG: send one datagram to an address, with MSG_NOSIGNAL.

use super::Op;
use super::outgoing::Outgoing;
use crate::buf::IoBuf;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use socket2::SockAddr;
use std::io;

/// The header, its iovec and the destination in one box, so the pointers between them and
/// from the SQE stay valid while the op moves (op rule 1).
pub(crate) struct MsgStorage {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddr,
}

/// Keeps the descriptor and the boxed header besides the buffer. A send waits while the
/// socket buffer is full; on a stream socket (or a full Unix datagram queue) that can be
/// forever, so a dropped one is cancelled.
pub(crate) type SendMsg<B> = Outgoing<B, (SharedFd, Box<MsgStorage>)>;

impl<B: IoBuf> Op<SendMsg<B>> {
    /// Sends `buf[..bytes_init]` as one datagram to `addr`. MSG_NOSIGNAL: an error, never
    /// SIGPIPE.
    pub(crate) fn sendmsg(
        fd: &SharedFd,
        buf: B,
        addr: SockAddr,
    ) -> Result<Op<SendMsg<B>>, (io::Error, B)> {
        let mut msg = Box::new(MsgStorage {
            // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
            hdr: unsafe { std::mem::zeroed() },
            iov: libc::iovec {
                // The kernel only reads through it (sendmsg(2)); iovec has no const pointer.
                iov_base: buf.stable_ptr().cast_mut().cast(),
                iov_len: buf.bytes_init(),
            },
            addr,
        });
        msg.hdr.msg_name = msg.addr.as_ptr().cast_mut().cast();
        msg.hdr.msg_namelen = msg.addr.len();
        msg.hdr.msg_iov = &mut msg.iov;
        msg.hdr.msg_iovlen = 1;
        let sqe = opcode::SendMsg::new(types::Fd(fd.raw()), &msg.hdr)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build();
        // SAFETY: the SQE points to the boxed header, which points to the boxed iovec and
        // address and to `buf`'s stable storage (IoBuf rule 1); the op owns all of it.
        unsafe { Op::submit_outgoing(buf, (fd.clone(), msg), sqe) }
    }
}
