//! The two ways a [`BufReader`](super::BufReader) read can stop short.

use std::fmt;
use std::io;

/// A line (or [`read_until`](super::BufReader::read_until) chunk) longer than the
/// reader's limit.
///
/// The over-long item is dropped, never returned in pieces: the bytes of it that were
/// buffered go with the error, and if its delimiter has not arrived yet
/// ([`rest_skipped`](Self::rest_skipped)), the reader's next read first reads on and
/// drops the rest of it through the delimiter, one read at a time. So the next
/// `read_line` returns the next whole line, as after asyncio's `readline`, and the error
/// comes as soon as the limit is passed: a server that closes the connection on it never
/// reads the rest. (asyncio's `readuntil` keeps the bytes buffered instead; the next call
/// would then return the item's tail as if it were an item.)
///
/// Converts into an [`io::Error`] of kind `InvalidData`; get it back with
/// `err.downcast::<LimitOverrun>()`.
///
/// # Examples
///
/// ```
/// use ringio::io::{AsyncWriteExt, BufReader, LimitOverrun};
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     c.write_all(b"far too long\nok\n").await.0.unwrap();
///     let mut r = BufReader::new(s).with_limit(8);
///     let mut line = String::new();
///     let err = r.read_line(&mut line).await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
///     let overrun = err.downcast::<LimitOverrun>().unwrap();
///     assert_eq!((overrun.limit(), overrun.buffered()), (8, 13));
///     assert!(!overrun.rest_skipped(), "its `\n` had arrived: the line is gone whole");
///     r.read_line(&mut line).await.unwrap();
///     assert_eq!(line, "ok\n"); // the next line, never a piece of the long one
/// });
/// ```
#[doc(alias = "LimitOverrunError")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitOverrun {
    limit: usize,
    buffered: usize,
    rest_skipped: bool,
}

impl LimitOverrun {
    pub(super) fn new(limit: usize, buffered: usize, rest_skipped: bool) -> Self {
        LimitOverrun {
            limit,
            buffered,
            rest_skipped,
        }
    }

    /// The reader's limit, in bytes.
    ///
    /// # Examples
    ///
    /// See [`LimitOverrun`].
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many bytes of the over-long line had been buffered, and were dropped with the
    /// error: up to and including the delimiter if it arrived, otherwise every buffered
    /// byte (at least the limit).
    ///
    /// # Examples
    ///
    /// See [`LimitOverrun`].
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// True if the line's delimiter had not arrived: the reader's next read first drops
    /// the rest of the line, through the delimiter.
    ///
    /// # Examples
    ///
    /// See [`LimitOverrun`].
    pub fn rest_skipped(&self) -> bool {
        self.rest_skipped
    }
}

impl fmt::Display for LimitOverrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line longer than the {}-byte limit ({} bytes read{}); it was dropped (raise the \
             limit with BufReader::with_limit)",
            self.limit,
            self.buffered,
            if self.rest_skipped {
                ", the rest is skipped up to its delimiter"
            } else {
                ""
            }
        )
    }
}

impl std::error::Error for LimitOverrun {}

impl From<LimitOverrun> for io::Error {
    fn from(e: LimitOverrun) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// The stream ended before the delimiter or the requested size; carries the bytes that
/// did arrive (asyncio's `IncompleteReadError.partial`).
///
/// Converts into an [`io::Error`] of kind `UnexpectedEof`; get it back, with the partial
/// bytes, with `err.downcast::<IncompleteRead>()`.
///
/// # Examples
///
/// ```
/// use ringio::io::{BufReader, IncompleteRead};
/// use ringio::net::{TcpListener, TcpStream};
///
/// ringio::run(async {
///     let l = TcpListener::bind("127.0.0.1:0").unwrap();
///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
///     let (s, _) = l.accept().await.unwrap();
///     c.write_all(b"abc").await.0.unwrap();
///     drop(c);
///     let mut r = BufReader::new(s);
///     let err = r.read_exact(5).await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
///     let short = err.downcast::<IncompleteRead>().unwrap();
///     assert_eq!((short.partial(), short.expected()), (&b"abc"[..], Some(5)));
/// });
/// ```
#[doc(alias = "IncompleteReadError")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteRead {
    partial: Vec<u8>,
    expected: Option<usize>,
}

impl IncompleteRead {
    pub(super) fn new(partial: Vec<u8>, expected: Option<usize>) -> Self {
        IncompleteRead { partial, expected }
    }

    /// The bytes read before the stream ended.
    ///
    /// # Examples
    ///
    /// See [`IncompleteRead`].
    pub fn partial(&self) -> &[u8] {
        &self.partial
    }

    /// Takes the bytes read before the stream ended.
    ///
    /// # Examples
    ///
    /// See [`IncompleteRead`].
    pub fn into_partial(self) -> Vec<u8> {
        self.partial
    }

    /// How many bytes were asked for; `None` when reading up to a delimiter.
    ///
    /// # Examples
    ///
    /// See [`IncompleteRead`].
    pub fn expected(&self) -> Option<usize> {
        self.expected
    }
}

impl fmt::Display for IncompleteRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.expected {
            Some(n) => write!(
                f,
                "stream ended after {} of {n} bytes; the partial bytes are in the error",
                self.partial.len()
            ),
            None => write!(
                f,
                "stream ended after {} bytes, before the delimiter; the partial bytes are \
                 in the error",
                self.partial.len()
            ),
        }
    }
}

impl std::error::Error for IncompleteRead {}

impl From<IncompleteRead> for io::Error {
    fn from(e: IncompleteRead) -> io::Error {
        io::Error::new(io::ErrorKind::UnexpectedEof, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_overrun_round_trips_through_io_error() {
        let err: io::Error = LimitOverrun::new(8, 13, false).into();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("8-byte limit"), "{err}");
        assert_eq!(
            err.downcast::<LimitOverrun>().unwrap(),
            LimitOverrun::new(8, 13, false)
        );
    }

    #[test]
    fn incomplete_read_round_trips_with_its_bytes() {
        let err: io::Error = IncompleteRead::new(b"abc".to_vec(), Some(5)).into();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("3 of 5 bytes"), "{err}");
        let back = err.downcast::<IncompleteRead>().unwrap();
        assert_eq!(back.expected(), Some(5));
        assert_eq!(back.into_partial(), b"abc");

        let err: io::Error = IncompleteRead::new(Vec::new(), None).into();
        assert!(err.to_string().contains("before the delimiter"), "{err}");
        // Another error type does not downcast to it.
        let other = io::Error::new(io::ErrorKind::UnexpectedEof, "plain");
        assert!(other.downcast::<IncompleteRead>().is_err());
    }
}
