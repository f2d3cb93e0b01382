//! A boxed slice whose items are pinned in place: one allocation for many futures.
//!
//! Rules (the `SAFETY:` comment below relies on them):
//! 1. The slice is allocated once and never reallocated; moving a `PinSlice` moves only
//!    the box pointer, never the items.
//! 2. No method moves an item out or hands out an unpinned `&mut` to one: an item is only
//!    reached through `Pin<&mut T>` and is dropped in place (`clear`, or the box's drop).

use std::pin::Pin;

/// Items of type `T`, each pinned where it lies until it is cleared or the slice drops.
pub(crate) struct PinSlice<T>(Box<[Option<T>]>);

impl<T> PinSlice<T> {
    pub(crate) fn new(items: impl IntoIterator<Item = T>) -> Self {
        PinSlice(items.into_iter().map(Some).collect())
    }

    /// How many places the slice has (cleared ones included).
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Item `i`, pinned, unless it was cleared.
    pub(crate) fn get(&mut self, i: usize) -> Option<Pin<&mut T>> {
        let item = self.0.get_mut(i)?.as_mut()?;
        // SAFETY: rules 1 and 2: the item stays at this address until it is dropped in
        // place, which is what pinning requires.
        Some(unsafe { Pin::new_unchecked(item) })
    }

    /// Drops item `i` in place (assignment drops the old value where it lies).
    pub(crate) fn clear(&mut self, i: usize) {
        if let Some(slot) = self.0.get_mut(i) {
            *slot = None;
        }
    }

    /// Drops every item in place.
    pub(crate) fn clear_all(&mut self) {
        for slot in self.0.iter_mut() {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::marker::PhantomPinned;
    use std::rc::Rc;

    struct Pinned {
        addr: Cell<usize>,
        drops: Rc<Cell<usize>>,
        _pin: PhantomPinned,
    }

    impl Drop for Pinned {
        fn drop(&mut self) {
            // Dropped where it was first seen: never moved while pinned.
            let here = self as *const Pinned as usize;
            assert!(
                self.addr.get() == 0 || self.addr.get() == here,
                "moved while pinned"
            );
            self.drops.set(self.drops.get() + 1);
        }
    }

    #[test]
    fn items_stay_put_and_drop_in_place() {
        let drops = Rc::new(Cell::new(0));
        let mut slice = PinSlice::new((0..4).map(|_| Pinned {
            addr: Cell::new(0),
            drops: drops.clone(),
            _pin: PhantomPinned,
        }));
        for i in 0..4 {
            let p = slice.get(i).expect("present");
            p.addr.set(&*p as *const Pinned as usize);
        }
        // Moving the slice moves the box pointer only, never the items.
        let mut slice = std::hint::black_box(slice);
        slice.clear(1);
        assert_eq!(drops.get(), 1);
        assert!(slice.get(1).is_none());
        assert_eq!(slice.len(), 4);
        slice.clear_all();
        assert_eq!(drops.get(), 4);
    }
}
