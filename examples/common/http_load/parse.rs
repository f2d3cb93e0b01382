//! HTTP/1.1 response parsing over a connection's receive buffer.
//!
//! [`parse_response`] looks at the bytes received so far and says whether they hold one
//! whole response: the status line and headers (through `httparse`), then the body,
//! framed by `Content-Length`, by chunked transfer-encoding (chunk sizes, extensions,
//! trailers) or by the end of the connection (RFC 9112 §6.3). It never consumes more than
//! that one response: bytes after it (a pipelined next response) stay in the buffer for
//! the next call. Interim 1xx responses are skipped. The parse restarts from the
//! response's first byte on each call, which costs one header parse per read and keeps no
//! state between reads; responses of a load test are small.

use httparse::Status;

/// Headers a response may carry: 64 is several times what real servers send; more is
/// reported as a parse error rather than allocating without bound.
pub const MAX_HEADERS: usize = 64;
/// Longest response head (status line and headers) or chunk-size/trailer line before the
/// response counts as malformed: 64 KiB, the usual server-side cap on request heads.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest response body accepted: 64 MiB keeps a broken length from eating memory.
pub const MAX_BODY: u64 = 64 << 20;

/// One whole response found at the start of the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code of the final (non-1xx) response.
    pub status: u16,
    /// Bytes of the buffer it took, interim responses and chunk framing included.
    pub consumed: usize,
    /// Length of the body.
    pub body_len: u64,
    /// The body, if the caller asked to keep it.
    pub body: Option<Vec<u8>>,
    /// The connection cannot carry another response: the server said
    /// `Connection: close`, spoke HTTP/1.0 without keep-alive, or ended the body by closing.
    pub close: bool,
}

/// A response that breaks HTTP/1.1's syntax; the text says what was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(what: impl Into<String>) -> ParseError {
    ParseError(what.into())
}

/// How the body of a response ends (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// No body: HEAD, 204, 304.
    Empty,
    Length(u64),
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

/// Parses one response from the start of `buf`.
///
/// `eof`: the peer has closed, so a body framed by the close is complete.
/// `head_request`: the request was HEAD, so the response has no body whatever it says.
/// `keep_body`: copy the body into [`Response::body`] (for `--verify`).
///
/// Returns `Ok(None)` while more bytes are needed.
///
/// # Errors
///
/// If the bytes cannot be a valid response (bad status line or header, bad or conflicting
/// length, bad chunk framing, a head or body past the caps).
pub fn parse_response(
    buf: &[u8],
    eof: bool,
    head_request: bool,
    keep_body: bool,
) -> Result<Option<Response>, ParseError> {
    let mut at = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Response::new(&mut headers);
        let head_len = match head.parse(&buf[at..]) {
            Ok(Status::Complete(n)) => n,
            Ok(Status::Partial) if buf.len() - at > MAX_HEAD => {
                return Err(bad(format!("response head longer than {MAX_HEAD} bytes")));
            }
            Ok(Status::Partial) => return Ok(None),
            Err(e) => return Err(bad(format!("bad response head: {e}"))),
        };
        let status = head.code.expect("a complete head has a status code");
        let version = head.version.expect("a complete head has a version");
        let info = Headers::of(head.headers)?;
        at += head_len;
        // A 1xx response is interim (RFC 9110 §15.2): the final one follows.
        if (100..200).contains(&status) {
            if status == 101 {
                return Err(bad(
                    "101 Switching Protocols: the client did not ask to upgrade",
                ));
            }
            continue;
        }
        let framing = if head_request || status == 204 || status == 304 {
            Framing::Empty
        } else if info.chunked {
            Framing::Chunked
        } else if info.other_coding {
            Framing::UntilClose
        } else {
            match info.length {
                Some(n) => Framing::Length(n),
                None => Framing::UntilClose,
            }
        };
        let close = info.close || (version == 0 && !info.keep_alive);
        return finish(buf, at, framing, status, close, eof, keep_body);
    }
}

/// What the headers say about framing and the connection.
#[derive(Default)]
struct Headers {
    length: Option<u64>,
    chunked: bool,
    /// A transfer-coding other than a final `chunked`: the body runs to the close.
    other_coding: bool,
    close: bool,
    keep_alive: bool,
}

impl Headers {
    fn of(headers: &[httparse::Header<'_>]) -> Result<Headers, ParseError> {
        let mut h = Headers::default();
        for header in headers {
            let value = std::str::from_utf8(header.value)
                .map_err(|_| bad(format!("header {} is not text", header.name)))?;
            if header.name.eq_ignore_ascii_case("content-length") {
                let n: u64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("bad Content-Length {value:?}")))?;
                // Two different lengths make the framing ambiguous (RFC 9112 §6.3 rule 5).
                if h.length.is_some_and(|m| m != n) {
                    return Err(bad("conflicting Content-Length headers"));
                }
                if n > MAX_BODY {
                    return Err(bad(format!(
                        "Content-Length {n} past the {MAX_BODY}-byte cap"
                    )));
                }
                h.length = Some(n);
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                    // Only a final `chunked` frames the body (RFC 9112 §6.3 rule 4).
                    h.chunked = coding.eq_ignore_ascii_case("chunked");
                    h.other_coding |= !h.chunked;
                }
                if h.chunked {
                    h.other_coding = false;
                }
            } else if header.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    h.close |= token.eq_ignore_ascii_case("close");
                    h.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                }
            }
        }
        Ok(h)
    }
}

/// The body of a response whose head ended at `at`.
fn finish(
    buf: &[u8],
    at: usize,
    framing: Framing,
    status: u16,
    close: bool,
    eof: bool,
    keep_body: bool,
) -> Result<Option<Response>, ParseError> {
    let done = |consumed: usize, body: Option<Vec<u8>>, body_len: u64, close: bool| {
        Ok(Some(Response {
            status,
            consumed,
            body_len,
            body,
            close,
        }))
    };
    match framing {
        Framing::Empty => done(at, keep_body.then(Vec::new), 0, close),
        Framing::Length(n) => {
            // n <= MAX_BODY, so it fits a usize on 64-bit Linux.
            let end = at + n as usize;
            if buf.len() < end {
                return Ok(None);
            }
            done(end, keep_body.then(|| buf[at..end].to_vec()), n, close)
        }
        Framing::UntilClose => {
            if buf.len() - at > MAX_BODY as usize {
                return Err(bad(format!("body past the {MAX_BODY}-byte cap")));
            }
            if !eof {
                return Ok(None);
            }
            let len = (buf.len() - at) as u64;
            done(buf.len(), keep_body.then(|| buf[at..].to_vec()), len, true)
        }
        Framing::Chunked => match chunked(buf, at, keep_body)? {
            None => Ok(None),
            Some((end, body, len)) => done(end, body, len, close),
        },
    }
}

/// A whole chunked body: where it ends (after the trailers), the body if kept, its length.
type Chunked = (usize, Option<Vec<u8>>, u64);

/// A chunked body from `at`.
fn chunked(buf: &[u8], mut at: usize, keep: bool) -> Result<Option<Chunked>, ParseError> {
    let mut body = keep.then(Vec::new);
    let mut len: u64 = 0;
    loop {
        // The chunk-size line, extensions included (RFC 9112 §7.1). httparse reads an
        // empty line as size 0; the grammar wants at least one hex digit.
        if buf.get(at).is_some_and(|b| !b.is_ascii_hexdigit()) {
            return Err(bad("chunk-size line without a size"));
        }
        let size = match httparse::parse_chunk_size(&buf[at..]) {
            Ok(Status::Complete((used, size))) => {
                at += used;
                size
            }
            Ok(Status::Partial) if buf.len() - at > MAX_HEAD => {
                return Err(bad("chunk-size line without an end"));
            }
            Ok(Status::Partial) => return Ok(None),
            Err(httparse::InvalidChunkSize) => return Err(bad("bad chunk-size line")),
        };
        if size == 0 {
            // Trailer fields, then an empty line (RFC 9112 §7.1.2); their content is ignored.
            let mut trailers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            return match httparse::parse_headers(&buf[at..], &mut trailers) {
                Ok(Status::Complete((used, _))) => Ok(Some((at + used, body, len))),
                Ok(Status::Partial) if buf.len() - at > MAX_HEAD => {
                    Err(bad("trailer section without an end"))
                }
                Ok(Status::Partial) => Ok(None),
                Err(e) => Err(bad(format!("bad trailer section: {e}"))),
            };
        }
        len += size;
        if len > MAX_BODY {
            return Err(bad(format!("chunked body past the {MAX_BODY}-byte cap")));
        }
        let end = at + size as usize;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(bad("chunk data not followed by CRLF"));
        }
        if let Some(b) = body.as_mut() {
            b.extend_from_slice(&buf[at..end]);
        }
        at = end + 2;
    }
}
