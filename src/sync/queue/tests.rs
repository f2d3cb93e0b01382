//! Unit tests of the queue logic, driven by hand (see `crate::test_util`).

use std::pin::{Pin, pin};
use std::task::Poll;

use super::*;
use crate::test_util::{TestWaker, XorShift, poll_once};

/// Polls a future that must be ready and returns its output.
fn ready<F: Future + ?Sized>(w: &TestWaker, fut: Pin<&mut F>) -> F::Output {
    match w.poll(fut) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("future should be ready"),
    }
}

#[test]
fn queue_serves_getters_in_fifo_order() {
    let q = Queue::new(0);
    let wakers: Vec<TestWaker> = (0..3).map(|_| TestWaker::new()).collect();
    let mut gets: Vec<_> = (0..3).map(|_| Box::pin(q.get())).collect();
    for (g, w) in gets.iter_mut().zip(&wakers) {
        assert!(w.poll(g.as_mut()).is_pending());
    }
    for i in 0..3 {
        q.try_put(i).expect("unbounded");
    }
    for (i, (g, w)) in gets.iter_mut().zip(&wakers).enumerate() {
        assert_eq!(w.wakes(), 1);
        assert_eq!(ready(w, g.as_mut()), Ok(i));
    }
}

#[test]
fn queue_maxsize_backpressure() {
    let q = Queue::new(2);
    q.try_put(1).expect("room");
    q.try_put(2).expect("room");
    assert!(q.is_full());
    assert_eq!(q.try_put(3), Err(TryPutError::Full(3)));
    let w = TestWaker::new();
    let mut put = Box::pin(q.put(3));
    assert!(
        w.poll(put.as_mut()).is_pending(),
        "a full queue makes put wait"
    );
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(w.wakes(), 1, "taking an item wakes the putter");
    // The freed slot is reserved for the waiting putter (rule 1).
    assert_eq!(q.try_put(4), Err(TryPutError::Full(4)));
    assert_eq!(ready(&w, put.as_mut()), Ok(()));
    assert_eq!(q.len(), 2);
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.try_get(), Ok(3));
    assert!(!q.is_full());
}

#[test]
fn queue_serves_putters_in_fifo_order() {
    let q = Queue::new(1);
    q.try_put(0).expect("room");
    let wakers: Vec<TestWaker> = (0..3).map(|_| TestWaker::new()).collect();
    let mut puts: Vec<_> = (1..=3).map(|i| Box::pin(q.put(i))).collect();
    for (p, w) in puts.iter_mut().zip(&wakers) {
        assert!(w.poll(p.as_mut()).is_pending());
    }
    for i in 0..3 {
        assert_eq!(q.try_get(), Ok(i));
        let woken: Vec<usize> = wakers.iter().map(TestWaker::wakes).collect();
        let expected: Vec<usize> = (0..3).map(|j| usize::from(j <= i)).collect();
        assert_eq!(woken, expected);
        assert_eq!(ready(&wakers[i], puts[i].as_mut()), Ok(()));
    }
    assert_eq!(q.try_get(), Ok(3));
}

#[test]
fn queue_cancelled_getter_does_not_lose_item() {
    // Passed to the next getter...
    let q = Queue::new(0);
    let (w1, w2) = (TestWaker::new(), TestWaker::new());
    let mut g1 = Box::pin(q.get());
    let mut g2 = Box::pin(q.get());
    assert!(w1.poll(g1.as_mut()).is_pending());
    assert!(w2.poll(g2.as_mut()).is_pending());
    q.try_put("x").expect("unbounded");
    assert_eq!((w1.wakes(), w2.wakes()), (1, 0));
    drop(g1);
    assert_eq!(w2.wakes(), 1);
    assert_eq!(ready(&w2, g2.as_mut()), Ok("x"));
    // ...or, with no getter left, put back at the front.
    let mut g3 = Box::pin(q.get());
    assert!(poll_once(g3.as_mut()).is_pending());
    q.try_put("first").expect("unbounded");
    q.try_put("second").expect("unbounded");
    drop(g3);
    assert_eq!(q.try_get(), Ok("first"));
    assert_eq!(q.try_get(), Ok("second"));
    assert_eq!(q.waiter_entries(), 0);
}

#[test]
fn queue_cancelled_getter_never_overfills_the_queue() {
    let q = Queue::new(1);
    let mut g = Box::pin(q.get());
    assert!(poll_once(g.as_mut()).is_pending());
    q.try_put(1).expect("room");
    // The item handed to the getter still holds the only slot.
    assert!(q.is_full());
    assert_eq!(q.try_put(2), Err(TryPutError::Full(2)));
    drop(g);
    assert_eq!(q.len(), 1);
    assert_eq!(q.try_get(), Ok(1));
}

#[test]
fn queue_cancelled_putter_passes_room_on() {
    let q = Queue::new(1);
    q.try_put(0).expect("room");
    let (w1, w2) = (TestWaker::new(), TestWaker::new());
    let mut p1 = Box::pin(q.put(1));
    let mut p2 = Box::pin(q.put(2));
    assert!(w1.poll(p1.as_mut()).is_pending());
    assert!(w2.poll(p2.as_mut()).is_pending());
    assert_eq!(q.try_get(), Ok(0));
    assert_eq!((w1.wakes(), w2.wakes()), (1, 0));
    drop(p1); // a dropped put never delivers its item
    assert_eq!(w2.wakes(), 1);
    assert_eq!(ready(&w2, p2.as_mut()), Ok(()));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
}

#[test]
fn queue_newcomer_does_not_barge_queued_waiter() {
    let q = Queue::new(1);
    q.try_put(0).expect("room");
    let mut queued = Box::pin(q.put(1));
    assert!(poll_once(queued.as_mut()).is_pending());
    assert_eq!(q.try_get(), Ok(0));
    // Room exists only for `queued`, which has not run yet.
    let mut newcomer = Box::pin(q.put(2));
    assert!(poll_once(newcomer.as_mut()).is_pending());
    assert_eq!(q.try_put(3), Err(TryPutError::Full(3)));
    assert_eq!(poll_once(queued.as_mut()), Poll::Ready(Ok(())));
    // A getter that is already waiting gets the next item, not try_get.
    let q = Queue::new(0);
    let mut getter = Box::pin(q.get());
    assert!(poll_once(getter.as_mut()).is_pending());
    q.try_put(7).expect("unbounded");
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
    assert_eq!(poll_once(getter.as_mut()), Poll::Ready(Ok(7)));
}

#[test]
fn queue_put_and_get_futures_keep_rule_1() {
    // A put future while a getter waits hands it the item; a later get waits.
    let q = Queue::new(0);
    let w = TestWaker::new();
    let mut getter = Box::pin(q.get());
    assert!(w.poll(getter.as_mut()).is_pending());
    assert_eq!(poll_once(pin!(q.put(7))), Poll::Ready(Ok(())));
    assert_eq!(w.wakes(), 1, "the put wakes the waiting getter");
    let mut late = Box::pin(q.get());
    assert!(
        poll_once(late.as_mut()).is_pending(),
        "a later get took the waiting getter's item"
    );
    assert_eq!(ready(&w, getter.as_mut()), Ok(7));
    drop(late);
    assert_eq!(q.waiter_entries(), 0);
    // A get future while a putter waits frees its slot for that putter, and
    // a later put does not take the room reserved for it.
    let q = Queue::new(1);
    assert_eq!(poll_once(pin!(q.put(0))), Poll::Ready(Ok(())));
    let w = TestWaker::new();
    let mut queued = Box::pin(q.put(1));
    assert!(w.poll(queued.as_mut()).is_pending());
    assert_eq!(poll_once(pin!(q.get())), Poll::Ready(Ok(0)));
    assert_eq!(w.wakes(), 1, "the get wakes the waiting putter");
    assert!(
        poll_once(pin!(q.put(2))).is_pending(),
        "a later put took the reserved room"
    );
    assert_eq!(ready(&w, queued.as_mut()), Ok(()));
    assert_eq!(poll_once(pin!(q.get())), Poll::Ready(Ok(1)));
    // Two items went in (0 and 1); the put of 2 was dropped waiting.
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Err(TaskDoneError));
    assert_eq!(q.waiter_entries(), 0);
}

#[test]
#[should_panic(expected = "`Put` polled after completion")]
fn queue_put_polled_after_completion_panics() {
    let q = Queue::new(0);
    let mut put = pin!(q.put(1));
    assert_eq!(poll_once(put.as_mut()), Poll::Ready(Ok(())));
    let _ = poll_once(put.as_mut());
}

#[test]
#[should_panic(expected = "`Get` polled after completion")]
fn queue_get_polled_after_completion_panics() {
    let q = Queue::new(0);
    q.try_put(1).expect("unbounded");
    let mut get = pin!(q.get());
    assert_eq!(poll_once(get.as_mut()), Poll::Ready(Ok(1)));
    let _ = poll_once(get.as_mut());
}

#[test]
fn queue_dropped_waiter_leaves_no_entry() {
    let q = Queue::new(1);
    {
        let mut g = pin!(q.get());
        let mut j = pin!(q.join());
        assert!(poll_once(g.as_mut()).is_pending());
        q.try_put(1).expect("room"); // granted to `g`, never taken
        assert!(poll_once(j.as_mut()).is_pending());
        let mut p = pin!(q.put(2));
        let mut p2 = pin!(q.put(3));
        assert!(poll_once(p.as_mut()).is_pending());
        assert!(poll_once(p2.as_mut()).is_pending());
        assert_eq!(q.waiter_entries(), 4);
    }
    assert_eq!(q.waiter_entries(), 0);
    assert_eq!(q.try_get(), Ok(1));
    {
        let mut g1 = pin!(q.get());
        let mut g2 = pin!(q.get());
        assert!(poll_once(g1.as_mut()).is_pending());
        assert!(poll_once(g2.as_mut()).is_pending());
        assert_eq!(q.waiter_entries(), 2);
    }
    assert_eq!(q.waiter_entries(), 0);
}

#[test]
fn queue_join_waits_for_task_done() {
    let q = Queue::new(0);
    assert!(
        poll_once(pin!(q.join())).is_ready(),
        "nothing put: join returns"
    );
    q.try_put(1).expect("unbounded");
    q.try_put(2).expect("unbounded");
    let w = TestWaker::new();
    let mut join = Box::pin(q.join());
    assert!(w.poll(join.as_mut()).is_pending());
    q.try_get().expect("item");
    q.try_get().expect("item");
    assert!(w.poll(join.as_mut()).is_pending(), "got is not done");
    q.task_done().expect("one pending");
    assert_eq!(w.wakes(), 0);
    assert!(w.poll(join.as_mut()).is_pending());
    q.task_done().expect("one pending");
    assert_eq!(w.wakes(), 1);
    assert!(w.poll(join.as_mut()).is_ready());
}

#[test]
fn queue_task_done_underflow_is_an_error() {
    let q = Queue::new(0);
    assert_eq!(q.task_done(), Err(TaskDoneError));
    q.try_put(1).expect("unbounded");
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Err(TaskDoneError));
    // The count stayed at zero: one put needs exactly one task_done.
    q.try_put(2).expect("unbounded");
    assert!(poll_once(pin!(q.join())).is_pending());
    assert_eq!(q.task_done(), Ok(()));
    assert!(poll_once(pin!(q.join())).is_ready());
}

#[test]
fn queue_shutdown_immediate_discards_items() {
    let q = Queue::new(3);
    for i in 0..3 {
        q.try_put(i).expect("room");
    }
    let (wj, wp) = (TestWaker::new(), TestWaker::new());
    let mut join = Box::pin(q.join());
    let mut put = Box::pin(q.put(9));
    assert!(wj.poll(join.as_mut()).is_pending());
    assert!(wp.poll(put.as_mut()).is_pending());
    q.shutdown(true);
    assert_eq!(q.len(), 0);
    assert_eq!((wj.wakes(), wp.wakes()), (1, 1));
    assert!(
        wj.poll(join.as_mut()).is_ready(),
        "discarded items count as done"
    );
    assert_eq!(ready(&wp, put.as_mut()), Err(QueueShutDown));
    assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    assert_eq!(poll_once(pin!(q.get())), Poll::Ready(Err(QueueShutDown)));
    assert_eq!(q.try_put(1), Err(TryPutError::ShutDown(1)));
    assert_eq!(q.task_done(), Err(TaskDoneError));
}

#[test]
fn queue_shutdown_wakes_waiting_getters() {
    let q = Queue::<u8>::new(0);
    let w = TestWaker::new();
    let mut get = Box::pin(q.get());
    assert!(w.poll(get.as_mut()).is_pending());
    q.shutdown(false);
    assert_eq!(w.wakes(), 1);
    assert_eq!(ready(&w, get.as_mut()), Err(QueueShutDown));
}

#[test]
fn queue_shutdown_draining_keeps_items_for_getters() {
    let q = Queue::new(1);
    q.try_put(1).expect("room");
    let mut granted_put = Box::pin(q.put(2));
    assert!(poll_once(granted_put.as_mut()).is_pending());
    assert_eq!(q.try_get(), Ok(1)); // room reserved for `granted_put`
    q.try_put(0).expect_err("reserved");
    let mut get = Box::pin(q.get());
    assert!(poll_once(get.as_mut()).is_pending());
    q.shutdown(false);
    // Room was granted before the shutdown, but the item never went in.
    assert_eq!(
        poll_once(granted_put.as_mut()),
        Poll::Ready(Err(QueueShutDown))
    );
    assert_eq!(poll_once(get.as_mut()), Poll::Ready(Err(QueueShutDown)));
    // Join still waits for the item got earlier.
    assert!(poll_once(pin!(q.join())).is_pending());
    q.task_done().expect("one pending");
}

#[test]
fn queue_shutdown_then_cancelled_getter_returns_item_or_discards_it() {
    let q = Queue::new(0);
    let mut g = Box::pin(q.get());
    assert!(poll_once(g.as_mut()).is_pending());
    q.try_put(1).expect("unbounded");
    q.shutdown(false);
    drop(g); // draining: the item goes back for a later get
    assert_eq!(q.try_get(), Ok(1));
    q.task_done().expect("one pending");

    let q = Queue::new(0);
    let mut g = Box::pin(q.get());
    assert!(poll_once(g.as_mut()).is_pending());
    q.try_put(1).expect("unbounded");
    q.shutdown(true);
    let mut join = Box::pin(q.join());
    assert!(poll_once(join.as_mut()).is_pending());
    drop(g); // immediate: discarded and counted as done
    assert!(q.is_empty());
    assert!(poll_once(join.as_mut()).is_ready());
}

#[test]
fn priority_queue_hands_out_smallest_first() {
    let q = PriorityQueue::new(0);
    for x in [5, 1, 4, 2, 3] {
        q.try_put(x).expect("unbounded");
    }
    let out: Vec<i32> = std::iter::from_fn(|| q.try_get().ok()).collect();
    assert_eq!(out, [1, 2, 3, 4, 5]);
    // A cancelled getter's item is the next one out again.
    let mut g = Box::pin(q.get());
    assert!(poll_once(g.as_mut()).is_pending());
    q.try_put(2).expect("unbounded");
    q.try_put(3).expect("unbounded");
    drop(g);
    assert_eq!(q.try_get(), Ok(2));
}

#[test]
fn lifo_queue_hands_out_last_first() {
    let q = LifoQueue::new(0);
    for x in 1..=3 {
        q.try_put(x).expect("unbounded");
    }
    let out: Vec<i32> = std::iter::from_fn(|| q.try_get().ok()).collect();
    assert_eq!(out, [3, 2, 1]);
    // A cancelled getter's item goes back on top of the stack.
    let mut g = Box::pin(q.get());
    assert!(poll_once(g.as_mut()).is_pending());
    q.try_put(1).expect("unbounded");
    q.try_put(2).expect("unbounded");
    drop(g);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
}

/// Random puts, gets and drops (queued or granted) over many seeds: every item
/// whose put returned `Ok` comes out exactly once, no other item ever does,
/// the bound is never exceeded, and no waiter entry outlives its future.
#[test]
fn random_drops_conserve_items() {
    type PendingPut<'a> = (u64, Pin<Box<Put<'a, u64, FifoStorage<u64>>>>);
    type PendingGet<'a> = Pin<Box<Get<'a, u64, FifoStorage<u64>>>>;
    for seed in 0..300 {
        let mut rng = XorShift::new(seed);
        let maxsize = rng.below(4) as usize;
        let q = Queue::new(maxsize);
        let mut puts: Vec<PendingPut<'_>> = Vec::new();
        let mut gets: Vec<PendingGet<'_>> = Vec::new();
        let mut committed = Vec::new();
        let mut received = Vec::new();
        for next_id in 0..300 {
            match rng.below(8) {
                0 => {
                    let mut put = Box::pin(q.put(next_id));
                    match poll_once(put.as_mut()) {
                        Poll::Ready(r) => {
                            r.expect("not shut down");
                            committed.push(next_id);
                        }
                        Poll::Pending => puts.push((next_id, put)),
                    }
                }
                1 => committed.extend(q.try_put(next_id).ok().map(|()| next_id)),
                2 => {
                    let mut get = Box::pin(q.get());
                    match poll_once(get.as_mut()) {
                        Poll::Ready(r) => received.push(r.expect("not shut down")),
                        Poll::Pending => gets.push(get),
                    }
                }
                3 => received.extend(q.try_get().ok()),
                4 if !puts.is_empty() => drop(puts.remove(rng.below(puts.len() as u64) as usize)),
                5 if !gets.is_empty() => drop(gets.remove(rng.below(gets.len() as u64) as usize)),
                6 if !puts.is_empty() => {
                    let i = rng.below(puts.len() as u64) as usize;
                    if let Poll::Ready(r) = poll_once(puts[i].1.as_mut()) {
                        r.expect("not shut down");
                        committed.push(puts.remove(i).0);
                    }
                }
                _ if !gets.is_empty() => {
                    let i = rng.below(gets.len() as u64) as usize;
                    if let Poll::Ready(r) = poll_once(gets[i].as_mut()) {
                        received.push(r.expect("not shut down"));
                        drop(gets.remove(i));
                    }
                }
                _ => {}
            }
            if maxsize > 0 {
                assert!(q.len() <= maxsize, "seed {seed}: bound exceeded");
            }
        }
        drop(puts);
        drop(gets);
        received.extend(std::iter::from_fn(|| q.try_get().ok()));
        received.sort_unstable();
        committed.sort_unstable();
        assert_eq!(received, committed, "seed {seed}");
        assert_eq!(q.waiter_entries(), 0, "seed {seed}");
    }
}
