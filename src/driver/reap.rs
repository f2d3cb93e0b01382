//! The completion side of the slab: reaping CQEs into their slots, and what op futures
//! do with their slot (poll it, drop it, cancel it). The slot states and their rules are
//! in [`super::slot`].

use super::slot::{Completion, Lifecycle, MultiReaped, Orphan, Reaped};
use super::{CANCEL_TAG, Driver, Queue, WAKE_TAG, fault};
use std::task::{Context, Poll, Waker};

impl Driver {
    /// Moves every CQE into its slot. Wakers and orphans are collected for
    /// [`Driver::take_ready`], not run here.
    pub(crate) fn reap(&mut self) {
        if fault::reaping_paused() {
            return;
        }
        let mut batch = std::mem::take(&mut self.batch);
        match &mut self.queue {
            Queue::Ring(ring) => {
                // CQEs that did not fit wait in the kernel (IORING_FEAT_NODROP,
                // io_uring_setup(2)) and come out on the next enter with GETEVENTS, which
                // the loop always passes.
                if ring.submission().cq_overflow() {
                    self.stats.cq_backlogs += 1;
                }
                let mut cq = ring.completion();
                cq.sync();
                batch.extend(cq.map(|cqe| {
                    let c = Completion {
                        result: cqe.result(),
                        flags: cqe.flags(),
                    };
                    (cqe.user_data(), c)
                }));
            }
            Queue::Epoll(epoll) => {
                epoll.take_done(&mut batch);
                // Lazy receives whose socket became readable (epoll rule 10): their tasks
                // are woken with no CQE, and receive when they poll.
                for key in epoll.take_nudged() {
                    if let Some(Lifecycle::Multi(m)) = self.slots.get_mut(key as usize) {
                        m.nudge(&mut self.ready);
                    }
                }
            }
        }
        for (user_data, completion) in batch.drain(..) {
            self.complete(user_data, completion);
        }
        self.batch = batch;
        for key in std::mem::take(&mut self.to_cancel) {
            self.push_cancel(key as u64);
        }
    }

    /// Moves one CQE into its slot.
    #[cfg_attr(not(feature = "fault-injection"), allow(unused_mut))]
    fn complete(&mut self, user_data: u64, mut completion: Completion) {
        #[cfg(feature = "fault-injection")]
        if let Some(i) = self.refused.iter().position(|&k| k as u64 == user_data) {
            self.refused.swap_remove(i);
            completion.result = -libc::EINVAL;
        }
        match user_data {
            CANCEL_TAG => {}
            WAKE_TAG => self.wake_armed = false,
            key => {
                self.count(&completion);
                let key = key as usize;
                let slot = self.slots.get_mut(key).expect("CQE for an unknown slot");
                if let Lifecycle::Multi(m) = slot {
                    match m.push(completion, &mut self.ready) {
                        MultiReaped::Kept => {}
                        MultiReaped::Cancel => self.to_cancel.push(key),
                        MultiReaped::Done(o) => {
                            self.slots.remove(key);
                            self.orphans.push((o, completion));
                        }
                    }
                    return;
                }
                match slot.complete(completion) {
                    Reaped::Stored => {}
                    Reaped::Wake(w) => self.ready.push(w),
                    Reaped::Orphan(o) => {
                        self.slots.remove(key);
                        self.orphans.push((o, completion));
                    }
                }
            }
        }
    }

    /// Counts a CQE of an op: the metrics, and the pool buffer it took, if any.
    fn count(&mut self, completion: &Completion) {
        self.stats.completed += 1;
        // Only this core's pool has a buffer group on this ring.
        if completion.buffer().is_some()
            && let Some(ring) = &self.buf_ring
        {
            ring.note_taken();
        }
    }

    /// Whether reaping collected wakers or orphans not taken yet: a reap inside an op's
    /// push, cancel or poll (the epoll backend finishes ops there) leaves them for the
    /// loop, which must not sleep on them.
    pub(crate) fn has_reaped(&self) -> bool {
        !self.ready.is_empty() || !self.orphans.is_empty()
    }

    /// Swaps out what reaping collected; the caller wakes and finishes them outside the
    /// driver borrow. Passing in the emptied vectors from last time reuses their memory.
    pub(crate) fn take_ready(
        &mut self,
        wakers: &mut Vec<Waker>,
        orphans: &mut Vec<(Box<dyn Orphan>, Completion)>,
    ) {
        std::mem::swap(&mut self.ready, wakers);
        std::mem::swap(&mut self.orphans, orphans);
    }

    /// Asks the kernel to end the single-shot op in slot `key` early, if its CQE has not
    /// come yet. The op still completes through that CQE (-ECANCELED, or its result if it
    /// won the race), which frees the slot as usual.
    pub(crate) fn cancel_slot(&mut self, key: usize) {
        if self.slots.get(key).is_some_and(Lifecycle::in_flight) {
            self.push_cancel(key as u64);
        }
    }

    /// Polls slot `key`: its completion once reaped (freeing the slot), else parks `cx`'s waker.
    pub(crate) fn poll_slot(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<Completion> {
        let slot = self
            .slots
            .get_mut(key)
            .expect("op polled after its slot was freed");
        match slot {
            Lifecycle::Completed(c) => {
                let c = *c;
                self.slots.remove(key);
                Poll::Ready(c)
            }
            Lifecycle::Waiting(w) if w.will_wake(cx.waker()) => Poll::Pending,
            _ => {
                *slot = Lifecycle::Waiting(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Polls multishot slot `key` for its next CQE. The one without `IORING_CQE_F_MORE`
    /// is the last: its slot is freed before it is returned, and the key must not be
    /// polled again.
    ///
    /// On the epoll backend, with nothing queued, the op's receive runs now if its socket
    /// may hold bytes (epoll rule 10), so this poll finds the result. If that is the only
    /// CQE posted since the last reap it skips the slot's queue; otherwise it is reaped
    /// into the queue with the others. This runs twice per message a stream receives,
    /// hence the one lookup of the slot.
    pub(crate) fn poll_multi(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<Completion> {
        let Some(Lifecycle::Multi(m)) = self.slots.get_mut(key) else {
            panic!("multishot op polled after its last CQE");
        };
        let c = if let Some(c) = m.pop() {
            c
        } else if let Queue::Epoll(epoll) = &mut self.queue
            && epoll.poll_lazy(key as u64)
        {
            if let Some(c) = epoll.take_only(key as u64) {
                self.count(&c);
                c
            } else {
                self.reap();
                let Some(Lifecycle::Multi(m)) = self.slots.get_mut(key) else {
                    unreachable!("a slot with an owner is freed only with its last CQE taken");
                };
                let Some(c) = m.pop() else {
                    m.wait(cx.waker());
                    return Poll::Pending;
                };
                c
            }
        } else {
            m.wait(cx.waker());
            return Poll::Pending;
        };
        if !c.more() {
            self.slots.remove(key);
        }
        Poll::Ready(c)
    }

    /// The owner of multishot slot `key` is gone; `orphan` takes the op's resources and
    /// releases its queued CQEs. Returns the last CQE, if it already came, with the orphan
    /// to finish outside the driver borrow (the slot is then free). Otherwise the op is
    /// cancelled and the slot keeps the orphan until the last CQE.
    pub(crate) fn abandon_multi(
        &mut self,
        key: usize,
        orphan: Box<dyn Orphan>,
    ) -> Option<(Box<dyn Orphan>, Completion)> {
        let Some(Lifecycle::Multi(m)) = self.slots.get_mut(key) else {
            panic!("multishot op dropped after its last CQE");
        };
        if let Some(done) = m.detach(orphan) {
            self.slots.remove(key);
            return Some(done);
        }
        if m.wants_cancel() {
            self.push_cancel(key as u64);
        }
        None
    }

    /// The op future for slot `key` is being dropped.
    ///
    /// Returns the completion if the CQE already arrived (the slot is freed and the caller
    /// still owns its resources). Otherwise the slot takes the resources (`orphan`) until
    /// the CQE comes, and, if `cancel`, an async-cancel is queued.
    pub(crate) fn abandon(
        &mut self,
        key: usize,
        orphan: impl FnOnce() -> Box<dyn Orphan>,
        cancel: bool,
    ) -> Option<Completion> {
        let slot = self
            .slots
            .get_mut(key)
            .expect("op dropped after its slot was freed");
        if let Lifecycle::Completed(c) = slot {
            let c = *c;
            self.slots.remove(key);
            return Some(c);
        }
        *slot = Lifecycle::Ignored(orphan());
        if cancel {
            self.push_cancel(key as u64);
        }
        None
    }
}
