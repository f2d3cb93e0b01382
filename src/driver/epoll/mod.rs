//! The epoll backend: the same SQEs as the ring, carried out with ordinary syscalls,
//! their results posted as CQEs to the same slots. Everything above the driver (ops,
//! their ownership and cancel rules, the loop) is one code for both backends.
//!
//! Rules:
//! 1. An op on a socket, pipe, eventfd or pidfd (a one-shot POLL_ADD, tried as poll(2)
//!    with no timeout) is tried at once, without blocking. If the kernel says EAGAIN it
//!    is parked on its descriptor, and tried again when epoll reports the descriptor
//!    ready. Descriptors are registered once, edge-triggered (`EPOLLET`, epoll(7)), and
//!    made `O_NONBLOCK`: an edge comes whenever new data or space arrives after an
//!    attempt saw EAGAIN, so a parked op is never stranded.
//! 2. Ops parked on one descriptor run in the order they came, per direction; a new op
//!    waits behind parked ones rather than overtaking them, so bytes keep their order.
//! 3. Regular files cannot be polled (epoll_ctl(2): EPERM), so their reads and writes and
//!    the path operations run on the runtime's blocking pool; their result comes back
//!    through a mutex-guarded list and an eventfd in the epoll set. A buffered read the
//!    page cache can serve without blocking is done at once (`RWF_NOWAIT`).
//! 4. A cancel ends a parked op at once with -ECANCELED (its CQE, as io_uring's). An op
//!    running on the pool cannot be stopped; its CQE comes when it is done, as for a
//!    regular file on io_uring, and until then the slot keeps its memory (slot rule 2).
//! 5. The table of registered descriptors is keyed by number. A number ringio takes in
//!    (`SharedFd::new`), closes (its last `SharedFd` dropped, or a close op) or hands back
//!    (`SharedFd::try_unwrap`) is forgotten before the next op is pushed ([`fd_changed`]),
//!    so a reused number is registered again, never mistaken for the closed one.
//! 6. A multishot receive or accept stays parked after each result, posted with
//!    `IORING_CQE_F_MORE`, and ends (a CQE without it) on an error, end of stream, an
//!    empty pool, or a cancel, as the kernel's does (io_uring_enter(2), "multishot"). A
//!    multishot accept takes the whole backlog at once, as the kernel's does. A multishot
//!    receive posts one result per try while its socket may hold more (it filled a
//!    buffer), and is tried again at its task's next poll without waiting for an edge
//!    (rule 10). Opcodes this backend does not know are answered -EINVAL, as by a kernel
//!    without them.
//! 7. A ready receive into the pool waits for a buffer rather than find the pool empty:
//!    each ready receive takes a buffer at once (a single one at its socket's edge, a
//!    multishot one at its task's poll, rule 10), while tasks give theirs back only as
//!    they are done with them, so a burst of ready sockets can outrun the pool,
//!    and every receive past it would cost a peek, an ENOBUFS CQE and an owned receive.
//!    A receive whose descriptor is ready while no buffer is published is not tried; its
//!    descriptor joins a starved list, tried again, oldest first, at the next waits as
//!    buffers come back. It ends the kernel's way (-ENOBUFS, if bytes are there) only
//!    when the loop is about to sleep with the pool still empty, or when no buffer came
//!    back for [`STARVE_TURNS`] turns: tasks that hold every buffer while the loop never
//!    sleeps cannot starve a socket for good.
//! 8. A receive into the pool takes the buffer given back last
//!    (`BufRing::peek_published`), where the kernel takes the next in ring order. Any
//!    buffer will do, as its CQE names it; the newest is still warm in the cache, so a
//!    light load keeps reusing a few buffers instead of writing each receive into a cold
//!    one (with 1,024 buffers of 4 KiB, a new page every time).
//! 9. A receive on a stream socket that returns fewer bytes than it asked for drained
//!    the socket: the descriptor is marked drained until epoll next reports it readable,
//!    and a receive pushed meanwhile is parked without a syscall, where trying it would
//!    only cost a recv(2) that fails with EAGAIN (tokio clears its readiness the same
//!    way). epoll(7) gives both halves: "for stream-oriented files ... if you call
//!    read(2) by asking to read a certain amount of data and read(2) returns a lower
//!    number of bytes, you can be sure of having exhausted the read I/O space" (its Q9),
//!    and edge-triggered mode reports the changes after that, so bytes that arrive once
//!    the receive returned bring an event. It is kept to `SOCK_STREAM`: a short datagram
//!    says nothing of the datagrams queued behind it. A peek drains nothing; end of stream
//!    is no drain either (a receive's 0 is read again at once). A read that had to wait
//!    (EAGAIN) drained its descriptor too.
//! 10. A multishot receive is lazy while the loop is busy or idle (rule 12): an edge on its
//!     socket does not receive, it wakes the op's task (a nudge, no CQE), and the
//!     receive runs when the task polls it with nothing queued (`Driver::poll_multi`),
//!     once per poll, while the socket is not drained (rule 9) or its peer's end came.
//!     So a task receives and replies in turn, into a pool buffer still warm from the
//!     reply before (rule 8), as a readiness runtime does, where receiving at the edge
//!     filled a buffer for every ready socket before any task ran, and the sends then
//!     copied from buffers gone cold. Nothing is lost by waiting: the bytes stay in the
//!     socket, and the descriptor stays undrained until a receive sees EAGAIN or a short
//!     read, after which edge-triggered epoll reports the next bytes (rule 1). A receive
//!     armed while bytes wait is tried at once (its task polls right after), and a
//!     starved one is fed by the wait (rule 7). Cancelled first in line and undrained,
//!     it hands its edge to the readers behind it, which are tried at once.
//! 11. A send that can go now goes before it takes a slot (`Epoll::try_now`): on a
//!     registered socket with no write parked before it, it is tried once, and if it
//!     finishes its op is complete without a slot, a CQE or a reap, as a readiness
//!     runtime's write is one syscall. A send that would block is pushed as any op.
//!     Stream writes and datagram sends go further (`op::send_buf`, `Epoll::send_now`):
//!     no SQE is built for a send that goes now, only for one that must wait.
//! 12. A loop with time to spare, and no more, receives at the edge. Rule 10 saves work
//!     where the loop is the limit; where the client is, it costs the client: each edge
//!     wakes one task, which receives and replies, so each wait returns a few sockets
//!     and the client meets a sleeping server more often, where receiving at every edge
//!     before the tasks run gathers the sockets into large batches
//!     (docs/epoll-measurements.md, "2026-12-07 night": 3.0 sockets per wait against
//!     32, 1,000 echo connections). Where the load is light, the clients send at their
//!     own pace and the batches gain nothing, but cost CPU per request ("2026-12-07
//!     midday": 2–3 % at 25,000 req/s over 50 connections, the loop asleep 89 % of the
//!     time). So the backend measures the share of wall time its waits spent asleep,
//!     per 10 ms window (`spare.rs`): from 10 % and under 60 %, an edge on a lazy
//!     receive's socket receives at once, and its CQE wakes the task; after 32 windows
//!     in a row under 5 %, or at 60 % or more, edges go back to nudging. A receive
//!     posts at its edge once, then not again until its task has polled it with nothing
//!     queued, so a stream whose task stops reading holds at most one buffer received
//!     ahead of it. And edges receive only while the lazy receives number no more than
//!     the pool's buffers, so the buffers held ahead cannot empty the pool. That bound
//!     also keeps a loop whose thousands of connections are coming up (it sleeps
//!     between their handshakes) from taking their first requests at the edge: a closed
//!     loop that starts so settles into a slower regime that outlasts the switch back
//!     ("2026-12-07 morning": 0.81x tokio at 10,000 connections without the bound).

mod changed;
#[cfg(test)]
mod drained_tests;
mod drive;
mod exec;
mod lazy;
#[cfg(test)]
mod lazy_tests;
#[cfg(test)]
mod now_tests;
mod offload;
mod spare;
mod sqe;
#[cfg(test)]
pub(super) mod test_sockets;
mod wait;
mod waiters;

use super::Completion;
use crate::buf::pool::BufRing;
use crate::runtime::blocking::BlockingPool;
pub(crate) use changed::fd_changed;
use drive::{Drive, drive};
use io_uring::{opcode, squeue};
use offload::Offload;
use spare::Spare;
use sqe::Sqe;
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use waiters::Waiters;

/// epoll tokens of the backend's own descriptors; any other token is a descriptor number.
const OFFLOAD_TOKEN: u64 = u64::MAX;
const TIMER_TOKEN: u64 = u64::MAX - 1;
/// Events taken per wait, at most.
const EVENTS: usize = 1024;
/// Turns in a row the pool may give no buffer back before the receives waiting for
/// one end with -ENOBUFS (rule 7).
const STARVE_TURNS: u64 = 16;

/// What the table knows of one descriptor number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Kind {
    /// Not seen since it was (re)opened.
    #[default]
    Unknown,
    /// In the epoll set, `O_NONBLOCK`.
    Polled,
    /// A regular file or anything else epoll refuses: reads and writes go to the pool.
    Blocking,
}

#[derive(Debug, Default)]
struct FdState {
    kind: Kind,
    /// On the starved list (rule 7).
    starved: bool,
    /// Whether it is a `SOCK_STREAM` socket (a short receive means drained, rule 9):
    /// asked of the kernel at its first short receive.
    stream: Option<bool>,
    /// A receive drained it and epoll has not reported it readable since (rule 9).
    drained: bool,
    /// epoll reported the peer's end (`EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR`): reads end
    /// in EOF or an error without another edge, so a short read does not mean "wait".
    closed: bool,
    /// Parked ops, oldest first (rule 2).
    readers: Waiters,
    writers: Waiters,
}

impl FdState {
    fn idle(&self) -> bool {
        self.readers.is_empty() && self.writers.is_empty()
    }

    fn waiters(&mut self, write: bool) -> &mut Waiters {
        if write {
            &mut self.writers
        } else {
            &mut self.readers
        }
    }

    /// What the outcome of an op on descriptor `fd` says of it (rules 9 and 10): a read
    /// that must wait for an edge, and on a stream socket a short receive, drained it.
    #[inline]
    fn learn(&mut self, fd: RawFd, write: bool, outcome: &Drive) {
        match outcome {
            Drive::Wait if !write => self.drained = true,
            Drive::Done { short: true }
                if *self.stream.get_or_insert_with(|| is_stream_socket(fd)) =>
            {
                self.drained = true;
            }
            _ => {}
        }
    }
}

/// An op waiting for its descriptor: its SQE, which also carries its progress (a
/// connect that was started).
type Parked = Sqe;

/// One core's epoll set and the ops it carries.
pub(crate) struct Epoll {
    epfd: OwnedFd,
    /// By descriptor number.
    fds: Vec<FdState>,
    /// By [`park_index`] of the op's key.
    parked: Vec<Option<Parked>>,
    /// CQEs ready for the driver's reap.
    done: Vec<(u64, Completion)>,
    events: Vec<libc::epoll_event>,
    offload: Arc<Offload>,
    /// Ops on the pool whose result has not been collected.
    offloaded: usize,
    pool: Arc<BlockingPool>,
    buf_ring: Option<Rc<BufRing>>,
    /// A timerfd for timed waits where `epoll_pwait2` (Linux 5.11) is missing.
    timer: Option<OwnedFd>,
    /// Descriptors whose first reader waits for a pool buffer, oldest first (rule 7).
    starved: VecDeque<RawFd>,
    /// Waits in a row that found `starved` waiting and no pool buffer free.
    dry_turns: u64,
    /// Lazy receives whose socket became readable, their tasks to wake (rule 10).
    nudged: Vec<u64>,
    /// Whether the loop has time to spare, so receives run at the edge (rule 12).
    spare: Spare,
    /// Lazy receives parked, each of which may hold one buffer received ahead (rule 12).
    lazy_receives: usize,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The index of key `user_data` in `parked`: slab keys are small; the wake-up read's
/// tag (`WAKE_TAG`) takes index 0.
fn park_index(user_data: u64) -> usize {
    if user_data == super::WAKE_TAG {
        0
    } else {
        user_data as usize + 1
    }
}

impl Epoll {
    pub(crate) fn new(pool: Arc<BlockingPool>) -> io::Result<Epoll> {
        // SAFETY: plain syscalls; the results are checked and owned at once.
        let epfd = crate::sys::fd::owned_from_raw(cvt(unsafe {
            libc::epoll_create1(libc::EPOLL_CLOEXEC)
        })?);
        // SAFETY: as above.
        let event = crate::sys::fd::owned_from_raw(cvt(unsafe {
            libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)
        })?);
        let mut epoll = Epoll {
            epfd,
            fds: Vec::new(),
            parked: Vec::new(),
            done: Vec::new(),
            events: vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS],
            offload: Arc::new(Offload {
                results: Mutex::new(Vec::new()),
                event,
            }),
            offloaded: 0,
            pool,
            buf_ring: None,
            timer: None,
            starved: VecDeque::new(),
            dry_turns: 0,
            nudged: Vec::new(),
            spare: Spare::new(),
            lazy_receives: 0,
        };
        let event_fd = epoll.offload.event.as_raw_fd();
        epoll.ctl_add(event_fd, libc::EPOLLIN as u32, OFFLOAD_TOKEN)?;
        if !wait::pwait2_works(&epoll.epfd) {
            // SAFETY: as above.
            let timer = crate::sys::fd::owned_from_raw(cvt(unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
                )
            })?);
            epoll.ctl_add(timer.as_raw_fd(), libc::EPOLLIN as u32, TIMER_TOKEN)?;
            epoll.timer = Some(timer);
        }
        changed::backend_started();
        Ok(epoll)
    }

    fn ctl_add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a live local the kernel copies.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })
            .map(drop)
    }

    /// Pool buffers are taken by this backend itself, newest first (rule 8).
    pub(crate) fn set_buf_ring(&mut self, ring: Rc<BufRing>) {
        self.buf_ring = Some(ring);
    }

    /// Carries out or parks one SQE; its CQE goes to [`Epoll::take_done`] (at once, if
    /// the op could finish without waiting).
    pub(crate) fn push(&mut self, entry: &squeue::Entry) {
        self.forget_changed();
        let sqe = Sqe::read(entry);
        match sqe.opcode {
            opcode::Nop::CODE => self.finish(sqe.user_data, 0),
            opcode::AsyncCancel::CODE => self.cancel(sqe.addr),
            opcode::Close::CODE => {
                self.forget(sqe.fd);
                // SAFETY: the op owns the descriptor it closes (op/close.rs).
                let r = unsafe { libc::close(sqe.fd) };
                self.finish(sqe.user_data, if r < 0 { -exec_errno() } else { 0 });
            }
            opcode::Recv::CODE
            | opcode::RecvMsg::CODE
            | opcode::Accept::CODE
            | opcode::Send::CODE
            | opcode::SendMsg::CODE
            | opcode::Connect::CODE
            | opcode::PollAdd::CODE => self.socket_op(sqe),
            // A fixed read or write names a registered buffer by index, but its address and
            // length are those of a plain one: this backend has no table and uses them.
            opcode::Read::CODE
            | opcode::Write::CODE
            | opcode::ReadFixed::CODE
            | opcode::WriteFixed::CODE => self.file_op(sqe),
            opcode::OpenAt::CODE
            | opcode::Statx::CODE
            | opcode::UnlinkAt::CODE
            | opcode::RenameAt::CODE
            | opcode::MkDirAt::CODE
            | opcode::Fsync::CODE
            | opcode::Ftruncate::CODE
            | opcode::LinkAt::CODE
            | opcode::SymlinkAt::CODE
            | opcode::Fallocate::CODE
            | opcode::Fadvise::CODE => self.offload(sqe),
            // A splice has a regular file or a pipe on one side, and neither can be
            // polled for it (rule 3): the whole splice runs on the pool.
            opcode::Splice::CODE => self.offload(sqe),
            // What a kernel without the opcode answers (rule 6).
            _ => self.finish(sqe.user_data, -libc::EINVAL),
        }
    }

    fn finish(&mut self, user_data: u64, result: i32) {
        self.finish_with(user_data, Completion { result, flags: 0 });
    }

    fn finish_with(&mut self, user_data: u64, c: Completion) {
        self.done.push((user_data, c));
    }

    /// The CQEs produced so far, in the order the ops finished.
    pub(crate) fn take_done(&mut self, into: &mut Vec<(u64, Completion)>) {
        into.append(&mut self.done);
    }

    fn state(&mut self, fd: RawFd) -> &mut FdState {
        let i = fd as usize;
        if self.fds.len() <= i {
            self.fds.resize_with(i + 1, FdState::default);
        }
        &mut self.fds[i]
    }

    /// Adds `fd` to the epoll set, edge-triggered, and makes it nonblocking (rule 1).
    fn register(&mut self, fd: RawFd) -> io::Result<()> {
        let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        match self.ctl_add(fd, events, fd as u64) {
            Ok(()) => {}
            // Still registered from before it was forgotten (same file, same number).
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        // SAFETY: fcntl on a descriptor the op holds; results checked.
        let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
        if flags & libc::O_NONBLOCK == 0 {
            // SAFETY: as above.
            cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
        }
        self.state(fd).kind = Kind::Polled;
        Ok(())
    }

    /// A receive, send, accept or connect: always a socket.
    fn socket_op(&mut self, sqe: Sqe) {
        if sqe.fd < 0 {
            return self.finish(sqe.user_data, -libc::EBADF);
        }
        if self.state(sqe.fd).kind != Kind::Polled
            && let Err(e) = self.register(sqe.fd)
        {
            return self.finish(sqe.user_data, -e.raw_os_error().unwrap_or(libc::EIO));
        }
        self.ready_op(sqe);
    }

    /// A read or write: polled if the descriptor can be (pipe, socket, eventfd, tty),
    /// else on the pool (rule 3).
    fn file_op(&mut self, sqe: Sqe) {
        if sqe.fd < 0 {
            return self.finish(sqe.user_data, -libc::EBADF);
        }
        if self.state(sqe.fd).kind == Kind::Unknown {
            let kind = if is_seekable_file(sqe.fd) {
                Kind::Blocking
            } else {
                match self.register(sqe.fd) {
                    Ok(()) => Kind::Polled,
                    Err(_) => Kind::Blocking,
                }
            };
            self.state(sqe.fd).kind = kind;
        }
        match self.state(sqe.fd).kind {
            Kind::Polled => self.ready_op(sqe),
            _ if matches!(sqe.opcode, opcode::Read::CODE | opcode::ReadFixed::CODE) => {
                match exec::read_cached(&sqe) {
                    Some(c) => self.finish_with(sqe.user_data, c),
                    None => self.offload(sqe),
                }
            }
            _ => self.offload(sqe),
        }
    }

    /// Tries a readiness op now unless others wait before it (rule 2); parks it if the
    /// descriptor is not ready.
    fn ready_op(&mut self, sqe: Sqe) {
        let write = sqe.writes();
        let mut parked: Parked = sqe;
        let state = &mut self.fds[sqe.fd as usize];
        // Nothing to read until epoll says so (rule 9): park without trying.
        let drained = !write && state.drained && !state.closed;
        if state.waiters(write).is_empty() && !drained {
            let closed = state.closed;
            if exec::lacks_buffer(&parked, self.buf_ring.as_deref()) {
                self.starve(sqe.fd);
            } else {
                let outcome = drive(
                    &mut parked,
                    self.buf_ring.as_deref(),
                    closed,
                    &mut self.done,
                );
                self.fds[sqe.fd as usize].learn(sqe.fd, write, &outcome);
                match outcome {
                    Drive::Done { .. } => return,
                    // A receive that may have more goes on at its task's next poll (rule 10).
                    Drive::Again | Drive::Wait => {}
                }
            }
        }
        self.fds[sqe.fd as usize].waiters(write).push(sqe.user_data);
        let i = park_index(sqe.user_data);
        if self.parked.len() <= i {
            self.parked.resize_with(i + 1, || None);
        }
        self.lazy_receives += usize::from(parked.receives_lazily());
        self.parked[i] = Some(parked);
    }

    /// Retries the ops parked on `fd` in one direction until one would block (rule 1),
    /// or a receive finds no pool buffer to take (rule 7).
    fn retry(&mut self, fd: RawFd, write: bool) {
        self.retry_with(fd, write, true);
    }

    /// [`retry`](Self::retry); with `wait_for_buffer` false, a receive is tried even with
    /// the pool empty (and ends with -ENOBUFS if bytes are there).
    fn retry_with(&mut self, fd: RawFd, write: bool, wait_for_buffer: bool) {
        let Some(state) = self.fds.get_mut(fd as usize) else {
            return;
        };
        let closed = state.closed;
        let pool = self.buf_ring.as_deref();
        let mut starved = false;
        while let Some(key) = state.waiters(write).first() {
            let slot = &mut self.parked[park_index(key)];
            let p = slot.as_mut().expect("a queued key is parked");
            if wait_for_buffer && exec::lacks_buffer(p, pool) {
                starved = true;
                break;
            }
            let outcome = drive(p, pool, closed, &mut self.done);
            state.learn(fd, write, &outcome);
            match outcome {
                // A receive that may have more goes on at its task's next poll (rule 10).
                Drive::Wait | Drive::Again => break,
                Drive::Done { .. } => {
                    self.lazy_receives -= usize::from(p.receives_lazily());
                    *slot = None;
                    state.waiters(write).pop_front();
                }
            }
        }
        if starved {
            self.starve(fd);
        }
    }

    /// Puts `fd`, whose first reader found no pool buffer, on the starved list (rule 7).
    fn starve(&mut self, fd: RawFd) {
        let state = self.state(fd);
        if !state.starved {
            state.starved = true;
            self.starved.push_back(fd);
        }
    }

    /// Tries the starved receives again, oldest first, while the pool has buffers; all
    /// of them, buffers or not, if the loop is about to sleep (`sleeping`) or the pool
    /// gave none back for [`STARVE_TURNS`] turns (rule 7).
    fn feed_starved(&mut self, sleeping: bool) {
        if self.starved.is_empty() {
            return;
        }
        let dry = self.buf_ring.as_ref().is_some_and(|r| r.published() == 0);
        self.dry_turns = if dry { self.dry_turns + 1 } else { 0 };
        let give_up = sleeping || self.dry_turns >= STARVE_TURNS;
        while let Some(&fd) = self.starved.front() {
            if !give_up && self.buf_ring.as_ref().is_some_and(|r| r.published() == 0) {
                break;
            }
            self.starved.pop_front();
            self.state(fd).starved = false;
            self.retry_with(fd, false, !give_up);
        }
    }

    /// Ends parked op `target` with -ECANCELED (rule 4). An op already done, or running
    /// on the pool, is left to post its own CQE.
    fn cancel(&mut self, target: u64) {
        let Some(p) = self
            .parked
            .get_mut(park_index(target))
            .and_then(Option::take)
        else {
            return;
        };
        self.lazy_receives -= usize::from(p.receives_lazily());
        let state = &mut self.fds[p.fd as usize];
        let first = state.waiters(p.writes()).first() == Some(target);
        state.waiters(p.writes()).remove(target);
        // A lazy receive first in line may leave bytes its edge reported (rule 10): the
        // readers behind it take them now, as that edge will not come again.
        let undrained = !state.drained || state.closed;
        self.finish(target, -libc::ECANCELED);
        if first && p.receives_lazily() && undrained {
            self.readable(p.fd);
        }
    }
}

fn exec_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Whether `fd` is a `SOCK_STREAM` socket (rule 9); false for anything else, a pipe
/// included.
fn is_stream_socket(fd: RawFd) -> bool {
    exec::socket_option(fd, libc::SO_TYPE) == Ok(libc::SOCK_STREAM)
}

/// Whether `fd` is a regular file, block device or directory: never pollable (rule 3).
fn is_seekable_file(fd: RawFd) -> bool {
    // SAFETY: an all-zero stat is valid; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a live local.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return false;
    }
    matches!(
        st.st_mode & libc::S_IFMT,
        libc::S_IFREG | libc::S_IFBLK | libc::S_IFDIR
    )
}
