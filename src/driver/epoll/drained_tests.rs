//! Rule 9: a short receive on a stream socket parks the next receive until epoll reports
//! the socket readable again; datagram sockets are never marked drained.

use super::Epoll;
use super::test_sockets::{epoll, pair, send};
use crate::driver::Completion;
use io_uring::{opcode, types};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// Pushes a receive of up to `buf.len()` bytes with key `key`.
fn recv(ep: &mut Epoll, fd: &OwnedFd, buf: &mut [u8], key: u64) {
    recv_flags(ep, fd, buf, key, 0);
}

/// [`recv`] with recv(2) `flags`.
fn recv_flags(ep: &mut Epoll, fd: &OwnedFd, buf: &mut [u8], key: u64, flags: i32) {
    let sqe = opcode::Recv::new(
        types::Fd(fd.as_raw_fd()),
        buf.as_mut_ptr(),
        buf.len() as u32,
    )
    .flags(flags)
    .build()
    .user_data(key);
    ep.push(&sqe);
}

/// The CQEs posted so far: each op's key and result.
fn done(ep: &mut Epoll) -> Vec<(u64, i32)> {
    let mut out: Vec<(u64, Completion)> = Vec::new();
    ep.take_done(&mut out);
    out.into_iter().map(|(k, c)| (k, c.result)).collect()
}

#[test]
fn a_short_stream_receive_parks_the_next_until_the_edge() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_STREAM);
    let mut buf = [0u8; 64];
    send(&b, b"hello");
    recv(&mut ep, &a, &mut buf, 1);
    let first = done(&mut ep);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0], (1, 5));
    // More bytes arrive before the next receive is pushed: it is parked all the same
    // (the socket was drained), and the edge those bytes brought finishes it.
    send(&b, b"world!");
    recv(&mut ep, &a, &mut buf, 2);
    assert!(
        done(&mut ep).is_empty(),
        "a receive after a drain is tried at once"
    );
    ep.wait(Some(Some(Duration::from_secs(5)))).unwrap();
    let second = done(&mut ep);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0], (2, 6));
    assert_eq!(&buf[..6], b"world!");
}

#[test]
fn a_full_stream_receive_leaves_the_next_to_run_at_once() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_STREAM);
    let mut buf = [0u8; 4];
    send(&b, b"abcdefgh");
    recv(&mut ep, &a, &mut buf, 1);
    recv(&mut ep, &a, &mut buf, 2);
    assert_eq!(done(&mut ep), [(1, 4), (2, 4)]);
}

#[test]
fn end_of_stream_after_a_drain_is_still_read() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_STREAM);
    let mut buf = [0u8; 64];
    send(&b, b"last");
    recv(&mut ep, &a, &mut buf, 1);
    assert_eq!(done(&mut ep)[0].1, 4);
    drop(b);
    recv(&mut ep, &a, &mut buf, 2);
    ep.wait(Some(Some(Duration::from_secs(5)))).unwrap();
    let end = done(&mut ep);
    assert_eq!(end[0], (2, 0));
    // End of stream is not a drain: later receives read it again at once.
    recv(&mut ep, &a, &mut buf, 3);
    assert_eq!(done(&mut ep)[0].1, 0);
}

#[test]
fn a_short_datagram_does_not_park_the_next_one() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_DGRAM);
    let mut buf = [0u8; 64];
    send(&b, b"one");
    send(&b, b"two!");
    recv(&mut ep, &a, &mut buf, 1);
    recv(&mut ep, &a, &mut buf, 2);
    assert_eq!(done(&mut ep), [(1, 3), (2, 4)]);
}

#[test]
fn an_edge_seen_with_no_receive_parked_clears_the_drain() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_STREAM);
    let mut buf = [0u8; 64];
    send(&b, b"first");
    recv(&mut ep, &a, &mut buf, 1);
    assert_eq!(done(&mut ep)[0].1, 5);
    // The edge of these bytes is taken by a wait while no receive is parked; no other
    // edge will come, so the next receive must be tried at once.
    send(&b, b"second");
    ep.wait(Some(Some(Duration::from_secs(5)))).unwrap();
    recv(&mut ep, &a, &mut buf, 2);
    let got = done(&mut ep);
    assert_eq!(
        got.len(),
        1,
        "the receive waits for an edge that was already spent"
    );
    assert_eq!(got[0].1, 6);
}

#[test]
fn a_short_peek_drains_nothing() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_STREAM);
    let mut buf = [0u8; 64];
    send(&b, b"abc");
    recv_flags(&mut ep, &a, &mut buf, 1, libc::MSG_PEEK);
    // The peeked bytes are still there and bring no new edge: the receive must run now.
    recv(&mut ep, &a, &mut buf, 2);
    assert_eq!(done(&mut ep), [(1, 3), (2, 3)]);
}
