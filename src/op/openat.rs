//! IORING_OP_OPENAT: open (or create) a file by path.

use super::Op;
use super::new_fd::NewFd;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

/// Keeps the path the SQE points to; a `CString` keeps its bytes on the heap (op rule 1).
pub(crate) type OpenAt = NewFd<CString>;

impl Op<OpenAt> {
    /// Opens `path` relative to the working directory with `flags` (O_CLOEXEC is added)
    /// and, when creating, permission bits `mode`.
    pub(crate) fn open_at(path: CString, flags: i32, mode: u32) -> io::Result<Op<OpenAt>> {
        let sqe = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), path.as_ptr())
            .flags(flags | libc::O_CLOEXEC)
            .mode(mode)
            .build();
        // SAFETY: the SQE points into the CString's heap buffer, owned by the op.
        unsafe { Op::submit(NewFd::new(path), sqe) }.map_err(|(e, _)| e)
    }
}
