//! IORING_OP_UNLINKAT: remove a name from the filesystem.

use super::Op;
use super::unit::Unit;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

/// Keeps the path the SQE points to; heap bytes (op rule 1). An unlink on a local
/// filesystem always finishes: a dropped one is not cancelled.
pub(crate) type UnlinkAt = Unit<CString, false>;

impl Op<UnlinkAt> {
    /// Removes the file `path` (relative to the working directory); with `dir`, removes
    /// the empty directory `path` instead (AT_REMOVEDIR).
    pub(crate) fn unlink_at(path: CString, dir: bool) -> io::Result<Op<UnlinkAt>> {
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        let sqe = opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
            .flags(flags)
            .build();
        // SAFETY: the SQE points into the CString's heap buffer, owned by the op.
        unsafe { Op::submit_unit(path, sqe) }
    }
}
