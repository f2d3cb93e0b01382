//! `TcpStream::send_file`: a file's bytes reach the peer exact (whole, from an offset,
//! past the end of the file), a peer that goes away gives an error and no SIGPIPE, and a
//! dropped transfer leaks no descriptor and leaves no stale bytes for the next one.
//!
//! The peer is a std socket on a thread, so the ringio side only sends. Every test takes
//! `support::serial()`: they count descriptors and change the SIGPIPE disposition. The
//! quarantining allocator (`support::alloc`) poisons freed memory, so a zero-copy send
//! whose buffer was freed before the kernel read it would deliver the poison.

mod support;

#[global_allocator]
static ALLOC: support::alloc::Guard = support::alloc::Guard;

use ringio::fs::File;
use ringio::net::TcpStream;
use std::io::{ErrorKind, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

const MIB: usize = 1 << 20;

/// A file of `len` bytes of a position-dependent pattern, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, len: usize) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("ringio-send-file-{name}-{}", std::process::id()));
        std::fs::write(&path, pattern(0, len)).expect("write the test file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The bytes at `offset..offset + len` of every test file.
fn pattern(offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect()
}

/// A loopback listener whose one connection a thread reads to the end; the thread gives
/// back what it read.
fn reading_peer() -> (std::net::SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    (addr, reader)
}

/// Sends `len` bytes of the file from `offset` to a reading peer; returns what
/// `send_file` said and what the peer got.
fn send_range(file: &TempFile, offset: u64, len: usize) -> (usize, Vec<u8>) {
    let (addr, reader) = reading_peer();
    let sent = ringio::run(async {
        let file = File::open(&file.0).await.unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let sent = stream.send_file(&file, offset, len).await.unwrap();
        drop(stream);
        sent
    });
    (sent, reader.join().unwrap())
}

#[test]
fn ten_mib_arrive_byte_exact() {
    let _s = support::serial();
    support::watchdog("ten_mib_arrive_byte_exact", Duration::from_secs(60));
    let file = TempFile::new("whole", 10 * MIB);
    let (sent, got) = send_range(&file, 0, 10 * MIB);
    assert_eq!(sent, 10 * MIB);
    assert_eq!(got.len(), 10 * MIB);
    assert!(got == pattern(0, 10 * MIB), "bytes differ from the file");
}

#[test]
fn a_range_in_the_middle_is_exact() {
    let _s = support::serial();
    support::watchdog("a_range_in_the_middle_is_exact", Duration::from_secs(60));
    let file = TempFile::new("middle", 10 * MIB);
    let (offset, len) = (1_234_567, 3 * MIB + 17);
    let (sent, got) = send_range(&file, offset as u64, len);
    assert_eq!(sent, len);
    assert!(
        got == pattern(offset, len),
        "bytes differ from the file's range"
    );
}

#[test]
fn len_past_the_end_sends_what_there_is() {
    let _s = support::serial();
    support::watchdog(
        "len_past_the_end_sends_what_there_is",
        Duration::from_secs(60),
    );
    let file = TempFile::new("tail", MIB);
    let (sent, got) = send_range(&file, (MIB - 1000) as u64, MIB);
    assert_eq!(sent, 1000);
    assert!(got == pattern(MIB - 1000, 1000));
    let (sent, got) = send_range(&file, (2 * MIB) as u64, 10);
    assert_eq!(
        (sent, got.len()),
        (0, 0),
        "an offset past the end sends nothing"
    );
}

#[test]
fn a_peer_that_resets_gives_an_error_not_sigpipe() {
    let _s = support::serial();
    support::watchdog(
        "a_peer_that_resets_gives_an_error_not_sigpipe",
        Duration::from_secs(60),
    );
    // Rust ignores SIGPIPE in its programs; a C host may not. With the default action, a
    // SIGPIPE would end this process.
    // SAFETY: no other test of this binary runs meanwhile (serial), and the old
    // disposition is put back below.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let file = TempFile::new("reset", 10 * MIB);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        s.read_exact(&mut buf).unwrap();
        // Closing with unread bytes in the receive queue sends a RST (RFC 2525, 2.17).
        drop(s);
    });
    // The first failure is the reset (ECONNRESET); calls after it get EPIPE, the error
    // that comes with SIGPIPE unless suppressed.
    let errors = ringio::run(async {
        let file = File::open(&file.0).await.unwrap();
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut total = 0;
        let mut errors = Vec::new();
        while errors.len() < 3 {
            match stream.send_file(&file, 0, 10 * MIB).await {
                Ok(n) => total += n,
                Err(e) => errors.push(e.kind()),
            }
            assert!(
                total < 1000 * MIB,
                "the reset peer never made send_file fail"
            );
        }
        errors
    });
    peer.join().unwrap();
    // SAFETY: puts back the disposition taken above.
    unsafe { libc::signal(libc::SIGPIPE, old) };
    assert!(
        errors
            .iter()
            .all(|k| matches!(k, ErrorKind::BrokenPipe | ErrorKind::ConnectionReset)),
        "unexpected errors: {errors:?}"
    );
    assert!(
        errors.contains(&ErrorKind::BrokenPipe),
        "no EPIPE seen: {errors:?}"
    );
}

#[test]
fn a_dropped_send_file_leaks_nothing_and_the_next_is_exact() {
    let _s = support::serial();
    support::watchdog("a_dropped_send_file_leaks_nothing", Duration::from_secs(60));
    let file = TempFile::new("dropped", 10 * MIB);
    ringio::run(async {
        let f = File::open(&file.0).await.unwrap();
        // Warm this core's pipe cache, so the baseline holds its pipe.
        let (addr, reader) = reading_peer();
        let s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(s.send_file(&f, 0, 1000).await.unwrap(), 1000);
        drop(s);
        assert_eq!(reader.join().unwrap(), pattern(0, 1000));
        let before = support::fd_count();

        for round in 0..3 {
            // A peer that never reads: the transfer stalls once the socket buffers fill,
            // with bytes in the pipe, and is dropped there.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let stalled = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (idle_peer, _) = listener.accept().unwrap();
            let r = ringio::time::timeout(
                Duration::from_millis(200),
                stalled.send_file(&f, 0, 10 * MIB),
            )
            .await;
            assert!(
                r.is_err(),
                "round {round}: a 10 MiB send to a peer that never reads ended"
            );
            drop((stalled, idle_peer, listener));

            // The next call on this core gets a clean pipe: every byte from its offset.
            let (addr, reader) = reading_peer();
            let s = TcpStream::connect(addr).await.unwrap();
            let off = 777 + round * 4096;
            assert_eq!(s.send_file(&f, off as u64, MIB).await.unwrap(), MIB);
            drop(s);
            assert!(
                reader.join().unwrap() == pattern(off, MIB),
                "round {round}: stale bytes"
            );
        }
        let settled = support::settle(Duration::from_secs(5), || {
            support::fd_count() == before && ringio::metrics().ops_in_flight == 0
        })
        .await;
        assert!(
            settled,
            "descriptors {} (before {before}), {:?}",
            support::fd_count(),
            ringio::metrics()
        );
    });
}

#[test]
fn send_zc_of_one_mib_is_exact_and_gives_the_buffer_back() {
    let _s = support::serial();
    support::watchdog("send_zc_of_one_mib", Duration::from_secs(60));
    let (addr, reader) = reading_peer();
    let data = pattern(0, MIB);
    let back = ringio::run(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut buf = data.clone();
        let mut at = 0;
        // A zero-copy send may be short; each retry sends the rest from the same bytes.
        while at < MIB {
            let rest = buf.split_off(at);
            let (res, rest) = stream.send_zc(rest).await;
            let n = res.unwrap();
            assert!(n > 0 && n <= rest.len());
            assert_eq!(rest.len(), MIB - at, "the whole buffer comes back");
            buf.extend_from_slice(&rest);
            at += n;
        }
        drop(stream);
        buf
    });
    assert!(back == data, "the buffer came back changed");
    assert!(reader.join().unwrap() == data, "the peer got other bytes");
}

#[test]
fn send_zc_to_a_reset_peer_is_an_error() {
    let _s = support::serial();
    support::watchdog("send_zc_to_a_reset_peer", Duration::from_secs(60));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let errors = ringio::run(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (peer, _) = listener.accept().unwrap();
        // Closing with unread bytes in the receive queue sends a RST (RFC 2525, 2.17).
        let (res, _) = stream.send_zc(vec![1u8; 1000]).await;
        assert_eq!(res.unwrap(), 1000);
        ringio::time::sleep(Duration::from_millis(20)).await;
        drop(peer);
        let mut buf = vec![0u8; 64 * 1024];
        let mut errors = Vec::new();
        for _ in 0..50 {
            let (res, b) = stream.send_zc(buf).await;
            buf = b;
            if let Err(e) = res {
                errors.push(e.kind());
                break;
            }
            ringio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(buf.len(), 64 * 1024);
        errors
    });
    assert!(
        matches!(
            errors.as_slice(),
            [ErrorKind::BrokenPipe | ErrorKind::ConnectionReset]
        ),
        "{errors:?}"
    );
}

#[test]
fn send_zc_dropped_in_flight_never_sends_freed_bytes() {
    let _s = support::serial();
    support::watchdog("send_zc_dropped_in_flight", Duration::from_secs(120));
    const ROUNDS: usize = 600;
    const LEN: usize = 64 * 1024;
    // Round r's buffer holds only the byte 1 + r % 150: never the allocator's poison
    // (0xA5) nor 0.
    let byte = |round: usize| 1 + (round % 150) as u8;
    let (addr, reader) = reading_peer();
    let mut rng = support::Rng::new(0x005e_4d2c);
    let watch = support::alloc::watch();
    ringio::run(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        for round in 0..ROUNDS {
            let buf = vec![byte(round); LEN];
            match rng.below(3) {
                // Queued, then dropped before the ring is entered (on epoll, where
                // a zero-copy send is a plain one, it may be done at once).
                0 => drop(support::poll_and_drop(stream.send_zc(buf))),
                // Dropped after a random short wait: before, between or after its CQEs.
                1 => {
                    let wait = Duration::from_micros(rng.below(200));
                    let _ = ringio::time::timeout(wait, stream.send_zc(buf)).await;
                }
                _ => {
                    let (res, back) = stream.send_zc(buf).await;
                    res.unwrap();
                    assert!(back.iter().all(|&b| b == byte(round)));
                }
            }
        }
        drop(stream);
        // A send opens no descriptor: what is left to check is that every op ended.
        let settled = support::settle(Duration::from_secs(10), || {
            ringio::metrics().ops_in_flight == 0
        })
        .await;
        assert!(settled, "{:?}", ringio::metrics());
    });
    watch.verify("send_zc buffers");
    let got = reader.join().unwrap();
    assert!(got.len() <= ROUNDS * LEN);
    if let Some(at) = got.iter().position(|&b| b == 0 || b > 150) {
        panic!(
            "byte {at} of {} is {:#x}: not from any buffer (freed memory sent?)",
            got.len(),
            got[at]
        );
    }
}
