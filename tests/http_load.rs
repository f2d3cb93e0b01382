#![cfg(all(feature = "hyper", feature = "tokio-io"))]
// `examples/common/rlimit.rs` comes in twice, through `support` and through the echo
// code the generator reuses; the two copies are the same stateless functions.
#![allow(clippy::duplicate_mod)]
//! The `http_load` example's generator (`examples/common/http_load.rs`) in process:
//! against the `hyper_server` example's service and against tiny raw HTTP servers that
//! stall, close, answer chunked, answer garbage or never answer, each on its own ringio
//! runtime thread on loopback. Then its response parser and its JSON merge alone.

#[path = "../examples/common/http.rs"]
mod http;
#[path = "../examples/common/http_load.rs"]
mod http_load;
mod support;

use http_load::Summary;
use http_load::parse::{ParseError, Response, parse_response};
use http_load::report::{ErrorKind, merge_files};
use ringio::net::{TcpListener, TcpStream};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A server on its own thread and runtime; dropping it stops the runtime, which closes
/// the listener and every connection.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How often the server's accept loop looks at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(10);

/// Serves each accepted connection with `serve` until dropped.
fn server<F, Fut>(serve: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        ringio::run(async move {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
            tx.send(listener.local_addr().expect("bound address"))
                .expect("the test waits for the address");
            let mut incoming = listener.incoming();
            while !flag.load(Ordering::Relaxed) {
                if let Ok(Some(Ok((stream, _)))) =
                    ringio::time::timeout(STOP_POLL, incoming.next()).await
                {
                    ringio::spawn(serve(stream));
                }
            }
        })
    });
    let addr = rx.recv().expect("the server thread sends its address");
    Server {
        addr,
        stop,
        thread: Some(thread),
    }
}

/// The `hyper_server` example's service.
fn hyper_server() -> Server {
    server(|stream| async move {
        let _ = http::serve_connection(stream, None, http::HEADER_TIMEOUT).await;
    })
}

/// What a raw server does with request number `n` (counted over every connection).
#[derive(Clone)]
struct Reply {
    bytes: &'static [u8],
    /// Wait this long before answering.
    delay: Duration,
    /// Close the connection after answering.
    close: bool,
    /// Never answer.
    silent: bool,
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

fn reply(bytes: &'static [u8]) -> Reply {
    Reply {
        bytes,
        delay: Duration::ZERO,
        close: false,
        silent: false,
    }
}

/// The length of the first whole request in `buf` (head and Content-Length body).
fn request_len(buf: &[u8]) -> Option<usize> {
    let head = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
    let body = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |n| n.trim().parse::<usize>().expect("a number"));
    (buf.len() >= head + body).then_some(head + body)
}

/// A hand-written HTTP server: reads requests and answers each as `answer` says.
fn raw_server(answer: impl Fn(u64) -> Reply + Send + Sync + 'static) -> Server {
    let answer = Arc::new(answer);
    let count = Arc::new(AtomicU64::new(0));
    server(move |stream| {
        let (answer, count) = (answer.clone(), count.clone());
        async move {
            let mut buf = Vec::new();
            loop {
                while let Some(n) = request_len(&buf) {
                    buf.drain(..n);
                    let r = answer(count.fetch_add(1, Ordering::Relaxed));
                    if r.silent {
                        ringio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    if !r.delay.is_zero() {
                        ringio::time::sleep(r.delay).await;
                    }
                    if stream.write_all(r.bytes).await.0.is_err() || r.close {
                        return;
                    }
                }
                match stream.read(vec![0u8; 4096]).await {
                    (Ok(0), _) | (Err(_), _) => return,
                    (Ok(n), got) => buf.extend_from_slice(&got[..n]),
                }
            }
        }
    })
}

/// Runs the generator with `flags` (besides `--addr` and `--quiet`).
fn load(addr: SocketAddr, flags: &[&str]) -> Summary {
    let addr = addr.to_string();
    let mut argv = vec!["http_load", "--quiet", "--addr", &addr];
    argv.extend_from_slice(flags);
    let args = <http_load::Args as clap::Parser>::try_parse_from(argv).expect("valid flags");
    let cfg = args.config().expect("a valid configuration");
    let s = http_load::run_load(&cfg).expect("the load runs");
    eprint!("{}", s.to_text());
    s
}

#[test]
fn closed_loop_post_echo_verifies_every_body_and_leaves_no_fd() {
    let _serial = support::serial();
    let srv = hyper_server();
    let before = support::fd_names_settled(&[]);
    let s = load(
        srv.addr,
        &[
            "--method",
            "POST",
            "--path",
            "/echo",
            "--body-size",
            "3000",
            "--verify",
            "--conns",
            "20",
            "--warmup",
            "300ms",
            "--duration",
            "1",
        ],
    );
    assert!(s.requests > 0);
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    assert_eq!(s.status.get(&200), Some(&s.requests));
    assert_eq!(s.conns_up, 20);
    assert_eq!(s.latency_us.len(), s.requests);
    // Every client socket and the client runtime's descriptors are closed again.
    assert_eq!(support::fd_names_settled(&before), before);
}

#[test]
fn a_fixed_rate_of_2000_per_second_is_met_within_ten_percent() {
    let _serial = support::serial();
    let srv = hyper_server();
    let s = load(
        srv.addr,
        &[
            "--rate",
            "2000",
            "--conns",
            "20",
            "--warmup",
            "500ms",
            "--duration",
            "2",
        ],
    );
    let rps = s.requests as f64 / s.duration_s;
    assert!(
        (rps - 2000.0).abs() < 200.0,
        "offered 2000 req/s, got {rps:.0} ({} in {:.3} s)",
        s.requests,
        s.duration_s
    );
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    assert_eq!(s.send_lag_us.len(), s.requests);
}

#[test]
fn a_server_stall_shows_in_p99_at_a_fixed_rate() {
    let _serial = support::serial();
    // Request 1000 comes about 1 s in (500 ms into the window) and waits 500 ms; its
    // connection's next 250 requests fall due during the stall and are sent late.
    let srv = raw_server(|n| Reply {
        delay: if n == 1000 {
            Duration::from_millis(500)
        } else {
            Duration::ZERO
        },
        ..reply(OK)
    });
    let s = load(
        srv.addr,
        &[
            "--rate",
            "1000",
            "--conns",
            "2",
            "--warmup",
            "500ms",
            "--duration",
            "2",
        ],
    );
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    let l = s.latency();
    assert!(l.max >= 450_000, "the stalled request took {} µs", l.max);
    // Requests due in the stall's first 100 ms waited 400 ms or more: 50 of ~2000 (2.5%).
    assert!(l.p99 >= 400_000, "p99 {} µs hides the 500 ms stall", l.p99);
    assert!(s.behind > 0);
}

#[test]
fn connection_close_responses_reopen_the_connection_without_errors() {
    let _serial = support::serial();
    let srv = raw_server(|_| Reply {
        close: true,
        ..reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    });
    let s = load(
        srv.addr,
        &["--conns", "4", "--warmup", "200ms", "--duration", "1"],
    );
    assert!(s.requests > 0);
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    // One connect per response.
    assert!(s.reconnects >= s.requests, "{} reconnects", s.reconnects);
}

#[test]
fn a_server_that_closes_unannounced_counts_resets_or_eofs_and_reconnects() {
    let _serial = support::serial();
    let srv = raw_server(|_| Reply {
        close: true,
        ..reply(OK)
    });
    let s = load(
        srv.addr,
        &["--conns", "4", "--warmup", "200ms", "--duration", "1"],
    );
    assert!(s.requests > 0);
    let lost = s.errors.get(ErrorKind::Reset) + s.errors.get(ErrorKind::Eof);
    assert!(lost > 0, "{:?}", s.errors);
    assert_eq!(lost, s.errors.total(), "{:?}", s.errors);
    assert!(s.reconnects > 0);
}

#[test]
fn a_malformed_status_line_is_a_parse_error() {
    let _serial = support::serial();
    let srv = raw_server(|_| reply(b"HTTP/1.1 abc\r\n\r\n"));
    let s = load(
        srv.addr,
        &["--conns", "2", "--warmup", "100ms", "--duration", "500ms"],
    );
    assert_eq!(s.requests, 0);
    assert!(s.errors.get(ErrorKind::Parse) > 0, "{:?}", s.errors);
    assert_eq!(s.errors.get(ErrorKind::Parse), s.errors.total());
    assert!(s.reconnects > 0);
}

#[test]
fn chunked_bodies_are_reassembled_and_verified() {
    let _serial = support::serial();
    let srv = raw_server(|_| {
        reply(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 1\r\n\r\n",
        )
    });
    let s = load(
        srv.addr,
        &[
            "--method",
            "POST",
            "--body",
            "hello world",
            "--verify",
            "--conns",
            "4",
            "--warmup",
            "100ms",
            "--duration",
            "500ms",
        ],
    );
    assert!(s.requests > 0);
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    assert_eq!(s.reconnects, 0);
}

#[test]
fn a_response_that_never_comes_is_a_timeout_and_the_connection_is_reopened() {
    let _serial = support::serial();
    // Every third request is never answered.
    let srv = raw_server(|n| Reply {
        silent: n % 3 == 2,
        ..reply(OK)
    });
    let s = load(
        srv.addr,
        &[
            "--conns",
            "2",
            "--timeout-ms",
            "200",
            "--warmup",
            "100ms",
            "--duration",
            "1",
        ],
    );
    assert!(s.requests > 0);
    let timeouts = s.errors.get(ErrorKind::Timeout);
    // Each connection meets a silent request every 200 ms or so: about 5 each in the run.
    assert!(timeouts >= 4, "{:?}", s.errors);
    assert_eq!(timeouts, s.errors.total(), "{:?}", s.errors);
    // Each timeout reopens its connection, but for those that came after the run ended.
    assert!(s.reconnects + 2 >= timeouts, "{} reconnects", s.reconnects);
    assert!(s.latency().max < 200_000);
}

// The response parser alone.

fn parse(buf: &[u8]) -> Result<Option<Response>, ParseError> {
    parse_response(buf, false, false, true)
}

const CHUNKED: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
    HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nServer: x\r\n\r\n\
    5;a=1;b=\"q\"\r\nhello\r\nA \r\n, chunked!\r\n0;last\r\nX-T: 1\r\nX-U: 2\r\n\r\n";
const SECOND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nnah";

#[test]
fn parser_needs_every_byte_and_leaves_the_pipelined_rest() {
    let both = [CHUNKED, SECOND].concat();
    for cut in 0..both.len() {
        let r = parse(&both[..cut]).unwrap();
        if cut < CHUNKED.len() {
            assert_eq!(
                r,
                None,
                "a whole response from {cut} of {} bytes",
                CHUNKED.len()
            );
        } else {
            let r = r.expect("the first response is whole");
            assert_eq!((r.status, r.consumed), (200, CHUNKED.len()));
            assert_eq!(r.body.as_deref(), Some(&b"hello, chunked!"[..]));
            assert_eq!((r.body_len, r.close), (15, false));
        }
    }
    let rest = &both[CHUNKED.len()..];
    let r = parse(rest).unwrap().unwrap();
    assert_eq!((r.status, r.consumed, r.close), (404, SECOND.len(), true));
    assert_eq!(r.body.as_deref(), Some(&b"nah"[..]));
    for cut in 0..SECOND.len() {
        assert_eq!(parse(&rest[..cut]).unwrap(), None);
    }
}

#[test]
fn parser_framing_by_length_close_head_and_no_content() {
    let until_close = b"HTTP/1.1 200 OK\r\n\r\nall of it";
    assert_eq!(parse(until_close).unwrap(), None);
    let r = parse_response(until_close, true, false, true)
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.body.as_deref(), r.close),
        (Some(&b"all of it"[..]), true)
    );
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
    let r = parse_response(head, false, true, false).unwrap().unwrap();
    assert_eq!((r.consumed, r.body_len, r.body), (head.len(), 0, None));
    let r = parse(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap().unwrap();
    assert_eq!(r.body_len, 0);
    let r = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(r.close, "HTTP/1.0 without keep-alive closes");
    let r =
        parse(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nConnection: keep-alive, Close\r\n\r\nx")
            .unwrap()
            .unwrap();
    assert!(r.close);
}

#[test]
fn parser_rejects_broken_responses() {
    for bad in [
        &b"HTTP/1.1 abc\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"garbage\r\n\r\n",
    ] {
        assert!(
            parse(bad).is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let huge = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 70_000]].concat();
    assert!(parse(&huge).is_err(), "a head past the cap");
}

// The JSON summaries and their merge.

fn summary(first_us: u64, n: u64, status: u16, kind: ErrorKind) -> Summary {
    let mut s = Summary {
        conns: 10,
        conns_up: 10,
        duration_s: 2.0,
        requests: n,
        rps: n as f64 / 2.0,
        behind: 3,
        backend: "io_uring".into(),
        ..Summary::default()
    };
    s.status.insert(status, n);
    s.errors.add(kind);
    for us in first_us..first_us + n {
        s.latency_us.record(us).unwrap();
        s.send_lag_us.record(7).unwrap();
    }
    s
}

#[test]
fn json_summaries_round_trip_and_merge_into_exact_percentiles() {
    let _serial = support::serial(); // it opens files: fd counts elsewhere must not see them
    let a = summary(1, 500, 200, ErrorKind::Timeout);
    let b = summary(501, 500, 503, ErrorKind::Status);
    let v = a.to_json();
    for key in [
        "requests",
        "rps",
        "errors",
        "errors_by_kind",
        "status",
        "p50_us",
        "p90_us",
        "p99_us",
        "p999_us",
        "max_us",
        "behind",
        "conns",
        "duration_s",
        "histogram",
    ] {
        assert!(v.get(key).is_some(), "no {key} in {v}");
    }
    assert_eq!(v["histogram"]["unit"], "us");
    assert_eq!(v["histogram"]["sigfigs"], 3);
    assert_eq!(v["errors_by_kind"]["timeout"], 1);
    assert_eq!(v["status"]["200"], 500);
    let back = Summary::from_json(&v).unwrap();
    assert_eq!(back.latency(), a.latency());
    assert_eq!(
        (back.requests, back.errors, back.status),
        (500, a.errors, a.status.clone())
    );

    let dir = std::env::temp_dir().join(format!("http_load_merge_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths = [dir.join("a.json"), dir.join("b.json")];
    std::fs::write(&paths[0], a.to_json().to_string()).unwrap();
    std::fs::write(&paths[1], b.to_json().to_string()).unwrap();
    let m = merge_files(&paths).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((m.requests, m.conns, m.behind), (1000, 20, 6));
    assert_eq!(m.rps, 500.0);
    assert_eq!(m.duration_s, 2.0);
    assert_eq!(m.errors.total(), 2);
    assert_eq!(m.errors.get(ErrorKind::Status), 1);
    assert_eq!((m.status[&200], m.status[&503]), (500, 500));
    // Percentiles of all 1,000 requests together (1..=1000 µs), not of either half.
    let l = m.latency();
    assert_eq!((l.p50, l.p99, l.max), (500, 990, 1000));
    assert_eq!(m.send_lag_us.len(), 1000);
    let v = m.to_json();
    assert_eq!(v["requests"], 1000);
    assert_eq!(v["p99_us"], 990);

    assert!(merge_files(&[dir.join("missing.json")]).is_err());
    assert!(Summary::from_json(&serde_json::json!({"requests": 1})).is_err());
}

#[test]
fn more_connections_than_descriptors_says_how_many_fit() {
    assert!(http_load::args::check_fd_limit(10, 1).is_ok());
    let msg = http_load::args::check_fd_limit(usize::MAX / 2, 1).unwrap_err();
    assert!(msg.contains("connections fit"), "{msg}");
}
