//! The raw io_uring floor: an echo server written straight on the `io-uring` crate, with
//! no runtime at all. One thread, one ring (SINGLE_ISSUER + DEFER_TASKRUN), one multishot
//! accept, and per connection one 4 KiB buffer and a recv → send → recv state machine.
//! Whatever a runtime on io_uring adds (tasks, wakers, slab of futures) is measured
//! against this.
//!
//! `cargo run --release -p ringio-peers --bin peer-raw -- --addr 127.0.0.1:7000`
//!
//! user_data: the connection index in the upper bits, the op kind in the low 8 bits.
//! Each connection has at most one op in flight, so its buffer is never shared with the
//! kernel twice, and it is freed only once that op's CQE (or the close's) has been reaped.

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::io;
use std::os::fd::AsRawFd;

const USAGE: &str = "peer-raw [--addr 127.0.0.1:7000]";
/// Submission queue entries: at most one op per connection is in flight, and a loop turn
/// that fills the SQ submits early, so this bounds only the batch, not the connections.
const SQ_ENTRIES: u32 = 4096;
/// Completion queue entries: 10,000 connections with one op each fit without overflow
/// (NODROP would keep the rest in the kernel anyway, flushed on the next enter).
const CQ_ENTRIES: u32 = 16384;

/// Op kinds in the low byte of user_data.
const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;
const CLOSE: u64 = 4;
const BACKOFF: u64 = 5;

fn user_data(conn: usize, kind: u64) -> u64 {
    ((conn as u64) << 8) | kind
}

/// One connection: its socket, its buffer, and how much of the buffer is still to send.
struct Conn {
    fd: i32,
    buf: Box<[u8]>,
    len: usize,
    sent: usize,
}

struct Server {
    ring: IoUring,
    listen_fd: i32,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// The accept back-off timeout; the kernel reads it while the timeout op is in flight,
    /// so it lives as long as the server.
    backoff: Box<types::Timespec>,
}

fn main() -> io::Result<()> {
    let args = ringio_peers::server_args(USAGE);
    ringio_peers::raise_fd_limit()?;
    let listener = ringio_peers::listener(args.addr, false)?;
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(CQ_ENTRIES)
        .build(SQ_ENTRIES)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("io_uring with SINGLE_ISSUER + DEFER_TASKRUN (Linux 6.1+): {e}"),
            )
        })?;
    let mut server = Server {
        ring,
        listen_fd: listener.as_raw_fd(),
        conns: Vec::new(),
        free: Vec::new(),
        backoff: Box::new(
            types::Timespec::new().nsec(ringio_peers::ACCEPT_BACKOFF_MS as u32 * 1_000_000),
        ),
    };
    server.arm_accept()?;
    ringio_peers::announce(listener.local_addr()?, "raw io_uring, 1 thread");
    server.run()
}

impl Server {
    fn run(&mut self) -> io::Result<()> {
        let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(CQ_ENTRIES as usize);
        loop {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                // EBUSY: completions are waiting to be reaped first; EINTR: a signal.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EINTR)) => {}
                Err(e) => return Err(e),
            }
            cqes.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            for (ud, res, flags) in cqes.drain(..) {
                self.complete(ud, res, flags)?;
            }
        }
    }

    /// Queues one SQE, submitting first if the SQ is full.
    fn push(&mut self, sqe: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every SQE built here points only at memory the server owns until
            // the op's CQE is reaped: a connection's buffer (freed only after its close
            // CQE, and each connection has one op in flight at most) or `self.backoff`.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EINTR)) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn arm_accept(&mut self) -> io::Result<()> {
        let sqe = opcode::AcceptMulti::new(types::Fd(self.listen_fd))
            .build()
            .user_data(user_data(0, ACCEPT));
        self.push(sqe)
    }

    fn arm_recv(&mut self, idx: usize) -> io::Result<()> {
        let c = self.conns[idx].as_mut().expect("recv on a live connection");
        let sqe = opcode::Recv::new(types::Fd(c.fd), c.buf.as_mut_ptr(), c.buf.len() as u32)
            .build()
            .user_data(user_data(idx, RECV));
        self.push(sqe)
    }

    fn arm_send(&mut self, idx: usize) -> io::Result<()> {
        let c = self.conns[idx].as_ref().expect("send on a live connection");
        let rest = &c.buf[c.sent..c.len];
        let sqe = opcode::Send::new(types::Fd(c.fd), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data(idx, SEND));
        self.push(sqe)
    }

    fn arm_close(&mut self, idx: usize) -> io::Result<()> {
        let c = self.conns[idx]
            .as_ref()
            .expect("close on a live connection");
        let sqe = opcode::Close::new(types::Fd(c.fd))
            .build()
            .user_data(user_data(idx, CLOSE));
        self.push(sqe)
    }

    fn complete(&mut self, ud: u64, res: i32, flags: u32) -> io::Result<()> {
        let idx = (ud >> 8) as usize;
        match ud & 0xff {
            ACCEPT => {
                if res >= 0 {
                    self.accepted(res)?;
                }
                if !cqueue::more(flags) {
                    // The multishot accept ended. On a full fd table re-arming at once
                    // would fail again at once, so wait a little first.
                    if res == -libc::EMFILE || res == -libc::ENFILE || res == -libc::ENOBUFS {
                        let sqe = opcode::Timeout::new(&*self.backoff)
                            .build()
                            .user_data(user_data(0, BACKOFF));
                        self.push(sqe)?;
                    } else {
                        self.arm_accept()?;
                    }
                }
                Ok(())
            }
            BACKOFF => self.arm_accept(),
            RECV if res > 0 => {
                let c = self.conns[idx]
                    .as_mut()
                    .expect("recv CQE for a live connection");
                c.len = res as usize;
                c.sent = 0;
                self.arm_send(idx)
            }
            SEND if res > 0 => {
                let c = self.conns[idx]
                    .as_mut()
                    .expect("send CQE for a live connection");
                c.sent += res as usize;
                if c.sent < c.len {
                    self.arm_send(idx) // short send: the rest goes next
                } else {
                    self.arm_recv(idx)
                }
            }
            // EOF (0) or an error on recv/send: close the connection.
            RECV | SEND => self.arm_close(idx),
            CLOSE => {
                self.conns[idx] = None;
                self.free.push(idx);
                Ok(())
            }
            other => Err(io::Error::other(format!(
                "unknown op kind {other} in a CQE"
            ))),
        }
    }

    fn accepted(&mut self, fd: i32) -> io::Result<()> {
        let one: libc::c_int = 1;
        // SAFETY: `one` is a valid c_int for the call's duration; a failure only means
        // Nagle stays on for this socket (the listener's TCP_NODELAY is inherited anyway).
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let conn = Conn {
            fd,
            buf: vec![0u8; ringio_peers::BUF_SIZE].into_boxed_slice(),
            len: 0,
            sent: 0,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.conns[i] = Some(conn);
                i
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        self.arm_recv(idx)
    }
}
