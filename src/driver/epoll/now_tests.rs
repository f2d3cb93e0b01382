//! Rule 11: a send that can go now finishes at the push, without a slot, unless a write
//! parked before it would be overtaken.

use super::Epoll;
use super::test_sockets::{epoll, pair};
use crate::driver::Completion;
use io_uring::{opcode, squeue, types};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

fn send_sqe(fd: &OwnedFd, bytes: &[u8], key: u64) -> squeue::Entry {
    opcode::Send::new(
        types::Fd(fd.as_raw_fd()),
        bytes.as_ptr(),
        bytes.len() as u32,
    )
    .build()
    .user_data(key)
}

/// The CQEs posted so far: each op's key and result.
fn done(ep: &mut Epoll) -> Vec<(u64, i32)> {
    let mut out: Vec<(u64, Completion)> = Vec::new();
    ep.take_done(&mut out);
    out.into_iter().map(|(k, c)| (k, c.result)).collect()
}

/// Reads what `fd` holds now (nonblocking), up to 1 MiB.
fn drain(fd: &OwnedFd) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 20];
    // SAFETY: `buf` is a live buffer of that length.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    buf.truncate(n.max(0) as usize);
    buf
}

#[test]
fn a_send_on_a_registered_socket_finishes_at_the_push() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_STREAM);
    // Not in the epoll set yet: the first send goes the usual way and registers it.
    assert!(ep.try_now(&send_sqe(&a, b"one ", 1)).is_none());
    ep.push(&send_sqe(&a, b"one ", 1));
    assert_eq!(done(&mut ep), [(1, 4)]);
    let c = ep.try_now(&send_sqe(&a, b"two", 2)).expect("sent at once");
    assert_eq!(c.result, 3);
    assert!(done(&mut ep).is_empty(), "no CQE is posted for it");
    assert_eq!(drain(&b), b"one two");
    // A send that fails at once finishes with its error.
    drop(b);
    let c = ep
        .try_now(&send_sqe(&a, b"three", 3))
        .expect("failed at once");
    assert_eq!(c.result, -libc::EPIPE);
    let (b, _keep) = pair(libc::SOCK_STREAM);
    // Anything but a send is pushed as usual.
    let mut buf = [0u8; 8];
    let recv = opcode::Recv::new(types::Fd(b.as_raw_fd()), buf.as_mut_ptr(), 8).build();
    assert!(ep.try_now(&recv).is_none());
}

#[test]
fn a_send_behind_a_parked_write_waits_its_turn() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_STREAM);
    let big = vec![7u8; 1 << 20];
    ep.push(&send_sqe(&a, &big, 1));
    let [(1, n)] = done(&mut ep)[..] else {
        panic!("the first send takes what fits");
    };
    assert!((n as usize) < big.len(), "the socket buffer is full");
    // This one would block: it parks.
    ep.push(&send_sqe(&a, b"tail", 2));
    assert!(done(&mut ep).is_empty());
    // Room comes back, but the parked send is not retried until the wait: a send now
    // would overtake it.
    let mut got = drain(&b);
    assert!(ep.try_now(&send_sqe(&a, b"late", 3)).is_none());
    ep.wait(Some(Some(Duration::from_secs(5)))).unwrap();
    assert_eq!(done(&mut ep), [(2, 4)]);
    // Nothing parked any more: the next send goes at once, after the parked one's bytes.
    assert_eq!(
        ep.try_now(&send_sqe(&a, b"late", 3)).map(|c| c.result),
        Some(4)
    );
    while got.len() < n as usize + 8 {
        let more = drain(&b);
        assert!(!more.is_empty(), "the bytes sent are all there");
        got.extend(more);
    }
    assert_eq!(&got[n as usize..], b"taillate");
}

#[test]
fn a_send_without_an_sqe_keeps_the_same_rules() {
    let mut ep = epoll();
    let (a, b) = pair(libc::SOCK_STREAM);
    let fd = a.as_raw_fd();
    // Not in the epoll set yet: it must be pushed (and registered) first.
    assert_eq!(ep.send_now(fd, b"one "), None);
    ep.push(&send_sqe(&a, b"one ", 1));
    assert_eq!(done(&mut ep), [(1, 4)]);
    assert_eq!(ep.send_now(fd, b"two"), Some(3));
    assert!(done(&mut ep).is_empty(), "no CQE is posted for it");
    assert_eq!(drain(&b), b"one two");
    // Behind a parked write it would overtake: not tried.
    let big = vec![7u8; 1 << 20];
    ep.push(&send_sqe(&a, &big, 2));
    ep.push(&send_sqe(&a, b"tail", 3));
    assert_eq!(
        done(&mut ep).len(),
        1,
        "the big send took what fit; the tail parked"
    );
    // Room comes back, but the parked send goes first, at the wait.
    drain(&b);
    assert_eq!(ep.send_now(fd, b"late"), None);
    // A peer gone: the error comes back at once, and no SIGPIPE kills the test.
    let (c, d) = pair(libc::SOCK_STREAM);
    ep.push(&send_sqe(&c, b"x", 4));
    assert_eq!(done(&mut ep), [(4, 1)]);
    drop(d);
    assert_eq!(ep.send_now(c.as_raw_fd(), b"y"), Some(-libc::EPIPE));
}
