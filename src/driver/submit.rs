//! The submission side of the ring: pushing SQEs (flushing a full SQ), cancels, the
//! wake-up read, and the loop's one `io_uring_enter`.

use super::slot::{Completion, Lifecycle, Multishot};
use super::{CANCEL_TAG, Driver, Queue, WAKE_TAG, fault};
use io_uring::types::{SubmitArgs, Timespec};
use io_uring::{EnterFlags, opcode, squeue, types};
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// How often a full SQ is flushed and retried before a push gives up with an error. Each
/// retry submits the whole SQ, so needing more than a few means the kernel refuses SQEs.
const PUSH_RETRIES: usize = 16;

/// Where a pushed single-shot op stands.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pushed {
    /// In flight: its CQE will come to this slot.
    Slot(usize),
    /// Already finished: its CQE, which took no slot.
    Done(Completion),
}

impl Driver {
    /// Queues `sqe` for the next enter and returns its slot key, or its completion if the
    /// backend finished it on the spot (the epoll backend's rule 11: no slot was taken).
    ///
    /// # Safety
    ///
    /// Everything `sqe` points to must stay valid until the slot's CQE is reaped; the
    /// caller keeps it in the op future or, if dropped first, in the slot
    /// (`slot` rule 2).
    pub(crate) unsafe fn push(&mut self, sqe: squeue::Entry) -> io::Result<Pushed> {
        // A test that holds completions back holds these too.
        if let Queue::Epoll(epoll) = &mut self.queue
            && !fault::reaping_paused()
            && let Some(c) = epoll.try_now(&sqe)
        {
            self.stats.submitted += 1;
            self.stats.completed += 1;
            return Ok(Pushed::Done(c));
        }
        // SAFETY: forwarded from this function's contract.
        unsafe { self.push_slot(sqe, Lifecycle::Submitted) }.map(Pushed::Slot)
    }

    /// A send the epoll backend can do at once (its rule 11), with no op, slot or SQE:
    /// `send(2)` of `bytes` on `fd` with `MSG_NOSIGNAL`. `None` on io_uring, or if the
    /// send would have to wait: the caller then submits it as an op.
    pub(crate) fn send_now(&mut self, fd: RawFd, bytes: &[u8]) -> Option<io::Result<usize>> {
        let Queue::Epoll(epoll) = &mut self.queue else {
            return None;
        };
        // A test that holds completions back holds these too.
        if fault::reaping_paused() {
            return None;
        }
        let res = epoll.send_now(fd, bytes)?;
        self.stats.submitted += 1;
        self.stats.completed += 1;
        Some(if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res as usize)
        })
    }

    /// Queues a multishot `sqe` (slot rule 4) and returns its slot key. Once `limit` CQEs
    /// (if not 0) wait unread in its queue, the driver cancels the op; the owner sees the
    /// last CQE (-ECANCELED) after the queued ones and may arm a new one.
    ///
    /// # Safety
    ///
    /// As [`Driver::push`], until the op's last CQE.
    pub(crate) unsafe fn push_multi(
        &mut self,
        sqe: squeue::Entry,
        limit: usize,
    ) -> io::Result<usize> {
        #[cfg(feature = "fault-injection")]
        if let Some(key) = self.refuse_multishot(&sqe, limit) {
            return Ok(key);
        }
        let state = Lifecycle::Multi(Box::new(Multishot::new(limit)));
        // SAFETY: forwarded from this function's contract.
        unsafe { self.push_slot(sqe, state) }
    }

    /// Fault injection: a multishot SQE of a feature this thread pretends is missing goes
    /// to the kernel as a NOP whose CQE `reap` reports as -EINVAL.
    #[cfg(feature = "fault-injection")]
    pub(super) fn refuse_multishot(&mut self, sqe: &squeue::Entry, limit: usize) -> Option<usize> {
        use fault::{Missing, is_missing};
        let missing = match sqe.get_opcode() as u8 {
            opcode::AcceptMulti::CODE => is_missing(Missing::MultishotAccept),
            opcode::RecvMulti::CODE => is_missing(Missing::MultishotRecv),
            _ => false,
        };
        if !missing {
            return None;
        }
        let state = Lifecycle::Multi(Box::new(Multishot::new(limit)));
        // Marked refused before the NOP is pushed: the epoll backend completes it at once.
        let key = self.slots.insert(state);
        self.refused.push(key);
        let nop = opcode::Nop::new().build().user_data(key as u64);
        // SAFETY: a NOP points to no memory.
        if unsafe { self.push_raw(&nop) }.is_err() {
            self.refused.pop();
            self.slots.remove(key);
            return None;
        }
        self.stats.submitted += 1;
        if let Queue::Epoll(_) = self.queue {
            self.reap();
        }
        Some(key)
    }

    /// Takes a slot for `state` and pushes `sqe` with its key as `user_data`.
    ///
    /// The slot is taken *before* the push: a full SQ makes `push_raw` submit and maybe
    /// reap, which frees other slots, so a key merely peeked at before the push could
    /// differ from the one an insert after it would get.
    ///
    /// # Safety
    ///
    /// As [`Driver::push`].
    pub(super) unsafe fn push_slot(
        &mut self,
        sqe: squeue::Entry,
        state: Lifecycle,
    ) -> io::Result<usize> {
        let key = self.slots.insert(state);
        let sqe = sqe.user_data(key as u64);
        // SAFETY: forwarded from this function's contract.
        if let Err(e) = unsafe { self.push_raw(&sqe) } {
            // The kernel never saw the SQE, so no CQE will come for this slot.
            self.slots.remove(key);
            return Err(e);
        }
        self.stats.submitted += 1;
        if let Queue::Epoll(_) = self.queue {
            // The epoll backend may have finished the op already: its slot learns so now,
            // and its first poll is ready.
            self.reap();
        }
        Ok(key)
    }

    /// Pushes one SQE, flushing the SQ to the kernel when it is full.
    ///
    /// # Safety
    ///
    /// As [`Driver::push`].
    pub(super) unsafe fn push_raw(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        if let Queue::Epoll(epoll) = &mut self.queue {
            epoll.push(sqe);
            return Ok(());
        }
        for _ in 0..PUSH_RETRIES {
            // SAFETY: the caller keeps what the SQE points to alive until its CQE.
            if unsafe { self.ring_mut().submission().push(sqe) }.is_ok() {
                return Ok(());
            }
            // SQ full: hand the batch to the kernel and retry. EBUSY/EAGAIN mean the
            // kernel wants CQ space first (io_uring_enter(2)): reap, then retry.
            match self.submit() {
                Ok(()) => {}
                Err(e) if is_transient(&e) => self.reap(),
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "the io_uring submission queue stays full; the kernel is not taking SQEs",
        ))
    }

    /// Asks the kernel to cancel the op in slot `key`. The target still posts its own
    /// CQE (its result or -ECANCELED), which is what frees the slot.
    pub(super) fn push_cancel(&mut self, key: u64) {
        let sqe = opcode::AsyncCancel::new(key).build().user_data(CANCEL_TAG);
        // SAFETY: an async-cancel points to no memory. If the push fails the op simply
        // runs to completion, which is still safe: its slot waits for the CQE.
        let _ = unsafe { self.push_raw(&sqe) };
        if let Queue::Epoll(_) = self.queue {
            // The epoll backend ends a parked op at once: its CQE goes to its slot now.
            self.reap();
        }
    }

    /// Keeps one read armed on the wake eventfd, so a write from another thread ends a wait.
    pub(crate) fn arm_wake(&mut self) {
        if self.wake_armed {
            return;
        }
        let sqe = opcode::Read::new(
            types::Fd(self.wake_fd),
            (&mut *self.wake_buf as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(WAKE_TAG);
        // SAFETY: `wake_buf` is boxed and lives until `Drop`, which waits for this read's
        // CQE before the box is freed.
        if unsafe { self.push_raw(&sqe) }.is_ok() {
            self.wake_armed = true;
        }
    }

    /// Whether an enter would do anything: SQEs to submit or CQEs to expect.
    pub(crate) fn has_work(&mut self) -> bool {
        match &mut self.queue {
            Queue::Ring(ring) => !ring.submission().is_empty() || !self.slots.is_empty(),
            Queue::Epoll(_) => !self.slots.is_empty(),
        }
    }

    /// The loop's one syscall: submits every queued SQE and, with `wait`, sleeps until
    /// one CQE arrives or `wait`'s timeout passes (`IORING_ENTER_EXT_ARG`, so sleeping
    /// costs no timeout SQE). EINTR, ETIME and EBUSY are not errors here: the caller
    /// reaps and comes back.
    pub(crate) fn enter(&mut self, wait: Option<Option<Duration>>) -> io::Result<()> {
        self.stats.enters += 1;
        let to_submit = match &mut self.queue {
            Queue::Ring(ring) => ring.submission().len() as u32,
            Queue::Epoll(epoll) => return epoll.wait(wait),
        };
        if let Some(e) = self.injected_enter_error(to_submit) {
            return settle_enter(Err(e));
        }
        // GETEVENTS always: with DEFER_TASKRUN completions are only processed by an
        // enter that carries it (io_uring_setup(2)), and it flushes NODROP overflow.
        let getevents = EnterFlags::GETEVENTS.bits();
        let res = match wait {
            Some(Some(timeout)) => {
                let ts = Timespec::from(timeout);
                let args = SubmitArgs::new().timespec(&ts);
                // SAFETY: `args` and `ts` outlive the call; EXT_ARG tells the kernel the
                // argument is an io_uring_getevents_arg, which SubmitArgs wraps.
                unsafe {
                    self.sys_enter(
                        to_submit,
                        1,
                        getevents | EnterFlags::EXT_ARG.bits(),
                        (&raw const args).cast(),
                        std::mem::size_of::<SubmitArgs<'_, '_>>(),
                    )
                }
            }
            // SAFETY: no argument pointer is passed.
            Some(None) => unsafe { self.sys_enter(to_submit, 1, getevents, std::ptr::null(), 0) },
            // SAFETY: as above.
            None => unsafe { self.sys_enter(to_submit, 0, getevents, std::ptr::null(), 0) },
        };
        settle_enter(res.map(drop))
    }

    /// Hands the queued SQEs to the kernel now rather than at the loop's enter: for ops
    /// whose latency suffers from waiting for the turn's batch (`fs` rule 7). A failed
    /// flush changes nothing: the SQEs stay queued and the loop's enter submits them (or
    /// reports the error). A no-op on the epoll backend, which has no SQ.
    pub(crate) fn flush(&mut self) {
        if let Queue::Ring(ring) = &mut self.queue
            && !ring.submission().is_empty()
        {
            let _ = self.submit();
        }
    }

    /// Submits the queued SQEs without waiting (a full SQ's flush).
    pub(super) fn submit(&mut self) -> io::Result<()> {
        let to_submit = self.ring_mut().submission().len() as u32;
        self.stats.enters += 1;
        if let Some(e) = self.injected_enter_error(to_submit) {
            return Err(e);
        }
        // SAFETY: no argument pointer is passed.
        unsafe { self.sys_enter(to_submit, 0, 0, std::ptr::null(), 0) }.map(drop)
    }

    /// Fault injection: the error this enter must fail with, if any. EINTR comes after
    /// the SQEs were submitted (a wait cut short); other errors before (nothing taken).
    pub(super) fn injected_enter_error(&mut self, to_submit: u32) -> Option<io::Error> {
        let errno = fault::enter_error(to_submit > 0)?;
        if errno == libc::EINTR {
            // SAFETY: no argument pointer is passed.
            let _ = unsafe { self.sys_enter(to_submit, 0, 0, std::ptr::null(), 0) };
        }
        Some(io::Error::from_raw_os_error(errno))
    }
}

/// What an enter's result means for the loop: ETIME (the wait timed out, i.e. a timer is
/// due, io_uring_enter(2)) and the transient errors are not failures; the caller reaps
/// and comes back.
fn settle_enter(res: io::Result<()>) -> io::Result<()> {
    match res {
        Err(e) if e.raw_os_error() == Some(libc::ETIME) || is_transient(&e) => Ok(()),
        res => res,
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN)
    )
}
