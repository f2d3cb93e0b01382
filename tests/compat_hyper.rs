#![cfg(all(feature = "hyper", feature = "tokio-io"))]
//! hyper's HTTP/1.1 and HTTP/2 server and client connections on ringio, through
//! `compat::{Compat, HyperIo, HyperExecutor, HyperTimer}`: the `hyper_server` example's
//! service (`examples/common/http.rs`) in process, under many keep-alive clients, many
//! HTTP/2 streams, bad and slow clients, and over TLS.

#[path = "../examples/common/http.rs"]
mod http;
mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use ringio::compat::{Compat, HyperExecutor, HyperIo, HyperTimer};
use ringio::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Serves `listener` with the example's service until the test's runtime ends.
fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, header_timeout: Duration) {
    ringio::spawn(async move {
        let mut incoming = listener.incoming();
        while let Some(Ok((stream, _))) = incoming.next().await {
            let tls = tls.clone();
            ringio::spawn(async move {
                let _ = http::serve_connection(stream, tls, header_timeout).await;
            });
        }
    });
}

fn local_server(tls: Option<TlsAcceptor>, header_timeout: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    serve(listener, tls, header_timeout);
    addr
}

/// The body client `conn` sends in request `i`: distinct per connection and request.
fn body_for(conn: usize, i: usize) -> Vec<u8> {
    format!("connection {conn} request {i} ")
        .repeat(1 + (conn + i) % 7)
        .into_bytes()
}

fn post(path: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn body_of(resp: hyper::Response<hyper::body::Incoming>) -> (StatusCode, Bytes) {
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

#[test]
fn a_thousand_keep_alive_clients_times_twenty_requests_get_their_own_bodies_back() {
    let _serial = support::serial();
    support::watchdog("hyper keep-alive", Duration::from_secs(120));
    const CLIENTS: usize = 1_000;
    const REQUESTS: usize = 20;
    let limit = support::rlimit::raise_nofile_limit().expect("raise the descriptor limit");
    assert!(limit >= 3 * CLIENTS as u64, "RLIMIT_NOFILE {limit} too low");
    let fds = support::fd_count();
    ringio::run(async {
        let addr = local_server(None, http::HEADER_TIMEOUT);
        let checked = ringio::task::gather((0..CLIENTS).map(|conn| async move {
            let io = Compat::new(TcpStream::connect(addr).await.unwrap());
            let (mut send, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
            ringio::spawn(connection);
            for i in 0..REQUESTS {
                let want = body_for(conn, i);
                let (status, got) = body_of(
                    send.send_request(post("/echo", want.clone()))
                        .await
                        .unwrap(),
                )
                .await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(got, want, "connection {conn} request {i}: wrong body");
            }
            REQUESTS
        }))
        .await;
        assert_eq!(checked.iter().sum::<usize>(), CLIENTS * REQUESTS);
    });
    let after = support::fd_names_settled(&[]).len();
    assert!(
        after <= fds,
        "{after} descriptors open after the run, {fds} before"
    );
}

#[test]
fn http2_carries_a_hundred_concurrent_streams_on_one_connection() {
    let _serial = support::serial();
    support::watchdog("hyper h2", Duration::from_secs(60));
    ringio::run(async {
        let addr = local_server(None, http::HEADER_TIMEOUT);
        let io = Compat::new(TcpStream::connect(addr).await.unwrap());
        let (send, connection) = hyper::client::conn::http2::Builder::new(HyperExecutor)
            .timer(HyperTimer)
            .handshake(io)
            .await
            .unwrap();
        ringio::spawn(connection);
        let in_flight = Rc::new(std::cell::Cell::new((0usize, 0usize)));
        let results = ringio::task::gather((0..100).map(|i| {
            let mut send = send.clone();
            let in_flight = in_flight.clone();
            async move {
                let (now, peak) = in_flight.get();
                in_flight.set((now + 1, peak.max(now + 1)));
                let want = body_for(0, i);
                let resp = send
                    .send_request(post("/echo", want.clone()))
                    .await
                    .unwrap();
                assert_eq!(resp.version(), hyper::Version::HTTP_2);
                let (status, got) = body_of(resp).await;
                let (now, peak) = in_flight.get();
                in_flight.set((now - 1, peak));
                (status, got == want)
            }
        }))
        .await;
        assert!(
            results.iter().all(|&(s, ok)| s == StatusCode::OK && ok),
            "a stream failed"
        );
        assert_eq!(in_flight.get().1, 100, "the streams did not run at once");
    });
}

/// Writes `request` on a fresh connection and returns everything the server sends until
/// it closes (or 2 s pass).
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.to_vec()).await.0.unwrap();
    let mut got = Vec::new();
    loop {
        match ringio::time::timeout(Duration::from_secs(2), s.read(vec![0u8; 4096])).await {
            Ok((Ok(0), _)) | Err(_) => return got,
            Ok((Ok(n), buf)) => got.extend_from_slice(&buf[..n]),
            Ok((Err(_), _)) => return got,
        }
    }
}

#[test]
fn a_malformed_request_gets_400_and_the_server_serves_others() {
    let _serial = support::serial();
    ringio::run(async {
        let addr = local_server(None, http::HEADER_TIMEOUT);
        let reply = raw_exchange(addr, b"GARBAGE \x01\x02 NOT HTTP\r\n\r\n").await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.starts_with("HTTP/1.1 400"),
            "reply to garbage: {reply:?}"
        );
        let reply = raw_exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.starts_with("HTTP/1.1 200") && reply.ends_with("Hello, world!"),
            "reply to a good request after the bad one: {reply:?}"
        );
    });
}

#[test]
fn a_client_sending_headers_a_byte_at_a_time_is_cut_off_by_the_header_timeout() {
    let _serial = support::serial();
    support::watchdog("hyper slow headers", Duration::from_secs(30));
    const TIMEOUT: Duration = Duration::from_millis(500);
    ringio::run(async {
        let addr = local_server(None, TIMEOUT);
        let s = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        let request = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let mut cut_off = None;
        for &byte in request.iter() {
            if s.write_all(vec![byte]).await.0.is_err() {
                cut_off = Some(start.elapsed());
                break;
            }
            // Between bytes, see whether the server gave up: any read that completes
            // (end of stream, a reset, or a response) means it did.
            let wait = ringio::time::timeout(Duration::from_millis(100), s.read(vec![0u8; 512]));
            if wait.await.is_ok() {
                cut_off = Some(start.elapsed());
                break;
            }
        }
        let took = cut_off.expect("the server waited for all the slow headers");
        assert!(
            took >= TIMEOUT,
            "cut off after {took:?}, before the {TIMEOUT:?} timeout"
        );
        assert!(
            took < TIMEOUT * 4,
            "cut off only after {took:?} (timeout {TIMEOUT:?})"
        );
    });
}

/// A client config that trusts exactly `cert`.
fn client_tls(cert: rustls::pki_types::CertificateDer<'static>, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

#[test]
fn tls_handshake_then_a_mebibyte_each_way_and_plain_http_on_the_tls_port_fails_alone() {
    let _serial = support::serial();
    support::watchdog("hyper tls", Duration::from_secs(60));
    let (cert, key) = http::self_signed().unwrap();
    let acceptor = http::tls_acceptor(vec![cert.clone()], key).unwrap();
    ringio::run(async {
        let addr = local_server(Some(acceptor), http::HEADER_TIMEOUT);

        // Plain HTTP to the TLS port: an error for that client only.
        let reply = raw_exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(
            !reply.starts_with(b"HTTP/1.1 200"),
            "plain HTTP was served over the TLS port"
        );

        for (alpn, version) in [
            (&b"http/1.1"[..], hyper::Version::HTTP_11),
            (&b"h2"[..], hyper::Version::HTTP_2),
        ] {
            let connector = client_tls(cert.clone(), &[alpn]);
            let tcp = Compat::new(TcpStream::connect(addr).await.unwrap());
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let tls = HyperIo::new(connector.connect(name, tcp).await.unwrap());
            let body: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
            let resp = if version == hyper::Version::HTTP_2 {
                let (mut send, conn) = hyper::client::conn::http2::Builder::new(HyperExecutor)
                    .timer(HyperTimer)
                    .handshake(tls)
                    .await
                    .unwrap();
                ringio::spawn(conn);
                send.send_request(post("/echo", body.clone()))
                    .await
                    .unwrap()
            } else {
                let (mut send, conn) = hyper::client::conn::http1::handshake(tls).await.unwrap();
                ringio::spawn(conn);
                send.send_request(post("/echo", body.clone()))
                    .await
                    .unwrap()
            };
            assert_eq!(resp.version(), version);
            let (status, got) = body_of(resp).await;
            assert_eq!(status, StatusCode::OK);
            assert!(got == body, "{version:?}: the 1 MiB echo came back wrong");
        }
    });
}
