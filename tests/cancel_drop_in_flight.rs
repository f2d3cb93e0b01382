//! Ops dropped mid-flight: no fd leaks, nothing left in flight, nothing lost, nothing
//! written after its free (the quarantine allocator watches where a test says so).
//! Every test takes `support::serial()`: they count the process's descriptors.

mod support;

use ringio::net::{TcpListener, TcpStream};
use ringio::time::{sleep, timeout};
use std::io::{Read, Write};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use support::{
    CountingWaker, alloc, fd_count, in_flight, poll_noop, poll_once_and_drop, serial, settle,
};

#[global_allocator]
static ALLOC: alloc::Guard = alloc::Guard;

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
        let client;
        {
            let mut accept = pin!(listener.accept());
            // Polled while no client is there: pending on both backends (on epoll an op
            // whose descriptor is ready would complete at this first poll).
            assert!(poll_noop(accept.as_mut()).is_pending());
            client = std::net::TcpStream::connect(addr).unwrap();
            // Let the CQE (carrying the new fd) arrive, then drop without polling again.
            let before = ringio::metrics().ops_completed;
            sleep(Duration::from_millis(20)).await;
            assert!(
                ringio::metrics().ops_completed > before,
                "the accept did not complete before its drop"
            );
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
    support::watchdog("escaped_future", Duration::from_secs(60));
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let baseline = fd_count();
    let watch = alloc::watch();
    let rt = ringio::Runtime::builder().workers(1).build().unwrap();
    // Two reads in flight escape the call: one is polled after the runtime is gone, the
    // other dropped unpolled. Each holds its core (and so the ring) alive.
    let (stream, mut polled, unpolled) = rt.block_on(async {
        let s = std::rc::Rc::new(TcpStream::connect(addr).await.unwrap());
        let (a, b) = (s.clone(), s.clone());
        let mut polled = Box::pin(async move { a.read(vec![0u8; 4096]).await });
        let mut unpolled = Box::pin(async move { b.read(vec![0u8; 4096]).await });
        assert!(poll_noop(polled.as_mut()).is_pending());
        assert!(poll_noop(unpolled.as_mut()).is_pending());
        // Both reach the kernel and wait there: the peer sends nothing yet.
        sleep(Duration::from_millis(20)).await;
        assert_eq!(ringio::metrics().ops_in_flight, 2);
        (s, polled, unpolled)
    });
    let m = rt.metrics_per_core()[0];
    drop(rt);
    // Bytes sent now would land in a buffer the kernel still owned: freed early, they
    // would show in the quarantine.
    let (mut peer, _) = std_listener.accept().unwrap();
    peer.write_all(&[0x5A; 8192]).unwrap();
    // The shutdown cancelled both reads and reaped their CQEs, though their futures were
    // gone from the runtime: the polled one is complete, without any loop turning.
    let late = poll_noop(polled.as_mut());
    drop(unpolled);
    drop(polled);
    // The last op gone, the core goes: its ring and eventfd close.
    drop(stream);
    drop(peer);
    drop(std_listener);
    let watched = watch.verify("reads that outlived their runtime");
    assert_eq!(
        fd_count(),
        baseline - 1,
        "the escaped ops' core kept descriptors"
    );
    // Every CQE came before the call returned; the two slots wait for their futures.
    assert_eq!(m.ops_completed, m.ops_submitted, "CQEs still owed: {m:?}");
    assert_eq!(m.tasks_alive, 0, "{m:?}");
    match late {
        Poll::Ready((Err(e), _)) if e.raw_os_error() == Some(libc::ECANCELED) => {}
        Poll::Ready((res, _)) => panic!("the escaped read gave {res:?}, not ECANCELED"),
        Poll::Pending => panic!("the escaped read was still in flight after the shutdown"),
    }
    eprintln!("escaped reads: {watched} frees watched, none written; descriptors back");
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
    let ended = rt.block_on(async {
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
        Instant::now()
    });
    // The shutdown is the tail of `block_on` (launch.rs rule 2): every core cancels its
    // tasks and drains its ring before the call returns. `Runtime` has no `Drop` (it
    // holds only options, rule 3), so this times the call's tail, not `drop(rt)`.
    let shutdown = ended.elapsed();
    for (i, m) in rt.metrics_per_core().iter().enumerate() {
        assert_eq!(
            (m.tasks_alive, m.ops_in_flight, m.timers_pending),
            (0, 0, 0),
            "core {i} kept work after shutdown: {m:?}"
        );
    }
    drop(rt);
    assert!(
        shutdown < Duration::from_secs(1),
        "shutting down 900 pending tasks took {shutdown:?}"
    );
    drop(acceptor.join().unwrap());
    assert_eq!(fd_count(), baseline, "descriptors leaked");
}

#[test]
fn poll_after_cancel_is_pending_only_until_cqe() {
    let _serial = serial();
    support::watchdog("poll_after_cancel", Duration::from_secs(60));
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        let completed = || ringio::metrics().ops_completed;

        // A read whose CQE brings the peer's byte, dropped without being polled again:
        // the byte is kept for the next read on the stream (cancel safety).
        let mut first = Box::pin(s.read(vec![0u8; 8]));
        assert!(poll_noop(first.as_mut()).is_pending());
        peer.write_all(b"x").unwrap();
        let before = completed();
        assert!(settle(Duration::from_secs(5), || completed() > before).await);

        // A second read waits in the kernel: the peer sends nothing more.
        let count = Arc::new(CountingWaker::default());
        let wakes = || count.wakes();
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut second = Box::pin(s.read(vec![0u8; 8]));
        assert!(second.as_mut().poll(&mut cx).is_pending());
        sleep(Duration::from_millis(20)).await;
        assert_eq!(wakes(), 0, "the second read completed with no data sent");

        // The kept byte must come first, so it wakes the second read, whose next poll
        // cancels its receive. That poll is pending: the kernel owns the buffer until the
        // receive's own CQE (io_uring_prep_cancel(3)).
        drop(first);
        assert_eq!(wakes(), 1, "the waiting read was not told of the kept byte");
        let (in_flight, done) = (ringio::metrics().ops_in_flight, completed());
        assert!(
            second.as_mut().poll(&mut cx).is_pending(),
            "the cancelled read completed before its CQE"
        );
        assert_eq!(in_flight, 1, "the second read's slot");
        assert_eq!(ringio::metrics().ops_in_flight, 1, "its slot freed early");

        // Its CQE (-ECANCELED) wakes it: nothing else would, no byte comes any more.
        assert!(
            settle(Duration::from_secs(5), || wakes() >= 2).await,
            "the cancelled read was never woken: no CQE came for it"
        );
        assert_eq!(completed(), done + 1, "woken without its CQE");
        let Poll::Ready((res, buf)) = second.as_mut().poll(&mut cx) else {
            panic!("still pending after its CQE was reaped");
        };
        assert_eq!(res.unwrap(), 1);
        assert_eq!(buf[0], b'x', "the kept byte");
        assert_eq!(ringio::metrics().ops_in_flight, 0);

        // Nothing was lost or duplicated: the stream goes on with the next bytes.
        peer.write_all(b"yz").unwrap();
        let (res, buf) = s.read_exact(vec![0u8; 2]).await;
        res.unwrap();
        assert_eq!(&buf, b"yz");
    });
}
