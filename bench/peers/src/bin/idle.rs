//! Holds N idle connections to an echo server, for measuring the server's memory per
//! connection. Each connection does one 1-byte echo first, so the server has really
//! accepted it and started serving it; then all sit idle for `--hold` seconds and close.
//! With `--http` each connection sends one `GET /` instead and reads the whole answer
//! (`Hello, world!`), so an HTTP server holds them as idle keep-alive connections.
//!
//! `peer-idle --addr 127.0.0.1:7000 --conns 10000 --hold 5 [--http]`
//!
//! Prints `holding N connections` on stdout once all of them are up. Exit code 1 if any
//! connection failed.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const USAGE: &str = "peer-idle [--addr 127.0.0.1:7000] [--conns 10000] [--hold 5] [--http]";
/// How long one connect or echo may take before the holder gives up on it.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The request of `--http`, and how its answer ends (`GET /` of hyper_server and peers).
const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n";
const HTTP_BODY: &[u8] = b"Hello, world!";
/// An answer longer than this is not the one expected.
const MAX_HTTP_ANSWER: usize = 1024;

/// What each connection sends first, and how its answer is checked.
#[derive(Clone, Copy)]
enum Probe {
    /// One byte, echoed.
    Echo,
    /// One `GET /`, answered with `Hello, world!`.
    Http,
}

fn main() {
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().expect("a literal address");
    let mut conns: usize = 10_000;
    let mut hold: u64 = 5;
    let mut probe = Probe::Echo;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => addr = ringio_peers::parse_value(&flag, it.next(), USAGE),
            "--conns" => conns = ringio_peers::parse_value(&flag, it.next(), USAGE),
            "--hold" => hold = ringio_peers::parse_value(&flag, it.next(), USAGE),
            "--http" => probe = Probe::Http,
            _ => ringio_peers::bad_usage(&format!("unknown flag {flag}"), USAGE),
        }
    }
    match ringio_peers::raise_fd_limit() {
        Ok(limit) if (limit as usize) < conns + 32 => {
            eprintln!(
                "RLIMIT_NOFILE is {limit}: at most {} connections fit",
                limit - 32
            );
            std::process::exit(2);
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: could not raise RLIMIT_NOFILE: {e}"),
    }
    match hold_idle(addr, conns, Duration::from_secs(hold), probe) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("idle holder: {e}");
            std::process::exit(1);
        }
    }
}

fn hold_idle(addr: SocketAddr, conns: usize, hold: Duration, probe: Probe) -> io::Result<()> {
    let mut streams = Vec::with_capacity(conns);
    for i in 0..conns {
        let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .map_err(|e| io::Error::new(e.kind(), format!("connect #{i}: {e}")))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        match probe {
            Probe::Echo => s.write_all(b"x")?,
            Probe::Http => s.write_all(HTTP_REQUEST)?,
        }
        streams.push(s);
    }
    // Replies are read after every request went out, so the server sees all 10,000 at once.
    for (i, s) in streams.iter_mut().enumerate() {
        match probe {
            Probe::Echo => {
                let mut b = [0u8; 1];
                s.read_exact(&mut b)
                    .map_err(|e| io::Error::new(e.kind(), format!("echo on #{i}: {e}")))?;
                if b[0] != b'x' {
                    return Err(io::Error::other(format!("echo on #{i} came back wrong")));
                }
            }
            Probe::Http => read_http_answer(s)
                .map_err(|e| io::Error::new(e.kind(), format!("GET / on #{i}: {e}")))?,
        }
    }
    let mut out = io::stdout().lock();
    writeln!(out, "holding {conns} connections")?;
    out.flush()?;
    drop(out);
    std::thread::sleep(hold);
    Ok(())
}

/// Reads one answer to `GET /`: up to and including its `Hello, world!` body.
fn read_http_answer(s: &mut TcpStream) -> io::Result<()> {
    let mut got = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !got.ends_with(HTTP_BODY) {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before the whole answer",
            ));
        }
        got.extend_from_slice(&chunk[..n]);
        if got.len() > MAX_HTTP_ANSWER {
            return Err(io::Error::other("answer is not `Hello, world!`"));
        }
    }
    if !got.starts_with(b"HTTP/1.1 200 ") {
        return Err(io::Error::other("answer is not a 200"));
    }
    Ok(())
}
