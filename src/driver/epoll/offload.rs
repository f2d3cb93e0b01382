//! Operations that would block the core (regular files, path operations) run on the
//! runtime's blocking pool (rule 3); their results come back here.

use super::sqe::Sqe;
use super::{Epoll, exec};
use crate::driver::Completion;
use std::os::fd::OwnedFd;
use std::sync::Mutex;

/// Results of ops that ran on the blocking pool (rule 3).
pub(super) struct Offload {
    pub(super) results: Mutex<Vec<(u64, i32)>>,
    /// In the epoll set: written after each result is pushed.
    pub(super) event: OwnedFd,
}

impl Offload {
    fn finish(&self, user_data: u64, res: i32) {
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((user_data, res));
        crate::sys::fd::eventfd_signal(&self.event);
    }
}

impl Epoll {
    /// Sends `sqe` to the blocking pool (rule 3).
    pub(super) fn offload(&mut self, sqe: Sqe) {
        self.offloaded += 1;
        let offload = self.offload.clone();
        self.pool.call(Box::new(move || {
            let res = exec::blocking(&sqe);
            offload.finish(sqe.user_data, res);
        }));
    }

    pub(super) fn collect_offloaded(&mut self) {
        if self.offloaded == 0 {
            return;
        }
        let mut results = self
            .offload
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.offloaded -= results.len();
        for (user_data, result) in results.drain(..) {
            self.done.push((user_data, Completion { result, flags: 0 }));
        }
    }
}
