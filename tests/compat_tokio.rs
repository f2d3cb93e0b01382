#![cfg(feature = "tokio-io")]
//! `Compat` under tokio's I/O traits: 100 MB through `tokio::io::copy` with every byte
//! checked, 10,000 reads dropped at random points losing nothing, FIN on shutdown, a
//! reset peer as an error, 1-byte reads across a pool buffer, writes reported once the
//! kernel took them, and `into_inner` handing unread bytes back to the stream.
//!
//! Every test takes `support::serial()`: they count descriptors and pool buffers, and the
//! quarantine allocator is one for the whole process.

mod support;

use ringio::compat::Compat;
use ringio::net::{TcpListener, TcpStream, UnixStream};
use ringio::time::timeout;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::sequence::{self, PERIOD, check, pattern};
use support::{Rng, assert_settled};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

#[global_allocator]
static ALLOC: support::alloc::Guard = support::alloc::Guard;

/// Writes `total` bytes of the sequence through `w` in chunks of random sizes.
async fn write_sequence<W: AsyncWrite + Unpin>(w: &mut W, total: u64, seed: u64) {
    let pattern = pattern();
    for range in sequence::chunks(total, seed) {
        w.write_all(&pattern[range]).await.unwrap();
    }
    w.shutdown().await.unwrap();
}

/// Reads through `r` until end of stream, checking every byte; returns how many came.
async fn read_sequence<R: AsyncRead + Unpin>(r: &mut R) -> u64 {
    let pattern = pattern();
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0u64;
    loop {
        let n = r.read(&mut buf).await.unwrap();
        if n == 0 {
            return at;
        }
        check(&pattern, &buf[..n], at);
        at += n as u64;
    }
}

const COPIED: u64 = 100 * 1024 * 1024;

#[test]
fn a_hundred_megabytes_through_tokio_copy() {
    let _serial = support::serial();
    support::watchdog(
        "a_hundred_megabytes_through_tokio_copy",
        Duration::from_secs(300),
    );
    let fds = support::fd_names_settled(&[]);
    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The server echoes with tokio's copy between the Compat halves of its stream.
        let server = ringio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, write) = stream.into_split();
            let (mut read, mut write) = (Compat::new(read), Compat::new(write));
            let copied = tokio::io::copy(&mut read, &mut write).await.unwrap();
            write.shutdown().await.unwrap();
            copied
        });
        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        let writer = ringio::spawn(async move {
            write_sequence(&mut Compat::new(write), COPIED, 1).await;
        });
        let got = read_sequence(&mut Compat::new(read)).await;
        writer.await.unwrap();
        assert_eq!(server.await.unwrap(), COPIED, "the server's copy count");
        assert_eq!(got, COPIED, "bytes echoed back");
        assert_settled("the copy").await;
    });
    assert_eq!(
        support::fd_names_settled(&fds),
        fds,
        "descriptors after the copy"
    );
}

#[test]
fn unix_streams_copy_too() {
    let _serial = support::serial();
    support::watchdog("unix_streams_copy_too", Duration::from_secs(120));
    const TOTAL: u64 = 8 * 1024 * 1024;
    ringio::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut a, mut b) = (Compat::new(a), Compat::new(b));
        let writer = ringio::spawn(async move {
            write_sequence(&mut a, TOTAL, 2).await;
            a
        });
        assert_eq!(read_sequence(&mut b).await, TOTAL);
        drop(writer.await.unwrap());
        assert_settled("the unix copy").await;
    });
}

/// The numbered byte stream in small random chunks, often pausing so that reads end right
/// around their deadlines (as tests/io_cancel_race.rs); returns how many bytes it sent.
fn sequenced_writer(w: TcpStream, chunks: usize) -> ringio::JoinHandle<u64> {
    ringio::spawn(async move {
        w.set_nodelay(true).unwrap();
        let mut rng = Rng::new(7);
        let mut offset = 0u64;
        for _ in 0..chunks {
            let len = 1 + rng.below(64);
            let chunk: Vec<u8> = (offset..offset + len)
                .map(|i| (i % PERIOD as u64) as u8)
                .collect();
            w.write_all(chunk).await.0.unwrap();
            offset += len;
            match rng.below(4) {
                0 => ringio::time::sleep(Duration::from_micros(rng.below(50))).await,
                1 => ringio::yield_now().await,
                _ => {}
            }
        }
        w.shutdown(std::net::Shutdown::Write).unwrap();
        offset
    })
}

const DROPS: usize = 10_000;

/// Each of 10,000 reads through the Compat is dropped or completes at a random point:
/// a `read` future raced against a 0–50 µs timer, a `read` polled once and dropped, or
/// the whole Compat unwrapped (`into_inner`) mid-read and a new one made. Every byte must
/// come once and in order; nothing stays in flight, no pool buffer stays held, no freed
/// buffer is written afterwards, no descriptor leaks.
#[test]
fn dropped_reads_lose_no_byte() {
    let _serial = support::serial();
    support::watchdog("dropped_reads_lose_no_byte", Duration::from_secs(180));
    let fds = support::fd_names_settled(&[]);
    let watch = support::alloc::watch();
    ringio::run(async {
        let pattern = pattern();
        let (w, r) = support::tcp_pair().await;
        let writer = sequenced_writer(w, DROPS);
        let mut compat = Compat::new(r);
        let mut rng = Rng::new(11);
        let mut buf = [0u8; 64];
        let mut got = 0u64;
        let (mut completed, mut timed_out, mut dropped, mut rewrapped) = (0, 0, 0, 0);
        for _ in 0..DROPS {
            // Small reads, so bytes are often left over in a held pool buffer.
            let len = 1 + rng.below(64) as usize;
            match rng.below(8) {
                // One poll, then the read future is dropped (its receive stays in the
                // Compat); or, mid-read, back to the stream and into a new Compat (the
                // receive in flight is cancelled, the bytes held go to the stream).
                k @ (0 | 1) => {
                    let first = support::poll_noop(pin!(compat.read(&mut buf[..len])));
                    match first {
                        Poll::Ready(n) => {
                            // Bytes the Compat already held: the read completed at once.
                            let n = n.unwrap();
                            check(&pattern, &buf[..n], got);
                            got += n as u64;
                            completed += 1;
                        }
                        Poll::Pending => dropped += 1,
                    }
                    if k == 1 {
                        if rng.below(2) == 0 {
                            ringio::yield_now().await; // the receive reaches the kernel
                        }
                        compat = Compat::new(compat.into_inner());
                        rewrapped += 1;
                    }
                }
                _ => {
                    let wait = Duration::from_micros(rng.below(51));
                    match timeout(wait, compat.read(&mut buf[..len])).await {
                        Ok(n) => {
                            let n = n.unwrap();
                            check(&pattern, &buf[..n], got);
                            got += n as u64;
                            completed += 1;
                            if n == 0 {
                                break;
                            }
                        }
                        Err(_) => timed_out += 1,
                    }
                }
            }
        }
        let mut rest = Vec::new();
        compat.read_to_end(&mut rest).await.unwrap();
        check(&pattern, &rest, got);
        got += rest.len() as u64;
        let sent = writer.await.unwrap();
        assert_eq!(got, sent, "bytes lost or duplicated");
        eprintln!(
            "{completed} reads completed, {timed_out} timed out, {dropped} dropped after one \
             poll, {rewrapped} unwrapped mid-read; {got} bytes"
        );
        assert!(completed > 0 && timed_out > 0, "the race never happened");
        drop(compat);
        assert_settled("the dropped reads").await;
    });
    let watched = watch.verify("dropped compat reads");
    eprintln!("{watched} frees went through the quarantine");
    assert_eq!(
        support::fd_names_settled(&fds),
        fds,
        "descriptors after the race"
    );
}

#[test]
fn shutdown_sends_fin_after_the_last_byte() {
    let _serial = support::serial();
    ringio::run(async {
        let (client, server) = support::tcp_pair().await;
        let mut client = Compat::new(client);
        client.write_all(b"last words").await.unwrap();
        client.shutdown().await.unwrap();
        let (res, buf) = server.read_exact(vec![0u8; 10]).await;
        res.unwrap();
        assert_eq!(buf, b"last words");
        let (res, _) = server.read(vec![0u8; 16]).await;
        assert_eq!(res.unwrap(), 0, "the peer reads EOF after shutdown");
        // The read side stays open: a half-closed stream still reads.
        server.write_all(b"reply").await.0.unwrap();
        let mut reply = [0u8; 5];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"reply");
    });
}

#[test]
fn a_write_half_shuts_down_with_its_send_in_flight_finished() {
    let _serial = support::serial();
    ringio::run(async {
        let (client, server) = support::tcp_pair().await;
        let (_read, write) = client.into_split();
        let mut write = Compat::new(write);
        // Start a send and leave it pending: shutdown must finish it before the FIN.
        let data = vec![9u8; 1000];
        let poll = write.write(&data);
        let _ = support::poll_noop(pin!(poll));
        write.shutdown().await.unwrap();
        let mut got = Vec::new();
        loop {
            let (res, buf) = server.read(Vec::with_capacity(4096)).await;
            if res.unwrap() == 0 {
                break;
            }
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, data, "the send in flight went out before the FIN");
    });
}

/// A reset peer (SO_LINGER 0, then close) fails a read waiting in the kernel and the
/// writes after it, with errors rather than a hang.
#[test]
fn a_peer_reset_is_an_error_not_a_hang() {
    let _serial = support::serial();
    support::watchdog(
        "a_peer_reset_is_an_error_not_a_hang",
        Duration::from_secs(30),
    );
    ringio::run(async {
        let (client, server) = support::tcp_pair().await;
        let mut client = Compat::new(client);
        let reset = ringio::spawn(async move {
            ringio::time::sleep(Duration::from_millis(20)).await;
            server.set_linger(Some(Duration::ZERO)).unwrap();
            drop(server);
        });
        let mut buf = [0u8; 16];
        let res = timeout(Duration::from_secs(5), client.read(&mut buf))
            .await
            .expect("a read of a reset connection must end, not hang");
        let e = res.expect_err("a reset is an error");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
        reset.await.unwrap();
        let res = timeout(Duration::from_secs(5), client.write_all(b"anyone?"))
            .await
            .expect("a write to a reset connection must end, not hang");
        assert!(res.is_err(), "a write to a reset peer fails");
    });
}

/// 1-byte reads walk one pool buffer: the Compat holds it (one pool buffer in use)
/// until its last byte is read, then gives it back.
#[test]
fn one_byte_reads_walk_a_pool_buffer() {
    let _serial = support::serial();
    ringio::run(async {
        let pattern = pattern();
        let (client, server) = support::tcp_pair().await;
        let mut compat = Compat::new(client);
        const SENT: usize = 3000; // less than one pool buffer (4 KiB by default)
        server.write_all(pattern[..SENT].to_vec()).await.0.unwrap();
        // Wait until every byte is in the socket, so one receive takes them all.
        ringio::time::sleep(Duration::from_millis(20)).await;
        let base = ringio::metrics().pool_in_use;
        let mut got = Vec::new();
        for i in 0..SENT {
            let mut byte = [0u8; 1];
            let mut rb = ReadBuf::new(&mut byte);
            let res = std::future::poll_fn(|cx| Pin::new(&mut compat).poll_read(cx, &mut rb));
            res.await.unwrap();
            assert_eq!(rb.filled().len(), 1);
            got.push(byte[0]);
            if i + 1 < SENT {
                assert_eq!(ringio::metrics().pool_in_use, base + 1, "held across reads");
            }
        }
        check(&pattern, &got, 0);
        assert_eq!(
            ringio::metrics().pool_in_use,
            base,
            "given back after the last byte"
        );
        // AsyncBufRead hands out the same bytes without a copy.
        server
            .write_all(b"line one\nline two\n".to_vec())
            .await
            .0
            .unwrap();
        let mut line = String::new();
        compat.read_line(&mut line).await.unwrap();
        assert_eq!(line, "line one\n");
        line.clear();
        compat.read_line(&mut line).await.unwrap();
        assert_eq!(line, "line two\n");
    });
}

/// `into_inner` hands the bytes a Compat received but the caller did not read back to
/// the stream, whose next read returns them first.
#[test]
fn into_inner_hands_unread_bytes_back() {
    let _serial = support::serial();
    ringio::run(async {
        let (client, server) = support::tcp_pair().await;
        server
            .write_all(b"0123456789abcdef".to_vec())
            .await
            .0
            .unwrap();
        ringio::time::sleep(Duration::from_millis(20)).await;
        let mut compat = Compat::new(client);
        let mut first = [0u8; 4];
        compat.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"0123");
        let client = compat.into_inner();
        server.write_all(b"ghij".to_vec()).await.0.unwrap();
        let (res, rest) = timeout(Duration::from_secs(5), client.read_exact(vec![0u8; 16]))
            .await
            .expect("the unread bytes come back to the stream");
        res.unwrap();
        assert_eq!(rest, b"456789abcdefghij");
        assert_settled("into_inner").await;
    });
}

/// Fills the peer's receive window so a send stays in flight; returns the bytes written.
async fn fill_until_pending<W: AsyncWrite + Unpin>(w: &mut W, chunk: &[u8]) -> usize {
    let mut written = 0;
    loop {
        match timeout(Duration::from_millis(50), w.write(chunk)).await {
            Ok(n) => written += n.unwrap(),
            Err(_) => return written,
        }
    }
}

/// A write is reported once the kernel took it: a write future dropped while its send
/// waits leaves that send in flight, a flush waits for it, and the next write of the same
/// data reports its count instead of sending the bytes twice. Data changed between the
/// polls of a write is refused.
#[test]
fn writes_are_reported_once_and_never_sent_twice() {
    let _serial = support::serial();
    support::watchdog("writes_are_reported_once", Duration::from_secs(60));
    ringio::run(async {
        let (client, server) = support::tcp_pair().await;
        let mut compat = Compat::new(client);
        let chunk = vec![1u8; 64 * 1024];
        // The peer does not read: sends stop being taken, the last one stays in flight
        // (its write future was dropped by the timeout).
        let written = fill_until_pending(&mut compat, &chunk).await;
        assert!(written > 0);
        let reader = ringio::spawn(async move {
            let mut total = 0usize;
            loop {
                let (res, buf) = server.read(Vec::with_capacity(64 * 1024)).await;
                match res.unwrap() {
                    0 => return total,
                    _ => {
                        assert!(buf.iter().all(|&b| b == 1 || b == 2), "unexpected bytes");
                        total += buf.iter().filter(|&&b| b == 1).count();
                    }
                }
            }
        });
        // Different data now: the send in flight took bytes of the old data, so the
        // write is refused rather than reporting a count of bytes it did not write.
        compat.flush().await.unwrap();
        let other = vec![2u8; 64 * 1024];
        let e = compat.write(&other).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
        // The error reported that send; the next write starts afresh.
        let n = compat.write(&other).await.unwrap();
        assert!(n > 0);
        compat.shutdown().await.unwrap();
        let ones = reader.await.unwrap();
        assert!(
            ones > written && ones <= written + chunk.len(),
            "the dropped write's send went out once: {ones} bytes of it after {written} \
             reported"
        );
    });
}

/// The retry a caller makes after `Pending` (same data) gets the count of the send it
/// started, and the bytes arrive once.
#[test]
fn a_retried_write_reports_the_send_it_started() {
    let _serial = support::serial();
    ringio::run(async {
        let (client, server) = support::tcp_pair().await;
        let mut compat = Compat::new(client);
        let data = b"exactly once".to_vec();
        let mut cx = Context::from_waker(Waker::noop());
        let first = Pin::new(&mut compat).poll_write(&mut cx, &data);
        let n = match first {
            Poll::Ready(n) => n.unwrap(),
            Poll::Pending => std::future::poll_fn(|cx| Pin::new(&mut compat).poll_write(cx, &data))
                .await
                .unwrap(),
        };
        assert_eq!(n, data.len());
        compat.shutdown().await.unwrap();
        let mut got = Vec::new();
        loop {
            let (res, buf) = server.read(Vec::with_capacity(64)).await;
            if res.unwrap() == 0 {
                break;
            }
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, data);
    });
}

/// A Compat dropped with a read and a write in flight leaks no descriptor, op or buffer.
#[test]
fn dropping_a_compat_mid_flight_leaks_nothing() {
    let _serial = support::serial();
    let fds = support::fd_names_settled(&[]);
    ringio::run(async {
        for _ in 0..200 {
            let (client, server) = support::tcp_pair().await;
            let mut compat = Compat::new(client);
            let mut buf = [0u8; 8];
            let _ = support::poll_noop(pin!(compat.read(&mut buf)));
            let big = vec![0u8; 256 * 1024];
            let _ = support::poll_noop(pin!(compat.write(&big)));
            ringio::yield_now().await;
            drop(compat);
            drop(server);
        }
        assert_settled("dropped compats").await;
    });
    assert_eq!(
        support::fd_names_settled(&fds),
        fds,
        "descriptors after the drops"
    );
}

/// A Compat unwrapped while its receive is in flight, over and over, against a peer
/// thread that writes without pause: each dropped receive may still take bytes after its
/// cancel, and the next Compat's receive must not overtake it (the stream waits for the
/// dropped one to end before queueing another). Every byte once and in order.
#[test]
fn unwrapped_mid_read_loses_no_byte() {
    let _serial = support::serial();
    support::watchdog("unwrapped_mid_read_loses_no_byte", Duration::from_secs(120));
    const TOTAL: usize = 200_000;
    let fds = support::fd_names_settled(&[]);
    ringio::run(async {
        let pattern = pattern();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let mut peer = std::net::TcpStream::connect(addr).unwrap();
            peer.set_nodelay(true).unwrap();
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % PERIOD) as u8).collect();
            // Small chunks with pauses, so receives are in the kernel, waiting, when their
            // Compat is unwrapped.
            let mut rng = Rng::new(19);
            let mut rest = &data[..];
            while !rest.is_empty() {
                let len = (1 + rng.below(128) as usize).min(rest.len());
                peer.write_all(&rest[..len]).unwrap();
                rest = &rest[len..];
                if rng.below(2) == 0 {
                    std::thread::sleep(Duration::from_micros(rng.below(50)));
                }
            }
        });
        let (stream, _) = listener.accept().await.unwrap();
        let mut stream = Some(stream);
        let mut rng = Rng::new(17);
        let mut buf = [0u8; 1500];
        let (mut got, mut unwrapped) = (0u64, 0);
        while got < TOTAL as u64 {
            let mut compat = Compat::new(stream.take().unwrap());
            // A zero wait drops the receive in the turn that queued it, so the next
            // Compat's receive would go to the kernel in the same submission.
            let wait = match rng.below(4) {
                0 => Duration::ZERO,
                _ => Duration::from_micros(rng.below(51)),
            };
            let len = 1 + rng.below(256) as usize;
            match timeout(wait, compat.read(&mut buf[..len])).await {
                Ok(n) => {
                    let n = n.unwrap();
                    assert!(n > 0, "unexpected EOF after {got} bytes");
                    check(&pattern, &buf[..n], got);
                    got += n as u64;
                }
                Err(_) => unwrapped += 1,
            }
            // Held bytes and the receive in flight go back to the stream.
            stream = Some(compat.into_inner());
        }
        writer.join().unwrap();
        assert_eq!(got, TOTAL as u64);
        assert!(unwrapped > 0, "no receive was ever dropped in flight");
        eprintln!("{unwrapped} of the reads unwrapped mid-read");
        // The listener keeps an accept in flight; it goes too.
        drop((stream, listener));
        assert_settled("the unwrapped reads").await;
    });
    assert_eq!(
        support::fd_names_settled(&fds),
        fds,
        "descriptors after the race"
    );
}
