//! IORING_OP_MKDIRAT: create a directory.

use super::Op;
use super::unit::Unit;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

/// Keeps the path the SQE points to; heap bytes (op rule 1). A mkdir on a local
/// filesystem always finishes: a dropped one is not cancelled.
pub(crate) type MkDirAt = Unit<CString, false>;

impl Op<MkDirAt> {
    /// Creates the directory `path` (relative to the working directory) with permission
    /// bits `mode`, less the umask.
    pub(crate) fn mkdir_at(path: CString, mode: u32) -> io::Result<Op<MkDirAt>> {
        let sqe = opcode::MkDirAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
            .mode(mode)
            .build();
        // SAFETY: the SQE points into the CString's heap buffer, owned by the op.
        unsafe { Op::submit_unit(path, sqe) }
    }
}
