//! Unit tests of the semaphore, driven by hand (see `crate::test_util`).

use std::pin::pin;

use super::*;
use crate::test_util::{TestWaker, XorShift, poll_once};

#[test]
fn semaphore_grants_in_fifo_order() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().expect("one permit is free");
    let wakers: Vec<TestWaker> = (0..3).map(|_| TestWaker::new()).collect();
    let mut futs: Vec<_> = (0..3).map(|_| Box::pin(sem.acquire())).collect();
    for (fut, w) in futs.iter_mut().zip(&wakers) {
        assert!(w.poll(fut.as_mut()).is_pending());
    }
    drop(held);
    for i in 0..3 {
        // Only waiter i was woken, and only it can complete.
        for (j, w) in wakers.iter().enumerate() {
            assert_eq!(
                w.wakes(),
                usize::from(j <= i),
                "after release {i}, waker {j}"
            );
        }
        let permit = match wakers[i].poll(futs[i].as_mut()) {
            Poll::Ready(p) => p,
            Poll::Pending => panic!("waiter {i} was not served in order"),
        };
        for j in i + 1..3 {
            assert!(wakers[j].poll(futs[j].as_mut()).is_pending());
        }
        drop(permit);
    }
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn acquire_many_holds_back_smaller_later_requests() {
    let sem = Semaphore::new(2);
    let mut big = Box::pin(sem.acquire_many(3));
    let mut small = Box::pin(sem.acquire());
    assert!(poll_once(big.as_mut()).is_pending());
    // Two permits are free, but the big request came first (rule 1).
    assert!(poll_once(small.as_mut()).is_pending());
    sem.add_permits(1);
    let permit = match poll_once(big.as_mut()) {
        Poll::Ready(p) => p,
        Poll::Pending => panic!("three permits are free"),
    };
    assert!(poll_once(small.as_mut()).is_pending());
    drop(permit);
    assert!(poll_once(small.as_mut()).is_ready());
}

#[test]
fn cancelled_waiter_passes_permit_on() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().expect("one permit is free");
    let (w1, w2) = (TestWaker::new(), TestWaker::new());
    let mut first = Box::pin(sem.acquire());
    let mut second = Box::pin(sem.acquire());
    assert!(w1.poll(first.as_mut()).is_pending());
    assert!(w2.poll(second.as_mut()).is_pending());
    drop(held); // grants `first`
    assert_eq!((w1.wakes(), w2.wakes()), (1, 0));
    drop(first); // cancelled after its grant: the permit must move on
    assert_eq!(w2.wakes(), 1);
    assert!(w2.poll(second.as_mut()).is_ready());
    assert_eq!(sem.waiter_entries(), 0);
}

#[test]
fn cancelled_front_waiter_unblocks_smaller_requests() {
    let sem = Semaphore::new(1);
    let mut big = Box::pin(sem.acquire_many(2));
    let w = TestWaker::new();
    let mut small = Box::pin(sem.acquire());
    assert!(poll_once(big.as_mut()).is_pending());
    assert!(w.poll(small.as_mut()).is_pending());
    drop(big);
    assert_eq!(w.wakes(), 1);
    assert!(w.poll(small.as_mut()).is_ready());
}

#[test]
fn dropped_waiter_leaves_no_entry() {
    let sem = Semaphore::new(0);
    {
        let mut a = pin!(sem.acquire());
        let mut b = pin!(sem.acquire());
        assert!(poll_once(a.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());
        assert_eq!(sem.waiter_entries(), 2);
    }
    assert_eq!(sem.waiter_entries(), 0);
    // Dropped after its grant, with nobody to pass to: permit goes home.
    let mut c = Box::pin(sem.acquire());
    assert!(poll_once(c.as_mut()).is_pending());
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), 0);
    drop(c);
    assert_eq!(sem.waiter_entries(), 0);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn newcomer_does_not_barge_queued_waiter() {
    let sem = Semaphore::new(0);
    let mut queued = Box::pin(sem.acquire());
    assert!(poll_once(queued.as_mut()).is_pending());
    sem.add_permits(1); // granted to `queued` at once
    assert!(sem.try_acquire().is_none());
    // Even with a free permit and a queued waiter, a newcomer must wait.
    let sem = Semaphore::new(0);
    let mut big = Box::pin(sem.acquire_many(2));
    assert!(poll_once(big.as_mut()).is_pending());
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), 1);
    assert!(sem.try_acquire().is_none());
    let mut newcomer = Box::pin(sem.acquire());
    assert!(poll_once(newcomer.as_mut()).is_pending());
    drop(queued);
}

#[test]
fn close_fails_waiters_and_later_acquires() {
    let sem = Semaphore::new(0);
    let w = TestWaker::new();
    let mut fut = Box::pin(sem.acquire_or_closed());
    assert!(w.poll(fut.as_mut()).is_pending());
    sem.close();
    assert_eq!(w.wakes(), 1);
    assert!(matches!(w.poll(fut.as_mut()), Poll::Ready(Err(_))));
    assert!(matches!(
        poll_once(pin!(sem.acquire_or_closed())),
        Poll::Ready(Err(AcquireError(())))
    ));
    assert_eq!(sem.waiter_entries(), 0);
}

#[test]
#[should_panic(expected = "closed semaphore")]
fn acquire_on_closed_semaphore_panics() {
    let sem = Semaphore::new(1);
    sem.close();
    let _ = poll_once(pin!(sem.acquire()));
}

#[test]
fn forget_shrinks_the_pool() {
    let sem = Semaphore::new(2);
    sem.try_acquire_many(2).expect("two are free").forget();
    assert_eq!(sem.available_permits(), 0);
}

/// Random acquires, releases and drops (queued or granted) over many seeds:
/// permits are conserved and no waiter entry outlives its future.
#[test]
fn random_drops_conserve_permits() {
    for seed in 0..300 {
        let mut rng = XorShift::new(seed);
        let total = 1 + rng.below(4) as usize;
        let sem = Semaphore::new(total);
        let mut pending: Vec<Pin<Box<Acquire<'_>>>> = Vec::new();
        let mut held: Vec<Permit<'_>> = Vec::new();
        for _ in 0..200 {
            match rng.below(5) {
                0 => {
                    let n = 1 + rng.below(total as u64) as usize;
                    let mut fut = Box::pin(sem.acquire_many(n));
                    match poll_once(fut.as_mut()) {
                        Poll::Ready(p) => held.push(p),
                        Poll::Pending => pending.push(fut),
                    }
                }
                1 if !held.is_empty() => {
                    let i = rng.below(held.len() as u64) as usize;
                    drop(held.swap_remove(i));
                }
                2 if !pending.is_empty() => {
                    let i = rng.below(pending.len() as u64) as usize;
                    drop(pending.remove(i)); // may be queued or granted
                }
                _ if !pending.is_empty() => {
                    let i = rng.below(pending.len() as u64) as usize;
                    if let Poll::Ready(p) = poll_once(pending[i].as_mut()) {
                        drop(pending.remove(i));
                        held.push(p);
                    }
                }
                _ => {}
            }
            let held_n: usize = held.iter().map(Permit::num_permits).sum();
            let granted_n: usize = pending
                .iter()
                .filter(|f| {
                    let key = f.waiter.key().expect("pending futures are queued");
                    sem.state.borrow().waiters.is_granted(key)
                })
                .map(|f| f.permits)
                .sum();
            assert_eq!(
                sem.available_permits() + held_n + granted_n,
                total,
                "seed {seed}"
            );
        }
        drop(pending);
        drop(held);
        assert_eq!(sem.available_permits(), total, "seed {seed}");
        assert_eq!(sem.waiter_entries(), 0, "seed {seed}");
    }
}

#[test]
fn permit_drop_at_usize_max_saturates_instead_of_panicking() {
    let sem = Semaphore::new(usize::MAX);
    let permit = sem.try_acquire_many(3).unwrap();
    sem.add_permits(3); // the count is back at usize::MAX with 3 permits out
    assert_eq!(sem.available_permits(), usize::MAX);
    drop(permit);
    assert_eq!(sem.available_permits(), usize::MAX, "saturated");
    // A granted waiter dropped before it returned gives its permits back the same way.
    let sem = Semaphore::new(0);
    let mut acquire = Box::pin(sem.acquire_many(2));
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(acquire.as_mut().poll(&mut cx).is_pending());
    sem.add_permits(2); // granted to the waiter
    sem.add_permits(usize::MAX);
    drop(acquire);
    assert_eq!(sem.available_permits(), usize::MAX);
}

#[test]
#[should_panic(expected = "add_permits(1) with 18446744073709551615 permits free")]
fn add_permits_past_usize_max_panics_with_the_numbers() {
    let sem = Semaphore::new(usize::MAX);
    sem.add_permits(1);
}
