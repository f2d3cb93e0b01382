//! The echo server's graceful shutdown: on SIGTERM (or SIGINT) it stops accepting, the
//! open connection goes on echoing, and the process exits 0 once that connection closes,
//! or cuts it when `--grace` ends; its `shutdown` line counts both.
//!
//! The server runs through `cargo run` (`support::example`: the same
//! profile and features as this test), which execs it in place: the child's pid is the server's.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::example::{ExampleServer, echo};

/// Deadline for the server to say where it listens: `cargo run` may first build it
/// (about a minute on a cold debug build).
const START_DEADLINE: Duration = Duration::from_secs(120);
/// Deadline for anything the server does after a signal. Far beyond what a loaded
/// machine needs (well under a second), and below the 60 s grace of the test that must
/// exit before its grace ends.
const STEP_DEADLINE: Duration = Duration::from_secs(30);

/// Starts `echo_server --addr 127.0.0.1:0 --workers 2 --grace <grace>`.
fn start(grace: &str) -> ExampleServer {
    let args = ["--addr", "127.0.0.1:0", "--workers", "2", "--grace", grace];
    ExampleServer::start("echo_server", &args, "echo_server run", START_DEADLINE)
}

fn connect(addr: SocketAddr) -> TcpStream {
    support::example::connect(addr, STEP_DEADLINE)
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
    let mut server = start("60");
    let mut conn = connect(server.addr);
    echo(&mut conn, b"before");

    server.signal(libc::SIGTERM);
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
    let status = server.exit(STEP_DEADLINE);
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
    let mut server = start("0.5");
    let mut conns: Vec<TcpStream> = (0..3).map(|_| connect(server.addr)).collect();
    for c in &mut conns {
        echo(c, b"hello");
    }

    server.signal(libc::SIGINT);
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
    let status = server.exit(STEP_DEADLINE);
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        server.line(),
        "shutdown on SIGINT: 3 connections open, 3 cut after the 500ms grace"
    );
}
