//! IORING_OP_STATX: file metadata by path or by descriptor.

use super::{Completable, Op};
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

/// The fields a statx asks for: type and mode, size, and the three timestamps.
const MASK: u32 = libc::STATX_TYPE
    | libc::STATX_MODE
    | libc::STATX_SIZE
    | libc::STATX_ATIME
    | libc::STATX_MTIME
    | libc::STATX_BTIME;

/// `STATX_DIOALIGN` (linux/stat.h, Linux 6.1): direct-I/O alignment in `stx_dio_mem_align`
/// and `stx_dio_offset_align` (statx(2)).
pub(crate) const STATX_DIOALIGN: u32 = 0x2000;

pub(crate) struct Statx {
    /// Keeps the descriptor open while the kernel reads it (statx by fd).
    _fd: Option<SharedFd>,
    /// The path the SQE points to (empty for statx by fd); heap bytes (op rule 1).
    _path: CString,
    /// Where the kernel writes the result: boxed so it stays put (op rule 1).
    buf: Box<libc::statx>,
}

impl Completable for Statx {
    type Output = io::Result<libc::statx>;
    // statx on a local file always finishes (it may wait on a slow network filesystem,
    // but not forever).
    const CANCEL_ON_DROP: bool = false;

    fn complete(self, c: Completion) -> Self::Output {
        c.into_result()?;
        Ok(*self.buf)
    }
}

impl Op<Statx> {
    /// Metadata of `path` (symlinks followed), relative to the working directory.
    pub(crate) fn statx_path(path: CString) -> io::Result<Op<Statx>> {
        Self::statx(None, libc::AT_FDCWD, path, 0, MASK)
    }

    /// Metadata of the file open as `fd`.
    pub(crate) fn statx_fd(fd: &SharedFd) -> io::Result<Op<Statx>> {
        Self::statx(
            Some(fd.clone()),
            fd.raw(),
            CString::default(),
            libc::AT_EMPTY_PATH,
            MASK,
        )
    }

    /// The direct-I/O alignment of the file open as `fd` ([`STATX_DIOALIGN`]); a kernel
    /// older than 6.1 leaves the bit out of `stx_mask`.
    pub(crate) fn statx_dio(fd: &SharedFd) -> io::Result<Op<Statx>> {
        Self::statx(
            Some(fd.clone()),
            fd.raw(),
            CString::default(),
            libc::AT_EMPTY_PATH,
            STATX_DIOALIGN,
        )
    }

    fn statx(
        fd: Option<SharedFd>,
        dirfd: i32,
        path: CString,
        flags: i32,
        mask: u32,
    ) -> io::Result<Op<Statx>> {
        // SAFETY: statx is a plain C struct of integers, for which all-zero is valid.
        let mut buf: Box<libc::statx> = Box::new(unsafe { std::mem::zeroed() });
        let sqe = opcode::Statx::new(
            types::Fd(dirfd),
            path.as_ptr(),
            (&mut *buf as *mut libc::statx).cast::<types::statx>(),
        )
        .flags(flags)
        .mask(mask)
        .build();
        let data = Statx {
            _fd: fd,
            _path: path,
            buf,
        };
        // SAFETY: the SQE points into the CString's heap buffer and the boxed statx, both
        // owned by `data`; `data` also holds the descriptor.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, _)| e)
    }
}
