//! `BufWriter` on loopback: writes wait in the buffer until `flush`, large writes go
//! straight through, `shutdown` flushes first.

mod support;

use ringio::io::{AsyncReadExt, BufWriter};

use std::time::Duration;

#[test]
fn small_writes_wait_for_flush() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        let mut w = BufWriter::with_capacity(64, c);
        w.write(b"one ").await.unwrap();
        w.write(b"two").await.unwrap();
        assert_eq!(w.buffer(), b"one two");
        // Nothing was sent yet.
        let res = ringio::time::timeout(Duration::from_millis(20), s.read(vec![0u8; 16])).await;
        assert!(res.is_err(), "peer saw bytes before flush");
        w.flush().await.unwrap();
        assert!(w.buffer().is_empty());
        let (res, buf) = s.read_exact(vec![0u8; 7]).await;
        res.unwrap();
        assert_eq!(buf, b"one two");
        // Flushing an empty buffer is a no-op.
        w.flush().await.unwrap();
    });
}

#[test]
fn full_buffer_flushes_and_large_writes_go_through() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        let mut w = BufWriter::with_capacity(16, c);
        w.write(b"0123456789").await.unwrap();
        w.write(b"abcdefghij").await.unwrap(); // does not fit: the first ten go out
        assert_eq!(w.buffer(), b"abcdefghij");
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        w.write(&big).await.unwrap(); // flushes, then sends `big` itself
        assert!(w.buffer().is_empty());
        w.write(b"tail").await.unwrap();
        w.shutdown().await.unwrap();
        let (n, got) = s.read_to_end(Vec::new()).await;
        assert_eq!(n.unwrap(), 10 + 10 + big.len() + 4);
        assert_eq!(&got[..20], b"0123456789abcdefghij");
        assert_eq!(&got[20..20 + big.len()], &big[..]);
        assert_eq!(&got[20 + big.len()..], b"tail");
    });
}

#[test]
fn into_parts_returns_unsent_bytes() {
    ringio::run(async {
        let (c, _s) = support::tcp_pair().await;
        let mut w = BufWriter::new(c);
        w.write(b"pending").await.unwrap();
        let (_c, unsent) = w.into_parts();
        assert_eq!(unsent, b"pending");
    });
}
