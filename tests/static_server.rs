//! The `static_server` example end to end, in both of its modes (`sendfile`, `copy`):
//! GET of a 1 MiB file byte-exact (twice on one kept-alive connection), 1,000 concurrent
//! downloads byte-exact, HEAD with the length and no body, path traversal refused with
//! 403, a missing file 404, other methods 405.
//!
//! The server runs through `cargo run` (`support::example`: the same
//! profile and features as this test, so nothing is rebuilt beyond the example), on
//! port 0; its first line says where it listens.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Deadline for the server to say where it listens: it may first have to build the
/// example (about a minute on a cold debug build).
const START_DEADLINE: Duration = Duration::from_secs(180);
/// Per-socket read and write timeout: a hung server fails the test instead of blocking it.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const MIB: usize = 1 << 20;
/// Downloads of the 1 MiB file running at once.
const DOWNLOADS: usize = 1000;
const MODES: [&str; 2] = ["sendfile", "copy"];

/// A server process, killed on drop, with its root directory removed.
struct Server {
    child: Child,
    addr: SocketAddr,
    root: PathBuf,
}

impl Server {
    fn start(mode: &str) -> Server {
        let root = std::env::temp_dir().join(format!(
            "ringio-static-{mode}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("big.bin"), body()).unwrap();
        std::fs::write(root.join("sub/index.html"), b"<p>index</p>").unwrap();
        // A secret next to the root, which traversal attempts aim at.
        std::fs::write(root.with_extension("secret"), b"secret").unwrap();
        let mut cmd = support::example::cargo_example("static_server");
        let root_arg = root.to_str().unwrap().to_owned();
        let mut child = cmd
            .args([
                "--",
                "--addr",
                "127.0.0.1:0",
                "--mode",
                mode,
                "--root",
                &root_arg,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cargo can be started");
        let out = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {} // keep draining
        });
        let line = match rx.recv_timeout(START_DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("static_server said nothing within {START_DEADLINE:?}");
            }
        };
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        Server { child, addr, root }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_file(self.root.with_extension("secret"));
    }
}

/// The served file's bytes.
fn body() -> Vec<u8> {
    (0..MIB)
        .map(|i| (i % 253) as u8 ^ (i >> 10) as u8)
        .collect()
}

/// A response: status, Content-Length, body.
struct Response {
    status: u16,
    length: usize,
    body: Vec<u8>,
}

/// Sends `method target` on `s` and reads one response (its body unless `head`).
fn request(s: &mut TcpStream, method: &str, target: &str) -> Response {
    write!(s, "{method} {target} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head[9..12].parse().unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; if method == "HEAD" { 0 } else { length }];
    s.read_exact(&mut body).expect("the whole body");
    Response {
        status,
        length,
        body,
    }
}

#[test]
fn get_and_head_are_exact_and_kept_alive() {
    let _s = support::serial();
    support::watchdog(
        "get_and_head_are_exact_and_kept_alive",
        Duration::from_secs(400),
    );
    for mode in MODES {
        let server = Server::start(mode);
        let mut s = server.connect();
        for round in 0..2 {
            let r = request(&mut s, "GET", "/big.bin");
            assert_eq!((r.status, r.length), (200, MIB), "{mode}: round {round}");
            assert!(r.body == body(), "{mode}: round {round}: body differs");
        }
        let r = request(&mut s, "HEAD", "/big.bin");
        assert_eq!((r.status, r.length), (200, MIB), "{mode}: HEAD");
        // No body followed the HEAD: the next response starts right away.
        let r = request(&mut s, "GET", "/sub/");
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"<p>index</p>"[..]),
            "{mode}"
        );
        let r = request(&mut s, "POST", "/big.bin");
        assert_eq!(r.status, 405, "{mode}: POST");
    }
}

#[test]
fn a_thousand_concurrent_downloads_are_exact() {
    let _s = support::serial();
    support::watchdog(
        "a_thousand_concurrent_downloads_are_exact",
        Duration::from_secs(400),
    );
    let limit = support::rlimit::raise_nofile_limit().expect("raise the descriptor limit");
    assert!(
        limit >= 2 * DOWNLOADS as u64,
        "RLIMIT_NOFILE {limit} is too low"
    );
    let want = std::sync::Arc::new(body());
    for mode in MODES {
        let server = Server::start(mode);
        // Every connection is open before the first request goes out.
        let conns: Vec<_> = (0..DOWNLOADS).map(|_| server.connect()).collect();
        let clients: Vec<_> = conns
            .into_iter()
            .map(|mut s| {
                let want = want.clone();
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn(move || {
                        let r = request(&mut s, "GET", "/big.bin");
                        (r.status, r.body == *want)
                    })
                    .expect("client thread")
            })
            .collect();
        for (i, c) in clients.into_iter().enumerate() {
            let (status, exact) = c.join().expect("client thread");
            assert_eq!(status, 200, "{mode}: client {i}");
            assert!(exact, "{mode}: client {i}: body differs");
        }
    }
}

#[test]
fn traversal_is_forbidden_and_missing_is_not_found() {
    let _s = support::serial();
    support::watchdog("traversal_is_forbidden", Duration::from_secs(400));
    for mode in MODES {
        let server = Server::start(mode);
        let name = server.root.with_extension("secret");
        let secret = name.file_name().unwrap().to_str().unwrap().to_owned();
        let abs = name.to_str().unwrap().to_owned();
        let attempts = [
            format!("/../{secret}"),
            format!("/sub/../../{secret}"),
            format!("/%2e%2e/{secret}"),
            format!("/%2E%2E/{secret}"),
            format!("/..%2f{secret}"),
            format!("/sub%2f..%2f..%2f{secret}"),
            format!("/{abs}"), // `//tmp/...`: an absolute path
            format!("/%2f{}", &abs[1..]),
            "/big.bin%00.txt".to_owned(),
            format!("http://localhost/../{secret}"),
        ];
        let mut s = server.connect();
        for target in &attempts {
            let r = request(&mut s, "GET", target);
            assert_eq!(r.status, 403, "{mode}: {target}");
            assert!(
                !r.body.windows(6).any(|w| w == b"secret"),
                "{mode}: {target} leaked"
            );
        }
        let r = request(&mut s, "GET", "/no-such-file");
        assert_eq!(r.status, 404, "{mode}");
        let r = request(&mut s, "GET", "/sub/nothing/");
        assert_eq!(r.status, 404, "{mode}");
    }
}
