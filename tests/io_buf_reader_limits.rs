//! `BufReader` against a hostile peer: the default 64 KiB line limit, memory that stays
//! O(limit) for a 100 MB line, the recovery after an overrun (the next call returns the
//! next whole line, never a piece of the long one, however the bytes are chunked), the
//! buffer shrinking back after a big item, and `without_limit`.
//!
//! The counting allocator sees the whole process, so every test here takes
//! `support::serial()`.

mod support;

use ringio::buf::{BufResult, IoBufMut};
use ringio::io::{AsyncRead, BufReader, DEFAULT_LINE_LIMIT, LimitOverrun};
use ringio::net::TcpListener;
use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr};
use std::thread::JoinHandle;
use std::time::Duration;
use support::alloc;
use support::rng::Rng;

#[global_allocator]
static ALLOC: alloc::Guard = alloc::Guard;

/// Bytes one peer write sends: on the peer thread's stack, so the peer allocates nothing
/// per write and the heap counts are the reader's.
const CHUNK: usize = 64 * 1024;

/// A std peer on its own thread: connects to `addr`, sends `filler` bytes of `x` without
/// a newline, then `tail`, then closes its side.
fn peer(addr: SocketAddr, filler: usize, tail: &'static [u8]) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let chunk = [b'x'; CHUNK];
        let mut left = filler;
        while left > 0 {
            let n = left.min(CHUNK);
            // The reader may stop reading (and close) once it has seen enough.
            if s.write_all(&chunk[..n]).is_err() {
                return;
            }
            left -= n;
        }
        let _ = s.write_all(tail);
        let _ = s.shutdown(Shutdown::Write);
    })
}

#[test]
fn hundred_mb_line_is_refused_in_bounded_memory() {
    let _serial = support::serial();
    support::watchdog("hundred_mb_line", Duration::from_secs(300));
    const LINE: usize = 100 << 20;
    // O(limit): the limit, one read, `Vec` doubling, the runtime's own small allocations.
    const PEAK_BOUND: isize = 1 << 20;
    let writer = ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let writer = peer(listener.local_addr().unwrap(), LINE, b"\nnext line\n");
        let (s, _) = listener.accept().await.unwrap();
        let mut r = BufReader::new(s);
        assert_eq!(r.limit(), Some(DEFAULT_LINE_LIMIT));
        let base = alloc::live_bytes();
        alloc::reset_peak();

        let mut line = String::new();
        let err = r.read_line(&mut line).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        let overrun = err.downcast::<LimitOverrun>().unwrap();
        assert_eq!(overrun.limit(), 64 * 1024);
        assert!(overrun.rest_skipped(), "the newline was 100 MB away");
        assert!(line.is_empty());
        // The rest of the line is dropped on the way to the next one.
        assert_eq!(r.read_line(&mut line).await.unwrap(), 10);
        assert_eq!(line, "next line\n");
        assert_eq!(r.read_line(&mut line).await.unwrap(), 0, "then the end");

        let peak = alloc::peak_bytes() - base;
        eprintln!("peak heap over the baseline for a 100 MB line: {peak} bytes");
        assert!(
            peak < PEAK_BOUND,
            "a 100 MB line made the reader hold {peak} bytes at peak (bound {PEAK_BOUND})"
        );
        writer
    });
    writer.join().unwrap();
}

/// An in-memory stream that hands out `data` in chunks of random size (1..=`max`).
struct Chunked {
    data: Vec<u8>,
    pos: Cell<usize>,
    rng: RefCell<Rng>,
    max: u64,
}

impl AsyncRead for Chunked {
    async fn read<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        let pos = self.pos.get();
        let want = 1 + self.rng.borrow_mut().below(self.max) as usize;
        let n = want.min(buf.bytes_total()).min(self.data.len() - pos);
        // SAFETY: `buf` has room for `bytes_total()` bytes from its pointer (IoBufMut) and
        // `n` is at most that; the source is `n` bytes of `data`, a separate allocation.
        // The `n` bytes are written before `set_init` marks them.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data[pos..].as_ptr(), buf.stable_mut_ptr(), n);
            buf.set_init(n);
        }
        self.pos.set(pos + n);
        ringio::yield_now().await;
        (Ok(n), buf)
    }
}

/// What a reader loop saw: a whole line, or one overrun.
#[derive(Debug, PartialEq)]
enum Item {
    Line(String),
    Overrun,
}

#[test]
fn fragments_never_pass_as_lines_under_random_chunking() {
    let _serial = support::serial();
    const LIMIT: usize = 32;
    ringio::run(async {
        for seed in 1..=300u64 {
            let mut rng = Rng::new(seed);
            let (mut data, mut expect) = (Vec::new(), Vec::new());
            for i in 0..40 {
                // Short lines (numbered, so a fragment cannot look like one), lines at the
                // limit exactly, and long lines up to four limits.
                let len = match rng.below(4) {
                    0 => LIMIT,
                    1 => LIMIT + 1 + rng.below(3 * LIMIT as u64) as usize,
                    _ => 1 + rng.below(LIMIT as u64) as usize,
                };
                let head = format!("#{i}:");
                let body = "y".repeat(len.saturating_sub(head.len() + 1));
                let line = format!("{head}{body}\n");
                data.extend_from_slice(line.as_bytes());
                expect.push(if line.len() > LIMIT {
                    Item::Overrun
                } else {
                    Item::Line(line)
                });
            }
            // A long line cut off by the end of the stream: one overrun, then the end.
            data.extend_from_slice(&[b'z'; 3 * LIMIT]);
            expect.push(Item::Overrun);

            let stream = Chunked {
                data,
                pos: Cell::new(0),
                rng: RefCell::new(Rng::new(seed.wrapping_mul(7919))),
                max: 1 + rng.below(2 * LIMIT as u64),
            };
            let capacity = 1 + rng.below(16) as usize;
            let mut r = BufReader::with_capacity(capacity, stream).with_limit(LIMIT);
            let mut seen = Vec::new();
            loop {
                let mut line = String::new();
                match r.read_line(&mut line).await {
                    Ok(0) => break,
                    Ok(n) => {
                        assert_eq!(n, line.len());
                        seen.push(Item::Line(line));
                    }
                    Err(e) => {
                        let overrun = e.downcast::<LimitOverrun>().unwrap();
                        assert!(overrun.buffered() >= LIMIT, "seed {seed}: {overrun:?}");
                        seen.push(Item::Overrun);
                    }
                }
            }
            assert_eq!(seen, expect, "seed {seed}, capacity {capacity}");
        }
    });
}

/// Live heap bytes over `base`, with the reader still alive.
fn held_over(base: isize) -> isize {
    alloc::live_bytes() - base
}

#[test]
fn buffer_shrinks_after_a_big_item() {
    let _serial = support::serial();
    support::watchdog("buffer_shrinks", Duration::from_secs(240));
    // No limit, and a limit above the item: neither keeps what the item needed.
    for limited in [false, true] {
        let writer = ringio::run(shrinks_after_big_items(limited));
        writer.join().unwrap();
    }
}

/// Reads a 20 MB line, a short one, 20 MB by `read_exact`, then a short line, checking
/// what the reader holds after each big item.
async fn shrinks_after_big_items(limited: bool) -> JoinHandle<()> {
    const BIG: usize = 20 << 20;
    // The reader's usual buffers (a few hundred KiB at most) and the runtime's own.
    const HELD_BOUND: isize = 2 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let chunk = [b'x'; CHUNK];
        for tail in [&b"\nsmall\n"[..], b"after\n"] {
            for _ in 0..BIG / CHUNK {
                s.write_all(&chunk).unwrap();
            }
            s.write_all(tail).unwrap();
        }
    });
    let (s, _) = listener.accept().await.unwrap();
    let base = alloc::live_bytes();
    let r = BufReader::new(s);
    let mut r = if limited {
        r.with_limit(2 * BIG)
    } else {
        r.without_limit()
    };

    let mut line = String::new();
    assert_eq!(r.read_line(&mut line).await.unwrap(), BIG + 1);
    drop(line);
    let held = held_over(base);
    eprintln!("held after a 20 MB line: {held} bytes");
    assert!(
        held < HELD_BOUND,
        "after a 20 MB line the reader still holds {held} bytes"
    );
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    assert_eq!(line, "small\n");

    let big = r.read_exact(BIG).await.unwrap();
    assert!(big.iter().all(|&b| b == b'x'));
    drop(big);
    let held = held_over(base);
    eprintln!("held after a 20 MB read_exact: {held} bytes");
    assert!(
        held < HELD_BOUND,
        "after a 20 MB read_exact the reader still holds {held} bytes"
    );
    line.clear();
    r.read_line(&mut line).await.unwrap();
    assert_eq!(line, "after\n");
    writer
}

#[test]
fn without_limit_reads_a_1mb_line_the_default_refuses() {
    let _serial = support::serial();
    support::watchdog("without_limit", Duration::from_secs(120));
    const LINE: usize = 1 << 20;
    let writers = ringio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();

        let first = peer(addr, LINE, b"\nok\n");
        let (s, _) = listener.accept().await.unwrap();
        let mut r = BufReader::new(s).without_limit();
        assert_eq!(r.limit(), None);
        let mut line = String::new();
        assert_eq!(r.read_line(&mut line).await.unwrap(), LINE + 1);
        assert!(line[..LINE].bytes().all(|b| b == b'x') && line.ends_with('\n'));

        // The same line with the default limit: refused, then the next line whole.
        let second = peer(addr, LINE, b"\nok\n");
        let (s, _) = listener.accept().await.unwrap();
        let mut r = BufReader::new(s);
        let err = r.read_line(&mut String::new()).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("65536-byte limit"), "{msg}");
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "ok\n");

        // A `read_until` chunk obeys the same limit; `with_limit` raises it.
        let third = peer(addr, LINE, b"\0ok\0");
        let (s, _) = listener.accept().await.unwrap();
        let mut r = BufReader::new(s).with_limit(LINE + 1);
        let mut out = Vec::new();
        assert_eq!(r.read_until(0, &mut out).await.unwrap(), LINE + 1);
        [first, second, third]
    });
    for w in writers {
        w.join().unwrap();
    }
}
