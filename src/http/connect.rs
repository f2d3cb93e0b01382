//! Opening one connection for the pool: TCP (names looked up off the core by
//! `TcpStream::connect`), TLS through tokio-rustls for `https`, then hyper's HTTP/1
//! handshake, with its connection driven by a task of the current core.

use super::body::RequestBody;
use super::error::{Error, ErrorKind};
use super::pool::{Key, Scheme};
use crate::compat::Compat;
use crate::net::TcpStream;
use hyper::client::conn::http1::SendRequest;
use std::time::Duration;

/// What a connection needs from the client's settings.
#[derive(Clone)]
pub(crate) struct ConnectConfig {
    pub(crate) timeout: Option<Duration>,
    #[cfg(feature = "rustls")]
    pub(crate) tls: Option<tokio_rustls::TlsConnector>,
}

/// Opens a connection to `key` and returns its sender; the connection itself runs in a
/// task of its own until the sender is dropped (with no request in flight) or the peer
/// closes.
pub(crate) async fn connect(
    key: &Key,
    config: &ConnectConfig,
) -> Result<SendRequest<RequestBody>, Error> {
    let open = open_stream(key, config);
    let stream = match config.timeout {
        None => open.await?,
        Some(limit) => crate::time::timeout(limit, open)
            .await
            .map_err(|elapsed| {
                Error::new(
                    ErrorKind::ConnectTimeout,
                    key.to_string(),
                    Some(elapsed.into()),
                )
            })??,
    };
    let http = |e: hyper::Error| Error::new(ErrorKind::Http, key.to_string(), Some(e.into()));
    let builder = hyper::client::conn::http1::Builder::new();
    match stream {
        Stream::Plain(tcp) => {
            let (send, conn) = builder.handshake(tcp).await.map_err(http)?;
            drop(crate::spawn(async move {
                // The pool learns of the end through its sender (`is_closed`).
                let _ = conn.await;
            }));
            Ok(send)
        }
        #[cfg(feature = "rustls")]
        Stream::Tls(tls) => {
            let (send, conn) = builder.handshake(*tls).await.map_err(http)?;
            drop(crate::spawn(async move {
                let _ = conn.await;
            }));
            Ok(send)
        }
    }
}

/// A connected stream, ready for HTTP.
enum Stream {
    Plain(Compat<TcpStream>),
    #[cfg(feature = "rustls")]
    Tls(Box<crate::compat::HyperIo<tokio_rustls::client::TlsStream<Compat<TcpStream>>>>),
}

/// TCP, then TLS for `https`.
async fn open_stream(key: &Key, config: &ConnectConfig) -> Result<Stream, Error> {
    // Refuse before any traffic if HTTPS cannot be spoken.
    #[cfg(feature = "rustls")]
    let tls = match key.scheme {
        Scheme::Http => None,
        Scheme::Https => match &config.tls {
            Some(c) => Some(c.clone()),
            None => return Err(Error::new(ErrorKind::TlsNotConfigured, key.url(), None)),
        },
    };
    #[cfg(not(feature = "rustls"))]
    {
        let _ = config;
        if key.scheme == Scheme::Https {
            return Err(Error::new(ErrorKind::TlsNotConfigured, key.url(), None));
        }
    }
    let tcp = TcpStream::connect((key.host.as_str(), key.port))
        .await
        .map_err(|e| Error::new(ErrorKind::Connect, key.to_string(), Some(e.into())))?;
    // Requests are small writes followed by a wait for the answer: Nagle would hold a
    // request's last segment for the previous one's ACK.
    let _ = tcp.set_nodelay(true);
    let tcp = Compat::new(tcp);
    #[cfg(feature = "rustls")]
    if let Some(connector) = tls {
        let tls_err = |e: Box<dyn std::error::Error + Send + Sync>| {
            Error::new(ErrorKind::Tls, key.to_string(), Some(e))
        };
        let name = rustls::pki_types::ServerName::try_from(key.host.clone())
            .map_err(|e| tls_err(e.into()))?;
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| tls_err(e.into()))?;
        return Ok(Stream::Tls(Box::new(crate::compat::HyperIo::new(stream))));
    }
    Ok(Stream::Plain(tcp))
}
