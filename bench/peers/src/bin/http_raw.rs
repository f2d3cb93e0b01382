//! The raw io_uring HTTP/1.1 floor: a keep-alive HTTP server written straight on the
//! `io-uring` crate with no runtime, shaped like `peer-raw` (the echo floor): one thread,
//! one ring (SINGLE_ISSUER + DEFER_TASKRUN), one multishot accept, and per connection a
//! recv → parse → send → recv state machine with one op in flight.
//!
//! `cargo run --release -p ringio-peers --bin peer-http-raw -- --addr 127.0.0.1:8080`
//!
//! It answers what hyper_server answers, with the same bytes on the wire: `GET /` →
//! `HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: <IMF-fixdate>\r\n\r\nHello, world!`
//! (hyper's header order, the date cached per second as hyper does); `POST /echo` → the
//! Content-Length body; anything else → 404. Requests are parsed with `httparse`; every
//! complete request in one read (pipelining) is answered, in order, in one send.
//! Chunked request bodies and malformed requests close the connection, as do
//! `Connection: close` and HTTP/1.0 after their answer.
//!
//! user_data: the connection index in the upper bits, the op kind in the low 8 bits. A
//! connection's buffers are never touched while its one op is in flight, and it is freed
//! only once its close CQE has been reaped.

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::time::{SystemTime, UNIX_EPOCH};

const USAGE: &str = "peer-http-raw [--addr 127.0.0.1:8080]";
/// Submission queue entries, as in peer-raw: one op per connection at most, and a full
/// SQ is submitted early, so this bounds the batch only.
const SQ_ENTRIES: u32 = 4096;
/// Completion queue entries: 10,000 connections with one op each fit without overflow.
const CQ_ENTRIES: u32 = 16384;
/// Headers one request may carry; more is a malformed request here (hyper allows 100,
/// load generators send a handful).
const MAX_HEADERS: usize = 64;
/// Largest request body taken, as hyper_server's `/echo` (16 MiB); a larger
/// Content-Length closes the connection.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Largest request head (request line + headers): hyper's default read buffer limit is
/// about 400 KiB; 64 KiB is plenty for benchmark clients.
const MAX_HEAD: usize = 64 * 1024;

/// Op kinds in the low byte of user_data.
const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;
const CLOSE: u64 = 4;
const BACKOFF: u64 = 5;

fn user_data(conn: usize, kind: u64) -> u64 {
    ((conn as u64) << 8) | kind
}

/// One connection: its socket, the bytes read and not yet answered, the answers not yet
/// sent.
struct Conn {
    fd: i32,
    /// Read buffer; `buf[..filled]` holds request bytes not yet consumed.
    buf: Vec<u8>,
    filled: usize,
    /// Responses to send; `out[sent..]` is still to go.
    out: Vec<u8>,
    sent: usize,
    /// Close once `out` is sent (`Connection: close`, HTTP/1.0, or a bad request).
    close_after: bool,
}

/// What parsing the read buffer found.
enum Parsed {
    /// A whole request was answered; its bytes (head + body) are consumed.
    Answered(usize),
    /// The request is not complete yet; read more (up to this many bytes in all).
    NeedMore(usize),
    /// Malformed or unsupported: answer nothing more, close.
    Bad,
}

/// The `date` header value, formatted once per second as hyper does.
struct DateCache {
    second: u64,
    text: [u8; 29],
}

struct Server {
    ring: IoUring,
    listen_fd: i32,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    date: DateCache,
    /// The accept back-off timeout; the kernel reads it while the timeout op is in flight,
    /// so it lives as long as the server.
    backoff: Box<types::Timespec>,
}

fn main() -> io::Result<()> {
    let args = ringio_peers::server_args(USAGE);
    ringio_peers::raise_fd_limit()?;
    let listener = ringio_peers::listener(args.addr, false)?;
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(CQ_ENTRIES)
        .build(SQ_ENTRIES)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("io_uring with SINGLE_ISSUER + DEFER_TASKRUN (Linux 6.1+): {e}"),
            )
        })?;
    let mut server = Server {
        ring,
        listen_fd: listener.as_raw_fd(),
        conns: Vec::new(),
        free: Vec::new(),
        date: DateCache::new(),
        backoff: Box::new(
            types::Timespec::new().nsec(ringio_peers::ACCEPT_BACKOFF_MS as u32 * 1_000_000),
        ),
    };
    server.arm_accept()?;
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "listening on http://{} (raw io_uring HTTP/1.1, 1 thread)",
        listener.local_addr()?
    );
    let _ = out.flush();
    drop(out);
    server.run()
}

impl Server {
    fn run(&mut self) -> io::Result<()> {
        let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(CQ_ENTRIES as usize);
        loop {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                // EBUSY: completions are waiting to be reaped first; EINTR: a signal.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EINTR)) => {}
                Err(e) => return Err(e),
            }
            self.date.refresh();
            cqes.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            for (ud, res, flags) in cqes.drain(..) {
                self.complete(ud, res, flags)?;
            }
        }
    }

    /// Queues one SQE, submitting first if the SQ is full.
    fn push(&mut self, sqe: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every SQE built here points only at memory the server owns until
            // the op's CQE is reaped: a connection's `buf` or `out` (neither is resized
            // nor freed while that connection's one op is in flight; the connection is
            // dropped only after its close CQE) or `self.backoff`.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EINTR)) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn arm_accept(&mut self) -> io::Result<()> {
        let sqe = opcode::AcceptMulti::new(types::Fd(self.listen_fd))
            .build()
            .user_data(user_data(0, ACCEPT));
        self.push(sqe)
    }

    fn arm_recv(&mut self, idx: usize) -> io::Result<()> {
        let c = self.conns[idx].as_mut().expect("recv on a live connection");
        let rest = &mut c.buf[c.filled..];
        let sqe = opcode::Recv::new(types::Fd(c.fd), rest.as_mut_ptr(), rest.len() as u32)
            .build()
            .user_data(user_data(idx, RECV));
        self.push(sqe)
    }

    fn arm_send(&mut self, idx: usize) -> io::Result<()> {
        let c = self.conns[idx].as_ref().expect("send on a live connection");
        let rest = &c.out[c.sent..];
        let sqe = opcode::Send::new(types::Fd(c.fd), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data(idx, SEND));
        self.push(sqe)
    }

    fn arm_close(&mut self, idx: usize) -> io::Result<()> {
        let c = self.conns[idx]
            .as_ref()
            .expect("close on a live connection");
        let sqe = opcode::Close::new(types::Fd(c.fd))
            .build()
            .user_data(user_data(idx, CLOSE));
        self.push(sqe)
    }

    fn complete(&mut self, ud: u64, res: i32, flags: u32) -> io::Result<()> {
        let idx = (ud >> 8) as usize;
        match ud & 0xff {
            ACCEPT => {
                if res >= 0 {
                    self.accepted(res)?;
                }
                if !cqueue::more(flags) {
                    // The multishot accept ended. On a full fd table re-arming at once
                    // would fail again at once, so wait a little first.
                    if res == -libc::EMFILE || res == -libc::ENFILE || res == -libc::ENOBUFS {
                        let sqe = opcode::Timeout::new(&*self.backoff)
                            .build()
                            .user_data(user_data(0, BACKOFF));
                        self.push(sqe)?;
                    } else {
                        self.arm_accept()?;
                    }
                }
                Ok(())
            }
            BACKOFF => self.arm_accept(),
            RECV if res > 0 => {
                let c = self.conns[idx]
                    .as_mut()
                    .expect("recv CQE for a live connection");
                c.filled += res as usize;
                self.serve(idx)
            }
            SEND if res > 0 => {
                let c = self.conns[idx]
                    .as_mut()
                    .expect("send CQE for a live connection");
                c.sent += res as usize;
                if c.sent < c.out.len() {
                    return self.arm_send(idx); // short send: the rest goes next
                }
                c.out.clear();
                c.sent = 0;
                if c.close_after {
                    self.arm_close(idx)
                } else {
                    self.arm_recv(idx)
                }
            }
            // EOF (0) or an error on recv/send: close the connection.
            RECV | SEND => self.arm_close(idx),
            CLOSE => {
                self.conns[idx] = None;
                self.free.push(idx);
                Ok(())
            }
            other => Err(io::Error::other(format!(
                "unknown op kind {other} in a CQE"
            ))),
        }
    }

    /// Answers every complete request in the read buffer, then sends the answers, or
    /// reads more when there are none yet.
    fn serve(&mut self, idx: usize) -> io::Result<()> {
        let date = self.date.text;
        let c = self.conns[idx]
            .as_mut()
            .expect("serve on a live connection");
        let mut start = 0;
        let mut want = 0;
        while start < c.filled && !c.close_after {
            let (buf, out) = (&c.buf[start..c.filled], &mut c.out);
            match answer(buf, out, &date, &mut c.close_after) {
                Parsed::Answered(n) => start += n,
                Parsed::NeedMore(total) => {
                    want = total;
                    break;
                }
                Parsed::Bad => {
                    c.close_after = true;
                    break;
                }
            }
        }
        // Keep the unanswered tail at the front of the buffer.
        c.buf.copy_within(start..c.filled, 0);
        c.filled -= start;
        if !c.out.is_empty() {
            return self.arm_send(idx);
        }
        if c.close_after {
            return self.arm_close(idx);
        }
        if c.filled == c.buf.len() || want > c.buf.len() {
            // A request larger than the buffer: grow it (bounded by the limits above).
            let cap = want.max(c.buf.len() * 2);
            c.buf.resize(cap, 0);
        }
        self.arm_recv(idx)
    }

    fn accepted(&mut self, fd: i32) -> io::Result<()> {
        let one: libc::c_int = 1;
        // SAFETY: `one` is a valid c_int for the call's duration; a failure only means
        // Nagle stays on for this socket (the listener's TCP_NODELAY is inherited anyway).
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let conn = Conn {
            fd,
            buf: vec![0u8; ringio_peers::BUF_SIZE],
            filled: 0,
            out: Vec::new(),
            sent: 0,
            close_after: false,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.conns[i] = Some(conn);
                i
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        self.arm_recv(idx)
    }
}

/// Parses one request at the start of `buf`; if it is complete, appends its answer to
/// `out` and says how many bytes it took. Sets `close` for `Connection: close` and
/// HTTP/1.0 requests.
fn answer(buf: &[u8], out: &mut Vec<u8>, date: &[u8; 29], close: &mut bool) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {
            return Parsed::NeedMore(buf.len() + 1);
        }
        _ => return Parsed::Bad,
    };
    let mut body_len = 0usize;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(n) if n <= MAX_BODY => body_len = n,
                _ => return Parsed::Bad,
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Bad; // chunked bodies are not needed by the benchmark clients
        } else if h.name.eq_ignore_ascii_case("connection")
            && h.value.eq_ignore_ascii_case(b"close")
        {
            *close = true;
        }
    }
    if req.version == Some(0) {
        *close = true;
    }
    let total = head + body_len;
    if buf.len() < total {
        return Parsed::NeedMore(total);
    }
    let body = &buf[head..total];
    match (req.method, req.path) {
        (Some("GET"), Some("/")) => respond(out, "200 OK", date, b"Hello, world!"),
        (Some("POST"), Some("/echo")) => respond(out, "200 OK", date, body),
        _ => respond(out, "404 Not Found", date, b"404 Not Found"),
    }
    Parsed::Answered(total)
}

/// Appends one response with hyper's header order: content-length, then date.
fn respond(out: &mut Vec<u8>, status: &str, date: &[u8; 29], body: &[u8]) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    // Writing into a Vec cannot fail.
    let _ = write!(out, "\r\ncontent-length: {}\r\ndate: ", body.len());
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

impl DateCache {
    fn new() -> DateCache {
        let mut d = DateCache {
            second: u64::MAX,
            text: [b' '; 29],
        };
        d.refresh();
        d
    }

    /// Re-formats the date when the second has changed.
    fn refresh(&mut self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now != self.second {
            self.second = now;
            self.text = imf_fixdate(now);
        }
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7) for seconds since the Unix epoch.
fn imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let text = format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    let mut out = [b' '; 29];
    let n = text.len().min(29);
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_rfc_examples() {
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        let date = imf_fixdate(0);
        let reqs = b"GET / HTTP/1.1\r\nhost: a\r\n\r\nPOST /echo HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET /x HTTP/1.1\r\n\r\nGET";
        let mut out = Vec::new();
        let mut close = false;
        let mut at = 0;
        while let Parsed::Answered(n) = answer(&reqs[at..], &mut out, &date, &mut close) {
            at += n;
        }
        assert_eq!(&reqs[at..], b"GET");
        let text = String::from_utf8(out).expect("ascii");
        let d = "Thu, 01 Jan 1970 00:00:00 GMT";
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: {d}\r\n\r\nHello, world!\
                 HTTP/1.1 200 OK\r\ncontent-length: 3\r\ndate: {d}\r\n\r\nabc\
                 HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\ndate: {d}\r\n\r\n404 Not Found"
            )
        );
        assert!(!close);
    }

    #[test]
    fn partial_body_waits_for_the_rest() {
        let date = imf_fixdate(0);
        let mut out = Vec::new();
        let mut close = false;
        let req = b"POST /echo HTTP/1.1\r\ncontent-length: 10\r\n\r\nabc";
        match answer(req, &mut out, &date, &mut close) {
            Parsed::NeedMore(total) => assert_eq!(total, req.len() - 3 + 10),
            _ => panic!("a partial body must wait"),
        }
        assert!(out.is_empty());
        let bad = b"POST /echo HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(matches!(
            answer(bad, &mut out, &date, &mut close),
            Parsed::Bad
        ));
    }
}
