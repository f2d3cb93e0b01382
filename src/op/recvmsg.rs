//! IORING_OP_RECVMSG: receive one datagram and the address it came from.

use super::{Completable, Op};
use crate::buf::{BufResult, IoBufMut, kernel_write_target};
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use socket2::{SockAddr, SockAddrStorage};
use std::io;

/// What the kernel writes besides the data: the sender and the message flags.
///
/// One box so the `msghdr`, the `iovec` it points to and the address storage stay at
/// fixed addresses while the op moves (op rule 1); the header points into the same box.
struct MsgStorage {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: SockAddrStorage,
}

/// One received datagram: how much of it is in the buffer, and who sent it.
pub(crate) struct RecvMeta {
    /// Bytes written into the buffer (at most its capacity).
    pub(crate) len: usize,
    /// The datagram's full length: larger than `len` when it did not fit.
    pub(crate) datagram_len: usize,
    /// The sender's address (unnamed/empty for a connected socket of some families).
    pub(crate) addr: SockAddr,
}

pub(crate) struct RecvMsg<B> {
    _fd: SharedFd,
    buf: B,
    msg: Box<MsgStorage>,
}

impl<B: IoBufMut> Completable for RecvMsg<B> {
    type Output = BufResult<RecvMeta, B>;
    // A receive waits until a datagram comes, possibly forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(mut self, c: Completion) -> Self::Output {
        let datagram_len = match c.into_result() {
            Ok(n) => n as usize,
            Err(e) => return (Err(e), self.buf),
        };
        // With MSG_TRUNC in the flags the result is the datagram's real length even when
        // it was longer than the buffer (recv(2), udp(7)); the kernel wrote at most iov_len.
        let len = datagram_len.min(self.msg.iov.iov_len);
        // SAFETY: the kernel wrote `len` bytes from the start of the buffer.
        unsafe { self.buf.set_init(len) };
        // SAFETY: the kernel wrote a sockaddr of `msg_namelen` bytes (at most the storage's
        // size, which it was told) into the storage, which fits any address family.
        let addr = unsafe { SockAddr::new(self.msg.addr, self.msg.hdr.msg_namelen) };
        let meta = RecvMeta {
            len,
            datagram_len: if self.msg.hdr.msg_flags & libc::MSG_TRUNC != 0 {
                datagram_len.max(len + 1)
            } else {
                datagram_len
            },
            addr,
        };
        (Ok(meta), self.buf)
    }
}

impl<B: IoBufMut> Op<RecvMsg<B>> {
    /// Receives one datagram into `buf` (from its start, up to `bytes_total`).
    pub(crate) fn recvmsg(fd: &SharedFd, mut buf: B) -> Result<Op<RecvMsg<B>>, (io::Error, B)> {
        let mut msg = Box::new(MsgStorage {
            // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
            hdr: unsafe { std::mem::zeroed() },
            iov: libc::iovec {
                iov_base: kernel_write_target(&mut buf).cast(),
                iov_len: buf.bytes_total(),
            },
            addr: SockAddrStorage::zeroed(),
        });
        msg.hdr.msg_name = (&mut msg.addr as *mut SockAddrStorage).cast();
        msg.hdr.msg_namelen = std::mem::size_of::<SockAddrStorage>() as libc::socklen_t;
        msg.hdr.msg_iov = &mut msg.iov;
        msg.hdr.msg_iovlen = 1;
        let sqe = opcode::RecvMsg::new(types::Fd(fd.raw()), &mut msg.hdr)
            .flags(libc::MSG_TRUNC as u32)
            .build();
        let data = RecvMsg {
            _fd: fd.clone(),
            buf,
            msg,
        };
        // SAFETY: the SQE points to the boxed header, which points to the boxed iovec and
        // address storage and to `buf`'s stable storage (IoBuf rule 1); `data` owns all.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, d)| (e, d.buf))
    }
}
