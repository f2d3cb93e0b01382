//! IORING_OP_UNLINKAT: remove a name from the filesystem.

use super::{Completable, Op};
use crate::driver::Completion;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

pub(crate) struct UnlinkAt {
    /// The path the SQE points to; heap bytes (op rule 1).
    _path: CString,
}

impl Completable for UnlinkAt {
    type Output = io::Result<()>;
    // An unlink on a local filesystem always finishes.
    const CANCEL_ON_DROP: bool = false;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

impl Op<UnlinkAt> {
    /// Removes the file `path` (relative to the working directory); with `dir`, removes
    /// the empty directory `path` instead (AT_REMOVEDIR).
    pub(crate) fn unlink_at(path: CString, dir: bool) -> io::Result<Op<UnlinkAt>> {
        let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
        let sqe = opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
            .flags(flags)
            .build();
        // SAFETY: the SQE points into the CString's heap buffer, owned by the op.
        unsafe { Op::submit(UnlinkAt { _path: path }, sqe) }.map_err(|(e, _)| e)
    }
}
