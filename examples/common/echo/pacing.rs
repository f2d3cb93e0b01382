//! The open-loop send schedule (`--rate`): when each connection's next request is due.
//!
//! Requests are numbered across the whole run: request `k` of connection `i` (of
//! `conns`) is global request `n = k * conns + i` and is due at `start + n / rate`. So
//! each connection sends every `conns / rate` seconds, the connections are phased
//! `1 / rate` apart, and the total is `rate` requests a second with the sends spread
//! evenly. Times are computed from `n`, never by adding up intervals, so rounding does
//! not drift over a long run.
//!
//! A connection whose previous reply came back after its next request was due sends
//! that request at once and counts it as [`Slot::late`]; later requests keep their
//! original times (nothing is skipped), so a connection that fell behind sends
//! back-to-back until it has caught up. Latency is measured from [`Slot::at`], the
//! scheduled time, so time spent waiting to send counts against the server: no
//! coordinated omission.
//!
//! Schedules start with the run, so connections still connecting early in the warm-up
//! begin behind and catch up during it; the window's `behind` count says whether the
//! warm-up was long enough. Sleeps end on the runtime's 1 ms timer tick, so an on-time
//! request goes out up to about a millisecond after its slot; the report shows that
//! send lag separately (it is inside the latency).

use std::time::{Duration, Instant};

/// Nanoseconds in a second, for turning request numbers into times.
const NANOS_PER_S: u128 = 1_000_000_000;

/// One connection's schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    start: Instant,
    rate: u64,
    /// Global number of this connection's next request.
    next: u64,
    /// Connections in the whole run: the step from one of our requests to the next.
    stride: u64,
}

/// The next request of a connection: when it was due, and whether it is sent late.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// When the request is due (latency is measured from here).
    pub at: Instant,
    /// It was already due when the connection was free to send it: it goes out at once.
    pub late: bool,
}

impl Schedule {
    /// The schedule of connection `index` (0-based, of `conns` in the whole run, over
    /// every client core) when `rate` requests a second are offered in total from `start`.
    ///
    /// # Panics
    ///
    /// If `rate` is 0 (closed loop has no schedule) or `index >= conns`.
    pub fn new(start: Instant, rate: u64, conns: usize, index: usize) -> Schedule {
        assert!(rate > 0, "a schedule needs a rate above 0");
        assert!(index < conns, "connection {index} of {conns}");
        Schedule {
            start,
            rate,
            next: index as u64,
            stride: conns as u64,
        }
    }

    /// When global request `n` is due.
    fn due(&self, n: u64) -> Instant {
        let nanos = u128::from(n) * NANOS_PER_S / u128::from(self.rate);
        // u64 nanoseconds are 584 years: past any run.
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The connection is free to send at `now`: takes its next slot.
    pub fn take(&mut self, now: Instant) -> Slot {
        let at = self.due(self.next);
        self.next += self.stride;
        Slot { at, late: now > at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn connections_are_phased_evenly_at_the_total_rate() {
        // 1,000 req/s over 4 connections: each every 4 ms, 1 ms apart.
        let t0 = Instant::now();
        let mut all = Vec::new();
        for i in 0..4 {
            let mut s = Schedule::new(t0, 1000, 4, i);
            for _ in 0..3 {
                let slot = s.take(t0);
                assert!(!slot.late);
                all.push(slot.at - t0);
            }
        }
        all.sort();
        let expect: Vec<Duration> = (0..12).map(ms).collect();
        assert_eq!(all, expect);
    }

    #[test]
    fn times_do_not_drift_when_the_period_is_not_whole_nanoseconds() {
        // 3 req/s on one connection: 333,333,333.3 ns apart; request 3,000,000 is due
        // at exactly 1,000,000 s.
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 3, 1, 0);
        s.next = 3_000_000;
        assert_eq!(s.take(t0).at - t0, Duration::from_secs(1_000_000));
        let third = Schedule::new(t0, 3, 1, 0).due(1) - t0;
        assert_eq!(third, Duration::from_nanos(333_333_333));
    }

    #[test]
    fn a_connection_behind_sends_at_once_and_keeps_every_request() {
        // One connection at 100 req/s: due at 0, 10, 20, 30, 40 ms.
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, 100, 1, 0);
        assert_eq!(
            s.take(t0),
            Slot {
                at: t0,
                late: false
            }
        );
        // The first reply took 25 ms: requests due at 10 and 20 ms go out at once, late,
        // still timed from their due times; at 30 ms it has caught up.
        let now = t0 + ms(25);
        assert_eq!(
            s.take(now),
            Slot {
                at: t0 + ms(10),
                late: true
            }
        );
        assert_eq!(
            s.take(now),
            Slot {
                at: t0 + ms(20),
                late: true
            }
        );
        assert_eq!(
            s.take(now),
            Slot {
                at: t0 + ms(30),
                late: false
            }
        );
        // Free exactly when due is on time.
        assert_eq!(
            s.take(t0 + ms(40)),
            Slot {
                at: t0 + ms(40),
                late: false
            }
        );
    }

    #[test]
    #[should_panic(expected = "rate above 0")]
    fn closed_loop_has_no_schedule() {
        let _ = Schedule::new(Instant::now(), 0, 1, 0);
    }
}
