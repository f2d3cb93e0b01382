//! `pause`, `advance` and `resume`: a paused clock for tests (feature `test-util`).

use std::cell::RefCell;
use std::time::Duration;

use crate::runtime::handle::{Clock, TimerWheel, with_clock};
use crate::time::{Instant, after};

/// Freezes the clock of the current core at now.
///
/// From then on [`Instant::now`] and every timer of this core (`sleep`, `timeout`,
/// `interval`) read a virtual clock that moves only when:
/// - [`advance`] moves it, or
/// - every task of the core is idle and a timer is pending: the loop then polls the ring
///   without waiting and, if that brings nothing to run, jumps the clock to the next
///   deadline instead of sleeping until it. I/O in flight still completes for real.
///
/// The clock is the core's, not the runtime's: each core has its own timer wheel and
/// loop, and whether every task is idle is a fact about one core, so other cores of a
/// `workers(n)` runtime keep real time. Pausing moves the clock up, by less than 1 ms,
/// to the next tick of the core's 1 ms timer wheel, so sleeps and advances of whole
/// milliseconds line up exactly. The pause lasts until [`resume`] or the end of the
/// runtime.
///
/// Only what is ready at that poll holds the clock back. Work still under way elsewhere
/// does not: an operation the kernel finishes later (a file read handed to io_uring's
/// workers, a peer answering from another thread), or a job on the blocking pool
/// (`spawn_blocking`, name lookups, files on the epoll backend). A timeout around such
/// work may therefore expire at once in virtual time; give it a task that is ready, or
/// `resume` around it.
///
/// # Panics
///
/// Outside a ringio runtime, or if this core's clock is already paused.
///
/// # Examples
///
/// ```
/// use ringio::time::{pause, sleep, Instant};
/// use std::time::Duration;
///
/// ringio::run(async {
///     pause();
///     let start = Instant::now();
///     let wall = std::time::Instant::now();
///     sleep(Duration::from_secs(3600)).await; // jumps: nothing else to do
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
///     assert!(wall.elapsed() < Duration::from_secs(60));
/// });
/// ```
#[track_caller]
pub fn pause() {
    let paused = with_clock(|clock, timers| {
        let timers = timers.borrow();
        clock.pause(|now| timers.tick_at_or_after(now))
    });
    match paused {
        Some(true) => {}
        Some(false) => panic!(
            "ringio::time::pause(): the clock of this core is already paused; \
             call ringio::time::resume() before pausing it again"
        ),
        None => panic!("{}", outside("pause()")),
    }
}

/// Lets the clock of the current core run again.
///
/// The time already advanced stays added, so the clock goes on from the paused time and
/// never goes backwards.
///
/// # Panics
///
/// Outside a ringio runtime, or if this core's clock is not paused.
///
/// # Examples
///
/// ```
/// use ringio::time::{advance, pause, resume, Instant};
/// use std::time::Duration;
///
/// ringio::run(async {
///     pause();
///     advance(Duration::from_secs(10)).await;
///     let paused = Instant::now();
///     resume();
///     assert!(Instant::now() >= paused);
/// });
/// ```
#[track_caller]
pub fn resume() {
    match with_clock(|clock, _| clock.resume()) {
        Some(true) => {}
        Some(false) => panic!(
            "ringio::time::resume(): the clock of this core is not paused; \
             call ringio::time::pause() first"
        ),
        None => panic!("{}", outside("resume()")),
    }
}

/// Moves the paused clock of the current core forward by `duration`, firing every timer
/// due by then.
///
/// The clock steps from deadline to deadline: each due timer fires, in deadline order,
/// with the clock at its deadline (rounded up to the 1 ms tick, as always), and the tasks
/// it woke run before the clock moves on, so a timer they set within the window fires
/// too. Timers due after `now + duration` do not fire. Before it returns, the tasks woken
/// by the last step have run. A duration too large for the clock advances 30 years.
///
/// # Panics
///
/// When polled outside a ringio runtime, or if this core's clock is not paused.
///
/// # Cancel safety
///
/// Dropping the future stops the clock where it stands; the timers fired so far stay
/// fired.
///
/// # Examples
///
/// ```
/// use ringio::time::{advance, pause, sleep};
/// use std::time::Duration;
///
/// ringio::run(async {
///     pause();
///     let nap = ringio::spawn(sleep(Duration::from_secs(30)));
///     ringio::yield_now().await; // let the task register its timer
///     advance(Duration::from_secs(29)).await;
///     assert!(!nap.is_finished());
///     advance(Duration::from_secs(1)).await;
///     assert!(nap.is_finished());
/// });
/// ```
pub async fn advance(duration: Duration) {
    let target = with_clock(|clock, _| {
        clock
            .is_paused()
            .then(|| after(Instant::from(clock.now()), duration).into_std())
    });
    let target = match target {
        Some(Some(target)) => target,
        Some(None) => panic!(
            "ringio::time::advance({duration:?}): the clock of this core is not paused; \
             call ringio::time::pause() first"
        ),
        None => panic!("{}", outside("advance()")),
    };
    loop {
        let reached = with_clock(|clock, timers| step(clock, timers, target))
            .unwrap_or_else(|| panic!("{}", outside("advance()")));
        crate::yield_now().await;
        if reached {
            return;
        }
    }
}

/// Moves the clock to the next deadline before `target` (or to `target`) and fires what
/// is due there. Returns whether `target` was reached.
fn step(clock: &Clock, timers: &RefCell<TimerWheel>, target: std::time::Instant) -> bool {
    let mut timers = timers.borrow_mut();
    let (to, reached) = match timers.next_deadline() {
        Some(next) if next < target => (next, false),
        _ => (target, true),
    };
    clock.advance_to(to);
    timers.fire_expired(clock.now());
    reached
}

fn outside(what: &str) -> String {
    format!(
        "ringio::time::{what} must be called from inside a ringio runtime \
         (within ringio::run, Runtime::block_on or #[ringio::test])"
    )
}
