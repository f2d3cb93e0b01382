//! ringio: an io_uring async runtime for Linux with an API that reads like Python's asyncio.
//!
//! A completion-based proactor submits socket and file operations to io_uring; a
//! per-core executor drives `!Send` futures; `time`, `sync` and `task` give the asyncio
//! vocabulary (`sleep`, `wait_for`, `Semaphore`, `Queue`, `gather`, ...).
//!
//! ```
//! use ringio::net::{TcpListener, TcpStream};
//!
//! ringio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
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
//! `net` → `op` → `driver` → kernel. Only `driver` pushes SQEs and reaps CQEs; `time`,
//! `sync` and `task` are plain futures and never see the ring. See `DESIGN.md`.
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod buf;
pub mod channel;
pub(crate) mod driver;
pub(crate) mod fd;
pub mod net;
pub(crate) mod op;
pub mod runtime;
pub mod signal;
pub mod sync;
pub mod task;
pub mod time;

pub use fd::raise_nofile_limit;
pub use runtime::{
    Builder, JoinError, JoinHandle, Metrics, Runtime, metrics, run, spawn, spawn_blocking,
    spawn_on, yield_now,
};
