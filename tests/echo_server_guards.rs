//! The echo server's guards. `--max-conns`: past the limit a new connection is accepted
//! and closed at once (its client reads end of stream), the connections already open go
//! on being served, a slot freed by a closed connection serves the next one, and the
//! shutdown output counts the connections closed over the limit. A second server on the
//! port of a running one stops with `AddrInUse` instead of sharing the port.
//!
//! The server runs through `cargo run` (`support::example`: the same profile and
//! features as this test), which execs it in place: the child's pid is the server's.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::example::{ExampleServer, echo};

/// Deadline for the server to say where it listens: `cargo run` may first build it.
const START_DEADLINE: Duration = Duration::from_secs(180);
/// Deadline for anything the server does once asked: far beyond what a loaded machine
/// needs.
const STEP_DEADLINE: Duration = Duration::from_secs(30);

/// Starts `echo_server --addr 127.0.0.1:0 --workers 1 --max-conns <max>`.
fn start(max: &str) -> (ExampleServer, SocketAddr) {
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--max-conns",
        max,
        "--grace",
        "0",
    ];
    let server = ExampleServer::start(
        "echo_server",
        &args,
        "echo_server max-conns",
        START_DEADLINE,
    );
    let addr = server.addr;
    (server, addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    support::example::connect(addr, STEP_DEADLINE)
}

/// Whether the server closed `conn` without a byte: end of stream or a reset.
fn closed_at_once(conn: &mut TcpStream) -> bool {
    let mut buf = [0u8; 8];
    match conn.read(&mut buf) {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Ok(n) => panic!("{n} bytes from a connection over the limit"),
        Err(e) => {
            panic!("a connection over the limit was not closed within {STEP_DEADLINE:?}: {e}")
        }
    }
}

#[test]
fn connections_past_max_conns_are_closed_at_once_and_counted() {
    let _serial = support::serial();
    let (mut server, addr) = start("2");
    let mut a = connect(addr);
    let mut b = connect(addr);
    echo(&mut a, b"first");
    echo(&mut b, b"second");

    // The third is over the limit: accepted and closed, unserved.
    let mut c = connect(addr);
    assert!(closed_at_once(&mut c));
    // The two open ones are still served.
    echo(&mut a, b"still served");
    echo(&mut b, b"still served");

    // Closing one frees its slot once the server has seen it go: retry until a new
    // connection is served (each refused try is counted too).
    drop(a);
    let start = Instant::now();
    let mut d = loop {
        let mut d = connect(addr);
        d.write_all(b"x").unwrap();
        let mut got = [0u8; 1];
        match d.read(&mut got) {
            Ok(1) => break d,
            _ => assert!(
                start.elapsed() < STEP_DEADLINE,
                "no connection served {STEP_DEADLINE:?} after one closed"
            ),
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    echo(&mut d, b"in the freed slot");

    server.signal(libc::SIGTERM);
    let shutdown = server.line();
    assert!(
        shutdown.starts_with("shutdown on SIGTERM: 2 connections open"),
        "{shutdown}"
    );
    let counted = server.line();
    let refused: u64 = counted
        .strip_prefix("max-conns: ")
        .and_then(|rest| rest.strip_suffix(" connections closed at once, over the limit of 2"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected max-conns line: {counted:?}"));
    assert!(refused >= 1, "{counted}");
    drop((b, c, d));
}

#[test]
fn a_second_server_on_the_port_stops_with_addr_in_use() {
    let _serial = support::serial();
    let (server, addr) = start("10");
    let mut second = support::example::cargo_example("echo_server")
        .args(["--", "--addr", &addr.to_string(), "--workers", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo can be started");
    // It must stop by itself at its first bind (the example is built already: `cargo run`
    // only checks it); one that shares the port runs on and is killed here.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > STEP_DEADLINE {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second server still runs on {addr} after {STEP_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "a second server started on {addr}");
    let mut stderr = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("in use"),
        "{stderr}"
    );
    // The first one still serves.
    let mut conn = connect(addr);
    echo(&mut conn, b"still mine");
    drop(server);
}
