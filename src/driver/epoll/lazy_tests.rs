//! Rule 10: a multishot receive runs when its task polls, not at its socket's edge; the
//! edge only nudges it. Rule 12: unless the loop has time to spare.

use super::test_sockets::{epoll as backend, pair, send};
use super::{Epoll, Spare};
use crate::buf::pool::{BufRing, PoolConfig};
use crate::driver::Completion;
use io_uring::{opcode, types};
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

const KEY: u64 = 7;

/// A backend whose pool has four buffers of `size` bytes.
fn epoll(size: usize) -> (Epoll, Rc<BufRing>) {
    let mut ep = backend();
    let ring = Rc::new(
        BufRing::new(PoolConfig {
            buffers: 4,
            buffer_size: size,
        })
        .unwrap(),
    );
    ep.set_buf_ring(ring.clone());
    (ep, ring)
}

/// [`epoll`] in a loop with time to spare: lazy receives run at the edge (rule 12).
fn epoll_with_time(size: usize) -> (Epoll, Rc<BufRing>) {
    let (mut ep, ring) = epoll(size);
    ep.spare = Spare::fixed(true);
    (ep, ring)
}

fn stream_pair() -> (OwnedFd, OwnedFd) {
    pair(libc::SOCK_STREAM)
}

/// Arms a multishot receive into the pool on `fd`, as `RecvStream` does.
fn arm(ep: &mut Epoll, fd: &OwnedFd) {
    arm_as(ep, fd, KEY);
}

fn arm_as(ep: &mut Epoll, fd: &OwnedFd, key: u64) {
    let sqe = opcode::RecvMulti::new(types::Fd(fd.as_raw_fd()), 0)
        .build()
        .user_data(key);
    ep.push(&sqe);
}

/// The CQEs posted so far, as (result, more, bytes received).
fn done(ep: &mut Epoll, ring: &BufRing) -> Vec<(i32, bool, Vec<u8>)> {
    let mut out: Vec<(u64, Completion)> = Vec::new();
    ep.take_done(&mut out);
    out.into_iter()
        .map(|(key, c)| {
            assert_eq!(key, KEY);
            let bytes = match c.buffer() {
                Some(bid) => {
                    let ptr = ring.buffer_ptr(bid);
                    // SAFETY: the CQE names a buffer the backend filled with `result` bytes.
                    unsafe { std::slice::from_raw_parts(ptr, c.result as usize) }.to_vec()
                }
                None => Vec::new(),
            };
            (c.result, c.more(), bytes)
        })
        .collect()
}

/// The CQEs posted so far, as (key, result).
fn results(ep: &mut Epoll) -> Vec<(u64, i32)> {
    let mut out: Vec<(u64, Completion)> = Vec::new();
    ep.take_done(&mut out);
    out.iter().map(|(k, c)| (*k, c.result)).collect()
}

fn wait(ep: &mut Epoll) -> Vec<u64> {
    ep.wait(Some(Some(Duration::from_secs(5)))).unwrap();
    ep.take_nudged().collect()
}

#[test]
fn an_edge_nudges_the_receive_and_the_poll_receives() {
    let (mut ep, ring) = epoll(64);
    let (a, b) = stream_pair();
    arm(&mut ep, &a);
    assert!(done(&mut ep, &ring).is_empty(), "nothing to receive yet");
    send(&b, b"hello");
    assert_eq!(wait(&mut ep), [KEY], "the edge wakes the receive's task");
    assert!(done(&mut ep, &ring).is_empty(), "the edge receives nothing");
    assert_eq!(
        ring.published(),
        4,
        "no pool buffer is taken before the poll"
    );
    assert!(ep.poll_lazy(KEY));
    assert_eq!(done(&mut ep, &ring), [(5, true, b"hello".to_vec())]);
}

#[test]
fn a_full_buffer_is_followed_by_the_next_poll_without_an_edge() {
    let (mut ep, ring) = epoll(4);
    let (a, b) = stream_pair();
    send(&b, b"abcdefgh");
    // Armed with bytes there: tried at once, as the task that arms it polls next.
    arm(&mut ep, &a);
    assert_eq!(done(&mut ep, &ring), [(4, true, b"abcd".to_vec())]);
    // The wait does not receive the rest for it: the receive waits for its task.
    ep.wait(None).unwrap();
    assert!(
        done(&mut ep, &ring).is_empty(),
        "received ahead of the task"
    );
    assert!(ep.poll_lazy(KEY));
    assert_eq!(done(&mut ep, &ring), [(4, true, b"efgh".to_vec())]);
}

#[test]
fn a_drained_socket_waits_for_its_edge() {
    let (mut ep, ring) = epoll(64);
    let (a, b) = stream_pair();
    send(&b, b"one");
    arm(&mut ep, &a);
    assert_eq!(done(&mut ep, &ring), [(3, true, b"one".to_vec())]);
    // The short receive drained the socket: a poll does not try it again, even with
    // bytes there, until epoll reports them.
    send(&b, b"two");
    assert!(!ep.poll_lazy(KEY), "a drained socket was received from");
    assert_eq!(wait(&mut ep), [KEY]);
    assert!(ep.poll_lazy(KEY));
    assert_eq!(done(&mut ep, &ring), [(3, true, b"two".to_vec())]);
}

#[test]
fn end_of_stream_ends_the_receive_at_the_poll() {
    let (mut ep, ring) = epoll(64);
    let (a, b) = stream_pair();
    arm(&mut ep, &a);
    send(&b, b"bye");
    drop(b);
    assert_eq!(wait(&mut ep), [KEY]);
    assert!(ep.poll_lazy(KEY));
    assert_eq!(done(&mut ep, &ring), [(3, true, b"bye".to_vec())]);
    // The peer's end came with the edge: the short receive did not drain the socket,
    // and the next poll reads the end, which ends the op.
    assert!(ep.poll_lazy(KEY));
    assert_eq!(done(&mut ep, &ring), [(0, false, Vec::new())]);
    assert!(!ep.poll_lazy(KEY), "the ended receive is no longer parked");
}

#[test]
fn a_single_shot_receive_still_runs_at_the_edge() {
    let (mut ep, ring) = epoll(64);
    let (a, b) = stream_pair();
    let sqe = opcode::Recv::new(types::Fd(a.as_raw_fd()), std::ptr::null_mut(), 0)
        .buf_group(0)
        .build()
        .flags(io_uring::squeue::Flags::BUFFER_SELECT)
        .user_data(KEY);
    ep.push(&sqe);
    send(&b, b"now");
    assert!(
        wait(&mut ep).is_empty(),
        "a single-shot receive is not lazy"
    );
    assert_eq!(done(&mut ep, &ring), [(3, false, b"now".to_vec())]);
}

#[test]
fn a_cancelled_lazy_receive_hands_its_edge_to_the_readers_behind_it() {
    let (mut ep, ring) = epoll(64);
    let (a, b) = stream_pair();
    arm(&mut ep, &a);
    // A single receive waits behind the multishot one (rule 2).
    let mut own = [0u8; 16];
    let sqe = opcode::Recv::new(types::Fd(a.as_raw_fd()), own.as_mut_ptr(), 16)
        .build()
        .user_data(KEY + 1);
    ep.push(&sqe);
    send(&b, b"behind");
    assert_eq!(wait(&mut ep), [KEY], "the edge goes to the first in line");
    // The multishot receive's task never polls; it is dropped, and cancelled. No edge
    // will come for the bytes already there: the receive behind takes them now.
    let cancel = opcode::AsyncCancel::new(KEY).build();
    ep.push(&cancel);
    assert_eq!(results(&mut ep), [(KEY, -libc::ECANCELED), (KEY + 1, 6)]);
    assert_eq!(&own[..6], b"behind");
    assert_eq!(ring.published(), 4);
}

#[test]
fn the_poll_takes_its_result_at_once_only_when_nothing_came_before_it() {
    let (mut ep, ring) = epoll(64);
    let (a, b) = stream_pair();
    arm(&mut ep, &a);
    send(&b, b"one");
    assert_eq!(wait(&mut ep), [KEY]);
    assert!(ep.poll_lazy(KEY));
    let c = ep.take_only(KEY).expect("the only CQE posted");
    assert_eq!((c.result, c.more()), (3, true));
    assert!(
        done(&mut ep, &ring).is_empty(),
        "taken, not left for the reap"
    );
    // Another op's CQE waits for the reap: the receive's result joins it there.
    ep.push(&opcode::Nop::new().build().user_data(KEY + 1));
    send(&b, b"two");
    assert_eq!(wait(&mut ep), [KEY]);
    assert!(ep.poll_lazy(KEY));
    assert_eq!(ep.take_only(KEY), None);
    assert_eq!(results(&mut ep), [(KEY + 1, 0), (KEY, 3)]);
}

#[test]
fn with_time_to_spare_the_edge_receives() {
    let (mut ep, ring) = epoll_with_time(64);
    let (a, b) = stream_pair();
    arm(&mut ep, &a);
    send(&b, b"hello");
    assert!(wait(&mut ep).is_empty(), "the CQE wakes the task, no nudge");
    assert_eq!(done(&mut ep, &ring), [(5, true, b"hello".to_vec())]);
    // The short receive drained the socket: the task's poll has nothing to try.
    assert!(!ep.poll_lazy(KEY));
    // That poll still took what the edge received: the next edge receives at once.
    send(&b, b"again");
    assert!(wait(&mut ep).is_empty(), "the next edge only nudged");
    assert_eq!(done(&mut ep, &ring), [(5, true, b"again".to_vec())]);
}

#[test]
fn the_edge_receives_ahead_of_a_task_at_most_once() {
    let (mut ep, ring) = epoll_with_time(64);
    let (a, b) = stream_pair();
    arm(&mut ep, &a);
    send(&b, b"one");
    assert!(wait(&mut ep).is_empty());
    assert_eq!(done(&mut ep, &ring), [(3, true, b"one".to_vec())]);
    // Its task has not polled since: the next edge only nudges, and takes no buffer.
    send(&b, b"two");
    assert_eq!(wait(&mut ep), [KEY]);
    assert!(
        done(&mut ep, &ring).is_empty(),
        "a second buffer ahead of the task"
    );
    assert_eq!(ring.published(), 3);
    assert!(ep.poll_lazy(KEY));
    assert_eq!(done(&mut ep, &ring), [(3, true, b"two".to_vec())]);
    // The task polled with nothing queued: the edge receives again.
    send(&b, b"three");
    assert!(wait(&mut ep).is_empty());
    assert_eq!(done(&mut ep, &ring), [(5, true, b"three".to_vec())]);
}

#[test]
fn the_edge_receives_only_while_the_pool_could_hold_one_buffer_per_receive() {
    // Five lazy receives, four pool buffers: a buffer ahead for each could empty it.
    let (mut ep, ring) = epoll_with_time(64);
    let pairs: Vec<(OwnedFd, OwnedFd)> = (0..5).map(|_| stream_pair()).collect();
    for (i, (a, _)) in pairs.iter().enumerate() {
        arm_as(&mut ep, a, KEY + i as u64);
    }
    send(&pairs[0].1, b"one");
    assert_eq!(
        wait(&mut ep),
        [KEY],
        "more receives than buffers: the edge nudges"
    );
    assert_eq!(ring.published(), 4, "no buffer taken ahead of the task");
    // One receive ends (its task dropped it): four left, one buffer each.
    ep.push(&opcode::AsyncCancel::new(KEY + 4).build());
    assert_eq!(results(&mut ep), [(KEY + 4, -libc::ECANCELED)]);
    send(&pairs[1].1, b"two");
    assert!(wait(&mut ep).is_empty(), "the edge received, no nudge");
    assert_eq!(results(&mut ep), [(KEY + 1, 3)]);
}
