//! The ops parked on one descriptor in one direction, oldest first (`epoll` rule 2).

use std::collections::VecDeque;

/// No key: `CANCEL_TAG`, which is never parked.
const NONE: u64 = u64::MAX;

/// Keys of parked ops in arrival order. Most descriptors have one op waiting per
/// direction at most: that one is kept inline, so an idle connection's wait costs 16
/// bytes and no allocation.
#[derive(Debug)]
pub(super) struct Waiters {
    first: u64,
    /// Boxed on purpose: 8 bytes in every descriptor's entry instead of a `VecDeque`'s 32,
    /// for a list that is almost always empty.
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<u64>>>,
}

impl Default for Waiters {
    fn default() -> Self {
        Waiters {
            first: NONE,
            rest: None,
        }
    }
}

impl Waiters {
    pub(super) fn is_empty(&self) -> bool {
        self.first == NONE
    }

    pub(super) fn first(&self) -> Option<u64> {
        (self.first != NONE).then_some(self.first)
    }

    pub(super) fn push(&mut self, key: u64) {
        debug_assert_ne!(key, NONE);
        if self.first == NONE {
            self.first = key;
        } else {
            self.rest.get_or_insert_default().push_back(key);
        }
    }

    pub(super) fn pop_front(&mut self) {
        self.first = self
            .rest
            .as_mut()
            .and_then(|r| r.pop_front())
            .unwrap_or(NONE);
    }

    pub(super) fn remove(&mut self, key: u64) {
        if self.first == key {
            self.pop_front();
        } else if let Some(rest) = &mut self.rest {
            rest.retain(|&k| k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_arrival_order_through_removals() {
        let mut w = Waiters::default();
        assert!(w.is_empty());
        for k in [4, 7, 9, 2] {
            w.push(k);
        }
        w.remove(9);
        assert_eq!(w.first(), Some(4));
        w.remove(4);
        assert_eq!(w.first(), Some(7));
        w.pop_front();
        assert_eq!(w.first(), Some(2));
        w.pop_front();
        assert!(w.is_empty());
        assert_eq!(std::mem::size_of::<Waiters>(), 16);
    }
}
