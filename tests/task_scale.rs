//! Combinators over 10,000 children: a wake costs O(1), never a poll of every child.
//!
//! Children are driven only by each other (yields and gates opened by a sibling), never
//! by timers or other tasks, so the poll counts are exact whatever the executor does.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ringio::task::{as_completed, gather, race};

mod support;

const CHILDREN: usize = 10_000;
/// CPU time the gather of 10,000 staggered children (about 40,000 wakes) may use on its
/// core. Measured on the 2-core CI machine: 26 ms in a debug build, 5 ms in release. With
/// one O(n) pass over the children per wake, the cost the bound is there to catch: 7.5 s
/// in debug, 110 ms in release. Each bound is some 10 to 40 times the normal figure, room
/// for a slower machine, and below the O(n) one (500 ms in release, as before, would not
/// catch it).
#[cfg(debug_assertions)]
const GATHER_CPU_LIMIT: Duration = Duration::from_secs(1);
#[cfg(not(debug_assertions))]
const GATHER_CPU_LIMIT: Duration = Duration::from_millis(50);
/// Most times a child yields before it waits at its gate.
const YIELDS: usize = 3;
/// Yields of the opener (child 0) before each gate it opens: more than any child needs
/// to reach its gate.
const OPEN_EVERY: usize = 2 * YIELDS + 2;

pin_project_lite::pin_project! {
    /// Counts every poll of the future it wraps into a shared counter.
    struct Counted<F> {
        #[pin]
        inner: F,
        polls: Rc<Cell<usize>>,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.polls.set(this.polls.get() + 1);
        this.inner.poll(cx)
    }
}

fn counted<F: Future>(polls: &Rc<Cell<usize>>, inner: F) -> Counted<F> {
    Counted {
        inner,
        polls: polls.clone(),
    }
}

/// A door that futures wait at until it is opened; opening wakes each waker once.
#[derive(Default)]
struct Gate {
    open: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    fn open(&self) {
        self.open.set(true);
        for waker in self.waiters.take() {
            waker.wake();
        }
    }

    /// Waits until open; `registrations` copies of the waker are kept, so opening wakes
    /// the waiter that many times.
    async fn wait(&self, registrations: usize) {
        poll_fn(|cx| {
            if self.open.get() {
                return Poll::Ready(());
            }
            let mut waiters = self.waiters.borrow_mut();
            waiters.extend(std::iter::repeat_n(cx.waker().clone(), registrations));
            Poll::Pending
        })
        .await;
    }
}

async fn yield_times(n: usize) {
    for _ in 0..n {
        ringio::yield_now().await;
    }
}

/// Yields of child `i` (not the opener) before it waits at gate `i % 3`.
fn yields_of(i: usize) -> usize {
    i % (YIELDS + 1)
}

/// Child `i` of a staggered set: child 0 opens the three gates one after the other,
/// every other child yields `yields_of(i)` times and waits at gate `i % 3`. So
/// children are woken at different times, and a waiting child must not be polled when
/// its siblings are woken.
async fn staggered(i: usize, gates: Rc<[Gate; 3]>) -> usize {
    if i == 0 {
        for gate in gates.iter() {
            yield_times(OPEN_EVERY).await;
            gate.open();
        }
    } else {
        yield_times(yields_of(i)).await;
        gates[i % 3].wait(1).await;
    }
    i
}

/// Polls of a staggered set under rule 2: one to start, one per wake, and one more for
/// each child that went straight to its gate at its first poll. The opener's first
/// yield fires the waker all first polls share, so the next poll polls every child
/// again with its own waker: for a child that yielded in its first poll that is the
/// poll its wake asked for; for one waiting at its gate it is one without a wake.
fn staggered_polls() -> usize {
    let opener = 3 * OPEN_EVERY + 1;
    let waited_at_once = (1..CHILDREN).filter(|&i| yields_of(i) == 0).count();
    opener + (1..CHILDREN).map(|i| 1 + yields_of(i) + 1).sum::<usize>() + waited_at_once
}

#[test]
fn gather_of_10000_polls_each_child_o1_times() {
    ringio::run(async {
        let polls = Rc::new(Cell::new(0));
        let gates: Rc<[Gate; 3]> = Rc::default();
        // The whole gather runs on this core's thread, so its CPU time is the work done,
        // whatever else the machine runs meanwhile (wall time is not).
        let cpu_before = support::thread_cpu();
        let futs = (0..CHILDREN).map(|i| counted(&polls, staggered(i, gates.clone())));
        let out = gather(futs).await;
        let cpu = support::thread_cpu() - cpu_before;
        assert_eq!(out.len(), CHILDREN);
        assert!(out.iter().enumerate().all(|(i, &v)| i == v));
        assert_eq!(polls.get(), staggered_polls());
        eprintln!("gather of {CHILDREN} staggered children: {cpu:?} of CPU");
        assert!(
            cpu < GATHER_CPU_LIMIT,
            "gather of {CHILDREN} children used {cpu:?} of CPU (limit {GATHER_CPU_LIMIT:?}): \
             a wake costs more than O(1)"
        );
    });
}

#[test]
fn gather_polls_only_the_woken_child() {
    ringio::run(async {
        let busy = Rc::new(Cell::new(0));
        let idle = Rc::new(Cell::new(0));
        let gate = Rc::new(Gate::default());
        // One child wakes itself 1,000 times while 9,999 siblings wait at its gate.
        let futs = (0..CHILDREN).map(|i| {
            let gate = gate.clone();
            let polls = if i == 0 { &busy } else { &idle };
            counted(polls, async move {
                if i == 0 {
                    yield_times(1_000).await;
                    gate.open();
                } else {
                    gate.wait(1).await;
                }
            })
        });
        gather(futs).await;
        assert_eq!(busy.get(), 1_001);
        // Each sibling: a first poll, one more when the busy child's first yield fires
        // the waker all first polls share (rule 2), then one when the gate opens; none
        // for the busy child's other 999 wakes.
        assert_eq!(idle.get(), (CHILDREN - 1) * 3);
    });
}

#[test]
fn gather_polls_a_child_woken_twice_once() {
    ringio::run(async {
        let polls = Rc::new(Cell::new(0));
        let gates: Rc<[Gate; 2]> = Rc::default();
        let futs = (0..CHILDREN).map(|i| {
            let gates = gates.clone();
            counted(&polls, async move {
                if i == 0 {
                    for gate in gates.iter() {
                        yield_times(2).await;
                        gate.open();
                    }
                } else {
                    gates[0].wait(2).await; // opening it wakes this child twice
                    gates[1].wait(1).await;
                }
            })
        });
        gather(futs).await;
        // Two wakes before the next poll queue the child once (rule 2): a first poll,
        // one more when the opener's first yield fires the waker all first polls share,
        // then one per gate. The opener: a first poll and four yields.
        assert_eq!(polls.get(), (CHILDREN - 1) * 4 + 5);
    });
}

#[test]
fn as_completed_of_10000_polls_each_child_o1_times() {
    ringio::run(async {
        let polls = Rc::new(Cell::new(0));
        let gates: Rc<[Gate; 3]> = Rc::default();
        let futs = (0..CHILDREN).map(|i| counted(&polls, staggered(i, gates.clone())));
        let mut done = as_completed(futs);
        let mut seen = vec![false; CHILDREN];
        while let Some(i) = done.next().await {
            assert!(!std::mem::replace(&mut seen[i], true), "{i} given twice");
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(polls.get(), staggered_polls());
    });
}

#[test]
fn race_of_10000_polls_each_child_once_then_drops_them() {
    ringio::run(async {
        let polls = Rc::new(Cell::new(0));
        let gates: Rc<[Gate; 3]> = Rc::default();
        // The last child needs no wake: it wins in the first poll.
        let futs = (0..CHILDREN).map(|i| {
            let gates = gates.clone();
            counted(&polls, async move {
                if i == CHILDREN - 1 {
                    return i;
                }
                staggered(i, gates).await
            })
        });
        assert_eq!(race(futs).await, (CHILDREN - 1, CHILDREN - 1));
        assert_eq!(polls.get(), CHILDREN);
    });
}
