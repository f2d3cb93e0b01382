//! A core's clock, which tests may pause and advance (feature `test-util`).
//!
//! Rules:
//! 1. **Per core.** Each core owns one clock, as it owns one timer wheel: pausing it
//!    freezes the time of the calling core's tasks and timers only. Tasks never leave
//!    their core, so a core's clock is all its timers ever read.
//! 2. **Never backwards.** The clock is `real + offset` while running and
//!    `paused_at + offset` while paused; `offset` only grows (advances and jumps add to
//!    it), and resuming keeps it, so the time read after `resume` is at or after the
//!    paused time.
//! 3. **On the tick.** Pausing moves the clock up (by less than 1 ms) to the wheel's next
//!    tick, so whole-millisecond sleeps and advances land exactly on their ticks.
//! 4. **Jumps are the loop's.** While paused, only `advance` and the loop's jump to the
//!    next deadline move the clock (`core.rs`, `Core::turn`).
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::time::{Duration, Instant};

/// One core's clock (rules above).
#[derive(Debug, Default)]
pub(crate) struct Clock {
    /// The real time at which the clock was paused, while it is.
    paused_at: Cell<Option<Instant>>,
    /// Virtual time added to the real clock (rule 2).
    offset: Cell<Duration>,
}

impl Clock {
    /// The current time on this clock.
    pub(crate) fn now(&self) -> Instant {
        self.paused_at.get().unwrap_or_else(Instant::now) + self.offset.get()
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused_at.get().is_some()
    }

    /// Freezes the clock, moved up to `align(now)` (rule 3); `false` if already paused.
    pub(crate) fn pause(&self, align: impl FnOnce(Instant) -> Instant) -> bool {
        if self.is_paused() {
            return false;
        }
        let real = Instant::now();
        let now = real + self.offset.get();
        let aligned = align(now);
        self.offset
            .set(self.offset.get() + aligned.saturating_duration_since(now));
        self.paused_at.set(Some(real));
        true
    }

    /// Lets the clock run again from where it stands (rule 2); `false` if not paused.
    pub(crate) fn resume(&self) -> bool {
        self.paused_at.take().is_some()
    }

    /// Moves the clock forward to `to`; a `to` in the past changes nothing (rule 2).
    pub(crate) fn advance_to(&self, to: Instant) {
        let by = to.saturating_duration_since(self.now());
        self.offset.set(self.offset.get() + by);
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;
    use std::time::Duration;

    #[test]
    fn paused_clock_stands_still_and_moves_only_forward() {
        let clock = Clock::default();
        assert!(clock.pause(|now| now));
        assert!(!clock.pause(|now| now), "a second pause is refused");
        let frozen = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), frozen);
        clock.advance_to(frozen + Duration::from_secs(5));
        assert_eq!(clock.now(), frozen + Duration::from_secs(5));
        clock.advance_to(frozen);
        assert_eq!(
            clock.now(),
            frozen + Duration::from_secs(5),
            "never backwards"
        );
        assert!(clock.resume());
        assert!(!clock.resume(), "resuming a running clock is refused");
        assert!(clock.now() >= frozen + Duration::from_secs(5));
    }

    #[test]
    fn pause_aligns_forward() {
        let clock = Clock::default();
        let mut seen = None;
        clock.pause(|now| {
            seen = Some(now);
            now + Duration::from_micros(300)
        });
        let seen = seen.expect("align is called");
        assert_eq!(clock.now(), seen + Duration::from_micros(300));
    }
}
