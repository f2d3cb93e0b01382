//! The echo server's graceful shutdown: on SIGTERM (or SIGINT) it stops accepting, the
//! open connection goes on echoing, and the process exits 0 once that connection closes,
//! or cuts it when `--grace` ends; its `shutdown` line counts both.
//!
//! The server runs through `cargo run` (`support::example`: the same
//! profile and features as this test), which execs it in place: the child's pid is the server's.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Deadline for the server to say where it listens: `cargo run` may first build it
/// (about a minute on a cold debug build).
const START_DEADLINE: Duration = Duration::from_secs(120);
/// Deadline for anything the server does after a signal. Far beyond what a loaded
/// machine needs (well under a second), and below the 60 s grace of the test that must
/// exit before its grace ends.
const STEP_DEADLINE: Duration = Duration::from_secs(30);

/// The echo server example, killed when this is dropped (also when the test fails).
struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `echo_server --addr 127.0.0.1:0 --workers 2 --grace <grace>` and reads its
    /// `listening on <addr>` line.
    fn start(grace: &str) -> Server {
        let mut cmd = support::example::cargo_example("echo_server");
        let mut child = cmd
            .args([
                "--",
                "--addr",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--grace",
                grace,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo can be started");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut server = Server {
            child,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        // A watchdog, not a timeout on the read: the read blocks until the line comes.
        support::watchdog("echo_server run", START_DEADLINE);
        let line = server.line();
        let rest = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        server.addr = rest
            .split_whitespace()
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        server
    }

    /// The next line of its stdout (empty at its end).
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("reading the server's stdout");
        line.trim_end().to_owned()
    }

    fn send(&self, signo: i32) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) only sends a signal, to the child this test started.
        assert_eq!(unsafe { libc::kill(pid, signo) }, 0, "kill({pid}, {signo})");
    }

    /// Waits for it to exit within [`STEP_DEADLINE`].
    fn exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting on the server") {
                return status;
            }
            assert!(
                start.elapsed() < STEP_DEADLINE,
                "the server still runs {STEP_DEADLINE:?} after its shutdown was due"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends `msg` and reads its echo.
fn echo(conn: &mut TcpStream, msg: &[u8]) {
    conn.write_all(msg).expect("send to the server");
    let mut got = vec![0u8; msg.len()];
    conn.read_exact(&mut got).expect("read the echo");
    assert_eq!(got, msg);
}

fn connect(addr: SocketAddr) -> TcpStream {
    let conn = TcpStream::connect(addr).expect("connect to the server");
    conn.set_read_timeout(Some(STEP_DEADLINE)).unwrap();
    conn
}

/// Whether a new connection is served: refused, reset or closed unanswered means no.
fn new_connection_served(addr: SocketAddr) -> bool {
    let Ok(mut conn) = TcpStream::connect(addr) else {
        return false; // refused: nothing listens
    };
    // Accepted by the kernel before the listener closed: it must not be echoed. A
    // server that still accepts answers within a loaded machine's delay; 500 ms is
    // many times that, and a reply that never comes is the expected case.
    conn.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    if conn.write_all(b"ping").is_err() {
        return false;
    }
    let mut buf = [0u8; 4];
    match conn.read(&mut buf) {
        Ok(n) => n > 0,
        Err(e) => !matches!(
            e.kind(),
            ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionReset
        ),
    }
}

#[test]
fn sigterm_stops_accepting_and_exits_once_the_open_connection_closes() {
    let _serial = support::serial();
    let mut server = Server::start("60");
    let mut conn = connect(server.addr);
    echo(&mut conn, b"before");

    server.send(libc::SIGTERM);
    // Refused once every core has closed its listener.
    let start = Instant::now();
    while new_connection_served(server.addr) {
        assert!(
            start.elapsed() < STEP_DEADLINE,
            "still accepting {STEP_DEADLINE:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    echo(&mut conn, b"during the grace period");
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a connection open"
    );

    drop(conn);
    let status = server.exit();
    assert!(status.success(), "exit status {status}");
    // Probes served before every core stopped accepting may count as open too; each
    // closed by this test, none is cut.
    let line = server.line();
    let open: usize = line
        .strip_prefix("shutdown on SIGTERM: ")
        .and_then(|rest| rest.strip_suffix(" connections open, 0 cut after the 60s grace"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected shutdown line: {line:?}"));
    assert!(open >= 1, "the open connection was not counted: {line:?}");
}

#[test]
fn sigint_cuts_connections_still_open_when_the_grace_ends() {
    let _serial = support::serial();
    let mut server = Server::start("0.5");
    let mut conns: Vec<TcpStream> = (0..3).map(|_| connect(server.addr)).collect();
    for c in &mut conns {
        echo(c, b"hello");
    }

    server.send(libc::SIGINT);
    for c in &mut conns {
        // The server closes it: end of stream (or a reset), within the step deadline.
        let mut buf = [0u8; 16];
        match c.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("{n} unexpected bytes from a cut connection"),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("not cut within {STEP_DEADLINE:?} of SIGINT: {e}"),
        }
    }
    let status = server.exit();
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        server.line(),
        "shutdown on SIGINT: 3 connections open, 3 cut after the 500ms grace"
    );
}
