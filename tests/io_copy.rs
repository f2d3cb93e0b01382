//! `io::copy` and the stream traits: 8 MiB through a TCP relay, a Unix pair, the
//! extension loops.

mod support;

use ringio::io::{self, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ringio::net::UnixStream;
use std::rc::Rc;

const EIGHT_MIB: usize = 8 * 1024 * 1024;

fn pattern(len: usize) -> Vec<u8> {
    // A period of 251 (prime) so a dropped, repeated or shifted chunk shows.
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn copy_8_mib_through_a_relay() {
    ringio::run(async {
        let (src_w, src_r) = support::tcp_pair().await;
        let (dst_w, dst_r) = support::tcp_pair().await;
        let data = pattern(EIGHT_MIB);
        let sender = ringio::spawn(async move {
            let (res, _) = AsyncWriteExt::write_all(&src_w, data).await;
            res.unwrap();
            AsyncWrite::shutdown(&src_w).await.unwrap();
        });
        let relay = ringio::spawn(async move {
            let n = io::copy(&src_r, &dst_w).await.unwrap();
            AsyncWrite::shutdown(&dst_w).await.unwrap();
            n
        });
        let (n, got) = dst_r.read_to_end(Vec::new()).await;
        assert_eq!(n.unwrap(), EIGHT_MIB);
        assert!(got == pattern(EIGHT_MIB), "copied bytes differ");
        assert_eq!(relay.await.unwrap(), EIGHT_MIB as u64);
        sender.await.unwrap();
    });
}

#[test]
fn copy_over_unix_pair_and_split_halves() {
    ringio::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (c, d) = support::tcp_pair().await;
        let (_c_read, c_write) = c.into_split();
        let (d_read, _d_write) = d.into_split();
        let data = pattern(1 << 20);
        let expect = data.clone();
        ringio::spawn(async move {
            AsyncWriteExt::write_all(&a, data).await.0.unwrap();
            AsyncWrite::shutdown(&a).await.unwrap();
        });
        let relay = ringio::spawn(async move {
            let n = io::copy(&b, &c_write).await.unwrap();
            AsyncWrite::shutdown(&c_write).await.unwrap();
            n
        });
        let (n, got) = AsyncReadExt::read_to_end(&d_read, Vec::new()).await;
        assert_eq!(n.unwrap(), 1 << 20);
        assert!(got == expect);
        assert_eq!(relay.await.unwrap(), 1 << 20);
    });
}

/// Generic code over the traits, used through `&T` and `Rc<T>`.
async fn echo_once(r: &impl AsyncRead, w: &impl AsyncWrite) -> usize {
    let (res, buf) = r.read(Vec::with_capacity(64)).await;
    let n = res.unwrap();
    w.write_all(buf).await.0.unwrap();
    n
}

#[test]
fn traits_work_through_references_and_rc() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        let s = Rc::new(s);
        AsyncWriteExt::write_all(&c, b"ping").await.0.unwrap();
        assert_eq!(echo_once(&s, &s.clone()).await, 4);
        let (res, buf) = AsyncReadExt::read_exact(&&c, vec![0u8; 4]).await;
        res.unwrap();
        assert_eq!(buf, b"ping");
        // read_exact at end of stream keeps the partial bytes in the buffer.
        AsyncWriteExt::write_all(&c, b"ab").await.0.unwrap();
        AsyncWrite::shutdown(&c).await.unwrap();
        let (res, buf) = AsyncReadExt::read_exact(&s, Vec::with_capacity(5)).await;
        assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(buf, b"ab");
    });
}
