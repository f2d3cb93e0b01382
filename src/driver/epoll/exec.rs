//! Carrying out one SQE with ordinary syscalls: at once and without blocking for
//! sockets, pipes and eventfds ([`attempt`]), or on a blocking-pool thread for regular
//! files and path operations ([`blocking`]).
//!
//! Every pointer an SQE holds stays valid until its completion is reaped (slot rule 2),
//! exactly as when the kernel's io_uring reads it, so these calls may use them for as long
//! as the op is parked or running on the pool.

use super::sqe::{BUFFER_SELECT, Sqe};
use crate::buf::pool::{BufRing, POOL_GROUP};
use crate::driver::Completion;
use io_uring::opcode;
use std::io;

/// `IORING_CQE_F_BUFFER` and the shift of the buffer id in a CQE's flags (io_uring.h).
const CQE_F_BUFFER: u32 = 1;
const CQE_BUFFER_SHIFT: u32 = 16;
/// `IORING_FSYNC_DATASYNC` (io_uring.h).
const FSYNC_DATASYNC: u32 = 1;

/// A syscall's return value as a CQE's `res`: the value, or `-errno`.
fn res(r: isize) -> i32 {
    if r < 0 { -errno() } else { r as i32 }
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn done(result: i32) -> Completion {
    Completion { result, flags: 0 }
}

/// Runs `f` again while it fails with EINTR.
#[inline(always)]
fn retry_eintr(mut f: impl FnMut() -> isize) -> isize {
    loop {
        let r = f();
        if r >= 0 || errno() != libc::EINTR {
            return r;
        }
    }
}

/// The offset of a read or write, or -1 for "the file position" (`u64::MAX` in an SQE,
/// io_uring_prep_read(3)).
fn offset(sqe: &Sqe) -> Option<i64> {
    (sqe.off != u64::MAX).then_some(sqe.off as i64)
}

/// Tries `sqe` without blocking. `None`: the descriptor is not ready (EAGAIN), so the op
/// waits for epoll to report it. `sqe.started` keeps a connect's progress across
/// attempts.
pub(super) fn attempt(sqe: &mut Sqe, pool: Option<&BufRing>) -> Option<Completion> {
    let fd = sqe.fd;
    let dontwait = libc::MSG_DONTWAIT;
    // Each call below uses the SQE's pointers and lengths, which describe memory the op
    // owns until its completion is reaped (module docs): the memory the kernel would use.
    let r = match sqe.opcode {
        opcode::Recv::CODE if sqe.flags & BUFFER_SELECT != 0 => {
            return recv_pooled(sqe, pool).map(|(c, _)| c);
        }
        // SAFETY: the op's buffer or message header (module docs).
        opcode::Recv::CODE => retry_eintr(|| unsafe {
            libc::recv(
                fd,
                sqe.addr as *mut _,
                sqe.len as usize,
                sqe.op_flags as i32 | dontwait,
            )
        }),
        // SAFETY: the op's buffer (module docs).
        opcode::Send::CODE => unsafe {
            send(
                fd,
                sqe.addr as *const u8,
                sqe.len as usize,
                sqe.op_flags as i32,
            )
        },
        // SAFETY: the op's buffer or message header (module docs).
        opcode::RecvMsg::CODE => retry_eintr(|| unsafe {
            libc::recvmsg(
                fd,
                sqe.addr as *mut libc::msghdr,
                sqe.op_flags as i32 | dontwait,
            )
        }),
        // SAFETY: the op's buffer or message header (module docs).
        opcode::SendMsg::CODE => retry_eintr(|| unsafe {
            libc::sendmsg(
                fd,
                sqe.addr as *const libc::msghdr,
                sqe.op_flags as i32 | dontwait,
            )
        }),
        // The socket is nonblocking (registered), and so is every accepted one.
        // SAFETY: the op's address buffer and its length (module docs).
        opcode::Accept::CODE => retry_eintr(|| unsafe {
            libc::accept4(
                fd,
                sqe.addr as *mut libc::sockaddr,
                sqe.off as *mut libc::socklen_t,
                sqe.op_flags as i32 | libc::SOCK_NONBLOCK,
            ) as isize
        }),
        opcode::Connect::CODE => return connect(sqe),
        // Polled descriptors are streams (pipe, socket, eventfd, tty): the offset means
        // nothing, as io_uring ignores it for them (io_uring_prep_read(3)).
        opcode::Read::CODE | opcode::ReadFixed::CODE => retry_eintr(|| {
            // SAFETY: the op's buffer (module docs).
            unsafe { libc::read(fd, sqe.addr as *mut _, sqe.len as usize) }
        }),
        opcode::Write::CODE | opcode::WriteFixed::CODE => retry_eintr(|| {
            // SAFETY: the op's buffer (module docs).
            unsafe { libc::write(fd, sqe.addr as *const _, sqe.len as usize) }
        }),
        opcode::PollAdd::CODE => return poll_now(sqe),
        _ => unreachable!("opcode {} is not a readiness op", sqe.opcode),
    };
    would_block(r)
}

/// A send of `bytes` on `fd` without an SQE (backend rule 11): what [`attempt`] does for
/// a Send SQE with `MSG_NOSIGNAL`, the CQE's `res`; `None` if it would block.
pub(super) fn send_now(fd: i32, bytes: &[u8]) -> Option<i32> {
    // SAFETY: `bytes` is a live borrow for the duration of the call.
    let r = unsafe { send(fd, bytes.as_ptr(), bytes.len(), libc::MSG_NOSIGNAL) };
    would_block(r).map(|c| c.result)
}

/// One nonblocking `send(2)` of `len` bytes at `ptr`, retried on EINTR.
///
/// # Safety
///
/// `ptr` must be valid for reads of `len` bytes for the duration of the call.
unsafe fn send(fd: i32, ptr: *const u8, len: usize, flags: i32) -> isize {
    // SAFETY: the caller's promise.
    retry_eintr(|| unsafe { libc::send(fd, ptr.cast(), len, flags | libc::MSG_DONTWAIT) })
}

/// A one-shot poll (io_uring_prep_poll_add(3)): done once the descriptor shows one of the
/// asked-for events, or an error or hang-up, which poll(2) always reports; its result is
/// the events seen, as the kernel's CQE gives them. A pidfd is such a descriptor: it is
/// readable once its process has terminated (pidfd_open(2)).
fn poll_now(sqe: &Sqe) -> Option<Completion> {
    let events = sqe.op_flags as libc::c_short;
    let mut p = libc::pollfd {
        fd: sqe.fd,
        events,
        revents: 0,
    };
    // SAFETY: one live pollfd; a zero timeout never blocks.
    let r = retry_eintr(|| unsafe { libc::poll(&mut p, 1, 0) } as isize);
    if r < 0 {
        return Some(done(res(r)));
    }
    let wanted = events | libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
    (p.revents & wanted != 0).then(|| done(i32::from(p.revents as u16)))
}

#[inline(always)]
fn would_block(r: isize) -> Option<Completion> {
    if r < 0 && matches!(errno(), libc::EAGAIN | libc::EINPROGRESS) {
        None
    } else {
        Some(done(res(r)))
    }
}

/// A receive into a buffer of the core's pool, taken only once bytes are there, as the
/// kernel does with `IOSQE_BUFFER_SELECT`: an idle connection holds no buffer. With the
/// pool empty, a one-byte peek tells "nothing to read yet" (wait) from -ENOBUFS. With
/// the completion, how many bytes it asked for (0 for the peek): a result that big may
/// have left more in the socket.
#[inline(always)]
pub(super) fn recv_pooled(sqe: &Sqe, pool: Option<&BufRing>) -> Option<(Completion, u32)> {
    // The core's pool is the only buffer group (as on its ring).
    let pool = pool.filter(|_| sqe.buf_group == POOL_GROUP);
    let flags = sqe.op_flags as i32 | libc::MSG_DONTWAIT;
    let Some((bid, ptr, cap)) = pool.and_then(BufRing::peek_published) else {
        let mut byte = 0u8;
        // SAFETY: a one-byte peek into a live local.
        let r = retry_eintr(|| unsafe {
            libc::recv(sqe.fd, (&raw mut byte).cast(), 1, flags | libc::MSG_PEEK)
        });
        return would_block(r).map(|c| {
            if c.result < 0 {
                (c, 0)
            } else {
                (done(-libc::ENOBUFS), 0)
            }
        });
    };
    let len = recv_len(sqe, cap);
    // SAFETY: the buffer is published and not consumed, so nothing else uses it; `len`
    // is within its size.
    let r = retry_eintr(|| unsafe { libc::recv(sqe.fd, ptr.cast(), len as usize, flags) });
    let c = would_block(r)?;
    if c.result <= 0 {
        // An error or end of stream: no bytes, so no buffer is handed out.
        return Some((c, len));
    }
    let ring = pool.expect("a buffer came from it");
    ring.consume_published();
    let c = Completion {
        result: c.result,
        flags: CQE_F_BUFFER | (u32::from(bid) << CQE_BUFFER_SHIFT),
    };
    Some((c, len))
}

/// Whether op `sqe` is a receive into the pool while the pool has no buffer published
/// (module rule 7 of the backend).
pub(super) fn lacks_buffer(sqe: &Sqe, pool: Option<&BufRing>) -> bool {
    sqe.flags & BUFFER_SELECT != 0
        && sqe.buf_group == POOL_GROUP
        && pool.is_some_and(|r| r.published() == 0)
}

/// How many bytes a receive into a pool buffer of `cap` bytes asks for: the SQE's
/// length if it gives one (io_uring_prep_recv(3)), else the whole buffer.
fn recv_len(sqe: &Sqe, cap: u32) -> u32 {
    if sqe.len == 0 { cap } else { sqe.len.min(cap) }
}

/// How many bytes a receive asked for (with a pooled buffer: what the pool's buffers
/// hold); a result this big may have left more bytes in the socket.
pub(super) fn recv_capacity(sqe: &Sqe, pool: Option<&BufRing>) -> u32 {
    if sqe.flags & BUFFER_SELECT == 0 {
        return sqe.len;
    }
    let cap = pool.map_or(0, |p| p.buffer_size() as u32);
    recv_len(sqe, cap)
}

/// An int-valued `SOL_SOCKET` option of `fd`, or the errno.
pub(super) fn socket_option(fd: i32, option: libc::c_int) -> Result<libc::c_int, i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: writes an int and its length into live locals.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    if r < 0 { Err(errno()) } else { Ok(value) }
}

/// A nonblocking connect: the first attempt starts it; once epoll reports the socket
/// writable, `SO_ERROR` gives the outcome (calling connect again after a failure would
/// start a new attempt) and `getpeername` tells a finished connect from a spurious wake.
fn connect(sqe: &mut Sqe) -> Option<Completion> {
    let fd = sqe.fd;
    if !sqe.started {
        // SAFETY: the address and its length are the op's (module docs).
        let r = retry_eintr(|| unsafe {
            libc::connect(
                fd,
                sqe.addr as *const libc::sockaddr,
                sqe.off as libc::socklen_t,
            ) as isize
        });
        if r == 0 {
            return Some(done(0));
        }
        return match errno() {
            libc::EINPROGRESS | libc::EALREADY => {
                sqe.started = true;
                None
            }
            e => Some(done(-e)),
        };
    }
    match socket_option(fd, libc::SO_ERROR) {
        Err(e) => return Some(done(-e)),
        Ok(0) => {}
        Ok(err) => return Some(done(-err)),
    }
    // SAFETY: an all-zero sockaddr_storage is valid; the kernel writes at most `len` bytes.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: as above.
    let r = unsafe { libc::getpeername(fd, (&raw mut addr).cast(), &mut len) };
    match (r, errno()) {
        (0, _) => Some(done(0)),
        (_, libc::ENOTCONN) => None,
        (_, e) => Some(done(-e)),
    }
}

/// A buffered read that the page cache can serve at once (`preadv2` with `RWF_NOWAIT`,
/// Linux 4.14), so a cached file read costs no pool round trip. `None`: it would block
/// (or the file cannot say), so the read goes to the pool.
pub(super) fn read_cached(sqe: &Sqe) -> Option<Completion> {
    let iov = libc::iovec {
        iov_base: sqe.addr as *mut _,
        iov_len: sqe.len as usize,
    };
    // SAFETY: the iovec describes the op's buffer (module docs).
    let r = retry_eintr(|| unsafe {
        libc::preadv2(sqe.fd, &iov, 1, offset(sqe).unwrap_or(-1), libc::RWF_NOWAIT) as isize
    });
    if r < 0 && matches!(errno(), libc::EAGAIN | libc::EOPNOTSUPP | libc::EINVAL) {
        return None;
    }
    Some(done(res(r)))
}

/// Carries out `sqe` with a blocking syscall (on a blocking-pool thread) and returns the
/// CQE's `res`.
pub(super) fn blocking(sqe: &Sqe) -> i32 {
    if sqe.opcode == opcode::Splice::CODE {
        return splice(sqe);
    }
    let fd = sqe.fd;
    let path = sqe.addr as *const libc::c_char;
    // SAFETY: the SQE's pointers (paths, buffers, the statx result) are the op's and
    // outlive its completion (module docs).
    let r = retry_eintr(|| unsafe {
        match sqe.opcode {
            opcode::Read::CODE | opcode::ReadFixed::CODE => match offset(sqe) {
                None => libc::read(fd, sqe.addr as *mut _, sqe.len as usize),
                Some(off) => libc::pread(fd, sqe.addr as *mut _, sqe.len as usize, off),
            },
            opcode::Write::CODE | opcode::WriteFixed::CODE => match offset(sqe) {
                None => libc::write(fd, sqe.addr as *const _, sqe.len as usize),
                Some(off) => libc::pwrite(fd, sqe.addr as *const _, sqe.len as usize, off),
            },
            opcode::OpenAt::CODE => {
                libc::openat(fd, path, sqe.op_flags as i32, sqe.len as libc::mode_t) as isize
            }
            opcode::Statx::CODE => libc::statx(
                fd,
                path,
                sqe.op_flags as i32,
                sqe.len,
                sqe.off as *mut libc::statx,
            ) as isize,
            opcode::UnlinkAt::CODE => libc::unlinkat(fd, path, sqe.op_flags as i32) as isize,
            opcode::RenameAt::CODE => libc::syscall(
                libc::SYS_renameat2,
                fd,
                path,
                sqe.len as i32,
                sqe.off as *const libc::c_char,
                sqe.op_flags,
            ) as isize,
            opcode::MkDirAt::CODE => libc::mkdirat(fd, path, sqe.len as libc::mode_t) as isize,
            opcode::Fsync::CODE if sqe.op_flags & FSYNC_DATASYNC != 0 => {
                libc::fdatasync(fd) as isize
            }
            opcode::Fsync::CODE => libc::fsync(fd) as isize,
            opcode::Ftruncate::CODE => libc::ftruncate(fd, sqe.off as libc::off_t) as isize,
            // LinkAt: old dirfd in `fd`, new dirfd in `len`, new path in `addr2` (`off`).
            opcode::LinkAt::CODE => libc::linkat(
                fd,
                path,
                sqe.len as i32,
                sqe.off as *const libc::c_char,
                sqe.op_flags as i32,
            ) as isize,
            // SymlinkAt: the target in `addr`, the link path in `addr2` (`off`).
            opcode::SymlinkAt::CODE => {
                libc::symlinkat(path, fd, sqe.off as *const libc::c_char) as isize
            }
            // Fallocate: the length in `addr`, the mode in `len` (io_uring_prep_fallocate(3)).
            opcode::Fallocate::CODE => libc::fallocate(
                fd,
                sqe.len as i32,
                sqe.off as libc::off_t,
                sqe.addr as libc::off_t,
            ) as isize,
            // posix_fadvise returns the error number instead of setting errno
            // (posix_fadvise(2)): turned into -1 and errno here, as `res` expects.
            opcode::Fadvise::CODE => {
                match libc::posix_fadvise(
                    fd,
                    sqe.off as libc::off_t,
                    libc::off_t::from(sqe.len),
                    sqe.op_flags as i32,
                ) {
                    0 => 0,
                    e => {
                        *libc::__errno_location() = e;
                        -1
                    }
                }
            }
            op => unreachable!("opcode {op} does not run on the pool"),
        }
    });
    res(r)
}

/// How long a splice on the pool waits for its descriptors before it gives up with
/// -EAGAIN and lets the op layer submit it again: short enough that a dropped transfer
/// to a peer that never reads frees its pool thread soon (a pool op cannot be
/// cancelled, backend rule 4), long enough not to spin.
const SPLICE_WAIT_MS: libc::c_int = 100;

/// Carries out a splice SQE on a pool thread (splice(2)): from `splice_fd_in` at `splice_off_in`
/// (`addr`; -1 for a pipe) to `sqe.fd` at `off` (-1 for a pipe or socket), `len` bytes,
/// with the SQE's flags. Returns the CQE's `res`.
///
/// A nonblocking end that is not ready (EAGAIN) is waited for with poll(2), at most
/// [`SPLICE_WAIT_MS`], then tried once more. A splice into a socket whose peer has gone
/// raises SIGPIPE in the calling thread (the kernel's socket splice sends without
/// MSG_NOSIGNAL): it is blocked around the call and a pending one discarded, so the
/// op gets -EPIPE and the process no signal (signal(7): a blocked signal stays pending
/// until taken).
fn splice(sqe: &Sqe) -> i32 {
    let fd_in = sqe.splice_fd_in;
    let mut off_in = sqe.addr as i64;
    let mut off_out = sqe.off as i64;
    let in_ptr: *mut libc::loff_t = if off_in == -1 {
        std::ptr::null_mut()
    } else {
        &mut off_in
    };
    let out_ptr: *mut libc::loff_t = if off_out == -1 {
        std::ptr::null_mut()
    } else {
        &mut off_out
    };
    // SAFETY: sigset_t is plain data; sigemptyset and sigaddset fill the live local.
    let mut pipe_set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: live locals; pthread_sigmask changes only this pool thread's mask.
    unsafe {
        libc::sigemptyset(&mut pipe_set);
        libc::sigaddset(&mut pipe_set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_set, &mut old);
    }
    let once = || {
        // SAFETY: the offsets are live locals or null; the descriptors are the op's
        // (module docs).
        retry_eintr(|| unsafe {
            libc::splice(
                fd_in,
                in_ptr,
                sqe.fd,
                out_ptr,
                sqe.len as usize,
                sqe.op_flags,
            )
        })
    };
    let mut r = once();
    if r < 0 && errno() == libc::EAGAIN {
        let mut p = [
            libc::pollfd {
                fd: fd_in,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sqe.fd,
                events: libc::POLLOUT,
                revents: 0,
            },
        ];
        // SAFETY: two live pollfds.
        retry_eintr(|| unsafe { libc::poll(p.as_mut_ptr(), 2, SPLICE_WAIT_MS) } as isize);
        r = once();
    }
    let result = res(r);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: live locals; a zero timeout never blocks; the old mask is put back.
    unsafe {
        if result < 0 {
            libc::sigtimedwait(&pipe_set, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
    result
}
