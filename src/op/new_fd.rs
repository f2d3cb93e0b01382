//! The ops whose CQE carries a new descriptor (accept, openat): one [`Completable`] for
//! them, which hands the descriptor over or, for a dropped op, closes it.

use super::{Completable, MultiCompletable};
use crate::driver::Completion;
use crate::sys::fd::owned_from_raw;
use std::io;
use std::os::fd::OwnedFd;

/// An op whose CQE carries a new descriptor; `K` is what it keeps alive until the CQE
/// (the listening socket, the path the SQE points to: op rule 1).
///
/// A dropped one is cancelled: an accept waits until a client comes and opening a FIFO
/// until the other end opens, possibly forever (on a regular file the cancel finds the
/// open finished or running, and it simply completes).
pub(crate) struct NewFd<K> {
    _keep: K,
}

impl<K> NewFd<K> {
    pub(super) fn new(keep: K) -> Self {
        NewFd { _keep: keep }
    }
}

/// The descriptor the CQE carries, or its error.
fn take_fd(c: Completion) -> io::Result<OwnedFd> {
    Ok(owned_from_raw(c.into_result()? as i32))
}

/// Nobody will own the descriptor the CQE carries: close it (op rule 3). For an accepted
/// connection the client sees a reset.
fn close_unclaimed_fd(c: Completion) {
    if c.result >= 0 {
        drop(owned_from_raw(c.result));
    }
}

impl<K: 'static> Completable for NewFd<K> {
    type Output = io::Result<OwnedFd>;
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> Self::Output {
        take_fd(c)
    }

    /// For an accept, reached only when the listener itself is dropped: while it lives it
    /// keeps the op (`op::accept` module docs).
    fn complete_orphan(self, c: Completion) {
        close_unclaimed_fd(c);
    }
}

/// The multishot accept: one descriptor a CQE.
impl<K: 'static> MultiCompletable for NewFd<K> {
    type Item = io::Result<OwnedFd>;

    fn item(&mut self, c: Completion) -> Self::Item {
        take_fd(c)
    }

    fn discard(&mut self, c: Completion) {
        close_unclaimed_fd(c);
    }
}
