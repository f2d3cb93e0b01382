//! IORING_OP_MKDIRAT: create a directory.

use super::{Completable, Op};
use crate::driver::Completion;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

pub(crate) struct MkDirAt {
    /// The path the SQE points to; heap bytes (op rule 1).
    _path: CString,
}

impl Completable for MkDirAt {
    type Output = io::Result<()>;
    // A mkdir on a local filesystem always finishes.
    const CANCEL_ON_DROP: bool = false;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

impl Op<MkDirAt> {
    /// Creates the directory `path` (relative to the working directory) with permission
    /// bits `mode`, less the umask.
    pub(crate) fn mkdir_at(path: CString, mode: u32) -> io::Result<Op<MkDirAt>> {
        let sqe = opcode::MkDirAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
            .mode(mode)
            .build();
        // SAFETY: the SQE points into the CString's heap buffer, owned by the op.
        unsafe { Op::submit(MkDirAt { _path: path }, sqe) }.map_err(|(e, _)| e)
    }
}
