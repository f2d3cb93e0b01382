//! Trying one op once (rules 1, 6 and 9): its CQE, or CQEs for a multishot op, go to the
//! backend's done list, and the outcome says whether it waits, may have more, or ended.

use super::sqe::Sqe;
use super::{Kind, Parked, exec};
use crate::buf::pool::BufRing;
use crate::driver::Completion;
use io_uring::{opcode, squeue};
use std::os::fd::RawFd;

/// What [`drive`] left an op in.
pub(super) enum Drive {
    /// Parked until its descriptor is reported ready.
    Wait,
    /// A multishot receive that posted a result and may have more now: its task's next
    /// poll tries it again (rules 6 and 10).
    Again,
    /// Its last CQE is posted. `short`: a receive got some bytes but fewer than it asked
    /// for (on a stream socket, a drain: rule 9).
    Done { short: bool },
}

/// `IORING_CQE_F_MORE` (io_uring.h).
const CQE_F_MORE: u32 = 1 << 1;

/// Tries op `p` once, posting its CQE to `done`. `closed`: the descriptor's
/// `FdState::closed`.
pub(super) fn drive(
    p: &mut Parked,
    pool: Option<&BufRing>,
    closed: bool,
    done: &mut Vec<(u64, Completion)>,
) -> Drive {
    if p.receives_lazily() {
        return receive(p, pool, closed, done);
    }
    loop {
        let Some(c) = exec::attempt(p, pool) else {
            return Drive::Wait;
        };
        if !p.multishot() {
            done.push((p.user_data, c));
            // A peek leaves the bytes where they were: it drains nothing.
            let short = p.opcode == opcode::Recv::CODE
                && p.op_flags & libc::MSG_PEEK as u32 == 0
                && c.result > 0
                && (c.result as u32) < exec::recv_capacity(p, pool);
            return Drive::Done { short };
        }
        // A multishot accept (multishot receives went to `receive` above): a new fd goes
        // on, 0 being one; an error ends it.
        if c.result < 0 {
            done.push((p.user_data, c));
            return Drive::Done { short: false };
        }
        done.push((p.user_data, more(c)));
        // The backlog is taken whole, as one run of the kernel's multishot accept does;
        // it is bounded by the listen backlog.
    }
}

/// One pass of multishot receive `p` (rules 6, 9 and 10): one buffer's worth, posted to
/// `done`. What `drive` does for it, without the opcode dispatch, as this runs once per
/// message a stream receives.
#[inline(always)]
pub(super) fn receive(
    p: &Parked,
    pool: Option<&BufRing>,
    closed: bool,
    done: &mut Vec<(u64, Completion)>,
) -> Drive {
    let Some((c, asked)) = exec::recv_pooled(p, pool) else {
        return Drive::Wait;
    };
    // End of stream or an error ends it.
    if c.result <= 0 {
        done.push((p.user_data, c));
        return Drive::Done { short: false };
    }
    done.push((p.user_data, more(c)));
    // A receive that did not fill its buffer drained the socket: the next bytes bring an
    // edge, unless the peer's end already came (its edge is spent and EOF or the error
    // is still to be read). A full one may have more now.
    if (c.result as u32) < asked && !closed {
        Drive::Wait
    } else {
        Drive::Again
    }
}

/// `c` with `IORING_CQE_F_MORE`: the multishot op goes on.
fn more(c: Completion) -> Completion {
    Completion {
        flags: c.flags | CQE_F_MORE,
        ..c
    }
}

impl super::Epoll {
    /// Rule 11: a send on a descriptor already in the epoll set, with no write parked
    /// before it (rule 2), is tried before the op takes a slot. Its completion if it
    /// finished (bytes sent, or an error); `None` if it would block or is not such a
    /// send, and the driver pushes it as usual (a send that would block is tried once
    /// more there, then parks).
    pub(crate) fn try_now(&mut self, entry: &squeue::Entry) -> Option<Completion> {
        let mut sqe = Sqe::read(entry);
        if !matches!(sqe.opcode, opcode::Send::CODE | opcode::SendMsg::CODE)
            || !self.writable_now(sqe.fd)
        {
            return None;
        }
        // A send carries no pool buffer.
        exec::attempt(&mut sqe, None)
    }

    /// Rule 11 with no SQE at all: `send(2)` of `bytes` on `fd` with `MSG_NOSIGNAL`, if
    /// it can go now. Its result as a CQE's `res`; `None` as for
    /// [`try_now`](Self::try_now).
    #[inline]
    pub(crate) fn send_now(&mut self, fd: RawFd, bytes: &[u8]) -> Option<i32> {
        if !self.writable_now(fd) {
            return None;
        }
        exec::send_now(fd, bytes)
    }

    /// Whether a send on `fd` may be tried before it is pushed (rule 11): `fd` is in
    /// the epoll set and no write waits on it (rule 2).
    #[inline]
    fn writable_now(&mut self, fd: RawFd) -> bool {
        self.forget_changed();
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .is_some_and(|state| state.kind == Kind::Polled && state.writers.is_empty())
    }
}
