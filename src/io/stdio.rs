//! The process's standard streams: [`stdin()`], [`stdout()`] and [`stderr()`], read and
//! written through the ring whatever descriptors 0, 1 and 2 are (a terminal, a pipe, a
//! socket, a regular file, `/dev/null`).
//!
//! Rules:
//! 1. Descriptors 0, 1 and 2 are never closed. Each handle works on its own duplicate
//!    (`F_DUPFD_CLOEXEC`, fcntl(2)), made at its first read or write and closed with the
//!    handle (or, for an op still in flight then, with the op). A duplicate rather than
//!    the number itself: an op keeps its descriptor open until its CQE (`SharedFd`), and
//!    the number 0 could meanwhile be closed by other code and reused for another file;
//!    the duplicate keeps the same open file description for as long as an op needs it.
//! 2. On the io_uring backend a read or write is the ring's READ or WRITE at offset -1:
//!    read(2) / write(2) at the file's position (io_uring_prep_read(3); the duplicate
//!    shares that position with descriptor 0, so a regular file on stdin is read from
//!    where the process left it, and the reads move it on). The descriptor's flags are
//!    never touched: io_uring waits on a blocking descriptor itself (a pipe by polling
//!    it, a terminal on a worker thread).
//! 3. The epoll backend makes every descriptor it polls `O_NONBLOCK` (its rule 1). That
//!    flag belongs to the open file description, which a terminal or a pipe shares with
//!    the shell and the other programs of a pipeline (a duplicate shares it too: dup(2)),
//!    and a program that finds it set gets `EAGAIN` from a plain read. So on the epoll
//!    backend the standard streams stay out of the epoll set: each read or write is a
//!    blocking read(2) / write(2) on the runtime's blocking pool (`spawn_blocking`), on a
//!    duplicate made for that call, through a buffer of the stream (one copy). A read
//!    dropped while it waits for input keeps its pool thread until input or end of input
//!    comes.
//! 4. A descriptor that someone else made `O_NONBLOCK` answers `EAGAIN` on the blocking
//!    pool, and on io_uring in kernels that do not poll such a descriptor (6.18 does:
//!    liburing issue 364 tells the story). A read then waits for readability with a
//!    one-shot poll (on epoll that registers a descriptor already `O_NONBLOCK`) and tries
//!    again; a write tries again after a pause that grows from [`RETRY_PAUSE_MIN`] to
//!    [`RETRY_PAUSE_MAX`] (there is no writability poll op). The flag stays as found.
//! 5. Reads are cancel-safe as a pipe's (`io::pipe` rule 2): a read dropped in flight
//!    stays with its [`Stdin`] handle and the next read on that handle returns its bytes.
//!    Each [`stdin()`] call makes a new handle: keep one for as long as you read.

use super::pipe::{READ_MAX, ReadStash, StashRead};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::io::{AsyncRead, AsyncWrite};
use crate::op::Op;
use crate::op::result::finish;
use crate::runtime::Backend;
use crate::sys::fd::SharedFd;
use std::cell::OnceCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

/// The first pause before a write answered `EAGAIN` is tried again (rule 4): about what
/// a reader of a full pipe needs to take a chunk.
const RETRY_PAUSE_MIN: Duration = Duration::from_millis(1);
/// The longest pause between tries: bounds how late a waiting write notices room.
const RETRY_PAUSE_MAX: Duration = Duration::from_millis(10);
/// The most one write on the blocking pool copies out of the caller's buffer (rule 3);
/// a larger buffer is written in several calls, as a short write would be.
const POOL_WRITE_MAX: usize = READ_MAX;

/// Which standard stream.
#[derive(Clone, Copy, Debug)]
enum Which {
    In,
    Out,
    Err,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::In => "stdin (fd 0)",
            Which::Out => "stdout (fd 1)",
            Which::Err => "stderr (fd 2)",
        }
    }

    /// A close-on-exec duplicate of the descriptor (fcntl(2) `F_DUPFD_CLOEXEC`).
    fn dup(self) -> io::Result<OwnedFd> {
        match self {
            Which::In => std::io::stdin().as_fd().try_clone_to_owned(),
            Which::Out => std::io::stdout().as_fd().try_clone_to_owned(),
            Which::Err => std::io::stderr().as_fd().try_clone_to_owned(),
        }
    }
}

/// One handle's duplicate of a standard descriptor, made at first use (rule 1).
#[derive(Debug)]
struct StdFd {
    which: Which,
    fd: OnceCell<SharedFd>,
}

impl StdFd {
    fn new(which: Which) -> StdFd {
        StdFd {
            which,
            fd: OnceCell::new(),
        }
    }

    fn get(&self) -> io::Result<SharedFd> {
        if let Some(fd) = self.fd.get() {
            return Ok(fd.clone());
        }
        let dup = self.which.dup().map_err(|e| {
            super::context::with_context(
                e,
                format_args!("{}: cannot duplicate it", self.which.name()),
            )
        })?;
        Ok(self.fd.get_or_init(|| SharedFd::new(dup)).clone())
    }

    /// Writes some of `buf`'s initialised bytes (rules 2–4).
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let fd = match self.get() {
            Ok(fd) => fd,
            Err(e) => return (Err(e), buf),
        };
        let mut buf = buf;
        let mut pause = RETRY_PAUSE_MIN;
        loop {
            let (res, back) = if on_pool() {
                pool_write(&fd, buf).await
            } else {
                finish(Op::write_at(&fd, buf, 0, u64::MAX)).await
            };
            buf = back;
            match res {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    crate::time::sleep(pause).await;
                    pause = RETRY_PAUSE_MAX.min(pause * 2);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => return (res, buf),
            }
        }
    }
}

/// Whether this core's standard streams go to the blocking pool (rule 3).
fn on_pool() -> bool {
    crate::metrics().backend == Backend::Epoll
}

/// A read of `fd` into `own` (rules 2–4): the future a [`ReadStash`] keeps.
fn start_read(fd: SharedFd, own: Vec<u8>) -> StashRead {
    Box::pin(async move {
        let mut own = own;
        loop {
            let (res, back) = if on_pool() {
                pool_read(&fd, own).await
            } else {
                finish(Op::read_at(&fd, own, u64::MAX)).await
            };
            own = back;
            match res {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let ready = match Op::poll_readable(&fd) {
                        Ok(poll) => poll.await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = ready {
                        return (Err(e), own);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => return (res, own),
            }
        }
    })
}

/// A blocking read(2) of up to `own.capacity()` bytes on the blocking pool (rule 3).
async fn pool_read(fd: &SharedFd, own: Vec<u8>) -> BufResult<usize, Vec<u8>> {
    let file = match fd.as_fd().try_clone() {
        Ok(dup) => File::from(dup),
        Err(e) => return (Err(e), own),
    };
    let job = crate::spawn_blocking(move || {
        let mut own = own;
        own.resize(own.capacity(), 0);
        let res = (&file).read(&mut own);
        own.truncate(*res.as_ref().unwrap_or(&0));
        (res, own)
    });
    match job.await {
        Ok(done) => done,
        Err(e) => (Err(pool_failed(e)), Vec::new()),
    }
}

/// A blocking write(2) of up to [`POOL_WRITE_MAX`] of `buf`'s bytes on the blocking pool
/// (rule 3).
async fn pool_write<B: IoBuf>(fd: &SharedFd, buf: B) -> BufResult<usize, B> {
    let view = buf.slice(..);
    let chunk = view[..view.len().min(POOL_WRITE_MAX)].to_vec();
    let buf = view.into_inner();
    let file = match fd.as_fd().try_clone() {
        Ok(dup) => File::from(dup),
        Err(e) => return (Err(e), buf),
    };
    match crate::spawn_blocking(move || (&file).write(&chunk)).await {
        Ok(res) => (res, buf),
        Err(e) => (Err(pool_failed(e)), buf),
    }
}

fn pool_failed(e: crate::JoinError) -> io::Error {
    io::Error::other(format!(
        "standard stream I/O on the blocking pool failed: {e}"
    ))
}

/// A handle to the process's standard input; [`stdin()`] makes one.
///
/// Reads are cancel-safe, per handle: keep one `Stdin` (or a
/// [`BufReader`](crate::io::BufReader) over it) for as long as you read (rule 5).
/// Descriptor 0 itself is never closed and its flags are never changed; on the epoll
/// backend reads run on the blocking pool (see [`stdin()`]).
///
/// # Examples
///
/// ```
/// use ringio::io::{BufReader, Stdin};
///
/// // Counts the lines of standard input.
/// async fn count_lines(stdin: Stdin) -> std::io::Result<usize> {
///     let mut lines = BufReader::new(stdin);
///     let mut line = String::new();
///     let mut n = 0;
///     while lines.read_line(&mut line).await? > 0 {
///         n += 1;
///         line.clear();
///     }
///     Ok(n)
/// }
/// # let _ = count_lines;
/// ```
#[derive(Debug)]
pub struct Stdin {
    fd: StdFd,
    stash: ReadStash,
}

/// Standard input (descriptor 0) as a ring stream, whatever it is: a terminal, a pipe, a
/// socket, a regular file or `/dev/null`.
///
/// Each call returns a new handle with its own duplicate of descriptor 0, made at the
/// first read; descriptor 0 itself is never closed. On the io_uring backend reads are
/// the ring's READ at the file's position and the descriptor's flags are left alone. On
/// the epoll backend, which would make the descriptor (shared with the shell and the
/// pipeline) `O_NONBLOCK`, each read is a blocking read(2) on the runtime's blocking
/// pool instead; a read dropped while it waits keeps its pool thread until input comes,
/// and its bytes go to the handle's next read (or are lost with the handle).
///
/// # Examples
///
/// ```
/// // Echoes standard input to standard output until end of input.
/// async fn cat() -> std::io::Result<u64> {
///     ringio::io::copy(&ringio::io::stdin(), &ringio::io::stdout()).await
/// }
/// # let _ = cat;
/// ```
pub fn stdin() -> Stdin {
    Stdin {
        fd: StdFd::new(Which::In),
        stash: ReadStash::default(),
    }
}

impl Stdin {
    /// Reads what is available, up to the buffer's capacity; `Ok(0)` at end of input
    /// (or for a buffer with no room).
    ///
    /// # Examples
    ///
    /// See [`Stdin`].
    ///
    /// # Errors
    ///
    /// `EBADF` (named "stdin (fd 0): cannot duplicate it") if descriptor 0 is not open,
    /// `EMFILE` if no descriptor is left for the duplicate; otherwise what read(2)
    /// reports (e.g. `EISDIR`).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a read dropped in flight stays with this handle and its bytes are
    /// returned by the handle's next read. Reads are meant to be awaited one at a time.
    pub async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let fd = match self.fd.get() {
            Ok(fd) => fd,
            Err(e) => return (Err(e), buf),
        };
        self.stash
            .read(buf, |own| start_read(fd.clone(), own))
            .await
    }
}

impl AsyncRead for Stdin {
    /// See [`Stdin::read`].
    async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        Stdin::read(self, buf).await
    }
}

macro_rules! std_writer {
    ($(#[$doc:meta])* $name:ident, $fd:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            fd: StdFd,
        }

        impl $name {
            #[doc = concat!("Writes some of the buffer's initialised bytes to descriptor ",
                $fd, "; returns how many.")]
            ///
            /// # Examples
            ///
            #[doc = concat!("See [`", stringify!($name), "`].")]
            ///
            /// # Errors
            ///
            /// If the descriptor is not open or cannot be duplicated (the message names
            /// it); otherwise what write(2) reports, e.g. `BrokenPipe` when a pipe's
            /// reader is gone.
            ///
            /// # Cancel safety
            ///
            /// If dropped, the bytes may or may not have been written.
            pub async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
                self.fd.write(buf).await
            }

            /// Writes every initialised byte of the buffer, however many writes it takes.
            ///
            /// # Examples
            ///
            #[doc = concat!("See [`", stringify!($name), "`].")]
            ///
            /// # Errors
            ///
            /// As [`write`](Self::write); `WriteZero` if the descriptor takes nothing.
            ///
            /// # Cancel safety
            ///
            /// Not cancel-safe: if dropped, an unknown prefix of the buffer was written.
            pub async fn write_all<B: IoBuf>(&self, buf: B) -> BufResult<(), B> {
                crate::io::AsyncWriteExt::write_all(self, buf).await
            }
        }

        impl AsyncWrite for $name {
            #[doc = concat!("See [`", stringify!($name), "::write`].")]
            async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
                self.fd.write(buf).await
            }

            #[doc = concat!("Does nothing and returns `Ok`: descriptor ", $fd,
                " stays open (rule 1), so its reader sees end of stream only when the \
                process closes it or exits. Writes are not buffered: nothing is left to \
                flush.")]
            async fn shutdown(&self) -> io::Result<()> {
                Ok(())
            }
        }
    };
}

std_writer!(
    /// A handle to the process's standard output; [`stdout()`] makes one.
    ///
    /// Writes are not buffered: wrap it in a [`BufWriter`](crate::io::BufWriter) for many
    /// small ones. Descriptor 1 itself is never closed and its flags are never changed;
    /// on the epoll backend writes run on the blocking pool (see [`stdout()`]).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let out = ringio::io::stdout();
    ///     out.write_all(b"hello from the ring\n").await.0.unwrap();
    ///     let (n, _) = out.write(b"and a partial write, perhaps\n").await;
    ///     assert!(n.unwrap() > 0);
    /// });
    /// ```
    Stdout,
    "1"
);

std_writer!(
    /// A handle to the process's standard error; [`stderr()`] makes one.
    ///
    /// Descriptor 2 itself is never closed and its flags are never changed; on the epoll
    /// backend writes run on the blocking pool (see [`stdout()`]).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     ringio::io::stderr().write_all(b"a warning\n").await.0.unwrap();
    /// });
    /// ```
    Stderr,
    "2"
);

/// Standard output (descriptor 1) as a ring stream, whatever it is: a terminal, a pipe,
/// a socket, a regular file (written at its position, or appended with `O_APPEND`) or
/// `/dev/null`.
///
/// Each call returns a new handle with its own duplicate of descriptor 1, made at the
/// first write; descriptor 1 itself is never closed. On the io_uring backend writes are
/// the ring's WRITE and the descriptor's flags are left alone; on the epoll backend, which
/// would make the descriptor `O_NONBLOCK` for everyone sharing it, each write is a
/// blocking write(2) on the runtime's blocking pool instead (through a copy of at most
/// 1 MiB of the buffer). Bytes written through std's buffered `stdout()` and not flushed
/// yet come out after these.
///
/// # Examples
///
/// See [`Stdout`].
pub fn stdout() -> Stdout {
    Stdout {
        fd: StdFd::new(Which::Out),
    }
}

/// Standard error (descriptor 2) as a ring stream; as [`stdout()`] in every other way.
///
/// # Examples
///
/// See [`Stderr`].
pub fn stderr() -> Stderr {
    Stderr {
        fd: StdFd::new(Which::Err),
    }
}
