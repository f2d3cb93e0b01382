//! Adapters between ringio's streams and the ecosystem's poll-based I/O traits.
//!
//! [`Compat`] wraps a [`TcpStream`], a [`UnixStream`] or one of their halves and
//! implements `tokio::io::{AsyncRead, AsyncBufRead, AsyncWrite}` (feature `tokio-io`),
//! `futures_io::{AsyncRead, AsyncBufRead, AsyncWrite}` (feature `futures-io`) and
//! `hyper::rt::{Read, Write}` (feature `hyper`), so crates written against those traits
//! (hyper, tokio-rustls, tonic, ...) run on ringio. With `hyper`, `HyperExecutor` and
//! `HyperTimer` are hyper's executor and timer on the current core, and (with `tokio-io`
//! too) `HyperIo` makes a `tokio::io` stream over a `Compat`, such as a TLS stream,
//! hyper's I/O.
//!
//! Those traits lend a `&mut [u8]` for each poll, while the kernel may use an op's buffer
//! until its completion arrives, even after the caller went away. So a `Compat` keeps
//! the op and its buffer across polls. The rules a caller can rely on:
//!
//! 1. **One read and one write in flight at a time.** A `Compat` holds at most one
//!    receive and one send; the traits' `&mut self` keeps callers to that. Reads and
//!    writes proceed at the same time through a `Compat` of each half
//!    ([`TcpStream::into_split`]) or `tokio::io::split`.
//! 2. **A receive lives in the `Compat`, not in the caller's future.** A read future
//!    dropped after `Pending` (a timeout, a `select!` that took another branch) leaves
//!    the receive running, and the next read returns what it got: no byte is lost or
//!    reordered. Dropping the `Compat` or calling [`into_inner`](Compat::into_inner)
//!    cancels that receive; bytes the kernel had already delivered are kept by the
//!    stream, and its next read returns them first.
//! 3. **Receives use the core's buffer pool**
//!    ([`TcpStream::recv_pooled`]): a `Compat` waiting for data holds no receive
//!    buffer. When a pool buffer holds more than the caller's buffer takes, the `Compat`
//!    keeps that pool buffer and returns the rest on the next reads, then gives it back
//!    (`AsyncBufRead` hands out the pool buffer's bytes without a copy).
//!    [`into_inner`](Compat::into_inner) hands bytes left unread back to the stream.
//! 4. **A write is reported only once the kernel took it.** `poll_write` copies the
//!    caller's bytes (at most 64 KiB) into a buffer the `Compat` reuses, starts a send and
//!    returns `Pending`; a later `poll_write` returns the send's count. As the traits'
//!    contract asks, that later call must pass the same data, or data starting with it
//!    (a copy loop that appended more is fine). If it passes data that does not start
//!    with the bytes the send took, it gets an `InvalidInput` error, since those bytes
//!    are already on the wire. A write future dropped after `Pending` leaves its send
//!    running: a flush waits for it, and the next write of the same data reports it.
//!    Dropping the `Compat` (or [`into_inner`](Compat::into_inner)) cancels a send in
//!    flight; what the kernel took before the cancel is sent, unreported.
//! 5. **Flush and shutdown.** There is no buffering beyond the one send in flight:
//!    `poll_flush` waits for that send. `poll_shutdown` (`poll_close` in futures-io)
//!    finishes it, then sends FIN (`shutdown(SHUT_WR)`): the peer reads end of stream
//!    after the last byte.
//! 6. **`!Send`, one core.** Like the streams it wraps, a `Compat` belongs to the core
//!    that made it (thread per core): poll it from tasks of that core's ringio runtime,
//!    which drives its ops; another runtime's executor does not.
//!
//! Allocation: none per read or write once a connection is running. A `Compat` allocates
//! its receive and its send state once each (at the first read and the first write), and
//! keeps its write buffer, sized by its largest write up to 64 KiB. A receive that falls
//! back to an owned buffer (the pool is refused or empty) allocates it, as
//! [`TcpStream::recv_pooled`] does.
//!
//! [`TcpStream`]: crate::net::TcpStream
//! [`UnixStream`]: crate::net::UnixStream
//! [`TcpStream::into_split`]: crate::net::TcpStream::into_split
//! [`TcpStream::recv_pooled`]: crate::net::TcpStream::recv_pooled
#![forbid(unsafe_code)]

#[cfg(feature = "hyper")]
mod hyper_rt;

#[cfg(feature = "hyper")]
pub use hyper_rt::{HyperExecutor, HyperTimer};

// The poll core: `Compat` and its read and write sides, driven through inherent
// crate-visible methods; each trait set below is a thin file over them.
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
mod read;
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
mod stream;
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
mod write;

#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
pub use stream::{Compat, CompatStream};

/// Expands `$m!([generics] Type)` for each stream type a `Compat` reads from: the
/// streams and read halves (a write half has no reads).
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
macro_rules! for_each_reader {
    ($m:ident) => {
        $m!([] crate::net::TcpStream);
        $m!([] crate::net::UnixStream);
        $m!([S] crate::net::ReadHalf<S>);
    };
}

/// Expands `$m!([generics] Type)` for each stream type a `Compat` writes to: the
/// streams and write halves (a read half has no writes).
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
macro_rules! for_each_writer {
    ($m:ident) => {
        $m!([] crate::net::TcpStream);
        $m!([] crate::net::UnixStream);
        $m!([S] crate::net::WriteHalf<S>);
    };
}

#[cfg(feature = "futures-io")]
mod futures_io;
#[cfg(feature = "hyper")]
mod hyper_io;
#[cfg(all(feature = "hyper", feature = "tokio-io"))]
pub use hyper_io::HyperIo;
#[cfg(feature = "tokio-io")]
mod tokio_io;
