//! The HTTP service of the `hyper_server` example, shared with the tests that run it in
//! process: hyper's HTTP/1.1 and HTTP/2 server connections on ringio, plain or over TLS
//! (rustls through tokio-rustls over `Compat`).
//!
//! The routes and hyper's settings are in `http_service.rs`, which the tokio server of the
//! HTTP benchmark includes too. HTTP/2 is chosen by ALPN on TLS and by the client's
//! preface (prior knowledge) in plain text.

#![allow(dead_code)]

use hyper::service::service_fn;
use hyper_util::server::conn::auto;
use ringio::compat::{Compat, HyperExecutor, HyperIo, HyperTimer};
use ringio::net::TcpStream;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

#[path = "http_service.rs"]
mod service;
// `fetch_many` and the tests use the timeout; `hyper_server` only the handler.
#[allow(unused_imports)]
pub use service::{HEADER_TIMEOUT, handle};

/// hyper's server, HTTP/1.1 and HTTP/2, on ringio's executor and timer.
pub fn builder(header_timeout: Duration) -> auto::Builder<HyperExecutor> {
    service::builder(HyperExecutor, HyperTimer, header_timeout)
}

/// Serves one accepted connection until the client closes it or it fails; over TLS
/// first if `tls` is given. Errors (a malformed request, a failed handshake, a reset) end
/// this connection only.
///
/// The TLS path is boxed: an async fn is as large as its largest state, and rustls'
/// connection state would otherwise make every plain connection's task 1.3 KB larger
/// (3,240 bytes instead of 1,928, live allocations counted at 10,000 idle connections).
pub async fn serve_connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = stream.set_nodelay(true);
    match tls {
        None => {
            builder(header_timeout)
                .serve_connection(Compat::new(stream), service_fn(handle))
                .await
        }
        Some(acceptor) => Box::pin(serve_tls(stream, acceptor, header_timeout)).await,
    }
}

async fn serve_tls(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    header_timeout: Duration,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tls = acceptor.accept(Compat::new(stream)).await?;
    builder(header_timeout)
        .serve_connection(HyperIo::new(tls), service_fn(handle))
        .await
}

/// A TLS acceptor for `cert_chain` and `key`, offering HTTP/2 and HTTP/1.1 by ALPN.
pub fn tls_acceptor(
    cert_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> io::Result<TlsAcceptor> {
    // ring, not rustls' default aws-lc-rs: no C toolchain beyond cc to build it. Its
    // provider lacks post-quantum key exchange, hence the deprecation, which does not
    // matter for a loopback example.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, made now.
pub fn self_signed() -> io::Result<(
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
)> {
    let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let cert = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der());
    Ok((cert.cert.der().clone(), key.into()))
}

/// The certificate chain and key in PEM files `cert` and `key`.
pub fn load_pem(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> io::Result<(
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
)> {
    use rustls::pki_types::pem::PemObject;
    let chain = rustls::pki_types::CertificateDer::pem_file_iter(cert)
        .map_err(io::Error::other)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io::Error::other)?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).map_err(io::Error::other)?;
    Ok((chain, key))
}
