//! The driver: one io_uring, the slab of in-flight operations, submit and reap.
//!
//! Nothing else in ringio pushes SQEs or reads CQEs. The rules that keep memory safe are
//! in [`slot`]; the kernel rules they rest on are cited where the code relies on them.
//!
//! - `setup`: building a ring with the best flags this kernel accepts, and the start-up
//!   probe; `error`: what the user reads when that fails;
//! - `submit`: pushing SQEs, cancels, the wake-up read, and the loop's `io_uring_enter`;
//! - `ring_fd`: the registered ring fd that enters go through;
//! - `reap`: CQEs into their slots, and what op futures do with their slot;
//! - [`slot`]: the slot states and their rules;
//! - `drain`: shutdown, which waits for the kernel's last CQEs or leaks what it may write.
//!
//! The buffer pool lives in `buf::pool`; the driver only registers its ring, unregisters
//! it at drop, and counts a buffer out of the kernel's hands when a CQE names one.

mod drain;
mod epoll;
mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
#[cfg(not(feature = "fault-injection"))]
pub(crate) mod fault;
mod fixed;
mod reap;
#[cfg(test)]
mod reap_tests;
mod ring_fd;
mod setup;
pub(crate) mod slot;
mod submit;

pub(crate) use drain::DRAIN_LIMIT;
pub(crate) use epoll::fd_changed;
pub(crate) use error::descriptor_error;
pub use setup::RingFlags;
pub(crate) use setup::{Probe, RingSize, probe};
pub(crate) use slot::{Completion, Orphan};
pub(crate) use submit::Pushed;

use crate::buf::pool::{BufRing, POOL_GROUP};
use crate::runtime::Backend;
use crate::runtime::blocking::BlockingPool;
use epoll::Epoll;
use io_uring::{IoUring, opcode};
use slab::Slab;
use slot::Lifecycle;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;

/// `user_data` of async-cancel SQEs: their own CQE carries nothing we need (the target
/// still posts its own CQE, io_uring_prep_cancel(3)), so it is dropped on reap.
const CANCEL_TAG: u64 = u64::MAX;
/// `user_data` of the eventfd read that lets other threads wake a sleeping ring.
const WAKE_TAG: u64 = u64::MAX - 1;

/// Counters the runtime reports through `Metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DriverStats {
    pub(crate) submitted: u64,
    pub(crate) completed: u64,
    pub(crate) enters: u64,
    /// Reaps that found CQEs held back in the kernel (the CQ was full).
    pub(crate) cq_backlogs: u64,
}

/// Where SQEs go and CQEs come from: the kernel's ring, or the epoll backend, which
/// carries out the same SQEs itself (`epoll` module). The ring stays inline: it is the
/// hot path, and there is one `Queue` per core.
#[allow(clippy::large_enum_variant)]
enum Queue {
    Ring(IoUring),
    Epoll(Box<Epoll>),
}

/// One ring and everything in flight on it. Lives on one thread (`!Send`).
pub(crate) struct Driver {
    queue: Queue,
    slots: Slab<Lifecycle>,
    /// CQEs copied out of the queue by `reap`, kept for their memory.
    batch: Vec<(u64, Completion)>,
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
    /// The core's buffer pool once registered (`register_buf_ring`): held until it is
    /// unregistered (pool rule 1), and told of each buffer a reaped CQE names.
    buf_ring: Option<Rc<BufRing>>,
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
        let mut driver = Driver::with_queue(Queue::Ring(ring), flags, size, wake_fd);
        driver.register_ring_fd();
        driver.check_enter()?;
        Ok(driver)
    }

    /// The epoll backend: same slots, same rules; file and path operations run on
    /// `blocking` (`epoll` module, rule 3).
    pub(crate) fn new_epoll(
        size: RingSize,
        wake_fd: RawFd,
        blocking: &Arc<BlockingPool>,
    ) -> io::Result<Driver> {
        let epoll = Epoll::new(blocking.clone())
            .map_err(|e| descriptor_error(e, "the epoll backend (an epoll fd and an eventfd)"))?;
        let flags = RingFlags::default();
        Ok(Driver::with_queue(
            Queue::Epoll(Box::new(epoll)),
            flags,
            size,
            wake_fd,
        ))
    }

    fn with_queue(queue: Queue, flags: RingFlags, size: RingSize, wake_fd: RawFd) -> Driver {
        Driver {
            queue,
            slots: Slab::with_capacity(size.entries as usize),
            batch: Vec::new(),
            flags,
            stats: DriverStats::default(),
            ready: Vec::new(),
            orphans: Vec::new(),
            to_cancel: Vec::new(),
            wake_fd,
            wake_buf: Box::new(0),
            wake_armed: false,
            ring_index: None,
            buf_ring: None,
            #[cfg(feature = "fault-injection")]
            refused: Vec::new(),
        }
    }

    /// The ring, on paths only the io_uring backend takes.
    fn ring(&self) -> &IoUring {
        match &self.queue {
            Queue::Ring(ring) => ring,
            Queue::Epoll(_) => unreachable!("an io_uring-only path on the epoll backend"),
        }
    }

    fn ring_mut(&mut self) -> &mut IoUring {
        match &mut self.queue {
            Queue::Ring(ring) => ring,
            Queue::Epoll(_) => unreachable!("an io_uring-only path on the epoll backend"),
        }
    }

    /// Which backend this driver runs.
    pub(crate) fn backend(&self) -> Backend {
        match self.queue {
            Queue::Ring(_) => Backend::IoUring,
            Queue::Epoll(_) => Backend::Epoll,
        }
    }

    /// One NOP round trip, so a seccomp policy that allows `io_uring_setup` but denies
    /// `io_uring_enter` is reported at start, not as a hang later.
    fn check_enter(&mut self) -> io::Result<()> {
        let nop = opcode::Nop::new().build().user_data(CANCEL_TAG);
        // SAFETY: a NOP points to no memory.
        unsafe { self.push_raw(&nop)? };
        self.enter(Some(None)).map_err(error::enter_error)?;
        self.reap();
        Ok(())
    }

    /// Registers `ring` as this ring's buffer group [`POOL_GROUP`] and keeps it until
    /// its drop unregisters it (or leaks it), as pool rule 1 requires. Called once, by
    /// `Pool::ring` on first use.
    ///
    /// # Errors
    ///
    /// The kernel's refusal, as it came (`Pool::ring` explains it to the user).
    pub(crate) fn register_buf_ring(&mut self, ring: &Rc<BufRing>) -> io::Result<()> {
        if let Some(errno) = fault::pool_errno() {
            return Err(io::Error::from_raw_os_error(errno));
        }
        let (addr, entries) = ring.ring_addr();
        match &mut self.queue {
            // SAFETY: the ring mapping lives as long as any Rc<BufRing>, and the driver
            // keeps one until it unregisters the ring (pool rule 1).
            Queue::Ring(r) => unsafe {
                r.submitter()
                    .register_buf_ring_with_flags(addr, entries, POOL_GROUP, 0)?;
            },
            Queue::Epoll(e) => e.set_buf_ring(ring.clone()),
        }
        self.buf_ring = Some(ring.clone());
        Ok(())
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

    /// Operations whose CQE has not been taken by their owner yet, counting dropped ops
    /// whose late CQE came but whose resources are not released yet (the epoll backend
    /// can complete a cancel inside the drop that asked for it).
    pub(crate) fn in_flight(&self) -> usize {
        self.slots.len() + self.orphans.len()
    }

    /// CQEs the kernel dropped because the CQ was full and it could not keep them
    /// (`IORING_FEAT_NODROP` keeps them unless memory runs out).
    pub(crate) fn cq_overflows(&mut self) -> u32 {
        match &mut self.queue {
            Queue::Ring(r) => r.completion().overflow(),
            Queue::Epoll(_) => 0,
        }
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sq_entries = match &self.queue {
            Queue::Ring(r) => r.params().sq_entries(),
            Queue::Epoll(_) => 0,
        };
        f.debug_struct("Driver")
            .field("backend", &self.backend())
            .field("flags", &self.flags.to_string())
            .field("ring_fd_registered", &self.ring_index.is_some())
            .field("sq_entries", &sq_entries)
            .field("in_flight", &self.slots.len())
            .field("stats", &self.stats)
            .finish()
    }
}
