//! Child processes: asyncio's `create_subprocess_exec` and `communicate`, with std's
//! builder shape.
//!
//! [`Command`] builds and starts a child (through `std::process::Command`, which handles
//! the fork and exec details); [`Child`] waits for it, signals it and holds its pipes,
//! which are [`AsyncRead`](crate::io::AsyncRead) / [`AsyncWrite`](crate::io::AsyncWrite)
//! streams on the ring. A shell command is `Command::new("sh").arg("-c").arg(line)`
//! (asyncio's `create_subprocess_shell`).
//!
//! Rules:
//! 1. A child is waited for through its pidfd (pidfd_open(2), Linux 5.3), never through a
//!    SIGCHLD handler or `waitpid(-1)`: children that other code started are never
//!    reaped by ringio, and ringio's are reaped by nothing else.
//! 2. A wait is one IORING_OP_WAITID (Linux 6.7), which reaps the child as it exits. A
//!    kernel or backend without it answers -EINVAL; then the wait polls the pidfd for
//!    readability (IORING_OP_POLL_ADD; pidfd_open(2): readable once the process
//!    terminates) and reaps with `waitid(P_PIDFD, .., WEXITED | WNOHANG)`; the epoll
//!    backend carries that poll out too (its rule 1). Should the poll be refused as well,
//!    the wait checks with that `waitid` at growing intervals, up to 10 ms apart.
//! 3. A dropped wait cancels its op (op rule 2). A WAITID whose CQE arrives after the
//!    wait was dropped has reaped the child: its status is kept for the next wait.
//! 4. A `Child` dropped before its status was collected leaves no zombie: a detached task
//!    on the current core waits for it and reaps it; with no runtime on the thread (or
//!    once the runtime shuts down) a small std thread does. With
//!    [`kill_on_drop(true)`](Command::kill_on_drop) it gets SIGKILL first.
//! 5. The pipes are the descriptors std made (close-on-exec, blocking: some kernels'
//!    io_uring answers a read on an `O_NONBLOCK` pipe with -EAGAIN instead of waiting); reads
//!    and writes are the ring's READ and WRITE at offset -1, i.e. read(2)/write(2).
//!    Reads go through the stream's own buffer: a read dropped while the kernel holds it
//!    stays in flight, and its bytes go to the next read (cancel-safe, one copy).
//!    Writing to a child that closed its stdin gives `BrokenPipe`: Rust's runtime
//!    ignores SIGPIPE in every program it starts, so the process lives on.
//!
//! # Examples
//!
//! ```
//! use ringio::process::Command;
//!
//! ringio::run(async {
//!     let out = Command::new("sh").arg("-c").arg("echo hi; echo err >&2").output().await.unwrap();
//!     assert!(out.status.success());
//!     assert_eq!(out.stdout, b"hi\n");
//!     assert_eq!(out.stderr, b"err\n");
//! });
//! ```
#![forbid(unsafe_code)]

mod child;
mod command;
mod stdio;
mod wait;

pub use child::Child;
#[doc(alias = "create_subprocess_exec")]
#[doc(alias = "create_subprocess_shell")]
pub use command::Command;
pub use stdio::{ChildStderr, ChildStdin, ChildStdout};
