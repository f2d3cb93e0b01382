//! Reads and writes shared by the stream sockets (`TcpStream`, `UnixStream`): one copy of
//! the loops, the `Unread` stash and the error rules.

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::fd::SharedFd;
use crate::op::{Op, Unread, receive};
use std::io;

/// One recv; bytes (or an error) a cancelled recv left in `unread` come first.
pub(super) async fn read<B: IoBufMut>(
    fd: &SharedFd,
    unread: &std::rc::Rc<Unread>,
    mut buf: B,
) -> BufResult<usize, B> {
    if !unread.is_empty() {
        let n = unread.fill(&mut buf);
        return (Ok(n), buf);
    }
    if let Some(e) = unread.take_error() {
        return (Err(e), buf);
    }
    match Op::recv(fd, buf, Some(unread.clone())) {
        Ok(op) => receive(op, unread).await,
        Err((e, buf)) => (Err(e), buf),
    }
}

/// Recvs until `bytes_total` bytes are in; `UnexpectedEof` if the peer closes first.
pub(super) async fn read_exact<B: IoBufMut>(
    fd: &SharedFd,
    unread: &std::rc::Rc<Unread>,
    buf: B,
) -> BufResult<(), B> {
    let total = buf.bytes_total();
    let mut filled = 0;
    let mut buf = buf;
    while filled < total {
        let (res, slice) = read(fd, unread, buf.slice(filled..)).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("peer closed after {filled} of {total} bytes"),
                );
                return (Err(e), buf);
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}

/// One send of the initialised bytes (MSG_NOSIGNAL).
pub(super) async fn write<B: IoBuf>(fd: &SharedFd, buf: B) -> BufResult<usize, B> {
    match Op::send(fd, buf, 0) {
        Ok(op) => op.await,
        Err((e, buf)) => (Err(e), buf),
    }
}

/// Sends until every initialised byte is out; `WriteZero` if the kernel takes nothing.
pub(super) async fn write_all<B: IoBuf>(fd: &SharedFd, buf: B) -> BufResult<(), B> {
    let total = buf.bytes_init();
    let mut sent = 0;
    let mut buf = buf;
    while sent < total {
        let (res, b) = match Op::send(fd, buf, sent) {
            Ok(op) => op.await,
            Err((e, b)) => (Err(e), b),
        };
        buf = b;
        match res {
            Ok(0) => {
                let e = io::Error::new(io::ErrorKind::WriteZero, "send accepted no bytes");
                return (Err(e), buf);
            }
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}
