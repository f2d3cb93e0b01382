//! The child's pipes as ring streams (module rule 5): thin wrappers over
//! [`PipeReader`] and [`PipeWriter`], which keep the reading and writing rules.

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::io::{AsyncRead, AsyncWrite, PipeReader, PipeWriter};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

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
    pipe: PipeWriter,
}

impl ChildStdin {
    pub(super) fn from_std(pipe: std::process::ChildStdin) -> ChildStdin {
        ChildStdin {
            pipe: PipeWriter::from(pipe),
        }
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
        self.pipe.write(buf).await
    }

    /// Closes the pipe (once every write in flight is done): the child reads end of input.
    async fn shutdown(&self) -> io::Result<()> {
        AsyncWrite::shutdown(&self.pipe).await
    }
}

impl AsRawFd for ChildStdin {
    /// The pipe's descriptor, or -1 after [`shutdown`](AsyncWrite::shutdown).
    fn as_raw_fd(&self) -> RawFd {
        self.pipe.as_raw_fd()
    }
}

impl From<ChildStdin> for PipeWriter {
    /// The pipe itself, e.g. to keep it after the `Child` is gone.
    fn from(stdin: ChildStdin) -> PipeWriter {
        stdin.pipe
    }
}

macro_rules! read_end {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            pipe: PipeReader,
        }

        impl $name {
            pub(super) fn from_std(pipe: $std) -> $name {
                $name { pipe: PipeReader::from(pipe) }
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
                self.pipe.read(buf).await
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.pipe.as_raw_fd()
            }
        }

        impl From<$name> for PipeReader {
            /// The pipe itself, e.g. to keep it after the `Child` is gone.
            fn from(end: $name) -> PipeReader {
                end.pipe
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
