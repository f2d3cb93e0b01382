//! A read dropped by a timeout never loses bytes: 10,000 `timeout(random 0–50 µs, read)`
//! races against a writer sending a numbered byte stream, for each way of reading (owned
//! buffer, `recv_pooled`, `recv_stream`), every byte accounted for in order and no freed
//! buffer written afterwards (quarantine allocator); the same through
//! `BufReader::read_line`.
//!
//! Every test takes `support::serial()`: the quarantine's corruption count is one for the
//! whole process, and with the tests apart a corrupted block is blamed on the right one.

mod support;

use ringio::io::BufReader;
use ringio::net::TcpStream;

use ringio::time::timeout;
use std::time::Duration;
use support::Rng;

const ITERATIONS: usize = 10_000;

/// The longest timeout a read races, in µs: 50 natively, where a loop turn takes a few
/// µs, so reads complete on both sides of their deadlines. `RINGIO_RACE_MAX_US` stretches
/// it for slower runs (scripts/valgrind.sh: under memcheck a turn takes milliseconds, so
/// every 50 µs timeout expired first and no read ever completed).
fn race_max_us() -> u64 {
    match std::env::var("RINGIO_RACE_MAX_US") {
        Ok(v) => v
            .parse()
            .expect("RINGIO_RACE_MAX_US: a number of microseconds"),
        Err(_) => 50,
    }
}
/// The byte at stream offset `i` is `i % PERIOD`: a prime, so a lost or repeated chunk of
/// any size below the total shifts the sequence and shows.
const PERIOD: u64 = 251;

#[global_allocator]
static ALLOC: support::alloc::Guard = support::alloc::Guard;

/// Sends the numbered byte stream in small random chunks, often pausing so that reads
/// complete right around their deadlines; returns how many bytes it sent.
fn sequenced_writer(w: TcpStream) -> ringio::JoinHandle<u64> {
    ringio::spawn(async move {
        w.set_nodelay(true).unwrap();
        let mut rng = Rng::new(7);
        let mut offset = 0u64;
        for _ in 0..ITERATIONS {
            let len = 1 + rng.below(64) as usize;
            let chunk: Vec<u8> = (offset..offset + len as u64)
                .map(|i| (i % PERIOD) as u8)
                .collect();
            w.write_all(chunk).await.0.unwrap();
            offset += len as u64;
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

/// How each race reads.
#[derive(Clone, Copy, Debug)]
enum ReadKind {
    /// `read` into an owned buffer.
    Owned,
    /// `recv_pooled`: the kernel picks a pool buffer when data arrives.
    Pooled,
    /// The next item of a fresh `recv_stream` (a multishot receive, cancelled with it).
    Stream,
}

/// One read of `kind`; `None` if it did not finish within `wait`.
async fn timed_read(r: &TcpStream, kind: ReadKind, wait: Duration) -> Option<Vec<u8>> {
    match kind {
        ReadKind::Owned => {
            // Spare capacity the kernel fills, never zeroed by us.
            let (res, b) = timeout(wait, r.read(Vec::with_capacity(32))).await.ok()?;
            let n = res.unwrap();
            Some(b[..n].to_vec())
        }
        ReadKind::Pooled => {
            let buf = timeout(wait, r.recv_pooled()).await.ok()?.unwrap();
            Some(buf.to_vec())
        }
        ReadKind::Stream => {
            let mut stream = r.recv_stream();
            match timeout(wait, stream.next()).await.ok()? {
                Some(buf) => Some(buf.unwrap().to_vec()),
                None => Some(Vec::new()),
            }
        }
    }
}

/// 10,000 reads of `kind`, each racing a random 0–50 µs timeout, against the sequenced
/// writer: every byte must arrive once and in order, and no buffer freed by a dropped read
/// may have been written afterwards.
fn race(kind: ReadKind) {
    ringio::run(async {
        let (w, r) = support::tcp_pair().await;
        let writer = sequenced_writer(w);
        let mut rng = Rng::new(11);
        let max_us = race_max_us();
        let mut got = 0u64;
        let (mut completed, mut timed_out) = (0, 0);
        for _ in 0..ITERATIONS {
            let wait = Duration::from_micros(rng.below(max_us + 1));
            match timed_read(&r, kind, wait).await {
                Some(bytes) => {
                    check(&bytes, got);
                    got += bytes.len() as u64;
                    completed += 1;
                    if bytes.is_empty() {
                        break;
                    }
                }
                // The read and its buffer were dropped; its bytes must come back later.
                None => timed_out += 1,
            }
        }
        // Drain the rest without timeouts.
        loop {
            let (res, b) = r.read(Vec::with_capacity(4096)).await;
            let n = res.unwrap();
            if n == 0 {
                break;
            }
            check(&b[..n], got);
            got += n as u64;
        }
        let sent = writer.await.unwrap();
        assert_eq!(got, sent, "{kind:?}: bytes lost or duplicated");
        eprintln!("{kind:?}: {completed} reads completed, {timed_out} timed out, {got} bytes");
        assert!(timed_out > 0 && completed > 0, "the race never happened");
        support::assert_settled(&format!("{kind:?}")).await;
    });
}

#[test]
fn timed_out_reads_lose_no_byte() {
    let _serial = support::serial();
    support::watchdog("timed_out_reads_lose_no_byte", Duration::from_secs(120));
    let watch = support::alloc::watch();
    race(ReadKind::Owned);
    race(ReadKind::Pooled);
    race(ReadKind::Stream);
    let watched = watch.verify("timed-out reads");
    eprintln!("{watched} frees went through the quarantine");
}

fn check(bytes: &[u8], offset: u64) {
    for (i, &b) in bytes.iter().enumerate() {
        let at = offset + i as u64;
        assert_eq!(b, (at % PERIOD) as u8, "wrong byte at offset {at}");
    }
}

#[test]
fn timed_out_read_lines_lose_no_line() {
    let _serial = support::serial();
    support::watchdog(
        "timed_out_read_lines_lose_no_line",
        Duration::from_secs(120),
    );
    const LINES: u64 = 3_000;
    ringio::run(async {
        let (w, r) = support::tcp_pair().await;
        w.set_nodelay(true).unwrap();
        ringio::spawn(async move {
            let mut rng = Rng::new(3);
            let text: String = (0..LINES).map(|i| format!("line {i:05}\n")).collect();
            let mut rest = text.as_bytes();
            // Cut the text anywhere, so lines arrive in pieces.
            while !rest.is_empty() {
                let len = (1 + rng.below(16) as usize).min(rest.len());
                w.write_all(rest[..len].to_vec()).await.0.unwrap();
                rest = &rest[len..];
                if rng.below(2) == 0 {
                    ringio::time::sleep(Duration::from_micros(rng.below(50))).await;
                }
            }
        });
        let mut r = BufReader::with_capacity(8, r);
        let mut rng = Rng::new(5);
        let max_us = race_max_us();
        let mut next = 0;
        let mut timed_out = 0;
        while next < LINES {
            let mut line = String::new();
            let wait = Duration::from_micros(rng.below(max_us + 1));
            match timeout(wait, r.read_line(&mut line)).await {
                Ok(res) => {
                    res.unwrap();
                    assert_eq!(line, format!("line {next:05}\n"));
                    next += 1;
                }
                Err(_) => {
                    assert!(line.is_empty(), "a dropped read_line touched the string");
                    timed_out += 1;
                }
            }
        }
        assert_eq!(r.read_line(&mut String::new()).await.unwrap(), 0);
        assert!(timed_out > 0, "the race never happened");
    });
}
