//! IORING_OP_FSYNC: flush a file's data (and metadata) to the device.

use super::{Completable, Op};
use crate::driver::Completion;
use crate::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

pub(crate) struct Fsync {
    _fd: SharedFd,
}

impl Completable for Fsync {
    type Output = io::Result<()>;
    // An fsync ends when the device has the data; it cannot wait forever.
    const CANCEL_ON_DROP: bool = false;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

impl Op<Fsync> {
    /// fsync(2), or fdatasync(2) when `data_only` (skips metadata not needed to read the
    /// data back, such as the modification time).
    pub(crate) fn fsync(fd: &SharedFd, data_only: bool) -> io::Result<Op<Fsync>> {
        let flags = if data_only {
            types::FsyncFlags::DATASYNC
        } else {
            types::FsyncFlags::empty()
        };
        let sqe = opcode::Fsync::new(types::Fd(fd.raw())).flags(flags).build();
        // SAFETY: an fsync points to no memory; the op holds the descriptor.
        unsafe { Op::submit(Fsync { _fd: fd.clone() }, sqe) }.map_err(|(e, _)| e)
    }
}
