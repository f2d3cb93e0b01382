//! 100,000 sleeps due in one slot of the timer wheel's level 2 (ticks 4096..8192), the
//! case where the wheel stages the slot ahead over many loop turns instead of moving it
//! whole in one (`runtime/wheel.rs`, rule 5): on a paused clock each sleep must still
//! end exactly on its deadline, whether the loop jumps the clock or `advance` does.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use ringio::JoinHandle;
use ringio::time::{Instant, advance, pause, sleep_until};
use support::Rng;

const SLEEPS: usize = 100_000;

/// Wall time a storm may take: it measured about 1.5 s (debug build, 2 loaded cores);
/// the watchdog only catches a loop that stops making progress.
const WALL_LIMIT: Duration = Duration::from_secs(120);

/// Each sleep's deadline and the virtual time it woke at.
type Log = Rc<RefCell<Vec<(Instant, Instant)>>>;

/// Spawns `SLEEPS` sleeps due 4.2 to 8.1 s after `start` (one level-2 slot of the wheel,
/// whose tick 0 is a few milliseconds before `start`), each logging when it woke.
fn arm(start: Instant) -> (Log, Vec<JoinHandle<()>>) {
    let woken = Rc::new(RefCell::new(Vec::with_capacity(SLEEPS)));
    let mut rng = Rng::new(0x0BAD_5EED_F00D_CAFE);
    let handles = (0..SLEEPS)
        .map(|_| {
            let deadline = start + Duration::from_millis(4_200 + rng.below(3_900));
            let woken = Rc::clone(&woken);
            ringio::spawn(async move {
                sleep_until(deadline).await;
                woken.borrow_mut().push((deadline, Instant::now()));
            })
        })
        .collect();
    (woken, handles)
}

fn assert_on_their_tick(woken: &[(Instant, Instant)], start: Instant) {
    assert_eq!(woken.len(), SLEEPS, "every sleep ends");
    for (deadline, at) in woken {
        // Whole-millisecond deadlines on a paused clock fire exactly on their tick:
        // before it would be early, after it late.
        assert_eq!(
            *at - start,
            *deadline - start,
            "a sleep woke at another virtual time than its deadline"
        );
    }
}

#[test]
fn a_level_2_slot_of_100k_sleeps_fires_on_time_as_the_loop_jumps_the_clock() {
    support::watchdog("a_level_2_slot_of_100k_sleeps_loop", WALL_LIMIT);
    let (woken, start) = ringio::run(async {
        pause();
        let start = Instant::now();
        let (woken, handles) = arm(start);
        // The loop jumps the clock whenever every task waits.
        for handle in handles {
            handle.await.expect("a sleeping task failed");
        }
        (woken.take(), start)
    });
    assert_on_their_tick(&woken, start);
}

#[test]
fn a_level_2_slot_of_100k_sleeps_fires_on_time_under_advance() {
    support::watchdog("a_level_2_slot_of_100k_sleeps_advance", WALL_LIMIT);
    let (woken, start, end) = ringio::run(async {
        pause();
        let start = Instant::now();
        let (woken, _handles) = arm(start);
        ringio::yield_now().await; // let the tasks register their sleeps
        advance(Duration::from_millis(4_199)).await;
        assert!(woken.borrow().is_empty(), "nothing is due before 4.2 s");
        advance(Duration::from_millis(3_901)).await;
        (woken.take(), start, Instant::now())
    });
    assert_eq!(end - start, Duration::from_millis(8_100));
    assert_on_their_tick(&woken, start);
}
