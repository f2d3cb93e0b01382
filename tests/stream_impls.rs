#![cfg(feature = "futures-core")]
//! `futures_core::Stream` for `RecvStream` and `Incoming`: each driven through
//! `StreamExt` with its contents checked, and each raced against short timers thousands
//! of times (a `next()` dropped at a random point) with no byte or connection lost or
//! reordered. `AsCompleted`, `mpsc::Receiver` and `Interval` are in
//! `stream_impls_tasks.rs`.
//!
//! The receive tests run in every mode a `RecvStream` has: multishot, single-shot
//! (`Missing::MultishotRecv`), owned buffers (`Missing::BufferRing`) and a pool so small
//! that it runs dry (the owned fallback after ENOBUFS); those modes need the
//! `fault-injection` feature, and without it only the default mode runs.
//!
//! Every test takes `support::serial()`: some count the process's descriptors.

mod support;

use futures_core::FusedStream;
use futures_util::StreamExt;
use ringio::Runtime;
use ringio::net::{TcpListener, TcpStream};
use ringio::time::timeout;
use std::collections::HashSet;
use std::io::{ErrorKind, Write};
use std::net::Shutdown;
use std::time::Duration;
use support::{Rng, fd_count, in_flight, serial, settle};

/// Bytes each receive test carries: 1 MB.
const TOTAL: usize = 1_000_000;
/// The byte at offset `i` is `i % PERIOD`: a prime, so a lost, repeated or swapped chunk
/// of any size shows.
const PERIOD: usize = 251;

/// The ways a `RecvStream` receives.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// One multishot receive into the pool, kept armed.
    Multishot,
    /// A pool of 4 × 256 bytes: the multishot receive keeps running it dry (ENOBUFS), and
    /// the stream takes the waiting bytes into owned buffers.
    DryPool,
    /// No multishot receive (before Linux 6.0): one pooled receive at a time.
    #[cfg(feature = "fault-injection")]
    SingleShot,
    /// No buffer ring (before Linux 5.19): one owned receive at a time.
    #[cfg(feature = "fault-injection")]
    Owned,
}

const MODES: &[Mode] = &[
    Mode::Multishot,
    Mode::DryPool,
    #[cfg(feature = "fault-injection")]
    Mode::SingleShot,
    #[cfg(feature = "fault-injection")]
    Mode::Owned,
];

/// Runs `f` on a fresh one-core runtime set up for `mode`, then checks that nothing is
/// left in flight, no pool buffer is held and no descriptor leaked; with `busy` (a run
/// that moves much data), also that the mode's fallback was taken.
fn in_mode(mode: Mode, busy: bool, f: impl AsyncFnOnce()) {
    let fds = fd_count();
    #[cfg(feature = "fault-injection")]
    {
        use ringio::fault::{self, Missing};
        fault::reset();
        match mode {
            Mode::SingleShot => fault::pretend_missing(Missing::MultishotRecv),
            Mode::Owned => fault::pretend_missing(Missing::BufferRing),
            _ => {}
        }
    }
    let mut builder = Runtime::builder().workers(1);
    if let Mode::DryPool = mode {
        builder = builder.buffer_pool(4, 256);
    }
    let rt = builder.build().unwrap();
    rt.block_on(async {
        f().await;
        let m = ringio::metrics();
        match mode {
            _ if !busy => {}
            Mode::DryPool => assert!(
                m.pool_exhausted > 0 && m.pool_fallbacks > 0,
                "the pool never ran dry, or no receive took an owned buffer: {m:?}"
            ),
            #[cfg(feature = "fault-injection")]
            Mode::Owned => assert!(m.pool_fallbacks > 0, "no owned receive: {m:?}"),
            _ => {}
        }
        support::assert_settled(&format!("{mode:?}")).await;
    });
    drop(rt);
    #[cfg(feature = "fault-injection")]
    ringio::fault::reset();
    assert!(
        settle_fds(fds),
        "{mode:?}: descriptors leaked: {} before, {} after",
        fds,
        fd_count()
    );
}

/// Whether the descriptor count comes back to `want` within 2 s.
fn settle_fds(want: usize) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if fd_count() <= want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A connection whose other end is a std socket, for a writer thread.
async fn pair_with_std_peer() -> (TcpStream, std::net::TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (s, _) = listener.accept().await.unwrap();
    (s, peer)
}

/// Writes `total` sequenced bytes in chunks of 1 to `max_chunk` bytes from a thread,
/// yielding or pausing a few µs now and then so that receives complete around their
/// deadlines; then half-closes.
fn sequenced_writer(
    mut peer: std::net::TcpStream,
    total: usize,
    max_chunk: u64,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        peer.set_nodelay(true).unwrap();
        let data: Vec<u8> = (0..total).map(|i| (i % PERIOD) as u8).collect();
        let mut rng = Rng::new(17);
        let mut rest = &data[..];
        while !rest.is_empty() {
            let len = (1 + rng.below(max_chunk) as usize).min(rest.len());
            peer.write_all(&rest[..len]).unwrap();
            rest = &rest[len..];
            match rng.below(4) {
                0 => std::thread::sleep(Duration::from_micros(rng.below(30))),
                1 => std::thread::yield_now(),
                _ => {}
            }
        }
        peer.shutdown(Shutdown::Write).unwrap();
    })
}

fn check_sequence(got: &[u8], what: &str) {
    assert_eq!(got.len(), TOTAL, "{what}: wrong byte count");
    for (i, &b) in got.iter().enumerate() {
        assert_eq!(b, (i % PERIOD) as u8, "{what}: byte {i} lost or reordered");
    }
}

#[test]
fn recv_stream_carries_a_megabyte_through_stream_ext() {
    let _serial = serial();
    support::watchdog("recv_stream_megabyte", Duration::from_secs(120));
    for &mode in MODES {
        in_mode(mode, true, async || {
            let (s, peer) = pair_with_std_peer().await;
            let writer = sequenced_writer(peer, TOTAL, 2_000);
            let rs = s.recv_stream();
            // The last four buffers are held, so that the small pool is found empty
            // and receives take owned buffers.
            let mut held = std::collections::VecDeque::new();
            // `fold` drives it as a `Stream` only: no inherent method is involved.
            let (got, chunks) = rs
                .fold((Vec::with_capacity(TOTAL), 0usize), |(mut got, n), buf| {
                    let buf = buf.unwrap_or_else(|e| panic!("{mode:?}: {e}"));
                    assert!(!buf.is_empty(), "{mode:?}: an empty buffer before the end");
                    got.extend_from_slice(&buf);
                    held.push_back(buf);
                    if held.len() > 4 {
                        held.pop_front();
                    }
                    std::future::ready((got, n + 1))
                })
                .await;
            drop(held);
            writer.join().unwrap();
            check_sequence(&got, &format!("{mode:?}"));
            eprintln!("{mode:?}: {TOTAL} bytes in {chunks} items");
        });
    }
}

#[test]
fn recv_stream_is_fused_at_eof_and_reports_a_reset() {
    let _serial = serial();
    support::watchdog("recv_stream_fused", Duration::from_secs(60));
    for &mode in MODES {
        in_mode(mode, false, async || {
            let limit = Duration::from_secs(5);
            let (s, mut peer) = pair_with_std_peer().await;
            peer.write_all(b"last words").unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
            let mut rs = s.recv_stream();
            assert!(!rs.is_terminated());
            let got: Vec<u8> = timeout(limit, (&mut rs).map(|b| b.unwrap().to_vec()).concat())
                .await
                .expect("hang before EOF");
            assert_eq!(got, b"last words", "{mode:?}");
            assert!(rs.is_terminated(), "{mode:?}: not terminated after EOF");
            assert!(StreamExt::next(&mut rs).await.is_none());
            drop(rs);
            drop((s, peer));

            // A reset while the receive waits: the error, then the end.
            let (s, peer) = pair_with_std_peer().await;
            let mut rs = s.recv_stream();
            let resetter = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                socket2::SockRef::from(&peer)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(peer);
            });
            let first = timeout(limit, StreamExt::next(&mut rs))
                .await
                .expect("hang");
            resetter.join().unwrap();
            match first {
                Some(Err(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{mode:?}"),
                other => panic!("{mode:?}: expected ConnectionReset, got {other:?}"),
            }
            let second = timeout(limit, StreamExt::next(&mut rs))
                .await
                .expect("hang");
            assert!(second.is_none(), "{mode:?}: after the reset: {second:?}");
            assert!(rs.is_terminated());
        });
    }
}

/// `StreamExt::next` on a `RecvStream` raced against a 0–50 µs timer thousands of
/// times; every fourth race instead polls `next()` once and drops it at once. Now and
/// then the stream itself is dropped (its receive in flight) and a new one made, or a
/// plain `read` races a timer. Every byte must arrive, once, in order.
fn recv_stream_race(mode: Mode) {
    in_mode(mode, true, async || {
        let (s, peer) = pair_with_std_peer().await;
        // Small chunks: thousands of items, so thousands of races.
        let writer = sequenced_writer(peer, TOTAL, 300);
        let mut rng = Rng::new(23);
        let mut got = Vec::with_capacity(TOTAL);
        let mut held = std::collections::VecDeque::new();
        let (mut races, mut cancelled) = (0u64, 0u64);
        'outer: loop {
            if rng.below(8) == 0 {
                let d = Duration::from_micros(rng.below(51));
                if let Ok((res, buf)) = timeout(d, s.read(Vec::with_capacity(1500))).await {
                    let n = res.unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                continue;
            }
            let mut rs = s.recv_stream();
            // Without multishot receive, a stream dropped before the kernel refused its
            // multishot form leaves that EINVAL in the stash as the stream's error (the
            // op's discard keeps it): keep one stream for the whole run there.
            let items = if refuses_multishot(mode) {
                u64::MAX
            } else {
                1 + rng.below(40)
            };
            for _ in 0..items {
                races += 1;
                let item = if rng.below(4) == 0 {
                    // Dropped after one poll, with the receive just queued or waiting.
                    let mut next = StreamExt::next(&mut rs);
                    match support::poll_noop(std::pin::Pin::new(&mut next)) {
                        std::task::Poll::Ready(item) => Some(item),
                        std::task::Poll::Pending => None,
                    }
                } else {
                    let d = Duration::from_micros(rng.below(51));
                    timeout(d, StreamExt::next(&mut rs)).await.ok()
                };
                match item {
                    Some(Some(buf)) => {
                        let buf = buf.unwrap();
                        got.extend_from_slice(&buf);
                        // Held as in the megabyte test, so that the small pool runs dry.
                        held.push_back(buf);
                        if held.len() > 4 {
                            held.pop_front();
                        }
                    }
                    Some(None) => break 'outer,
                    None => cancelled += 1,
                }
            }
        }
        writer.join().unwrap();
        drop(held);
        check_sequence(&got, &format!("{mode:?} race"));
        assert!(cancelled > 100, "{mode:?}: only {cancelled} next() dropped");
        eprintln!("{mode:?}: {races} races, {cancelled} next() dropped");
    });
}

/// Whether `mode`'s kernel refuses the multishot receive.
fn refuses_multishot(mode: Mode) -> bool {
    #[cfg(feature = "fault-injection")]
    if let Mode::SingleShot = mode {
        return true;
    }
    let _ = mode;
    false
}

#[test]
fn recv_stream_next_dropped_at_random_loses_no_byte() {
    let _serial = serial();
    support::watchdog("recv_stream_race", Duration::from_secs(240));
    for &mode in MODES {
        recv_stream_race(mode);
    }
}

/// A receive dropped in flight may still take bytes after its cancel, so a stream queues
/// no receive beside it (`Unread::settled`). Checked for the single receives a stream
/// keeps across polls (single-shot and owned modes), by counting the ops in flight while
/// a `next()` waits behind a dropped read or `recv_pooled`.
#[cfg(feature = "fault-injection")]
#[test]
fn recv_stream_single_receive_waits_for_a_dropped_one() {
    use std::future::Future;
    use std::pin::Pin;
    let _serial = serial();
    support::watchdog("recv_stream_waits_for_dropped", Duration::from_secs(60));
    for mode in [Mode::SingleShot, Mode::Owned] {
        in_mode(mode, false, async || {
            let (s, mut peer) = pair_with_std_peer().await;
            let mut rs = s.recv_stream();
            // One item first, so that the stream has switched to its mode.
            peer.write_all(b"x").unwrap();
            let first = StreamExt::next(&mut rs).await.unwrap().unwrap();
            assert_eq!(&first[..], b"x");
            let mut sent = 0u8;
            for pooled in [false, true] {
                assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
                let mut dropped: Pin<Box<dyn Future<Output = ()> + '_>> = if pooled {
                    Box::pin(async { drop(s.recv_pooled().await) })
                } else {
                    Box::pin(async { drop(s.read(vec![0u8; 4]).await) })
                };
                assert!(support::poll_noop(dropped.as_mut()).is_pending());
                drop(dropped);
                assert_eq!(
                    in_flight(),
                    1,
                    "{mode:?}: the dropped receive is not in flight"
                );
                let mut waiting = StreamExt::next(&mut rs);
                assert!(support::poll_noop(std::pin::Pin::new(&mut waiting)).is_pending());
                assert_eq!(
                    in_flight(),
                    1,
                    "{mode:?}: a receive was queued beside a dropped one (pooled: {pooled})"
                );
                sent += 1;
                peer.write_all(&[sent]).unwrap();
                let got = timeout(Duration::from_secs(5), waiting)
                    .await
                    .expect("hang");
                assert_eq!(&got.unwrap().unwrap()[..], [sent], "{mode:?}");
            }
        });
    }
}

/// 100 clients, each sending its number; `Incoming` as a `Stream` (`take(100)`) accepts
/// them all, with the right peer addresses.
fn incoming_takes_every_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    const CONNS: usize = 100;
    let clients = std::thread::spawn(move || {
        (0..CONNS)
            .map(|i| {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(&(i as u32).to_le_bytes()).unwrap();
                c
            })
            .collect::<Vec<_>>()
    });
    let rt = Runtime::builder().workers(1).build().unwrap();
    let accepted = rt.block_on(async {
        let conns: Vec<_> = timeout(
            Duration::from_secs(20),
            listener.incoming().take(CONNS).collect(),
        )
        .await
        .expect("a connection was lost: fewer than 100 accepted");
        let mut seen = HashSet::new();
        let mut peers = HashSet::new();
        for conn in conns {
            let (stream, peer) = conn.unwrap();
            assert_eq!(stream.peer_addr().unwrap(), peer);
            let (res, buf) = stream.read_exact(vec![0u8; 4]).await;
            res.unwrap();
            assert!(seen.insert(u32::from_le_bytes(buf[..].try_into().unwrap())));
            peers.insert(peer);
        }
        assert_eq!(seen, (0..CONNS as u32).collect::<HashSet<_>>());
        peers
    });
    let clients = clients.join().unwrap();
    let locals: HashSet<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    assert_eq!(accepted, locals, "peer addresses differ from the clients'");
}

#[test]
fn incoming_as_a_stream_takes_a_hundred_connections() {
    let _serial = serial();
    support::watchdog("incoming_hundred", Duration::from_secs(60));
    let fds = fd_count();
    incoming_takes_every_connection();
    #[cfg(feature = "fault-injection")]
    {
        use ringio::fault::{self, Missing};
        fault::pretend_missing(Missing::MultishotAccept);
        incoming_takes_every_connection();
        fault::reset();
    }
    assert!(
        settle_fds(fds),
        "descriptors leaked: {fds} before, {} after",
        fd_count()
    );
}

#[test]
fn incoming_next_dropped_at_random_loses_no_connection() {
    let _serial = serial();
    support::watchdog("incoming_race", Duration::from_secs(120));
    let fds = fd_count();
    const CONNS: u32 = 2_000;
    let run = || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            // Clients connect one at a time, each once the last was accepted and read,
            // with pauses, so accepts complete on both sides of their deadlines.
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let clients = std::thread::spawn(move || {
                let mut rng = Rng::new(5);
                for i in 0..CONNS {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    c.write_all(&i.to_le_bytes()).unwrap();
                    if rng.below(2) == 0 {
                        std::thread::sleep(Duration::from_micros(rng.below(40)));
                    }
                    rx.recv().unwrap();
                }
            });
            let mut incoming = listener.incoming();
            let mut rng = Rng::new(9);
            let (mut next_id, mut cancelled) = (0u32, 0u64);
            while next_id < CONNS {
                if rng.below(16) == 0 {
                    // Dropped with its accept in flight: a connection that accept takes
                    // must wait in the listener for the next one.
                    incoming = listener.incoming();
                }
                let d = Duration::from_micros(rng.below(51));
                let Ok(conn) = timeout(d, StreamExt::next(&mut incoming)).await else {
                    cancelled += 1;
                    continue;
                };
                let (stream, _) = conn.expect("never None").unwrap();
                let (res, buf) = stream.read_exact(vec![0u8; 4]).await;
                res.unwrap();
                let id = u32::from_le_bytes(buf[..].try_into().unwrap());
                assert_eq!(id, next_id, "a connection was lost or reordered");
                next_id += 1;
                tx.send(()).unwrap();
            }
            clients.join().unwrap();
            assert!(cancelled > 0, "no next() was ever cancelled");
            eprintln!("{CONNS} connections, {cancelled} next() dropped");
            drop(incoming);
            drop(listener);
            assert!(settle(Duration::from_secs(5), || in_flight() == 0).await);
        });
    };
    run();
    #[cfg(feature = "fault-injection")]
    {
        use ringio::fault::{self, Missing};
        fault::pretend_missing(Missing::MultishotAccept);
        run();
        fault::reset();
    }
    assert!(
        settle_fds(fds),
        "descriptors leaked: {fds} before, {} after",
        fd_count()
    );
}
