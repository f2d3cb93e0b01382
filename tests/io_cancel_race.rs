//! A read dropped by a timeout never loses bytes: 10,000 `timeout(0–50 µs, read)` races
//! against a writer sending a numbered byte stream, every byte accounted for in order;
//! the same through `BufReader::read_line`.

mod support;

use ringio::io::BufReader;

use ringio::time::timeout;
use std::time::Duration;
use support::Rng;

const ITERATIONS: usize = 10_000;
/// The byte at stream offset `i` is `i % PERIOD`: a prime, so a lost or repeated chunk of
/// any size below the total shifts the sequence and shows.
const PERIOD: u64 = 251;

#[test]
fn timed_out_reads_lose_no_byte() {
    support::watchdog("timed_out_reads_lose_no_byte", Duration::from_secs(120));
    ringio::run(async {
        let (w, r) = support::tcp_pair().await;
        w.set_nodelay(true).unwrap();
        let writer = ringio::spawn(async move {
            let mut rng = Rng::new(7);
            let mut offset = 0u64;
            // Small chunks, often paused, so reads complete right around their deadlines.
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
        });

        let mut rng = Rng::new(11);
        let mut got = 0u64;
        let (mut completed, mut timed_out) = (0, 0);
        let mut buf = Vec::with_capacity(32);
        for _ in 0..ITERATIONS {
            buf.clear();
            let wait = Duration::from_micros(rng.below(51));
            match timeout(wait, r.read(std::mem::take(&mut buf))).await {
                Ok((res, b)) => {
                    let n = res.unwrap();
                    check(&b[..n], got);
                    got += n as u64;
                    buf = b;
                    completed += 1;
                    if n == 0 {
                        break;
                    }
                }
                // The read and its buffer were dropped; its bytes must come back later.
                Err(_) => {
                    buf = Vec::with_capacity(32);
                    timed_out += 1;
                }
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
        assert_eq!(got, sent, "bytes lost or duplicated");
        eprintln!("{completed} reads completed, {timed_out} timed out, {got} bytes");
        assert!(timed_out > 0 && completed > 0, "the race never happened");
    });
}

fn check(bytes: &[u8], offset: u64) {
    for (i, &b) in bytes.iter().enumerate() {
        let at = offset + i as u64;
        assert_eq!(b, (at % PERIOD) as u8, "wrong byte at offset {at}");
    }
}

#[test]
fn timed_out_read_lines_lose_no_line() {
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
        let mut next = 0;
        let mut timed_out = 0;
        while next < LINES {
            let mut line = String::new();
            let wait = Duration::from_micros(rng.below(51));
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
