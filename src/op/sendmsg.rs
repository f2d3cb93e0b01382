//! IORING_OP_SENDMSG: send one datagram to an address, with MSG_NOSIGNAL.

use super::{Completable, Op};
use crate::buf::{BufResult, IoBuf};
use crate::driver::Completion;
use crate::fd::SharedFd;
use io_uring::{opcode, types};
use socket2::SockAddr;
use std::io;

/// The header, its iovec and the destination in one box, so the pointers between them and
/// from the SQE stay valid while the op moves (op rule 1).
struct MsgStorage {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddr,
}

pub(crate) struct SendMsg<B> {
    _fd: SharedFd,
    buf: B,
    _msg: Box<MsgStorage>,
}

impl<B: IoBuf> Completable for SendMsg<B> {
    type Output = BufResult<usize, B>;
    // A send waits while the socket buffer is full; on a stream socket (or a full Unix
    // datagram queue) that can be forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> Self::Output {
        (c.into_result().map(|n| n as usize), self.buf)
    }
}

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
        let data = SendMsg {
            _fd: fd.clone(),
            buf,
            _msg: msg,
        };
        // SAFETY: the SQE points to the boxed header, which points to the boxed iovec and
        // address and to `buf`'s stable storage (IoBuf rule 1); `data` owns all of it.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, d)| (e, d.buf))
    }
}
