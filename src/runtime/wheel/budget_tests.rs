//! The cascade budget (rule 5): with 100,000 timers, no `fire_expired` moves more than
//! `CASCADE_BUDGET` entries between lists, counted, while every timer still fires on the
//! first call that reaches its tick.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

use super::tests::XorShift;
use super::*;

const TIMERS: u64 = 100_000;

/// Counts wake-ups.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// How the simulated loop advances between two `fire_expired` calls.
#[derive(Clone, Copy)]
enum Pace {
    /// Sleeps until `next_deadline`, as the loop does with nothing else to run.
    Sleep,
    /// One tick per turn, as a loop kept busy by I/O (and no tick at all while
    /// `next_deadline` asks for another turn at once).
    EveryTick,
}

/// Arms `TIMERS` timers due at `from + [0, spread)` ms (clock first moved to `start`
/// ms), runs the loop until all fired, and returns the most entries one call moved.
/// Checks on the way that each call fires exactly the timers whose tick it reached.
fn storm(wheel: &mut TimerWheel, start: u64, from: u64, spread: u64, pace: Pace) -> usize {
    let origin = wheel.origin;
    let mut now = origin + Duration::from_millis(start);
    wheel.fire_expired(now);
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let mut rng = XorShift(0x5EED_1234_ABCD_0001);
    let mut ticks: Vec<u64> = (0..TIMERS)
        .map(|_| {
            let at = origin + Duration::from_millis(from + rng.below(spread));
            wheel.insert(at, waker.clone());
            wheel.tick_ceil(at)
        })
        .collect();
    ticks.sort_unstable();
    let mut most = wheel.moved;
    let mut turns = 0;
    while let Some(next) = wheel.next_deadline() {
        now = match pace {
            Pace::Sleep => now.max(next),
            Pace::EveryTick if next <= now => now,
            Pace::EveryTick => now + Duration::from_millis(1),
        };
        wheel.fire_expired(now);
        most = most.max(wheel.moved);
        turns += 1;
        let due = ticks.partition_point(|&t| t <= wheel.tick_floor(now));
        assert_eq!(
            count.0.load(Ordering::Relaxed),
            due,
            "at tick {}: fired vs due (none early, none late)",
            wheel.tick_floor(now)
        );
        assert!(turns < 10_000_000, "the loop never ends");
    }
    assert_eq!(count.0.load(Ordering::Relaxed), TIMERS as usize);
    most
}

fn assert_within_budget(most: usize) {
    assert!(
        most <= CASCADE_BUDGET,
        "one fire_expired moved {most} entries; the budget is {CASCADE_BUDGET}"
    );
}

#[test]
fn one_level_2_slot_of_100k_moves_within_the_budget_per_call() {
    // Ticks 4096..8192: one slot of level 2, all due to move at tick 4096.
    let mut wheel = TimerWheel::new();
    assert_within_budget(storm(&mut wheel, 0, 4_100, 4_090, Pace::Sleep));
    let mut wheel = TimerWheel::new();
    assert_within_budget(storm(&mut wheel, 0, 4_100, 4_090, Pace::EveryTick));
}

#[test]
fn deadlines_over_1_to_60_s_move_within_the_budget_per_call() {
    let mut wheel = TimerWheel::new();
    assert_within_budget(storm(&mut wheel, 0, 1_000, 59_000, Pace::Sleep));
}

#[test]
fn a_level_3_slot_of_100k_moves_within_the_budget_per_call() {
    // At 210 s, deadlines 263..323 s all sit in the level-3 slot that starts at tick
    // 262,144, as timers armed 1–60 s ahead do once a runtime has run that long.
    let mut wheel = TimerWheel::new();
    assert_within_budget(storm(&mut wheel, 210_000, 263_000, 60_000, Pace::Sleep));
}
