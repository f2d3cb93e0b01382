//! Waiting for a child and reaping it through its pidfd (module rules 1–4).

use crate::op::Op;
use crate::sys::fd::SharedFd;
use crate::sys::pidfd;
use std::cell::Cell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitStatus;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// An io_uring ring of this process refused IORING_OP_WAITID (-EINVAL: a kernel before
/// 6.7). Every ring of the kernel would, so later waits go straight to the pidfd poll
/// instead of paying a refused SQE each (the epoll backend refuses it without a syscall,
/// and does not set this).
static WAITID_REFUSED: AtomicBool = AtomicBool::new(false);

/// The first interval between two `waitid` checks where the backend can neither wait nor
/// poll on a pidfd (rule 2): short, so a child that exits at once costs little latency.
const RETRY_FIRST: Duration = Duration::from_millis(1);
/// The longest interval between two checks: bounds how late such an exit is seen, at 100
/// cheap syscalls a second per waiting child.
pub(super) const RETRY_MAX: Duration = Duration::from_millis(10);

/// A child's pidfd and its status once reaped.
pub(super) struct Pidfd {
    fd: SharedFd,
    /// Set once the child was reaped, by whichever path reaped it (rule 3).
    reaped: Rc<Cell<Option<ExitStatus>>>,
}

impl std::fmt::Debug for Pidfd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pidfd")
            .field("status", &self.status())
            .finish()
    }
}

impl Pidfd {
    pub(super) fn new(fd: OwnedFd) -> Pidfd {
        Pidfd {
            fd: SharedFd::new(fd),
            reaped: Rc::new(Cell::new(None)),
        }
    }

    /// The status, if the child was reaped.
    pub(super) fn status(&self) -> Option<ExitStatus> {
        self.reaped.get()
    }

    /// Reaps the child if it has exited, without waiting.
    pub(super) fn try_wait(&self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.reaped.get() {
            return Ok(Some(status));
        }
        let status = pidfd::try_reap(self.fd.as_fd().as_fd())?;
        if status.is_some() {
            self.reaped.set(status);
        }
        Ok(status)
    }

    /// Sends `signal` to the child unless it was reaped already (then there is no
    /// process left to signal, and nothing to do).
    pub(super) fn signal(&self, signal: i32) -> io::Result<()> {
        if self.reaped.get().is_some() {
            return Ok(());
        }
        match pidfd::send_signal(self.fd.as_fd().as_fd(), signal) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Waits for the child to exit and reaps it (rule 2).
    pub(super) async fn wait(&self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        if !WAITID_REFUSED.load(Ordering::Relaxed)
            && let Some(status) = self.wait_on_ring().await?
        {
            return Ok(status);
        }
        if let Some(status) = self.wait_readable().await? {
            return Ok(status);
        }
        self.wait_by_retry().await
    }

    /// IORING_OP_WAITID; `None` if the ring (or backend) does not have it.
    async fn wait_on_ring(&self) -> io::Result<Option<ExitStatus>> {
        match Op::wait_pidfd(&self.fd, self.reaped.clone())?.await {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                if crate::metrics().backend == crate::runtime::Backend::IoUring {
                    WAITID_REFUSED.store(true, Ordering::Relaxed);
                }
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// IORING_OP_POLL_ADD on the pidfd, then `waitid`; `None` if the backend cannot
    /// poll it.
    async fn wait_readable(&self) -> io::Result<Option<ExitStatus>> {
        loop {
            match Op::poll_readable(&self.fd)?.await {
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(None),
                Err(e) => return Err(e),
                Ok(_) => {
                    if let Some(status) = self.try_wait()? {
                        return Ok(Some(status));
                    }
                }
            }
        }
    }

    /// `waitid` at growing intervals, up to [`RETRY_MAX`].
    async fn wait_by_retry(&self) -> io::Result<ExitStatus> {
        let mut delay = RETRY_FIRST;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            crate::time::sleep(delay).await;
            delay = (delay * 2).min(RETRY_MAX);
        }
    }
}

/// Reaps `child` once it exits, without anyone waiting for it (rule 4).
pub(super) fn reap_in_background(child: Pidfd) {
    let guard = ReapOnDrop(Some(child));
    let inside_runtime = crate::runtime::handle::try_with_timers(|_| ()).is_some();
    if !inside_runtime {
        return drop(guard); // its Drop hands the child to a thread
    }
    drop(crate::spawn(async move {
        let mut guard = guard;
        if let Some(child) = &guard.0 {
            // An error here (ECHILD: reaped elsewhere) leaves nothing to reap.
            let _ = child.wait().await;
        }
        guard.0 = None;
    }));
}

/// Holds a child that still needs reaping; if dropped so (the runtime went away before
/// the child exited, or there was none), a thread blocks until it exits and reaps it.
struct ReapOnDrop(Option<Pidfd>);

impl Drop for ReapOnDrop {
    fn drop(&mut self) {
        let Some(child) = self.0.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        // The shared descriptor is not `Send`; the thread takes its own copy.
        let Ok(fd) = child.fd.as_fd().try_clone() else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("ringio-reap".into())
            .spawn(move || pidfd::reap_blocking(&fd));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    // Reaped through the pidfd, which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    fn child(script: &str) -> Pidfd {
        let c = std::process::Command::new("sh")
            .args(["-c", script])
            .spawn()
            .expect("sh runs");
        Pidfd::new(pidfd::open(c.id()).expect("pidfd_open"))
    }

    fn on_epoll() -> bool {
        crate::metrics().backend == crate::runtime::Backend::Epoll
    }

    #[test]
    fn each_way_of_waiting_reaps_the_child() {
        crate::run(async {
            // WAITID: the ring's own reap (Linux 6.7); epoll answers -EINVAL.
            let c = child("exit 3");
            match c.wait_on_ring().await.unwrap() {
                Some(status) => assert_eq!(status.code(), Some(3)),
                None => assert!(on_epoll(), "WAITID refused on the ring"),
            }
            assert_eq!(c.wait().await.unwrap().code(), Some(3));
            // POLL_ADD on the pidfd, then waitid: both backends carry it out.
            let c = child("sleep 0.05; exit 4");
            let status = c.wait_readable().await.unwrap();
            assert_eq!(status.and_then(|s| s.code()), Some(4), "pidfd poll refused");
            assert_eq!(c.wait().await.unwrap().code(), Some(4));
            // Checks at growing intervals: works on every backend.
            let c = child("sleep 0.05; kill -9 $$");
            let status = c.wait_by_retry().await.unwrap();
            assert_eq!(status.signal(), Some(libc::SIGKILL));
            assert_eq!(c.try_wait().unwrap(), Some(status), "kept once reaped");
        });
    }

    #[test]
    fn a_dropped_ring_wait_keeps_the_status_it_reaped() {
        crate::run(async {
            if on_epoll() {
                return; // no WAITID there: nothing is reaped behind a wait's back
            }
            let c = child("exit 5");
            let mut op = Op::wait_pidfd(&c.fd, c.reaped.clone()).unwrap();
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(std::pin::Pin::new(&mut op).poll(&mut cx).is_pending());
            crate::yield_now().await; // the WAITID reaches the kernel
            std::thread::sleep(std::time::Duration::from_millis(100)); // the child exits
            crate::yield_now().await; // its CQE is reaped, nobody polls the op
            crate::yield_now().await;
            drop(op);
            for _ in 0..100 {
                if crate::metrics().ops_in_flight == 0 {
                    break;
                }
                crate::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            // Reaped by the dropped op, yet its status is here.
            assert_eq!(c.status().and_then(|s| s.code()), Some(5));
            assert_eq!(c.wait().await.unwrap().code(), Some(5));
        });
    }
}
