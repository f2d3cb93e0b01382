//! IORING_OP_WAITID (Linux 6.7): wait for a child through its pidfd and reap it, the ring's
//! form of `waitid(P_PIDFD, pidfd, &info, WEXITED)` (io_uring_prep_waitid(3)).
//!
//! A kernel without the opcode answers -EINVAL (as the epoll backend does for every
//! opcode it does not know); the caller then polls the pidfd instead (op/poll.rs).

use super::{Completable, Op};
use crate::driver::Completion;
use crate::sys::fd::SharedFd;
use crate::sys::pidfd::{P_PIDFD, exit_status};
use io_uring::opcode;
use std::cell::Cell;
use std::io;
use std::process::ExitStatus;
use std::rc::Rc;

/// A waitid on a pidfd: keeps the descriptor and the `siginfo_t` the kernel fills until
/// the CQE.
pub(crate) struct WaitId {
    _fd: SharedFd,
    /// Boxed: the SQE points to it (op rule 1).
    info: Box<libc::siginfo_t>,
    /// Where the status goes, also when the op was dropped: a successful CQE means the
    /// child was reaped, so its status must not be lost with the op.
    reaped: Rc<Cell<Option<ExitStatus>>>,
}

impl WaitId {
    fn record(&self, c: Completion) -> io::Result<ExitStatus> {
        c.into_result()?;
        let status = exit_status(&self.info);
        self.reaped.set(Some(status));
        Ok(status)
    }
}

impl Completable for WaitId {
    type Output = io::Result<ExitStatus>;
    // A child may never exit.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> io::Result<ExitStatus> {
        self.record(c)
    }

    fn complete_orphan(self, c: Completion) {
        // The child was reaped as the wait was dropped: keep its status for the next wait.
        let _ = self.record(c);
    }
}

impl Op<WaitId> {
    /// Queues a wait for the exit of the child `pidfd` names; its status also goes to
    /// `reaped` (even if the op is dropped by then).
    pub(crate) fn wait_pidfd(
        pidfd: &SharedFd,
        reaped: Rc<Cell<Option<ExitStatus>>>,
    ) -> io::Result<Self> {
        // SAFETY: an all-zero siginfo_t is valid plain data.
        let mut info: Box<libc::siginfo_t> = Box::new(unsafe { std::mem::zeroed() });
        let sqe = opcode::WaitId::new(P_PIDFD, pidfd.raw() as libc::id_t, libc::WEXITED)
            .infop(&raw mut *info as *const libc::siginfo_t)
            .build();
        let data = WaitId {
            _fd: pidfd.clone(),
            info,
            reaped,
        };
        // SAFETY: the SQE points to `info`'s heap memory, which the op owns.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, _)| e)
    }
}
