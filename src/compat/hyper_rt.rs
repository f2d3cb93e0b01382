//! hyper's runtime hooks on ringio: [`HyperExecutor`] spawns the tasks hyper starts
//! (HTTP/2 streams, connection drivers) on the current core, [`HyperTimer`] gives hyper
//! its timeouts on the core's timer wheel.

use crate::time::{Instant, TimerEntry};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs the futures hyper hands over (`hyper::rt::Executor`) as ringio tasks on the
/// current core, detached: each runs to its end, as hyper expects.
///
/// Futures need not be `Send`: a connection and the streams it starts stay on the core
/// that accepted it (thread per core). `execute` must be called on a ringio core, as
/// hyper does when its connection is driven by a ringio task.
///
/// # Examples
///
/// ```
/// use ringio::compat::HyperExecutor;
///
/// let builder = hyper::server::conn::http2::Builder::new(HyperExecutor);
/// # drop(builder);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperExecutor;

impl<F> hyper::rt::Executor<F> for HyperExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        // Dropping the handle detaches the task; it runs to completion.
        drop(crate::spawn(fut));
    }
}

/// hyper's timer (`hyper::rt::Timer`) on the core's timer wheel: header-read timeouts,
/// keep-alive timeouts and HTTP/2 keep-alive pings, with the wheel's 1 ms resolution.
///
/// hyper requires its sleeps to be `Send + Sync`. Those returned here hold only their
/// deadline and the wheel key (no reference to the core), so they are; they must still
/// be polled on a ringio core, and one moved to another core registers there afresh.
///
/// # Examples
///
/// ```
/// use ringio::compat::HyperTimer;
/// use std::time::Duration;
///
/// let mut builder = hyper::server::conn::http1::Builder::new();
/// builder.timer(HyperTimer).header_read_timeout(Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperTimer;

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            entry: TimerEntry::new(crate::time::after(Instant::now(), duration)),
        })
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep {
            entry: TimerEntry::new(deadline.into()),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: std::time::Instant) {
        // Our own sleep moves its wheel entry in place: no new allocation per reset.
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(mut ours) => ours.entry.reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// The sleep [`HyperTimer`] returns.
#[derive(Debug)]
struct HyperSleep {
    entry: TimerEntry,
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.entry.poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}
