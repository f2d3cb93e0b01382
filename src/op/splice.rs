//! IORING_OP_SPLICE: move bytes between a descriptor and a pipe inside the kernel
//! (splice(2), io_uring_prep_splice(3)), and the pipes it moves them through.
//!
//! Rules:
//! 1. One end of every splice is a pipe (splice(2): "one of the file descriptors must
//!    refer to a pipe"); the offset of a pipe end is -1, as the man page requires.
//! 2. The op keeps both descriptors alive until its CQE: io_uring looks the input
//!    descriptor up when the splice runs, which for a splice is on an io-wq worker,
//!    after submission. It keeps the pipe's other end too: a splice holds the pipe's
//!    lock while it waits (for a socket's send buffer), and closing either end of the
//!    pipe meanwhile blocks the closing thread in `pipe_release` until the splice ends,
//!    which for a peer that never reads is never. Closed after the CQE, neither blocks.
//! 3. Pipes are made `O_NONBLOCK` on both ends: a splice into a pipe that is not empty,
//!    or out of one that is, fails with EAGAIN instead of waiting for ever.

use super::{Completable, Op};
use crate::driver::Completion;
use crate::sys::fd::{SharedFd, owned_from_raw};
use io_uring::{opcode, types};
use std::io;
use std::os::fd::OwnedFd;

/// Bytes a splice pipe is asked to hold (F_SETPIPE_SZ, fcntl(2)): 256 KiB moves a
/// large file in few round trips, and 64 pipes of it stay well inside the 64 MiB an
/// unprivileged user may hold in pipes before the kernel shrinks new ones to one page
/// (`/proc/sys/fs/pipe-user-pages-soft`, pipe(7)).
pub(crate) const SPLICE_PIPE_SIZE: usize = 256 * 1024;

/// A pipe for splicing: (read end, write end), nonblocking (rule 3), and as large as
/// [`SPLICE_PIPE_SIZE`] if the kernel allows; its real capacity is the third value.
///
/// # Errors
///
/// What pipe2(2) reports (EMFILE, ENFILE).
pub(crate) fn splice_pipe() -> io::Result<(OwnedFd, OwnedFd, usize)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the live local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let (r, w) = (owned_from_raw(fds[0]), owned_from_raw(fds[1]));
    // SAFETY: fcntl on the descriptor just made. A refusal (EPERM past the user's pipe
    // quota, pipe(7)) leaves the default size, which is read back below.
    let set = unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, SPLICE_PIPE_SIZE as libc::c_int) };
    let size = if set > 0 {
        set as usize
    } else {
        // SAFETY: as above.
        let got = unsafe { libc::fcntl(fds[1], libc::F_GETPIPE_SZ) };
        if got > 0 { got as usize } else { 4096 }
    };
    Ok((r, w, size))
}

/// A splice in flight; keeps both descriptors alive until its CQE (rule 2).
pub(crate) struct Splice {
    _fds: [SharedFd; 3],
}

impl Completable for Splice {
    /// The bytes moved; 0 at the end of the input.
    type Output = io::Result<usize>;
    // Out of a pipe into a socket whose peer never reads, a splice waits forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> io::Result<usize> {
        c.into_result().map(|n| n as usize)
    }
}

impl Op<Splice> {
    /// Queues a splice of at most `len` bytes from `fd_in` at `off_in` (-1: a pipe, or
    /// the file position) to `fd_out` (a pipe or a socket, at its own position);
    /// `other_end` is the end of the pipe that is neither (rule 2).
    ///
    /// # Errors
    ///
    /// If the submission queue cannot take the SQE (see `Op::submit`).
    pub(crate) fn splice(
        fd_in: &SharedFd,
        off_in: i64,
        fd_out: &SharedFd,
        len: u32,
        other_end: &SharedFd,
    ) -> io::Result<Self> {
        // SPLICE_F_MOVE is a hint only; SPLICE_F_NONBLOCK keeps the pipe side from
        // waiting (rule 3). off_out is -1: the output is a pipe or a socket (rule 1).
        let sqe = opcode::Splice::new(
            types::Fd(fd_in.raw()),
            off_in,
            types::Fd(fd_out.raw()),
            -1,
            len,
        )
        .flags(libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK)
        .build();
        let data = Splice {
            _fds: [fd_in.clone(), fd_out.clone(), other_end.clone()],
        };
        // SAFETY: a splice SQE points to no memory; its descriptors live in `data`.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, _)| e)
    }
}
