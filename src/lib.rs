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
//! # Coming from asyncio
//!
//! **The loop.** `asyncio.run(main())` is [`run`]`(main())`: one core, built, run and
//! closed. `new_event_loop()` / `loop.run_until_complete(..)` / `loop.close()` are
//! [`Runtime::builder()`](Runtime::builder)`.workers(1).build()?`,
//! [`block_on`](Runtime::block_on) and dropping the `Runtime`.
//!
//! ```
//! let rt = ringio::Runtime::builder().workers(1).build().unwrap();
//! assert_eq!(rt.block_on(async { 6 * 7 }), 42);
//! drop(rt); // loop.close()
//! ```
//!
//! **Tasks.** `create_task(coro)` is [`spawn`]`(fut)`; `await task` is `task.await?`: the
//! `?` is for the [`JoinError`] of a task that panicked or was cancelled (asyncio's
//! exception from the task, or `CancelledError`).
//!
//! **contextvars.** A `ContextVar` is a [`task_local!`] key; [`spawn`] copies its value.
//!
//! **as_completed over a TaskGroup.** [`TaskGroup::join_next`](task::TaskGroup::join_next).
//!
//! **wait_for.** [`time::timeout(duration, future)`](time::timeout) takes the duration
//! *first*, the other way round from `asyncio.wait_for(aw, timeout)`, and gives
//! `Err(Elapsed)` (asyncio's `TimeoutError`) when the time is up.
//!
//! **gather.** Futures of different types go through [`gather!`], which awaits by
//! itself and gives a tuple; many futures of one type go through
//! [`task::gather`]`(iter).await`, which gives a `Vec` in input order.
//! `return_exceptions=True` is the default shape here: a future that can fail returns a
//! `Result`, and `gather` hands back every `Result`; [`try_gather!`] and
//! [`task::try_gather`] stop at the first `Err` instead (plain `gather`'s raising).
//!
//! ```
//! use std::time::Duration;
//! use ringio::time::{sleep, timeout};
//!
//! async fn fetch_name() -> String {
//!     sleep(Duration::from_millis(2)).await;
//!     "ringio".to_string()
//! }
//! async fn fetch_count() -> u32 {
//!     7
//! }
//! async fn parse(s: &str) -> Result<u32, String> {
//!     s.parse().map_err(|_| format!("not a number: {s}"))
//! }
//!
//! ringio::run(async {
//!     // Two different async fns: a tuple.
//!     let (name, count) = ringio::gather!(fetch_name(), fetch_count());
//!     assert_eq!((name.as_str(), count), ("ringio", 7));
//!     // return_exceptions=True: every Result comes back.
//!     let results = ringio::task::gather(["1", "x", "3"].map(parse)).await;
//!     assert_eq!(results[1], Err("not a number: x".to_string()));
//!     // wait_for(fetch_name(), 1.0), duration first.
//!     let name = timeout(Duration::from_secs(1), fetch_name()).await.unwrap();
//!     // await task: `?` (here `unwrap`) for a panic or a cancel.
//!     let task = ringio::spawn(fetch_count());
//!     assert_eq!(task.await.unwrap(), 7);
//!     # let _ = name;
//! });
//! ```
//!
//! **Locks and other primitives.** `asyncio.Lock()` is [`sync::Mutex::new(())`](sync::Mutex):
//! create it inside the runtime and share it by reference (futures that borrow it) or
//! by `Rc`. It cannot be a `static`: like asyncio's, ringio's primitives belong to one
//! core's loop (they keep their waiters in a `RefCell`), so they are not `Sync`; use a
//! [`channel`] to talk across cores.
//!
//! ```
//! use std::rc::Rc;
//! use ringio::sync::Mutex;
//!
//! ringio::run(async {
//!     let lock = Rc::new(Mutex::new(()));
//!     let tasks: Vec<_> = (0..3)
//!         .map(|_| {
//!             let lock = lock.clone();
//!             ringio::spawn(async move {
//!                 let _held = lock.lock().await; // async with lock:
//!                 ringio::yield_now().await;
//!             })
//!         })
//!         .collect();
//!     for t in tasks {
//!         t.await.unwrap();
//!     }
//! });
//! ```
//!
//! **Entry points and tests.** `asyncio.run(main())` at the bottom of a script is
//! `#[ringio::main] async fn main()`; `unittest.IsolatedAsyncioTestCase` is
//! `#[ringio::test] async fn ..()`, and `#[ringio::test(start_paused = true)]` (feature
//! `test-util`) runs its timers on a paused clock that jumps when every task is idle.
//!
//! **Async generators.** An `async def` with `yield` is a producer task sending into a
//! [`channel::mpsc`] channel (bounded: the producer waits while the consumer is behind, as
//! a generator does), consumed with `while let Some(x) = rx.recv().await` (`async for`);
//! with the `futures-core` feature the receiver is also a `Stream`.
//!
//! ```
//! use ringio::channel::mpsc;
//!
//! ringio::run(async {
//!     let (tx, mut rx) = mpsc::channel(4);
//!     ringio::spawn(async move {
//!         for i in 0..5u32 {
//!             if tx.send(i * i).await.is_err() {
//!                 break; // the consumer went away
//!             }
//!         }
//!     });
//!     let mut squares = Vec::new();
//!     while let Some(x) = rx.recv().await {
//!         squares.push(x);
//!     }
//!     assert_eq!(squares, [0, 1, 4, 9, 16]);
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
pub(crate) mod loom_shim;
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

/// `#[ringio::main]`: runs `async fn main` on a ringio runtime.
///
/// # Examples
///
/// ```
/// #[ringio::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = ringio::net::TcpListener::bind("127.0.0.1:0")?;
///     assert!(listener.local_addr()?.port() != 0);
///     ringio::time::sleep(std::time::Duration::from_millis(1)).await;
///     Ok(())
/// }
/// ```
///
/// ```
/// #[ringio::main(workers = 2)]
/// async fn main() {
///     // Core 1 is the second worker thread.
///     let answer = ringio::spawn_on(1, || async { 6 * 7 });
///     assert_eq!(answer.await.unwrap(), 42);
/// }
/// ```
///
/// # Compile errors
///
/// Refused inputs are compile errors at the offending tokens: a function that is not
/// `async`,
///
/// ```compile_fail
/// #[ringio::main]
/// fn main() {}
/// ```
///
/// one with arguments,
///
/// ```compile_fail
/// #[ringio::main]
/// async fn main(args: Vec<String>) {}
/// ```
///
/// an unknown option, or no worker at all:
///
/// ```compile_fail
/// #[ringio::main(flavor = "current_thread")]
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[ringio::main(workers = 0)]
/// async fn main() {}
/// ```
///
/// # Reference
///
#[cfg(feature = "macros")]
pub use ringio_macros::main;

/// `#[ringio::test]`: runs an `async fn` test on its own ringio runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ringio::time::{sleep, timeout};
///
/// #[ringio::test]
/// async fn answers_in_time() {
///     let answer = timeout(Duration::from_secs(5), async { 42 }).await;
///     assert_eq!(answer, Ok(42));
/// }
///
/// #[ringio::test(workers = 2)]
/// #[should_panic(expected = "boom")]
/// async fn panics_are_test_failures() {
///     panic!("boom");
/// }
/// # fn main() {}
/// ```
///
/// `start_paused = true` runs the test on a paused clock (`time::pause`); without the
/// feature `test-util` it is a compile error:
///
#[cfg_attr(not(feature = "test-util"), doc = "```compile_fail")]
#[cfg_attr(feature = "test-util", doc = "```")]
/// #[ringio::test(start_paused = true)]
/// async fn hour_long_sleep_in_no_time() {
///     ringio::time::sleep(std::time::Duration::from_secs(3600)).await;
/// }
/// # fn main() {}
/// ```
///
/// # Reference
///
#[cfg(feature = "macros")]
pub use ringio_macros::test;
