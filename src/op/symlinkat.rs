//! IORING_OP_SYMLINKAT: create a symbolic link (Linux 5.15 and later).

use super::Op;
use super::unit::Unit;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

/// Keeps the target and the link path the SQE points to; heap bytes (op rule 1). A
/// symlink on a local filesystem always finishes: a dropped one is not cancelled.
pub(crate) type SymlinkAt = Unit<(CString, CString), false>;

impl Op<SymlinkAt> {
    /// Creates the symlink `link` (relative to the working directory) holding `target`,
    /// which is stored as given and need not exist (symlinkat(2)). Kernels without the
    /// opcode answer `EINVAL`.
    pub(crate) fn symlink_at(target: CString, link: CString) -> io::Result<Op<SymlinkAt>> {
        let sqe = opcode::SymlinkAt::new(types::Fd(libc::AT_FDCWD), target.as_ptr(), link.as_ptr())
            .build();
        // SAFETY: the SQE points into the two CStrings' heap buffers, owned by the op.
        unsafe { Op::submit_unit((target, link), sqe) }
    }
}
