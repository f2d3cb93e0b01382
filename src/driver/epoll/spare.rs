//! Whether the loop has time to spare (rule 12): the share of wall time its waits spent
//! asleep, measured over windows of [`WINDOW`].

/// How often the choice is made again, in nanoseconds.
const WINDOW: u64 = 10_000_000;
/// The share of a window asleep at or above which a lazy loop turns to receiving at the
/// edge.
const ENTER: f64 = 0.10;
/// A loop receiving at the edge turns lazy again after this many windows in a row spent
/// asleep less than [`BUSY`] of the time. Receiving at the edge gathers the sockets into
/// large batches, and a loop that serves them so can run for tens of milliseconds without
/// a sleep where it still gains (docs/epoll-measurements.md, "2026-12-07 morning"): one
/// busy window is not enough to leave.
const LEAVE_AFTER: u32 = 32;
const BUSY: f64 = 0.05;

#[derive(Debug)]
pub(super) struct Spare {
    /// [`clock`] readings, and nanoseconds asleep since `window_start`.
    window_start: u64,
    asleep: u64,
    edge: bool,
    /// Busy windows in a row, while at the edge.
    busy: u32,
}

impl Spare {
    /// Lazy until the first window has shown time to spare.
    pub(super) fn new() -> Spare {
        Spare {
            window_start: clock(),
            asleep: 0,
            edge: false,
            busy: 0,
        }
    }

    /// Whether a multishot receive runs at its socket's edge (else when its task polls).
    pub(super) fn receive_at_edge(&self) -> bool {
        self.edge
    }

    /// A wait that began at [`clock`] reading `slept_from` (`None`: one that could not
    /// sleep) has returned.
    pub(super) fn waited(&mut self, slept_from: Option<u64>) {
        let now = clock();
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
            self.edge = share >= ENTER;
        } else if share < BUSY {
            self.busy += 1;
            if self.busy >= LEAVE_AFTER {
                self.edge = false;
                self.busy = 0;
            }
        } else {
            self.busy = 0;
        }
    }

    #[cfg(test)]
    pub(super) fn fixed(edge: bool) -> Spare {
        Spare {
            window_start: clock() + 3600 * WINDOW,
            asleep: 0,
            edge,
            busy: 0,
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
    fn a_loop_that_sleeps_turns_to_the_edge_at_once() {
        let mut s = Spare::new();
        s.close_window(ENTER / 2.0);
        assert!(!s.receive_at_edge());
        s.close_window(ENTER);
        assert!(s.receive_at_edge());
    }

    #[test]
    fn only_a_run_of_busy_windows_turns_it_lazy_again() {
        let mut s = Spare::fixed(true);
        for _ in 1..LEAVE_AFTER {
            s.close_window(0.0);
        }
        s.close_window(BUSY);
        assert!(
            s.receive_at_edge(),
            "a window with some sleep breaks the run"
        );
        for _ in 1..LEAVE_AFTER {
            s.close_window(0.0);
        }
        assert!(s.receive_at_edge(), "one busy window short of the run");
        s.close_window(0.0);
        assert!(!s.receive_at_edge());
    }

    #[test]
    fn the_choice_is_made_once_a_window_has_passed() {
        let mut s = Spare::new();
        let start = clock();
        s.waited(Some(start));
        assert!(!s.receive_at_edge(), "no window has passed yet");
        std::thread::sleep(std::time::Duration::from_nanos(WINDOW));
        s.waited(Some(start));
        assert!(s.receive_at_edge(), "a window spent asleep");
        for _ in 0..LEAVE_AFTER {
            let busy = clock();
            while clock() - busy < WINDOW {
                s.waited(None);
            }
            s.waited(None);
        }
        assert!(!s.receive_at_edge(), "windows without sleep");
    }
}
