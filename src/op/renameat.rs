//! IORING_OP_RENAMEAT: give a file or directory a new name, replacing the target.

use super::Op;
use super::unit::Unit;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

/// Keeps the two paths the SQE points to; heap bytes (op rule 1). A rename on a local
/// filesystem always finishes: a dropped one is not cancelled.
pub(crate) type RenameAt = Unit<(CString, CString), false>;

impl Op<RenameAt> {
    /// Renames `from` to `to`, both relative to the working directory.
    pub(crate) fn rename_at(from: CString, to: CString) -> io::Result<Op<RenameAt>> {
        let sqe = opcode::RenameAt::new(
            types::Fd(libc::AT_FDCWD),
            from.as_ptr(),
            types::Fd(libc::AT_FDCWD),
            to.as_ptr(),
        )
        .build();
        // SAFETY: the SQE points into the two CStrings' heap buffers, owned by the op.
        unsafe { Op::submit_unit((from, to), sqe) }
    }
}
