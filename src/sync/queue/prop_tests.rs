//! Property tests: `Queue`, `LifoQueue` and `PriorityQueue` against std collections, and
//! no item lost or duplicated when waiting getters and putters are polled and dropped in
//! any order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::pin::Pin;
use std::task::Poll;

use proptest::prelude::*;

use super::*;
use crate::test_util::{poll_once, proptest_config};

#[derive(Clone, Debug)]
enum Op {
    TryPut(u8),
    TryGet,
    /// A `put` future polled once (the fast path), dropped if still pending.
    Put(u8),
    /// A `get` future polled once (the fast path), dropped if still pending.
    Get,
    TaskDone,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u8>().prop_map(Op::TryPut),
        Just(Op::TryGet),
        any::<u8>().prop_map(Op::Put),
        Just(Op::Get),
        Just(Op::TaskDone),
    ]
}

/// The reference for one queue kind: where an item goes and which comes out next.
trait Model: Default {
    fn push(&mut self, v: u8);
    fn pop(&mut self) -> Option<u8>;
    fn len(&self) -> usize;
}

#[derive(Default)]
struct Fifo(VecDeque<u8>);
#[derive(Default)]
struct Lifo(Vec<u8>);
#[derive(Default)]
struct Smallest(BinaryHeap<Reverse<u8>>);

impl Model for Fifo {
    fn push(&mut self, v: u8) {
        self.0.push_back(v);
    }
    fn pop(&mut self) -> Option<u8> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl Model for Lifo {
    fn push(&mut self, v: u8) {
        self.0.push(v);
    }
    fn pop(&mut self) -> Option<u8> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl Model for Smallest {
    fn push(&mut self, v: u8) {
        self.0.push(Reverse(v));
    }
    fn pop(&mut self) -> Option<u8> {
        self.0.pop().map(|Reverse(v)| v)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Runs `ops` on a queue of `maxsize` and on model `M`: every answer must agree, and
/// so must the count of items not yet done (`task_done`, `join`).
fn check_against<S: QueueStorage<u8>, M: Model>(
    maxsize: usize,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let q: GenericQueue<u8, S> = GenericQueue::new(maxsize);
    let mut model = M::default();
    let mut unfinished = 0usize;
    for op in ops {
        let full = maxsize != 0 && model.len() == maxsize;
        match *op {
            Op::Put(v) => match poll_once(std::pin::pin!(q.put(v))) {
                Poll::Ready(r) => {
                    prop_assert_eq!(r, Ok(()));
                    prop_assert!(!full, "put {} into a full queue", v);
                    model.push(v);
                    unfinished += 1;
                }
                // Dropped while waiting: the item never went in.
                Poll::Pending => prop_assert!(full, "put {} waits with room left", v),
            },
            Op::Get => match (poll_once(std::pin::pin!(q.get())), model.pop()) {
                (Poll::Ready(Ok(got)), Some(want)) => prop_assert_eq!(got, want),
                (Poll::Pending, None) => {}
                (got, want) => prop_assert!(false, "got {:?}, model says {:?}", got, want),
            },
            Op::TaskDone => {
                prop_assert_eq!(q.task_done().is_ok(), unfinished > 0);
                unfinished = unfinished.saturating_sub(1);
            }
            Op::TryPut(v) => match q.try_put(v) {
                Ok(()) => {
                    prop_assert!(!full, "put {} into a full queue", v);
                    model.push(v);
                    unfinished += 1;
                }
                Err(TryPutError::Full(back)) => {
                    prop_assert!(full, "{} refused with room left", v);
                    prop_assert_eq!(back, v);
                }
                Err(TryPutError::ShutDown(_)) => prop_assert!(false, "never shut down"),
            },
            Op::TryGet => match (q.try_get(), model.pop()) {
                (Ok(got), Some(want)) => prop_assert_eq!(got, want),
                (Err(TryGetError::Empty), None) => {}
                (got, want) => prop_assert!(false, "got {:?}, model says {:?}", got, want),
            },
        }
        prop_assert_eq!(q.len(), model.len());
        prop_assert_eq!(q.is_empty(), model.len() == 0);
        prop_assert_eq!(q.is_full(), maxsize != 0 && model.len() == maxsize);
        prop_assert_eq!(q.state.borrow().unfinished, unfinished);
        let joined = poll_once(std::pin::pin!(q.join())).is_ready();
        prop_assert_eq!(joined, unfinished == 0);
        prop_assert_eq!(q.waiter_entries(), 0, "a dropped future left an entry");
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Waiting {
    /// Starts a `put` of the next value and polls it once.
    Put,
    /// Starts a `get` and polls it once.
    Get,
    /// Polls every pending future once, oldest first.
    PollAll,
    /// Drops the n-th pending put (modulo their number).
    DropPut(usize),
    /// Drops the n-th pending get (modulo their number).
    DropGet(usize),
}

fn waiting() -> impl Strategy<Value = Waiting> {
    prop_oneof![
        3 => Just(Waiting::Put),
        3 => Just(Waiting::Get),
        2 => Just(Waiting::PollAll),
        1 => any::<usize>().prop_map(Waiting::DropPut),
        1 => any::<usize>().prop_map(Waiting::DropGet),
    ]
}

type PutFut<'a> = Pin<Box<Put<'a, u32, FifoStorage<u32>>>>;
type GetFut<'a> = Pin<Box<Get<'a, u32, FifoStorage<u32>>>>;

/// Polls a put once: done, or kept as pending.
fn poll_put<'a>(
    v: u32,
    mut f: PutFut<'a>,
    puts: &mut Vec<(u32, PutFut<'a>)>,
    done: &mut HashSet<u32>,
) {
    match poll_once(f.as_mut()) {
        Poll::Ready(r) => {
            assert_eq!(r, Ok(()), "the queue is never shut down");
            done.insert(v);
        }
        Poll::Pending => puts.push((v, f)),
    }
}

/// Polls a get once: its item, or kept as pending.
fn poll_get<'a>(mut f: GetFut<'a>, gets: &mut Vec<GetFut<'a>>, got: &mut Vec<u32>) {
    match poll_once(f.as_mut()) {
        Poll::Ready(r) => got.push(r.expect("the queue is never shut down")),
        Poll::Pending => gets.push(f),
    }
}

/// How many putters and getters are queued (not yet granted).
fn queued<T, S: QueueStorage<T>>(q: &GenericQueue<T, S>) -> (usize, usize) {
    let state = q.state.borrow();
    (state.putters.len(), state.getters.len())
}

/// Waiting getters and putters on a bounded `Queue`, polled and dropped in any order:
/// each value whose put completed is got exactly once (by a get or the final drain),
/// a value whose put was dropped before completing never is, and nothing else comes out.
fn check_waiters(maxsize: usize, ops: &[Waiting]) -> Result<(), TestCaseError> {
    let q: Queue<u32> = Queue::new(maxsize);
    let mut puts: Vec<(u32, PutFut<'_>)> = Vec::new();
    let mut gets: Vec<GetFut<'_>> = Vec::new();
    let (mut put_done, mut put_dropped) = (HashSet::new(), HashSet::new());
    let mut got: Vec<u32> = Vec::new();
    let mut next = 0u32;
    for op in ops {
        match *op {
            Waiting::Put => {
                // Rule 1: a new put never overtakes a queued one; one that goes in
                // while getters are queued hands its item to the oldest.
                let (putters, getters) = queued(&q);
                let pending = puts.len();
                poll_put(next, Box::pin(q.put(next)), &mut puts, &mut put_done);
                if putters > 0 {
                    prop_assert_eq!(puts.len(), pending + 1, "put {} overtook a putter", next);
                }
                if puts.len() == pending && getters > 0 {
                    prop_assert_eq!(queued(&q).1, getters - 1, "put {} skipped a getter", next);
                }
                next += 1;
            }
            Waiting::Get => {
                // Rule 1: a new get never overtakes a queued one.
                let getters = queued(&q).1;
                let pending = gets.len();
                poll_get(Box::pin(q.get()), &mut gets, &mut got);
                if getters > 0 {
                    prop_assert_eq!(gets.len(), pending + 1, "a get overtook a queued getter");
                }
            }
            Waiting::PollAll => {
                for (v, f) in std::mem::take(&mut puts) {
                    poll_put(v, f, &mut puts, &mut put_done);
                }
                for f in std::mem::take(&mut gets) {
                    poll_get(f, &mut gets, &mut got);
                }
            }
            Waiting::DropPut(n) if !puts.is_empty() => {
                let (v, f) = puts.remove(n % puts.len());
                drop(f);
                put_dropped.insert(v);
            }
            Waiting::DropGet(n) if !gets.is_empty() => drop(gets.remove(n % gets.len())),
            Waiting::DropPut(_) | Waiting::DropGet(_) => {}
        }
        prop_assert!(
            maxsize == 0 || q.len() <= maxsize,
            "{} items in a queue of {}",
            q.len(),
            maxsize
        );
        // What the first-poll fast paths rely on: nobody waits for what is there.
        let (putters, getters) = queued(&q);
        prop_assert!(putters == 0 || q.is_full(), "a putter waits with room left");
        prop_assert!(getters == 0 || q.is_empty(), "a getter waits by an item");
    }
    // The pending gets are dropped (any grant they hold goes back), then the rest is drained.
    drop(gets);
    for (v, f) in puts {
        drop(f);
        put_dropped.insert(v);
    }
    while let Ok(v) = q.try_get() {
        got.push(v);
    }
    let mut seen = HashSet::new();
    for v in &got {
        prop_assert!(seen.insert(*v), "{} came out twice", v);
        prop_assert!(
            put_done.contains(v),
            "{} came out but its put never completed",
            v
        );
    }
    prop_assert_eq!(
        seen.len(),
        put_done.len(),
        "values lost: {:?}",
        put_done.difference(&seen).collect::<Vec<_>>()
    );
    prop_assert!(put_dropped.is_disjoint(&put_done));
    Ok(())
}

proptest! {
    #![proptest_config(proptest_config(1024))]

    #[test]
    fn queue_matches_vecdeque(
        maxsize in 0usize..5,
        ops in prop::collection::vec(op(), 0..100),
    ) {
        check_against::<FifoStorage<u8>, Fifo>(maxsize, &ops)?;
    }

    #[test]
    fn lifo_queue_matches_vec(
        maxsize in 0usize..5,
        ops in prop::collection::vec(op(), 0..100),
    ) {
        check_against::<LifoStorage<u8>, Lifo>(maxsize, &ops)?;
    }

    #[test]
    fn priority_queue_matches_binary_heap(
        maxsize in 0usize..5,
        ops in prop::collection::vec(op(), 0..100),
    ) {
        check_against::<PriorityStorage<u8>, Smallest>(maxsize, &ops)?;
    }

    #[test]
    fn queue_waiters_lose_and_duplicate_nothing(
        maxsize in 0usize..4,
        ops in prop::collection::vec(waiting(), 0..100),
    ) {
        check_waiters(maxsize, &ops)?;
    }
}
