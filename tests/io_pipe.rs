//! `io::pipe()`: 10 MB through a pipe checked byte by byte, end of stream when the writer
//! goes, `BrokenPipe` (not SIGPIPE) when the reader goes, reads dropped in flight losing
//! no byte, and descriptors back to baseline.

mod support;

use ringio::io::{AsyncRead, AsyncReadExt, AsyncWrite, PipeReader, pipe};
use std::io::{ErrorKind, Write};
use std::time::Duration;
use support::check_fds;
use support::sequence::{self, pattern};
use support::serial;
use support::{Rng, assert_settled, fd_names, poll_noop, poll_once_and_drop};
use support::{timeout_read_race, watchdog};

#[test]
fn ten_megabytes_arrive_in_order_byte_for_byte() {
    let _serial = serial();
    watchdog("10 MB through a pipe", Duration::from_secs(120));
    const TOTAL: u64 = 10 << 20;
    let before = fd_names();
    ringio::run(async {
        let (reader, writer) = pipe().unwrap();
        let pattern = std::rc::Rc::new(pattern());
        let p = pattern.clone();
        let write = ringio::spawn(async move {
            for range in sequence::chunks(TOTAL, 7) {
                let (res, _) = writer.write_all(p[range].to_vec()).await;
                res.unwrap();
            }
            // The writer drops here: the reader's end of stream.
        });
        let mut rng = Rng::new(11);
        let mut at = 0u64;
        loop {
            // Buffers from 1 byte to twice a pipe's capacity.
            let buf = Vec::with_capacity(1 + rng.below(128 << 10) as usize);
            let (res, buf) = reader.read(buf).await;
            let n = res.unwrap();
            if n == 0 {
                break;
            }
            sequence::check(&pattern, &buf[..n], at);
            at += n as u64;
        }
        assert_eq!(at, TOTAL, "end of stream before every byte came");
        write.await.unwrap();
        assert_settled("10 MB through a pipe").await;
    });
    check_fds(&before, "10 MB through a pipe");
}

#[test]
fn dropping_or_shutting_down_the_writer_gives_end_of_stream() {
    let _serial = serial();
    watchdog("pipe EOF", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        // Dropped while a read waits for it.
        let (reader, writer) = pipe().unwrap();
        let read = ringio::spawn(async move { reader.read(vec![0u8; 16]).await.0 });
        ringio::yield_now().await;
        drop(writer);
        assert_eq!(read.await.unwrap().unwrap(), 0);

        // Shut down after a last write: the bytes, then EOF; writing again is refused.
        let (reader, writer) = pipe().unwrap();
        writer.write_all(b"last words").await.0.unwrap();
        AsyncWrite::shutdown(&writer).await.unwrap();
        let (n, buf) = reader.read_to_end(Vec::new()).await;
        assert_eq!((n.unwrap(), &buf[..]), (10, &b"last words"[..]));
        let err = writer.write(b"more").await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        assert!(err.to_string().contains("shut down"), "{err}");
    });
    check_fds(&before, "pipe EOF");
}

#[test]
fn writing_after_the_reader_is_dropped_gives_broken_pipe() {
    let _serial = serial();
    watchdog("pipe EPIPE", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        let (reader, writer) = pipe().unwrap();
        drop(reader);
        let err = writer.write(b"anyone?").await.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");

        // A writer blocked on a full pipe gets it too when the reader goes.
        let (reader, writer) = pipe().unwrap();
        let fill = ringio::spawn(async move { writer.write_all(vec![1u8; 1 << 20]).await.0 });
        ringio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !fill.is_finished(),
            "a 1 MiB write filled a pipe with no reader"
        );
        drop(reader);
        let err = fill.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
    });
    // Still alive: SIGPIPE did not end the process.
    check_fds(&before, "pipe EPIPE");
}

#[test]
fn reads_dropped_in_flight_lose_no_byte() {
    let _serial = serial();
    watchdog("pipe read race", Duration::from_secs(120));
    let before = fd_names();
    ringio::run(async {
        // Reads racing short timeouts against a writer on another thread.
        let (r, w) = std::io::pipe().unwrap();
        let reader = PipeReader::from(r);
        timeout_read_race(&reader, w, 1 << 20).await;

        // A read polled once and dropped: its op stays with the reader and its bytes
        // come with the next read.
        let (reader, writer) = pipe().unwrap();
        for _ in 0..3 {
            poll_once_and_drop(reader.read(vec![0u8; 64]));
        }
        ringio::yield_now().await;
        writer.write_all(b"kept").await.0.unwrap();
        let (res, buf) = reader.read(vec![0u8; 64]).await;
        assert_eq!(&buf[..res.unwrap()], b"kept");

        // A read the kernel completed but whose future was dropped before it saw the
        // result: the bytes are the next read's.
        let (r, w) = std::io::pipe().unwrap();
        let caught = PipeReader::from(r);
        let mut read = Box::pin(caught.read(vec![0u8; 64]));
        assert!(poll_noop(read.as_mut()).is_pending());
        ringio::yield_now().await; // the read reaches the kernel
        (&w).write_all(b"caught").unwrap();
        for _ in 0..3 {
            ringio::yield_now().await; // its completion is reaped
        }
        drop(read);
        let next = ringio::time::timeout(Duration::from_secs(5), caught.read(vec![0u8; 64]));
        let (res, buf) = next.await.expect("the dropped read's bytes were lost");
        assert_eq!(&buf[..res.unwrap()], b"caught");
        drop((caught, w));

        // A reader dropped with a read in flight cancels it and closes its descriptor.
        poll_once_and_drop(reader.read(vec![0u8; 64]));
        ringio::yield_now().await;
        drop(reader);
        drop(writer);
        assert_settled("pipe read race").await;
    });
    check_fds(&before, "pipe read race");
}

#[test]
fn the_stream_tools_work_on_a_pipe() {
    let _serial = serial();
    watchdog("pipe tools", Duration::from_secs(30));
    ringio::run(async {
        let (r1, w1) = pipe().unwrap();
        let (r2, w2) = pipe().unwrap();
        let feed = ringio::spawn(async move {
            w1.write_all(b"alpha\nbeta\n".to_vec()).await.0.unwrap();
        });
        // copy r1 -> w2, then read lines from r2.
        let pump = ringio::spawn(async move {
            let n = ringio::io::copy(&r1, &w2).await.unwrap();
            drop(w2);
            n
        });
        let mut lines = ringio::io::BufReader::new(r2);
        let mut line = String::new();
        lines.read_line(&mut line).await.unwrap();
        assert_eq!(line, "alpha\n");
        feed.await.unwrap();
        assert_eq!(pump.await.unwrap(), 11);
    });
}

/// `AsyncRead` is implemented for the reader (`&dyn`-free generic use).
async fn first_byte(r: &impl AsyncRead) -> u8 {
    let (res, buf) = r.read(Vec::with_capacity(1)).await;
    res.unwrap();
    buf[0]
}

#[test]
fn a_reader_is_an_async_read() {
    let _serial = serial();
    ringio::run(async {
        let (r, w) = pipe().unwrap();
        w.write(b"z").await.0.unwrap();
        assert_eq!(first_byte(&r).await, b'z');
    });
}
