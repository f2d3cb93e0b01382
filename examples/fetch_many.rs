//! asyncio's "fetch many URLs with gather" pattern on ringio: a tiny HTTP/1.1 server on
//! loopback, then `--count` concurrent GETs through `task::gather`, at most `--limit` in
//! flight at once thanks to a `sync::Semaphore`.
//!
//! Shows `BufReader::read_line` / `read_exact` parsing a request line, headers and a
//! `Content-Length` body, `task::gather` keeping every result (asyncio's
//! `return_exceptions=True`), and a semaphore bounding concurrency. Prints the status
//! counts, the peak number of requests in flight and the total time.
//!
//! ```text
//! cargo run --release --example fetch_many -- --count 1000 --limit 100
//! ```
//!
//! Flags: `--count` (requests, default 1000), `--limit` (in flight, default 100),
//! `--missing-every` (every Nth path does not exist and gets a 404; 0 = none, default 0).

#[path = "common/rlimit.rs"]
mod rlimit;

use clap::Parser;
use ringio::io::{AsyncWriteExt, BufReader};
use ringio::net::{TcpListener, TcpStream};
use ringio::sync::Semaphore;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Longest request or status line or header the server and client accept: well above
/// anything this example sends, far below what a runaway peer could make us buffer.
const MAX_LINE: usize = 8 * 1024;
/// Most headers accepted in one message, for the same reason.
const MAX_HEADERS: usize = 64;
/// How long one fetch may take before it counts as a timeout.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Fetch many paths from a local HTTP/1.1 server, concurrently but bounded.
#[derive(Parser, Debug)]
#[command(about = "asyncio-style fetch-many: gather + Semaphore against a local HTTP server")]
struct Args {
    /// How many paths to fetch.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// How many fetches may be in flight at once (the semaphore's permits).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Every Nth path is missing and answered with 404 (0: none).
    #[arg(long, default_value_t = 0)]
    missing_every: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.limit == 0 {
        eprintln!("--limit must be at least 1");
        return ExitCode::FAILURE;
    }
    // Each fetch holds a socket at both ends; make sure `--limit` of them fit.
    let _ = rlimit::raise_nofile_limit();
    ringio::run(async move {
        match fetch_all(&args).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("fetch_many: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Starts the server, fetches every path, prints the summary; `Ok(false)` if some fetch
/// failed.
async fn fetch_all(args: &Args) -> io::Result<bool> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let missing_every = args.missing_every;
    ringio::spawn(serve(listener, missing_every));
    println!(
        "server on http://{addr}; fetching {} paths, at most {} at once",
        args.count, args.limit
    );

    let sem = Semaphore::new(args.limit);
    let in_flight = Cell::new(0usize);
    let peak = Cell::new(0usize);
    let start = Instant::now();
    let results = ringio::task::gather((0..args.count).map(|n| {
        let (sem, in_flight, peak) = (&sem, &in_flight, &peak);
        async move {
            let _permit = sem.acquire().await;
            in_flight.set(in_flight.get() + 1);
            peak.set(peak.get().max(in_flight.get()));
            let res = ringio::time::timeout(FETCH_TIMEOUT, fetch(addr, n)).await;
            in_flight.set(in_flight.get() - 1);
            res.unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "fetch timed out")))
        }
    }))
    .await;
    let elapsed = start.elapsed();

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = 0;
    for (n, res) in results.iter().enumerate() {
        let key = match res {
            Ok(status) => status.to_string(),
            Err(e) => {
                if failures < 3 {
                    eprintln!("GET /{n}: {e}");
                }
                failures += 1;
                format!("error ({:?})", e.kind())
            }
        };
        *counts.entry(key).or_default() += 1;
    }
    for (status, count) in &counts {
        println!("  {status}: {count}");
    }
    println!(
        "{} fetches in {:.1} ms ({:.0} per second), peak {} in flight (limit {})",
        results.len(),
        elapsed.as_secs_f64() * 1e3,
        results.len() as f64 / elapsed.as_secs_f64(),
        peak.get(),
        args.limit
    );
    Ok(failures == 0)
}

/// GET /n on a fresh connection; returns the status code once the body is read and
/// checked.
async fn fetch(addr: SocketAddr, n: usize) -> io::Result<u16> {
    let stream = TcpStream::connect(addr).await?;
    let request = format!("GET /{n} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.into_bytes()).await.0?;
    let mut reader = BufReader::new(stream).with_limit(MAX_LINE);

    let mut status_line = String::new();
    reader.read_line(&mut status_line).await?;
    let status = parse_status_line(&status_line)?;
    let headers = read_headers(&mut reader).await?;
    let len = content_length(&headers)?;
    let body = reader.read_exact(len).await?;
    if status == 200 && body != body_for(n).as_bytes() {
        return Err(invalid(format!("wrong body for /{n}")));
    }
    Ok(status)
}

/// Serves until the runtime stops: one task per connection.
async fn serve(listener: TcpListener, missing_every: usize) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                ringio::spawn(async move {
                    if let Err(e) = serve_conn(stream, missing_every).await {
                        eprintln!("server: {e}");
                    }
                });
            }
            Err(e) => eprintln!("server: accept: {e}"),
        }
    }
}

/// Answers requests on one connection until the client closes or asks to.
async fn serve_conn(stream: TcpStream, missing_every: usize) -> io::Result<()> {
    let mut reader = BufReader::new(stream).with_limit(MAX_LINE);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(()); // the client closed between requests
        }
        let headers = read_headers(&mut reader).await?;
        // A GET has no body, but skip one if sent so the next request parses.
        if let Ok(len) = content_length(&headers) {
            reader.read_exact(len).await?;
        }
        let (status, reason, body) = match parse_request_line(&request_line) {
            Some(("GET", path)) => match path.strip_prefix('/').map(str::parse::<usize>) {
                Some(Ok(n)) if missing_every == 0 || (n + 1) % missing_every != 0 => {
                    (200, "OK", body_for(n))
                }
                _ => (404, "Not Found", "not found\n".to_string()),
            },
            Some(_) => (405, "Method Not Allowed", "GET only\n".to_string()),
            None => (400, "Bad Request", "bad request line\n".to_string()),
        };
        let close = status == 400
            || headers.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
            });
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" },
        );
        // BufReader passes writes through to the stream it wraps.
        reader.write_all(response.into_bytes()).await.0?;
        if close {
            return Ok(());
        }
    }
}

/// `GET /path HTTP/1.1` -> `("GET", "/path")`.
fn parse_request_line(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.trim_end_matches(['\r', '\n']).split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && version.starts_with("HTTP/1.")).then_some((method, target))
}

/// `HTTP/1.1 200 OK` -> 200.
fn parse_status_line(line: &str) -> io::Result<u16> {
    let mut parts = line.splitn(3, ' ');
    match (parts.next(), parts.next().map(str::parse)) {
        (Some(v), Some(Ok(code))) if v.starts_with("HTTP/1.") => Ok(code),
        _ => Err(invalid(format!("bad status line {line:?}"))),
    }
}

/// Reads `Name: value` lines up to the empty line that ends the header block.
async fn read_headers(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed inside the headers",
            ));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok(headers);
        }
        if headers.len() == MAX_HEADERS {
            return Err(invalid(format!("more than {MAX_HEADERS} headers")));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

fn content_length(headers: &[(String, String)]) -> io::Result<usize> {
    let (_, value) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .ok_or_else(|| invalid("response without Content-Length".to_string()))?;
    value
        .parse()
        .map_err(|_| invalid(format!("bad Content-Length {value:?}")))
}

fn body_for(n: usize) -> String {
    format!("hello from /{n}\n")
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
