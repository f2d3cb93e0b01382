//! The examples as child processes. Examples have no `CARGO_BIN_EXE_*`, so they run
//! through `cargo run`, in the test's profile and with the test's features: the build it
//! makes is the one `cargo test` already made, not a second one. `cargo run` execs the
//! example in place, so the child's pid is the example's. Also a server example as a
//! child ([`ExampleServer`]) and std-side echo helpers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The library features this test binary was built with.
fn features() -> Vec<&'static str> {
    [
        ("fault-injection", cfg!(feature = "fault-injection")),
        ("futures-core", cfg!(feature = "futures-core")),
        ("futures-io", cfg!(feature = "futures-io")),
        ("hyper", cfg!(feature = "hyper")),
        ("rustls", cfg!(feature = "rustls")),
        ("tokio-io", cfg!(feature = "tokio-io")),
        ("tracing", cfg!(feature = "tracing")),
    ]
    .into_iter()
    .filter_map(|(f, on)| on.then_some(f))
    .collect()
}

/// `cargo run --quiet --example <example>` in this test's profile and features; the
/// caller adds `--` and the example's arguments.
pub fn cargo_example(example: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--example", example]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let features = features();
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    cmd
}

/// An example server run through [`cargo_example`], killed when dropped (also when the
/// test fails).
pub struct ExampleServer {
    pub child: Child,
    stdout: BufReader<ChildStdout>,
    /// Where its `listening on <addr>` line says it listens.
    pub addr: SocketAddr,
}

impl ExampleServer {
    /// Starts `example -- <args>` (stdout piped, stderr dropped) and reads its first line,
    /// `listening on <addr> ...`. The read blocks until the line comes, so a watchdog
    /// named `what` kills the test past `limit` (`cargo run` may first build the example).
    pub fn start(example: &str, args: &[&str], what: &'static str, limit: Duration) -> Self {
        let mut child = cargo_example(example)
            .arg("--")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo can be started");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut server = ExampleServer {
            child,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        super::watchdog(what, limit);
        let line = server.line();
        server.addr = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        server
    }

    /// The next line of its stdout (empty at its end).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("reading the server's stdout");
        line.trim_end().to_owned()
    }

    /// Sends it signal `signo`.
    pub fn signal(&self, signo: i32) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) only sends a signal, to the child this test started.
        assert_eq!(unsafe { libc::kill(pid, signo) }, 0, "kill({pid}, {signo})");
    }

    /// Waits for it to exit within `limit`.
    pub fn exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting on the server") {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "the server still runs {limit:?} after its exit was due"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A std connection to `addr` whose reads give up after `read_limit`.
pub fn connect(addr: SocketAddr, read_limit: Duration) -> TcpStream {
    let conn = TcpStream::connect(addr).expect("connect to the server");
    conn.set_read_timeout(Some(read_limit)).unwrap();
    conn
}

/// Sends `msg` on `conn` and reads its echo.
pub fn echo(conn: &mut TcpStream, msg: &[u8]) {
    conn.write_all(msg).expect("send to the server");
    let mut got = vec![0u8; msg.len()];
    conn.read_exact(&mut got).expect("read the echo");
    assert_eq!(got, msg);
}
