//! The buffer work behind `BufReader`'s reads: filling it one read at a time, scanning
//! for a delimiter under the line limit, skipping the rest of an over-long item, and
//! shrinking back after a big one (the rules in `buf_reader.rs`).

use super::BufReader;
use crate::io::{AsyncRead, DEFAULT_LINE_LIMIT, LimitOverrun};
use std::io;

/// One read asks for at most this many times the reader's capacity, however large a
/// `read_exact`: a length prefix sent by the peer then costs memory only as the bytes
/// actually arrive, and big reads still take few syscalls.
const MAX_READ_FACTOR: usize = 4;

/// The buffer keeps up to this many times what a line at the default limit needs (the
/// limit plus one read) between items; past that, once the big item is taken, it shrinks
/// back to the read capacity (rule 3). Two: `Vec` doubles as it grows, so a line just
/// under the limit may leave up to twice its size, and that much is kept for the next.
const RETAIN_FACTOR: usize = 2;

/// What a scan for a delimiter found in the buffer.
pub(super) enum Scan {
    /// A chunk of this many bytes ending with the delimiter.
    Found(usize),
    /// End of stream with this many bytes buffered and no delimiter among them.
    Eof(usize),
}

impl<R> BufReader<R> {
    /// Takes `n` buffered bytes out.
    pub(super) fn take(&mut self, n: usize) -> Vec<u8> {
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        self.shrink_if_oversized();
        out
    }

    /// The buffer capacity kept between items: what a line at the default limit needs,
    /// twice (`RETAIN_FACTOR`), and never less than a `read_exact` read. Not the reader's
    /// own limit: a reader allowed 100 MB lines must not keep 100 MB after one.
    fn retained(&self) -> usize {
        let read = self.capacity.saturating_mul(MAX_READ_FACTOR);
        DEFAULT_LINE_LIMIT
            .max(read)
            .saturating_add(self.capacity)
            .saturating_mul(RETAIN_FACTOR)
    }

    /// Gives back what a big item made the buffer grow to, once the bytes left are few
    /// (rule 3). Costs a copy of those bytes, only after such an item.
    pub(super) fn shrink_if_oversized(&mut self) {
        let retained = self.retained();
        if self.buf.capacity() > retained && self.buf.len() - self.pos <= retained / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
            self.buf.shrink_to(self.capacity);
        }
    }
}

impl<R: AsyncRead> BufReader<R> {
    /// Finds `delimiter` in the buffer, reading more until it arrives, the limit is
    /// passed or the stream ends. Returns with every scanned byte still buffered, except
    /// after an overrun, whose bytes are dropped (rule 2).
    pub(super) async fn scan_until(&mut self, delimiter: u8) -> io::Result<Scan> {
        let mut scanned = 0;
        loop {
            let avail = self.buffer();
            if let Some(i) = avail[scanned..].iter().position(|&b| b == delimiter) {
                let len = scanned + i + 1;
                if let Some(limit) = self.limit
                    && len > limit
                {
                    self.pos += len;
                    self.shrink_if_oversized();
                    return Err(LimitOverrun::new(limit, len, false).into());
                }
                return Ok(Scan::Found(len));
            }
            if let Some(limit) = self.limit
                && avail.len() >= limit.max(1)
            {
                let dropped = avail.len();
                self.pos = self.buf.len();
                self.skipping = Some(delimiter);
                self.shrink_if_oversized();
                return Err(LimitOverrun::new(limit, dropped, true).into());
            }
            scanned = avail.len();
            if self.fill_more(0).await? == 0 {
                return Ok(Scan::Eof(self.buffer().len()));
            }
        }
    }

    /// Drops the rest of an over-long item through its delimiter, one read at a time, if
    /// an overrun left one unfinished (rule 2). Cancel-safe: what is left to skip is
    /// remembered in the reader.
    pub(super) async fn skip_overrun(&mut self) -> io::Result<()> {
        while let Some(delimiter) = self.skipping {
            match self.buffer().iter().position(|&b| b == delimiter) {
                Some(i) => {
                    self.pos += i + 1;
                    self.skipping = None;
                }
                None => {
                    self.pos = self.buf.len();
                    if self.fill_more(0).await? == 0 {
                        // The stream ended inside the item: nothing of it is left.
                        self.skipping = None;
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads once, asking for `want` bytes (at least `capacity`, at most
    /// `MAX_READ_FACTOR` times it), and appends what arrived to the buffer; returns how
    /// many bytes (0 at end of stream).
    pub(super) async fn fill_more(&mut self, want: usize) -> io::Result<usize> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut landing = std::mem::take(&mut self.landing);
        landing.clear();
        landing.reserve(want.clamp(self.capacity, self.capacity.saturating_mul(MAX_READ_FACTOR)));
        let res = loop {
            // If this future is dropped here, only `landing` is lost: `buf` is untouched
            // and the stream keeps whatever the kernel delivered for its next read.
            let (res, back) = self.inner.read(landing).await;
            landing = back;
            match res {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => break res,
            }
        };
        if let Ok(n) = res {
            self.buf.extend_from_slice(&landing[..n]);
        }
        self.landing = landing;
        res
    }
}
