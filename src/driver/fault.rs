//! Fault injection for tests (cargo feature `fault-injection`): make this thread's rings
//! meet the failures a real kernel can produce, on demand.
//!
//! Every setting is per thread, so it applies to the core running on the calling thread
//! (core 0 is the thread that called `run` or `block_on`). Set it before the runtime starts
//! to affect ring set-up, or from inside a task to affect the running core. [`reset`]
//! clears everything.
//!
//! Without the feature this module is private and every hook is a constant, so the
//! driver's checks compile away.
//!
//! # Examples
//!
//! ```
//! # #[cfg(feature = "fault-injection")] {
//! use ringio::fault::{self, Missing};
//!
//! // A kernel without multishot accept: the listener falls back to one accept at a time.
//! fault::pretend_missing(Missing::MultishotAccept);
//! ringio::run(async {
//!     let listener = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let _client = std::net::TcpStream::connect(addr).unwrap();
//!     listener.accept().await.unwrap();
//! });
//! fault::reset();
//! # }
//! ```

#[cfg(not(feature = "fault-injection"))]
pub(crate) use disabled::*;
#[cfg(feature = "fault-injection")]
pub use enabled::*;

#[cfg(feature = "fault-injection")]
mod enabled {
    use std::cell::Cell;

    /// A kernel feature the rings of this thread act as if they lacked. The kernel
    /// answers such a request with EINVAL; ringio must fall back without the user
    /// seeing that error.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum Missing {
        /// Multishot accept (Linux 5.19): an accept SQE with `IORING_ACCEPT_MULTISHOT`
        /// completes with -EINVAL.
        MultishotAccept,
        /// Multishot receive (Linux 6.0): a recv SQE with `IORING_RECV_MULTISHOT`
        /// completes with -EINVAL.
        MultishotRecv,
        /// Provided buffer rings (Linux 5.19): registering the pool fails with EINVAL.
        BufferRing,
        /// Every optional ring flag (SINGLE_ISSUER, DEFER_TASKRUN, COOP_TASKRUN,
        /// SUBMIT_ALL): set-up with any of them fails with EINVAL, as on Linux 5.11.
        RingFlags,
        /// Registered ring fds (Linux 5.18): the registration fails.
        RingFdRegistration,
        /// `epoll_pwait2` (Linux 5.11): the epoll backend times its waits with a timerfd.
        EpollPwait2,
    }

    impl Missing {
        fn bit(self) -> u8 {
            1 << self as u8
        }
    }

    #[derive(Clone, Copy, Default)]
    struct Faults {
        enter_errno: i32,
        enter_fails: u32,
        enters_failed: u64,
        failed_with_sqes: u64,
        reaping_paused: bool,
        missing: u8,
        pool_errno: i32,
        io_uring_disabled: Option<Option<u32>>,
    }

    thread_local! {
        static FAULTS: Cell<Faults> = Cell::new(Faults::default());
    }

    fn update(f: impl FnOnce(&mut Faults)) {
        FAULTS.with(|c| {
            let mut faults = c.get();
            f(&mut faults);
            c.set(faults);
        });
    }

    fn get() -> Faults {
        FAULTS.with(Cell::get)
    }

    /// Makes the next `count` `io_uring_enter` calls of this thread's rings fail with
    /// `errno` (`EAGAIN`, `EBUSY` or `EINTR` are what the kernel may return while the
    /// ring is healthy).
    ///
    /// With `EINTR` the enter submits the queued SQEs and then fails, like a wait cut
    /// short by a signal; with any other errno nothing is submitted, so the SQEs stay
    /// queued, as when the kernel refuses a batch. Either way the buffers those SQEs point
    /// to must stay alive, and the ops must still complete.
    pub fn fail_enters(errno: i32, count: u32) {
        update(|f| {
            f.enter_errno = errno;
            f.enter_fails = count;
        });
    }

    /// Enters that failed by [`fail_enters`] on this thread so far.
    pub fn enters_failed() -> u64 {
        get().enters_failed
    }

    /// Of [`enters_failed`], those that had SQEs queued to submit.
    pub fn enters_failed_with_sqes_queued() -> u64 {
        get().failed_with_sqes
    }

    /// While `paused`, this thread's rings leave CQEs in the completion queue instead of
    /// reaping them, so a busy ring overflows its CQ (the kernel keeps the surplus,
    /// `IORING_FEAT_NODROP`) the way a core that stops reaping would.
    pub fn pause_reaping(paused: bool) {
        update(|f| f.reaping_paused = paused);
    }

    /// Makes this thread's rings act as if the kernel lacked `what`, until [`reset`].
    pub fn pretend_missing(what: Missing) {
        update(|f| f.missing |= what.bit());
    }

    /// Makes registering this thread's buffer pool fail with `errno`: `ENOMEM` is what the
    /// kernel says when RLIMIT_MEMLOCK is too low for the pool, `EINVAL` a kernel without
    /// provided buffer rings.
    pub fn fail_buffer_pool(errno: i32) {
        update(|f| f.pool_errno = errno);
    }

    /// The value the runtime reads for the sysctl `kernel.io_uring_disabled` (`None`: the
    /// sysctl does not exist) when it explains a failed `io_uring_setup`.
    pub fn set_io_uring_disabled(value: Option<u32>) {
        update(|f| f.io_uring_disabled = Some(value));
    }

    /// Clears every fault of this thread.
    pub fn reset() {
        FAULTS.with(|c| c.set(Faults::default()));
    }

    pub(crate) fn enter_error(sqes_queued: bool) -> Option<i32> {
        let mut out = None;
        update(|f| {
            if f.enter_fails > 0 {
                f.enter_fails -= 1;
                f.enters_failed += 1;
                f.failed_with_sqes += u64::from(sqes_queued);
                out = Some(f.enter_errno);
            }
        });
        out
    }

    pub(crate) fn reaping_paused() -> bool {
        get().reaping_paused
    }

    pub(crate) fn is_missing(what: Missing) -> bool {
        get().missing & what.bit() != 0
    }

    /// The errno a pool registration must fail with, if any.
    pub(crate) fn pool_errno() -> Option<i32> {
        let f = get();
        if f.pool_errno != 0 {
            Some(f.pool_errno)
        } else if is_missing(Missing::BufferRing) {
            Some(libc::EINVAL)
        } else {
            None
        }
    }

    pub(crate) fn io_uring_disabled() -> Option<Option<u32>> {
        get().io_uring_disabled
    }
}

#[cfg(not(feature = "fault-injection"))]
mod disabled {
    #[derive(Clone, Copy)]
    pub(crate) enum Missing {
        RingFlags,
        RingFdRegistration,
        EpollPwait2,
    }

    #[inline(always)]
    pub(crate) fn enter_error(_: bool) -> Option<i32> {
        None
    }

    #[inline(always)]
    pub(crate) fn reaping_paused() -> bool {
        false
    }

    #[inline(always)]
    pub(crate) fn is_missing(_: Missing) -> bool {
        false
    }

    #[inline(always)]
    pub(crate) fn pool_errno() -> Option<i32> {
        None
    }

    #[inline(always)]
    pub(crate) fn io_uring_disabled() -> Option<Option<u32>> {
        None
    }
}
