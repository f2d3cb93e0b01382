//! The two loops behind every `read_exact` and `write_all`: sockets, files and the
//! [`AsyncReadExt`](super::AsyncReadExt) / [`AsyncWriteExt`](super::AsyncWriteExt)
//! defaults each issue their own single reads and writes, and share these loops.

use crate::buf::{BufResult, IoBuf, IoBufMut, Slice};
use std::fmt::Display;
use std::future::Future;
use std::io;

/// Reads until `buf` holds `bytes_total()` bytes.
///
/// `read(rest, filled)` issues one read into `rest`, the part of the buffer from byte
/// `filled` on (a file reads at its offset plus `filled`; a stream ignores it). A read of
/// 0 bytes before the buffer is full is `UnexpectedEof`, saying "`ended` after `filled`
/// of `total` bytes"; the bytes read so far stay in the buffer, marked initialised.
/// `Interrupted` reads are retried.
pub(crate) async fn read_exact<B, F, Fut>(
    buf: B,
    ended: impl Display,
    mut read: F,
) -> BufResult<(), B>
where
    B: IoBufMut,
    F: FnMut(Slice<B>, usize) -> Fut,
    Fut: Future<Output = BufResult<usize, Slice<B>>>,
{
    let total = buf.bytes_total();
    let mut filled = 0;
    let mut buf = buf;
    while filled < total {
        let (res, rest) = read(buf.slice(filled..), filled).await;
        buf = rest.into_inner();
        match res {
            Ok(0) => {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{ended} after {filled} of {total} bytes"),
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

/// Writes until every initialised byte of `buf` is out.
///
/// `write(buf, sent)` issues one write of the buffer's initialised bytes from byte `sent`
/// on and gives the buffer back. A write of 0 bytes is `WriteZero`, saying "`writer`
/// accepted no bytes". `Interrupted` writes are retried.
pub(crate) async fn write_all<B, F, Fut>(buf: B, writer: &str, mut write: F) -> BufResult<(), B>
where
    B: IoBuf,
    F: FnMut(B, usize) -> Fut,
    Fut: Future<Output = BufResult<usize, B>>,
{
    let total = buf.bytes_init();
    let mut sent = 0;
    let mut buf = buf;
    while sent < total {
        let (res, b) = write(buf, sent).await;
        buf = b;
        match res {
            Ok(0) => {
                let e = io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("{writer} accepted no bytes"),
                );
                return (Err(e), buf);
            }
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}
