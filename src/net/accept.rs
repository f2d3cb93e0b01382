//! The accept step shared by TCP and Unix listeners: one accept kept armed in the
//! listener across calls, and a back-off after running out of descriptors.

use super::is_fd_exhaustion;
use crate::op::{AcceptMulti, MultiOp, Op};
use crate::sys::fd::SharedFd;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// First pause after EMFILE/ENFILE; doubles on each failure in a row up to the maximum.
/// 10 ms lets a few connections close; 100 ms caps the delay a recovered server adds.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_millis(100);
/// Accepted connections that may wait in a listener unclaimed before the driver stops its
/// multishot accept; later ones wait in the kernel's backlog, holding no fd of ours, until
/// the next `accept`. The count is checked as CQEs are reaped, and one run of the kernel's
/// multishot accept takes the whole backlog, so a burst that arrives between two loop
/// turns is taken whole (at most the listen backlog).
const ACCEPT_QUEUE: usize = 64;

/// A listener's accepting state.
///
/// One multishot accept (Linux 5.19) stays armed: each connection costs the ring one CQE
/// and no SQE. The kernel ends it on an error; the next `accept` arms a new one.
///
/// Where the kernel has no multishot accept, one single-shot accept is kept armed the same
/// way: it belongs to the listener, not to the caller's future, so a caller that gives up
/// after the kernel took a connection leaves that connection to the next `accept`
/// (closing it instead would lose it). Only dropping the listener, or the runtime shutting
/// down, cancels it.
///
/// Re-arming at once after EMFILE makes the kernel fail again at once, again and again:
/// a loop that retries on error would spin a core. So after such an error the *next*
/// accept first sleeps, 10 ms doubling to 100 ms while the shortage lasts.
#[derive(Default)]
pub(super) struct Acceptor {
    pause: Cell<Option<Duration>>,
    armed: RefCell<Option<MultiOp<AcceptMulti>>>,
    /// The kernel refused the multishot form (EINVAL before any connection): accept one
    /// at a time instead.
    single_shot: Cell<bool>,
    /// The single-shot accept in flight, kept across calls.
    single: RefCell<Option<Op<AcceptMulti>>>,
    /// Every task waiting on `single`. A single-shot op keeps one waker, and tasks may
    /// share a listener: the op gets `waiters`' waker, which wakes them all.
    waiters: Arc<Waiters>,
    /// A connection came through the multishot accept, so an EINVAL later is real.
    multishot_worked: Cell<bool>,
}

impl Acceptor {
    /// Accepts one connection on the listening socket `fd` (after the pause, if any).
    pub(super) async fn accept(&self, fd: &SharedFd) -> io::Result<OwnedFd> {
        if let Some(pause) = self.pause.get() {
            crate::time::sleep(pause).await;
        }
        let res = loop {
            if self.single_shot.get() {
                break std::future::poll_fn(|cx| self.poll_single(fd, cx)).await;
            }
            let (res, more) = std::future::poll_fn(|cx| self.poll_multi(fd, cx)).await?;
            match res {
                // The driver stopped the accept because ACCEPT_QUEUE connections waited
                // unclaimed; all were handed out before this CQE: arm again.
                Err(e) if !more && e.raw_os_error() == Some(libc::ECANCELED) => {}
                Err(e)
                    if e.raw_os_error() == Some(libc::EINVAL) && !self.multishot_worked.get() =>
                {
                    self.single_shot.set(true);
                }
                Ok(fd) => {
                    self.multishot_worked.set(true);
                    break Ok(fd);
                }
                Err(e) => break Err(e),
            }
        };
        match &res {
            Ok(_) => self.pause.set(None),
            Err(e) if is_fd_exhaustion(e) => {
                let next = self
                    .pause
                    .get()
                    .map_or(BACKOFF_MIN, |d| (d * 2).min(BACKOFF_MAX));
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    target: "ringio::net",
                    error = %e,
                    pause_ms = u64::try_from(next.as_millis()).unwrap_or(u64::MAX),
                    "accept: out of descriptors; the next accept waits",
                );
                self.pause.set(Some(next));
            }
            Err(_) => {}
        }
        res
    }

    /// The result of the armed single-shot accept, arming one if needed.
    fn poll_single(&self, fd: &SharedFd, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        let mut single = self.single.borrow_mut();
        let op = match &mut *single {
            Some(op) => op,
            None => match Op::accept_single(fd) {
                Ok(op) => single.insert(op),
                Err(e) => return Poll::Ready(Err(e)),
            },
        };
        self.waiters.register(cx.waker());
        let waker = Waker::from(self.waiters.clone());
        let res = std::task::ready!(Pin::new(op).poll(&mut Context::from_waker(&waker)));
        *single = None;
        Poll::Ready(res)
    }

    /// The next CQE of the armed multishot accept, arming one if needed.
    fn poll_multi(
        &self,
        fd: &SharedFd,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(io::Result<OwnedFd>, bool)>> {
        let mut armed = self.armed.borrow_mut();
        let op = match &mut *armed {
            Some(op) => op,
            None => match MultiOp::accept_multi(fd, ACCEPT_QUEUE) {
                Ok(op) => armed.insert(op),
                Err(e) => return Poll::Ready(Err(e)),
            },
        };
        let (res, more) = std::task::ready!(op.poll_next(cx));
        if !more {
            *armed = None;
        }
        Poll::Ready(Ok((res, more)))
    }
}

/// The tasks waiting on a listener's single-shot accept; waking it wakes them all. The
/// first to poll takes the connection; the others find the op gone and arm the next.
#[derive(Default)]
struct Waiters {
    wakers: Mutex<Vec<Waker>>,
}

impl Waiters {
    /// Adds `waker` unless it is there already.
    fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Taken out first, so no lock is held while other code (the wakers) runs.
        let wakers =
            std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        for w in wakers {
            w.wake();
        }
    }
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptor")
            .field("pause", &self.pause.get())
            .field("armed", &self.armed.borrow().is_some())
            .field("single_shot", &self.single_shot.get())
            .field("single_armed", &self.single.borrow().is_some())
            .finish()
    }
}
