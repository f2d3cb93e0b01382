//! The wait list every primitive in `sync` and the `mpsc` channel's senders are built on.
//!
//! A `WaitList` is a FIFO of waiters kept as a doubly linked list inside a
//! [`Slab`], so that enqueue, dequeue-front and cancellation of any waiter are
//! all O(1). Each waiter is owned by exactly one future, which holds its
//! [`WaiterKey`].
//!
//! A waiter is either `Waiting` (linked into the queue, with the waker to call
//! and whatever it brought, `W`) or `Granted` (unlinked, holding the grant `G`
//! until its future comes back for it). Serving a waiter never frees its slot:
//! only the owning future does, either when it takes the grant
//! ([`WaitList::poll_grant`]) or when it is dropped ([`WaitList::remove`]).
//! That is why a key can never be stale, and why a future dropped after its
//! grant still finds the grant there to pass on (rule 2 in the `sync` docs).
//!
//! The futures that wait in a list all follow one state machine, [`Waiter`]
//! (in `waiter.rs`): each primitive says only what its waiters ask for and
//! what serving, finishing and cancelling mean to it ([`WaitQueue`]).

use std::task::{Context, Waker};

use slab::Slab;

mod waiter;

#[cfg(test)]
mod prop_tests;

pub(crate) use waiter::{WaitQueue, Waiter};

/// Wakers gathered while a primitive's state is borrowed (or its lock held),
/// to be called once it is released: a woken task that re-enters the
/// primitive then finds it free.
///
/// The first waker is kept inline, so the common single wake costs no allocation.
#[derive(Default)]
pub(crate) struct Wakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Wakers {
    /// Nothing to wake yet.
    #[inline]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `waker` to those called by [`wake_all`](Wakers::wake_all).
    #[inline]
    pub(crate) fn push(&mut self, waker: Waker) {
        match self.first {
            None => self.first = Some(waker),
            Some(_) => self.rest.push(waker),
        }
    }

    /// Calls every waker gathered, in the order they were pushed.
    #[inline]
    pub(crate) fn wake_all(self) {
        // `rest` only fills once `first` is taken, so no first means no wake.
        if let Some(first) = self.first {
            first.wake();
            self.rest.into_iter().for_each(Waker::wake);
        }
    }
}

/// Names one waiter in a [`WaitList`]; held by the future that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey(usize);

/// Where a waiter stands.
#[derive(Debug)]
pub(crate) enum WaiterState<W, G> {
    /// Queued; `waker` is called when it is granted.
    Waiting {
        /// Wakes the future that owns this waiter.
        waker: Waker,
        /// What the waiter asked for or brought (permits needed, say).
        data: W,
    },
    /// Served and unlinked; the grant waits for the owning future.
    Granted(G),
}

#[derive(Debug)]
struct Node<W, G> {
    prev: Option<usize>,
    next: Option<usize>,
    state: WaiterState<W, G>,
}

/// A FIFO of waiters with O(1) push, pop-front and removal by key.
#[derive(Debug)]
pub(crate) struct WaitList<W, G> {
    nodes: Slab<Node<W, G>>,
    head: Option<usize>,
    tail: Option<usize>,
    /// Number of linked (`Waiting`) nodes; `nodes.len()` also counts granted ones.
    waiting: usize,
}

impl<W, G> Default for WaitList<W, G> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W, G> WaitList<W, G> {
    /// An empty list.
    pub(crate) fn new() -> Self {
        WaitList {
            nodes: Slab::new(),
            head: None,
            tail: None,
            waiting: 0,
        }
    }

    /// Number of waiters still queued (granted ones do not count).
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// True when no waiter is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.waiting == 0
    }

    /// Number of slots in use, queued or granted-but-not-yet-taken.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.nodes.len()
    }

    /// True if the waiter `key` was served and its grant not yet taken.
    #[cfg(test)]
    pub(crate) fn is_granted(&self, key: WaiterKey) -> bool {
        let node = self.nodes.get(key.0).expect("key of a live waiter");
        matches!(node.state, WaiterState::Granted(_))
    }

    /// Queues a new waiter at the back and returns its key.
    pub(crate) fn push_back(&mut self, waker: &Waker, data: W) -> WaiterKey {
        let key = self.nodes.insert(Node {
            prev: self.tail,
            next: None,
            state: WaiterState::Waiting {
                waker: waker.clone(),
                data,
            },
        });
        match self.tail {
            Some(tail) => self.node_mut(tail).next = Some(key),
            None => self.head = Some(key),
        }
        self.tail = Some(key);
        self.waiting += 1;
        WaiterKey(key)
    }

    /// What the oldest queued waiter brought, if any waiter is queued.
    pub(crate) fn front(&self) -> Option<&W> {
        let head = self.head?;
        match &self.nodes.get(head).expect("head is a live node").state {
            WaiterState::Waiting { data, .. } => Some(data),
            WaiterState::Granted(_) => unreachable!("granted nodes are unlinked"),
        }
    }

    /// Serves the oldest queued waiter with `grant`.
    ///
    /// Returns what the waiter brought and the waker to call once the caller
    /// has released its borrow of the primitive; hands `grant` back if no
    /// waiter is queued, so a grant (an item, say) is never dropped by accident.
    pub(crate) fn grant_front(&mut self, grant: G) -> Result<(W, Waker), G> {
        let Some(head) = self.head else {
            return Err(grant);
        };
        self.unlink(head);
        let node = self.node_mut(head);
        match std::mem::replace(&mut node.state, WaiterState::Granted(grant)) {
            WaiterState::Waiting { waker, data } => Ok((data, waker)),
            WaiterState::Granted(_) => unreachable!("granted nodes are unlinked"),
        }
    }

    /// Serves every queued waiter, oldest first, with a grant made by `grant`;
    /// pushes their wakers onto `wakers`, to be called once the caller has
    /// released its borrow of the primitive.
    pub(crate) fn grant_all(&mut self, mut grant: impl FnMut() -> G, wakers: &mut Wakers) {
        while !self.is_empty() {
            match self.grant_front(grant()) {
                Ok((_, waker)) => wakers.push(waker),
                Err(_) => unreachable!("the list is not empty"),
            }
        }
    }

    /// Called by the owning future when it is polled.
    ///
    /// If the waiter was granted, frees its slot and returns the grant;
    /// otherwise remembers `cx`'s waker (if it changed) and returns `None`.
    pub(crate) fn poll_grant(&mut self, key: WaiterKey, cx: &Context<'_>) -> Option<G> {
        match &mut self.node_mut(key.0).state {
            WaiterState::Waiting { waker, .. } => {
                waker.clone_from(cx.waker());
                None
            }
            WaiterState::Granted(_) => match self.nodes.remove(key.0).state {
                WaiterState::Granted(grant) => Some(grant),
                WaiterState::Waiting { .. } => unreachable!("matched as granted above"),
            },
        }
    }

    /// Called by the owning future when it is dropped: frees the slot (unlinking
    /// it if still queued) and returns its last state, so the caller can pass a
    /// grant on.
    pub(crate) fn remove(&mut self, key: WaiterKey) -> WaiterState<W, G> {
        if matches!(self.node_mut(key.0).state, WaiterState::Waiting { .. }) {
            self.unlink(key.0);
        }
        self.nodes.remove(key.0).state
    }

    fn node_mut(&mut self, key: usize) -> &mut Node<W, G> {
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
        self.waiting -= 1;
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Waker};

    use super::*;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn grants_in_push_order() {
        let mut list: WaitList<u32, char> = WaitList::new();
        let keys: Vec<WaiterKey> = (0..3).map(|i| list.push_back(Waker::noop(), i)).collect();
        assert_eq!(list.front(), Some(&0));
        assert_eq!(list.grant_front('a').map(|(d, _)| d).ok(), Some(0));
        assert_eq!(list.grant_front('b').map(|(d, _)| d).ok(), Some(1));
        assert_eq!(list.len(), 1);
        assert_eq!(list.entries(), 3, "granted slots wait for their owners");
        assert_eq!(list.poll_grant(keys[1], &cx()), Some('b'));
        assert_eq!(list.poll_grant(keys[0], &cx()), Some('a'));
        assert_eq!(list.poll_grant(keys[2], &cx()), None);
        assert_eq!(list.entries(), 1);
    }

    #[test]
    fn removes_from_any_position() {
        let mut list: WaitList<u32, ()> = WaitList::new();
        let keys: Vec<WaiterKey> = (0..5).map(|i| list.push_back(Waker::noop(), i)).collect();
        for i in [2, 0, 4] {
            assert!(matches!(list.remove(keys[i]), WaiterState::Waiting { .. }));
        }
        let mut order = Vec::new();
        while let Ok((data, _)) = list.grant_front(()) {
            order.push(data);
        }
        assert_eq!(order, [1, 3]);
        assert_eq!(
            list.grant_front(()).err(),
            Some(()),
            "empty: grant handed back"
        );
        for i in [1, 3] {
            assert!(matches!(list.remove(keys[i]), WaiterState::Granted(())));
        }
        assert_eq!(list.entries(), 0);
        // The list is whole again after removals: push and serve still work.
        let key = list.push_back(Waker::noop(), 9);
        let mut wakers = Wakers::new();
        list.grant_all(|| (), &mut wakers);
        assert!(wakers.first.is_some() && wakers.rest.is_empty());
        assert_eq!(list.poll_grant(key, &cx()), Some(()));
    }
}
