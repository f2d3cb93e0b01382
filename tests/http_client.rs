#![cfg(feature = "rustls")]
//! `ringio::http::Client`, the per-core pooled HTTP/1.1 client, against the
//! `hyper_server` example's service (`examples/common/http.rs`) in process: keep-alive
//! reuse under gather + Semaphore, the per-host cap, idle expiry, servers that close
//! connections, HTTPS, refused connections, and requests dropped at random points.

#[path = "../examples/common/http.rs"]
mod http;
mod support;

use http_body_util::BodyExt;
use hyper::StatusCode;
use ringio::http::{Client, ErrorKind};
use ringio::net::TcpListener;
use ringio::sync::Semaphore;
use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// What an in-process server saw.
#[derive(Default)]
struct Seen {
    accepted: Cell<usize>,
    live: Cell<usize>,
    peak_live: Cell<usize>,
}

/// Serves the example's service on `bind` until the test's runtime ends, counting
/// connections.
fn server(
    bind: &str,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
) -> (SocketAddr, Rc<Seen>) {
    let listener = TcpListener::bind(bind).unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Rc::new(Seen::default());
    let counts = seen.clone();
    ringio::spawn(async move {
        let mut incoming = listener.incoming();
        while let Some(Ok((stream, _))) = incoming.next().await {
            let (tls, counts) = (tls.clone(), counts.clone());
            counts.accepted.set(counts.accepted.get() + 1);
            counts.live.set(counts.live.get() + 1);
            counts
                .peak_live
                .set(counts.peak_live.get().max(counts.live.get()));
            ringio::spawn(async move {
                let _ = http::serve_connection(stream, tls, header_timeout).await;
                counts.live.set(counts.live.get() - 1);
            });
        }
    });
    (addr, seen)
}

/// GET `url` and read the body.
async fn fetch(client: &Client, url: &str) -> Result<(StatusCode, Vec<u8>), String> {
    let resp = client.get(url).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, body.to_bytes().to_vec()))
}

fn assert_hello(res: &Result<(StatusCode, Vec<u8>), String>) {
    match res {
        Ok((status, body)) => {
            assert_eq!(*status, StatusCode::OK);
            assert_eq!(body, b"Hello, world!");
        }
        Err(e) => panic!("request failed: {e}"),
    }
}

/// A rustls client configuration trusting exactly `cert`.
fn trusting(cert: rustls::pki_types::CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    // ring's provider: its lack of post-quantum key exchange (the deprecation) does not
    // matter on loopback.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The descriptors open once the runtime has gone, compared with `before`.
fn assert_fds_back(before: usize, what: &str) {
    let after = support::fd_names_settled(&[]).len();
    assert!(
        after <= before,
        "{what}: {after} descriptors open after the run, {before} before"
    );
}

#[test]
fn a_thousand_gets_through_gather_and_a_semaphore_reuse_at_most_a_hundred_connections() {
    let _serial = support::serial();
    support::watchdog("http client 1000 gets", Duration::from_secs(60));
    let fds = support::fd_count();
    ringio::run(async {
        let (addr, seen) = server("127.0.0.1:0", None, http::HEADER_TIMEOUT);
        let client = Client::new();
        let limit = Semaphore::new(100);
        let url = format!("http://{addr}/");
        let results = ringio::task::gather((0..1000).map(|_| {
            let (client, limit, url) = (&client, &limit, &url);
            async move {
                let _permit = limit.acquire().await;
                fetch(client, url).await
            }
        }))
        .await;
        results.iter().for_each(assert_hello);
        assert!(
            seen.accepted.get() <= 100,
            "the server saw {} connections",
            seen.accepted.get()
        );
        assert_eq!(client.connections_opened() as usize, seen.accepted.get());
    });
    assert_fds_back(fds, "1,000 GETs");
}

#[test]
fn a_cap_of_four_connections_per_host_serves_two_hundred_concurrent_requests() {
    let _serial = support::serial();
    support::watchdog("http client cap", Duration::from_secs(60));
    ringio::run(async {
        let (addr, seen) = server("127.0.0.1:0", None, http::HEADER_TIMEOUT);
        let client = Client::builder().max_connections_per_host(4).build();
        let url = format!("http://{addr}/");
        let results = ringio::task::gather((0..200).map(|_| fetch(&client, &url))).await;
        results.iter().for_each(assert_hello);
        assert!(
            seen.peak_live.get() <= 4,
            "{} connections at once",
            seen.peak_live.get()
        );
        assert!(
            seen.accepted.get() <= 4,
            "{} connections in all",
            seen.accepted.get()
        );
    });
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout_and_the_next_request_opens_one() {
    let _serial = support::serial();
    support::watchdog("http client idle", Duration::from_secs(30));
    const IDLE: Duration = Duration::from_millis(200);
    ringio::run(async {
        let (addr, seen) = server("127.0.0.1:0", None, http::HEADER_TIMEOUT);
        let client = Client::builder().idle_timeout(IDLE).build();
        let url = format!("http://{addr}/");
        assert_hello(&fetch(&client, &url).await);
        assert!(support::settle(Duration::from_secs(1), || client.idle_connections() == 1).await);
        // Still open well inside the timeout, and reused.
        ringio::time::sleep(IDLE / 4).await;
        assert_eq!(seen.live.get(), 1);
        assert_hello(&fetch(&client, &url).await);
        assert_eq!(
            seen.accepted.get(),
            1,
            "a live idle connection was not reused"
        );
        // Past the timeout the client closes it: the server sees end of stream.
        let start = Instant::now();
        let closed = support::settle(Duration::from_secs(2), || seen.live.get() == 0).await;
        let took = start.elapsed();
        assert!(closed, "the idle connection is still open after 2 s");
        assert!(
            took >= IDLE / 2,
            "closed after {took:?}, before the idle timeout"
        );
        assert_eq!(client.idle_connections(), 0);
        assert_hello(&fetch(&client, &url).await);
        assert_eq!(seen.accepted.get(), 2);
    });
}

#[test]
fn a_server_closing_idle_keep_alive_connections_does_not_fail_the_next_request() {
    let _serial = support::serial();
    support::watchdog("http client server closes", Duration::from_secs(30));
    ringio::run(async {
        // hyper's header timeout also ends a connection idle between requests.
        let (addr, seen) = server("127.0.0.1:0", None, Duration::from_millis(100));
        let client = Client::new();
        let url = format!("http://{addr}/");
        for round in 0..3 {
            assert_hello(&fetch(&client, &url).await);
            assert!(support::settle(Duration::from_secs(2), || seen.live.get() == 0).await);
            assert_eq!(seen.accepted.get(), round + 1);
            // The client learns of the close when its connection's task next runs. A
            // request sent in the very turn the server closed, before that, is the race
            // of module rule 5 that no client can retry (it was written): not this test.
            ringio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}

/// A server that answers one request per connection and closes it at once, without a
/// `Connection: close` header (`close_header` false) or with one.
fn one_shot_server(close_header: bool) -> (SocketAddr, Rc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Rc::new(Seen::default());
    let counts = seen.clone();
    ringio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counts.accepted.set(counts.accepted.get() + 1);
            ringio::spawn(async move {
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(vec![0u8; 1024]).await {
                        (Ok(n), buf) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let header = if close_header {
                    "Connection: close\r\n"
                } else {
                    ""
                };
                let reply =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n{header}\r\nHello, world!");
                let _ = stream.write_all(reply.into_bytes()).await;
            });
        }
    });
    (addr, seen)
}

#[test]
fn servers_that_close_after_each_response_with_or_without_saying_so_are_served() {
    let _serial = support::serial();
    support::watchdog("http client one-shot servers", Duration::from_secs(30));
    let fds = support::fd_count();
    ringio::run(async {
        for close_header in [true, false] {
            let (addr, seen) = one_shot_server(close_header);
            let client = Client::new();
            let url = format!("http://{addr}/");
            for i in 0..200 {
                let res = fetch(&client, &url).await;
                assert!(
                    res.is_ok(),
                    "request {i} (Connection: close {close_header}): {res:?}"
                );
                assert_hello(&res);
            }
            assert_eq!(seen.accepted.get(), 200);
        }
    });
    assert_fds_back(fds, "one-shot servers");
}

#[test]
fn https_with_the_servers_certificate_trusted_and_the_errors_without_it() {
    let _serial = support::serial();
    support::watchdog("http client https", Duration::from_secs(60));
    let (cert, key) = http::self_signed().unwrap();
    let acceptor = http::tls_acceptor(vec![cert.clone()], key).unwrap();
    let (other_cert, _) = http::self_signed().unwrap();
    let fds = support::fd_count();
    ringio::run(async {
        let (addr, seen) = server("127.0.0.1:0", Some(acceptor.clone()), http::HEADER_TIMEOUT);
        let client = Client::builder().tls_config(trusting(cert.clone())).build();
        let url = format!("https://localhost:{}/", addr.port());
        let limit = Semaphore::new(20);
        let results = ringio::task::gather((0..100).map(|_| {
            let (client, limit, url) = (&client, &limit, &url);
            async move {
                let _permit = limit.acquire().await;
                fetch(client, url).await
            }
        }))
        .await;
        results.iter().for_each(assert_hello);
        assert!(
            seen.accepted.get() <= 20,
            "{} TLS connections",
            seen.accepted.get()
        );

        // No TLS configuration: a clear error, before any connection.
        let before = seen.accepted.get();
        let err = Client::new().get(&url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TlsNotConfigured);
        let msg = err.to_string();
        assert!(msg.contains("tls_config") && msg.contains(&url), "{msg}");
        assert_eq!(seen.accepted.get(), before);

        // A certificate the client does not trust.
        let stranger = Client::builder().tls_config(trusting(other_cert)).build();
        let err = stranger.get(&url).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("localhost:{}", addr.port())), "{msg}");

        // The right certificate, for other names than the one asked for.
        let (wrong_addr, _) = server("127.0.0.2:0", Some(acceptor), http::HEADER_TIMEOUT);
        let err = client
            .get(&format!("https://{wrong_addr}/"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&wrong_addr.to_string()) && msg.contains("certificate"),
            "{msg}"
        );
    });
    assert_fds_back(fds, "https");
}

#[test]
fn a_refused_connection_fails_promptly_naming_host_and_port() {
    let _serial = support::serial();
    support::watchdog("http client refused", Duration::from_secs(30));
    ringio::run(async {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let client = Client::new();
        let start = Instant::now();
        let err = client
            .get(&format!("http://127.0.0.1:{port}/x"))
            .await
            .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "took {:?}",
            start.elapsed()
        );
        assert_eq!(err.kind(), ErrorKind::Connect);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("refused"),
            "{msg}"
        );
        // Invalid URLs are refused before any connection.
        for bad in ["/relative", "ftp://localhost/", "http:///nohost"] {
            let err = client.get(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{bad}: {err}");
        }
        assert_eq!(client.connections_opened(), 0);
    });
}

#[test]
fn requests_dropped_at_random_points_leave_the_pool_usable_and_no_descriptor_behind() {
    let _serial = support::serial();
    support::watchdog("http client drops", Duration::from_secs(120));
    let fds = support::fd_count();
    ringio::run(async {
        let (addr, seen) = server("127.0.0.1:0", None, http::HEADER_TIMEOUT);
        let client = Client::builder().max_connections_per_host(8).build();
        let url = format!("http://{addr}/");
        let mut rng = support::Rng::new(0x5eed);
        let mut finished = 0;
        for round in 0..100 {
            // Ten at once, each cut off after 0-2 ms or 0-20 ms: while waiting for a
            // slot, while connecting, while sending, while waiting for the response or
            // reading its body; some finish first.
            let cuts: Vec<u64> = (0..10)
                .map(|i| rng.below(if i % 2 == 0 { 2_000 } else { 20_000 }))
                .collect();
            let done = ringio::task::gather(cuts.iter().map(|&us| {
                let (client, url) = (&client, &url);
                ringio::time::timeout(Duration::from_micros(us), fetch(client, url))
            }))
            .await;
            for res in done.iter().flatten() {
                assert_hello(res);
                finished += 1;
            }
            if round % 10 == 0 {
                ringio::yield_now().await;
            }
        }
        eprintln!(
            "{finished} of 1000 finished before their cut; {} connections",
            seen.accepted.get()
        );
        // The pool still serves, within its cap.
        let after = ringio::task::gather((0..50).map(|_| fetch(&client, &url)));
        let results = ringio::time::timeout(Duration::from_secs(10), after)
            .await
            .expect("the pool is stuck after the dropped requests");
        results.iter().for_each(assert_hello);
        assert!(
            support::settle(Duration::from_secs(2), || seen.live.get() <= 8).await,
            "{} connections still open on the server (cap 8)",
            seen.live.get()
        );
    });
    assert_fds_back(fds, "1,000 dropped requests");
}

#[test]
fn responses_dropped_before_their_end_do_not_hand_out_a_busy_connection() {
    let _serial = support::serial();
    support::watchdog("http client unread bodies", Duration::from_secs(60));
    let fds = support::fd_count();
    ringio::run(async {
        let (addr, seen) = server("127.0.0.1:0", None, http::HEADER_TIMEOUT);
        // One connection: each request must wait until the last one's connection is
        // ready again (its unread 256 KiB drained by hyper) or closed.
        let client = Client::builder().max_connections_per_host(1).build();
        let body: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
        for i in 0..20 {
            let req = hyper::Request::post(format!("http://{addr}/echo"))
                .body(http_body_util::Full::new(bytes::Bytes::from(body.clone())))
                .unwrap();
            let resp = client.request(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "request {i}");
            if i % 2 == 1 {
                // Every other response is read to its end: the echo must be whole.
                let got = resp.into_body().collect().await.unwrap().to_bytes();
                assert!(got == body, "request {i}: the echo came back wrong");
            }
        }
        assert_hello(&fetch(&client, &format!("http://{addr}/")).await);
        assert!(
            seen.peak_live.get() <= 1,
            "{} connections at once",
            seen.peak_live.get()
        );

        // Without a cap, a response held unread keeps its connection out of the pool:
        // the next request opens another one instead of waiting behind the unread body.
        let client = Client::new();
        let req = hyper::Request::post(format!("http://{addr}/echo"))
            .body(http_body_util::Full::new(bytes::Bytes::from(body.clone())))
            .unwrap();
        let held = client.request(req).await.unwrap();
        let url = format!("http://{addr}/");
        let next = fetch(&client, &url);
        let next = ringio::time::timeout(Duration::from_secs(2), next).await;
        assert_hello(&next.expect("the next request waited behind an unread body"));
        assert_eq!(client.connections_opened(), 2);
        let got = held.into_body().collect().await.unwrap().to_bytes();
        assert!(got == body, "the held echo came back wrong");
    });
    assert_fds_back(fds, "unread bodies");
}

#[test]
fn a_tls_handshake_that_never_answers_ends_at_the_connect_timeout() {
    let _serial = support::serial();
    support::watchdog("http client connect timeout", Duration::from_secs(30));
    const LIMIT: Duration = Duration::from_millis(200);
    let (cert, _) = http::self_signed().unwrap();
    let fds = support::fd_count();
    ringio::run(async {
        // Accepts, then holds the connection without a byte of TLS.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let held = ringio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            ringio::time::sleep(Duration::from_secs(5)).await;
            drop(stream);
        });
        let client = Client::builder()
            .tls_config(trusting(cert))
            .connect_timeout(LIMIT)
            .build();
        let start = Instant::now();
        let err = client
            .get(&format!("https://localhost:{}/", addr.port()))
            .await
            .unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::ConnectTimeout, "{err}");
        assert!(
            err.to_string()
                .contains(&format!("localhost:{}", addr.port())),
            "{err}"
        );
        assert!(took >= LIMIT && took < LIMIT * 5, "gave up after {took:?}");
        held.cancel();
    });
    assert_fds_back(fds, "connect timeout");
}
