//! `interval`, `interval_at` and the `Interval` ticker.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use crate::time::{Instant, Sleep, after, sleep_until};

/// Nanoseconds per second, to rebuild a `Duration` from a nanosecond count.
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Ticks every `period`, the first tick at once.
///
/// Ticks are scheduled at `start + k·period` where `start` is the moment `interval` was
/// called, so they do not drift however long the code between ticks takes. If the
/// task falls behind by a whole period or more, the missed ticks are skipped: the late
/// tick completes at the next loop turn and the following one is the next point of the
/// schedule after now (tokio calls this `MissedTickBehavior::Skip`). Ticks never
/// complete early and never come in a burst.
///
/// # Panics
///
/// Panics if `period` is zero. Polling a tick outside a ringio runtime panics.
///
/// # Examples
///
/// ```
/// use ringio::time::{interval, Instant};
/// use std::time::Duration;
///
/// ringio::run(async {
///     let start = Instant::now();
///     let mut ticks = interval(Duration::from_millis(10));
///     ticks.tick().await; // at once
///     ticks.tick().await;
///     ticks.tick().await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period` starting at `start` (the first tick completes at `start`).
///
/// Same schedule and missed-tick rules as [`interval`].
///
/// # Panics
///
/// Panics if `period` is zero. Polling a tick outside a ringio runtime panics.
///
/// # Examples
///
/// ```
/// use ringio::time::{interval_at, Instant};
/// use std::time::Duration;
///
/// ringio::run(async {
///     let start = Instant::now() + Duration::from_millis(5);
///     let mut ticks = interval_at(start, Duration::from_millis(10));
///     assert_eq!(ticks.tick().await, start);
///     // The next point of the schedule: start + 10 ms, or a later one if this task
///     // was more than a period late (missed ticks are skipped).
///     let second = ticks.tick().await;
///     assert!(second > start && (second - start).as_millis() % 10 == 0);
/// });
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(!period.is_zero(), "`interval` period must be non-zero");
    Interval {
        period,
        sleep: sleep_until(start),
        first: true,
    }
}

/// A ticker made by [`interval`]: [`tick`](Interval::tick) completes once per period.
///
/// With the feature `futures-core` it is also a `futures_core::Stream` of ticks.
///
/// # Examples
///
/// ```
/// use ringio::time::interval;
/// use std::time::Duration;
///
/// ringio::run(async {
///     let mut ticks = interval(Duration::from_millis(2));
///     for _ in 0..3 {
///         ticks.tick().await;
///     }
///     assert_eq!(ticks.period(), Duration::from_millis(2));
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    /// Its deadline is always the next scheduled tick.
    sleep: Sleep,
    /// The first tick may complete without yielding; later ones always go through the
    /// wheel so a task that is always late still yields once per tick.
    first: bool,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// # Panics
    ///
    /// Panics if polled outside a ringio runtime.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a tick is consumed only when this future completes, so dropping it
    /// early loses no tick.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::{interval, Instant};
    /// use std::time::Duration;
    ///
    /// ringio::run(async {
    ///     let mut ticks = interval(Duration::from_millis(5));
    ///     let first = ticks.tick().await;
    ///     let second = ticks.tick().await;
    ///     // One period later, or whole periods later on a machine too busy to keep up.
    ///     assert!(second > first && (second - first).as_millis() % 5 == 0);
    ///     assert!(Instant::now() >= second);
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick: the building block of [`tick`](Interval::tick) for
    /// hand-written futures.
    ///
    /// # Panics
    ///
    /// Panics if called outside a ringio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::interval;
    /// use std::future::poll_fn;
    /// use std::time::Duration;
    ///
    /// ringio::run(async {
    ///     let mut ticks = interval(Duration::from_millis(1));
    ///     poll_fn(|cx| ticks.poll_tick(cx)).await;
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let tick = self.sleep.deadline();
        if !(self.first && tick <= Instant::now()) {
            ready!(Pin::new(&mut self.sleep).poll(cx));
        }
        self.first = false;
        self.sleep
            .reset(next_tick(tick, Instant::now(), self.period));
        Poll::Ready(tick)
    }

    /// Restarts the schedule: the next tick comes one period from now.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::{interval, Instant};
    /// use std::time::Duration;
    ///
    /// ringio::run(async {
    ///     let mut ticks = interval(Duration::from_millis(5));
    ///     ticks.tick().await;
    ///     let before = Instant::now();
    ///     ticks.reset();
    ///     assert!(ticks.tick().await >= before + Duration::from_millis(5));
    /// });
    /// ```
    pub fn reset(&mut self) {
        self.first = false;
        self.sleep.reset(after(Instant::now(), self.period));
    }

    /// The time between two ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::interval;
    /// use std::time::Duration;
    ///
    /// assert_eq!(interval(Duration::from_secs(1)).period(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }
}

/// `async for` over the ticks: the same schedule as [`Interval::tick`].
///
/// Yields the instant each tick was scheduled for, with the same missed-tick rules as
/// [`interval`]. It never ends (never `None`): `StreamExt::take`, a `break` or a
/// timeout decides when to stop. It is not a `FusedStream`, as there is no end to report.
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
///
/// # Cancel safety
///
/// As [`Interval::tick`]: dropping a `next()` of `StreamExt` loses no tick.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
/// use ringio::time::interval;
/// use std::time::Duration;
///
/// ringio::run(async {
///     let mut ticks = interval(Duration::from_millis(2)).take(3);
///     let mut last = None;
///     while let Some(at) = ticks.next().await {
///         // Ticks keep the 2 ms schedule (a tick missed on a busy machine is skipped).
///         assert!(last.is_none_or(|l| at > l && (at - l).as_millis() % 2 == 0));
///         last = Some(at);
///     }
/// });
/// ```
#[cfg(feature = "futures-core")]
impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

/// The tick after `tick`: `tick + period`, or, when that is already past, the first
/// point of the schedule `tick + k·period` after `now` (missed ticks are skipped).
fn next_tick(tick: Instant, now: Instant, period: Duration) -> Instant {
    let next = after(tick, period);
    if next > now {
        return next;
    }
    let into_period = (now - tick).as_nanos() % period.as_nanos();
    let into_period = Duration::new(
        u64::try_from(into_period / NANOS_PER_SEC).expect("below `period`, so it fits"),
        u32::try_from(into_period % NANOS_PER_SEC).expect("below one second"),
    );
    now + (period - into_period)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn next_tick_follows_the_schedule_and_skips_missed_ticks() {
        let start = Instant::now();
        let period = ms(10);
        assert_eq!(next_tick(start, start, period), start + ms(10));
        assert_eq!(next_tick(start, start + ms(9), period), start + ms(10));
        assert_eq!(next_tick(start, start + ms(10), period), start + ms(20));
        assert_eq!(next_tick(start, start + ms(35), period), start + ms(40));
        assert_eq!(
            next_tick(start, start + ms(1_000), period),
            start + ms(1_010)
        );
    }
}
