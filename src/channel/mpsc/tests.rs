//! Unit tests of the mpsc state machine, polled by hand with a counting waker.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Waker};

use super::*;
use crate::channel::error::{SendError, TryRecvError};
use crate::test_util::{TestWaker, cx};

fn poll_send<T>(fut: &mut SendFuture<'_, T>, waker: &Waker) -> Poll<Result<(), SendError<T>>> {
    Pin::new(fut).poll(&mut cx(waker))
}

/// (queued or granted waiter slots, reserved places, buffered messages)
fn inner<T>(tx: &Sender<T>) -> (usize, usize, usize) {
    let state = tx.chan.lock();
    (state.waiters.entries(), state.reserved, state.buf.len())
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn zero_capacity_panics() {
    let _ = channel::<u8>(0);
}

#[test]
fn try_send_and_try_recv_keep_order() {
    let (tx, mut rx) = channel(3);
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert!(tx.try_send(3).unwrap_err().is_full());
    assert_eq!((rx.len(), rx.capacity()), (3, 3));
    for i in 0..3 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn send_wakes_a_waiting_receiver_once() {
    let (tx, mut rx) = channel(4);
    let waker = TestWaker::new();
    assert_eq!(rx.poll_recv(&mut cx(&waker)), Poll::Pending);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(waker.wakes(), 1, "the waker is taken by the first send");
    assert_eq!(rx.poll_recv(&mut cx(&waker)), Poll::Ready(Some(1)));
}

#[test]
fn full_sender_waits_until_a_place_is_granted() {
    let (tx, mut rx) = channel(1);
    tx.try_send(0).unwrap();
    let waker = TestWaker::new();
    let mut send = tx.send(1);
    assert!(poll_send(&mut send, &waker).is_pending());
    assert!(poll_send(&mut send, &waker).is_pending(), "no double entry");
    assert_eq!(inner(&tx), (1, 0, 1));
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(waker.wakes(), 1);
    assert_eq!(
        inner(&tx),
        (1, 1, 0),
        "the place is reserved for the waiter"
    );
    assert!(
        tx.try_send(9).unwrap_err().is_full(),
        "no overtaking (rule 2)"
    );
    assert_eq!(poll_send(&mut send, &waker), Poll::Ready(Ok(())));
    assert_eq!(inner(&tx), (0, 0, 1));
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn waiting_senders_are_granted_in_order() {
    let (tx, mut rx) = channel(1);
    tx.try_send(0).unwrap();
    let wakers: Vec<_> = (0..3).map(|_| TestWaker::new()).collect();
    let mut sends: Vec<_> = (1..=3).map(|i| tx.send(i)).collect();
    for (send, waker) in sends.iter_mut().zip(&wakers) {
        assert!(poll_send(send, waker).is_pending());
    }
    // Poll the last one first: order comes from the wait list, not from polls.
    for i in (0..3).rev() {
        assert!(poll_send(&mut sends[i], &wakers[i]).is_pending());
    }
    let mut got = Vec::new();
    for round in 0..3 {
        got.push(rx.try_recv().unwrap());
        let woken: Vec<usize> = wakers.iter().map(TestWaker::wakes).collect();
        assert_eq!(woken.iter().sum::<usize>(), round + 1);
        assert_eq!(woken[round], 1, "waiter {round} is served next");
        // Poll every sender still waiting, latest first: only the granted one is done.
        for i in (round..3).rev() {
            let done = poll_send(&mut sends[i], &wakers[i]).is_ready();
            assert_eq!(done, i == round);
        }
    }
    got.push(rx.try_recv().unwrap());
    assert_eq!(got, [0, 1, 2, 3]);
}

#[test]
fn dropped_waiting_sender_leaves_no_entry() {
    let (tx, mut rx) = channel(1);
    tx.try_send(0).unwrap();
    let waker = TestWaker::new();
    let mut sends: Vec<_> = (1..=100).map(|i| tx.send(i)).collect();
    for send in &mut sends {
        assert!(poll_send(send, &waker).is_pending());
    }
    assert_eq!(inner(&tx).0, 100);
    // Drop from the middle, the front and the back.
    let back = sends.pop();
    drop(sends.remove(50));
    drop(sends.remove(0));
    drop(back);
    assert_eq!(inner(&tx).0, 97);
    drop(sends);
    assert_eq!(inner(&tx), (0, 0, 1));
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(tx.try_send(7).is_ok(), "no ghost waiter holds the place");
}

#[test]
fn dropped_granted_sender_passes_the_place_on() {
    let (tx, mut rx) = channel(1);
    tx.try_send(0).unwrap();
    let w1 = TestWaker::new();
    let w2 = TestWaker::new();
    let mut a = tx.send(1);
    let mut b = tx.send(2);
    assert!(poll_send(&mut a, &w1).is_pending());
    assert!(poll_send(&mut b, &w2).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((w1.wakes(), w2.wakes()), (1, 0));
    drop(a); // granted, never used: its value is not sent (rule 5)
    assert_eq!(w2.wakes(), 1, "the place went to the next waiter");
    assert_eq!(poll_send(&mut b, &w2), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    // With nobody behind it, the place becomes free again.
    tx.try_send(3).unwrap();
    let mut c = tx.send(4);
    assert!(poll_send(&mut c, &w1).is_pending());
    assert_eq!(rx.try_recv(), Ok(3));
    drop(c);
    assert_eq!(inner(&tx), (0, 0, 0));
    assert!(tx.try_send(5).is_ok());
}

#[test]
fn receiver_drop_fails_waiting_senders_and_drops_buffer() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel(1);
    tx.try_send(Counted(dropped.clone())).unwrap();
    let waker = TestWaker::new();
    let mut send = tx.send(Counted(dropped.clone()));
    assert!(poll_send(&mut send, &waker).is_pending());
    drop(rx);
    assert_eq!(waker.wakes(), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "the buffered one");
    match poll_send(&mut send, &waker) {
        Poll::Ready(Err(SendError(value))) => drop(value),
        _ => panic!("send must fail with its value"),
    }
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    assert_eq!(inner(&tx), (0, 0, 0));
    assert!(tx.is_closed());
    assert!(
        tx.try_send(Counted(dropped.clone()))
            .unwrap_err()
            .is_closed()
    );
}

#[test]
fn close_keeps_the_buffer_and_fails_granted_senders() {
    let (tx, mut rx) = channel(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let waker = TestWaker::new();
    let mut send = tx.send(3);
    assert!(poll_send(&mut send, &waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(1)); // grants `send` a place
    rx.close();
    assert!(matches!(
        poll_send(&mut send, &waker),
        Poll::Ready(Err(SendError(3)))
    ));
    assert_eq!(inner(&tx), (0, 0, 1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn last_sender_drop_wakes_the_receiver() {
    let (tx, mut rx) = channel(1);
    let tx2 = tx.clone();
    let waker = TestWaker::new();
    assert_eq!(rx.poll_recv(&mut cx(&waker)), Poll::Pending);
    tx.try_send(1).unwrap();
    drop(tx);
    assert_eq!(rx.poll_recv(&mut cx(&waker)), Poll::Ready(Some(1)));
    assert_eq!(rx.poll_recv(&mut cx(&waker)), Poll::Pending);
    drop(tx2);
    assert_eq!(waker.wakes(), 2);
    assert_eq!(rx.poll_recv(&mut cx(&waker)), Poll::Ready(None));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn message_holding_a_sender_is_dropped_outside_the_lock() {
    // Each drop below would deadlock if the message were dropped under the lock.
    struct Msg(#[allow(dead_code)] Sender<Msg>);
    let (tx, rx) = channel::<Msg>(1);
    tx.try_send(Msg(tx.clone())).unwrap();
    let mut send = tx.send(Msg(tx.clone()));
    assert!(poll_send(&mut send, Waker::noop()).is_pending());
    drop(send);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.chan.lock().senders, 1);
}
