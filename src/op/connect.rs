//! IORING_OP_CONNECT: connect a socket to a peer.

use super::{Completable, Op};
use crate::driver::Completion;
use crate::fd::SharedFd;
use io_uring::{opcode, types};
use socket2::SockAddr;
use std::io;

pub(crate) struct Connect {
    _fd: SharedFd,
    /// Boxed so the address the SQE points to does not move (op rule 1).
    _addr: Box<SockAddr>,
}

impl Completable for Connect {
    type Output = io::Result<()>;
    // A connect to a peer that never answers waits for the TCP timeout (minutes).
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

impl Op<Connect> {
    pub(crate) fn connect(fd: &SharedFd, addr: SockAddr) -> io::Result<Op<Connect>> {
        let addr = Box::new(addr);
        let sqe =
            opcode::Connect::new(types::Fd(fd.raw()), addr.as_ptr().cast(), addr.len()).build();
        let data = Connect {
            _fd: fd.clone(),
            _addr: addr,
        };
        // SAFETY: the SQE points into the boxed address, owned by `data`.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, _)| e)
    }
}
