//! Property test: slots through the driver's own submit, reap, poll, drop and cancel
//! paths, in any order, on the backend `RINGIO_BACKEND` names (io_uring by default).
//! Every slot is freed exactly once (a double free or a CQE for a freed key panics in
//! the slab), a dropped op's orphan is finished exactly once, a polled op gets its result
//! once, and a waiting op is woken before its result is there for it.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use io_uring::opcode;
use proptest::prelude::*;

use super::{Completion, Orphan};
use crate::driver::{Driver, RingSize};
use crate::runtime::backend::Backend;
use crate::runtime::blocking::BlockingPool;
use crate::test_util::{TestWaker, proptest_config};

/// Records which dropped op's late CQE arrived.
struct Logged(usize, Rc<RefCell<Vec<usize>>>);

impl Orphan for Logged {
    fn complete(self: Box<Self>, _: Completion) {
        self.1.borrow_mut().push(self.0);
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

#[derive(Clone, Debug)]
enum Op {
    Submit,
    /// Polls the n-th op still owned by its future.
    Poll(usize),
    /// Drops the n-th owned op, with an async-cancel or without.
    Drop(usize, bool),
    /// Asks for the n-th owned op to be cancelled.
    Cancel(usize),
    /// One enter (no wait) and a reap, as the loop does.
    Turn,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Submit),
        3 => any::<usize>().prop_map(Op::Poll),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(n, c)| Op::Drop(n, c)),
        1 => any::<usize>().prop_map(Op::Cancel),
        3 => Just(Op::Turn),
    ]
}

/// An op still owned by its future.
struct Owned {
    id: usize,
    key: usize,
    waker: TestWaker,
    /// Polled and `Pending`, with this many wakes seen at that poll.
    pending_at: Option<usize>,
}

struct Harness {
    driver: Driver,
    owned: Vec<Owned>,
    orphans: Rc<RefCell<Vec<usize>>>,
    /// Ids of dropped ops whose orphan has not been finished yet.
    orphaned: Vec<usize>,
    finished_orphans: Vec<usize>,
    results: Vec<usize>,
}

impl Harness {
    fn new(pool: &Arc<BlockingPool>, wake_fd: &std::os::fd::OwnedFd) -> Harness {
        use std::os::fd::AsRawFd;
        let size = RingSize {
            entries: 64,
            rings: 1,
        };
        let driver = match Backend::from_env().expect("RINGIO_BACKEND is valid") {
            Some(Backend::Epoll) => Driver::new_epoll(size, wake_fd.as_raw_fd(), pool),
            _ => Driver::new(size, wake_fd.as_raw_fd()),
        }
        .expect("a driver starts");
        Harness {
            driver,
            owned: Vec::new(),
            orphans: Rc::default(),
            orphaned: Vec::new(),
            finished_orphans: Vec::new(),
            results: Vec::new(),
        }
    }

    fn turn(&mut self, wait: bool) -> Result<(), TestCaseError> {
        let wait = wait.then_some(Some(std::time::Duration::from_millis(100)));
        self.driver.enter(wait).expect("enter succeeds");
        self.driver.reap();
        let (mut wakers, mut done) = (Vec::new(), Vec::new());
        self.driver.take_ready(&mut wakers, &mut done);
        wakers.into_iter().for_each(std::task::Waker::wake);
        for (orphan, c) in done {
            orphan.complete(c);
        }
        for id in self.orphans.borrow_mut().drain(..) {
            let at = self.orphaned.iter().position(|o| *o == id);
            prop_assert!(
                at.is_some(),
                "orphan {} finished twice or never dropped",
                id
            );
            self.orphaned.swap_remove(at.unwrap_or_default());
            self.finished_orphans.push(id);
        }
        Ok(())
    }

    /// Polls owned op `i`; on `Ready` it is no longer owned.
    fn poll(&mut self, i: usize) -> Result<bool, TestCaseError> {
        let op = &mut self.owned[i];
        let mut cx = crate::test_util::cx(&op.waker);
        match self.driver.poll_slot(op.key, &mut cx) {
            Poll::Ready(c) => {
                prop_assert_eq!(c.result, 0, "a NOP succeeds");
                if let Some(wakes) = op.pending_at {
                    prop_assert!(
                        op.waker.wakes() > wakes,
                        "op {} was ready but never woken",
                        op.id
                    );
                }
                let op = self.owned.swap_remove(i);
                self.results.push(op.id);
                Ok(true)
            }
            Poll::Pending => {
                op.pending_at = Some(op.waker.wakes());
                Ok(false)
            }
        }
    }

    fn in_flight_matches(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            self.driver.in_flight(),
            self.owned.len() + self.orphaned.len()
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(proptest_config(512))]

    #[test]
    fn slots_are_freed_once_whatever_the_order(ops in prop::collection::vec(op(), 0..120)) {
        let pool = BlockingPool::new(1, std::time::Duration::from_secs(1));
        let wake_fd = crate::sys::fd::eventfd().expect("an eventfd");
        let mut h = Harness::new(&pool, &wake_fd);
        let mut next = 0;
        for op in ops {
            match op {
                Op::Submit => {
                    // SAFETY: a NOP points to no memory (slot rule 2 holds trivially).
                    let pushed = unsafe { h.driver.push(opcode::Nop::new().build()) }
                        .expect("SQ has room");
                    let crate::driver::Pushed::Slot(key) = pushed else {
                        panic!("a NOP takes a slot");
                    };
                    let waker = TestWaker::new();
                    h.owned.push(Owned { id: next, key, waker, pending_at: None });
                    next += 1;
                }
                Op::Poll(n) if !h.owned.is_empty() => {
                    h.poll(n % h.owned.len())?;
                }
                Op::Drop(n, cancel) if !h.owned.is_empty() => {
                    let op = h.owned.swap_remove(n % h.owned.len());
                    let log = h.orphans.clone();
                    let id = op.id;
                    match h.driver.abandon(op.key, move || Box::new(Logged(id, log)), cancel) {
                        // The CQE had come: the slot is freed now, the op owns its resources.
                        Some(c) => prop_assert_eq!(c.result, 0),
                        None => h.orphaned.push(op.id),
                    }
                    if cancel {
                        // The epoll backend ends a cancelled op at once: finish its orphan.
                        h.turn(false)?;
                    }
                }
                Op::Cancel(n) if !h.owned.is_empty() => {
                    let key = h.owned[n % h.owned.len()].key;
                    h.driver.cancel_slot(key);
                }
                Op::Turn => h.turn(false)?,
                Op::Poll(_) | Op::Drop(..) | Op::Cancel(_) => {}
            }
            h.in_flight_matches()?;
        }
        // Every CQE comes: each owned op then completes and each orphan is finished.
        let mut turns = 0;
        while !h.owned.is_empty() || !h.orphaned.is_empty() {
            turns += 1;
            prop_assert!(
                turns < 1000,
                "ops never completed: {} owned, {} orphaned",
                h.owned.len(),
                h.orphaned.len()
            );
            let mut i = 0;
            while i < h.owned.len() {
                if !h.poll(i)? {
                    i += 1;
                }
            }
            if !h.owned.is_empty() || !h.orphaned.is_empty() {
                h.turn(true)?;
            }
        }
        h.in_flight_matches()?;
        prop_assert_eq!(h.driver.in_flight(), 0);
        let mut all: Vec<usize> = h.results.iter().chain(&h.finished_orphans).copied().collect();
        all.sort_unstable();
        all.dedup();
        prop_assert!(all.len() <= next);
        pool.close();
    }
}
