//! Ops dropped mid-flight: no fd leaks, nothing left in flight, nothing lost.

mod support;

use ringio::net::{TcpListener, TcpStream};
use ringio::time::{sleep, timeout};
use std::future::Future;
use std::io::{Read, Write};
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::{fd_count, serial, settle};

/// Polls `fut` once (so its SQE is queued) and drops it.
fn poll_once_and_drop<F: Future>(fut: F) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        fut.as_mut().poll(&mut cx).is_pending(),
        "expected the op to be in flight"
    );
}

fn in_flight() -> usize {
    ringio::metrics().ops_in_flight
}

#[test]
fn dropped_reads_leak_no_fd_and_leave_nothing_in_flight() {
    let _serial = serial();
    support::watchdog("dropped_reads", Duration::from_secs(120));
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        let baseline = fd_count();
        for _ in 0..10_000 {
            // Half dropped right after the SQE was queued, half after it reached the kernel.
            poll_once_and_drop(s.read(vec![0u8; 4096]));
            let r = timeout(Duration::ZERO, s.read(vec![0u8; 4096])).await;
            assert!(r.is_err(), "no data was sent, the read must time out");
        }
        assert!(
            settle(Duration::from_secs(5), || in_flight() == 0).await,
            "ops left in flight: {}",
            in_flight()
        );
        assert_eq!(fd_count(), baseline, "descriptors leaked");
        // The stream still works and no byte was lost to the cancelled reads.
        peer.write_all(b"after").unwrap();
        let (res, buf) = s.read_exact(vec![0u8; 5]).await;
        res.unwrap();
        assert_eq!(&buf, b"after");
    });
}

#[test]
fn read_cancelled_as_data_arrives_loses_no_byte() {
    let _serial = serial();
    support::watchdog("read_race", Duration::from_secs(120));
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (peer, _) = std_listener.accept().unwrap();
        support::timeout_read_race(&s, peer, 200_000).await;
    });
}

#[test]
fn dropped_accepts_close_late_connections() {
    let _serial = serial();
    support::watchdog("dropped_accepts", Duration::from_secs(120));
    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let baseline = fd_count();
        for _ in 0..10_000 {
            poll_once_and_drop(listener.accept());
        }
        for _ in 0..100 {
            assert!(timeout(Duration::ZERO, listener.accept()).await.is_err());
        }
        // What stays in flight is the listener's one multishot accept.
        assert!(settle(Duration::from_secs(5), || in_flight() == 1).await);
        // Clients connect after all those accepts were dropped: none is accepted into a
        // leaked fd, and the listener still serves a live accept.
        let clients: Vec<_> = (0..20)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        for _ in 0..20 {
            let (s, _) = listener.accept().await.unwrap();
            drop(s);
        }
        drop(clients);
        assert!(settle(Duration::from_secs(5), || in_flight() == 1).await);
        assert_eq!(fd_count(), baseline, "descriptors leaked");
        drop(listener);
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(fd_count(), baseline - 1, "the listener's fd stayed open");
    });
}

#[test]
fn accept_dropped_after_completion_keeps_the_connection_for_the_next() {
    let _serial = serial();
    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).unwrap();
        {
            let mut accept = pin!(listener.accept());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(accept.as_mut().poll(&mut cx).is_pending());
            // Let the CQE (carrying the new fd) arrive, then drop without polling again.
            sleep(Duration::from_millis(20)).await;
        }
        // The connection waited in the listener: the next accept gets that very one.
        let (s, peer) = timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("the accepted connection was lost")
            .unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        drop(s);
    });
}

#[test]
fn dropping_a_listener_closes_connections_nobody_claimed() {
    let _serial = serial();
    support::watchdog("listener_drop", Duration::from_secs(60));
    ringio::run(async {
        let baseline = fd_count();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Arm the multishot accept, then let 10 connections arrive into its queue.
        let first = std::net::TcpStream::connect(addr).unwrap();
        drop(listener.accept().await.unwrap());
        let mut clients: Vec<_> = (0..10)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        sleep(Duration::from_millis(50)).await;
        assert!(
            fd_count() >= baseline + 1 + 11,
            "connections were not accepted"
        );
        drop(listener);
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        // Only the clients' own descriptors remain; each sees its server side closed.
        assert_eq!(fd_count(), baseline + 11, "accepted fds leaked");
        for c in &mut clients {
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 1];
            match c.read(&mut b) {
                Ok(0) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!("client not closed: {other:?}"),
            }
        }
        drop(first);
    });
}

#[test]
fn dropped_connects_leak_no_fd() {
    let _serial = serial();
    support::watchdog("dropped_connects", Duration::from_secs(120));
    ringio::run(async {
        // A listener with a backlog of 1 that never accepts: once the queue is full the
        // kernel drops SYNs and further connects stay in flight (SYN retries).
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        sock.listen(1).unwrap();
        let addr = sock.local_addr().unwrap().as_socket().unwrap();
        let baseline = fd_count();
        let mut held = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(s)) = timeout(Duration::from_millis(50), TcpStream::connect(addr)).await {
                held.push(s);
            }
        }
        for _ in 0..5_000 {
            poll_once_and_drop(TcpStream::connect(addr));
            let _ = timeout(Duration::from_micros(100), TcpStream::connect(addr)).await;
        }
        drop(held);
        assert!(
            settle(Duration::from_secs(5), || in_flight() == 0).await,
            "in flight: {}",
            in_flight()
        );
        assert_eq!(fd_count(), baseline, "descriptors leaked");
    });
}

#[test]
fn future_moved_out_of_block_on_is_safe_to_drop_later() {
    let _serial = serial();
    let rt = ringio::Runtime::new().unwrap();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let (stream, read) = rt.block_on(async {
        let s = TcpStream::connect(addr).await.unwrap();
        let s = std::rc::Rc::new(s);
        let s2 = s.clone();
        let mut read = Box::pin(async move { s2.read(vec![0u8; 64]).await });
        let mut cx = Context::from_waker(Waker::noop());
        assert!(read.as_mut().poll(&mut cx).is_pending());
        (s, read)
    });
    drop(rt);
    // The read's slot belongs to a ring that outlived the runtime handle; dropping the
    // future now cancels it there and frees everything without touching freed memory.
    drop(read);
    drop(stream);
    let _ = std_listener;
}

#[test]
fn dropping_runtime_with_pending_ops_returns_quickly() {
    let _serial = serial();
    support::watchdog("runtime_drop", Duration::from_secs(60));
    let baseline = fd_count();
    let rt = ringio::Runtime::new().unwrap();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    // Accept (and hold) the client connections so connects never wait on a full backlog.
    let acceptor = std::thread::spawn(move || {
        (0..300)
            .map(|_| std_listener.accept().unwrap().0)
            .collect::<Vec<_>>()
    });
    rt.block_on(async {
        let listener = std::rc::Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        for _ in 0..300 {
            let s = TcpStream::connect(addr).await.unwrap();
            ringio::spawn(async move {
                let _ = s.read(vec![0u8; 64]).await;
            });
            let l = listener.clone();
            ringio::spawn(async move {
                let _ = l.accept().await;
            });
            ringio::spawn(sleep(Duration::from_secs(3600)));
        }
        ringio::yield_now().await;
        // 300 reads, and the listener's one multishot accept shared by the 300 accepts.
        assert!(ringio::metrics().ops_in_flight >= 301);
    });
    let start = std::time::Instant::now();
    drop(rt);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "drop took {:?}",
        start.elapsed()
    );
    drop(acceptor.join().unwrap());
    assert_eq!(fd_count(), baseline, "descriptors leaked");
}

#[test]
fn poll_after_cancel_is_pending_only_until_cqe() {
    let _serial = serial();
    // A raw check that a waker parked on an op is woken by its CQE.
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        let reader = ringio::spawn(async move { s.read(vec![0u8; 8]).await.0.unwrap() });
        sleep(Duration::from_millis(5)).await;
        peer.write_all(b"x").unwrap();
        assert_eq!(reader.await.unwrap(), 1);
        let _ = Poll::<()>::Pending;
    });
}
