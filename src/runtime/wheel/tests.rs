//! Unit tests for the timing wheel: pure logic, driven with synthetic instants.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::task::Wake;

use super::*;

/// Pushes its id into a shared log when woken.
struct Record {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for Record {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

fn recorder(id: usize, log: &Arc<Mutex<Vec<usize>>>) -> Waker {
    Waker::from(Arc::new(Record {
        id,
        log: Arc::clone(log),
    }))
}

fn drain(log: &Arc<Mutex<Vec<usize>>>) -> Vec<usize> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// xorshift64: enough randomness for test inputs without another crate (the budget tests
/// use it too).
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn assert_empty(wheel: &mut TimerWheel) {
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_deadline(), None);
    assert!(wheel.entries.iter().all(|(_, entry)| entry.list.is_none()));
    assert_eq!(wheel.occupied, [[0; LEVELS]; BANKS]);
    assert_eq!(wheel.large, [[0; LEVELS]; BANKS]);
    assert!(wheel.counts.iter().flatten().flatten().all(|&n| n == 0));
    assert!(wheel.heads.iter().flatten().flatten().all(Option::is_none));
    assert!(wheel.expired.is_none() && wheel.overflow.is_none());
}

#[test]
fn fires_10k_random_deadlines_in_order_never_early_never_late() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let deadlines: Vec<Instant> = (0..10_000)
        .map(|_| origin + us(rng.below(10_000_000)))
        .collect();
    for (id, &deadline) in deadlines.iter().enumerate() {
        wheel.insert(deadline, recorder(id, &log));
    }
    let (mut now, mut last_tick, mut fired) = (origin, 0, 0);
    while fired < deadlines.len() {
        let before = now;
        now += us(rng.below(3_000));
        let count = wheel.fire_expired(now);
        let woken = drain(&log);
        assert_eq!(count, woken.len());
        for id in woken {
            let tick = wheel.tick_ceil(deadlines[id]);
            assert!(deadlines[id] <= now, "timer {id} fired early");
            assert!(tick > wheel.tick_floor(before), "timer {id} fired late");
            assert!(tick >= last_tick, "timer {id} fired out of order");
            last_tick = tick;
        }
        fired += count;
    }
    assert_eq!(wheel.len(), 0);
}

#[test]
fn never_fires_before_the_deadline_within_a_tick() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let log = Arc::new(Mutex::new(Vec::new()));
    wheel.insert(origin + us(1_500), recorder(0, &log));
    wheel.insert(origin + ms(2), recorder(1, &log));
    assert_eq!(wheel.next_deadline(), Some(origin + ms(2)));
    assert_eq!(wheel.fire_expired(origin + us(1_500)), 0);
    assert_eq!(
        wheel.fire_expired(origin + ms(2) - Duration::from_nanos(1)),
        0
    );
    assert_eq!(wheel.fire_expired(origin + ms(2)), 2);
    let mut woken = drain(&log);
    woken.sort_unstable();
    assert_eq!(woken, [0, 1]);
}

#[test]
fn remove_leaves_nothing_behind() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let mut rng = XorShift(42);
    let mut keys: Vec<TimerKey> = (0..1_000)
        .map(|_| wheel.insert(origin + ms(rng.below(1 << 40)), Waker::noop().clone()))
        .collect();
    assert_eq!(wheel.len(), 1_000);
    while !keys.is_empty() {
        let i = rng.below(keys.len() as u64) as usize;
        wheel.remove(keys.swap_remove(i));
    }
    assert_empty(&mut wheel);
    assert!(wheel.entries.is_empty());
    assert_eq!(wheel.fire_expired(origin + ms(1 << 41)), 0);
}

/// Walks the wheel from one deadline to the next and checks each fires exactly there.
fn walk_deadlines(start_ms: u64) {
    const HOUR: u64 = 3_600_000;
    let offsets: &[u64] = &[
        0,
        1,
        2,
        63,
        64,
        65,
        127,
        128,
        4_095,
        4_096,
        4_097,
        262_143,
        262_144,
        262_145,
        HOUR,
        5 * HOUR,
        72 * HOUR,
        WHEEL_SPAN - 1,
        WHEEL_SPAN,
        WHEEL_SPAN + 1,
        3 * 365 * 24 * HOUR,
    ];
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    wheel.fire_expired(origin + ms(start_ms));
    let base = origin + ms(start_ms);
    let log = Arc::new(Mutex::new(Vec::new()));
    for (id, &offset) in offsets.iter().enumerate().rev() {
        wheel.insert(base + ms(offset), recorder(id, &log));
    }
    for (id, &offset) in offsets.iter().enumerate() {
        let deadline = wheel.next_deadline().expect("timers are pending");
        assert_eq!(deadline, base + ms(offset), "deadline of timer {id}");
        if offset > 0 {
            assert_eq!(wheel.fire_expired(deadline - us(1)), 0, "timer {id} early");
        }
        assert_eq!(wheel.fire_expired(deadline), 1, "timer {id} missing");
        assert_eq!(drain(&log), [id]);
    }
    assert_empty(&mut wheel);
}

#[test]
fn cascades_across_levels_from_zero_to_years() {
    walk_deadlines(0);
    walk_deadlines(123_456_789);
    walk_deadlines(WHEEL_SPAN - 5);
}

#[test]
fn past_deadlines_fire_on_the_next_turn() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let now = origin + ms(100);
    wheel.fire_expired(now);
    let log = Arc::new(Mutex::new(Vec::new()));
    let past = [
        origin + ms(10),
        now,
        origin,
        origin.checked_sub(ms(5)).unwrap_or(origin),
    ];
    for (id, &deadline) in past.iter().enumerate() {
        wheel.insert(deadline, recorder(id, &log));
    }
    let next = wheel.next_deadline().expect("timers are pending");
    assert!(next <= now && past.iter().all(|&d| d <= next));
    assert_eq!(wheel.fire_expired(now), past.len());
    assert_eq!(drain(&log).len(), past.len());
    assert_eq!(wheel.len(), 0);
}

#[test]
fn next_deadline_is_exact_and_monotone_with_removals() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let mut rng = XorShift(7);
    let mut pending = BTreeSet::new();
    let mut keys = Vec::new();
    for id in 0..3_000 {
        let deadline = origin + us(rng.below(86_400_000_000));
        keys.push(wheel.insert(deadline, Waker::noop().clone()));
        pending.insert((wheel.tick_ceil(deadline), id));
    }
    let mut last = origin;
    while let Some(&(tick, id)) = pending.first() {
        // Now and then remove the earliest timer to exercise the memo's invalidation.
        if rng.below(4) == 0 {
            wheel.remove(keys[id]);
            pending.remove(&(tick, id));
            continue;
        }
        let mut next = wheel.next_deadline().expect("timers are pending");
        if next < origin + ms(tick) {
            // A removed timer's deadline, kept as a lower bound: waking there fires
            // nothing, and then the exact deadline is known.
            assert!(next >= last);
            assert_eq!(wheel.fire_expired(next), 0);
            next = wheel.next_deadline().expect("timers are pending");
        }
        assert_eq!(next, origin + ms(tick));
        assert!(next >= last);
        last = next;
        let fired = wheel.fire_expired(next);
        assert_eq!(
            fired,
            pending.iter().take_while(|&&(t, _)| t == tick).count()
        );
        pending.retain(|&(t, _)| t != tick);
    }
    assert_empty(&mut wheel);
}

#[test]
fn poll_timer_updates_waker_and_tells_fired_from_reused_slots() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let log = Arc::new(Mutex::new(Vec::new()));
    let first = wheel.insert(origin + ms(5), recorder(1, &log));
    assert!(wheel.poll_timer(first, &recorder(1, &log)).is_pending());
    assert!(wheel.poll_timer(first, &recorder(2, &log)).is_pending());
    assert_eq!(wheel.fire_expired(origin + ms(5)), 1);
    assert_eq!(drain(&log), [2]);
    assert_eq!(wheel.len(), 0);
    assert!(wheel.poll_timer(first, Waker::noop()).is_ready());
    assert!(wheel.entries.is_empty());

    let second = wheel.insert(origin + ms(10), recorder(3, &log));
    assert_eq!(first.index, second.index, "the slab slot is reused");
    assert!(wheel.poll_timer(first, Waker::noop()).is_ready());
    wheel.remove(first);
    assert_eq!(wheel.len(), 1, "a stale key must not touch the new timer");

    let mut other = TimerWheel::with_origin(origin);
    assert!(!other.owns(second) && wheel.owns(second));
    other.remove(second);
    assert_eq!(wheel.fire_expired(origin + ms(10)), 1);
    assert_eq!(drain(&log), [3]);
}

#[test]
fn reset_moves_a_timer_and_revives_a_fired_one() {
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let log = Arc::new(Mutex::new(Vec::new()));
    let key = wheel.insert(origin + ms(10), recorder(1, &log));
    assert!(wheel.reset(key, origin + ms(50)));
    // The old deadline may stand as a lower bound until a wake-up there fires nothing.
    assert!(wheel.next_deadline() <= Some(origin + ms(50)));
    assert_eq!(wheel.fire_expired(origin + ms(10)), 0);
    assert_eq!(wheel.next_deadline(), Some(origin + ms(50)));
    assert_eq!(wheel.fire_expired(origin + ms(50)), 1);
    assert_eq!(drain(&log), [1]);
    assert!(wheel.reset(key, origin + ms(80)));
    assert_eq!(wheel.len(), 1);
    assert!(wheel.poll_timer(key, &recorder(2, &log)).is_pending());
    assert_eq!(wheel.fire_expired(origin + ms(80)), 1);
    assert_eq!(drain(&log), [2]);
    assert!(wheel.poll_timer(key, Waker::noop()).is_ready());
    assert!(!wheel.reset(key, origin + ms(90)));
    assert_empty(&mut wheel);
}

#[test]
fn hundred_thousand_inserts_and_removes_stay_fast() {
    // Generous for a debug build; O(n²) would not make it, O(1) per operation takes a
    // few tens of milliseconds. Counted in this thread's CPU time, not wall time: the
    // wall clock failed this bound (2.06 s) with the CPUs shared by a parallel build.
    const BUDGET: Duration = Duration::from_secs(2);
    const TIMERS: u64 = 100_000;
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let mut rng = XorShift(0xDEAD_BEEF);
    let started = thread_cpu_time();
    let keys: Vec<TimerKey> = (0..TIMERS)
        .map(|_| wheel.insert(origin + ms(rng.below(3_600_000)), Waker::noop().clone()))
        .collect();
    assert_eq!(wheel.len(), keys.len());
    assert!(wheel.next_deadline().is_some());
    for key in keys {
        wheel.remove(key);
    }
    assert_empty(&mut wheel);
    assert!(wheel.entries.is_empty());
    for _ in 0..TIMERS {
        wheel.insert(origin + ms(rng.below(3_600_000)), Waker::noop().clone());
    }
    assert_eq!(wheel.fire_expired(origin + ms(3_600_000)), TIMERS as usize);
    let used = thread_cpu_time() - started;
    assert!(used < BUDGET, "took {used:?} of CPU time");
}

/// CPU time this thread has used, from /proc/thread-self/stat (utime + stime, in clock
/// ticks of 10 ms: coarse, and ample for a 2 s bound).
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime 14 and stime 15.
    let rest = &stat[stat.rfind(')').expect("comm in parentheses") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[test]
fn matches_a_sorted_model_under_random_operations() {
    use std::collections::BTreeMap;
    let origin = Instant::now();
    let mut wheel = TimerWheel::with_origin(origin);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut rng = XorShift(0x1234_5678_9ABC_DEF1);
    // id -> (tick, key) for pending timers; fired ones leave the map.
    let mut model: BTreeMap<usize, (u64, TimerKey)> = BTreeMap::new();
    let mut keys = Vec::new();
    let (mut now, mut elapsed) = (origin, 0);
    for _ in 0..50_000 {
        // Spans from sub-tick to past the top level, with some deadlines in the past.
        let span = [2_000, 200_000, 20_000_000, 20_000_000_000, 1 << 47][rng.below(5) as usize];
        let deadline = (now + us(rng.below(span))).checked_sub(us(rng.below(3_000)));
        let deadline = deadline.unwrap_or(origin);
        match rng.below(10) {
            0..=3 => {
                let id = keys.len();
                keys.push(wheel.insert(deadline, recorder(id, &log)));
                model.insert(id, (wheel.tick_ceil(deadline), keys[id]));
            }
            4 if !keys.is_empty() => {
                let id = rng.below(keys.len() as u64) as usize;
                wheel.remove(keys[id]);
                model.remove(&id);
            }
            5 if !model.is_empty() => {
                let id = *model
                    .keys()
                    .nth(rng.below(model.len() as u64) as usize)
                    .unwrap();
                assert!(wheel.reset(keys[id], deadline));
                model.insert(id, (wheel.tick_ceil(deadline), keys[id]));
            }
            _ => {
                let due = model.values().filter(|&&(t, _)| t <= elapsed).count();
                let expected_next = match model.values().map(|&(t, _)| t).min() {
                    None => None,
                    Some(_) if due > 0 => Some(origin + ms(elapsed)),
                    Some(t) => Some(origin + ms(t)),
                };
                // Exact, or a lower bound a removed or moved timer left: never late.
                let next = wheel.next_deadline();
                assert_eq!(next.is_some(), expected_next.is_some());
                assert!(next <= expected_next, "{next:?} after {expected_next:?}");
                // Mostly small steps; now and then a leap of years across the top level.
                now = match (rng.below(40), expected_next) {
                    (0, _) => now + us(rng.below(span)),
                    (1..20, Some(next)) => next.max(now),
                    _ => now + us(rng.below(span.min(10_000_000))),
                };
                elapsed = elapsed.max(wheel.tick_floor(now));
                let fired = wheel.fire_expired(now);
                let mut woken = drain(&log);
                woken.sort_unstable();
                let mut due: Vec<usize> = model
                    .iter()
                    .filter(|(_, (t, _))| *t <= elapsed)
                    .map(|(&id, _)| id)
                    .collect();
                due.sort_unstable();
                assert_eq!(fired, due.len());
                assert_eq!(woken, due);
                for id in due {
                    model.remove(&id);
                }
                // Whatever is left is due after the tick just processed: the loop is
                // never told to wake at once with nothing to fire.
                if let Some(next) = wheel.next_deadline() {
                    assert!(next > origin + ms(elapsed), "{next:?} is not past the tick");
                }
            }
        }
        assert_eq!(wheel.len(), model.len());
    }
}

/// Checks every list against the rules: links, counts and bitmaps agree, and each entry
/// sits where rules 2 and 4 put it given `elapsed`.
pub(super) fn check_invariants(wheel: &TimerWheel) {
    let mut linked = 0;
    let staged_range = wheel
        .boundary()
        .map(|(start, k)| (start, k, start..start.saturating_add(level_span(k))));
    let in_staged_range = |when: u64| {
        staged_range
            .as_ref()
            .is_some_and(|(_, _, range)| range.contains(&when))
    };
    let mut walk = |list: List| -> Vec<u64> {
        let mut whens = Vec::new();
        let mut prev = None;
        let mut next = match list.indexes() {
            Some((bank, level, slot)) => wheel.heads[bank][level][slot],
            None if list == List::Expired => wheel.expired,
            None => wheel.overflow,
        };
        while let Some(index) = next {
            let entry = &wheel.entries[index];
            assert_eq!(entry.list, Some(list), "entry {index} names another list");
            assert_eq!(entry.prev, prev, "entry {index} links back wrong");
            whens.push(entry.when);
            prev = Some(index);
            next = entry.next;
        }
        linked += whens.len();
        whens
    };
    for bank in 0..BANKS {
        for level in 0..LEVELS {
            let staged = bank != wheel.bank(level);
            for slot in 0..SLOTS {
                let whens = walk(List::slot(bank, level, slot));
                let n = whens.len();
                assert_eq!(wheel.counts[bank][level][slot] as usize, n);
                assert_eq!(wheel.occupied[bank][level] >> slot & 1 == 1, n > 0);
                assert_eq!(
                    wheel.large[bank][level] >> slot & 1 == 1,
                    n > wheel.large_slot
                );
                for when in whens {
                    assert_eq!(digit(when, level), slot);
                    if staged {
                        let (start, k, _) = staged_range.clone().expect("a next boundary");
                        assert!(
                            level < k && in_staged_range(when),
                            "staged {when} for {start}"
                        );
                        assert_eq!(level_between(start, when), level);
                    } else {
                        assert!(when > wheel.elapsed && !in_staged_range(when), "{when}");
                        assert_eq!(level_between(wheel.elapsed, when), level);
                    }
                }
            }
        }
    }
    for when in walk(List::Expired) {
        assert!(when <= wheel.elapsed);
    }
    for when in walk(List::Overflow) {
        assert!(wheel.elapsed ^ when >= WHEEL_SPAN && !in_staged_range(when));
    }
    assert_eq!(linked, wheel.pending);
}

#[test]
fn an_entry_is_72_bytes_on_64_bit_targets() {
    // generation, when, waker (16), list (4, padded to 8), prev and next (16 each).
    if cfg!(target_pointer_width = "64") {
        assert_eq!(std::mem::size_of::<Entry>(), 72);
    }
}
