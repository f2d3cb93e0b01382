//! Debug mode's reports (`Builder::debug`), one per event.
//!
//! Rules:
//! 1. With feature `tracing` and a subscriber set for the reporting thread (global or
//!    scoped), a report is a WARN event of target `ringio::debug` whose fields name the
//!    task (`task`, `spawned_at`) and what happened; nothing is written to stderr.
//! 2. Otherwise it is one line on stderr, prefixed `ringio debug:`, so debug mode says
//!    something whether or not the program uses `tracing`.

use super::join::JoinError;
use std::fmt;
use std::panic::Location;
use std::time::Duration;

/// What names a task in a report: its name if it has one, and where it was spawned.
struct Task<'a> {
    name: Option<&'a str>,
    location: Option<&'static Location<'static>>,
}

impl fmt::Display for Task<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(n) => write!(f, "task {n:?}")?,
            None => f.write_str("unnamed task")?,
        }
        match self.location {
            Some(at) => write!(f, " (spawned at {at})"),
            None => Ok(()),
        }
    }
}

/// Whether a `tracing` subscriber other than the no-op default is set for this thread
/// (rule 1).
#[cfg(feature = "tracing")]
pub(crate) fn subscribed() -> bool {
    tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>())
}

/// One task poll held core `core` for `held`.
pub(crate) fn slow_poll(
    core: usize,
    name: Option<&str>,
    location: Option<&'static Location<'static>>,
    held: Duration,
) {
    let task = Task { name, location };
    #[cfg(feature = "tracing")]
    if subscribed() {
        tracing::warn!(
            target: "ringio::debug",
            task = name,
            spawned_at = location.map(tracing::field::display),
            core,
            held_us = u64::try_from(held.as_micros()).unwrap_or(u64::MAX),
            "slow poll: {task} held core {core} for {held:.0?}; every other task of the core waited as long",
        );
        return;
    }
    eprintln!(
        "ringio debug: {task} held core {core} for {held:.0?} in one poll; every other task of the core waited as long"
    );
}

/// A task whose handle was dropped unawaited panicked (asyncio's "Task exception was
/// never retrieved").
pub(crate) fn never_retrieved(
    name: Option<&str>,
    location: Option<&'static Location<'static>>,
    err: &JoinError,
) {
    let task = Task { name, location };
    #[cfg(feature = "tracing")]
    if subscribed() {
        tracing::warn!(
            target: "ringio::debug",
            task = name,
            spawned_at = location.map(tracing::field::display),
            error = %err,
            "never retrieved: {task} failed and its JoinHandle was dropped without awaiting it",
        );
        return;
    }
    eprintln!(
        "ringio debug: {task} failed and its JoinHandle was dropped without awaiting it: {err}"
    );
}
