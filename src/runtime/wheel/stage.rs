//! Cascading ahead (rules 3 to 5): the next boundary, the staged banks laid out relative
//! to it, staging within the budget, and when the loop must wake to stage a large slot.

use super::lists::{boundary_level, digit, slot_start};
use super::{Expiration, LEVELS, List, SLOT_MASK, SLOTS, TimerWheel};

impl TimerWheel {
    /// The next boundary `S` (rule 3) and the level `k` of the list that moves there
    /// (`LEVELS` for the overflow list); `None` only at the end of `u64` ticks.
    pub(super) fn boundary(&self) -> Option<(u64, usize)> {
        let start = (self.elapsed | SLOT_MASK).checked_add(1)?;
        Some((start, boundary_level(start)))
    }

    /// Level `level`'s current bank (rule 4).
    pub(super) fn bank(&self, level: usize) -> usize {
        usize::from(self.flipped >> level & 1)
    }

    /// The earliest slot of the staged banks, by start tick.
    pub(super) fn first_staged(&self) -> Option<Expiration> {
        let (start, k) = self.boundary()?;
        (0..k.min(LEVELS)).find_map(|level| {
            let bank = self.bank(level) ^ 1;
            let occupied = self.occupied[bank][level];
            (occupied != 0).then(|| {
                let slot = occupied.trailing_zeros() as usize;
                Expiration {
                    list: List::slot(bank, level, slot),
                    deadline: slot_start(start, level, slot),
                }
            })
        })
    }

    /// The list that moves at the next boundary (rule 3).
    pub(super) fn boundary_list(&self, k: usize, start: u64) -> List {
        if k >= LEVELS {
            List::Overflow
        } else {
            List::slot(self.bank(k), k, digit(start, k))
        }
    }

    /// Moves up to `allowance` entries of the slot due at the next boundary into the
    /// staged banks (rule 5), or more if the loop falls behind: in the second half of
    /// the 64 ticks, what is left divided by the ticks left. Returns how many moved.
    pub(super) fn stage(&mut self, allowance: usize) -> usize {
        let Some((start, k)) = self.boundary() else {
            return 0;
        };
        // The overflow list mixes in far deadlines: it moves whole at its boundary.
        let Some((bank, level, slot)) = self.boundary_list(k, start).indexes() else {
            return 0;
        };
        let ticks_left = (start - self.elapsed) as usize;
        let allowance = if ticks_left <= SLOTS / 2 {
            let left = self.counts[bank][level][slot] as usize;
            allowance.max(left.div_ceil(ticks_left))
        } else {
            allowance
        };
        let mut staged = 0;
        while staged < allowance
            && let Some(index) = self.heads[bank][level][slot]
        {
            self.unlink(index);
            self.place(index);
            staged += 1;
        }
        staged
    }

    /// The tick the loop must wake at to stage the first slot (of either bank, level 1
    /// up) holding more than `large_slot` entries: 64 ticks before its start, when it
    /// becomes the slot due at the next boundary, or `elapsed` if it already is.
    pub(super) fn large_wake(&self) -> Option<u64> {
        let staged_base = self.boundary().map(|(start, _)| start);
        let mut wake: Option<u64> = None;
        for level in 1..LEVELS {
            let current = self.bank(level);
            for (bank, base) in [(current, Some(self.elapsed)), (current ^ 1, staged_base)] {
                let large = self.large[bank][level];
                if let Some(base) = base
                    && large != 0
                {
                    let start = slot_start(base, level, large.trailing_zeros() as usize);
                    let at = start.saturating_sub(SLOTS as u64).max(self.elapsed);
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                }
            }
        }
        wake
    }
}
