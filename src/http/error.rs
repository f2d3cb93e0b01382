//! [`Error`]: what went wrong with one request, and where.

use std::error::Error as StdError;
use std::fmt;

/// The error of a [`Client`](super::Client) request: what failed (its [`ErrorKind`]), for
/// which URL or `host:port`, and the cause.
///
/// Its `Display` names both, e.g. `connect to 127.0.0.1:9 failed: Connection refused (os
/// error 111)`.
///
/// # Examples
///
/// ```
/// use ringio::http::{Client, ErrorKind};
///
/// ringio::run(async {
///     let err = Client::new().get("not a url").await.unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::InvalidUrl);
///     assert!(err.to_string().contains("not a url"));
/// });
/// ```
pub struct Error {
    kind: ErrorKind,
    target: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// What kind of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request's URI is not an absolute `http://` or `https://` URL.
    InvalidUrl,
    /// The name did not resolve, or no address accepted the TCP connection.
    Connect,
    /// The connection (TCP and TLS handshake) did not finish within the connect timeout.
    ConnectTimeout,
    /// An `https://` URL, but the client has no TLS configuration (or was built without
    /// the `rustls` feature).
    TlsNotConfigured,
    /// The TLS handshake failed: an untrusted certificate, a name mismatch, a peer that
    /// does not speak TLS.
    Tls,
    /// HTTP failed on an established connection: the peer closed it or reset it, or sent
    /// something hyper could not parse.
    Http,
}

impl Error {
    pub(crate) fn new(
        kind: ErrorKind,
        target: impl Into<String>,
        source: Option<Box<dyn StdError + Send + Sync>>,
    ) -> Error {
        Error {
            kind,
            target: target.into(),
            source,
        }
    }

    /// What kind of failure this is.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::http::{Client, ErrorKind};
    ///
    /// ringio::run(async {
    ///     let err = Client::new().get("ftp://localhost/").await.unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::InvalidUrl);
    /// });
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The URL or `host:port` the failure is about.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::http::Client;
    ///
    /// ringio::run(async {
    ///     let err = Client::new().get("/relative").await.unwrap_err();
    ///     assert_eq!(err.target(), "/relative");
    /// });
    /// ```
    pub fn target(&self) -> &str {
        &self.target
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.target;
        match self.kind {
            ErrorKind::InvalidUrl => write!(
                f,
                "invalid URL {t:?}: an absolute http:// or https:// URL is needed"
            )?,
            ErrorKind::Connect => write!(f, "connect to {t} failed")?,
            ErrorKind::ConnectTimeout => write!(f, "connect to {t} timed out")?,
            ErrorKind::TlsNotConfigured => write!(
                f,
                "cannot fetch {t}: HTTPS needs a TLS configuration; build the client with \
                 `Client::builder().tls_config(..)` (feature `rustls`)"
            )?,
            ErrorKind::Tls => write!(f, "TLS handshake with {t} failed")?,
            ErrorKind::Http => write!(f, "HTTP request to {t} failed")?,
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
            // hyper's own message is terse ("connection closed before message
            // completed"); its cause says more.
            let mut cause = source.source();
            while let Some(c) = cause {
                write!(f, ": {c}")?;
                cause = c.source();
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("target", &self.target)
            .field("source", &self.source)
            .finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}
