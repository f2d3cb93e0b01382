//! The FIFO of senders waiting for room in an [`mpsc`](super::mpsc) channel.
//!
//! A doubly linked list inside a [`Slab`], kept under the channel's mutex, so that
//! enqueue, granting the front and removing any waiter are all O(1) (rule 4 in the
//! module docs). Each waiter is owned by one send future, which holds its
//! [`WaiterKey`]. A granted waiter is unlinked but keeps its slot until its future
//! polls it ([`WaitList::take_grant`]) or drops it ([`WaitList::remove`]); only the
//! owner frees the slot, so a key is never stale.

use std::task::Waker;

use slab::Slab;

/// Names one waiter in a [`WaitList`]; held by the future that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WaiterKey(usize);

#[derive(Debug)]
enum Slot {
    /// Queued; the waker is called when the waiter is granted a place.
    Waiting(Waker),
    /// Unlinked and holding a reserved place until its future comes for it.
    Granted,
}

#[derive(Debug)]
struct Node {
    prev: Option<usize>,
    next: Option<usize>,
    slot: Slot,
}

/// A FIFO of waiters with O(1) push, grant-front and removal by key.
#[derive(Debug, Default)]
pub(super) struct WaitList {
    nodes: Slab<Node>,
    head: Option<usize>,
    tail: Option<usize>,
}

impl WaitList {
    /// True when no waiter is queued (granted ones do not count).
    pub(super) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Slots in use, queued or granted-but-not-yet-taken.
    #[cfg(test)]
    pub(super) fn entries(&self) -> usize {
        self.nodes.len()
    }

    /// Queues a new waiter at the back and returns its key.
    pub(super) fn push_back(&mut self, waker: &Waker) -> WaiterKey {
        let key = self.nodes.insert(Node {
            prev: self.tail,
            next: None,
            slot: Slot::Waiting(waker.clone()),
        });
        match self.tail {
            Some(tail) => self.node_mut(tail).next = Some(key),
            None => self.head = Some(key),
        }
        self.tail = Some(key);
        WaiterKey(key)
    }

    /// Grants the oldest queued waiter; returns its waker, to be called once the
    /// channel's lock is released.
    pub(super) fn grant_front(&mut self) -> Option<Waker> {
        let head = self.head?;
        self.unlink(head);
        match std::mem::replace(&mut self.node_mut(head).slot, Slot::Granted) {
            Slot::Waiting(waker) => Some(waker),
            Slot::Granted => unreachable!("granted nodes are unlinked"),
        }
    }

    /// Clones of the wakers of every queued waiter, oldest first; the waiters stay
    /// queued (used when the channel closes: each future then sees the close).
    pub(super) fn queued_wakers(&self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        let mut at = self.head;
        while let Some(key) = at {
            let node = &self.nodes[key];
            if let Slot::Waiting(waker) = &node.slot {
                wakers.push(waker.clone());
            }
            at = node.next;
        }
        wakers
    }

    /// Called by the owning future when polled: if the waiter was granted, frees its
    /// slot and returns true; otherwise remembers `waker` (if it changed).
    pub(super) fn take_grant(&mut self, key: WaiterKey, waker: &Waker) -> bool {
        match &mut self.node_mut(key.0).slot {
            Slot::Waiting(old) => {
                if !old.will_wake(waker) {
                    old.clone_from(waker);
                }
                false
            }
            Slot::Granted => {
                self.nodes.remove(key.0);
                true
            }
        }
    }

    /// Called by the owning future when it gives up: frees the slot, unlinking it if
    /// still queued, and returns true if it had been granted (so the caller can pass
    /// the grant on).
    pub(super) fn remove(&mut self, key: WaiterKey) -> bool {
        let granted = matches!(self.node_mut(key.0).slot, Slot::Granted);
        if !granted {
            self.unlink(key.0);
        }
        self.nodes.remove(key.0);
        granted
    }

    fn node_mut(&mut self, key: usize) -> &mut Node {
        self.nodes
            .get_mut(key)
            .expect("a waiter key is only freed by the future that owns it")
    }

    /// Takes a queued node out of the linked list (its slot stays).
    fn unlink(&mut self, key: usize) {
        let node = self.node_mut(key);
        let (prev, next) = (node.prev.take(), node.next.take());
        match prev {
            Some(prev) => self.node_mut(prev).next = next,
            None => self.head = next,
        }
        match next {
            Some(next) => self.node_mut(next).prev = prev,
            None => self.tail = prev,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    #[test]
    fn grants_in_push_order() {
        let mut list = WaitList::default();
        let keys: Vec<WaiterKey> = (0..3).map(|_| list.push_back(Waker::noop())).collect();
        assert!(list.grant_front().is_some());
        assert!(list.grant_front().is_some());
        assert_eq!(list.entries(), 3, "granted slots wait for their owners");
        assert!(list.take_grant(keys[1], Waker::noop()));
        assert!(list.take_grant(keys[0], Waker::noop()));
        assert!(!list.take_grant(keys[2], Waker::noop()), "still queued");
        assert_eq!(list.queued_wakers().len(), 1);
        assert!(list.grant_front().is_some());
        assert!(list.grant_front().is_none());
        assert!(list.is_empty());
        assert!(list.remove(keys[2]), "it had been granted");
        assert_eq!(list.entries(), 0);
    }

    #[test]
    fn removes_from_any_position() {
        let mut list = WaitList::default();
        let keys: Vec<WaiterKey> = (0..5).map(|_| list.push_back(Waker::noop())).collect();
        for i in [2, 0, 4] {
            assert!(!list.remove(keys[i]), "removed while queued");
        }
        assert_eq!(list.queued_wakers().len(), 2);
        assert!(list.grant_front().is_some());
        // keys[1] was at the front: it is the granted one.
        assert!(list.take_grant(keys[1], Waker::noop()));
        assert!(!list.take_grant(keys[3], Waker::noop()));
        assert!(!list.remove(keys[3]));
        assert!(list.is_empty());
        assert_eq!(list.entries(), 0);
        // The list is whole again: push and grant still work.
        let key = list.push_back(Waker::noop());
        assert!(list.grant_front().is_some());
        assert!(list.take_grant(key, Waker::noop()));
    }
}
