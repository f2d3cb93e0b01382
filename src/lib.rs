//! ringio: an io_uring async runtime for Linux with an API that reads like Python's asyncio.
//!
//! A completion-based proactor submits socket operations to io_uring; one executor per
//! core drives `!Send` futures; [`time`], [`sync`], [`task`] and [`channel`] give the
//! asyncio vocabulary (`sleep`, `wait_for`, `Semaphore`, `Queue`, `gather`,
//! `TaskGroup`, ...).
//!
//! ```
//! use ringio::buf::IoBuf;
//! use ringio::net::{TcpListener, TcpStream};
//!
//! ringio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = ringio::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let (n, buf) = stream.read(vec![0u8; 64]).await;
//!         stream.write_all(buf.slice(..n.unwrap())).await.0.unwrap();
//!     });
//!     let client = TcpStream::connect(addr).await.unwrap();
//!     client.write_all(b"hello".to_vec()).await.0.unwrap();
//!     let (res, buf) = client.read_exact(vec![0u8; 5]).await;
//!     res.unwrap();
//!     assert_eq!(&buf[..], b"hello");
//!     server.await.unwrap();
//! });
//! ```
//!
//! # Layers
//!
//! `net`, `signal` → `op` → `driver` → kernel. Only `driver` pushes SQEs and reaps CQEs;
//! `time`, `sync`, `task` and `channel` are plain futures and never see the ring. The
//! rules that keep buffers and descriptors alive while the kernel holds them are written
//! at the top of the `driver`, `op` and `runtime` sources; `unsafe` lives in those, in
//! `buf` and `fd`, and in `pin_slice` (pinning many futures in one allocation).
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod buf;
pub mod channel;
pub(crate) mod driver;
pub(crate) mod fd;
pub mod fs;
pub mod io;
pub mod net;
pub(crate) mod op;
pub(crate) mod pin_slice;
pub mod runtime;
pub mod signal;
pub mod sync;
pub mod task;
pub mod time;
pub(crate) mod wait_list;
#[cfg(test)]
pub(crate) mod test_util;

#[cfg(feature = "fault-injection")]
pub use driver::fault;
pub use fd::raise_nofile_limit;
pub use runtime::{
    Builder, JoinError, JoinHandle, Metrics, Runtime, metrics, run, spawn, spawn_blocking,
    spawn_on, yield_now,
};
