//! The child's pipes as ring streams (module rule 5).

use crate::buf::{BufResult, IoBuf, IoBufMut, copy_into};
use crate::io::{AsyncRead, AsyncWrite};
use crate::op::Op;
use crate::op::result::finish;
use crate::sys::fd::SharedFd;
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The most a read end asks the kernel for at once, whatever the caller's buffer holds:
/// sixteen times a pipe's default capacity (pipe(7)), so one read drains a full pipe.
const READ_MAX: usize = 1 << 20;

/// A pipe's read end that is cancel-safe: the kernel reads into the stream's own buffer,
/// and a read dropped while the kernel holds it leaves its op here, so the bytes it
/// brings go to the next read instead of being lost. One copy per read buys this.
#[derive(Debug)]
struct ReadEnd {
    fd: SharedFd,
    state: RefCell<ReadState>,
}

#[derive(Default)]
struct ReadState {
    /// Bytes read from the pipe and not yet returned: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// The read of a dropped `read` future, still in the kernel's hands.
    in_flight: Option<PipeRead>,
}

/// A read op into the stream's own buffer (boxed: the op's type is private to `op`).
type PipeRead = Box<dyn Future<Output = BufResult<usize, Vec<u8>>> + Unpin>;

impl std::fmt::Debug for ReadState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadState")
            .field("buffered", &(self.buf.len() - self.pos))
            .field("in_flight", &self.in_flight.is_some())
            .finish()
    }
}

/// Awaits a read; if dropped first, hands the op back to the stream (`ReadEnd` docs).
struct KeepOnDrop<'a> {
    op: Option<PipeRead>,
    state: &'a RefCell<ReadState>,
}

impl Drop for KeepOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(op) = self.op.take() {
            self.state.borrow_mut().in_flight = Some(op);
        }
    }
}

impl ReadEnd {
    fn new(fd: OwnedFd) -> ReadEnd {
        ReadEnd {
            fd: SharedFd::new(fd),
            state: RefCell::new(ReadState::default()),
        }
    }

    async fn read<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        if buf.bytes_total() == 0 {
            return (Ok(0), buf);
        }
        loop {
            let op = {
                let mut st = self.state.borrow_mut();
                if st.pos < st.buf.len() {
                    let n = copy_into(&mut buf, &st.buf[st.pos..], &[]);
                    st.pos += n;
                    return (Ok(n), buf);
                }
                match st.in_flight.take() {
                    Some(op) => op,
                    None => {
                        let mut own = std::mem::take(&mut st.buf);
                        own.clear();
                        own.reserve(buf.bytes_total().min(READ_MAX));
                        match Op::read_at(&self.fd, own, u64::MAX) {
                            Ok(op) => Box::new(op) as PipeRead,
                            Err((e, own)) => {
                                st.buf = own;
                                return (Err(e), buf);
                            }
                        }
                    }
                }
            };
            let mut keep = KeepOnDrop {
                op: Some(op),
                state: &self.state,
            };
            let (res, own) = keep.op.as_mut().expect("set above").await;
            keep.op = None; // completed: nothing to hand back
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

/// The write end of the child's stdin pipe; dropping it (or
/// [`shutdown`](AsyncWrite::shutdown)) closes it, so the child reads end of input.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncWrite, AsyncWriteExt};
/// use ringio::process::Command;
/// use std::process::Stdio;
///
/// ringio::run(async {
///     let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped())
///         .spawn().unwrap();
///     let stdin = child.stdin.take().unwrap();
///     stdin.write_all(vec![b'x'; 1000]).await.0.unwrap();
///     AsyncWrite::shutdown(&stdin).await.unwrap();
///     let out = child.wait_with_output().await.unwrap();
///     assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "1000");
/// });
/// ```
#[derive(Debug)]
pub struct ChildStdin {
    /// `None` once shut down.
    fd: RefCell<Option<SharedFd>>,
}

impl ChildStdin {
    pub(super) fn from_std(pipe: std::process::ChildStdin) -> ChildStdin {
        ChildStdin {
            fd: RefCell::new(Some(SharedFd::new(OwnedFd::from(pipe)))),
        }
    }

    fn fd(&self) -> io::Result<SharedFd> {
        self.fd.borrow().clone().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the child's stdin was shut down: nothing more can be written",
            )
        })
    }
}

impl AsyncWrite for ChildStdin {
    /// Writes to the pipe.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` if the child closed its stdin (or exited), or after
    /// [`shutdown`](AsyncWrite::shutdown).
    ///
    /// # Cancel safety
    ///
    /// If dropped, the bytes may or may not have been written.
    async fn write<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        match self.fd() {
            Ok(fd) => finish(Op::write_at(&fd, buf, 0, u64::MAX)).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Closes the pipe (once every write in flight is done): the child reads end of input.
    async fn shutdown(&self) -> io::Result<()> {
        self.fd.borrow_mut().take();
        Ok(())
    }
}

impl AsRawFd for ChildStdin {
    /// The pipe's descriptor, or -1 after [`shutdown`](AsyncWrite::shutdown).
    fn as_raw_fd(&self) -> RawFd {
        self.fd.borrow().as_ref().map_or(-1, SharedFd::raw)
    }
}

macro_rules! read_end {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            end: ReadEnd,
        }

        impl $name {
            pub(super) fn from_std(pipe: $std) -> $name {
                $name { end: ReadEnd::new(OwnedFd::from(pipe)) }
            }
        }

        impl AsyncRead for $name {
            /// Reads what the child has written; `Ok(0)` once it closed its end (exited).
            ///
            /// # Errors
            ///
            /// What read(2) reports.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: a read dropped while the kernel holds it stays in flight,
            /// and the bytes it brings are returned by the next read. Reads are meant
            /// to be awaited one at a time.
            async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
                self.end.read(buf).await
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.end.fd.raw()
            }
        }
    };
}

read_end!(
    /// The read end of the child's stdout pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::io::AsyncReadExt;
    /// use ringio::process::Command;
    /// use std::process::Stdio;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn().unwrap();
    ///     let stdout = child.stdout.take().unwrap();
    ///     let (n, buf) = stdout.read_to_end(Vec::new()).await;
    ///     assert_eq!((n.unwrap(), &buf[..]), (3, &b"hi\n"[..]));
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    ChildStdout,
    std::process::ChildStdout
);

read_end!(
    /// The read end of the child's stderr pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::io::AsyncReadExt;
    /// use ringio::process::Command;
    /// use std::process::Stdio;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("sh").args(["-c", "echo oops >&2"])
    ///         .stderr(Stdio::piped()).spawn().unwrap();
    ///     let stderr = child.stderr.take().unwrap();
    ///     let (n, buf) = stderr.read_to_end(Vec::new()).await;
    ///     assert_eq!((n.unwrap(), &buf[..]), (5, &b"oops\n"[..]));
    ///     child.wait().await.unwrap();
    /// });
    /// ```
    ChildStderr,
    std::process::ChildStderr
);
