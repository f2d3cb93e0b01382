//! Raw syscalls, each wrapped in a safe function: the one place outside `driver`, `op` and
//! `buf` that calls libc.
//!
//! - [`fd`]: descriptors: the shared descriptor ops hold, eventfds.
//! - [`rlimit`]: resource limits, for error messages.
//! - [`affinity`]: which CPUs a thread may run on, and pinning.
//! - [`copy`]: a file copy that keeps a sparse file's holes.
//! - [`pidfd`]: process descriptors: opening, signalling and reaping a child through one.
//! - [`signal`]: the process's signal handlers (one per signal number asked for) and the
//!   eventfds they write to, under `crate::signal`'s safe `signal` and `ctrl_c`.

pub(crate) mod affinity;
pub(crate) mod copy;
pub(crate) mod fd;
pub(crate) mod pidfd;
pub(crate) mod rlimit;
pub(crate) mod signal;
