//! `TcpStream::send_file`: a file's bytes to a socket through a pipe, inside the kernel
//! (splice(2)), so they never enter user space.
//!
//! Rules:
//! 1. Each round splices at most a pipe's capacity from the file into an empty pipe, then
//!    splices out of the pipe into the socket until the pipe is empty again (partial
//!    splices loop). So a pipe is empty between rounds, and whatever a round put in, the
//!    same call takes out.
//! 2. A pipe goes back to this thread's cache only empty: a call that ends early (an
//!    error, or its future dropped mid-round) closes its pipe instead, so no stale bytes
//!    reach the next call's socket. Its descriptors stay open until the ops still in
//!    flight on them complete (`op` rule 2), then close.
//! 3. EAGAIN from the socket (a nonblocking socket, as on the epoll backend, whose send
//!    buffer is full) is retried; EPIPE and ECONNRESET end the call as errors, never as
//!    SIGPIPE: io_uring's workers block every signal, and the epoll backend blocks
//!    SIGPIPE around its splice and discards the one the kernel raised (signal(7)).
//! 4. `send_zc` gives its buffer back only after the kernel's notification that it no
//!    longer reads it (op/send_zc.rs rule 1); where the kernel (or the epoll backend)
//!    has no zero-copy send, it is a plain send.

#![forbid(unsafe_code)]

use super::TcpStream;
use crate::buf::{BufResult, IoBuf};
use crate::io::context::with_context;
use crate::op::{MultiOp, Op, SendZcItem, splice_pipe};
use crate::sys::fd::SharedFd;
use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;

/// Empty pipes kept per thread for the next `send_file`: enough for a few transfers at a
/// time on one core without a pipe2 and fcntl each, few enough that idle cores hold
/// little pipe memory (each up to `SPLICE_PIPE_SIZE`, op/splice.rs).
const PIPE_CACHE: usize = 4;

/// A splice pipe: read end, write end, capacity in bytes.
struct SplicePipe {
    r: SharedFd,
    w: SharedFd,
    size: usize,
}

thread_local! {
    static PIPES: RefCell<Vec<SplicePipe>> = const { RefCell::new(Vec::new()) };
}

/// A pipe taken for one call; back to the cache on drop only if it is known empty
/// (rule 2).
struct PipeGuard {
    pipe: Option<SplicePipe>,
    empty: bool,
}

impl PipeGuard {
    fn take() -> io::Result<PipeGuard> {
        let cached = PIPES.try_with(|p| p.borrow_mut().pop()).ok().flatten();
        let pipe = match cached {
            Some(p) => p,
            None => {
                let (r, w, size) =
                    splice_pipe().map_err(|e| with_context(e, "send_file: pipe2"))?;
                SplicePipe {
                    r: SharedFd::new(r),
                    w: SharedFd::new(w),
                    size,
                }
            }
        };
        Ok(PipeGuard {
            pipe: Some(pipe),
            empty: true,
        })
    }

    fn pipe(&self) -> &SplicePipe {
        self.pipe.as_ref().expect("held until drop")
    }
}

impl Drop for PipeGuard {
    fn drop(&mut self) {
        let Some(pipe) = self.pipe.take() else { return };
        if self.empty {
            let _ = PIPES.try_with(|p| {
                let mut p = p.borrow_mut();
                if p.len() < PIPE_CACHE {
                    p.push(pipe);
                }
            });
        }
    }
}

impl TcpStream {
    /// Sends `len` bytes of `file` from `offset` without copying them through user
    /// space (splice(2) through a pipe); stops early at the end of the file. Returns the
    /// bytes sent, which is less than `len` only if the file ended first.
    ///
    /// The file's position is not used or moved. Asyncio's `loop.sendfile(sock, file,
    /// offset, count)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::fs::File;
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// ringio::run(async {
    ///     let path = std::env::temp_dir().join(format!("ringio-sendfile-doc-{}", std::process::id()));
    ///     std::fs::write(&path, b"hello from a file")?;
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let file = File::open(&path).await?;
    ///     let sent = server.send_file(&file, 6, 100).await?;
    ///     assert_eq!(sent, 11, "only what the file has past the offset");
    ///     let (res, buf) = client.read_exact(Vec::with_capacity(11)).await;
    ///     res?;
    ///     assert_eq!(&buf, b"from a file");
    ///     std::fs::remove_file(&path)?;
    ///     Ok(())
    /// })
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// EPIPE or ECONNRESET if the peer went away (never SIGPIPE); EINVAL if `file`
    /// cannot be spliced from (splice(2)); EMFILE if no pipe can be made; what reading
    /// the file reports (EIO). Bytes sent before an error are not reported.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, some prefix of the range may have been
    /// sent, and the stream's byte count is then unknown. Nothing leaks: the pipe of a
    /// dropped call is closed, never reused with bytes left in it.
    #[doc(alias = "sendfile")]
    #[doc(alias = "loop.sendfile")]
    pub async fn send_file(
        &self,
        file: &crate::fs::File,
        offset: u64,
        len: usize,
    ) -> io::Result<usize> {
        let sock = self.stream_io().fd();
        // A descriptor of its own: a dropped call's ops may outlive the borrow of `file`,
        // and the kernel looks the input up only when the splice runs (op/splice.rs rule 2).
        let file_fd = SharedFd::new(
            file.as_fd()
                .try_clone_to_owned()
                .map_err(|e| with_context(e, "send_file: dup of the file"))?,
        );
        let mut guard = PipeGuard::take()?;
        let mut sent = 0usize;
        let mut at = offset;
        while sent < len {
            let want = (len - sent).min(guard.pipe().size).min(i32::MAX as usize) as u32;
            let off = i64::try_from(at).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "send_file: offset past i64::MAX",
                )
            })?;
            guard.empty = false;
            let n = Op::splice(&file_fd, off, &guard.pipe().w, want, &guard.pipe().r)?.await?;
            if n == 0 {
                guard.empty = true;
                break; // end of file
            }
            let mut left = n;
            while left > 0 {
                let pipe = guard.pipe();
                match Op::splice(&pipe.r, -1, sock, left as u32, &pipe.w)?.await {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "send_file: the socket took no bytes",
                        ));
                    }
                    Ok(m) => left -= m.min(left),
                    // A nonblocking socket with a full send buffer (rule 3).
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            guard.empty = true;
            sent += n;
            at += n as u64;
        }
        Ok(sent)
    }
}

impl TcpStream {
    /// Sends the buffer's initialised bytes with a zero-copy send (IORING_OP_SEND_ZC,
    /// io_uring_prep_send_zc(3)): the kernel sends from the buffer's pages instead of
    /// copying them. Returns how many bytes were sent, which may be fewer than the
    /// buffer holds, and the buffer, which comes back only once the kernel has said it
    /// no longer reads it.
    ///
    /// Zero copy pays for large buffers (tens of KiB and up); on loopback the kernel
    /// copies anyway. Without kernel support (before Linux 6.0) and on the epoll
    /// backend, it is a plain send.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::net::{TcpListener, TcpStream};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// ringio::run(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     let (res, buf) = server.send_zc(vec![7u8; 1000]).await;
    ///     assert_eq!(res?, 1000, "a short send on a fresh socket is whole");
    ///     assert_eq!(buf.len(), 1000, "the buffer comes back");
    ///     let (res, got) = client.read_exact(Vec::with_capacity(1000)).await;
    ///     res?;
    ///     assert_eq!(got, buf);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`write`](TcpStream::write): EPIPE or ECONNRESET if the peer went away (never
    /// SIGPIPE), and what the submission queue reports.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, some of the bytes may have been sent.
    /// The buffer is then dropped only after the kernel's notification.
    #[doc(alias = "MSG_ZEROCOPY")]
    pub async fn send_zc<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        let fd = self.stream_io().fd();
        let mut op = match MultiOp::send_zc(fd, buf) {
            Ok(op) => op,
            Err((e, buf)) => return (Err(e), buf),
        };
        let mut sent = None;
        loop {
            let (item, more): (SendZcItem<B>, bool) = poll_fn(|cx| op.poll_next(cx)).await;
            if item.sent.is_some() {
                sent = item.sent;
            }
            if !more {
                let buf = item.buf.expect("the last CQE gives the buffer back");
                return match sent {
                    // No SEND_ZC here (op/send_zc.rs rule 2): a plain send.
                    Some(Err(e)) if e.raw_os_error() == Some(libc::EINVAL) && !item.notif => {
                        self.write(buf).await
                    }
                    Some(res) => (res, buf),
                    None => (
                        Err(io::Error::other("send_zc: notification without a result")),
                        buf,
                    ),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On io_uring, the buffer comes back with the notification CQE, after the result.
    #[test]
    fn send_zc_gives_the_buffer_back_with_the_notification() {
        crate::run(async {
            let listener = crate::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let mut op = MultiOp::send_zc(server.stream_io().fd(), vec![1u8; 4096])
                .map_err(|(e, _)| e)
                .unwrap();
            let mut items = Vec::new();
            loop {
                let (item, more) = poll_fn(|cx| op.poll_next(cx)).await;
                items.push((
                    item.sent.map(|r| r.map_err(|e| e.raw_os_error())),
                    item.notif,
                    item.buf.is_some(),
                ));
                if !more {
                    break;
                }
            }
            drop(client);
            if items == [(Some(Err(Some(libc::EINVAL))), false, true)] {
                return; // no SEND_ZC here (the epoll backend): the caller falls back
            }
            assert_eq!(items, [(Some(Ok(4096)), false, false), (None, true, true)]);
        });
    }

    #[test]
    fn pipe_capacity_is_at_least_a_page() {
        crate::run(async {
            let g = PipeGuard::take().unwrap();
            assert!(g.pipe().size >= 4096 && g.pipe().size <= 1 << 20);
        });
    }
}
