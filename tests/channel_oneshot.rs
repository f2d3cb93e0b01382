//! `ringio::channel::oneshot` across threads, each thread on its own runtime.

mod support;

use std::time::Duration;

use ringio::channel::{RecvError, TryRecvError, oneshot};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn oneshot_across_threads() {
    support::watchdog("oneshot_across_threads", LIMIT);
    // The receiver waits first; the sender sends later from another thread's runtime.
    let (tx, rx) = oneshot::channel();
    let sender = std::thread::spawn(move || {
        ringio::run(async move {
            ringio::time::sleep(Duration::from_millis(20)).await;
            tx.send(String::from("from afar")).unwrap();
        })
    });
    assert_eq!(ringio::run(rx).as_deref(), Ok("from afar"));
    sender.join().unwrap();

    // Request and reply: a worker thread answers each request on its own oneshot.
    let (req_tx, mut req_rx) = ringio::channel::mpsc::channel::<(u64, oneshot::Sender<u64>)>(4);
    let worker = std::thread::spawn(move || {
        ringio::run(async move {
            while let Some((n, reply)) = req_rx.recv().await {
                reply.send(n * n).unwrap();
            }
        })
    });
    ringio::run(async move {
        for n in 0..100 {
            let (tx, rx) = oneshot::channel();
            req_tx.send((n, tx)).await.unwrap();
            assert_eq!(rx.await, Ok(n * n));
        }
    });
    worker.join().unwrap();

    // Many channels at once, senders and receivers on different threads.
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..1000).map(|_| oneshot::channel()).unzip();
    let sender = std::thread::spawn(move || {
        for (i, tx) in senders.into_iter().enumerate() {
            tx.send(i).unwrap();
        }
    });
    let got = ringio::run(async move {
        let mut got = Vec::new();
        for rx in receivers {
            got.push(rx.await.unwrap());
        }
        got
    });
    sender.join().unwrap();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

#[test]
fn oneshot_sender_dropped_gives_recv_error() {
    support::watchdog("oneshot_sender_dropped_gives_recv_error", LIMIT);
    // Dropped before the receiver looks.
    let (tx, mut rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(ringio::run(rx), Err(RecvError));

    // Dropped on another thread while the receiver waits: the waiter wakes.
    let (tx, rx) = oneshot::channel::<u8>();
    let dropper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(tx);
    });
    assert_eq!(ringio::run(rx), Err(RecvError));
    dropper.join().unwrap();

    // Dropped with the task that owned it when that task is cancelled.
    ringio::run(async {
        let (tx, rx) = oneshot::channel::<u8>();
        let task = ringio::spawn(async move {
            ringio::time::sleep(Duration::from_secs(3600)).await;
            tx.send(1).unwrap();
        });
        ringio::yield_now().await;
        task.cancel();
        assert_eq!(rx.await, Err(RecvError));
    });
}

#[test]
fn oneshot_receiver_dropped_gives_send_error() {
    support::watchdog("oneshot_receiver_dropped_gives_send_error", LIMIT);
    let (tx, rx) = oneshot::channel();
    assert!(!tx.is_closed());
    std::thread::spawn(move || drop(rx)).join().unwrap();
    assert!(tx.is_closed());
    assert_eq!(tx.send(vec![1, 2]), Err(vec![1, 2]));

    // Closed, not dropped: the same for the sender.
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    let back = std::thread::spawn(move || tx.send(5)).join().unwrap();
    assert_eq!(back, Err(5));
    assert_eq!(ringio::run(rx), Err(RecvError));
}
