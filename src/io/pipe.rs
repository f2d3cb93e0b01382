//! Anonymous pipes on the ring: [`pipe()`], [`PipeReader`], [`PipeWriter`], and the
//! cancel-safe read buffer that the child process pipes and standard input share.
//!
//! Rules:
//! 1. A pipe's descriptors are close-on-exec and blocking, as pipe2(2) with `O_CLOEXEC`
//!    makes them: io_uring waits on a blocking pipe itself. Reads and writes are the
//!    ring's READ and WRITE at offset -1 (the pipe has no position; io_uring_prep_read(3)),
//!    i.e. read(2) and write(2). The epoll backend switches a pipe it polls to
//!    `O_NONBLOCK` (its rule 1); both ends belong to this process, so nobody else sees it.
//! 2. Reads go through the stream's own buffer ([`ReadStash`]): a read dropped while the
//!    kernel holds it stays in flight, owned by the stream, and the bytes it brings are
//!    returned by the next read. That costs one copy per read and makes reads cancel-safe.
//! 3. Writing to a pipe whose read end is closed gives `BrokenPipe` (write(2): EPIPE).
//!    The kernel also raises SIGPIPE (pipe(7)); Rust's runtime sets SIGPIPE to ignored
//!    before `main` in every program it starts, so the process lives on. A program that
//!    restores the default disposition (or a `#![no_main]` one) dies of it instead,
//!    as it would with std's `PipeWriter`.
//! 4. The write end closes when its last holder is dropped or on
//!    [`shutdown`](AsyncWrite::shutdown); the reader then reads end of stream once every
//!    write end, including copies a child process inherited, is closed (pipe(7)).

use crate::buf::{BufResult, IoBuf, IoBufMut, copy_into};
use crate::io::{AsyncRead, AsyncWrite};
use crate::op::Op;
use crate::op::result::finish;
use crate::sys::fd::SharedFd;
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;

/// The most a read asks the kernel for at once, whatever the caller's buffer holds:
/// sixteen times a pipe's default capacity (pipe(7)), so one read drains a full pipe.
pub(crate) const READ_MAX: usize = 1 << 20;

/// One read into the stream's own buffer: the op, or a longer future built around it.
pub(crate) type StashRead = Pin<Box<dyn Future<Output = BufResult<usize, Vec<u8>>>>>;

/// The buffer of a cancel-safe read end (rule 2): bytes read and not yet returned, and
/// the read of a dropped future, still in the kernel's hands.
#[derive(Default)]
pub(crate) struct ReadStash {
    state: RefCell<StashState>,
}

#[derive(Default)]
struct StashState {
    /// Bytes read and not yet returned: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    in_flight: Option<StashRead>,
}

impl std::fmt::Debug for ReadStash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("ReadStash")
            .field("buffered", &(st.buf.len() - st.pos))
            .field("in_flight", &st.in_flight.is_some())
            .finish()
    }
}

/// Awaits a read; if dropped first, hands it back to the stash (rule 2).
struct KeepOnDrop<'a> {
    read: Option<StashRead>,
    state: &'a RefCell<StashState>,
}

impl Drop for KeepOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(read) = self.read.take() {
            self.state.borrow_mut().in_flight = Some(read);
        }
    }
}

impl ReadStash {
    /// Fills `buf` from the stash, or from the read in flight, or from a new read that
    /// `start` makes into the stash's buffer (emptied, with room for at least
    /// `min(buf.bytes_total(), READ_MAX)` bytes). `Ok(0)` is end of stream.
    pub(crate) async fn read<B: IoBufMut>(
        &self,
        mut buf: B,
        mut start: impl FnMut(Vec<u8>) -> StashRead,
    ) -> BufResult<usize, B> {
        if buf.bytes_total() == 0 {
            return (Ok(0), buf);
        }
        loop {
            let read = {
                let mut st = self.state.borrow_mut();
                if st.pos < st.buf.len() {
                    let n = copy_into(&mut buf, &st.buf[st.pos..], &[]);
                    st.pos += n;
                    return (Ok(n), buf);
                }
                match st.in_flight.take() {
                    Some(read) => read,
                    None => {
                        let mut own = std::mem::take(&mut st.buf);
                        own.clear();
                        own.reserve(buf.bytes_total().min(READ_MAX));
                        drop(st);
                        start(own)
                    }
                }
            };
            let mut keep = KeepOnDrop {
                read: Some(read),
                state: &self.state,
            };
            let (res, own) = keep.read.as_mut().expect("set above").await;
            keep.read = None; // completed: nothing to hand back
            let mut st = self.state.borrow_mut();
            st.buf = own;
            st.pos = 0;
            match res {
                Ok(0) => return (Ok(0), buf),
                Ok(_) => {}
                Err(e) => return (Err(e), buf),
            }
        }
    }
}

/// Creates an anonymous pipe: bytes written to the [`PipeWriter`] come out of the
/// [`PipeReader`] in order (pipe2(2), close-on-exec).
///
/// Dropping the writer (or [`shutdown`](AsyncWrite::shutdown)) gives the reader end of
/// stream; writing after the reader is dropped gives `BrokenPipe`.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncReadExt, AsyncWriteExt};
///
/// ringio::run(async {
///     let (reader, writer) = ringio::io::pipe().unwrap();
///     writer.write_all(b"through the pipe").await.0.unwrap();
///     drop(writer); // end of stream for the reader
///     let (n, buf) = reader.read_to_end(Vec::new()).await;
///     assert_eq!((n.unwrap(), &buf[..]), (16, &b"through the pipe"[..]));
/// });
/// ```
///
/// # Errors
///
/// `EMFILE` / `ENFILE` when the process or the system is out of descriptors.
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    // std's pipe is pipe2(2) with O_CLOEXEC (rule 1).
    let (r, w) = std::io::pipe()?;
    Ok((PipeReader::from(r), PipeWriter::from(w)))
}

/// The read end of a pipe, read through the ring.
///
/// Reads are cancel-safe (a dropped read's bytes go to the next read); they are meant to
/// be awaited one at a time.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncWriteExt, BufReader};
///
/// ringio::run(async {
///     let (reader, writer) = ringio::io::pipe().unwrap();
///     writer.write_all(b"one\ntwo\n").await.0.unwrap();
///     let mut lines = BufReader::new(reader);
///     let mut line = String::new();
///     lines.read_line(&mut line).await.unwrap();
///     assert_eq!(line, "one\n");
/// });
/// ```
#[derive(Debug)]
pub struct PipeReader {
    fd: SharedFd,
    stash: ReadStash,
}

impl PipeReader {
    fn new(fd: OwnedFd) -> PipeReader {
        PipeReader {
            fd: SharedFd::new(fd),
            stash: ReadStash::default(),
        }
    }

    /// Reads what has been written, up to the buffer's capacity; `Ok(0)` once every write
    /// end is closed and the pipe is empty (or for a buffer with no room).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let (reader, writer) = ringio::io::pipe().unwrap();
    ///     writer.write(b"abc").await.0.unwrap();
    ///     let (n, buf) = reader.read(Vec::with_capacity(16)).await;
    ///     assert_eq!((n.unwrap(), &buf[..]), (3, &b"abc"[..]));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What read(2) reports.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a read dropped while the kernel holds it stays in flight, and the
    /// bytes it brings are returned by the next read (rule 2).
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let fd = &self.fd;
        self.stash
            .read(buf, |own| Box::pin(finish(Op::read_at(fd, own, u64::MAX))))
            .await
    }
}

impl AsyncRead for PipeReader {
    /// See [`PipeReader::read`].
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        PipeReader::read(self, buf).await
    }
}

impl From<std::io::PipeReader> for PipeReader {
    /// Takes over std's pipe end (left blocking, as io_uring wants it: rule 1).
    fn from(pipe: std::io::PipeReader) -> PipeReader {
        PipeReader::new(pipe.into())
    }
}

impl From<std::process::ChildStdout> for PipeReader {
    fn from(pipe: std::process::ChildStdout) -> PipeReader {
        PipeReader::new(pipe.into())
    }
}

impl From<std::process::ChildStderr> for PipeReader {
    fn from(pipe: std::process::ChildStderr) -> PipeReader {
        PipeReader::new(pipe.into())
    }
}

impl AsRawFd for PipeReader {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

/// The write end of a pipe, written through the ring.
///
/// A write to a full pipe waits until the reader makes room.
///
/// # Examples
///
/// ```
/// use ringio::io::AsyncReadExt;
///
/// ringio::run(async {
///     let (reader, writer) = ringio::io::pipe().unwrap();
///     let drain = ringio::spawn(async move { reader.read_to_end(Vec::new()).await.0.unwrap() });
///     writer.write_all(vec![7u8; 200_000]).await.0.unwrap(); // more than the pipe holds
///     drop(writer);
///     assert_eq!(drain.await.unwrap(), 200_000);
/// });
/// ```
#[derive(Debug)]
pub struct PipeWriter {
    /// `None` once shut down.
    fd: RefCell<Option<SharedFd>>,
}

impl PipeWriter {
    fn new(fd: OwnedFd) -> PipeWriter {
        PipeWriter {
            fd: RefCell::new(Some(SharedFd::new(fd))),
        }
    }

    fn fd(&self) -> io::Result<SharedFd> {
        self.fd.borrow().clone().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the pipe's write end was shut down: nothing more can be written",
            )
        })
    }

    /// Writes some of the buffer's initialised bytes; returns how many. A write of up to
    /// `PIPE_BUF` (4096) bytes goes in whole or waits (pipe(7)).
    ///
    /// # Examples
    ///
    /// See [`PipeReader::read`].
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the read end is closed (rule 3), or after
    /// [`shutdown`](AsyncWrite::shutdown).
    ///
    /// # Cancel safety
    ///
    /// If dropped, the bytes may or may not have been written.
    pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        match self.fd() {
            Ok(fd) => finish(Op::write_at(&fd, buf, 0, u64::MAX)).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Writes every initialised byte of the buffer, however many writes it takes.
    ///
    /// # Examples
    ///
    /// See [`PipeWriter`].
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write); `WriteZero` if the pipe takes nothing.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: if dropped, an unknown prefix of the buffer was written.
    pub async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
        crate::io::AsyncWriteExt::write_all(self, buf).await
    }
}

impl AsyncWrite for PipeWriter {
    /// See [`PipeWriter::write`].
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        PipeWriter::write(self, buf).await
    }

    /// Closes this write end (once every write in flight is done): the reader reads end
    /// of stream once no other write end is open (rule 4). Later writes fail with
    /// `BrokenPipe`.
    async fn shutdown(&self) -> io::Result<()> {
        self.fd.borrow_mut().take();
        Ok(())
    }
}

impl From<std::io::PipeWriter> for PipeWriter {
    /// Takes over std's pipe end (left blocking, as io_uring wants it: rule 1).
    fn from(pipe: std::io::PipeWriter) -> PipeWriter {
        PipeWriter::new(pipe.into())
    }
}

impl From<std::process::ChildStdin> for PipeWriter {
    fn from(pipe: std::process::ChildStdin) -> PipeWriter {
        PipeWriter::new(pipe.into())
    }
}

impl AsRawFd for PipeWriter {
    /// The pipe's descriptor, or -1 after [`shutdown`](AsyncWrite::shutdown).
    fn as_raw_fd(&self) -> RawFd {
        self.fd.borrow().as_ref().map_or(-1, SharedFd::raw)
    }
}
