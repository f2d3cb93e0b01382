//! IORING_OP_OPENAT: open (or create) a file by path.

use super::{Completable, Op};
use crate::driver::Completion;
use crate::sys::fd::owned_from_raw;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;

pub(crate) struct OpenAt {
    /// The path the SQE points to; a `CString` keeps its bytes on the heap (op rule 1).
    _path: CString,
}

impl Completable for OpenAt {
    type Output = io::Result<OwnedFd>;
    // Opening a FIFO blocks until the other end opens, possibly forever; on a regular file
    // the cancel finds the open finished or running and it simply completes.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> Self::Output {
        Ok(owned_from_raw(c.into_result()? as i32))
    }

    fn complete_orphan(self, c: Completion) {
        // Nobody will own the descriptor the late CQE carries: close it (op rule 3).
        if c.result >= 0 {
            drop(owned_from_raw(c.result));
        }
    }
}

impl Op<OpenAt> {
    /// Opens `path` relative to the working directory with `flags` (O_CLOEXEC is added)
    /// and, when creating, permission bits `mode`.
    pub(crate) fn open_at(path: CString, flags: i32, mode: u32) -> io::Result<Op<OpenAt>> {
        let sqe = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
            .flags(flags | libc::O_CLOEXEC)
            .mode(mode)
            .build();
        // SAFETY: the SQE points into the CString's heap buffer, owned by the op.
        unsafe { Op::submit(OpenAt { _path: path }, sqe) }.map_err(|(e, _)| e)
    }
}
