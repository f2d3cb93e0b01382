//! Debug mode's reports (`Builder::debug`): written to stderr, one line each, prefixed
//! `ringio debug:`.

use super::join::JoinError;
use std::panic::Location;
use std::time::Duration;

/// What names a task in a report: its name if it has one, and where it was spawned.
fn task(name: Option<&str>, location: Option<&'static Location<'static>>) -> String {
    let name = name.map_or_else(|| "unnamed task".to_string(), |n| format!("task {n:?}"));
    match location {
        Some(at) => format!("{name} (spawned at {at})"),
        None => name,
    }
}

/// One task poll held core `core` for `held`.
pub(crate) fn slow_poll(
    core: usize,
    name: Option<&str>,
    location: Option<&'static Location<'static>>,
    held: Duration,
) {
    eprintln!(
        "ringio debug: {} held core {core} for {held:.0?} in one poll; every other task of the core waited as long",
        task(name, location)
    );
}

/// A task whose handle was dropped unawaited panicked (asyncio's "Task exception was
/// never retrieved").
pub(crate) fn never_retrieved(
    name: Option<&str>,
    location: Option<&'static Location<'static>>,
    err: &JoinError,
) {
    eprintln!(
        "ringio debug: {} failed and its JoinHandle was dropped without awaiting it: {err}",
        task(name, location)
    );
}
