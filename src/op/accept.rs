//! IORING_OP_ACCEPT: take one connection from a listening socket.

use super::{Completable, Op};
use crate::driver::Completion;
use crate::fd::{SharedFd, owned_from_raw};
use io_uring::{opcode, types};
use socket2::{SockAddr, SockAddrStorage};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

/// Where the kernel writes the peer address: boxed so it stays put (op rule 1).
struct PeerAddr {
    storage: SockAddrStorage,
    len: libc::socklen_t,
}

pub(crate) struct Accept {
    _fd: SharedFd,
    peer: Box<PeerAddr>,
}

impl Completable for Accept {
    type Output = io::Result<(OwnedFd, Option<SocketAddr>)>;
    // An accept waits until a client comes, possibly forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> Self::Output {
        let fd = owned_from_raw(c.into_result()? as i32);
        // SAFETY: the kernel wrote a sockaddr of `len` bytes into the storage, which is
        // large enough for any address family.
        let addr = unsafe { SockAddr::new(self.peer.storage, self.peer.len) };
        Ok((fd, addr.as_socket()))
    }

    fn complete_orphan(self, c: Completion) {
        // The future is gone, so nobody will own this connection: close it (op rule 3).
        if c.result >= 0 {
            drop(owned_from_raw(c.result));
        }
    }
}

impl Op<Accept> {
    pub(crate) fn accept(fd: &SharedFd) -> io::Result<Op<Accept>> {
        let mut peer = Box::new(PeerAddr {
            storage: SockAddrStorage::zeroed(),
            len: std::mem::size_of::<SockAddrStorage>() as _,
        });
        let sqe = opcode::Accept::new(
            types::Fd(fd.raw()),
            (&mut peer.storage as *mut SockAddrStorage).cast(),
            &mut peer.len,
        )
        .flags(libc::SOCK_CLOEXEC)
        .build();
        let data = Accept {
            _fd: fd.clone(),
            peer,
        };
        // SAFETY: the SQE points into the boxed `peer`, owned by `data`.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, _)| e)
    }
}

/// A multishot accept: one CQE per connection while it stays armed.
pub(crate) struct AcceptMulti {
    _fd: SharedFd,
}

impl super::MultiCompletable for AcceptMulti {
    type Item = io::Result<OwnedFd>;

    fn item(&mut self, c: Completion) -> Self::Item {
        Ok(owned_from_raw(c.into_result()? as i32))
    }

    fn discard(&mut self, c: Completion) {
        // Nobody will own this connection: close it (op rule 3); the client sees a reset.
        if c.result >= 0 {
            drop(owned_from_raw(c.result));
        }
    }
}

impl super::MultiOp<AcceptMulti> {
    /// Arms a multishot accept (Linux 5.19) on the listening socket `fd`. The driver
    /// cancels it once `limit` accepted connections wait unclaimed at a reap, so a listener
    /// nobody accepts from leaves later connections in the kernel's backlog.
    pub(crate) fn accept_multi(fd: &SharedFd, limit: usize) -> io::Result<Self> {
        let sqe = opcode::AcceptMulti::new(types::Fd(fd.raw()))
            .flags(libc::SOCK_CLOEXEC)
            .build();
        let data = AcceptMulti { _fd: fd.clone() };
        // SAFETY: a multishot accept passes no address buffer; the SQE points to nothing.
        unsafe { super::MultiOp::submit(data, sqe, limit) }.map_err(|(e, _)| e)
    }
}
