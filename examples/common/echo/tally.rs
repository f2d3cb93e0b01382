//! What one client core counted, and how the cores' counts are merged into a [`Report`].
//!
//! Each core counts on its own (no shared counters on the hot path) and hands its
//! [`CoreTally`] back from `run_per_core`; the histograms are `Send`, so the merge on the
//! calling thread is exact: percentiles of the merged histogram, not averages of
//! per-core percentiles.

use super::client::LoadConfig;
use super::report::{ErrorCounts, Latency, Report};
use hdrhistogram::Histogram;
use ringio::runtime::Backend;
use std::time::Duration;

/// Highest latency the histograms tell apart: 60 s, far past any sane echo; slower
/// requests are recorded as 60 s rather than dropped.
const HIST_MAX_US: u64 = 60_000_000;
/// Significant digits of the histograms: 3 gives 0.1% resolution in a few tens of KiB.
const HIST_SIGFIGS: u8 = 3;

/// An empty microsecond histogram with the bounds every core uses (so any two merge).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIGS)
        .expect("constant histogram bounds are valid")
}

/// Counts of one client core.
#[derive(Clone, Debug)]
pub struct CoreTally {
    /// Most of this core's connections up at once.
    pub conns_up_peak: usize,
    /// Requests completed inside the measured window.
    pub requests: u64,
    /// Requests completed over the whole run.
    pub requests_total: u64,
    /// Requests of the window sent late (open loop only).
    pub behind: u64,
    /// Reply bytes checked over the whole run.
    pub bytes_verified: u64,
    /// Errors over the whole run.
    pub errors: ErrorCounts,
    /// Latency of the window's requests, µs (from the scheduled send time in open loop).
    pub latency_us: Histogram<u64>,
    /// How long after its scheduled time each request of the window went out, µs
    /// (open loop only): the client's own pacing error, included in `latency_us`.
    pub send_lag_us: Histogram<u64>,
}

impl Default for CoreTally {
    fn default() -> Self {
        CoreTally {
            conns_up_peak: 0,
            requests: 0,
            requests_total: 0,
            behind: 0,
            bytes_verified: 0,
            errors: ErrorCounts::default(),
            latency_us: new_histogram(),
            send_lag_us: new_histogram(),
        }
    }
}

impl CoreTally {
    /// Adds another core's counts to these.
    ///
    /// The connection peaks are added: each core's peak is its own, so the sum can
    /// overstate a moment when all were up only if connections also went down, which
    /// they do only on errors (and those are reported).
    pub fn merge(&mut self, other: &CoreTally) {
        self.conns_up_peak += other.conns_up_peak;
        self.requests += other.requests;
        self.requests_total += other.requests_total;
        self.behind += other.behind;
        self.bytes_verified += other.bytes_verified;
        self.errors.merge(&other.errors);
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms from new_histogram have the same bounds");
        self.send_lag_us
            .add(&other.send_lag_us)
            .expect("histograms from new_histogram have the same bounds");
    }

    /// The report of these counts for a run of `cfg` whose window lasted `measured`.
    pub fn report(&self, cfg: &LoadConfig, measured: Duration) -> Report {
        Report {
            conns: cfg.conns,
            conns_up: self.conns_up_peak,
            size: cfg.size,
            workers: cfg.workers,
            rate: cfg.rate,
            warmup: cfg.warmup,
            measured,
            requests: self.requests,
            requests_total: self.requests_total,
            behind: self.behind,
            latency: Latency::of(&self.latency_us),
            send_lag: Latency::of(&self.send_lag_us),
            bytes_verified: self.bytes_verified,
            errors: self.errors,
            server_usage: None,
            // The runtime's, filled in by `run_load`.
            backend: Backend::default(),
            fallback_reason: None,
        }
    }
}

/// Merges the tallies of every core (in any order: the sum does not depend on it).
pub fn merge_all(tallies: &[CoreTally]) -> CoreTally {
    let mut total = CoreTally::default();
    for t in tallies {
        total.merge(t);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::report::ErrorKind;
    use super::*;

    fn core(first_us: u64, n: u64, errors: &[ErrorKind]) -> CoreTally {
        let mut t = CoreTally {
            conns_up_peak: 10,
            requests: n,
            requests_total: n + 5,
            behind: 1,
            bytes_verified: 64 * (n + 5),
            ..CoreTally::default()
        };
        for us in first_us..first_us + n {
            t.latency_us.record(us).unwrap();
            t.send_lag_us.record(1).unwrap();
        }
        for &e in errors {
            t.errors.add(e);
        }
        t
    }

    #[test]
    fn cores_merge_into_exact_totals_and_percentiles() {
        // Core 0 saw 1..=500 µs, core 1 saw 501..=1000 µs: together a uniform 1..=1000.
        let a = core(1, 500, &[ErrorKind::Reset]);
        let b = core(501, 500, &[ErrorKind::Verify, ErrorKind::Verify]);
        let total = merge_all(&[a.clone(), b.clone()]);
        assert_eq!(total.requests, 1000);
        assert_eq!(total.requests_total, 1010);
        assert_eq!(total.behind, 2);
        assert_eq!(total.bytes_verified, 64 * 1010);
        assert_eq!(total.conns_up_peak, 20);
        assert_eq!(total.errors.total(), 3);
        assert_eq!(total.errors.get(ErrorKind::Verify), 2);
        let l = Latency::of(&total.latency_us);
        assert_eq!((l.p50, l.p99, l.max), (500, 990, 1000));
        assert_eq!(total.send_lag_us.len(), 1000);
        // Order does not matter.
        let other_way = merge_all(&[b, a]);
        assert_eq!(Latency::of(&other_way.latency_us), l);
        assert_eq!(other_way.requests, total.requests);
    }

    #[test]
    fn merging_nothing_is_empty() {
        let t = merge_all(&[]);
        assert_eq!((t.requests, t.errors.total()), (0, 0));
        assert_eq!(Latency::of(&t.latency_us), Latency::default());
    }

    #[test]
    fn tallies_can_be_sent_between_cores() {
        fn is_send<T: Send>() {}
        is_send::<CoreTally>();
    }
}
