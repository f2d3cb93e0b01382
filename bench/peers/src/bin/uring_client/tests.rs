//! Tests of peer-uring-client against a thread-per-connection echo server on loopback
//! that can change, repeat or withhold an echo.

use super::*;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};

/// What the test server answers to message `n` of connection `conn`.
enum Reply {
    Echo,
    /// The message with its middle byte changed.
    Flip,
    /// The connection's previous message.
    Previous,
    /// Nothing: the connection is closed.
    Close,
}

/// An echo server on a loopback port, a thread per connection, that reads `size`-byte
/// messages and answers each as `reply` says, in two writes so that the client sees
/// short receives.
fn server(size: usize, reply: fn(usize, u64) -> Reply) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = l.local_addr().expect("the listener's address");
    std::thread::spawn(move || {
        // The client connects one connection at a time, so accept order is its order.
        for (conn, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let _ = s.set_nodelay(true);
                let mut prev = vec![0u8; size];
                let mut msg = vec![0u8; size];
                for n in 0.. {
                    if s.read_exact(&mut msg).is_err() {
                        return;
                    }
                    let mut out = msg.clone();
                    match reply(conn, n) {
                        Reply::Echo => {}
                        Reply::Flip => out[size / 2] ^= 1,
                        Reply::Previous => out.copy_from_slice(&prev),
                        Reply::Close => return,
                    }
                    let (a, b) = out.split_at(size / 2);
                    if s.write_all(a).and_then(|()| s.write_all(b)).is_err() {
                        return;
                    }
                    std::mem::swap(&mut prev, &mut msg);
                }
            });
        }
    });
    addr
}

/// A run of `conns` connections against `addr`; an SQ of 4 entries, smaller than the
/// 2 SQEs per connection of the first turn, so pushing has to submit early.
fn client(addr: SocketAddr, conns: usize, size: usize, secs: u64) -> io::Result<Outcome> {
    run(&Args {
        load: LoadArgs {
            addr,
            conns,
            size,
            duration: Duration::from_secs(secs),
            warmup: Duration::ZERO,
        },
        cpu: None,
        entries: 4,
    })
}

#[test]
fn patterns_differ_per_connection_and_per_request() {
    for size in [2, 3, 8, 13, 64, 1024] {
        let at = |conn, seq| {
            let mut b = vec![0u8; size];
            fill(&mut b, conn, seq);
            b
        };
        let base = at(7, 100);
        assert_eq!(
            base,
            at(7, 100),
            "size {size}: the same request, other bytes"
        );
        for (conn, seq) in [(7, 99), (7, 101), (6, 100), (8, 100), (100, 7)] {
            assert_ne!(
                base,
                at(conn, seq),
                "size {size}: ({conn}, {seq}) = (7, 100)"
            );
        }
    }
}

#[test]
fn a_clean_echo_is_measured_with_every_byte_checked() {
    let addr = server(1000, |_, _| Reply::Echo);
    let o = client(addr, 8, 1000, 1).expect("a clean echo passes");
    assert!(o.requests > 0, "no request completed in 1 s");
    assert!(!o.hist.is_empty() && o.hist.len() <= o.requests);
    assert!(o.stuck.is_empty(), "stuck: {:?}", o.stuck);
}

#[test]
fn a_changed_byte_fails_naming_the_connection_and_request() {
    let addr = server(100, |c, n| {
        if c == 2 && n == 3 {
            Reply::Flip
        } else {
            Reply::Echo
        }
    });
    let e = client(addr, 4, 100, 20)
        .err()
        .expect("a changed byte must fail the run");
    let msg = e.to_string();
    assert!(
        msg.contains("connection 2 ") && msg.contains("request 3 "),
        "{msg}"
    );
    assert!(msg.contains("echo byte 50 of 100"), "{msg}");
}

#[test]
fn an_echo_of_the_previous_request_is_called_stale() {
    let addr = server(64, |c, n| {
        if c == 1 && n == 5 {
            Reply::Previous
        } else {
            Reply::Echo
        }
    });
    let e = client(addr, 3, 64, 20)
        .err()
        .expect("a stale echo must fail the run");
    let msg = e.to_string();
    assert!(
        msg.contains("connection 1 ") && msg.contains("stale echo"),
        "{msg}"
    );
}

#[test]
fn a_closed_connection_fails_the_run() {
    let addr = server(64, |c, n| {
        if c == 0 && n == 1 {
            Reply::Close
        } else {
            Reply::Echo
        }
    });
    let e = client(addr, 2, 64, 20)
        .err()
        .expect("EOF must fail the run");
    let msg = e.to_string();
    assert!(
        msg.contains("connection 0 ") && msg.contains("EOF"),
        "{msg}"
    );
}

#[test]
fn a_refused_connect_names_the_connection() {
    // A port that was just free: bind, note it, close.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port");
    let e = client(addr, 2, 64, 1)
        .err()
        .expect("a refused connect must fail");
    assert!(e.to_string().contains("connection 0 of 2"), "{e}");
}
