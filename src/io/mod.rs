//! Streams: asyncio's `StreamReader` / `StreamWriter` vocabulary over owned buffers.
//!
//! [`AsyncRead`] and [`AsyncWrite`] are the byte-stream traits that [`TcpStream`],
//! [`UnixStream`] and their halves implement (the `net` module implements them), as do
//! the pipes ([`pipe()`], a child's stdio) and the standard streams ([`stdin()`],
//! [`stdout()`], [`stderr()`]);
//! [`AsyncReadExt`] and [`AsyncWriteExt`] add the loops (`read_exact`, `read_to_end`,
//! `write_all`) to every implementor. [`BufReader`] gives `readline` / `readuntil` /
//! `readexactly`, [`BufWriter`] gives buffered writes with `drain`, and [`copy()`] pumps
//! one stream into another.
//!
//! Rules the types here keep:
//! 1. Buffers go to the kernel by value and come back with the result (the `buf` module
//!    rules); nothing here touches memory the kernel may still write, so the module is
//!    free of `unsafe`.
//! 2. A read dropped mid-flight loses no byte: the stream keeps what the kernel delivered
//!    and the next read returns it. [`BufReader`] keeps its own buffered bytes in memory
//!    it never hands to the kernel, so a dropped `read_line` / `read_until` /
//!    `read_exact` loses nothing either: the next call sees every byte.
//! 3. Methods take `&self` like [`TcpStream`]'s, so one task can read while another
//!    writes the same stream; the futures are not `Send` (tasks stay on their core).
//!
//! [`TcpStream`]: crate::net::TcpStream
//! [`UnixStream`]: crate::net::UnixStream
//!
//! # Examples
//!
//! ```
//! use ringio::io::{AsyncWriteExt, BufReader};
//! use ringio::net::{TcpListener, TcpStream};
//!
//! ringio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     ringio::spawn(async move {
//!         let (s, _) = listener.accept().await.unwrap();
//!         s.write_all(b"hello\nworld\n").await.0.unwrap();
//!     });
//!     let mut reader = BufReader::new(TcpStream::connect(addr).await.unwrap());
//!     let mut line = String::new();
//!     reader.read_line(&mut line).await.unwrap();
//!     assert_eq!(line, "hello\n");
//! });
//! ```
#![forbid(unsafe_code)]

mod buf_reader;
mod buf_writer;
pub(crate) mod context;
mod copy;
mod error;
pub(crate) mod loops;
mod pipe;
mod stdio;
mod traits;

#[doc(alias = "StreamReader")]
pub use buf_reader::BufReader;
#[doc(alias = "StreamWriter")]
pub use buf_writer::BufWriter;
pub use copy::copy;
#[doc(alias = "IncompleteReadError")]
pub use error::IncompleteRead;
#[doc(alias = "LimitOverrunError")]
pub use error::LimitOverrun;
#[doc(alias = "connect_read_pipe")]
pub use pipe::PipeReader;
#[doc(alias = "connect_write_pipe")]
pub use pipe::PipeWriter;
#[doc(alias = "os.pipe")]
#[doc(alias = "pipe2")]
pub use pipe::pipe;
#[doc(alias = "sys.stderr")]
pub use stdio::stderr;
#[doc(alias = "sys.stdin")]
#[doc(alias = "connect_read_pipe")]
pub use stdio::stdin;
#[doc(alias = "sys.stdout")]
#[doc(alias = "connect_write_pipe")]
pub use stdio::stdout;
pub use stdio::{Stderr, Stdin, Stdout};
pub use traits::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The buffer size [`BufReader`] and [`BufWriter`] use unless told otherwise:
/// std's `BufReader` default, a few MSS of loopback or Ethernet traffic per syscall.
///
/// # Examples
///
/// ```
/// assert_eq!(ringio::io::DEFAULT_BUF_SIZE, 8192);
/// ```
pub const DEFAULT_BUF_SIZE: usize = 8 * 1024;

/// The longest line (or [`read_until`](BufReader::read_until) chunk, delimiter included)
/// a [`BufReader`] accepts unless told otherwise: asyncio's `StreamReader` default, 64 KiB.
///
/// A peer that sends a longer line gets [`LimitOverrun`] after at most this many bytes
/// (plus one read) are buffered, so it cannot make the reader hold more.
///
/// # Examples
///
/// ```
/// # ringio::run(async {
/// # let l = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// # let c = ringio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
/// let r = ringio::io::BufReader::new(c);
/// assert_eq!(r.limit(), Some(ringio::io::DEFAULT_LINE_LIMIT));
/// # });
/// ```
pub const DEFAULT_LINE_LIMIT: usize = 64 * 1024;
