//! The wheel's intrusive lists: linking and unlinking entries, with the per-slot counts
//! and bitmaps kept in step, and the slot arithmetic of rule 2.

use super::{BANKS, Earliest, LEVEL_BITS, LEVELS, List, SLOT_MASK, TimerWheel, WHEEL_SPAN};

// A level's staged bank is its current one `^ 1` (rule 4): that needs exactly two.
const _: () = assert!(BANKS == 2);

impl TimerWheel {
    pub(super) fn head_mut(&mut self, list: List) -> &mut Option<usize> {
        match list {
            List::Expired => &mut self.expired,
            List::Overflow => &mut self.overflow,
            List::Slot { bank, level, slot } => {
                &mut self.heads[usize::from(bank)][usize::from(level)][usize::from(slot)]
            }
        }
    }

    pub(super) fn link(&mut self, index: usize, list: List) {
        let old_head = self.head_mut(list).replace(index);
        if let Some(old_head) = old_head {
            self.entries[old_head].prev = Some(index);
        }
        let entry = &mut self.entries[index];
        entry.list = Some(list);
        entry.prev = None;
        entry.next = old_head;
        if let Some((bank, level, slot)) = list.indexes() {
            self.occupied[bank][level] |= 1 << slot;
            let count = &mut self.counts[bank][level][slot];
            *count += 1;
            if *count as usize == self.large_slot + 1 {
                self.large[bank][level] |= 1 << slot;
                // The loop must now wake to stage it (rule 5): recompute the bound.
                self.earliest = Earliest::Stale;
            }
        }
    }

    pub(super) fn unlink(&mut self, index: usize) {
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
        if let Some((bank, level, slot)) = list.indexes() {
            let count = &mut self.counts[bank][level][slot];
            *count -= 1;
            if *count as usize == self.large_slot {
                self.large[bank][level] &= !(1 << slot);
            }
            if *count == 0 {
                self.occupied[bank][level] &= !(1 << slot);
            }
        }
    }

    /// Detaches a whole list and returns its head; its entries still name it.
    pub(super) fn take_list(&mut self, list: List) -> Option<usize> {
        if let Some((bank, level, slot)) = list.indexes() {
            self.occupied[bank][level] &= !(1 << slot);
            self.large[bank][level] &= !(1 << slot);
            self.counts[bank][level][slot] = 0;
        }
        self.head_mut(list).take()
    }
}

/// The level of the list that moves at boundary `start` (rule 3): that of its lowest
/// non-zero digit, or `LEVELS` or more for the start of a `WHEEL_SPAN` block.
pub(super) fn boundary_level(start: u64) -> usize {
    (start.trailing_zeros() / LEVEL_BITS) as usize
}

/// Ticks covered by one slot of `level` (one `WHEEL_SPAN` for the overflow list).
pub(super) fn level_span(level: usize) -> u64 {
    if level >= LEVELS {
        WHEEL_SPAN
    } else {
        1 << (LEVEL_BITS * level as u32)
    }
}

/// The level an entry due at `when` takes relative to `base` (rule 2); `when` must be
/// in the `WHEEL_SPAN` block of `base`.
pub(super) fn level_between(base: u64, when: u64) -> usize {
    (((base ^ when) | SLOT_MASK).ilog2() / LEVEL_BITS) as usize
}

/// `when`'s digit at `level`: its slot there.
pub(super) fn digit(when: u64, level: usize) -> usize {
    ((when >> (LEVEL_BITS * level as u32)) & SLOT_MASK) as usize
}

/// The start tick of `slot` at `level` in the block of that level holding `base`.
pub(super) fn slot_start(base: u64, level: usize, slot: usize) -> u64 {
    let shift = LEVEL_BITS * level as u32;
    let level_start = base & !((1 << (shift + LEVEL_BITS)) - 1);
    level_start + ((slot as u64) << shift)
}
