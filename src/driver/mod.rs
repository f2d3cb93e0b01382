//! The driver: one io_uring, the slab of in-flight operations, submit and reap.
//!
//! Nothing else in ringio pushes SQEs or reads CQEs. The rules that keep memory safe are
//! in [`slot`]; the kernel rules they rest on are cited where the code relies on them.

pub(crate) mod buf_ring;
#[cfg(feature = "fault-injection")]
pub mod fault;
#[cfg(not(feature = "fault-injection"))]
pub(crate) mod fault;
mod setup;
pub(crate) mod slot;

pub use buf_ring::PooledBuf;
pub(crate) use buf_ring::{BufRing, PoolConfig};
pub use setup::RingFlags;
pub(crate) use setup::RingSize;
pub(crate) use slot::{Completion, Orphan};

use io_uring::types::{SubmitArgs, Timespec};
use io_uring::{EnterFlags, IoUring, opcode, squeue, types};
use slab::Slab;
use slot::{Lifecycle, MultiReaped, Multishot, Reaped};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// `IORING_ENTER_REGISTERED_RING` and `IORING_REGISTER_RING_FDS` (io_uring.h).
const REGISTERED_RING: u32 = 1 << 4;
const IORING_REGISTER_RING_FDS: libc::c_uint = 20;
const IORING_UNREGISTER_RING_FDS: libc::c_uint = 21;

/// `struct io_uring_rsrc_update` (io_uring.h).
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

/// `user_data` of async-cancel SQEs: their own CQE carries nothing we need (the target
/// still posts its own CQE, io_uring_prep_cancel(3)), so it is dropped on reap.
const CANCEL_TAG: u64 = u64::MAX;
/// `user_data` of the eventfd read that lets other threads wake a sleeping ring.
const WAKE_TAG: u64 = u64::MAX - 1;
/// How often a full SQ is flushed and retried before a push gives up with an error. Each
/// retry submits the whole SQ, so needing more than a few means the kernel refuses SQEs.
const PUSH_RETRIES: usize = 16;
/// How long shutdown waits for cancelled operations before it leaks their buffers rather
/// than free memory the kernel might still write. Cancelled socket ops end in microseconds;
/// only a stuck disk could take this long.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// One wait of the shutdown drain; short so the limit above is checked often.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// What a runtime's start-up check found: the rings this kernel gives this thread.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Probe {
    /// The ring flags the kernel accepted.
    pub(crate) flags: RingFlags,
    /// Whether the ring fd could be registered (IORING_REGISTER_RING_FDS).
    pub(crate) ring_fd_registered: bool,
}

/// Builds `size.rings` rings of `size.entries` entries, all alive at once, the first with
/// a NOP round trip, then drops them: proves io_uring works here (setup and enter
/// allowed) and that RLIMIT_MEMLOCK fits a ring for every core, before any core thread
/// starts. The cores build their own rings again on their own threads (a SINGLE_ISSUER
/// ring belongs to the thread that made it, io_uring_setup(2)).
///
/// # Errors
///
/// As [`Driver::new`]: a message that names the cause and the fix.
pub(crate) fn probe(size: RingSize) -> io::Result<Probe> {
    let wake = crate::fd::eventfd()?;
    let first = Driver::new(size, wake.as_raw_fd())?;
    let probe = Probe {
        flags: first.flags(),
        ring_fd_registered: first.ring_fd_registered(),
    };
    let others = (1..size.rings)
        .map(|_| setup::build_ring(size))
        .collect::<io::Result<Vec<_>>>();
    drop(first);
    let built = others.map(drop);
    // The cores' rings may meet these rings' memory not uncharged yet.
    setup::note_ring_dropped();
    built.map(|()| probe)
}

/// Counters the runtime reports through `Metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DriverStats {
    pub(crate) submitted: u64,
    pub(crate) completed: u64,
    pub(crate) enters: u64,
    /// Reaps that found CQEs held back in the kernel (the CQ was full).
    pub(crate) cq_backlogs: u64,
}

/// One ring and everything in flight on it. Lives on one thread (`!Send`).
pub(crate) struct Driver {
    ring: IoUring,
    slots: Slab<Lifecycle>,
    flags: RingFlags,
    stats: DriverStats,
    /// Wakers and orphans found while reaping; the runtime takes them and acts on them
    /// after releasing the driver, so no user code runs while the driver is borrowed.
    ready: Vec<Waker>,
    orphans: Vec<(Box<dyn Orphan>, Completion)>,
    /// Multishot ops whose queue reached its limit while reaping; cancelled right after.
    to_cancel: Vec<usize>,
    wake_fd: RawFd,
    /// The eventfd read's 8-byte target; boxed so its address is stable, and kept until
    /// the driver is dropped, after the read's CQE (see `Drop`).
    wake_buf: Box<u64>,
    wake_armed: bool,
    /// This ring's index among the thread's registered ring fds, if registered.
    ring_index: Option<u32>,
    /// The provided buffer pool, made on first use (`buf_ring`) with `pool`'s sizes.
    pool: PoolConfig,
    buf_ring: Option<Rc<BufRing>>,
    /// Why the kernel refused the pool, once it did: receives then use owned buffers,
    /// and registration is not tried again.
    pool_refused: Option<(io::ErrorKind, Rc<str>)>,
    /// Receives that used an owned buffer: the pool was refused, or found empty.
    pool_fallbacks: u64,
    /// Slots whose SQE fault injection turned into a NOP; their CQE is reported as
    /// -EINVAL, as from a kernel without the feature.
    #[cfg(feature = "fault-injection")]
    refused: Vec<usize>,
}

impl Driver {
    /// Builds the ring and checks that this thread may use it.
    ///
    /// `wake_fd` is an eventfd that other threads write to; it must outlive the driver.
    pub(crate) fn new(size: RingSize, wake_fd: RawFd) -> io::Result<Driver> {
        let (ring, flags) = setup::build_ring(size)?;
        let mut driver = Driver {
            ring,
            slots: Slab::with_capacity(size.entries as usize),
            flags,
            stats: DriverStats::default(),
            ready: Vec::new(),
            orphans: Vec::new(),
            to_cancel: Vec::new(),
            wake_fd,
            wake_buf: Box::new(0),
            wake_armed: false,
            ring_index: None,
            pool: PoolConfig::default(),
            buf_ring: None,
            pool_refused: None,
            pool_fallbacks: 0,
            #[cfg(feature = "fault-injection")]
            refused: Vec::new(),
        };
        driver.register_ring_fd();
        driver.check_enter()?;
        Ok(driver)
    }

    /// One NOP round trip, so a seccomp policy that allows `io_uring_setup` but denies
    /// `io_uring_enter` is reported at start, not as a hang later.
    fn check_enter(&mut self) -> io::Result<()> {
        let nop = opcode::Nop::new().build().user_data(CANCEL_TAG);
        // SAFETY: a NOP points to no memory.
        unsafe { self.push_raw(&nop)? };
        let res = self.enter(Some(None));
        if let Err(e) = res {
            let why = if e.raw_os_error() == Some(libc::EPERM) {
                "io_uring_enter was denied (EPERM): a seccomp filter or container policy \
                 forbids it; allow io_uring_setup, io_uring_enter and io_uring_register"
            } else {
                "io_uring_enter failed on a NOP"
            };
            return Err(setup::start_error(why.to_string(), e));
        }
        self.reap();
        Ok(())
    }

    /// Sets the sizes of the buffer pool, before its first use.
    pub(crate) fn set_pool(&mut self, pool: PoolConfig) {
        self.pool = pool;
    }

    /// This ring's provided buffer pool, made and registered on first use.
    ///
    /// # Errors
    ///
    /// If the kernel refuses the registration: too old (provided buffer rings need Linux
    /// 5.19), or out of locked memory (RLIMIT_MEMLOCK); the message says which. The
    /// refusal is remembered: later calls return the same error without a syscall.
    pub(crate) fn buf_ring(&mut self) -> io::Result<Rc<BufRing>> {
        if let Some(ring) = &self.buf_ring {
            return Ok(ring.clone());
        }
        if let Some(e) = self.pool_error() {
            return Err(e);
        }
        let made = self.register_pool();
        if let Err(e) = &made {
            self.pool_refused = Some((e.kind(), e.to_string().into()));
        }
        made
    }

    /// Why the kernel refused this ring's buffer pool, if it did.
    pub(crate) fn pool_error(&self) -> Option<io::Error> {
        let (kind, why) = self.pool_refused.as_ref()?;
        Some(io::Error::new(*kind, why.to_string()))
    }

    /// The sizes of this ring's buffer pool, made or not.
    pub(crate) fn pool_config(&self) -> PoolConfig {
        self.pool
    }

    /// Counts a receive that used an owned buffer (pool refused or found empty).
    pub(crate) fn note_pool_fallback(&mut self) {
        self.pool_fallbacks += 1;
    }

    /// Receives that used an owned buffer (pool refused or found empty).
    pub(crate) fn pool_fallbacks(&self) -> u64 {
        self.pool_fallbacks
    }

    fn register_pool(&mut self) -> io::Result<Rc<BufRing>> {
        if let Some(errno) = fault::pool_errno() {
            return Err(pool_error(io::Error::from_raw_os_error(errno), self.pool));
        }
        let ring = Rc::new(BufRing::new(self.pool)?);
        let (addr, entries) = ring.ring_addr();
        // SAFETY: the ring mapping lives as long as any Rc<BufRing>, and the driver keeps
        // one until it unregisters the ring (buf_ring rule 1).
        let res = unsafe {
            self.ring.submitter().register_buf_ring_with_flags(
                addr,
                entries,
                buf_ring::POOL_GROUP,
                0,
            )
        };
        if let Err(e) = res {
            return Err(pool_error(e, self.pool));
        }
        self.buf_ring = Some(ring.clone());
        Ok(ring)
    }

    /// The buffer pool, if one was made: (buffers in use, capacity, times found empty).
    pub(crate) fn pool_stats(&self) -> (usize, usize, u64) {
        self.buf_ring
            .as_ref()
            .map_or((0, 0, 0), |r| (r.in_use(), r.capacity(), r.exhausted()))
    }

    /// The ring flags the kernel accepted.
    pub(crate) fn flags(&self) -> RingFlags {
        self.flags
    }

    /// Whether enters name the ring by its registered index rather than its fd.
    pub(crate) fn ring_fd_registered(&self) -> bool {
        self.ring_index.is_some()
    }

    pub(crate) fn stats(&self) -> DriverStats {
        self.stats
    }

    /// Operations whose CQE has not been taken by their owner yet.
    pub(crate) fn in_flight(&self) -> usize {
        self.slots.len()
    }

    /// CQEs the kernel dropped because the CQ was full and it could not keep them
    /// (`IORING_FEAT_NODROP` keeps them unless memory runs out).
    pub(crate) fn cq_overflows(&mut self) -> u32 {
        self.ring.completion().overflow()
    }

    /// Queues `sqe` for the next enter and returns its slot key.
    ///
    /// # Safety
    ///
    /// Everything `sqe` points to must stay valid until the slot's CQE is reaped; the
    /// caller keeps it in the op future or, if dropped first, in the slot
    /// (`slot` rule 2).
    pub(crate) unsafe fn push(&mut self, sqe: squeue::Entry) -> io::Result<usize> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.push_slot(sqe, Lifecycle::Submitted) }
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
    fn refuse_multishot(&mut self, sqe: &squeue::Entry, limit: usize) -> Option<usize> {
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
        // SAFETY: a NOP points to no memory.
        let key = unsafe { self.push_slot(opcode::Nop::new().build(), state) }.ok()?;
        self.refused.push(key);
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
    unsafe fn push_slot(&mut self, sqe: squeue::Entry, state: Lifecycle) -> io::Result<usize> {
        let key = self.slots.insert(state);
        let sqe = sqe.user_data(key as u64);
        // SAFETY: forwarded from this function's contract.
        if let Err(e) = unsafe { self.push_raw(&sqe) } {
            // The kernel never saw the SQE, so no CQE will come for this slot.
            self.slots.remove(key);
            return Err(e);
        }
        self.stats.submitted += 1;
        Ok(key)
    }

    /// Pushes one SQE, flushing the SQ to the kernel when it is full.
    ///
    /// # Safety
    ///
    /// As [`Driver::push`].
    unsafe fn push_raw(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        for _ in 0..PUSH_RETRIES {
            // SAFETY: the caller keeps what the SQE points to alive until its CQE.
            if unsafe { self.ring.submission().push(sqe) }.is_ok() {
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
    fn push_cancel(&mut self, key: u64) {
        let sqe = opcode::AsyncCancel::new(key).build().user_data(CANCEL_TAG);
        // SAFETY: an async-cancel points to no memory. If the push fails the op simply
        // runs to completion, which is still safe: its slot waits for the CQE.
        let _ = unsafe { self.push_raw(&sqe) };
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
    pub(crate) fn poll_multi(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<Completion> {
        let Some(Lifecycle::Multi(m)) = self.slots.get_mut(key) else {
            panic!("multishot op polled after its last CQE");
        };
        match m.pop(cx.waker()) {
            Some(c) => {
                if !c.more() {
                    self.slots.remove(key);
                }
                Poll::Ready(c)
            }
            None => Poll::Pending,
        }
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

    /// io_uring_enter(2) on this ring, through its registered index when it has one
    /// (`IORING_ENTER_REGISTERED_RING`: the kernel skips looking the fd up).
    ///
    /// # Safety
    ///
    /// `arg` and `argsz` must be what `flags` tells the kernel to expect (null and 0, or
    /// an io_uring_getevents_arg with EXT_ARG), valid for the call.
    unsafe fn sys_enter(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const libc::c_void,
        argsz: usize,
    ) -> io::Result<usize> {
        let (fd, flags) = match self.ring_index {
            Some(index) => (index as libc::c_int, flags | REGISTERED_RING),
            None => (self.ring.as_raw_fd(), flags),
        };
        // SAFETY: the fd (or registered index) names this live ring; the rest is the
        // caller's promise.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                fd,
                to_submit,
                min_complete,
                flags,
                arg,
                argsz,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }

    /// Registers the ring's own fd (IORING_REGISTER_RING_FDS, Linux 5.18) so each enter
    /// passes its index instead: the kernel then skips the fd table lookup and reference
    /// count on every call. The registration belongs to this thread, the ring's only
    /// issuer. Optional: on failure enters go through the fd as before.
    fn register_ring_fd(&mut self) {
        if fault::is_missing(fault::Missing::RingFdRegistration) {
            return;
        }
        let mut update = RsrcUpdate {
            offset: u32::MAX, // any free slot
            resv: 0,
            data: self.ring.as_raw_fd() as u64,
        };
        // SAFETY: one io_uring_rsrc_update, live for the call, as the opcode expects.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.ring.as_raw_fd(),
                IORING_REGISTER_RING_FDS,
                &raw mut update,
                1,
            )
        };
        if r == 1 {
            self.ring_index = Some(update.offset);
        }
    }

    /// Drops the registration: it holds a reference to the ring, which would otherwise
    /// outlive its fd until the thread exits (and a thread may register only 16 rings).
    fn unregister_ring_fd(&mut self) {
        let Some(index) = self.ring_index.take() else {
            return;
        };
        let mut update = RsrcUpdate {
            offset: index,
            resv: 0,
            data: 0,
        };
        // SAFETY: as in `register_ring_fd`.
        unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.ring.as_raw_fd(),
                IORING_UNREGISTER_RING_FDS,
                &raw mut update,
                1,
            )
        };
    }

    /// Whether an enter would do anything: SQEs to submit or CQEs to expect.
    pub(crate) fn has_work(&mut self) -> bool {
        !self.ring.submission().is_empty() || !self.slots.is_empty()
    }

    /// The loop's one syscall: submits every queued SQE and, with `wait`, sleeps until
    /// one CQE arrives or `wait`'s timeout passes (`IORING_ENTER_EXT_ARG`, so sleeping
    /// costs no timeout SQE). EINTR, ETIME and EBUSY are not errors here: the caller
    /// reaps and comes back.
    pub(crate) fn enter(&mut self, wait: Option<Option<Duration>>) -> io::Result<()> {
        let to_submit = self.ring.submission().len() as u32;
        self.stats.enters += 1;
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

    /// Submits the queued SQEs without waiting (a full SQ's flush).
    fn submit(&mut self) -> io::Result<()> {
        let to_submit = self.ring.submission().len() as u32;
        self.stats.enters += 1;
        if let Some(e) = self.injected_enter_error(to_submit) {
            return Err(e);
        }
        // SAFETY: no argument pointer is passed.
        unsafe { self.sys_enter(to_submit, 0, 0, std::ptr::null(), 0) }.map(drop)
    }

    /// Fault injection: the error this enter must fail with, if any. EINTR comes after
    /// the SQEs were submitted (a wait cut short); other errors before (nothing taken).
    fn injected_enter_error(&mut self, to_submit: u32) -> Option<io::Error> {
        let errno = fault::enter_error(to_submit > 0)?;
        if errno == libc::EINTR {
            // SAFETY: no argument pointer is passed.
            let _ = unsafe { self.sys_enter(to_submit, 0, 0, std::ptr::null(), 0) };
        }
        Some(io::Error::from_raw_os_error(errno))
    }

    /// Moves every CQE into its slot. Wakers and orphans are collected for
    /// [`Driver::take_ready`], not run here.
    pub(crate) fn reap(&mut self) {
        if fault::reaping_paused() {
            return;
        }
        // CQEs that did not fit wait in the kernel (IORING_FEAT_NODROP, io_uring_setup(2))
        // and come out on the next enter with GETEVENTS, which the loop always passes.
        if self.ring.submission().cq_overflow() {
            self.stats.cq_backlogs += 1;
        }
        let mut cq = self.ring.completion();
        cq.sync();
        for cqe in &mut cq {
            #[cfg_attr(not(feature = "fault-injection"), allow(unused_mut))]
            let mut completion = Completion {
                result: cqe.result(),
                flags: cqe.flags(),
            };
            #[cfg(feature = "fault-injection")]
            if let Some(i) = self
                .refused
                .iter()
                .position(|&k| k as u64 == cqe.user_data())
            {
                self.refused.swap_remove(i);
                completion.result = -libc::EINVAL;
            }
            match cqe.user_data() {
                CANCEL_TAG => {}
                WAKE_TAG => self.wake_armed = false,
                key => {
                    self.stats.completed += 1;
                    // Only this core's pool has a buffer group on this ring.
                    if completion.buffer().is_some()
                        && let Some(ring) = &self.buf_ring
                    {
                        ring.note_taken();
                    }
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
                        continue;
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
        drop(cq);
        for key in std::mem::take(&mut self.to_cancel) {
            self.push_cancel(key as u64);
        }
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

/// The error for a buffer pool the kernel would not register.
fn pool_error(e: io::Error, pool: PoolConfig) -> io::Error {
    let bytes = usize::from(pool.buffers) * pool.buffer_size;
    let why = match e.raw_os_error() {
        Some(libc::EINVAL) => "provided buffer rings need Linux 5.19 or later".to_string(),
        Some(libc::ENOMEM) => format!(
            "not enough locked memory to pin its ring of {} entries ({} bytes; RLIMIT_MEMLOCK \
             is {}); raise the limit (ulimit -l) or use fewer buffers (Builder::buffer_pool)",
            pool.buffers,
            usize::from(pool.buffers) * 16,
            crate::fd::memlock_limit().map_or("unknown".to_string(), |l| format!("{l} bytes"))
        ),
        _ => "the kernel refused it".to_string(),
    };
    io::Error::new(
        e.kind(),
        format!(
            "cannot register the buffer pool ({} × {} bytes = {bytes} bytes): {why} ({e})",
            pool.buffers, pool.buffer_size
        ),
    )
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
        if self.buf_ring.take().is_some() {
            let _ = self
                .ring
                .submitter()
                .unregister_buf_ring(buf_ring::POOL_GROUP);
        }
        self.unregister_ring_fd();
        setup::note_ring_dropped();
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("flags", &self.flags.to_string())
            .field("ring_fd_registered", &self.ring_index.is_some())
            .field("sq_entries", &self.ring.params().sq_entries())
            .field("in_flight", &self.slots.len())
            .field("stats", &self.stats)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_fd_registration_is_undone_on_drop() {
        // A thread may register at most 16 ring fds (IO_RINGFD_REG_MAX): if a dropped
        // driver kept its registration, the 17th ring on this thread would go without.
        let wake = crate::fd::eventfd().unwrap();
        let size = RingSize {
            entries: 8,
            rings: 1,
        };
        let first = Driver::new(size, wake.as_raw_fd()).unwrap().ring_index;
        for _ in 0..40 {
            let d = Driver::new(size, wake.as_raw_fd()).unwrap();
            assert_eq!(d.ring_index, first, "a registration slot leaked");
        }
        eprintln!("registered ring index: {first:?}");
    }
}
