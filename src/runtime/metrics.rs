//! Counters that show what a core has done and what it still holds.
#![forbid(unsafe_code)]

// The one driver type in the public API: `Metrics::ring_flags` reports it, and a user
// reads it to learn which ring features the kernel gave (its docs list them).
use super::Backend;
pub use crate::driver::RingFlags;

/// A snapshot of one core's counters.
///
/// Tests use it to prove nothing is left in flight; `ops_submitted / enters` shows how
/// well SQEs are batched.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let m = ringio::metrics();
///     assert_eq!(m.ops_in_flight, 0);
///     println!("ring flags: {}", m.ring_flags);
/// });
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// The I/O backend this core runs: [`Backend::IoUring`] or [`Backend::Epoll`], never
    /// `Auto` (which picks one of them at `build`).
    pub backend: Backend,
    /// Why [`Backend::Auto`] runs epoll: the text of the io_uring start-up error (e.g.
    /// "io_uring_setup was denied (EPERM): a seccomp filter ..."). `None` on io_uring, or
    /// when epoll was asked for.
    pub fallback_reason: Option<&'static str>,
    /// Tasks spawned on this core since it started.
    pub tasks_spawned: u64,
    /// Tasks whose future is still alive.
    pub tasks_alive: usize,
    /// SQEs pushed for operations (not counting internal cancels and wake-ups).
    pub ops_submitted: u64,
    /// Operation CQEs reaped.
    pub ops_completed: u64,
    /// Operations whose CQE has not been taken by their owner yet.
    pub ops_in_flight: usize,
    /// `io_uring_enter` calls made (on epoll: `epoll_pwait2` calls).
    pub enters: u64,
    /// CQEs the kernel dropped because the completion queue was full. With
    /// `IORING_FEAT_NODROP` (required) it keeps them instead, so this stays 0 unless the
    /// kernel ran out of memory for them.
    pub cq_overflows: u64,
    /// Reaps that found completions held back in the kernel because the completion
    /// queue was full (`IORING_SQ_CQ_OVERFLOW`); the next enter flushes them, so no
    /// completion is lost, but many mean the ring is small for the load
    /// ([`Builder::ring_entries`](crate::Builder::ring_entries)).
    pub cq_backlogs: u64,
    /// Timers (sleeps, timeouts, intervals) waiting to fire.
    pub timers_pending: usize,
    /// The ring flags the kernel accepted for this core's ring. Summed over a runtime's
    /// cores ([`Runtime::metrics`](crate::Runtime::metrics)): the flags every core's ring
    /// got.
    pub ring_flags: RingFlags,
    /// Whether this core's ring fd is registered with the kernel
    /// (`IORING_REGISTER_RING_FDS`, Linux 5.18): each `io_uring_enter` then names the ring
    /// by its index and the kernel skips the fd lookup. `false` on older kernels, where
    /// enters go through the fd and nothing else changes. Summed over a runtime's cores:
    /// whether every core's ring is registered.
    pub ring_fd_registered: bool,
    /// Buffers in the core's receive pool (0 until a pooled receive first used it).
    pub pool_buffers: usize,
    /// Pool buffers out of the kernel's hands: filled and not given back yet (held by
    /// the application, or waiting unread in a stream's queue).
    pub pool_in_use: usize,
    /// Times a pooled receive found the pool empty (the kernel said ENOBUFS); it then
    /// received into an owned buffer, counted in `pool_fallbacks`.
    pub pool_exhausted: u64,
    /// Receives (`recv_pooled`, `recv_stream`) that used an owned buffer: the pool was
    /// found empty with bytes waiting, or the kernel refused the pool
    /// ([`pool_error`](crate::runtime::pool_error) says why).
    pub pool_fallbacks: u64,
}

impl Metrics {
    /// The counters of `cores` added up; ring facts (flags, registration) are those every
    /// core shares. `None` if `cores` is empty.
    pub(crate) fn total(cores: &[Metrics]) -> Option<Metrics> {
        let (first, rest) = cores.split_first()?;
        Some(rest.iter().fold(*first, |acc, m| acc.plus(m)))
    }

    fn plus(&self, other: &Metrics) -> Metrics {
        Metrics {
            backend: self.backend,
            fallback_reason: self.fallback_reason,
            tasks_spawned: self.tasks_spawned + other.tasks_spawned,
            tasks_alive: self.tasks_alive + other.tasks_alive,
            ops_submitted: self.ops_submitted + other.ops_submitted,
            ops_completed: self.ops_completed + other.ops_completed,
            ops_in_flight: self.ops_in_flight + other.ops_in_flight,
            enters: self.enters + other.enters,
            cq_overflows: self.cq_overflows + other.cq_overflows,
            cq_backlogs: self.cq_backlogs + other.cq_backlogs,
            timers_pending: self.timers_pending + other.timers_pending,
            pool_buffers: self.pool_buffers + other.pool_buffers,
            pool_in_use: self.pool_in_use + other.pool_in_use,
            pool_exhausted: self.pool_exhausted + other.pool_exhausted,
            pool_fallbacks: self.pool_fallbacks + other.pool_fallbacks,
            ring_flags: self.ring_flags.common(other.ring_flags),
            ring_fd_registered: self.ring_fd_registered && other.ring_fd_registered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(submitted: u64, flags: RingFlags, registered: bool) -> Metrics {
        Metrics {
            ops_submitted: submitted,
            ring_flags: flags,
            ring_fd_registered: registered,
            ..Metrics::default()
        }
    }

    #[test]
    fn total_adds_counters_and_keeps_only_shared_ring_facts() {
        let all = RingFlags {
            single_issuer: true,
            defer_taskrun: true,
            coop_taskrun: true,
            submit_all: true,
        };
        let plain = RingFlags::default();
        assert_eq!(Metrics::total(&[]), None);
        let one = Metrics::total(&[core(3, all, true)]).unwrap();
        assert_eq!(
            (one.ops_submitted, one.ring_flags, one.ring_fd_registered),
            (3, all, true)
        );
        // A plain ring on core 0 is not hidden by a better ring on core 1, nor the other way.
        for cores in [
            [core(3, plain, false), core(4, all, true)],
            [core(3, all, true), core(4, plain, false)],
        ] {
            let t = Metrics::total(&cores).unwrap();
            assert_eq!(t.ops_submitted, 7);
            assert_eq!(t.ring_flags, plain);
            assert!(!t.ring_fd_registered);
        }
    }
}
