//! The per-core hierarchical timing wheel behind every `Sleep`, `Timeout` and `Interval`.
//!
//! It belongs to the loop: each turn fires what expired and bounds its wait by the next
//! deadline (`core.rs`). `time` reaches it only through `handle::with_timers`.
//!
//! Pure bookkeeping: no clock reads, no syscalls. The runtime hands in `now`, the wheel
//! answers which timers expired and when the next one is due. Deadlines are kept in
//! whole ticks counted from `origin`, rounded up, so a timer never fires early (rule 1
//! in `time/mod.rs`).
//!
//! Layout (as in tokio and the Varghese–Lauck paper): level `L` has 64 slots of
//! `64^L` ticks each. An entry sits at the level of the highest 6-bit digit in which its
//! deadline differs from `elapsed` (the last processed tick), in the slot named by its
//! own digit at that level. Level 0 therefore holds exact ticks; when a higher slot's
//! start is reached its entries cascade down. Each slot is an intrusive doubly linked
//! list through a `Slab`, so insert and remove are O(1), and one `u64` bitmap per level
//! finds the next occupied slot with a single `trailing_zeros`.
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

/// The list an entry is linked into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    /// A wheel slot.
    Slot { level: usize, slot: usize },
    /// Deadline at or before `elapsed` when inserted: fires on the next `fire_expired`.
    Expired,
    /// Deadline in a later `WHEEL_SPAN` block than `elapsed`: re-placed when that block starts.
    Overflow,
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
    heads: [[Option<usize>; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    expired: Option<usize>,
    overflow: Option<usize>,
    /// Entries not fired yet.
    pending: usize,
    next_generation: u64,
    earliest: Earliest,
}

impl TimerWheel {
    /// An empty wheel whose tick 0 is now.
    pub(crate) fn new() -> Self {
        Self::with_origin(Instant::now())
    }

    fn with_origin(origin: Instant) -> Self {
        TimerWheel {
            id: NEXT_WHEEL_ID.fetch_add(1, Ordering::Relaxed),
            origin,
            elapsed: 0,
            entries: Slab::new(),
            heads: [[None; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            expired: None,
            overflow: None,
            pending: 0,
            next_generation: 0,
            earliest: Earliest::Known(None),
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
    /// deadline), or `None` if nothing is pending.
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
        let mut fired = 0;
        while let Some(index) = self.expired {
            self.unlink(index);
            self.fire(index);
            fired += 1;
        }
        while let Some(expiration) = self.next_expiration() {
            if expiration.deadline > now_tick {
                break;
            }
            fired += self.process(expiration);
            self.earliest = Earliest::Stale;
        }
        // Sound: no slot or overflow expiration is left at or before `now_tick`, so
        // every remaining entry keeps its level and slot relative to the new tick.
        self.elapsed = now_tick;
        // A bound left by removed timers (`next_deadline`) that is now past is no bound:
        // drop it, or the loop would be told to wake at once, again and again.
        if matches!(self.earliest, Earliest::Known(Some(e)) if e <= now_tick) {
            self.earliest = Earliest::Stale;
        }
        fired
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

    /// Links an unlinked entry into the list its `when` belongs to, given `elapsed`.
    fn place(&mut self, index: usize) {
        let when = self.entries[index].when;
        let list = if when <= self.elapsed {
            List::Expired
        } else {
            let differing = (self.elapsed ^ when) | SLOT_MASK;
            if differing >= WHEEL_SPAN {
                List::Overflow
            } else {
                let level = (differing.ilog2() / LEVEL_BITS) as usize;
                let slot = ((when >> (LEVEL_BITS * level as u32)) & SLOT_MASK) as usize;
                List::Slot { level, slot }
            }
        };
        if list != List::Expired
            && let Earliest::Known(earliest) = self.earliest
        {
            self.earliest = Earliest::Known(Some(earliest.map_or(when, |e| e.min(when))));
        }
        self.link(index, list);
    }

    fn head_mut(&mut self, list: List) -> &mut Option<usize> {
        match list {
            List::Slot { level, slot } => &mut self.heads[level][slot],
            List::Expired => &mut self.expired,
            List::Overflow => &mut self.overflow,
        }
    }

    fn link(&mut self, index: usize, list: List) {
        let old_head = self.head_mut(list).replace(index);
        if let Some(old_head) = old_head {
            self.entries[old_head].prev = Some(index);
        }
        let entry = &mut self.entries[index];
        entry.list = Some(list);
        entry.prev = None;
        entry.next = old_head;
        if let List::Slot { level, slot } = list {
            self.occupied[level] |= 1 << slot;
        }
    }

    fn unlink(&mut self, index: usize) {
        let entry = &mut self.entries[index];
        let list = entry
            .list
            .take()
            .expect("unlink is only called on linked entries");
        let (prev, next) = (entry.prev.take(), entry.next.take());
        // The memo stays: without this entry it is a lower bound (`next_deadline`).
        match prev {
            Some(prev) => self.entries[prev].next = next,
            None => *self.head_mut(list) = next,
        }
        if let Some(next) = next {
            self.entries[next].prev = prev;
        }
        if let List::Slot { level, slot } = list
            && self.heads[level][slot].is_none()
        {
            self.occupied[level] &= !(1 << slot);
        }
    }

    /// Marks an unlinked entry fired and wakes its task.
    fn fire(&mut self, index: usize) {
        self.pending -= 1;
        if let Some(waker) = self.entries[index].waker.take() {
            waker.wake();
        }
    }

    /// The earliest slot (or the overflow list) with work, by start tick.
    fn next_expiration(&self) -> Option<Expiration> {
        for (level, &occupied) in self.occupied.iter().enumerate() {
            if occupied != 0 {
                // Every occupied slot's digit is above `elapsed`'s (see `place`), so
                // the lowest set bit is the next slot and no wrap-around is possible.
                let slot = occupied.trailing_zeros() as u64;
                let shift = LEVEL_BITS * level as u32;
                let level_start = self.elapsed & !((1 << (shift + LEVEL_BITS)) - 1);
                return Some(Expiration {
                    list: List::Slot {
                        level,
                        slot: slot as usize,
                    },
                    deadline: level_start + (slot << shift),
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

    /// Advances to `expiration.deadline`, firing due entries and cascading the rest.
    fn process(&mut self, expiration: Expiration) -> usize {
        self.elapsed = expiration.deadline;
        let mut next = self.head_mut(expiration.list).take();
        if let List::Slot { level, slot } = expiration.list {
            self.occupied[level] &= !(1 << slot);
        }
        let mut fired = 0;
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
            }
        }
        fired
    }

    /// Earliest `when` among slot and overflow entries, memoised between changes.
    fn earliest_in_wheel(&mut self) -> Option<u64> {
        if let Earliest::Known(earliest) = self.earliest {
            return earliest;
        }
        let earliest = self
            .next_expiration()
            .map(|expiration| match expiration.list {
                // A level-0 slot holds exactly one tick.
                List::Slot { level: 0, .. } => expiration.deadline,
                // The earliest slot holds the earliest entries; scan it for the minimum.
                list => {
                    let mut min = u64::MAX;
                    let mut next = *self.head_mut(list);
                    while let Some(index) = next {
                        min = min.min(self.entries[index].when);
                        next = self.entries[index].next;
                    }
                    min
                }
            });
        self.earliest = Earliest::Known(earliest);
        earliest
    }
}

// Unit tests live in `wheel/tests.rs` to keep this file short.
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;
