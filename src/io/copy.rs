//! `copy`: pump a reader into a writer.

use super::{AsyncRead, AsyncWrite, AsyncWriteExt};
use crate::buf::IoBuf;
use std::io;

/// Bytes per read in [`copy`]: large enough that an 8 MiB copy takes ~128 round trips,
/// small enough to stay in L2.
const COPY_BUF_SIZE: usize = 64 * 1024;

/// Reads from `reader` until end of stream and writes everything to `writer`; returns
/// how many bytes were copied. The writer is not shut down.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncReadExt, AsyncWrite};
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (b, _) = l.accept().await.unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (d, _) = l.accept().await.unwrap();
///     // a -> b, copied to c -> d
///     let pump = ringio::spawn(async move {
///         let n = ringio::io::copy(&b, &c).await.unwrap();
///         AsyncWrite::shutdown(&c).await.unwrap();
///         n
///     });
///     a.write_all(vec![1u8; 300_000]).await.0.unwrap();
///     drop(a);
///     let (n, _) = d.read_to_end(Vec::new()).await;
///     assert_eq!(n.unwrap(), 300_000);
///     assert_eq!(pump.await.unwrap(), 300_000);
/// });
/// ```
///
/// # Errors
///
/// The first read or write error.
///
/// # Cancel safety
///
/// Not cancel-safe: bytes read but not yet written are lost if the future is dropped.
pub async fn copy<R, W>(reader: &R, writer: &W) -> io::Result<u64>
where
    R: AsyncRead + ?Sized,
    W: AsyncWrite + ?Sized,
{
    let mut total = 0u64;
    let mut buf = Vec::with_capacity(COPY_BUF_SIZE);
    loop {
        buf.clear();
        let (res, back) = reader.read(buf).await;
        buf = back;
        let n = match res {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let (res, slice) = writer.write_all(buf.slice(..n)).await;
        buf = slice.into_inner();
        res?;
        total += n as u64;
    }
}
