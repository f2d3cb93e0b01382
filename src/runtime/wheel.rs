//! The per-core hierarchical timing wheel behind every `Sleep`, `Timeout` and `Interval`.
//!
//! It belongs to the loop: each turn fires what expired and bounds its wait by the next
//! deadline (`core.rs`). `time` reaches it only through `handle::with_timers`.
//!
//! Pure bookkeeping: no clock reads, no syscalls. The runtime hands in `now`, the wheel
//! answers which timers expired and when the next one is due.
//!
//! Layout (as in tokio and the Varghese–Lauck paper): level `L` has 64 slots of
//! `64^L` ticks each. Each slot is an intrusive doubly linked list through a `Slab`, so
//! insert and remove are O(1), and one `u64` bitmap per level finds the next occupied
//! slot with a single `trailing_zeros`.
//!
//! # Rules
//!
//! 1. **Ticks round up.** Deadlines are kept in whole ticks counted from `origin`,
//!    rounded up, so a timer never fires early (rule 1 in `time/mod.rs`).
//! 2. **Placement.** An entry sits at the level of the highest 6-bit digit in which its
//!    deadline differs from `elapsed` (the last processed tick), in the slot named by its
//!    own digit at that level; deadlines in a later `WHEEL_SPAN` block wait in
//!    `overflow`. Level 0 therefore holds exact ticks, and a slot's entries move down a
//!    level (cascade) when its start tick is reached.
//! 3. **One cascade per boundary.** Level-1 slot starts (multiples of 64 ticks) are the
//!    only ticks where entries move. At the next one, `S` (see `boundary`), exactly one
//!    list moves: the level-`k` slot starting at `S`, `k` being the level of `S`'s lowest
//!    non-zero digit (the overflow list when `S` starts a `WHEEL_SPAN` block), and every
//!    level below `k` is empty by then.
//! 4. **Two banks per level.** Each level has a current bank, laid out relative to
//!    `elapsed` (rule 2), and a staged bank, laid out relative to `S` and used only below
//!    `k`: it holds entries due in `[S, S + 64^k)` already at the level and slot they
//!    will have once `S` is reached. Crossing `S` swaps the two banks of each level
//!    below `k` (one bit each in `flipped`), so the staged entries become current
//!    without being touched, and the emptied banks become the next staging area. An
//!    entry's `List` names its bank, so removing it stays O(1).
//! 5. **Cascade ahead, within a budget.** Each `fire_expired` moves at most
//!    `CASCADE_BUDGET` entries. What it must move (the unstaged part of each list
//!    crossed) comes first; the rest of the budget stages entries of the slot due at
//!    `S` (rule 3), which `insert` also stages directly. A slot holding more than
//!    `LARGE_SLOT` entries gets the loop woken when it becomes that slot (64 ticks before
//!    its start), and then at once on every turn until it is staged down to
//!    `LARGE_SLOT` (`next_deadline`). Waking at the earliest deadline, the loop crosses at
//!    most one such slot and one staged slot inside it, each of at most `LARGE_SLOT`
//!    entries that move down at most five levels: `9 × LARGE_SLOT` entries at most, so
//!    half the budget is left to stage. 100,000 timers in one slot thus move over 100 to
//!    200 turns of at most `CASCADE_BUDGET` entries instead of in one turn, and no timer
//!    fires later: every list still moves at its start tick. Not covered: the overflow
//!    list (moved whole once per `WHEEL_SPAN`, about 2.2 years), and a loop that wakes
//!    late or turns too slowly to stage a slot in its 64 ticks (100,000 entries take some
//!    30 ms of CPU): past half of them, each turn stages at least what is left divided
//!    by the ticks left, so a slow loop spreads the rest over its remaining turns
//!    rather than moving it all at the boundary.
//! 6. **The sleep bound.** `next_deadline` never names a tick after the earliest
//!    deadline; it may name an earlier one (a removed timer's deadline, or a large slot to
//!    stage, rule 5), which costs a wake-up with nothing to fire. It scans at most two
//!    lists of at most `LARGE_SLOT` entries each (and `overflow`), never a large slot.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

/// Milliseconds per tick: the resolution asyncio and tokio users expect; the loop's
/// wait timeout is no finer in practice, so smaller ticks would only add cascade work.
const TICK_MILLIS: u64 = 1;
/// `TICK_MILLIS` in nanoseconds, for rounding deadlines to ticks.
const TICK_NANOS: u128 = TICK_MILLIS as u128 * 1_000_000;
/// Bits of the deadline each level resolves: 64 slots, so a level's occupancy is one `u64`.
const LEVEL_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << LEVEL_BITS;
/// Mask selecting one level's digit.
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// Levels: 6 × 6 bits = 2^36 ticks ≈ 2.2 years before a deadline spills into `overflow`.
const LEVELS: usize = 6;
/// Ticks covered by one turn of the top level; farther deadlines wait in `overflow`.
const WHEEL_SPAN: u64 = 1 << (LEVEL_BITS * LEVELS as u32);
/// Banks per level: current and staged (rule 4).
const BANKS: usize = 2;
/// Entries one `fire_expired` moves between lists at most (rule 5). A move costs 10 to
/// 300 ns, the upper end with entries scattered in memory (each one a cache and TLB
/// miss): `examples/timer_storm.rs` measured 2,048 moves at 0.5 to 0.7 ms of thread CPU
/// time on a loaded 2-core machine, so half that keeps a turn well under 1 ms. The
/// total work to stage a slot does not depend on it, only the number of turns it takes.
const CASCADE_BUDGET: usize = 1024;
/// A slot with more entries than this is staged ahead on turns of its own (rule 5):
/// `9 × LARGE_SLOT` then bounds what a turn must move, half of `CASCADE_BUDGET`.
const LARGE_SLOT: usize = CASCADE_BUDGET / 18;

/// Gives every wheel its own id so a key from another wheel (another runtime on this
/// thread) is never mistaken for one of ours.
static NEXT_WHEEL_ID: AtomicU32 = AtomicU32::new(0);

/// Names one timer in one wheel. The generation tells a live entry from a reused slab slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    wheel: u32,
    generation: u64,
}

/// The list an entry is linked into. Four bytes: every timer's entry holds one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    /// A wheel slot of one bank (rule 4); [`List::slot`] and [`List::indexes`] convert
    /// from and to array indexes.
    Slot { bank: u8, level: u8, slot: u8 },
    /// Deadline at or before `elapsed` when inserted: fires on the next `fire_expired`.
    Expired,
    /// Deadline in a later `WHEEL_SPAN` block than `elapsed`: re-placed when that block starts.
    Overflow,
}

// Each timer's entry holds an `Option<List>`: keep it small.
const _: () = assert!(std::mem::size_of::<Option<List>>() == 4);

impl List {
    /// Slot `slot` of level `level` in bank `bank` (each below 64).
    fn slot(bank: usize, level: usize, slot: usize) -> List {
        debug_assert!(bank < BANKS && level < LEVELS && slot < SLOTS);
        List::Slot {
            bank: bank as u8,
            level: level as u8,
            slot: slot as u8,
        }
    }

    /// A slot's `(bank, level, slot)` as array indexes; `None` for the other lists.
    fn indexes(self) -> Option<(usize, usize, usize)> {
        match self {
            List::Slot { bank, level, slot } => {
                Some((usize::from(bank), usize::from(level), usize::from(slot)))
            }
            List::Expired | List::Overflow => None,
        }
    }
}

struct Entry {
    generation: u64,
    /// Deadline in ticks since `origin`, rounded up.
    when: u64,
    waker: Option<Waker>,
    /// `None` once fired: the entry then waits for `poll_timer` or `remove` to free it.
    list: Option<List>,
    prev: Option<usize>,
    next: Option<usize>,
}

/// The next piece of work: a slot (or the overflow list) whose start tick is `deadline`.
#[derive(Clone, Copy, Debug)]
struct Expiration {
    list: List,
    deadline: u64,
}

/// Memo of the earliest deadline among slot and overflow entries: exact once computed, and
/// kept as a lower bound when that entry is removed (rule in [`TimerWheel::next_deadline`]).
#[derive(Clone, Copy, Debug)]
enum Earliest {
    Stale,
    Known(Option<u64>),
}

/// A hierarchical timing wheel: O(1) insert and remove, 1 ms resolution.
pub(crate) struct TimerWheel {
    id: u32,
    origin: Instant,
    /// Every deadline at or before this tick has been fired.
    elapsed: u64,
    entries: Slab<Entry>,
    heads: [[[Option<usize>; SLOTS]; LEVELS]; BANKS],
    occupied: [[u64; LEVELS]; BANKS],
    /// Entries per slot, and a bitmap per level of the slots holding more than `large_slot`.
    counts: [[[u32; SLOTS]; LEVELS]; BANKS],
    large: [[u64; LEVELS]; BANKS],
    /// Bit `L` set: level `L`'s current bank is bank 1 (rule 4).
    flipped: u8,
    expired: Option<usize>,
    overflow: Option<usize>,
    /// Entries not fired yet.
    pending: usize,
    next_generation: u64,
    earliest: Earliest,
    /// `CASCADE_BUDGET` and `LARGE_SLOT`; tests shrink them to reach every path quickly.
    budget: usize,
    large_slot: usize,
    /// Entries the last `fire_expired` moved between lists.
    #[cfg(test)]
    moved: usize,
}

impl TimerWheel {
    /// An empty wheel whose tick 0 is now.
    pub(crate) fn new() -> Self {
        Self::with_origin(Instant::now())
    }

    fn with_origin(origin: Instant) -> Self {
        Self::with_budget(origin, CASCADE_BUDGET, LARGE_SLOT)
    }

    fn with_budget(origin: Instant, budget: usize, large_slot: usize) -> Self {
        TimerWheel {
            id: NEXT_WHEEL_ID.fetch_add(1, Ordering::Relaxed),
            origin,
            elapsed: 0,
            entries: Slab::new(),
            heads: [[[None; SLOTS]; LEVELS]; BANKS],
            occupied: [[0; LEVELS]; BANKS],
            counts: [[[0; SLOTS]; LEVELS]; BANKS],
            large: [[0; LEVELS]; BANKS],
            flipped: 0,
            expired: None,
            overflow: None,
            pending: 0,
            next_generation: 0,
            earliest: Earliest::Known(None),
            budget,
            large_slot,
            #[cfg(test)]
            moved: 0,
        }
    }

    /// Timers inserted and not fired yet.
    pub(crate) fn len(&self) -> usize {
        self.pending
    }

    /// Whether `key` was handed out by this wheel (it may have been freed since).
    pub(crate) fn owns(&self, key: TimerKey) -> bool {
        key.wheel == self.id
    }

    /// Registers a timer; `waker` is woken by the `fire_expired` that passes `deadline`.
    /// A deadline already passed fires on the next `fire_expired`, whatever its `now`.
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let generation = self.next_generation;
        self.next_generation += 1;
        let index = self.entries.insert(Entry {
            generation,
            when: self.tick_ceil(deadline),
            waker: Some(waker),
            list: None,
            prev: None,
            next: None,
        });
        self.pending += 1;
        self.place(index);
        TimerKey {
            index: u32::try_from(index).expect("more than u32::MAX timers on one core"),
            wheel: self.id,
            generation,
        }
    }

    /// `Ready` once the timer fired (its entry is then freed), else stores `waker`.
    /// An unknown or already freed key is `Ready`: it can only have fired.
    pub(crate) fn poll_timer(&mut self, key: TimerKey, waker: &Waker) -> Poll<()> {
        let Some(index) = self.index_of(key) else {
            return Poll::Ready(());
        };
        let entry = &mut self.entries[index];
        if entry.list.is_none() {
            self.entries.remove(index);
            return Poll::Ready(());
        }
        match &mut entry.waker {
            Some(stored) if stored.will_wake(waker) => {}
            stored => *stored = Some(waker.clone()),
        }
        Poll::Pending
    }

    /// Forgets a timer in O(1); a no-op for a key already freed. Returns the stored
    /// waker so the caller can drop it after releasing its borrow of the wheel.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        let index = self.index_of(key)?;
        if self.entries[index].list.is_some() {
            self.unlink(index);
            self.pending -= 1;
        }
        self.entries.remove(index).waker
    }

    /// Moves a timer to a new deadline, keeping its waker; a fired timer becomes pending
    /// again. Returns `false` if the key is unknown (the caller should insert instead).
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: Instant) -> bool {
        let Some(index) = self.index_of(key) else {
            return false;
        };
        if self.entries[index].list.is_some() {
            self.unlink(index);
        } else {
            self.pending += 1;
        }
        self.entries[index].when = self.tick_ceil(deadline);
        self.place(index);
        true
    }

    /// The earliest pending deadline rounded up to the tick (never before the real
    /// deadline), or an earlier tick when a large slot is to be staged (rule 5: the tick
    /// already processed while the slot due next holds more than `large_slot` unstaged
    /// entries, so the loop turns again at once), or `None` if nothing is pending.
    ///
    /// After the earliest timer was removed (a timeout whose future finished first, the
    /// common case: hyper arms a header timeout per request and drops it), this may still
    /// name that timer's deadline: a lower bound, so the loop may wake once for nothing
    /// but never late. Finding the new earliest would mean walking its whole slot, which
    /// holds every timer of a higher level's slot (a few thousand at 10,000 connections),
    /// on every loop turn that sleeps. The wake-up there, `fire_expired`, drops the bound,
    /// and the next call finds the exact deadline, always past the tick just processed.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        if self.pending == 0 {
            return None;
        }
        let tick = if self.expired.is_some() {
            // Past deadlines are due now; `elapsed` is not before any of them.
            self.elapsed
        } else {
            self.earliest_in_wheel()?
        };
        // `None` only for a deadline Instant cannot represent: as good as never.
        self.origin
            .checked_add(Duration::from_millis(tick.saturating_mul(TICK_MILLIS)))
    }

    /// Fires every timer whose deadline is at or before `now`, in deadline order,
    /// waking its waker. Returns how many fired.
    pub(crate) fn fire_expired(&mut self, now: Instant) -> usize {
        let now_tick = self.tick_floor(now).max(self.elapsed);
        if self.pending == 0 {
            // No entry is linked anywhere (every pending one is on a list, every list
            // entry is pending), so the walk below would fire, move and stage nothing:
            // only the clock moves. Every loop turn of a core without timers comes here.
            self.elapsed = now_tick;
            self.drop_past_bound(now_tick);
            #[cfg(test)]
            {
                self.moved = 0;
            }
            return 0;
        }
        let mut fired = 0;
        let mut moved = 0;
        while let Some(index) = self.expired {
            self.unlink(index);
            self.fire(index);
            fired += 1;
        }
        while let Some(expiration) = self.next_expiration() {
            if expiration.deadline > now_tick {
                break;
            }
            let (f, m) = self.process(expiration);
            fired += f;
            moved += m;
            self.earliest = Earliest::Stale;
        }
        // Sound: no slot or overflow expiration is left at or before `now_tick`, so
        // every remaining entry keeps its level and slot relative to the new tick, and
        // the staged bank (empty, or staged for a boundary after `now_tick`) stays valid.
        self.elapsed = now_tick;
        let staged = self.stage(self.budget.saturating_sub(moved));
        if staged > 0 {
            self.earliest = Earliest::Stale;
        }
        #[cfg(test)]
        {
            self.moved = moved + staged;
        }
        self.drop_past_bound(now_tick);
        fired
    }

    /// A bound left by removed timers (`next_deadline`) that is now past is no bound:
    /// dropped, or the loop would be told to wake at once, again and again.
    fn drop_past_bound(&mut self, now_tick: u64) {
        if matches!(self.earliest, Earliest::Known(Some(e)) if e <= now_tick) {
            self.earliest = Earliest::Stale;
        }
    }

    /// The first tick boundary at or after `t`: where a paused clock starts, so that
    /// whole-millisecond deadlines fall exactly on ticks (`clock.rs`, rule 3).
    #[cfg(feature = "test-util")]
    pub(crate) fn tick_at_or_after(&self, t: Instant) -> Instant {
        let tick = self.tick_ceil(t);
        self.origin
            .checked_add(Duration::from_millis(tick.saturating_mul(TICK_MILLIS)))
            .unwrap_or(t)
    }

    fn index_of(&self, key: TimerKey) -> Option<usize> {
        let index = usize::try_from(key.index).ok()?;
        let entry = self.entries.get(index)?;
        (key.wheel == self.id && entry.generation == key.generation).then_some(index)
    }

    fn tick_ceil(&self, deadline: Instant) -> u64 {
        let nanos = deadline.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos.div_ceil(TICK_NANOS)).unwrap_or(u64::MAX)
    }

    fn tick_floor(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos / TICK_NANOS).unwrap_or(u64::MAX)
    }

    /// Links an unlinked entry into the list its `when` belongs to, given `elapsed`:
    /// the staged bank if it is due in the block that starts at the next boundary.
    fn place(&mut self, index: usize) {
        let when = self.entries[index].when;
        let list = if when <= self.elapsed {
            List::Expired
        } else if let Some((start, k)) = self.boundary()
            && when >= start
            && when - start < level_span(k)
        {
            let level = level_between(start, when);
            List::slot(self.bank(level) ^ 1, level, digit(when, level))
        } else if self.elapsed ^ when >= WHEEL_SPAN {
            List::Overflow
        } else {
            let level = level_between(self.elapsed, when);
            List::slot(self.bank(level), level, digit(when, level))
        };
        if list != List::Expired
            && let Earliest::Known(earliest) = self.earliest
        {
            self.earliest = Earliest::Known(Some(earliest.map_or(when, |e| e.min(when))));
        }
        self.link(index, list);
    }

    /// Marks an unlinked entry fired and wakes its task.
    fn fire(&mut self, index: usize) {
        self.pending -= 1;
        if let Some(waker) = self.entries[index].waker.take() {
            waker.wake();
        }
    }

    /// The earliest list of the current banks (or the overflow list) with work, by
    /// start tick.
    fn first_current(&self) -> Option<Expiration> {
        for level in 0..LEVELS {
            let bank = self.bank(level);
            let occupied = self.occupied[bank][level];
            if occupied != 0 {
                // Every occupied slot's digit is at or above `elapsed`'s (rule 2; at it
                // only for a tick just reached, rule 4), so the lowest set bit is the
                // next slot and no wrap-around is possible.
                let slot = occupied.trailing_zeros() as usize;
                return Some(Expiration {
                    list: List::slot(bank, level, slot),
                    deadline: slot_start(self.elapsed, level, slot),
                });
            }
        }
        self.overflow?;
        let deadline = (self.elapsed | (WHEEL_SPAN - 1)).checked_add(1)?;
        Some(Expiration {
            list: List::Overflow,
            deadline,
        })
    }

    /// The next piece of work: the earliest current list, or the next boundary if only
    /// staged entries need it crossed.
    fn next_expiration(&self) -> Option<Expiration> {
        let first = self.first_current();
        if self.first_staged().is_none() {
            return first;
        }
        let (start, k) = self.boundary()?;
        match first {
            Some(first) if first.deadline <= start => Some(first),
            _ => Some(Expiration {
                list: self.boundary_list(k, start),
                deadline: start,
            }),
        }
    }

    /// Advances to `expiration.deadline`, firing due entries and cascading the rest.
    /// Returns how many fired and how many moved.
    fn process(&mut self, expiration: Expiration) -> (usize, usize) {
        self.elapsed = expiration.deadline;
        if !matches!(expiration.list, List::Slot { level: 0, .. }) {
            // A boundary: the staged banks below it become current (rule 4). They were
            // empty if it was not the next boundary, and the current ones are empty now.
            let below = boundary_level(expiration.deadline).min(LEVELS);
            debug_assert!((0..below).all(|level| self.occupied[self.bank(level)][level] == 0));
            self.flipped ^= ((1u16 << below) - 1) as u8;
        }
        let mut next = self.take_list(expiration.list);
        let (mut fired, mut moved) = (0, 0);
        while let Some(index) = next {
            let entry = &mut self.entries[index];
            next = entry.next.take();
            entry.prev = None;
            entry.list = None;
            if entry.when <= self.elapsed {
                self.fire(index);
                fired += 1;
            } else {
                self.place(index);
                moved += 1;
            }
        }
        (fired, moved)
    }

    /// Earliest `when` among slot and overflow entries (or the large-slot wake, rule 5,
    /// if that comes first), memoised between changes.
    fn earliest_in_wheel(&mut self) -> Option<u64> {
        if let Earliest::Known(earliest) = self.earliest {
            return earliest;
        }
        let mut earliest = self.large_wake();
        for expiration in [self.first_current(), self.first_staged()]
            .into_iter()
            .flatten()
        {
            let min = match expiration.list {
                // A level-0 slot holds exactly one tick; a large slot is woken for before
                // its start (`large_wake`), so its start is bound enough.
                List::Slot { level: 0, .. } => expiration.deadline,
                list if list
                    .indexes()
                    .is_some_and(|(b, l, s)| self.counts[b][l][s] as usize > self.large_slot) =>
                {
                    expiration.deadline
                }
                // Otherwise scan the slot (at most `large_slot` entries) for the minimum.
                list => {
                    let mut min = u64::MAX;
                    let mut next = *self.head_mut(list);
                    while let Some(index) = next {
                        min = min.min(self.entries[index].when);
                        next = self.entries[index].next;
                    }
                    min
                }
            };
            earliest = Some(earliest.map_or(min, |e| e.min(min)));
        }
        self.earliest = Earliest::Known(earliest);
        earliest
    }
}

mod lists;
mod stage;

use lists::{boundary_level, digit, level_between, level_span, slot_start};

// Unit tests live in `wheel/tests.rs` to keep this file short.
#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;
