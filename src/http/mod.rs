//! A per-core pooled HTTP/1.1 client on hyper: [`Client`], like aiohttp's
//! `ClientSession`.
//!
//! hyper-util's pooled client needs `Send` connections, which ringio's thread-per-core
//! streams are not; this client keeps its own small pool on hyper's `client::conn` API,
//! one per core. Requests take absolute URLs (`http://host:port/path`, and
//! `https://...` with feature `rustls`), are sent in origin form with a `Host` header
//! added if missing, and return hyper's `Response<Incoming>`.
//!
//! # Examples
//!
//! asyncio's "fetch many URLs", at most 100 at a time, over keep-alive connections:
//!
//! ```no_run
//! use http_body_util::BodyExt;
//! use ringio::http::Client;
//! use ringio::sync::Semaphore;
//!
//! ringio::run(async {
//!     let client = Client::new();
//!     let limit = Semaphore::new(100);
//!     let results = ringio::task::gather((0..1000).map(|i| {
//!         let (client, limit) = (&client, &limit);
//!         async move {
//!             let _permit = limit.acquire().await;
//!             let resp = client.get(&format!("http://127.0.0.1:8080/{i}")).await?;
//!             let status = resp.status();
//!             let body = resp.into_body().collect().await.map_err(|e| e.to_string());
//!             Ok::<_, Box<dyn std::error::Error>>((status, body?.to_bytes().len()))
//!         }
//!     }))
//!     .await;
//!     println!("{} fetched, {} connections", results.len(), client.connections_opened());
//! });
//! ```
//!
//! # Rules
//!
//! 1. **One client per core.** A `Client` is `!Send`: its connections are ringio streams
//!    of the core that made them, driven by that core's tasks. Cloning is cheap and
//!    shares the pool; each core that fetches makes its own `Client`.
//! 2. **Keep-alive, keyed by origin.** Connections are pooled per (scheme, host, port).
//!    A connection goes back to the pool when hyper says it can take the next request
//!    (`SendRequest::poll_ready`), that is once the response body was read to its end.
//!    A task of the core waits for that after each response, as hyper-util's client
//!    does. A response dropped before its end lets hyper drain or close the connection;
//!    it is reused only if it becomes ready again. Requests take the most recently used
//!    idle connection.
//! 3. **Connection cap, FIFO.** With
//!    [`max_connections_per_host(n)`](ClientBuilder::max_connections_per_host) at most
//!    `n` connections to one origin exist at once (busy, opening or idle); further
//!    requests wait in a [`Semaphore`](crate::sync::Semaphore)'s first-come,
//!    first-served line for a connection to come back. Without it, there is no cap.
//! 4. **Idle connections expire.** A connection idle for
//!    [`idle_timeout`](ClientBuilder::idle_timeout) (90 s by default) is closed by a
//!    task of the core that sleeps until the next expiry (no timer per connection, and no
//!    task when nothing is idle); a checkout also skips expired ones. Connections the
//!    server closed are never handed out (`SendRequest::is_closed`); at most
//!    [`max_idle_per_host`](ClientBuilder::max_idle_per_host) idle ones are kept, the
//!    oldest closed first.
//! 5. **One retry, only when nothing was sent.** A server may close an idle keep-alive
//!    connection just as a request takes it. If hyper hands the request back unsent
//!    (the connection closed before hyper began writing it), the request is sent once
//!    more on a fresh connection. A request that was written, even in part, is never
//!    replayed: the server may have acted on it. That error is returned as
//!    [`ErrorKind::Http`] ("connection closed before message completed").
//! 6. **Cancellation.** Dropping a request future at any point is safe: a slot it waited
//!    for goes to the next waiter, a connection being opened is closed, and a connection
//!    carrying the request is closed rather than reused (its state is unknown).
//! 7. **Timeouts.** [`connect_timeout`](ClientBuilder::connect_timeout) (30 s by default)
//!    bounds the TCP connect and the TLS handshake. For a whole request, wrap it in
//!    [`time::timeout`](crate::time::timeout).
//! 8. **Names** are looked up off the core ([`TcpStream::connect`](crate::net::TcpStream::connect)).
//!
//! # Supported, and not
//!
//! - HTTP/1.1 over TCP; HTTPS with rustls (feature `rustls`) given a
//!   `ClientBuilder::tls_config`: no root certificates are built in, so
//!   without one an `https` URL fails with [`ErrorKind::TlsNotConfigured`]. The client
//!   offers only `http/1.1` by ALPN.
//! - Not supported: HTTP/2, proxies, redirects (a 3xx is returned as is), cookies,
//!   decompression, `Expect: 100-continue` handling beyond hyper's.
#![forbid(unsafe_code)]

mod body;
mod connect;
mod error;
mod pool;

pub use error::{Error, ErrorKind};

use body::RequestBody;
use connect::ConnectConfig;
use hyper::body::{Body, Incoming};
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response, Uri};
use pool::{Key, Pool, PoolConfig, Scheme};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

/// How long a connection may stay idle in the pool by default (hyper-util's and
/// aiohttp-like clients' common choice).
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a TCP connect and TLS handshake may take by default: bounds what an
/// unresponsive address costs a request, well above any healthy handshake.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A pooled HTTP/1.1 client for the current core (see the [module rules](self)).
///
/// # Examples
///
/// ```no_run
/// use ringio::http::Client;
///
/// ringio::run(async {
///     let client = Client::new();
///     let resp = client.get("http://127.0.0.1:8080/").await.unwrap();
///     println!("{}", resp.status());
/// });
/// ```
#[doc(alias = "ClientSession")]
#[derive(Clone)]
pub struct Client {
    pool: Rc<Pool>,
    connect: Rc<ConnectConfig>,
}

impl Client {
    /// A client with the default settings: no connection cap, 90 s idle timeout, 30 s
    /// connect timeout, no TLS configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = ringio::http::Client::new();
    /// assert_eq!(client.connections_opened(), 0);
    /// ```
    pub fn new() -> Client {
        Client::builder().build()
    }

    /// A builder for a client with other settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let client = ringio::http::Client::builder()
    ///     .max_connections_per_host(8)
    ///     .idle_timeout(Duration::from_secs(30))
    ///     .build();
    /// # drop(client);
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            pool: PoolConfig {
                idle_timeout: DEFAULT_IDLE_TIMEOUT,
                max_idle_per_host: usize::MAX,
                max_connections_per_host: None,
            },
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// Sends `req` to the absolute URL in its URI and returns the response once its
    /// head arrived; read the body from it. A `Host` header is added if missing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidUrl`] for a URI that is not an absolute `http`/`https` URL;
    /// [`ErrorKind::Connect`], [`ErrorKind::ConnectTimeout`], [`ErrorKind::Tls`] or
    /// [`ErrorKind::TlsNotConfigured`] when no connection could be made;
    /// [`ErrorKind::Http`] when the exchange failed on the connection. Each names the
    /// URL or `host:port`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the request (module rule 6); the pool stays usable.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use hyper::Request;
    /// use ringio::http::Client;
    ///
    /// ringio::run(async {
    ///     let req = Request::post("http://127.0.0.1:8080/echo")
    ///         .body("hello".to_string())
    ///         .unwrap();
    ///     let resp = Client::new().request(req).await.unwrap();
    ///     assert!(resp.status().is_success());
    /// });
    /// ```
    pub async fn request<B>(&self, req: Request<B>) -> Result<Response<Incoming>, Error>
    where
        B: Body + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        self.send(Request::from_parts(parts, RequestBody::new(body)))
            .await
    }

    /// `GET url`.
    ///
    /// # Errors
    ///
    /// As [`request`](Client::request).
    ///
    /// # Cancel safety
    ///
    /// As [`request`](Client::request).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// ringio::run(async {
    ///     let client = ringio::http::Client::new();
    ///     let resp = client.get("http://127.0.0.1:8080/").await.unwrap();
    ///     assert_eq!(resp.status(), 200);
    /// });
    /// ```
    pub async fn get(&self, url: &str) -> Result<Response<Incoming>, Error> {
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| {
            Error::new(ErrorKind::InvalidUrl, url, Some(e.into()))
        })?;
        let mut req = Request::new(RequestBody::Empty);
        *req.uri_mut() = uri;
        self.send(req).await
    }

    /// Connections this client has opened so far (a pool that reuses them well opens
    /// few).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::http::Client::new().connections_opened(), 0);
    /// ```
    pub fn connections_opened(&self) -> u64 {
        self.pool.opened()
    }

    /// Idle connections the pool holds now, over every host.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::http::Client::new().idle_connections(), 0);
    /// ```
    pub fn idle_connections(&self) -> usize {
        self.pool.idle()
    }

    /// Sends a request whose body is already erased: checkout, send, and the one retry
    /// of module rule 5.
    async fn send(&self, req: Request<RequestBody>) -> Result<Response<Incoming>, Error> {
        let url = req.uri().to_string();
        let (key, mut req) = prepare(req)?;
        let http_err = |e: hyper::Error| Error::new(ErrorKind::Http, url.clone(), Some(e.into()));
        let mut retried = false;
        loop {
            let mut conn = match self.pool.checkout(&key).await {
                Ok(conn) => conn,
                Err(slot) => {
                    let send = connect::connect(&key, &self.connect).await?;
                    self.pool.opened_conn(send, slot)
                }
            };
            let may_retry = conn.reused && !retried;
            if let Err(e) = conn.send.ready().await {
                // Closed before anything was written.
                drop(conn);
                if may_retry {
                    retried = true;
                    continue;
                }
                return Err(http_err(e));
            }
            match conn.send.try_send_request(req).await {
                Ok(resp) => {
                    self.return_when_ready(conn);
                    return Ok(resp);
                }
                Err(mut e) => {
                    drop(conn);
                    match e.take_message() {
                        Some(unsent) if may_retry => {
                            retried = true;
                            req = unsent;
                        }
                        _ => return Err(http_err(e.into_error())),
                    }
                }
            }
        }
    }

    /// Puts `conn` back in the pool once hyper can send on it again (module rule 2).
    fn return_when_ready(&self, mut conn: pool::Conn) {
        if conn.send.is_ready() {
            self.pool.put_idle(conn);
            return;
        }
        let pool = Rc::downgrade(&self.pool);
        drop(crate::spawn(async move {
            let ready = std::future::poll_fn(|cx| conn.send.poll_ready(cx)).await;
            match (ready, pool.upgrade()) {
                (Ok(()), Some(pool)) => pool.put_idle(conn),
                // Closed, or the client is gone: dropping closes it.
                _ => drop(conn),
            }
        }));
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("connections_opened", &self.pool.opened())
            .field("idle_connections", &self.pool.idle())
            .finish()
    }
}

/// Checks the URL, and turns the request into what goes on the wire: origin-form target,
/// `Host` header.
fn prepare(mut req: Request<RequestBody>) -> Result<(Key, Request<RequestBody>), Error> {
    let uri = req.uri().clone();
    let invalid = || Error::new(ErrorKind::InvalidUrl, uri.to_string(), None);
    let (scheme, default_port) = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => (Scheme::Http, 80),
        Some(s) if s.eq_ignore_ascii_case("https") => (Scheme::Https, 443),
        _ => return Err(invalid()),
    };
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(invalid)?;
    let port = uri.port_u16().unwrap_or(default_port);
    let key = Key {
        scheme,
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
    };
    if !req.headers().contains_key(HOST) {
        let value = if port == default_port {
            host.to_string()
        } else {
            format!("{host}:{port}")
        };
        let value = HeaderValue::from_str(&value).map_err(|_| invalid())?;
        req.headers_mut().insert(HOST, value);
    }
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    *req.uri_mut() = target.parse().map_err(|_| invalid())?;
    Ok((key, req))
}

/// Settings for a [`Client`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let client = ringio::http::Client::builder()
///     .max_connections_per_host(4)
///     .max_idle_per_host(2)
///     .idle_timeout(Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(2))
///     .build();
/// # drop(client);
/// ```
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    pool: PoolConfig,
    connect_timeout: Option<Duration>,
    #[cfg(feature = "rustls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl ClientBuilder {
    /// How long a connection may stay idle in the pool before it is closed (module
    /// rule 4); default 90 s. Zero keeps no idle connection.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ringio::http::Client::builder().idle_timeout(std::time::Duration::from_secs(5));
    /// # drop(b);
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.pool.idle_timeout = timeout;
        self
    }

    /// Most idle connections kept per origin; default: no limit. Zero keeps none.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ringio::http::Client::builder().max_idle_per_host(16);
    /// # drop(b);
    /// ```
    pub fn max_idle_per_host(mut self, n: usize) -> ClientBuilder {
        self.pool.max_idle_per_host = n;
        self
    }

    /// Most connections to one origin at once; further requests wait, first come first
    /// served, for one to come back (module rule 3). Default: no cap.
    ///
    /// # Panics
    ///
    /// If `n` is 0: no request could ever be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ringio::http::Client::builder().max_connections_per_host(4);
    /// # drop(b);
    /// ```
    pub fn max_connections_per_host(mut self, n: usize) -> ClientBuilder {
        assert!(n > 0, "max_connections_per_host must be at least 1");
        self.pool.max_connections_per_host = Some(n);
        self
    }

    /// How long the TCP connect and TLS handshake of a new connection may take; default
    /// 30 s. `Duration::MAX` waits as long as the kernel does.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = ringio::http::Client::builder().connect_timeout(std::time::Duration::from_secs(1));
    /// # drop(b);
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = (timeout != Duration::MAX).then_some(timeout);
        self
    }

    /// The rustls configuration for `https` URLs: its root certificates decide which
    /// servers are trusted (none are built in). Its ALPN list is replaced by
    /// `http/1.1`, the one protocol this client speaks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tokio_rustls::rustls;
    ///
    /// let roots = rustls::RootCertStore::empty(); // add the certificates to trust
    /// // ring's provider; its lack of post-quantum key exchange is why it is deprecated.
    /// #[allow(deprecated)]
    /// let provider = Arc::new(rustls::crypto::ring::default_provider());
    /// let config = rustls::ClientConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .unwrap()
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let client = ringio::http::Client::builder().tls_config(Arc::new(config)).build();
    /// # drop(client);
    /// ```
    #[cfg(feature = "rustls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> ClientBuilder {
        self.tls = Some(config);
        self
    }

    /// The client.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = ringio::http::Client::builder().build();
    /// # drop(client);
    /// ```
    pub fn build(self) -> Client {
        #[cfg(feature = "rustls")]
        let tls = self.tls.map(|config| {
            let mut config = (*config).clone();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        });
        Client {
            pool: Rc::new(Pool::new(self.pool)),
            connect: Rc::new(ConnectConfig {
                timeout: self.connect_timeout,
                #[cfg(feature = "rustls")]
                tls,
            }),
        }
    }
}
