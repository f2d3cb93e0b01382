//! [`Event`]: a flag that tasks can wait on (asyncio `Event`).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::wait_list::{WaitList, WaitQueue, Waiter, Wakers};

/// A flag, initially clear: [`wait`](Event::wait) returns once it is set.
///
/// [`set`](Event::set) releases every task waiting at that moment, even if
/// [`clear`](Event::clear) follows before they run: `set` serves the whole
/// current wait list at once, so the list itself is the generation a waiter
/// belongs to, and a later `clear` cannot take the wake-up back.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use ringio::sync::Event;
///
/// ringio::run(async {
///     let ready = Rc::new(Event::new());
///     let waiter = ringio::spawn({
///         let ready = ready.clone();
///         async move { ready.wait().await; "go" }
///     });
///     ringio::yield_now().await; // the waiter is now waiting
///     ready.set();
///     assert_eq!(waiter.await.unwrap(), "go");
/// });
/// ```
#[doc(alias = "asyncio.Event")]
pub struct Event {
    state: RefCell<State>,
}

pub(crate) struct State {
    set: bool,
    waiters: WaitList<(), ()>,
}

impl Event {
    /// Creates a clear event.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!ringio::sync::Event::new().is_set());
    /// ```
    pub fn new() -> Self {
        Event {
            state: RefCell::new(State {
                set: false,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Sets the flag and wakes every current waiter, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = ringio::sync::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    pub fn set(&self) {
        let mut wakers = Wakers::new();
        {
            let mut state = self.state.borrow_mut();
            state.set = true;
            state.waiters.grant_all(|| (), &mut wakers);
        }
        wakers.wake_all();
    }

    /// Clears the flag; later calls to [`wait`](Event::wait) block again.
    ///
    /// Waiters already released by [`set`](Event::set) stay released.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = ringio::sync::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.borrow_mut().set = false;
    }

    /// True if the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = ringio::sync::Event::new();
    /// assert!(!event.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.state.borrow().set
    }

    /// Waits until the flag is set; returns at once if it already is.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future removes it from the wait list
    /// (rule 3); a wake-up from [`set`](Event::set) is shared by every waiter,
    /// so nothing needs passing on.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Event;
    ///
    /// ringio::run(async {
    ///     let event = Event::new();
    ///     event.set();
    ///     event.wait().await; // already set: returns at once
    /// });
    /// ```
    #[doc(alias = "asyncio.Event.wait")]
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            waiter: Waiter::new(self),
        }
    }

    #[cfg(test)]
    fn waiter_entries(&self) -> usize {
        self.state.borrow().waiters.entries()
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("Event")
            .field("set", &state.set)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// Future of [`Event::wait`].
///
/// # Examples
///
/// ```
/// use ringio::sync::{Event, EventWait};
///
/// ringio::run(async {
///     let event = Event::new();
///     event.set();
///     let fut: EventWait<'_> = event.wait();
///     fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct EventWait<'a> {
    waiter: Waiter<'a, Event>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().waiter.poll(cx, &mut ())
    }
}

/// How a wait on an event waits: `set` grants the whole list at once, so a
/// dropped waiter has nothing to pass on (`cancelled` keeps its default).
impl WaitQueue for Event {
    const FUTURE: &'static str = "EventWait";
    type State = State;
    type Data = ();
    type Grant = ();
    type Carry = ();
    type Done = ();

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    fn list(state: &mut State) -> &mut WaitList<(), ()> {
        &mut state.waiters
    }

    fn try_now(&self, state: &mut State, _: &mut (), _: &mut Wakers) -> Result<(), ()> {
        if state.set { Ok(()) } else { Err(()) }
    }

    fn granted(&self, _: &mut State, (): (), _: &mut (), _: &mut Wakers) {}
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::*;
    use crate::test_util::{TestWaker, poll_once};

    #[test]
    fn event_set_then_clear_wakes_all_waiters() {
        let event = Event::new();
        let wakers: Vec<TestWaker> = (0..3).map(|_| TestWaker::new()).collect();
        let mut futs: Vec<_> = (0..3).map(|_| Box::pin(event.wait())).collect();
        for (fut, w) in futs.iter_mut().zip(&wakers) {
            assert!(w.poll(fut.as_mut()).is_pending());
        }
        event.set();
        event.clear(); // before any waiter runs
        for (fut, w) in futs.iter_mut().zip(&wakers) {
            assert_eq!(w.wakes(), 1);
            assert!(w.poll(fut.as_mut()).is_ready());
        }
        // A waiter that arrives after the clear waits for the next set.
        let mut late = pin!(event.wait());
        assert!(poll_once(late.as_mut()).is_pending());
        assert_eq!(event.waiter_entries(), 1);
    }

    #[test]
    fn event_wait_returns_at_once_when_set() {
        let event = Event::new();
        event.set();
        assert!(poll_once(pin!(event.wait())).is_ready());
        assert_eq!(event.waiter_entries(), 0);
    }

    #[test]
    fn event_dropped_waiter_leaves_no_entry() {
        let event = Event::new();
        let mut a = Box::pin(event.wait());
        let mut b = Box::pin(event.wait());
        assert!(poll_once(a.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());
        drop(a);
        assert_eq!(event.waiter_entries(), 1);
        event.set();
        drop(b); // granted but never polled: its slot goes too
        assert_eq!(event.waiter_entries(), 0);
    }
}
