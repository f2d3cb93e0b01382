//! The HTTP service every hyper server of the benchmarks runs, whatever the runtime under
//! it: ringio's `hyper_server` (through `common/http.rs`) and tokio's `peer-hyper` in
//! `bench/peers` include this one file, so the comparison serves the same code.
//!
//! Routes: `GET /` answers `Hello, world!`; `POST /echo` answers with the request body
//! (413 past [`MAX_BODY`]); anything else is a 404.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::time::Duration;

/// Largest request body `POST /echo` takes; a larger one gets 413.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long a client may take to send a request's headers (hyper's HTTP/1 header
/// timeout), unless the server is told otherwise.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 streams a connection may have open at once.
pub const MAX_H2_STREAMS: u32 = 1000;

/// Answers one request.
pub async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => Response::new(Full::new(Bytes::from_static(b"Hello, world!"))),
        (&Method::POST, "/echo") => match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(body) => Response::new(Full::new(body.to_bytes())),
            Err(_) => status(StatusCode::PAYLOAD_TOO_LARGE),
        },
        _ => status(StatusCode::NOT_FOUND),
    };
    Ok(response)
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(code.to_string())));
    *r.status_mut() = code;
    r
}

/// hyper's HTTP/1.1 and HTTP/2 server on `executor`, its timeouts on `timer`.
pub fn builder<E, T>(executor: E, timer: T, header_timeout: Duration) -> auto::Builder<E>
where
    T: hyper::rt::Timer + Clone + Send + Sync + 'static,
{
    let mut b = auto::Builder::new(executor);
    b.http1()
        .timer(timer.clone())
        .header_read_timeout(header_timeout);
    b.http2()
        .timer(timer)
        .max_concurrent_streams(MAX_H2_STREAMS);
    b
}
