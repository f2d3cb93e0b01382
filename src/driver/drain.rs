//! Shutdown: cancel everything in flight, wait a bounded time for the kernel's last CQEs,
//! and leak rather than free what it may still write.

use super::slot::Lifecycle;
use super::{Driver, POOL_GROUP, Queue, WAKE_TAG, setup};
use std::io;
use std::time::{Duration, Instant};

/// How long shutdown waits for cancelled operations before it leaks their buffers rather
/// than free memory the kernel might still write. Cancelled socket ops end in microseconds;
/// only a stuck disk could take this long.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// One wait of the shutdown drain; short so the limit above is checked often.
const DRAIN_POLL: Duration = Duration::from_millis(100);

impl Driver {
    /// Whether the kernel still owes this driver a CQE.
    pub(crate) fn owed(&self) -> bool {
        self.wake_armed || self.slots.iter().any(|(_, s)| s.in_flight())
    }

    /// Queues a cancel for every op in flight and for the wake-up read (shutdown).
    pub(crate) fn cancel_all(&mut self) {
        let in_flight: Vec<usize> = self
            .slots
            .iter_mut()
            .filter_map(|(k, s)| {
                let wanted = match s {
                    // One cancel ends a multishot op; never send a second.
                    Lifecycle::Multi(m) => m.wants_cancel(),
                    s => s.in_flight(),
                };
                wanted.then_some(k)
            })
            .collect();
        for key in in_flight {
            self.push_cancel(key as u64);
        }
        if self.wake_armed {
            self.push_cancel(WAKE_TAG);
        }
    }

    /// One bounded wait for CQEs during shutdown, then a reap.
    pub(crate) fn wait_and_reap(&mut self) -> io::Result<()> {
        self.enter(Some(Some(DRAIN_POLL)))?;
        self.reap();
        Ok(())
    }

    /// Gives up on CQEs that did not come within [`DRAIN_LIMIT`]: never free what the
    /// kernel may still write, leak it instead.
    pub(crate) fn leak_in_flight(&mut self) {
        for slot in self.slots.drain() {
            match slot {
                Lifecycle::Ignored(o) => std::mem::forget(o.into_any()),
                Lifecycle::Multi(mut m) => {
                    if let Some(o) = m.take_orphan() {
                        std::mem::forget(o.into_any());
                    }
                }
                _ => {}
            }
        }
        std::mem::forget(std::mem::take(&mut self.wake_buf));
        self.wake_armed = false;
        // Reads still in flight may write into pooled buffers: never unmap them.
        std::mem::forget(self.buf_ring.take());
    }
}

impl Drop for Driver {
    /// Cancels and drains everything in flight before the ring and slab go away: the
    /// kernel may write into an op's buffer until that op's own CQE (io_uring_prep_cancel(3):
    /// a cancel's success does not end the target early). The runtime normally drains
    /// first (`Core::drain_ops`); this is the last resort, e.g. for a future that outlived
    /// its runtime.
    fn drop(&mut self) {
        self.cancel_all();
        let start = Instant::now();
        while self.owed() {
            if start.elapsed() > DRAIN_LIMIT || self.wait_and_reap().is_err() {
                self.leak_in_flight();
                break;
            }
        }
        // Wakers of tasks already gone, and orphans: finished here, on the owning thread.
        self.ready.clear();
        for (orphan, c) in self.orphans.drain(..) {
            orphan.complete(c);
        }
        // Nothing is in flight any more, so the kernel no longer picks pooled buffers;
        // after unregistering it never will, and buffers still held may outlive the ring.
        if self.buf_ring.take().is_some()
            && let Queue::Ring(ring) = &self.queue
        {
            let _ = ring.submitter().unregister_buf_ring(POOL_GROUP);
        }
        if let Queue::Ring(_) = self.queue {
            self.unregister_ring_fd();
            setup::note_ring_dropped();
        }
    }
}
