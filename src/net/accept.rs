//! The accept step shared by TCP and Unix listeners, with its back-off after running out
//! of descriptors.

use super::is_fd_exhaustion;
use crate::fd::SharedFd;
use crate::op::Op;
use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// First pause after EMFILE/ENFILE; doubles on each failure in a row up to the maximum.
/// 10 ms lets a few connections close; 100 ms caps the delay a recovered server adds.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_millis(100);

/// A listener's pause before its next accept, set while descriptors run out.
///
/// Re-arming an accept at once after EMFILE makes the kernel fail it at once, again and
/// again: a loop that retries on error would spin a core. So after such an error the
/// *next* accept first sleeps, 10 ms doubling to 100 ms while the shortage lasts.
#[derive(Debug, Default)]
pub(super) struct AcceptBackoff(Cell<Option<Duration>>);

impl AcceptBackoff {
    /// Accepts one connection on the listening socket `fd` (after the pause, if any).
    pub(super) async fn accept(&self, fd: &SharedFd) -> io::Result<(OwnedFd, Option<SocketAddr>)> {
        if let Some(pause) = self.0.get() {
            crate::time::sleep(pause).await;
        }
        let res = Op::accept(fd)?.await;
        match &res {
            Ok(_) => self.0.set(None),
            Err(e) if is_fd_exhaustion(e) => {
                let next = self
                    .0
                    .get()
                    .map_or(BACKOFF_MIN, |d| (d * 2).min(BACKOFF_MAX));
                self.0.set(Some(next));
            }
            Err(_) => {}
        }
        res
    }
}
