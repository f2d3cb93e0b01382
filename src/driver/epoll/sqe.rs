//! Reading back an SQE the op layer built. The epoll backend carries out the very
//! `squeue::Entry` values a ring would get, so each operation is described once, in
//! `op/`, for both backends.

use io_uring::squeue;

/// The fields of `struct io_uring_sqe` (io_uring.h) the epoll backend reads, by the
/// kernel's layout: opcode at byte 0, flags 1, fd 4, off/addr2 8, addr 16, len 24, the
/// per-opcode flags union 28, user_data 32, buf_index/buf_group 40, splice_fd_in 44.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sqe {
    pub(super) opcode: u8,
    /// `IOSQE_*` flags.
    pub(super) flags: u8,
    /// For recv and accept: `IORING_RECV_MULTISHOT`, `IORING_ACCEPT_MULTISHOT`.
    pub(super) ioprio: u16,
    pub(super) fd: i32,
    /// `off`, or `addr2` (accept's addrlen pointer, statx's buffer, rename's new path).
    pub(super) off: u64,
    pub(super) addr: u64,
    pub(super) len: u32,
    /// `rw_flags`, `msg_flags`, `accept_flags`, `open_flags`, `statx_flags`, ...
    pub(super) op_flags: u32,
    pub(super) user_data: u64,
    pub(super) buf_group: u16,
    /// A splice's input descriptor.
    pub(super) splice_fd_in: i32,
    /// Not from the SQE: the backend's note that this op's connect was started.
    pub(super) started: bool,
    /// Not from the SQE: this multishot receive posted at its socket's edge, and its task
    /// has not polled it with nothing queued since (rule 12).
    pub(super) unread: bool,
}

/// `IOSQE_BUFFER_SELECT` (io_uring.h: bit 5 of the SQE flags).
pub(super) const BUFFER_SELECT: u8 = 1 << 5;
/// `IORING_RECV_MULTISHOT` and `IORING_ACCEPT_MULTISHOT`, in `ioprio` (io_uring.h).
const RECV_MULTISHOT: u16 = 1 << 1;
const ACCEPT_MULTISHOT: u16 = 1 << 0;

const _: () = assert!(std::mem::size_of::<squeue::Entry>() == 64);

impl Sqe {
    /// A multishot receive or accept (same opcodes as the single-shot forms; the flag is
    /// in `ioprio`).
    pub(super) fn multishot(&self) -> bool {
        use io_uring::opcode::{Accept, Recv};
        match self.opcode {
            Recv::CODE => self.ioprio & RECV_MULTISHOT != 0,
            Accept::CODE => self.ioprio & ACCEPT_MULTISHOT != 0,
            _ => false,
        }
    }

    /// A multishot receive: it runs when its task polls, not at its socket's edge (rule 10).
    pub(super) fn receives_lazily(&self) -> bool {
        self.opcode == io_uring::opcode::Recv::CODE && self.multishot()
    }

    /// Whether the op waits for room to write (else for something to read). A poll
    /// waits on the write side only if it asks for `POLLOUT` alone.
    pub(super) fn writes(&self) -> bool {
        use io_uring::opcode::{Connect, PollAdd, Send, SendMsg, Write, WriteFixed};
        match self.opcode {
            Send::CODE | SendMsg::CODE | Connect::CODE | Write::CODE | WriteFixed::CODE => true,
            PollAdd::CODE => self.op_flags & libc::POLLIN as u32 == 0,
            _ => false,
        }
    }

    pub(super) fn read(entry: &squeue::Entry) -> Sqe {
        // SAFETY: `squeue::Entry` is `#[repr(C)]` around `struct io_uring_sqe`: 64 bytes
        // (checked above) of plain integers with no padding, built from zeroed memory by
        // the io-uring crate, so every byte is initialised and may be read as a u8.
        let b: &[u8; 64] = unsafe { &*(entry as *const squeue::Entry).cast::<[u8; 64]>() };
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Sqe {
            opcode: b[0],
            flags: b[1],
            ioprio: u16_at(2),
            fd: u32_at(4) as i32,
            off: u64_at(8),
            addr: u64_at(16),
            len: u32_at(24),
            op_flags: u32_at(28),
            user_data: u64_at(32),
            buf_group: u16_at(40),
            splice_fd_in: u32_at(44) as i32,
            started: false,
            unread: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io_uring::{opcode, types};

    #[test]
    fn fields_come_back_as_built() {
        let mut buf = [0u8; 8];
        let e = opcode::Recv::new(types::Fd(7), buf.as_mut_ptr(), 8)
            .flags(libc::MSG_PEEK)
            .buf_group(3)
            .build()
            .flags(squeue::Flags::BUFFER_SELECT)
            .user_data(42);
        let s = Sqe::read(&e);
        assert_eq!(s.opcode, opcode::Recv::CODE);
        assert_eq!((s.fd, s.len, s.user_data, s.buf_group), (7, 8, 42, 3));
        assert_eq!(s.addr, buf.as_ptr() as u64);
        assert_eq!(s.op_flags, libc::MSG_PEEK as u32);
        assert_eq!(s.flags & BUFFER_SELECT, BUFFER_SELECT);
        let e = opcode::Read::new(types::Fd(3), buf.as_mut_ptr(), 4)
            .offset(u64::MAX)
            .build();
        assert_eq!(Sqe::read(&e).off, u64::MAX);
        let mut len: libc::socklen_t = 0;
        let e = opcode::Accept::new(types::Fd(5), std::ptr::null_mut(), &mut len)
            .flags(libc::SOCK_CLOEXEC)
            .build();
        let s = Sqe::read(&e);
        assert_eq!(s.off, (&raw mut len) as u64);
        assert_eq!(s.op_flags, libc::SOCK_CLOEXEC as u32);
        assert!(!s.multishot() && !s.writes());
        assert_eq!(std::mem::size_of::<Sqe>(), 48, "a parked op costs one Sqe");
        assert!(Sqe::read(&opcode::AcceptMulti::new(types::Fd(5)).build()).multishot());
        assert!(Sqe::read(&opcode::RecvMulti::new(types::Fd(5), 0).build()).multishot());
        let poll =
            |events: i16| Sqe::read(&opcode::PollAdd::new(types::Fd(5), events as u32).build());
        assert_eq!(
            poll(libc::POLLIN).op_flags,
            libc::POLLIN as u32,
            "events at byte 28"
        );
        assert!(!poll(libc::POLLIN).writes() && poll(libc::POLLOUT).writes());
    }
}
