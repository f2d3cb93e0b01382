//! The child's pipes as ring streams (module rule 5).

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::io::{AsyncRead, AsyncWrite};
use crate::op::Op;
use crate::op::result::finish;
use crate::sys::fd::SharedFd;
use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Reads from the pipe behind `fd` at the pipe's position (read(2) semantics).
async fn read_pipe<B: IoBufMut>(fd: &SharedFd, buf: B) -> BufResult<usize, B> {
    finish(Op::read_at(fd, buf, u64::MAX)).await
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
            fd: SharedFd,
        }

        impl $name {
            pub(super) fn from_std(pipe: $std) -> $name {
                $name { fd: SharedFd::new(OwnedFd::from(pipe)) }
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
            /// Not cancel-safe: bytes that a dropped read took from the pipe as it was
            /// cancelled are lost. Keep one read in flight and await it.
            async fn read<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
                read_pipe(&self.fd, buf).await
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.raw()
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
