//! `Driver::poll_multi` on the epoll backend, where a poll runs the op's receive
//! (epoll rule 10): a pass that posts beside other CQEs hands its own over through the
//! slot's queue, in order, as a reap would.

use super::epoll::test_sockets::pair;
use super::{Driver, Pushed, RingSize};
use crate::buf::pool::{BufRing, POOL_GROUP, PoolConfig};
use crate::runtime::blocking::BlockingPool;
use crate::test_util::{TestWaker, cx};
use io_uring::{opcode, types};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

#[test]
fn a_lazy_receive_that_posts_beside_another_op_returns_its_own_cqe() {
    let pool = BlockingPool::new(1, Duration::from_secs(1));
    let wake = crate::sys::fd::eventfd().expect("an eventfd");
    let size = RingSize {
        entries: 16,
        rings: 1,
    };
    let mut d = Driver::new_epoll(size, wake.as_raw_fd(), &pool).expect("an epoll driver");
    let config = PoolConfig {
        buffers: 4,
        buffer_size: 64,
    };
    let ring = Rc::new(BufRing::new(config).expect("a pool"));
    d.register_buf_ring(&ring).expect("the pool");
    let (ours, peer) = pair(libc::SOCK_STREAM);
    let fd = types::Fd(ours.as_raw_fd());
    // A stream's receive, then a plain receive parked behind it (epoll rule 2).
    let sqe = opcode::RecvMulti::new(fd, POOL_GROUP).build();
    // SAFETY: the SQE points only into the pool, which the driver keeps.
    let stream = unsafe { d.push_multi(sqe, 0) }.expect("pushed");
    let mut buf = [0u8; 8];
    let sqe = opcode::Recv::new(fd, buf.as_mut_ptr(), 8).build();
    // SAFETY: `buf` outlives the op, which completes below.
    let Ok(Pushed::Slot(read)) = (unsafe { d.push(sqe) }) else {
        panic!("the read parks behind the stream's receive");
    };
    drop(peer);
    // The wait sees the end's edge, which only nudges a lazy receive (nothing polled it
    // yet, so nothing is woken), and tells the socket's state to the backend.
    d.enter(Some(Some(Duration::from_secs(5)))).expect("a wait");
    d.reap();
    let w = TestWaker::new();
    // The stream's receive reads the end of stream, which ends it; the read behind it
    // goes on at once and reads the end too. Two CQEs posted: the stream's goes through
    // a reap and its slot's queue.
    let Poll::Ready(c) = d.poll_multi(stream, &mut cx(&w)) else {
        panic!("the end of stream was not returned");
    };
    assert_eq!((c.result, c.more()), (0, false));
    let Poll::Ready(c) = d.poll_slot(read, &mut cx(&w)) else {
        panic!("the read behind the stream's receive did not end");
    };
    assert_eq!(c.result, 0);
    assert_eq!(w.wakes(), 0, "nothing waited");
}
