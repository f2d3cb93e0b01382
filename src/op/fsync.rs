//! IORING_OP_FSYNC: flush a file's data (and metadata) to the device.

use super::Op;
use super::unit::Unit;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::io;

/// Keeps the descriptor. An fsync ends when the device has the data; it cannot wait
/// forever, so a dropped one is not cancelled.
pub(crate) type Fsync = Unit<SharedFd, false>;

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
        unsafe { Op::submit_unit(fd.clone(), sqe) }
    }
}
