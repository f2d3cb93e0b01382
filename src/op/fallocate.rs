//! IORING_OP_FALLOCATE: reserve disk space for a range of a file (Linux 5.6 and later,
//! so on every kernel the ring runs on: the runtime needs 5.11).

use super::Op;
use super::unit::Unit;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

/// Keeps the descriptor. An fallocate on a local file always finishes: a dropped one is
/// not cancelled.
pub(crate) type Fallocate = Unit<SharedFd, false>;

impl Op<Fallocate> {
    /// Allocates `len` bytes from `offset` of the file open (for writing) as `fd`, with
    /// fallocate(2)'s `mode` (0: allocate, and grow the file if the range ends past it).
    pub(crate) fn fallocate(
        fd: &SharedFd,
        offset: u64,
        len: u64,
        mode: i32,
    ) -> io::Result<Op<Fallocate>> {
        let sqe = opcode::Fallocate::new(types::Fd(fd.raw()), len)
            .offset(offset)
            .mode(mode)
            .build();
        // SAFETY: an fallocate points to no memory; the op holds the descriptor.
        unsafe { Op::submit_unit(fd.clone(), sqe) }
    }
}
