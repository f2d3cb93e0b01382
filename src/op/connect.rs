//! IORING_OP_CONNECT: connect a socket to a peer.

use super::Op;
use super::unit::Unit;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use socket2::SockAddr;
use std::io;

/// Keeps the descriptor and the address, boxed so the address the SQE points to does not
/// move (op rule 1). A connect to a peer that never answers waits for the TCP timeout
/// (minutes), so a dropped one is cancelled.
pub(crate) type Connect = Unit<(SharedFd, Box<SockAddr>), true>;

impl Op<Connect> {
    pub(crate) fn connect(fd: &SharedFd, addr: SockAddr) -> io::Result<Op<Connect>> {
        let addr = Box::new(addr);
        let sqe =
            opcode::Connect::new(types::Fd(fd.raw()), addr.as_ptr().cast(), addr.len()).build();
        // SAFETY: the SQE points into the boxed address, owned by the op.
        unsafe { Op::submit_unit((fd.clone(), addr), sqe) }
    }
}
