//! The read side of [`Compat`](super::Compat): a receive into the core's buffer pool
//! whose op lives here between polls, and the pool buffer the caller has not finished
//! reading (module rules 2 and 3).

use crate::buf::PooledBuf;
use crate::net::StreamIo;
use std::io;
use std::task::{Context, Poll, ready};

/// One step of the stream's pooled receive (`StreamIo::polled_recv`), boxed once.
type Recv = Box<dyn FnMut(&mut Context<'_>) -> Poll<io::Result<PooledBuf>>>;

/// What a `Compat` keeps for its reads.
#[derive(Default)]
pub(crate) struct ReadCore {
    /// The pool buffer the caller has read part of; given back to the pool as soon as its
    /// last byte is read, so a connection waiting for data holds none.
    held: Option<PooledBuf>,
    /// How many bytes of `held` the caller has read.
    at: usize,
    /// Made at the first read; holds the receive in flight between polls.
    recv: Option<Recv>,
}

impl ReadCore {
    /// The bytes the caller has not read yet: those of the held buffer, else those of the
    /// next receive. Empty means end of stream.
    pub(crate) fn poll_fill_buf(
        &mut self,
        io: &StreamIo,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&[u8]>> {
        if self.held.as_ref().is_some_and(|held| self.at < held.len()) {
            let held = self.held.as_ref().expect("checked above");
            return Poll::Ready(Ok(&held[self.at..]));
        }
        self.held = None;
        let recv = self.recv.get_or_insert_with(|| Box::new(io.polled_recv()));
        let buf = ready!(recv(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(&[]));
        }
        self.at = 0;
        Poll::Ready(Ok(&self.held.insert(buf)[..]))
    }

    /// Marks `n` bytes of what [`poll_fill_buf`](Self::poll_fill_buf) gave as read.
    pub(crate) fn consume(&mut self, n: usize) {
        let Some(held) = &self.held else {
            return;
        };
        self.at = (self.at + n).min(held.len());
        if self.at == held.len() {
            self.held = None;
        }
    }

    /// Reads at most `room` bytes, handing them to `put` in one slice; `Ready(Ok(0))` at
    /// end of stream or when `room` is 0 (then nothing is received).
    pub(crate) fn poll_read_with(
        &mut self,
        io: &StreamIo,
        cx: &mut Context<'_>,
        room: usize,
        put: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<usize>> {
        if room == 0 {
            return Poll::Ready(Ok(0));
        }
        let bytes = ready!(self.poll_fill_buf(io, cx))?;
        let n = bytes.len().min(room);
        put(&bytes[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }

    /// Gives what the caller did not read back to the stream: the rest of the held
    /// buffer goes in front of its stash, and the receive in flight is dropped, which
    /// cancels it and keeps what it received behind those bytes.
    pub(crate) fn hand_back(&mut self, io: &StreamIo) {
        if let Some(held) = self.held.take() {
            io.unread(&held[self.at..]);
        }
        self.recv = None;
    }

    /// Bytes received and not yet read by the caller.
    pub(crate) fn buffered(&self) -> usize {
        self.held.as_ref().map_or(0, |held| held.len() - self.at)
    }
}
