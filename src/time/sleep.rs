//! `sleep`, `sleep_until` and the `Sleep` future.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::runtime::handle::{TimerKey, try_with_timers, with_timers};
use crate::time::{Instant, after};

/// Waits until `duration` has passed.
///
/// The deadline is fixed when `sleep` is called, not when the future is first polled.
/// The wait ends at the first loop turn after the deadline (1 ms resolution, never
/// early). A deadline already passed at the first poll (a zero duration) completes at
/// once, without a timer; use `ringio::yield_now` to give other tasks a turn. A duration too large for the
/// clock sleeps for 30 years.
///
/// # Panics
///
/// Polling the returned future outside a ringio runtime panics.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future removes its timer and loses nothing.
///
/// # Examples
///
/// ```
/// use ringio::time::{sleep, Instant};
/// use std::time::Duration;
///
/// ringio::run(async {
///     let start = Instant::now();
///     sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
#[doc(alias = "asyncio.sleep")]
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(after(Instant::now(), duration))
}

/// Waits until `deadline`.
///
/// A deadline already passed completes at once, without registering a timer.
///
/// # Panics
///
/// Polling the returned future outside a ringio runtime panics.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future removes its timer and loses nothing.
///
/// # Examples
///
/// ```
/// use ringio::time::{sleep_until, Instant};
/// use std::time::Duration;
///
/// ringio::run(async {
///     let deadline = Instant::now() + Duration::from_millis(10);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
#[doc(alias = "asyncio.sleep")]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        entry: TimerEntry::new(deadline),
        _per_core: PhantomData,
    }
}

/// Future returned by [`sleep`] and [`sleep_until`]: completes at its deadline.
///
/// It registers with the timer wheel of the current core when first polled and removes
/// itself when dropped. It is `Unpin`, so it can be awaited by `&mut` and reset in place.
/// It is `!Send`: once registered it belongs to its core's wheel.
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(ringio::time::sleep(std::time::Duration::from_secs(1)));
/// ```
///
/// # Examples
///
/// ```
/// use ringio::time::{sleep, Instant};
/// use std::time::Duration;
///
/// ringio::run(async {
///     let mut nap = sleep(Duration::from_secs(3600));
///     nap.reset(Instant::now() + Duration::from_millis(5));
///     (&mut nap).await;
///     assert!(Instant::now() >= nap.deadline());
/// });
/// ```
#[doc(alias = "asyncio.sleep")]
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct Sleep {
    entry: TimerEntry,
    /// `!Send` and `!Sync`: a registered timer lives in one core's wheel (rule 4).
    _per_core: PhantomData<*const ()>,
}

impl Sleep {
    /// The instant at which this sleep completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::{sleep_until, Instant};
    /// use std::time::Duration;
    ///
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(sleep_until(deadline).deadline(), deadline);
    /// ```
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.entry.deadline()
    }

    /// Moves the deadline, even after the sleep has completed; the sleep then waits again.
    ///
    /// A registered timer keeps its waker, so a task already waiting on this sleep is
    /// woken at the new deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::time::{sleep, Instant};
    /// use std::time::Duration;
    ///
    /// ringio::run(async {
    ///     let mut nap = sleep(Duration::from_millis(1));
    ///     (&mut nap).await;
    ///     let again = Instant::now() + Duration::from_millis(5);
    ///     nap.reset(again);
    ///     (&mut nap).await;
    ///     assert!(Instant::now() >= again);
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.entry.reset(deadline);
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.entry.poll(cx)
    }
}

/// A deadline and its entry in the core's timer wheel: what [`Sleep`] is, without its tie
/// to one thread. The wheel key is plain data naming its wheel, so this is `Send + Sync`
/// (what `compat::HyperTimer`'s sleeps need): polled on a thread whose wheel does not own
/// the key, it registers there afresh; dropped there, it leaves the old entry to fire and
/// wake a task that no longer waits (`TimerWheel::owns`).
#[derive(Debug)]
pub(crate) struct TimerEntry {
    deadline: Instant,
    /// The wheel entry, from the first poll until completion or drop.
    key: Option<TimerKey>,
    done: bool,
}

impl TimerEntry {
    pub(crate) fn new(deadline: Instant) -> TimerEntry {
        TimerEntry {
            deadline,
            key: None,
            done: false,
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// As [`Sleep::reset`].
    pub(crate) fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.done = false;
        if let Some(key) = self.key {
            let moved = try_with_timers(|timers| {
                let mut timers = timers.borrow_mut();
                timers.owns(key) && timers.reset(key, deadline.into_std())
            });
            if moved != Some(true) {
                // Fired and freed, or from a wheel that is gone: register on next poll.
                self.key = None;
            }
        }
    }

    /// Ready once the deadline passed; until then the wheel wakes `cx`'s waker.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        let poll = with_timers(|timers| {
            let mut timers = timers.borrow_mut();
            match self.key {
                Some(key) if timers.owns(key) => timers.poll_timer(key, cx.waker()),
                // A deadline already passed completes at once: no timer, no extra loop turn
                // (what makes `timeout(Duration::ZERO, op)` a cheap "only if ready now").
                None if self.deadline <= Instant::now() => Poll::Ready(()),
                // First poll, or a key from an earlier runtime on this thread.
                _ => {
                    let key = timers.insert(self.deadline.into_std(), cx.waker().clone());
                    self.key = Some(key);
                    Poll::Pending
                }
            }
        });
        if poll.is_ready() {
            self.key = None;
            self.done = true;
        }
        poll
    }
}

impl Drop for TimerEntry {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        // Outside the runtime or during thread-local teardown the wheel is already gone.
        // If the wheel is borrowed (a waker dropped its task inside `fire_expired`) the
        // entry is left to fire; it then only wakes a task that no longer exists.
        let waker = try_with_timers(|timers| {
            let mut timers = timers.try_borrow_mut().ok()?;
            timers.remove(key)
        });
        // Dropping a waker can run a task's teardown: do it with the wheel released.
        drop(waker);
    }
}
