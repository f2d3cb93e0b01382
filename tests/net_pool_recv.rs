//! The per-core provided buffer pool: `recv_pooled` and `RecvStream` (multishot receive),
//! under exhaustion, cancellation, drops, resets and load. The multishot accept's tests
//! are in `net_accept.rs`.
//!
//! Every test takes `support::serial()`: some count the process's descriptors, which
//! any other test running at the same time would disturb.

mod support;

use ringio::Runtime;
use ringio::buf::PooledBuf;
use ringio::net::{TcpListener, TcpStream};
use ringio::time::{sleep, timeout};
use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};
use support::{Rng, fd_count, in_flight, poll_noop, serial, settle};

fn pool_in_use() -> usize {
    ringio::metrics().pool_in_use
}

/// A one-core runtime with a pool of `buffers` × `size` bytes.
fn one_core(buffers: u16, size: usize) -> Runtime {
    Runtime::builder()
        .workers(1)
        .buffer_pool(buffers, size)
        .build()
        .unwrap()
}

/// Byte `off` of connection `conn`'s stream: depends on both, so a byte delivered to the
/// wrong connection or at the wrong offset shows.
fn pattern(conn: usize, off: usize) -> u8 {
    let x = (conn as u64)
        .wrapping_mul(1_000_003)
        .wrapping_add(off as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8
}

fn pattern_bytes(conn: usize, len: usize) -> Vec<u8> {
    (0..len).map(|off| pattern(conn, off)).collect()
}

/// Panics at the first byte of `got` that is not `pattern(conn, ..)`.
fn check_pattern(conn: usize, got: &[u8], what: &str) {
    for (off, b) in got.iter().enumerate() {
        assert_eq!(
            *b,
            pattern(conn, off),
            "{what}: connection {conn}, byte {off} of {} is wrong (lost, reordered or foreign)",
            got.len()
        );
    }
}

/// A ringio stream and the std peer of the same loopback connection.
async fn pair_with_std_peer() -> (TcpStream, std::net::TcpStream) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let s = TcpStream::connect(addr).await.unwrap();
    let (peer, _) = std_listener.accept().unwrap();
    (s, peer)
}

/// Echo through a `RecvStream`, holding each buffer a moment before writing it back.
/// Returns the bytes echoed.
async fn echo_stream_holding(s: TcpStream, conn: usize) -> usize {
    let mut echoed = 0;
    let mut data = s.recv_stream();
    let mut chunk = 0usize;
    while let Some(buf) = data.next().await {
        let buf = buf.unwrap_or_else(|e| panic!("recv_stream handler {conn}: {e}"));
        assert!(!buf.is_empty(), "recv_stream yielded an empty buffer");
        hold(chunk).await;
        chunk += 1;
        echoed += buf.len();
        let (res, _) = s.write_all(buf).await;
        res.unwrap_or_else(|e| panic!("recv_stream handler {conn}: write: {e}"));
    }
    echoed
}

/// Echo through `recv_pooled`, holding each buffer a moment before writing it back.
async fn echo_pooled_holding(s: TcpStream, conn: usize) -> usize {
    let mut echoed = 0;
    let mut chunk = 0usize;
    loop {
        let buf = s
            .recv_pooled()
            .await
            .unwrap_or_else(|e| panic!("recv_pooled handler {conn}: {e}"));
        if buf.is_empty() {
            return echoed;
        }
        hold(chunk).await;
        chunk += 1;
        echoed += buf.len();
        let (res, _) = s.write_all(buf).await;
        res.unwrap_or_else(|e| panic!("recv_pooled handler {conn}: write: {e}"));
    }
}

/// Keeps a buffer for a while: a 1 ms sleep every 8th chunk, else one yield.
async fn hold(chunk: usize) {
    if chunk.is_multiple_of(8) {
        sleep(Duration::from_millis(1)).await;
    } else {
        ringio::yield_now().await;
    }
}

#[test]
fn exhausted_pool_tears_down_no_connection() {
    let _serial = serial();
    support::watchdog("exhausted_pool", Duration::from_secs(60));
    const CONNS: usize = 64;
    const BYTES: usize = 20 * 1024;
    let start = Instant::now();
    let rt = one_core(4, 256);
    let (exhausted, echoed) = rt.block_on(async {
        let base = in_flight();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ringio::spawn(async move {
            let mut handlers = Vec::new();
            for i in 0..CONNS {
                let (s, _) = listener.accept().await.unwrap();
                handlers.push(ringio::spawn(async move {
                    if i % 2 == 0 {
                        echo_stream_holding(s, i).await
                    } else {
                        echo_pooled_holding(s, i).await
                    }
                }));
            }
            let mut total = 0;
            for h in handlers {
                total += h.await.expect("a server handler failed");
            }
            total
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                ringio::spawn(async move {
                    let s = Rc::new(TcpStream::connect(addr).await.unwrap());
                    let w = s.clone();
                    // The whole message in one burst, while the reader below reads back.
                    let writer = ringio::spawn(async move {
                        let (res, _) = w.write_all(pattern_bytes(c, BYTES)).await;
                        res.unwrap();
                        w.shutdown(Shutdown::Write).unwrap();
                    });
                    let (res, back) = s.read_exact(vec![0u8; BYTES]).await;
                    res.unwrap_or_else(|e| panic!("client {c}: {e}"));
                    check_pattern(c, &back, "echo");
                    // The handler ends on our EOF and closes: nothing more comes back.
                    let (res, _) = s.read(vec![0u8; 16]).await;
                    assert_eq!(res.unwrap(), 0, "client {c}: bytes past the echo");
                    writer.await.unwrap();
                })
            })
            .collect();
        for (c, h) in clients.into_iter().enumerate() {
            h.await
                .unwrap_or_else(|e| panic!("client {c} failed: {e:?}"));
        }
        let echoed = server.await.unwrap();
        assert!(
            settle(Duration::from_secs(5), || pool_in_use() == 0).await,
            "pool buffers still out: {}",
            pool_in_use()
        );
        assert!(
            settle(Duration::from_secs(5), || in_flight() == base).await,
            "ops in flight: {} (baseline {base})",
            in_flight()
        );
        let m = ringio::metrics();
        assert_eq!(m.pool_buffers, 4);
        (m.pool_exhausted, echoed)
    });
    assert_eq!(echoed, CONNS * BYTES);
    assert!(
        exhausted > 0,
        "4 buffers for 64 connections never ran out: ENOBUFS was not exercised"
    );
    eprintln!(
        "exhausted_pool: pool found empty {exhausted} times, {:?}",
        start.elapsed()
    );
}

#[test]
fn dropped_recv_stream_returns_buffers_and_keeps_bytes() {
    let _serial = serial();
    support::watchdog("dropped_recv_stream", Duration::from_secs(60));
    const TOTAL: usize = 8 * 1024;
    const ROUNDS: usize = 24;
    let rt = one_core(16, 256);
    rt.block_on(async {
        // Make the pool before counting descriptors (it holds none, but be explicit).
        let (a, mut b) = pair_with_std_peer().await;
        b.write_all(b"x").unwrap();
        drop(a.recv_pooled().await.unwrap());
        drop((a, b));
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        let fd_base = fd_count();
        let mut most_stashed = 0;
        for round in 0..ROUNDS {
            let (s, mut peer) = pair_with_std_peer().await;
            let data = pattern_bytes(round, TOTAL);
            let mut got = Vec::with_capacity(TOTAL);
            {
                let mut rs = s.recv_stream();
                peer.write_all(&data[..100]).unwrap();
                let first = timeout(Duration::from_secs(5), rs.next())
                    .await
                    .expect("no data")
                    .expect("EOF")
                    .unwrap();
                got.extend_from_slice(&first);
                drop(first);
                // The receive stays armed: the rest arrives into its queue unread.
                for chunk in data[got.len()..].chunks(300) {
                    peer.write_all(chunk).unwrap();
                }
                match round % 3 {
                    // Let the CQEs arrive and queue before the drop.
                    0 => sleep(Duration::from_millis(20)).await,
                    1 => ringio::yield_now().await,
                    // Dropped at once: CQEs may come after the cancel was sent.
                    _ => {}
                }
            }
            assert!(
                settle(Duration::from_secs(5), || in_flight() == 0).await,
                "round {round}: the dropped stream's receive is still in flight"
            );
            assert_eq!(pool_in_use(), 0, "round {round}: pool buffers not returned");
            // The bytes the stream had queued come first, then the socket's.
            let mut first_read = true;
            while got.len() < TOTAL {
                let n = if round % 2 == 0 {
                    let (res, buf) = s.read(vec![0u8; 64 * 1024]).await;
                    let n = res.unwrap();
                    got.extend_from_slice(&buf[..n]);
                    n
                } else {
                    let buf = s.recv_pooled().await.unwrap();
                    got.extend_from_slice(&buf);
                    buf.len()
                };
                assert!(n > 0, "round {round}: EOF after {} bytes", got.len());
                if first_read {
                    most_stashed = most_stashed.max(n);
                    first_read = false;
                }
            }
            check_pattern(round, &got, "after dropping a RecvStream");
            assert_eq!(pool_in_use(), 0);
            drop(s);
            drop(peer);
        }
        assert!(
            settle(Duration::from_secs(5), || in_flight() == 0).await,
            "ops in flight: {}",
            in_flight()
        );
        assert!(
            settle(Duration::from_secs(5), || fd_count() == fd_base).await,
            "descriptors leaked: {} now, {fd_base} before",
            fd_count()
        );
        // A read after a drop got more than one pool buffer's worth at once: the queued,
        // unread buffers of the dropped stream were kept (and copied out), not lost.
        assert!(
            most_stashed > 256,
            "no round had several queued buffers at the drop (largest first read {most_stashed})"
        );
    });
}

/// Reads `total` sequenced bytes from a writer thread with `read_one`, each call racing
/// a random 0–50 µs timeout; checks order and completeness.
#[test]
fn dropped_recv_pooled_loses_no_byte() {
    let _serial = serial();
    support::watchdog("recv_pooled_race", Duration::from_secs(60));
    const TOTAL: usize = 200_000;
    let rt = one_core(8, 512);
    let exhausted = rt.block_on(async {
        let (s, peer) = pair_with_std_peer().await;
        let writer = sequenced_writer(peer, TOTAL, Duration::ZERO);
        let mut rng = Rng::new(7);
        let mut got = Vec::with_capacity(TOTAL);
        // Some buffers are kept a while, so receives also find the pool empty and wait
        // (and those waits get cancelled by the timeouts too).
        let mut held: Vec<PooledBuf> = Vec::new();
        let mut timeouts = 0u64;
        while got.len() < TOTAL {
            let d = Duration::from_micros(rng.below(51));
            match timeout(d, s.recv_pooled()).await {
                Ok(res) => {
                    let buf = res.unwrap();
                    assert!(!buf.is_empty(), "unexpected EOF after {} bytes", got.len());
                    got.extend_from_slice(&buf);
                    held.push(buf);
                }
                Err(_) => timeouts += 1,
            }
            if rng.below(16) == 0 {
                held.clear();
            }
            // Bytes a cancelled receive left behind come back in an owned buffer, which
            // holds no pool buffer: the count is at most what is held.
            assert!(pool_in_use() <= held.len(), "pool count off");
        }
        drop(held);
        drop(writer.join().unwrap());
        check_sequence(&got, TOTAL);
        assert!(timeouts > 0, "no receive was ever cancelled");
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(pool_in_use(), 0);
        ringio::metrics().pool_exhausted
    });
    eprintln!("recv_pooled race: pool found empty {exhausted} times");
    assert!(
        exhausted > 0,
        "all 8 buffers were held at times, yet no receive found the pool empty"
    );
}

/// Receives one chunk of `s` with a receive of `kind`.
async fn receive_one(s: &TcpStream, kind: Recv) -> Vec<u8> {
    match kind {
        Recv::Read => {
            let (res, buf) = s.read(vec![0u8; 64]).await;
            let n = res.unwrap();
            buf[..n].to_vec()
        }
        Recv::Pooled => s.recv_pooled().await.unwrap().to_vec(),
        Recv::Stream => s.recv_stream().next().await.unwrap().unwrap().to_vec(),
    }
}

/// A receive dropped in flight may still take bytes after its cancel (the cancel does
/// not always find it), so a stream queues no receive beside it: the next receive, of any
/// kind, waits until the dropped one's last CQE has come. Without that wait, a receive
/// queued in the same submission as the cancel took bytes before the dropped one
/// (`dropped_recv_pooled_loses_no_byte` failed about one run in fifty on a loaded
/// machine); here the rule is checked directly, by counting the ops in flight.
#[test]
fn a_receive_waits_for_the_one_dropped_before_it() {
    let _serial = serial();
    support::watchdog("receive_waits_for_dropped", Duration::from_secs(60));
    let rt = one_core(8, 512);
    rt.block_on(async {
        let (s, mut peer) = pair_with_std_peer().await;
        let kinds = [Recv::Read, Recv::Pooled, Recv::Stream];
        let mut sent = 0u8;
        for dropped in kinds {
            for next in kinds {
                assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
                queue_and_drop(&s, dropped);
                assert_eq!(in_flight(), 1, "{dropped:?} receive not in flight");
                let mut waiting = std::pin::pin!(receive_one(&s, next));
                assert!(poll_noop(waiting.as_mut()).is_pending());
                assert_eq!(
                    in_flight(),
                    1,
                    "a {next:?} receive was queued beside a dropped {dropped:?} receive"
                );
                sent = sent.wrapping_add(1);
                peer.write_all(&[sent]).unwrap();
                assert_eq!(waiting.await, [sent], "{dropped:?} then {next:?}");
            }
        }
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(pool_in_use(), 0);
    });
}

/// Bytes a stream storm reads: `RINGIO_STORM_BYTES`, or 1,000,000. Under valgrind the
/// writer thread gets the CPU so rarely that a million bytes took 70-110 s, past the
/// cancelled storm's 60 s watchdog; 250,000 took 12-25 s there, and still caught two
/// cancelled receives' bytes swapped in 5 runs of 6.
fn storm_bytes() -> usize {
    match std::env::var("RINGIO_STORM_BYTES") {
        Ok(s) => s.parse().expect("RINGIO_STORM_BYTES: a number of bytes"),
        Err(_) => 1_000_000,
    }
}

/// Reads a sequenced writer's `storm_bytes()` through `RecvStream`s dropped every few
/// items, so each is dropped with its receive armed and often with buffers queued. With
/// `cancel`, each `next` also races a 0–50 µs timeout and one read in five is a plain
/// `read` racing one too. Checks that every byte comes, in order.
fn recv_stream_storm(cancel: bool) {
    let total = storm_bytes();
    let rt = one_core(8, 512);
    rt.block_on(async {
        let (s, peer) = pair_with_std_peer().await;
        let writer = sequenced_writer(peer, total, Duration::from_micros(20));
        let mut rng = Rng::new(11);
        let (mut timeouts, mut drops) = (0u64, 0u64);
        let mut got = Vec::with_capacity(total);
        while got.len() < total {
            if cancel && rng.below(5) == 0 {
                let d = Duration::from_micros(rng.below(51));
                if let Ok((res, buf)) = timeout(d, s.read(vec![0u8; 1500])).await {
                    let n = res.unwrap();
                    assert!(n > 0, "unexpected EOF after {} bytes", got.len());
                    got.extend_from_slice(&buf[..n]);
                }
                continue;
            }
            let mut rs = s.recv_stream();
            for _ in 0..1 + rng.below(4) {
                let d = if cancel {
                    Duration::from_micros(rng.below(51))
                } else {
                    Duration::from_secs(5)
                };
                match timeout(d, rs.next()).await {
                    Ok(item) => {
                        let buf = item.expect("unexpected EOF").unwrap();
                        got.extend_from_slice(&buf);
                    }
                    Err(_) if cancel => timeouts += 1,
                    Err(_) => panic!("next() hung after {} bytes", got.len()),
                }
                if got.len() >= total {
                    break;
                }
            }
            drop(rs);
            drops += 1;
        }
        drop(writer.join().unwrap());
        check_sequence(&got, total);
        assert!(!cancel || timeouts > 0, "no next() was ever cancelled");
        eprintln!("recv_stream storm: {drops} streams dropped, {timeouts} next() cancelled");
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(pool_in_use(), 0);
    });
}

#[test]
fn dropped_recv_streams_lose_no_byte() {
    let _serial = serial();
    support::watchdog("recv_stream_drops", Duration::from_secs(60));
    recv_stream_storm(false);
}

/// The same with cancelled `next()` calls and cancelled reads. Before the fix it failed
/// about one run in two, at a random offset, with a chunk delivered ahead of the bytes a
/// cancelled receive kept (`recv_stream_returns_bytes_of_a_cancelled_receive_first` is
/// the deterministic form). Later it failed under valgrind, and in 6 of 40 debug runs, with
/// the bytes of two receives dropped in one batch swapped
/// (`receives_cancelled_in_one_batch_keep_their_bytes_in_order`).
#[test]
fn cancelled_recv_stream_storm_loses_no_byte() {
    let _serial = serial();
    support::watchdog("recv_stream_race", Duration::from_secs(60));
    recv_stream_storm(true);
}

/// Writes `total` bytes `i % 251` in 997-byte chunks from a thread, pausing `pause`
/// after each (a yield if zero).
fn sequenced_writer(
    peer: std::net::TcpStream,
    total: usize,
    pause: Duration,
) -> std::thread::JoinHandle<std::net::TcpStream> {
    std::thread::spawn(move || {
        let mut peer = peer;
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(997) {
            peer.write_all(chunk).unwrap();
            if pause.is_zero() {
                std::thread::yield_now();
            } else {
                std::thread::sleep(pause);
            }
        }
        peer
    })
}

fn check_sequence(got: &[u8], total: usize) {
    assert_eq!(got.len(), total, "more bytes than were sent");
    for (i, b) in got.iter().enumerate() {
        assert_eq!(
            *b,
            (i % 251) as u8,
            "byte {i}: a cancelled receive lost or reordered data"
        );
    }
}

#[test]
fn two_thousand_connections_one_worker_every_byte_verified() {
    let _serial = serial();
    support::watchdog("two_thousand_connections", Duration::from_secs(120));
    const CONNS: usize = 2000;
    const MESSAGES: usize = 5;
    // Both ends of every connection live in this process, plus the ring, the listener
    // and the test harness's own descriptors: 500 to spare.
    const NOFILE_NEEDED: u64 = 2 * CONNS as u64 + 500;
    let limit = support::rlimit::raise_nofile_limit().unwrap();
    assert!(
        limit >= NOFILE_NEEDED,
        "cannot run: RLIMIT_NOFILE is {limit} even after raising the soft limit to the \
         hard one, and {CONNS} connections need {NOFILE_NEEDED} (raise the hard limit, \
         e.g. `ulimit -Hn {NOFILE_NEEDED}` as root)"
    );
    let start = Instant::now();
    let rt = Runtime::builder().workers(1).build().unwrap();
    let total = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ringio::spawn(async move {
            let mut handlers = Vec::with_capacity(CONNS);
            for _ in 0..CONNS {
                let (s, _) = listener.accept().await.unwrap();
                handlers.push(ringio::spawn(async move {
                    let mut data = s.recv_stream();
                    while let Some(buf) = data.next().await {
                        let (res, _) = s.write_all(buf.unwrap()).await;
                        res.unwrap();
                    }
                }));
            }
            for h in handlers {
                h.await.expect("a server handler failed");
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|c| {
                ringio::spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    let mut rng = Rng::new(c as u64 + 1);
                    let mut bytes = 0;
                    for m in 0..MESSAGES {
                        let len = 1 + rng.below(8192) as usize;
                        let mut msg = vec![0u8; len];
                        rng.fill(&mut msg);
                        let (res, msg) = s.write_all(msg).await;
                        res.unwrap();
                        let (res, back) = s.read_exact(vec![0u8; len]).await;
                        res.unwrap_or_else(|e| panic!("client {c} message {m}: {e}"));
                        assert!(back == msg, "client {c} message {m}: other bytes back");
                        bytes += len;
                    }
                    s.shutdown(Shutdown::Write).unwrap();
                    let (res, _) = s.read(vec![0u8; 16]).await;
                    assert_eq!(res.unwrap(), 0, "client {c}: bytes past the echo");
                    bytes
                })
            })
            .collect();
        let mut total = 0;
        for (c, h) in clients.into_iter().enumerate() {
            total += h
                .await
                .unwrap_or_else(|e| panic!("client {c} failed: {e:?}"));
        }
        server.await.unwrap();
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(pool_in_use(), 0);
        total
    });
    assert!(total >= CONNS * MESSAGES);
    eprintln!(
        "two_thousand_connections: {CONNS} connections, {total} bytes echoed and verified in {:?}",
        start.elapsed()
    );
}

/// Sets SO_LINGER 0 and drops the socket: the kernel sends a RST.
fn reset(peer: std::net::TcpStream) {
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
}

#[test]
fn recv_stream_reports_eof_and_errors() {
    let _serial = serial();
    support::watchdog("recv_stream_eof", Duration::from_secs(60));
    let rt = one_core(16, 256);
    rt.block_on(async {
        let limit = Duration::from_secs(5);

        // Half-close: the data (across several buffers), then None, and None again; the
        // other direction still works.
        let (s, mut peer) = pair_with_std_peer().await;
        let data = pattern_bytes(1, 1000);
        peer.write_all(&data).unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let mut rs = s.recv_stream();
        while let Some(buf) = timeout(limit, rs.next()).await.expect("hang before EOF") {
            got.extend_from_slice(&buf.unwrap());
        }
        assert_eq!(got, data);
        assert!(timeout(limit, rs.next()).await.unwrap().is_none());
        drop(rs);
        // A new stream (and recv_pooled) on the closed side: EOF again.
        assert!(
            timeout(limit, s.recv_stream().next())
                .await
                .unwrap()
                .is_none()
        );
        let buf = timeout(limit, s.recv_pooled()).await.unwrap().unwrap();
        assert!(
            buf.is_empty(),
            "recv_pooled after EOF gave {} bytes",
            buf.len()
        );
        s.write_all(b"still open".to_vec()).await.0.unwrap();
        let mut back = [0u8; 10];
        peer.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"still open");
        drop((s, peer));

        // Reset while the receive is armed and waiting.
        let (s, peer) = pair_with_std_peer().await;
        let mut rs = s.recv_stream();
        let resetter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            reset(peer);
        });
        let first = timeout(limit, rs.next()).await.expect("hang on reset");
        resetter.join().unwrap();
        match first {
            Some(Err(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
            other => panic!("armed stream, peer reset: expected ConnectionReset, got {other:?}"),
        }
        // The error is reported once; the socket then reads as closed.
        let second = timeout(limit, rs.next()).await.expect("hang after reset");
        assert!(second.is_none(), "after the reset: {second:?}");
        drop(rs);
        drop(s);

        // Reset before the stream is armed.
        let (s, peer) = pair_with_std_peer().await;
        reset(peer);
        sleep(Duration::from_millis(20)).await;
        let mut rs = s.recv_stream();
        match timeout(limit, rs.next()).await.expect("hang on reset") {
            Some(Err(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
            other => panic!("peer reset before arming: expected ConnectionReset, got {other:?}"),
        }
        assert!(timeout(limit, rs.next()).await.unwrap().is_none());
        drop(rs);
        drop(s);

        // Reset with data still unread: the kernel's answer, as std sees it on a socket
        // in the same state, is what the stream must report too.
        let expected = {
            let (mut a, b) = std_pair();
            let mut b = b;
            b.write_all(&data[..300]).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            reset(b);
            std::thread::sleep(Duration::from_millis(20));
            read_outcome_std(&mut a)
        };
        let (s, mut peer) = pair_with_std_peer().await;
        peer.write_all(&data[..300]).unwrap();
        sleep(Duration::from_millis(20)).await;
        reset(peer);
        sleep(Duration::from_millis(20)).await;
        let mut rs = s.recv_stream();
        let mut got = Vec::new();
        let outcome = loop {
            match timeout(limit, rs.next()).await.expect("hang on reset") {
                Some(Ok(buf)) => got.extend_from_slice(&buf),
                Some(Err(e)) => break Outcome::Err(got.len(), e.kind()),
                None => break Outcome::Eof(got.len()),
            }
        };
        assert_eq!(&got[..], &data[..got.len()]);
        assert_eq!(
            outcome, expected,
            "RecvStream and std disagree after a reset"
        );
        eprintln!("reset with 300 unread bytes: {outcome:?}");
        drop(rs);
        drop(s);

        // recv_pooled on a reset connection.
        let (s, peer) = pair_with_std_peer().await;
        reset(peer);
        let e = timeout(limit, s.recv_pooled())
            .await
            .expect("hang on reset")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
        let buf = timeout(limit, s.recv_pooled()).await.unwrap().unwrap();
        assert!(buf.is_empty());
        drop(s);

        assert!(settle(limit, || in_flight() == 0).await);
        assert_eq!(pool_in_use(), 0);
    });
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Bytes read, then an error.
    Err(usize, ErrorKind),
    /// Bytes read, then end of stream.
    Eof(usize),
}

fn std_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    (a, b)
}

fn read_outcome_std(s: &mut std::net::TcpStream) -> Outcome {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut n = 0;
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Outcome::Eof(n),
            Ok(k) => n += k,
            Err(e) => return Outcome::Err(n, e.kind()),
        }
    }
}

#[test]
fn pool_config_is_validated() {
    let _serial = serial();
    for (buffers, size) in [(3, 100), (4, 0), (0, 100), (6, 4096)] {
        let err = Runtime::builder()
            .workers(1)
            .buffer_pool(buffers, size)
            .build()
            .expect_err("a bad pool was accepted");
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidInput,
            "buffer_pool({buffers}, {size}): {err}"
        );
    }
    // The limits themselves are fine, and a valid pool is used as configured.
    for (buffers, size) in [(1, 1), (32768, 16)] {
        Runtime::builder()
            .workers(1)
            .buffer_pool(buffers, size)
            .build()
            .unwrap_or_else(|e| panic!("buffer_pool({buffers}, {size}): {e}"));
    }
    let rt = one_core(2, 7);
    rt.block_on(async {
        let (s, mut peer) = pair_with_std_peer().await;
        assert_eq!(
            ringio::metrics().pool_buffers,
            0,
            "the pool is made on first use"
        );
        peer.write_all(b"0123456789").unwrap();
        let buf = s.recv_pooled().await.unwrap();
        assert_eq!(&buf[..], b"0123456", "a receive fills at most one buffer");
        assert_eq!(ringio::metrics().pool_buffers, 2);
        assert_eq!(pool_in_use(), 1);
        drop(buf);
        assert_eq!(pool_in_use(), 0);
        let buf = s.recv_pooled().await.unwrap();
        assert_eq!(&buf[..], b"789");
    });
}

#[test]
fn slow_recv_stream_reader_holds_bounded_buffers() {
    let _serial = serial();
    support::watchdog("slow_reader", Duration::from_secs(60));
    const TOTAL: usize = 64 * 1024;
    let rt = one_core(128, 256);
    rt.block_on(async {
        let (a, mut pa) = pair_with_std_peer().await;
        let (b, mut pb) = pair_with_std_peer().await;
        let data = pattern_bytes(3, TOTAL);
        let mut rs = a.recv_stream();
        pa.write_all(&data[..10]).unwrap();
        let mut got = rs.next().await.unwrap().unwrap().to_vec();
        // A's receive stays armed while its reader is busy elsewhere; 64 KiB arrive,
        // 256 buffers' worth, twice the pool.
        let writer = std::thread::spawn(move || {
            pa.write_all(&data[10..]).unwrap();
            pa
        });
        sleep(Duration::from_millis(50)).await;
        // The stream stopped its receive after RECV_STREAM_QUEUE buffers (plus what the
        // kernel posted before the cancel), so the pool still serves other connections.
        pb.write_all(b"other").unwrap();
        let buf = timeout(Duration::from_secs(5), b.recv_pooled())
            .await
            .expect("a slow RecvStream drained the whole pool")
            .unwrap();
        assert_eq!(&buf[..], b"other");
        drop(buf);
        assert_eq!(
            ringio::metrics().pool_exhausted,
            0,
            "the pool ran dry: the queue limit did not stop the slow stream's receive"
        );
        // The reader catches up: every byte, in order, across the re-arms.
        while got.len() < TOTAL {
            let buf = timeout(Duration::from_secs(5), rs.next())
                .await
                .expect("hang: the stream was not re-armed")
                .expect("EOF")
                .unwrap();
            got.extend_from_slice(&buf);
        }
        check_pattern(3, &got, "slow RecvStream");
        drop(rs);
        drop(writer.join().unwrap());
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(pool_in_use(), 0);
    });
}

#[test]
fn pooled_buf_outlives_its_runtime() {
    let _serial = serial();
    support::watchdog("pooled_buf_outlives", Duration::from_secs(30));
    let rt = one_core(4, 64);
    let (held, peer) = rt.block_on(async {
        let (s, mut peer) = pair_with_std_peer().await;
        peer.write_all(b"kept past the runtime").unwrap();
        let buf = s.recv_pooled().await.unwrap();
        assert_eq!(ringio::metrics().pool_in_use, 1);
        (buf, peer)
    });
    // The core stopped and gave up its ring; the buffer's memory stays until it goes.
    drop(rt);
    assert_eq!(&held[..], b"kept past the runtime");
    drop(held);
    drop(peer);
    // A new runtime gets a fresh pool that works as usual.
    let rt = one_core(4, 64);
    rt.block_on(async {
        let (s, mut peer) = pair_with_std_peer().await;
        peer.write_all(b"again").unwrap();
        assert_eq!(&s.recv_pooled().await.unwrap()[..], b"again");
        assert_eq!(pool_in_use(), 0);
    });
}

/// A receive that finds the kernel's ring empty takes its bytes into an owned buffer at
/// once: it neither re-arms in a loop nor waits for another connection to give buffers
/// back. Buffers the kernel filled for a `RecvStream` whose reader has not taken them yet
/// (queued CQEs) count as out of the kernel's hands (`pool_in_use`); when they did not,
/// `BufRing::has_free` said a buffer was free when the kernel had none, and `recv_pooled`
/// re-submitted at once, got ENOBUFS again, and spun the core.
#[test]
fn receive_finding_the_pool_held_by_another_stream_neither_spins_nor_waits() {
    let _serial = serial();
    support::watchdog("enobufs_spin", Duration::from_secs(30));
    let rt = one_core(4, 256);
    rt.block_on(async {
        let (a, mut pa) = pair_with_std_peer().await;
        let (b, mut pb) = pair_with_std_peer().await;
        let mut rs = a.recv_stream();
        pa.write_all(b"x").unwrap();
        drop(rs.next().await.unwrap().unwrap());
        // A's receive stays armed; its peer sends more than the pool holds, so all four
        // buffers end up queued (unread) in A's stream. On epoll a stream receives only
        // when its reader polls (the backend's rule 10): there A's reader takes the four
        // and keeps them.
        pa.write_all(&[7u8; 4 * 256 + 100]).unwrap();
        let mut held = Vec::new();
        if support::on_epoll() {
            while held.len() < 4 {
                held.push(rs.next().await.unwrap().unwrap());
            }
        }
        settle(Duration::from_secs(5), || pool_in_use() == 4).await;
        assert_eq!(pool_in_use(), 4, "A holds the whole pool");
        let before = ringio::metrics();
        pb.write_all(b"for b").unwrap();
        // B's receive finds the pool empty and takes its bytes into an owned buffer.
        let buf = timeout(Duration::from_millis(500), b.recv_pooled())
            .await
            .expect("B waited for A's buffers")
            .unwrap();
        assert_eq!(&buf[..], b"for b");
        let after = ringio::metrics();
        let resubmitted = after.ops_submitted - before.ops_submitted;
        // A pooled receive, its ENOBUFS, and one owned receive: a handful of SQEs; a busy
        // loop costs tens of thousands.
        assert!(
            resubmitted < 10,
            "B's receive was re-submitted {resubmitted} times (ENOBUFS busy loop)"
        );
        assert!(
            after.pool_exhausted > before.pool_exhausted,
            "B found the pool empty but pool_exhausted did not count it"
        );
        assert_eq!(after.pool_fallbacks - before.pool_fallbacks, 1, "{after:?}");
        // A still gets every byte, from its own buffers.
        let mut got: usize = held.iter().map(|b| b.len()).sum();
        drop(held);
        while got < 4 * 256 + 100 {
            got += rs.next().await.unwrap().unwrap().len();
        }
    });
}

#[test]
fn each_core_has_its_own_pool() {
    let _serial = serial();
    support::watchdog("per_core_pool", Duration::from_secs(60));
    const CONNS: usize = 16;
    const BYTES: usize = 32 * 1024;
    let rt = Runtime::builder()
        .workers(2)
        .buffer_pool(8, 512)
        .build()
        .unwrap();
    let per_core = rt.run_per_core(|core| async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = ringio::spawn_blocking(move || {
            let threads: Vec<_> = (0..CONNS)
                .map(|i| {
                    std::thread::spawn(move || {
                        let conn = core * 1000 + i;
                        let c = std::net::TcpStream::connect(addr).unwrap();
                        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                        let mut w = c.try_clone().unwrap();
                        let writer = std::thread::spawn(move || {
                            w.write_all(&pattern_bytes(conn, BYTES)).unwrap();
                            w.shutdown(Shutdown::Write).unwrap();
                        });
                        let mut back = Vec::new();
                        (&c).read_to_end(&mut back).unwrap();
                        writer.join().unwrap();
                        assert_eq!(back.len(), BYTES, "connection {conn}: short echo");
                        check_pattern(conn, &back, "per-core echo");
                    })
                })
                .collect();
            for t in threads {
                t.join().expect("a client failed");
            }
        });
        let mut handlers = Vec::new();
        for i in 0..CONNS {
            let (s, _) = listener.accept().await.unwrap();
            handlers.push(ringio::spawn(async move {
                if i % 2 == 0 {
                    echo_stream_holding(s, i).await
                } else {
                    echo_pooled_holding(s, i).await
                }
            }));
        }
        let mut echoed = 0;
        for h in handlers {
            echoed += h.await.unwrap();
        }
        clients.await.unwrap();
        drop(listener);
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        (ringio::runtime::current_core(), echoed, ringio::metrics())
    });
    for (i, (core, echoed, m)) in per_core.into_iter().enumerate() {
        assert_eq!(core, i);
        assert_eq!(echoed, CONNS * BYTES, "core {core}");
        assert_eq!(m.pool_buffers, 8, "core {core}: its own pool of 8");
        assert_eq!(m.pool_in_use, 0, "core {core}");
    }
}

/// How a receive is started or done in the cancellation-order tests and
/// `a_receive_waits_for_the_one_dropped_before_it`.
#[derive(Clone, Copy, Debug)]
enum Recv {
    Read,
    Pooled,
    Stream,
}

/// Starts a receive of `kind` on `s` (a 4-byte read, a pooled receive, or a multishot
/// receive with its stream) with one poll, which must find no data: the receive waits,
/// its SQE queued (io_uring) or parked on the socket (epoll, where a receive that finds
/// data completes at its first poll). Dropping the returned future drops the receive (and
/// the stream), so it is dropped in flight.
fn queue_receive<'a>(s: &'a TcpStream, kind: Recv) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    let mut fut: Pin<Box<dyn Future<Output = ()> + 'a>> = match kind {
        Recv::Read => Box::pin(async move { drop(s.read(vec![0u8; 4]).await) }),
        Recv::Pooled => Box::pin(async move { drop(s.recv_pooled().await) }),
        Recv::Stream => Box::pin(async move {
            let mut rs = s.recv_stream();
            drop(rs.next().await);
        }),
    };
    assert!(
        poll_noop(fut.as_mut()).is_pending(),
        "expected the {kind:?} receive to wait: was there data?"
    );
    fut
}

/// Queues a receive of `kind` on `s` while no data is there ([`queue_receive`]) and drops
/// it before the loop turns: on io_uring it is in flight with its cancel queued behind it.
fn queue_and_drop(s: &TcpStream, kind: Recv) {
    drop(queue_receive(s, kind));
}

/// Receives of the kinds in `first` are queued, in that order, while no data is there
/// (so they wait on both backends), then the peer sends `sent` ("AAAA" or "AAAABBBB") and
/// they are dropped, in the same order, without being polled again. Each takes what is
/// there (a 4-byte read and a pooled receive with pool buffers of 4 bytes take "AAAA"; a
/// multishot receive takes everything), which the stream must keep for the next read:
/// on io_uring they are dropped before they reach the kernel and still run (each cancel is
/// submitted after its receive); on epoll a dropped receive still parked is ended by its
/// cancel at once, so a loop turn first lets epoll report the bytes and the receives take
/// them, and they are dropped with their CQEs reaped. Receives of kind `second`, the first
/// submitted in the same batch as the cancels on io_uring, take the rest. Returns the
/// bytes in the order the second kind delivers them, or how it hung (each receive given
/// 1 s).
async fn cancelled_then_next(first: &[Recv], second: Recv, sent: &[u8]) -> Result<Vec<u8>, String> {
    let (s, mut peer) = pair_with_std_peer().await;
    let queued: Vec<_> = first.iter().map(|&kind| queue_receive(&s, kind)).collect();
    peer.write_all(sent).unwrap();
    // The bytes reach the socket while the loop does not turn: on io_uring the receives
    // are still unsubmitted.
    std::thread::sleep(Duration::from_millis(20));
    if support::on_epoll() {
        let before = ringio::metrics().ops_completed;
        sleep(Duration::from_millis(20)).await;
        let posted = ringio::metrics().ops_completed - before;
        // A multishot receive first in line waits for its reader's poll (the backend's
        // rule 10), which never comes here, and the receives behind it wait for it; the
        // ones before it take their bytes at the edge. Its drop lets the rest take theirs.
        let at_edge = first
            .iter()
            .take_while(|&&k| !matches!(k, Recv::Stream))
            .count();
        assert!(
            posted >= at_edge as u64,
            "{first:?}: the receives took no bytes before their drop ({posted} CQEs)"
        );
    }
    drop(queued); // front to back: in the order they were queued
    let mut got = Vec::new();
    let mut rs = s.recv_stream();
    while got.len() < sent.len() {
        let limit = Duration::from_secs(1);
        let chunk = match second {
            Recv::Read => timeout(limit, s.read(vec![0u8; 64]))
                .await
                .ok()
                .map(|(res, buf)| buf[..res.unwrap()].to_vec()),
            Recv::Pooled => timeout(limit, s.recv_pooled())
                .await
                .ok()
                .map(|res| res.unwrap().to_vec()),
            Recv::Stream => timeout(limit, rs.next())
                .await
                .ok()
                .map(|item| item.expect("EOF").unwrap().to_vec()),
        };
        match chunk {
            Some(chunk) => {
                assert!(!chunk.is_empty(), "EOF");
                got.extend_from_slice(&chunk);
            }
            None => {
                drop(rs);
                // What a new read finds at once: the stash.
                let stash = match timeout(Duration::from_millis(100), s.read(vec![0u8; 64])).await {
                    Ok((res, buf)) => buf[..res.unwrap()].to_vec(),
                    Err(_) => Vec::new(),
                };
                return Err(format!(
                    "waited 1 s after {:?} while {:?} sat in the stash",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&stash)
                ));
            }
        }
    }
    Ok(got)
}

#[test]
fn bytes_of_a_cancelled_receive_come_first() {
    let _serial = serial();
    support::watchdog("stash_order", Duration::from_secs(30));
    // Pool buffers of 4 bytes, so a pooled receive takes "AAAA" like a 4-byte read.
    let rt = one_core(8, 4);
    rt.block_on(async {
        for first in [Recv::Read, Recv::Pooled] {
            for second in [Recv::Read, Recv::Pooled] {
                let got = cancelled_then_next(&[first], second, b"AAAABBBB")
                    .await
                    .unwrap_or_else(|e| panic!("{second:?} after a cancelled {first:?}: {e}"));
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    "AAAABBBB",
                    "{second:?} after a cancelled {first:?}: bytes lost or reordered"
                );
            }
        }
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(pool_in_use(), 0);
    });
}

/// Bytes that a cancelled receive kept while `RecvStream::next` was waiting (its CQE
/// reaped in the same batch as the stream's) came first on the wire, so they must come
/// out before the stream's own, later bytes: "AAAABBBB", not "BBBBAAAA".
#[test]
fn recv_stream_returns_bytes_of_a_cancelled_receive_first() {
    let _serial = serial();
    support::watchdog("stash_order_stream", Duration::from_secs(30));
    let rt = one_core(8, 4);
    rt.block_on(async {
        for first in [Recv::Read, Recv::Pooled] {
            let got = cancelled_then_next(&[first], Recv::Stream, b"AAAABBBB")
                .await
                .unwrap_or_else(|e| panic!("RecvStream after a cancelled {first:?}: {e}"));
            assert_eq!(
                String::from_utf8_lossy(&got),
                "AAAABBBB",
                "RecvStream after a cancelled {first:?}: bytes lost or reordered"
            );
        }
    });
}

/// Two receives dropped in one batch, a single-shot one and then a multishot one: the
/// kernel runs them in order, so the first takes "AAAA" and the second "BBBB", and their
/// CQEs come in that order in one reap. The stream must keep the bytes in CQE order. It
/// did not: the driver hands a dropped multishot op's CQEs to its orphan while reaping,
/// but finishes a dropped single-shot op after the reap, so "BBBB" was kept before
/// "AAAA" (seen under valgrind, where a 0-50 us timeout often drops both before an enter,
/// as `cancelled_recv_stream_storm_loses_no_byte` failing at a random offset).
#[test]
fn receives_cancelled_in_one_batch_keep_their_bytes_in_order() {
    let _serial = serial();
    support::watchdog("stash_order_batch", Duration::from_secs(30));
    let rt = one_core(8, 4);
    rt.block_on(async {
        let mut failures = Vec::new();
        for first in [Recv::Read, Recv::Pooled] {
            for second in [Recv::Read, Recv::Pooled, Recv::Stream] {
                let dropped = [first, Recv::Stream];
                match cancelled_then_next(&dropped, second, b"AAAABBBB").await {
                    Ok(got) if got == b"AAAABBBB" => {}
                    Ok(got) => failures.push(format!(
                        "{second:?} after cancelled {dropped:?}: {:?}",
                        String::from_utf8_lossy(&got)
                    )),
                    Err(e) => failures.push(format!("{second:?} after cancelled {dropped:?}: {e}")),
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        assert_eq!(pool_in_use(), 0);
    });
}

/// A receive that is already waiting in the kernel when a cancelled receive's bytes land
/// in the stream's stash (`Unread`) must return them, not wait for new data on the
/// socket (with a peer that waits for an answer, that would be a hang). Here the
/// cancelled receive takes all the peer sent ("AAAA", or all of "AAAABBBB" for a
/// multishot one) and the next receive, submitted in the same batch, must still get it
/// within 1 s.
#[test]
fn waiting_receive_gets_bytes_a_cancelled_receive_kept() {
    let _serial = serial();
    support::watchdog("stash_wait", Duration::from_secs(60));
    let rt = one_core(8, 4);
    rt.block_on(async {
        let mut failures = Vec::new();
        for (first, sent) in [
            (Recv::Read, &b"AAAA"[..]),
            (Recv::Pooled, b"AAAA"),
            (Recv::Stream, b"AAAABBBB"),
        ] {
            for second in [Recv::Read, Recv::Pooled, Recv::Stream] {
                match cancelled_then_next(&[first], second, sent).await {
                    Ok(got) if got == sent => {}
                    Ok(got) => failures.push(format!(
                        "{second:?} after a cancelled {first:?}: {:?}",
                        String::from_utf8_lossy(&got)
                    )),
                    Err(e) => failures.push(format!("{second:?} after a cancelled {first:?}: {e}")),
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    });
}
