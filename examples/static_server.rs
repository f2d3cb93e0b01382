//! A minimal HTTP/1.1 static file server on ringio: GET and HEAD of the files under a
//! root directory, keep-alive, and the body sent with `TcpStream::send_file` (splice
//! through a pipe: the bytes never enter user space) or, for comparison, read into a
//! buffer and written (`--mode copy`).
//!
//! ```text
//! cargo run --release --example static_server -- --root ./public --addr 127.0.0.1:8080
//! curl -v http://127.0.0.1:8080/index.html
//! wrk -c 100 -d 5s http://127.0.0.1:8080/big.bin
//! ```
//!
//! Flags: `--root DIR` (default `.`), `--addr` (loopback only, default 127.0.0.1:8080),
//! `--workers` (cores, default 1), `--mode sendfile|copy` (default sendfile). The first
//! line printed is `listening on ADDR`.
//!
//! What it answers: 200 with Content-Length and a Content-Type from the extension; 404
//! for a missing file, or a directory without `index.html`; 403 for a path that tries to
//! leave the root (`..` segments, percent-encoded dots or slashes, `//` or a target that
//! is not a path, NUL bytes, or a symbolic link that resolves outside the root: every
//! path is canonicalised and must stay under the root's canonical path); 405 for other
//! methods; 400 for a request that cannot be parsed.

#[path = "common/per_core.rs"]
mod per_core;
#[path = "common/rlimit.rs"]
mod rlimit;

use clap::{Parser, ValueEnum};
use ringio::fs::File;
use ringio::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

/// Bytes of request head a connection may buffer before it is answered 431 and closed.
const MAX_HEAD: usize = 16 * 1024;
/// Headers parsed per request; more gives 431.
const MAX_HEADERS: usize = 32;
/// Read size per file read in `--mode copy`: large enough that a 1 MiB body takes 16
/// reads and writes, small enough to keep 100 connections' buffers at 6.4 MiB.
const COPY_CHUNK: usize = 64 * 1024;

/// How a body goes out.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    /// `TcpStream::send_file`: splice, no copy through user space.
    Sendfile,
    /// Read into a buffer, then `write_all`.
    Copy,
}

/// ringio static file server.
#[derive(Parser, Debug)]
#[command(about = "HTTP/1.1 static file server (GET and HEAD) on ringio")]
struct Args {
    /// Directory whose files are served.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Cores to serve on.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// How bodies are sent.
    #[arg(long, value_enum, default_value_t = Mode::Sendfile)]
    mode: Mode,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        eprintln!("--addr {} is not a loopback address", args.addr);
        return ExitCode::FAILURE;
    }
    // Each download holds its socket, its file and a pipe: well past the usual soft
    // limit of 1,024 descriptors at a thousand connections.
    if let Err(e) = rlimit::raise_nofile_limit() {
        eprintln!("cannot raise RLIMIT_NOFILE ({e}); serving with the limit as it is");
    }
    let root = match args.root.canonicalize() {
        Ok(r) if r.is_dir() => r,
        Ok(r) => {
            eprintln!("--root {}: not a directory", r.display());
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("--root {}: {e}", args.root.display());
            return ExitCode::FAILURE;
        }
    };
    let rt = match ringio::Runtime::builder()
        .workers(args.workers.max(1))
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = per_core::Bound::new();
    let (addr, mode, bound, root) = (args.addr, args.mode, &bound, &root);
    let ends = rt.run_per_core(|core| async move {
        let listener = per_core::bind(core, addr, bound).await?;
        if core == 0 {
            let local = listener.local_addr().ok()?;
            println!("listening on {local}");
            per_core::announce(bound, local);
        }
        let root = Rc::new(root.clone());
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let root = root.clone();
                    ringio::spawn(async move {
                        if let Err(e) = serve(stream, &root, mode).await
                            && !matches!(
                                e.kind(),
                                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                            )
                        {
                            eprintln!("connection: {e}");
                        }
                    });
                }
                Err(e) => eprintln!("accept: {e}"),
            }
        }
        #[allow(unreachable_code)]
        Some(())
    });
    if ends.iter().any(Option::is_none) {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// One parsed request: what the response depends on.
struct Request {
    head_only: bool,
    method_ok: bool,
    target: String,
    keep_alive: bool,
    /// A request body follows (ignored, so the connection closes after the reply).
    has_body: bool,
}

/// Serves requests on one connection until the peer closes or asks to.
async fn serve(stream: TcpStream, root: &Path, mode: Mode) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = Vec::with_capacity(4096);
    loop {
        let req = loop {
            match parse(&pending) {
                Ok(Some((req, used))) => {
                    pending.drain(..used);
                    break req;
                }
                Ok(None) if pending.len() < MAX_HEAD => {}
                Ok(None) | Err(431) => {
                    return respond_error(&stream, 431, "Request Header Fields Too Large", false)
                        .await;
                }
                Err(_) => return respond_error(&stream, 400, "Bad Request", false).await,
            }
            chunk.clear();
            let (res, buf) = stream.read(chunk).await;
            chunk = buf;
            if res? == 0 {
                return Ok(()); // the peer closed
            }
            pending.extend_from_slice(&chunk);
        };
        let keep = req.keep_alive && !req.has_body;
        if !req.method_ok {
            respond_error(&stream, 405, "Method Not Allowed", keep).await?;
        } else {
            match resolve(root, &req.target).await {
                Ok(path) => send(&stream, &path, &req, keep, mode).await?,
                Err((code, reason)) => respond_error(&stream, code, reason, keep).await?,
            }
        }
        if !keep {
            return Ok(());
        }
    }
}

/// `Ok(None)`: the head is not complete yet. `Err(status)`: answer that and close.
fn parse(buf: &[u8]) -> Result<Option<(Request, usize)>, u16> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(_) => return Err(400),
    };
    let method = req.method.unwrap_or("");
    let version = req.version.unwrap_or(1);
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
    };
    let connection = header("connection").unwrap_or_default();
    let keep_alive = if version == 1 {
        !connection.contains("close")
    } else {
        connection.contains("keep-alive")
    };
    let has_body = header("content-length").is_some_and(|v| v.trim() != "0")
        || header("transfer-encoding").is_some();
    Ok(Some((
        Request {
            head_only: method == "HEAD",
            method_ok: method == "GET" || method == "HEAD",
            target: req.path.unwrap_or("").to_owned(),
            keep_alive,
            has_body,
        },
        used,
    )))
}

/// The file a request target names under `root` (already canonical), or the status to
/// answer: 403 for anything that could leave the root, 404 if there is no such file.
async fn resolve(root: &Path, target: &str) -> Result<PathBuf, (u16, &'static str)> {
    const FORBIDDEN: (u16, &str) = (403, "Forbidden");
    const NOT_FOUND: (u16, &str) = (404, "Not Found");
    let path = target.split(['?', '#']).next().unwrap_or("");
    // Origin-form only (RFC 9112, 3.2.1): an absolute-form or `*` target is refused.
    let Some(rel) = path.strip_prefix('/') else {
        return Err(FORBIDDEN);
    };
    // One trailing slash names the directory itself.
    let rel = rel.strip_suffix('/').unwrap_or(rel);
    let mut out = root.to_path_buf();
    for raw in rel.split('/').filter(|_| !rel.is_empty()) {
        let seg = percent_decode(raw).ok_or((400, "Bad Request"))?;
        // An encoded slash or backslash, a NUL, a dot segment (also encoded: `%2e%2e`)
        // and an empty segment (`//etc`: an absolute path) are all refused.
        let bad_byte = seg.iter().any(|&b| b == b'/' || b == b'\\' || b == 0);
        if bad_byte || seg.is_empty() || seg == b".." || seg == b"." {
            return Err(FORBIDDEN);
        }
        let seg = std::str::from_utf8(&seg).map_err(|_| NOT_FOUND)?;
        out.push(seg);
    }
    // Symbolic links may point anywhere: the resolved path must stay under the root.
    // (canonicalize runs on the blocking pool, the stats go through the ring: the core
    // never blocks on the disk.)
    let mut real = ringio::fs::canonicalize(&out)
        .await
        .map_err(|_| NOT_FOUND)?;
    if !real.starts_with(root) {
        return Err(FORBIDDEN);
    }
    let is = |m: std::io::Result<ringio::fs::Metadata>, dir: bool| {
        m.is_ok_and(|m| if dir { m.is_dir() } else { m.is_file() })
    };
    if is(ringio::fs::metadata(&real).await, true) {
        real = real.join("index.html");
        if !is(ringio::fs::metadata(&real).await, false) {
            return Err(NOT_FOUND);
        }
    }
    Ok(real)
}

/// `%XX` decoded; `None` for a malformed escape.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The Content-Type for a file name's extension.
fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// A short text response for an error status.
async fn respond_error(stream: &TcpStream, code: u16, reason: &str, keep: bool) -> io::Result<()> {
    let body = format!("{code} {reason}\n");
    let conn = if keep { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: {conn}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.into_bytes()).await.0
}

/// A 200 with the file's length and type, then (unless HEAD) its bytes.
async fn send(
    stream: &TcpStream,
    path: &Path,
    req: &Request,
    keep: bool,
    mode: Mode,
) -> io::Result<()> {
    let file = match File::open(path).await {
        Ok(f) => f,
        Err(_) => return respond_error(stream, 404, "Not Found", keep).await,
    };
    let len = file.metadata().await?.len();
    let conn = if keep { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: {}\r\nConnection: {conn}\r\n\r\n",
        content_type(path)
    );
    stream.write_all(head.into_bytes()).await.0?;
    if req.head_only {
        return Ok(());
    }
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large"))?;
    let sent = match mode {
        Mode::Sendfile => stream.send_file(&file, 0, len).await?,
        Mode::Copy => {
            let mut buf = Vec::with_capacity(COPY_CHUNK.min(len.max(1)));
            let mut at = 0;
            while at < len {
                buf.clear();
                let (res, b) = file.read_at(buf, at as u64).await;
                let n = res?;
                if n == 0 {
                    break;
                }
                let (res, b) = stream.write_all(b).await;
                res?;
                buf = b;
                at += n;
            }
            at
        }
    };
    if sent < len {
        // The file shrank after its length was sent: the response cannot be completed.
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{}: shrank while sent", path.display()),
        ));
    }
    Ok(())
}
