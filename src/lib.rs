//! ringio: an io_uring async runtime for Linux with an API that reads like Python's asyncio.
//!
//! A completion-based proactor submits socket operations to io_uring (or, where io_uring
//! is denied, carries the same operations out on epoll: [`runtime::Backend`]); one
//! executor per core drives `!Send` futures; [`time`], [`sync`], [`task`] and [`channel`] give the
//! asyncio vocabulary (`sleep`, `timeout` for `wait_for`, `Semaphore`, `Queue`, `gather`,
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
//! `net`, `fs`, `signal` → `op` → `driver` → kernel. Only `driver` pushes SQEs and reaps
//! CQEs (to the ring, or to its epoll backend, which carries the same SQEs out itself); `time`, `sync`, `task` and `channel` are plain futures and never see the ring.
//! `runtime` owns each core's loop, its run queues and its timer wheel; `op` reaches the
//! current core's driver, and `time` its wheel, through one narrow handle each
//! (`runtime::handle`), and the runtime uses neither. `sys` wraps the raw syscalls that
//! are not ring operations (descriptors, rlimits, CPU affinity, the signal handlers under
//! `signal`).
//!
//! The rules that keep buffers and descriptors alive while the kernel holds them are
//! written at the top of the `driver`, `op`, `buf` and `runtime` sources. `unsafe` lives
//! only in `driver`, `op`, `buf` and `sys`, in the two task files of `runtime`
//! (`task.rs`, the async-task glue, and `join.rs`, the handle that points into a task),
//! and in `pin_slice` (pinning many futures in one allocation); nowhere else (the other
//! runtime files and the user-facing modules say so with `#![forbid(unsafe_code)]`).
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod buf;
pub mod channel;
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
pub mod compat;
pub(crate) mod driver;
pub mod fs;
#[cfg(feature = "hyper")]
pub mod http;
pub mod io;
pub mod net;
pub(crate) mod op;
pub(crate) mod pin_slice;
pub mod process;
pub mod runtime;
pub mod signal;
pub mod sync;
pub(crate) mod sys;
pub mod task;
#[cfg(test)]
pub(crate) mod test_util;
pub mod time;
pub(crate) mod wait_list;

#[cfg(feature = "fault-injection")]
pub use driver::fault;
pub use runtime::{
    Builder, JoinError, JoinHandle, Metrics, Runtime, metrics, run, spawn, spawn_blocking,
    spawn_on, yield_now,
};
