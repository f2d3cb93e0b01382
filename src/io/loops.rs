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
    let step = |buf: B, filled| {
        let rest = read(buf.slice(filled..), filled);
        async {
            let (res, rest) = rest.await;
            (res, rest.into_inner())
        }
    };
    until_done(buf, 0, total, step, |filled| {
        let msg = format!("{ended} after {filled} of {total} bytes");
        io::Error::new(io::ErrorKind::UnexpectedEof, msg)
    })
    .await
}

/// Writes until every initialised byte of `buf` is out, the first `sent` of them being out
/// already (0 for a whole write).
///
/// `write(buf, sent)` issues one write of the buffer's initialised bytes from byte `sent`
/// on and gives the buffer back. A write of 0 bytes is `WriteZero`, saying "`writer`
/// accepted no bytes". `Interrupted` writes are retried.
///
/// A plain function, not an `async fn`, so that every write future holds one loop, not
/// one per layer.
pub(crate) fn write_all<B, F, Fut>(
    buf: B,
    sent: usize,
    writer: &str,
    write: F,
) -> impl Future<Output = BufResult<(), B>>
where
    B: IoBuf,
    F: FnMut(B, usize) -> Fut,
    Fut: Future<Output = BufResult<usize, B>>,
{
    let total = buf.bytes_init();
    until_done(buf, sent, total, write, move |_| {
        io::Error::new(
            io::ErrorKind::WriteZero,
            format!("{writer} accepted no bytes"),
        )
    })
}

/// The one loop: from `done` bytes on, `step(buf, done)` moves bytes `done..` of `total`
/// and says how many; 0 before the end is the error `stuck(done)`; `Interrupted` steps
/// are retried.
async fn until_done<B, F, Fut>(
    mut buf: B,
    mut done: usize,
    total: usize,
    mut step: F,
    stuck: impl FnOnce(usize) -> io::Error,
) -> BufResult<(), B>
where
    F: FnMut(B, usize) -> Fut,
    Fut: Future<Output = BufResult<usize, B>>,
{
    while done < total {
        let (res, back) = step(buf, done).await;
        buf = back;
        match res {
            Ok(0) => return (Err(stuck(done)), buf),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}
