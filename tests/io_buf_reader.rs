//! `BufReader` on loopback: lines across chunk boundaries, the limit, EOF with partial
//! data, and a `read_line` dropped mid-line.

mod support;

use ringio::io::{BufReader, IncompleteRead, LimitOverrun};
use ringio::net::TcpStream;
use std::io::ErrorKind;
use std::time::Duration;

/// Sends `data` one byte per write with a short sleep between, then closes.
fn trickle(stream: TcpStream, data: &'static [u8], gap: Duration) {
    ringio::spawn(async move {
        stream.set_nodelay(true).unwrap();
        for &b in data {
            stream.write_all(vec![b]).await.0.unwrap();
            ringio::time::sleep(gap).await;
        }
    });
}

#[test]
fn read_line_across_chunk_boundaries() {
    support::watchdog("read_line_across_chunk_boundaries", Duration::from_secs(30));
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        let text = b"alpha\nbeta is longer than the buffer\n\n\xce\xbb line\nlast";
        trickle(c, text, Duration::from_micros(200));
        // A 4-byte buffer: most lines span several reads and several buffer fills.
        let mut r = BufReader::with_capacity(4, s);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = r.read_line(&mut line).await.unwrap();
            if n == 0 {
                break;
            }
            assert_eq!(n, line.len());
            lines.push(line);
        }
        assert_eq!(
            lines,
            [
                "alpha\n",
                "beta is longer than the buffer\n",
                "\n",
                "\u{3bb} line\n",
                "last"
            ]
        );
        // End of stream stays end of stream.
        assert_eq!(r.read_line(&mut String::new()).await.unwrap(), 0);
    });
}

#[test]
fn read_until_and_read_exact_mix() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        trickle(c, b"k1=v1;k2=v2;\x00\x05hello", Duration::from_micros(50));
        let mut r = BufReader::with_capacity(3, s);
        let mut out = Vec::new();
        assert_eq!(r.read_until(b';', &mut out).await.unwrap(), 6);
        assert_eq!(r.read_until(b';', &mut out).await.unwrap(), 6);
        assert_eq!(out, b"k1=v1;k2=v2;");
        let len = r.read_exact(2).await.unwrap();
        assert_eq!(len, [0, 5]);
        assert_eq!(r.read_exact(5).await.unwrap(), b"hello");
        assert_eq!(r.read_exact(0).await.unwrap(), b"");
    });
}

#[test]
fn limit_overrun_drops_the_line() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        c.write_all(b"12345678\n123456789\nabcdefghijklmnop\nnext\ntail")
            .await
            .0
            .unwrap();
        drop(c);
        let mut r = BufReader::new(s).with_limit(9);
        let mut line = String::new();
        // Exactly the limit, delimiter included: accepted.
        assert_eq!(r.read_line(&mut line).await.unwrap(), 9);
        assert_eq!(line, "12345678\n");

        // One byte over, delimiter already buffered: the line goes, whole.
        line.clear();
        let err = r.read_line(&mut line).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        let overrun = err.downcast::<LimitOverrun>().unwrap();
        assert_eq!((overrun.limit(), overrun.buffered()), (9, 10));
        assert!(!overrun.rest_skipped());
        assert!(line.is_empty(), "the caller's string is untouched");
        assert!(r.buffer().starts_with(b"abc"), "only that line was dropped");

        // The next one is over the limit too: the call after it returns the line that
        // follows, never the long line's tail.
        let mut out = Vec::new();
        let err = r.read_until(b'\n', &mut out).await.unwrap_err();
        let overrun = err.downcast::<LimitOverrun>().unwrap();
        assert!(overrun.buffered() >= 9);
        assert!(out.is_empty());
        assert_eq!(r.read_until(b'\n', &mut out).await.unwrap(), 5);
        assert_eq!(out, b"next\n");
        // The stream has ended: the last bytes without a delimiter are IncompleteRead.
        let err = r.read_until(b'\n', &mut out).await.unwrap_err();
        let short = err.downcast::<IncompleteRead>().unwrap();
        assert_eq!(short.partial(), b"tail");
    });
}

#[test]
fn eof_keeps_partial_data() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        c.write_all(b"line\npartial").await.0.unwrap();
        drop(c);
        let mut r = BufReader::new(s);
        let mut out = Vec::new();
        assert_eq!(r.read_until(b'\n', &mut out).await.unwrap(), 5);
        let err = r.read_exact(100).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        let msg = err.to_string();
        assert!(msg.contains("7 of 100"), "{msg}");
        let short = err.downcast::<IncompleteRead>().unwrap();
        assert_eq!(short.expected(), Some(100));
        assert_eq!(short.into_partial(), b"partial");
        // Nothing left: clean end of stream for read_until, empty partial for read_exact.
        assert_eq!(r.read_until(b'\n', &mut out).await.unwrap(), 0);
        let err = r.read_exact(1).await.unwrap_err();
        let short = err.downcast::<IncompleteRead>().unwrap();
        assert!(short.partial().is_empty());
    });
}

#[test]
fn read_until_eof_without_delimiter_is_incomplete() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        c.write_all(b"no end").await.0.unwrap();
        drop(c);
        let mut r = BufReader::new(s);
        let mut out = b"kept".to_vec();
        let err = r.read_until(b'\n', &mut out).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(out, b"kept", "the caller's buffer is untouched");
        let short = err.downcast::<IncompleteRead>().unwrap();
        assert_eq!((short.partial(), short.expected()), (&b"no end"[..], None));
    });
}

#[test]
fn invalid_utf8_line_is_consumed_with_an_error() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        c.write_all(b"\xff\xfe\nok\n").await.0.unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        let err = r.read_line(&mut line).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(line.is_empty());
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "ok\n");
    });
}

/// A `read_line` dropped by a timeout while half a line is buffered loses nothing.
#[test]
fn dropped_read_line_keeps_the_partial_line() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        let mut r = BufReader::new(s);
        c.write_all(b"hel").await.0.unwrap();
        let mut line = String::new();
        let res = ringio::time::timeout(Duration::from_millis(20), r.read_line(&mut line)).await;
        assert!(res.is_err(), "no newline yet: the read times out");
        assert!(line.is_empty());
        assert_eq!(r.buffer(), b"hel", "the partial line stays in the reader");
        c.write_all(b"lo\n").await.0.unwrap();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "hello\n");
    });
}

#[test]
fn fill_buf_consume_and_into_parts() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        c.write_all(b"abcdef").await.0.unwrap();
        let mut r = BufReader::new(s);
        assert_eq!(r.fill_buf().await.unwrap(), b"abcdef");
        r.consume(2);
        r.consume(0);
        assert_eq!(r.buffer(), b"cdef");
        let (_s, rest) = r.into_parts();
        assert_eq!(rest, b"cdef");
    });
}

#[test]
fn large_read_exact_spans_many_reads() {
    ringio::run(async {
        let (c, s) = support::tcp_pair().await;
        let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
        let expect = data.clone();
        ringio::spawn(async move {
            c.write_all(data).await.0.unwrap();
            c.write_all(b"after\n").await.0.unwrap();
        });
        let mut r = BufReader::with_capacity(1024, s);
        assert!(r.read_exact(1 << 20).await.unwrap() == expect);
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "after\n");
    });
}
