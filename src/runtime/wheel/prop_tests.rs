//! Property test: the wheel against a `BTreeMap` model under random inserts, cancels and
//! clock jumps (sub-tick steps up to jumps past the wheel's span, into `overflow`), and
//! loop turns that sleep until `next_deadline`. The wheel runs with a tiny cascade
//! budget so that staging, bank swaps and large-slot wake-ups (rules 4 and 5) happen
//! within a few timers; every list is checked against the rules after each step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::Wake;

use proptest::prelude::*;

use super::*;
use crate::test_util::proptest_config;

/// Logs its timer's id when woken.
struct Fired {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for Fired {
    fn wake(self: Arc<Self>) {
        self.log
            .lock()
            .expect("no test panics holding it")
            .push(self.id);
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// A timer due this many microseconds from now.
    Insert(u64),
    /// Removes the n-th timer ever inserted (modulo their number): pending or fired.
    Cancel(usize),
    /// Moves the clock this many microseconds forward and fires what expired.
    Advance(u64),
    /// Moves the clock to `next_deadline` (if later) and fires, as the loop does when it
    /// sleeps: such a turn moves at most the budget (rule 5).
    Sleep,
}

/// Entries one `fire_expired` may move here, and the size past which a slot is large:
/// tiny, so a handful of timers reach every path of rules 4 and 5.
const BUDGET: usize = 9 * LARGE + 3;
const LARGE: usize = 2;

/// Microseconds: sub-tick, within level 0, a few levels up, and past `WHEEL_SPAN` ticks.
fn span() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..3_000,
        3 => 0u64..300_000,
        2 => 0u64..100_000_000_000,
        1 => (WHEEL_SPAN * 1_000 - 50_000_000)..(WHEEL_SPAN * 3_000),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => span().prop_map(Op::Insert),
        1 => any::<usize>().prop_map(Op::Cancel),
        3 => span().prop_map(Op::Advance),
        3 => Just(Op::Sleep),
    ]
}

/// Fires at `now` and checks what fired against the model: exactly the live timers whose
/// deadline tick has passed, none early, in deadline-tick order.
fn fire_and_check(
    wheel: &mut TimerWheel,
    now: Instant,
    live: &mut BTreeMap<usize, (u64, Instant)>,
    log: &Arc<Mutex<Vec<usize>>>,
) -> Result<(), TestCaseError> {
    let count = wheel.fire_expired(now);
    let fired = std::mem::take(&mut *log.lock().expect("no test panics holding it"));
    prop_assert_eq!(count, fired.len());
    let now_tick = wheel.tick_floor(now);
    let mut last_tick = 0;
    for id in &fired {
        let Some((tick, deadline)) = live.remove(id) else {
            return Err(TestCaseError::fail(format!(
                "timer {id} fired but was cancelled or had fired"
            )));
        };
        prop_assert!(deadline <= now, "timer {} fired early", id);
        prop_assert!(
            tick >= last_tick,
            "timer {} (tick {}) fired after tick {}",
            id,
            tick,
            last_tick
        );
        last_tick = tick;
    }
    let late: Vec<_> = live
        .iter()
        .filter(|(_, (tick, _))| *tick <= now_tick)
        .collect();
    prop_assert!(
        late.is_empty(),
        "due at tick {} and not fired: {:?}",
        now_tick,
        late
    );
    prop_assert_eq!(wheel.len(), live.len());
    Ok(())
}

/// What a turn at the current tick may stage beyond the budget: after a jump into the
/// second half of a staging window, what is left over the ticks left (`stage`).
fn catch_up(wheel: &TimerWheel) -> usize {
    let Some((start, k)) = wheel.boundary() else {
        return 0;
    };
    let ticks_left = start - wheel.elapsed;
    match wheel.boundary_list(k, start).indexes() {
        Some((bank, level, slot)) if ticks_left <= SLOTS as u64 / 2 => {
            (wheel.counts[bank][level][slot] as usize).div_ceil(ticks_left as usize)
        }
        _ => 0,
    }
}

proptest! {
    #![proptest_config(proptest_config(1024))]

    #[test]
    fn wheel_fires_each_live_timer_once_in_order(ops in prop::collection::vec(op(), 0..150)) {
        let origin = Instant::now();
        let mut wheel = TimerWheel::with_budget(origin, BUDGET, LARGE);
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut now = origin;
        let mut keys = Vec::new();
        let mut live = BTreeMap::new();
        for op in ops {
            match op {
                Op::Insert(us) => {
                    let id = keys.len();
                    let deadline = now + Duration::from_micros(us);
                    let waker = Waker::from(Arc::new(Fired { id, log: log.clone() }));
                    keys.push(wheel.insert(deadline, waker));
                    live.insert(id, (wheel.tick_ceil(deadline), deadline));
                }
                Op::Cancel(n) if !keys.is_empty() => {
                    let id = n % keys.len();
                    wheel.remove(keys[id]);
                    live.remove(&id);
                    prop_assert_eq!(wheel.len(), live.len());
                }
                Op::Cancel(_) => {}
                Op::Advance(us) => {
                    now += Duration::from_micros(us);
                    fire_and_check(&mut wheel, now, &mut live, &log)?;
                }
                Op::Sleep => {
                    // The overflow list moves whole at its boundary (rule 5's exception).
                    let bounded = wheel.overflow.is_none();
                    let catch_up = catch_up(&wheel);
                    if let Some(next) = wheel.next_deadline() {
                        now = now.max(next);
                    }
                    fire_and_check(&mut wheel, now, &mut live, &log)?;
                    prop_assert!(
                        !bounded || wheel.moved <= BUDGET.max(catch_up),
                        "a turn woken at next_deadline moved {} entries", wheel.moved
                    );
                }
            }
            super::tests::check_invariants(&wheel);
            // The loop's sleep bound: never after the earliest live deadline.
            match (wheel.next_deadline(), live.values().map(|(_, d)| *d).min()) {
                (Some(bound), Some(earliest)) => prop_assert!(
                    bound <= earliest + Duration::from_millis(TICK_MILLIS),
                    "next_deadline {:?} after the earliest deadline {:?}", bound, earliest
                ),
                (None, Some(earliest)) => {
                    prop_assert!(false, "no deadline with {:?} pending", earliest)
                }
                (_, None) => {}
            }
        }
        // Far enough that every live timer is due: each fires now, once.
        now += Duration::from_millis(WHEEL_SPAN * 4);
        fire_and_check(&mut wheel, now, &mut live, &log)?;
        prop_assert!(live.is_empty());
        prop_assert_eq!(wheel.next_deadline(), None);
    }
}
