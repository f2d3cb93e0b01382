#![cfg(feature = "futures-io")]
//! `Compat` under futures' I/O traits: 100 MB through `futures_util::io::copy` with every
//! byte checked, 10,000 reads dropped at random points losing nothing, FIN on close, a
//! reset peer as an error, 1-byte reads across a pool buffer, receives that find the pool
//! empty falling back to owned buffers.
//!
//! Every test takes `support::serial()`: they count descriptors and pool buffers, and the
//! quarantine allocator is one for the whole process.

mod support;

use futures_io::{AsyncRead, AsyncWrite};
use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use ringio::compat::Compat;
use ringio::net::{TcpListener, TcpStream, UnixStream};
use ringio::time::timeout;
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;
use support::sequence::{self, PERIOD, check, pattern};
use support::{Rng, assert_settled};

#[global_allocator]
static ALLOC: support::alloc::Guard = support::alloc::Guard;

async fn write_sequence<W: AsyncWrite + Unpin>(w: &mut W, total: u64, seed: u64) {
    let pattern = pattern();
    for range in sequence::chunks(total, seed) {
        w.write_all(&pattern[range]).await.unwrap();
    }
    w.close().await.unwrap();
}

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
fn a_hundred_megabytes_through_futures_copy() {
    let _serial = support::serial();
    support::watchdog(
        "a_hundred_megabytes_through_futures_copy",
        Duration::from_secs(300),
    );
    let fds = support::fd_names_settled(&[]);
    ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ringio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, write) = stream.into_split();
            let (read, mut write) = (Compat::new(read), Compat::new(write));
            // `copy_buf` reads the pool buffers in place (AsyncBufRead): no copy in.
            let copied = futures_util::io::copy_buf(read, &mut write).await.unwrap();
            write.close().await.unwrap();
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
fn unix_read_halves_copy_too() {
    let _serial = support::serial();
    support::watchdog("unix_read_halves_copy_too", Duration::from_secs(120));
    const TOTAL: u64 = 8 * 1024 * 1024;
    ringio::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let mut a = Compat::new(a);
        let writer = ringio::spawn(async move {
            write_sequence(&mut a, TOTAL, 2).await;
            a
        });
        let (read, _write) = b.into_split();
        assert_eq!(read_sequence(&mut Compat::new(read)).await, TOTAL);
        drop(writer.await.unwrap());
        assert_settled("the unix copy").await;
    });
}

/// The numbered byte stream in small random chunks with pauses (as
/// tests/io_cancel_race.rs); returns how many bytes it sent.
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

/// 10,000 reads through a Compat of a read half, each raced against a 0–50 µs timer,
/// polled once and dropped, or cut short by unwrapping the Compat mid-read: every byte
/// once and in order, nothing left in flight or held, no freed buffer written, no
/// descriptor leaked.
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
        let (read, write) = r.into_split();
        let mut compat = Compat::new(read);
        let mut rng = Rng::new(13);
        let mut buf = [0u8; 64];
        let mut got = 0u64;
        let (mut completed, mut timed_out, mut dropped) = (0, 0, 0);
        for _ in 0..DROPS {
            let len = 1 + rng.below(64) as usize;
            match rng.below(8) {
                k @ (0 | 1) => {
                    match support::poll_noop(pin!(compat.read(&mut buf[..len]))) {
                        Poll::Ready(n) => {
                            let n = n.unwrap();
                            check(&pattern, &buf[..n], got);
                            got += n as u64;
                            completed += 1;
                        }
                        Poll::Pending => dropped += 1,
                    }
                    if k == 1 {
                        if rng.below(2) == 0 {
                            ringio::yield_now().await;
                        }
                        compat = Compat::new(compat.into_inner());
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
        assert_eq!(got, writer.await.unwrap(), "bytes lost or duplicated");
        eprintln!("{completed} completed, {timed_out} timed out, {dropped} dropped; {got} bytes");
        assert!(completed > 0 && timed_out > 0, "the race never happened");
        drop((compat, write));
        assert_settled("the dropped reads").await;
    });
    watch.verify("dropped compat reads");
    assert_eq!(
        support::fd_names_settled(&fds),
        fds,
        "descriptors after the race"
    );
}

#[test]
fn close_sends_fin_after_the_last_byte() {
    let _serial = support::serial();
    ringio::run(async {
        let (client, server) = support::tcp_pair().await;
        let (_read, write) = client.into_split();
        let mut write = Compat::new(write);
        write.write_all(b"last words").await.unwrap();
        write.close().await.unwrap();
        let (res, buf) = server.read_exact(vec![0u8; 10]).await;
        res.unwrap();
        assert_eq!(buf, b"last words");
        let (res, _) = server.read(vec![0u8; 16]).await;
        assert_eq!(res.unwrap(), 0, "the peer reads EOF after close");
    });
}

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

#[test]
fn one_byte_reads_walk_a_pool_buffer() {
    let _serial = support::serial();
    ringio::run(async {
        let pattern = pattern();
        let (client, server) = support::tcp_pair().await;
        let mut compat = Compat::new(client);
        const SENT: usize = 3000; // less than one pool buffer (4 KiB by default)
        server.write_all(pattern[..SENT].to_vec()).await.0.unwrap();
        ringio::time::sleep(Duration::from_millis(20)).await;
        let base = ringio::metrics().pool_in_use;
        let mut got = Vec::new();
        for i in 0..SENT {
            let mut byte = [0u8; 1];
            let read = std::future::poll_fn(|cx| Pin::new(&mut compat).poll_read(cx, &mut byte));
            assert_eq!(read.await.unwrap(), 1);
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

/// With every pool buffer held (Compats that read part of one each), another Compat's
/// receive finds the pool empty and falls back to an owned buffer, with the same bytes;
/// the held buffers go back once read.
#[test]
fn an_empty_pool_falls_back_to_owned_buffers() {
    let _serial = support::serial();
    support::watchdog("an_empty_pool_falls_back", Duration::from_secs(60));
    const BUFFERS: usize = 2;
    let rt = ringio::Runtime::builder()
        .workers(1)
        .buffer_pool(BUFFERS as u16, 512)
        .build()
        .unwrap();
    rt.block_on(async {
        let pattern = pattern();
        let mut pairs = Vec::new();
        for _ in 0..BUFFERS + 2 {
            let (client, server) = support::tcp_pair().await;
            server.write_all(pattern[..400].to_vec()).await.0.unwrap();
            pairs.push((Compat::new(client), server));
        }
        ringio::time::sleep(Duration::from_millis(20)).await;
        let mut byte = [0u8; 1];
        // Each Compat reads one byte and keeps the rest of its receive's buffer.
        for (compat, _) in &mut pairs {
            compat.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], 0);
        }
        let m = ringio::metrics();
        assert_eq!(m.pool_in_use, BUFFERS, "every pool buffer held");
        assert!(m.pool_fallbacks > 0, "no receive fell back: {m:?}");
        for (compat, _) in &mut pairs {
            let mut rest = vec![0u8; 399];
            compat.read_exact(&mut rest).await.unwrap();
            check(&pattern, &rest, 1);
        }
        assert_settled("the fallback reads").await;
    });
}
