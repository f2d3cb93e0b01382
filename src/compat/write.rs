//! The write side of [`Compat`](super::Compat): one send at a time from a buffer the
//! `Compat` reuses, reported only once the kernel took it (module rules 4 and 5).

use crate::net::StreamIo;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::task::{Context, Poll, ready};

/// The most one write copies, so the buffer a `Compat` keeps for its life stays bounded;
/// a longer write is reported short and the caller sends the rest (the traits allow a
/// short count). 64 KiB is what a loopback or LAN socket buffer typically takes in one
/// send, so larger copies would mostly come back short anyway.
pub(crate) const WRITE_CHUNK: usize = 64 * 1024;

/// One step of the stream's polled sends (`StreamIo::polled_send`), boxed once.
type Send = Box<dyn FnMut(&mut Context<'_>, &mut Option<Vec<u8>>) -> Poll<io::Result<usize>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No send in flight; the next write starts one.
    Idle,
    /// The send holds the buffer.
    Sending,
    /// The send took this many bytes, not yet reported to a write (a flush waited for
    /// it): the next write reports it.
    Sent(usize),
}

/// What a `Compat` keeps for its writes.
pub(crate) struct WriteCore {
    /// Made at the first write; holds the send in flight between polls.
    send: Option<Send>,
    /// The reused buffer, holding the bytes of the last send; `None` while a send owns it.
    buf: Option<Vec<u8>>,
    state: State,
}

impl Default for WriteCore {
    fn default() -> Self {
        WriteCore {
            send: None,
            buf: Some(Vec::new()),
            state: State::Idle,
        }
    }
}

impl WriteCore {
    /// Writes from `bufs` as one send (at most [`WRITE_CHUNK`] bytes): the first call copies
    /// them and starts the send, and the call that sees it end reports how many bytes the
    /// kernel took. Those calls must pass data that starts with the bytes the first copied.
    pub(crate) fn poll_write(
        &mut self,
        io: &StreamIo,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.state {
                State::Idle => {
                    let total: usize = bufs.iter().map(|b| b.len()).sum();
                    if total == 0 {
                        return Poll::Ready(Ok(0));
                    }
                    let buf = self.buf.as_mut().expect("no send in flight holds it");
                    copy_in(buf, bufs, total.min(WRITE_CHUNK));
                    self.state = State::Sending;
                }
                State::Sending => ready!(self.poll_send(io, cx))?,
                State::Sent(n) => {
                    self.state = State::Idle;
                    let buf = self.buf.as_ref().expect("the send gave it back");
                    if !starts_with(bufs, &buf[..n]) {
                        return Poll::Ready(Err(changed_data(n)));
                    }
                    return Poll::Ready(Ok(n));
                }
            }
        }
    }

    /// Waits for the send in flight, if any; its count waits for the next write.
    pub(crate) fn poll_flush(
        &mut self,
        io: &StreamIo,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.state == State::Sending {
            ready!(self.poll_send(io, cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Finishes the send in flight, then sends FIN (`shutdown(SHUT_WR)`): the peer reads
    /// end of stream once it has read everything sent before.
    pub(crate) fn poll_shutdown(
        &mut self,
        io: &StreamIo,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_flush(io, cx))?;
        Poll::Ready(io.shutdown(Shutdown::Write))
    }

    /// Polls the send in flight: `Sent` once it took bytes, `Idle` and the error if it
    /// failed (then it took none: send(2) reports an error only when it sent nothing).
    fn poll_send(&mut self, io: &StreamIo, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let send = self.send.get_or_insert_with(|| Box::new(io.polled_send()));
        match ready!(send(cx, &mut self.buf)) {
            Ok(n) => {
                self.state = State::Sent(n);
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                self.state = State::Idle;
                Poll::Ready(Err(e))
            }
        }
    }

    /// Whether a send is in flight.
    pub(crate) fn sending(&self) -> bool {
        self.state == State::Sending
    }
}

/// Replaces `buf`'s bytes with the first `want` bytes of `bufs`, keeping its allocation
/// (it grows to at most [`WRITE_CHUNK`]).
fn copy_in(buf: &mut Vec<u8>, bufs: &[IoSlice<'_>], want: usize) {
    buf.clear();
    buf.reserve_exact(want);
    for b in bufs {
        let take = (want - buf.len()).min(b.len());
        buf.extend_from_slice(&b[..take]);
        if buf.len() == want {
            break;
        }
    }
}

/// Whether the bytes of `bufs`, in order, start with `sent`.
fn starts_with(bufs: &[IoSlice<'_>], mut sent: &[u8]) -> bool {
    for b in bufs {
        if sent.is_empty() {
            break;
        }
        let n = b.len().min(sent.len());
        if b[..n] != sent[..n] {
            return false;
        }
        sent = &sent[n..];
    }
    sent.is_empty()
}

/// The error of a write whose data no longer starts with the bytes a send already put on
/// the wire: they cannot be taken back, so no count would tell the truth.
fn changed_data(sent: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "poll_write was called with data that does not start with the {sent} bytes \
             its earlier call began sending; those bytes are sent. Retry a pending write \
             with the same data (or data that starts with it)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_in_takes_slices_in_order_up_to_the_limit() {
        let mut buf = Vec::new();
        let bufs = [
            IoSlice::new(b"abc"),
            IoSlice::new(b""),
            IoSlice::new(b"defg"),
        ];
        copy_in(&mut buf, &bufs, 5);
        assert_eq!(buf, b"abcde");
        copy_in(&mut buf, &bufs, 7);
        assert_eq!(buf, b"abcdefg");
    }

    #[test]
    fn starts_with_spans_slices() {
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
        assert!(starts_with(&bufs, b"abc"));
        assert!(starts_with(&bufs, b""));
        assert!(!starts_with(&bufs, b"abd"));
        assert!(!starts_with(&bufs, b"abcde"));
    }
}
