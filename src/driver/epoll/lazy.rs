//! Lazy receives (rule 10): a multishot receive runs when its task polls for bytes, not
//! when epoll reports its socket readable, unless the loop has time to spare (rule 12).

use super::drive::{Drive, receive};
use super::{Epoll, exec, park_index};
use crate::driver::Completion;
use std::os::fd::RawFd;

impl Epoll {
    /// The key of `fd`'s first reader if it is a lazy receive (rule 10), and whether it
    /// holds what an edge received that its task has not taken (rule 12).
    fn lazy_reader(&self, fd: RawFd) -> Option<(u64, bool)> {
        let key = self.fds.get(fd as usize)?.readers.first()?;
        let p = self.parked.get(park_index(key))?.as_ref()?;
        p.receives_lazily().then_some((key, p.unread))
    }

    /// epoll reported `fd` readable: receives now if its first reader is a lazy receive
    /// and the loop has time to spare (rule 12), else wakes that receive's task; tries
    /// its parked readers now if the first is not a lazy receive (rule 1).
    pub(super) fn readable(&mut self, fd: RawFd) {
        match self.lazy_reader(fd) {
            Some((key, false)) if self.receives_at_edge() => {
                self.receive_lazy(key, true);
            }
            Some((key, _)) => self.nudged.push(key),
            None => self.retry(fd, false),
        }
    }

    /// Whether an edge on a lazy receive's socket receives at once (rule 12): the loop
    /// has time to spare, and the pool could give every lazy receive the one buffer it may
    /// hold ahead of its task.
    fn receives_at_edge(&self) -> bool {
        self.spare.receive_at_edge()
            && self
                .buf_ring
                .as_ref()
                .is_some_and(|r| self.lazy_receives <= r.capacity())
    }

    /// The lazy receives to wake since the last call.
    pub(crate) fn take_nudged(&mut self) -> std::vec::Drain<'_, u64> {
        self.nudged.drain(..)
    }

    /// Op `key`'s task polls it with nothing queued: if it is a lazy receive, first on
    /// its socket, and the socket may hold bytes (not drained since its last edge, or its
    /// peer's end came), it is tried once now. Returns whether that posted anything.
    ///
    /// What [`retry`](Epoll::retry) would do for its socket's readers, with the lookups
    /// it already made: this runs once per received message.
    pub(crate) fn poll_lazy(&mut self, key: u64) -> bool {
        self.receive_lazy(key, false)
    }

    /// Lazy receive `key`, first on its socket, tried once now if the socket may hold
    /// bytes; whether that posted anything. `at_edge`: tried at its socket's edge, ahead
    /// of its task (rule 12).
    fn receive_lazy(&mut self, key: u64, at_edge: bool) -> bool {
        let Some(Some(p)) = self.parked.get_mut(park_index(key)) else {
            return false;
        };
        if !at_edge {
            // The task has taken what its socket's edge received (rule 12).
            p.unread = false;
        }
        if !p.receives_lazily() {
            return false;
        }
        let fd = p.fd;
        let state = &mut self.fds[fd as usize];
        // A starved receive is fed in the wait, as buffers come back (rule 7).
        if state.readers.first() != Some(key) || state.starved || (state.drained && !state.closed) {
            return false;
        }
        let pool = self.buf_ring.as_deref();
        if exec::lacks_buffer(p, pool) {
            self.starve(fd);
            return false;
        }
        let before = self.done.len();
        let outcome = receive(p, pool, state.closed, &mut self.done);
        state.learn(fd, false, &outcome);
        let posted = self.done.len() > before;
        p.unread = at_edge && posted;
        if let Drive::Done { .. } = outcome {
            // Its last CQE: the readers behind it go on (rule 2).
            self.parked[park_index(key)] = None;
            self.lazy_receives -= 1;
            self.fds[fd as usize].readers.pop_front();
            self.retry(fd, false);
        }
        posted
    }

    /// The one CQE posted since the last reap, if there is exactly one and it is op
    /// `key`'s (its lazy receive's, from [`poll_lazy`](Self::poll_lazy)): taken at once,
    /// it cannot overtake another of that op's.
    pub(crate) fn take_only(&mut self, key: u64) -> Option<Completion> {
        match self.done[..] {
            [(k, c)] if k == key => {
                self.done.clear();
                Some(c)
            }
            _ => None,
        }
    }
}
