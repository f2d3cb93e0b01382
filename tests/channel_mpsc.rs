//! `ringio::channel::mpsc` on real runtimes: backpressure, closing, cancelled senders,
//! FIFO service of waiting senders. Rule numbers are those of `ringio::channel`.

mod support;

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use ringio::channel::{TryRecvError, TrySendError, mpsc};
use ringio::time::timeout;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn mpsc_full_channel_applies_backpressure() {
    support::watchdog("mpsc_full_channel_applies_backpressure", LIMIT);
    // On one runtime: the third send waits until the receiver takes one.
    ringio::run(async {
        let (tx, mut rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        let sent = Rc::new(Cell::new(false));
        let flag = sent.clone();
        let producer = ringio::spawn(async move {
            tx.send(3).await.unwrap();
            flag.set(true);
        });
        for _ in 0..10 {
            ringio::yield_now().await;
        }
        assert!(!sent.get(), "a send at capacity must wait");
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.recv().await, Some(1));
        producer.await.unwrap();
        assert!(sent.get());
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(rx.recv().await, None);
    });

    // Across threads: the producer's core sleeps in its ring until a place frees.
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let sent = Arc::new(AtomicBool::new(false));
    let flag = sent.clone();
    let producer = std::thread::spawn(move || {
        ringio::run(async move {
            tx.send(1).await.unwrap();
            flag.store(true, Ordering::SeqCst);
        })
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(!sent.load(Ordering::SeqCst), "blocked at capacity");
    ringio::run(async {
        assert_eq!(rx.recv().await, Some(0));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);
    });
    producer.join().unwrap();
    assert!(sent.load(Ordering::SeqCst));
}

#[test]
fn mpsc_closed_channel_errors() {
    support::watchdog("mpsc_closed_channel_errors", LIMIT);
    // Receiver dropped: sends fail and hand the value back.
    ringio::run(async {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        assert!(tx.is_closed());
        let err = tx.send(String::from("kept")).await.unwrap_err();
        assert_eq!(err.into_inner(), "kept");
        assert!(matches!(tx.try_send(String::from("x")), Err(TrySendError::Closed(s)) if s == "x"));
    });

    // Receiver dropped on another thread while a sender waits: it wakes with its value.
    let (tx, rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let dropper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(rx);
    });
    let back = ringio::run(async { tx.send(1).await.unwrap_err().into_inner() });
    assert_eq!(back, 1);
    dropper.join().unwrap();

    // Every sender dropped: the buffer drains, then `None`.
    let (tx, mut rx) = mpsc::channel(4);
    let tx2 = tx.clone();
    let producer = std::thread::spawn(move || {
        ringio::run(async move {
            tx2.send(2).await.unwrap();
            tx2.send(3).await.unwrap();
        })
    });
    ringio::run(async move {
        tx.send(1).await.unwrap();
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3]);
        assert_eq!(rx.recv().await, None, "stays closed");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
    producer.join().unwrap();

    // `close`: no more sends, buffered messages still come out (rule 7).
    ringio::run(async {
        let (tx, mut rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        rx.close();
        assert_eq!(tx.send(2).await.unwrap_err().into_inner(), 2);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn mpsc_dropped_sender_future_leaves_no_waiter() {
    support::watchdog("mpsc_dropped_sender_future_leaves_no_waiter", LIMIT);
    ringio::run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        // Many sends give up while waiting (rules 4 and 5).
        for i in 1..=1000 {
            let res = timeout(Duration::ZERO, tx.send(i)).await;
            assert!(res.is_err(), "the channel is full: the send must time out");
        }
        // A task waiting in `send` is cancelled.
        let tx2 = tx.clone();
        let waiting = ringio::spawn(async move { tx2.send(-1).await });
        ringio::yield_now().await;
        assert!(waiting.cancel());
        assert!(waiting.await.unwrap_err().is_cancelled());

        // The freed place is not held for a ghost: a newcomer gets it.
        assert_eq!(rx.recv().await, Some(0));
        tx.try_send(2000)
            .expect("no dropped waiter may hold the place");
        assert_eq!(rx.recv().await, Some(2000));
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Empty),
            "no cancelled value arrived"
        );

        // A place granted to a send that is then dropped passes to the sender queued
        // behind it, and the dropped send's value never arrives.
        tx.send(1).await.unwrap();
        let mut dropped = Box::pin(tx.send(3));
        poll_fn(|cx| {
            assert!(dropped.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        let behind = ringio::spawn({
            let tx = tx.clone();
            async move { tx.send(4).await }
        });
        ringio::yield_now().await; // `behind` queues after `dropped`
        assert_eq!(rx.recv().await, Some(1)); // the freed place goes to `dropped`
        drop(dropped);
        behind.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(4));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn mpsc_senders_are_served_fifo() {
    support::watchdog("mpsc_senders_are_served_fifo", LIMIT);
    ringio::run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let tasks: Vec<_> = (1..=8)
            .map(|i| {
                let tx = tx.clone();
                ringio::spawn(async move { tx.send(i).await.unwrap() })
            })
            .collect();
        ringio::yield_now().await; // every task runs once and queues, in spawn order
        let mut got = Vec::new();
        for _ in 0..=8 {
            got.push(rx.recv().await.unwrap());
            // A place was just freed, but it is granted to the oldest waiter (rule 2).
            if got.len() <= 8 {
                assert!(tx.try_send(99).unwrap_err().is_full(), "overtook a waiter");
            }
        }
        assert_eq!(got, (0..=8).collect::<Vec<_>>());
        for t in tasks {
            t.await.unwrap();
        }
    });

    // Across threads: each producer's messages keep their order while senders on
    // other threads compete for the single place.
    let (tx, mut rx) = mpsc::channel(1);
    let producers: Vec<_> = (0..3)
        .map(|id| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                ringio::run(async move {
                    for seq in 0..2000 {
                        tx.send((id, seq)).await.unwrap();
                    }
                })
            })
        })
        .collect();
    drop(tx);
    let counts = ringio::run(async move {
        let mut next = [0; 3];
        while let Some((id, seq)) = rx.recv().await {
            assert_eq!(seq, next[id]);
            next[id] += 1;
        }
        next
    });
    assert_eq!(counts, [2000; 3]);
    for p in producers {
        p.join().unwrap();
    }
}

#[test]
fn mpsc_cancelled_sends_across_threads_are_never_delivered() {
    support::watchdog(
        "mpsc_cancelled_sends_across_threads_are_never_delivered",
        LIMIT,
    );
    // Producers give up on sends at random-ish moments while a slow consumer on
    // another thread frees places: exactly the sends that returned `Ok` arrive,
    // each once and in order (rule 5).
    const SENDS: u64 = 3000;
    let (tx, mut rx) = mpsc::channel(4);
    let producers: Vec<_> = (0..2)
        .map(|id| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                ringio::run(async move {
                    let mut delivered = Vec::new();
                    for seq in 0..SENDS {
                        let patience = Duration::from_micros(seq % 7 * 100);
                        if let Ok(res) = timeout(patience, tx.send((id, seq))).await {
                            res.unwrap();
                            delivered.push(seq);
                        }
                    }
                    delivered
                })
            })
        })
        .collect();
    drop(tx);
    let received = ringio::run(async move {
        let mut received = [Vec::new(), Vec::new()];
        let mut n = 0u64;
        while let Some((id, seq)) = rx.recv().await {
            received[id].push(seq);
            n += 1;
            if n.is_multiple_of(16) {
                ringio::time::sleep(Duration::from_micros(200)).await;
            }
        }
        received
    });
    for (id, p) in producers.into_iter().enumerate() {
        let delivered = p.join().unwrap();
        assert!(!delivered.is_empty());
        eprintln!("producer {id}: {} of {SENDS} delivered", delivered.len());
        assert_eq!(received[id], delivered, "producer {id}");
    }
}
