//! IORING_OP_RENAMEAT: give a file or directory a new name, replacing the target.

use super::{Completable, Op};
use crate::driver::Completion;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

pub(crate) struct RenameAt {
    /// The two paths the SQE points to; heap bytes (op rule 1).
    _from: CString,
    _to: CString,
}

impl Completable for RenameAt {
    type Output = io::Result<()>;
    // A rename on a local filesystem always finishes.
    const CANCEL_ON_DROP: bool = false;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

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
        let data = RenameAt {
            _from: from,
            _to: to,
        };
        // SAFETY: the SQE points into the two CStrings' heap buffers, owned by the op.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, _)| e)
    }
}
