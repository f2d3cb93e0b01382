//! Whether the loop has time to spare, and no more than that (rule 12): the share of wall
//! time its waits spent asleep, measured over windows of [`WINDOW`].

/// How often the choice is made again, in nanoseconds.
const WINDOW: u64 = 10_000_000;
/// The share of a window asleep at or above which a lazy loop turns to receiving at the
/// edge (below [`IDLE`]).
const ENTER: f64 = 0.10;
/// The share of a window asleep at or above which the loop is lightly loaded: its clients
/// send at their own pace, not as fast as its replies let them, so the edge's batches gain
/// them nothing and cost the server CPU per request (docs/epoll-measurements.md, "2026-12-07
/// midday": 2–3 % at 25,000 req/s over 50 connections, asleep 89 % of the time; closed
/// loops the client limits sleep 11–39 %).
const IDLE: f64 = 0.60;
/// A loop receiving at the edge turns lazy again after this many windows in a row outside
/// the band it entered by: asleep less than [`BUSY`] of the time, or [`IDLE`] or more.
/// Receiving at the edge gathers the sockets into large batches, and a loop that serves
/// them so can run for tens of milliseconds without a sleep where it still gains
/// (docs/epoll-measurements.md, "2026-12-07 morning"): one busy window is not enough to
/// leave, nor one idle one (a client that paused).
const LEAVE_AFTER: u32 = 32;
const BUSY: f64 = 0.05;

#[derive(Debug)]
pub(super) struct Spare {
    /// [`clock`] readings, and nanoseconds asleep since `window_start`.
    window_start: u64,
    asleep: u64,
    edge: bool,
    /// Windows in a row outside the edge's band (busy or idle), while at the edge.
    outside: u32,
}

impl Spare {
    /// Lazy until the first window has shown time to spare.
    pub(super) fn new() -> Spare {
        Spare {
            window_start: clock(),
            asleep: 0,
            edge: false,
            outside: 0,
        }
    }

    /// Whether a multishot receive runs at its socket's edge (else when its task polls).
    pub(super) fn receive_at_edge(&self) -> bool {
        self.edge
    }

    /// A wait that began at [`clock`] reading `slept_from` (`None`: one that could not
    /// sleep) has returned.
    pub(super) fn waited(&mut self, slept_from: Option<u64>) {
        self.waited_at(slept_from, clock());
    }

    /// [`waited`](Self::waited), the wait having returned at [`clock`] reading `now`.
    fn waited_at(&mut self, slept_from: Option<u64>, now: u64) {
        if let Some(t) = slept_from {
            self.asleep += now.saturating_sub(t);
        }
        let window = now.saturating_sub(self.window_start);
        if window >= WINDOW {
            self.close_window(self.asleep as f64 / window as f64);
            self.window_start = now;
            self.asleep = 0;
        }
    }

    /// The choice for the next window, after one that slept `share` of its time.
    fn close_window(&mut self, share: f64) {
        if !self.edge {
            self.edge = (ENTER..IDLE).contains(&share);
        } else if (BUSY..IDLE).contains(&share) {
            self.outside = 0;
        } else {
            self.outside += 1;
            if self.outside >= LEAVE_AFTER {
                self.edge = false;
                self.outside = 0;
            }
        }
    }

    #[cfg(test)]
    pub(super) fn fixed(edge: bool) -> Spare {
        Spare {
            window_start: clock() + 3600 * WINDOW,
            asleep: 0,
            edge,
            outside: 0,
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: read twice per wait that may sleep, so it is kept to
/// the vDSO call and integer arithmetic.
pub(super) fn clock() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live local the call fills; CLOCK_MONOTONIC cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_with_time_to_spare_turns_to_the_edge_at_once() {
        let mut s = Spare::new();
        s.close_window(ENTER / 2.0);
        assert!(!s.receive_at_edge());
        s.close_window(ENTER);
        assert!(s.receive_at_edge());
    }

    #[test]
    fn a_loop_asleep_most_of_the_time_stays_lazy() {
        let mut s = Spare::new();
        s.close_window(IDLE);
        assert!(!s.receive_at_edge(), "lightly loaded: nothing to gather");
        s.close_window(1.0);
        assert!(!s.receive_at_edge());
        s.close_window((ENTER + IDLE) / 2.0);
        assert!(s.receive_at_edge(), "in the band");
    }

    /// At the edge, `LEAVE_AFTER` windows in a row asleep `share` of the time turn the
    /// loop lazy; one window in the band breaks the run.
    fn leaves_only_after_a_run(share: f64) {
        let mut s = Spare::fixed(true);
        for _ in 1..LEAVE_AFTER {
            s.close_window(share);
        }
        s.close_window(BUSY);
        assert!(s.receive_at_edge(), "a window in the band breaks the run");
        for _ in 1..LEAVE_AFTER {
            s.close_window(share);
        }
        assert!(s.receive_at_edge(), "one window short of the run");
        s.close_window(share);
        assert!(!s.receive_at_edge());
    }

    #[test]
    fn only_a_run_of_busy_windows_turns_it_lazy_again() {
        leaves_only_after_a_run(0.0);
    }

    #[test]
    fn only_a_run_of_idle_windows_turns_it_lazy_again() {
        leaves_only_after_a_run(IDLE);
    }

    #[test]
    fn the_choice_is_made_once_a_window_has_passed() {
        let mut s = Spare::new();
        let t0 = s.window_start;
        // Asleep for the first 30 % of the window, then busy.
        s.waited_at(Some(t0), t0 + WINDOW * 3 / 10);
        s.waited_at(None, t0 + WINDOW / 2);
        assert!(!s.receive_at_edge(), "no window has passed yet");
        s.waited_at(None, t0 + WINDOW);
        assert!(s.receive_at_edge(), "a window with time to spare");
        let mut now = t0 + WINDOW;
        for _ in 0..LEAVE_AFTER {
            now += WINDOW;
            s.waited_at(None, now);
        }
        assert!(!s.receive_at_edge(), "windows without sleep");
    }

    #[test]
    fn the_clock_reads_monotonic_nanoseconds() {
        let a = clock();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = clock();
        assert!(b - a >= 2_000_000, "{a} then {b}");
    }
}
