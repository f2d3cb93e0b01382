//! [`Semaphore`]: a FIFO-fair counting semaphore.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::wait_list::{WaitList, WaitQueue, Waiter, WaiterState, Wakers};

/// A counting semaphore: a pool of permits that tasks wait for in FIFO order.
///
/// [`acquire`](Semaphore::acquire) waits for a permit and returns a [`Permit`]
/// that gives it back when dropped. Waiters are served strictly in arrival
/// order (rule 1 in the [module docs](crate::sync)): while anyone is queued,
/// [`try_acquire`](Semaphore::try_acquire) fails even if permits are free, and
/// a waiter asking for many permits holds back later waiters asking for fewer.
///
/// # Acquiring
///
/// - [`acquire`](Semaphore::acquire) is asyncio's: it waits and returns the
///   [`Permit`] itself.
/// - [`acquire_or_closed`](Semaphore::acquire_or_closed) is the one way to wait
///   and learn that the semaphore was [closed](Semaphore::close) (an `Err`);
///   a plain `acquire` panics then. [`is_closed`](Semaphore::is_closed) says
///   so without waiting.
/// - [`try_acquire`](Semaphore::try_acquire) takes a permit only if one is
///   free now and nobody is queued.
/// - [`acquire_many`](Semaphore::acquire_many) and
///   [`try_acquire_many`](Semaphore::try_acquire_many) take several permits at
///   once, in the same line (a weighted semaphore).
///
/// A [`Permit`] borrows its semaphore, so it stays inside the task that
/// acquired it. To bound how many spawned tasks do some work at once, share
/// the semaphore through an [`Rc`](std::rc::Rc) and acquire inside each task,
/// as the [module example](crate::sync#examples) does.
///
/// # Examples
///
/// ```
/// use ringio::sync::Semaphore;
///
/// ringio::run(async {
///     let sem = Semaphore::new(1);
///     let permit = sem.acquire().await;
///     assert!(sem.try_acquire().is_none());
///     drop(permit);
///     assert_eq!(sem.available_permits(), 1);
/// });
/// ```
#[doc(alias = "asyncio.Semaphore")]
pub struct Semaphore {
    state: RefCell<State>,
}

pub(crate) struct State {
    permits: usize,
    closed: bool,
    /// Each waiter brings the number of permits it needs; the grant is those
    /// permits, or the news that the semaphore was closed.
    waiters: WaitList<usize, Result<usize, AcquireError>>,
}

impl State {
    /// Serves queued waiters in order while the front one can be satisfied
    /// (rule 1: a waiter needing more than is free blocks those behind it).
    fn grant_waiters(&mut self, wakers: &mut Wakers) {
        while let Some(&need) = self.waiters.front() {
            if need > self.permits {
                break;
            }
            self.permits -= need;
            match self.waiters.grant_front(Ok(need)) {
                Ok((_, waker)) => wakers.push(waker),
                Err(_) => unreachable!("front() just saw a queued waiter"),
            }
        }
    }
}

impl Semaphore {
    /// Creates a semaphore holding `permits` permits.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = ringio::sync::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Self {
        Semaphore {
            state: RefCell::new(State {
                permits,
                closed: false,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Waits for one permit.
    ///
    /// # Panics
    ///
    /// The future panics if the semaphore is [closed](Semaphore::close) before
    /// it gets its permit; use [`acquire_or_closed`](Semaphore::acquire_or_closed)
    /// where closing is part of the protocol.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropped while queued, the future leaves the line at once
    /// (rule 3); dropped after its permit was granted but before it returned
    /// it, the permit goes to the next waiter (rule 2). No permit is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Semaphore;
    ///
    /// ringio::run(async {
    ///     let sem = Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(permit.num_permits(), 1);
    ///     assert_eq!(sem.available_permits(), 0);
    /// });
    /// ```
    #[doc(alias = "asyncio.Semaphore.acquire")]
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once, in line with single-permit waiters.
    ///
    /// A waiter asking for more permits than are free blocks every waiter
    /// behind it, so a large request is never starved by small ones.
    /// Asking for more permits than will ever exist waits forever.
    ///
    /// # Panics
    ///
    /// The future panics if the semaphore is closed before it gets its permits.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Semaphore::acquire): all `n` permits are
    /// passed on if the future is dropped after they were granted.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Semaphore;
    ///
    /// ringio::run(async {
    ///     let sem = Semaphore::new(5);
    ///     let permit = sem.acquire_many(3).await;
    ///     assert_eq!(permit.num_permits(), 3);
    ///     assert_eq!(sem.available_permits(), 2);
    /// });
    /// ```
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire::new(self, n)
    }

    /// Waits for one permit, or fails if the semaphore is (or gets) closed.
    ///
    /// This is the one way to wait and learn that the semaphore was closed;
    /// use it where closing is part of the protocol (a pool shutting down).
    /// Where the semaphore is never closed, [`acquire`](Semaphore::acquire)
    /// returns the permit without a `Result` to unwrap.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore was closed before a permit was granted.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Semaphore;
    ///
    /// ringio::run(async {
    ///     let sem = Semaphore::new(1);
    ///     assert!(sem.acquire_or_closed().await.is_ok());
    ///     sem.close();
    ///     assert!(sem.acquire_or_closed().await.is_err());
    /// });
    /// ```
    pub fn acquire_or_closed(&self) -> AcquireOrClosed<'_> {
        AcquireOrClosed {
            inner: Acquire::new(self, 1),
        }
    }

    /// Takes one permit if one is free and nobody is queued, without waiting.
    ///
    /// Returns `None` if no permit is free, if the semaphore is closed, or if
    /// another task is already waiting (rule 1: no barging).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// assert!(sem.try_acquire_many(4).is_none());
    /// let permit = sem.try_acquire_many(3).unwrap();
    /// assert_eq!(permit.num_permits(), 3);
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Option<Permit<'_>> {
        let mut state = self.state.borrow_mut();
        if state.closed || !state.waiters.is_empty() || state.permits < n {
            return None;
        }
        state.permits -= n;
        Some(Permit {
            semaphore: self,
            permits: n,
        })
    }

    /// Number of permits free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = ringio::sync::Semaphore::new(2);
    /// let _permit = sem.try_acquire();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.borrow().permits
    }

    /// Adds `n` new permits, serving queued waiters first (in order).
    ///
    /// This is asyncio's `release()` when called without a permit in hand.
    ///
    /// # Panics
    ///
    /// Panics if the number of free permits would overflow `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = ringio::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    #[doc(alias = "release")]
    pub fn add_permits(&self, n: usize) {
        let free = self.available_permits();
        assert!(
            free.checked_add(n).is_some(),
            "Semaphore::add_permits({n}) with {free} permits free: the count would overflow usize"
        );
        self.release(n);
    }

    /// Closes the semaphore: every queued waiter and every later acquire fails.
    ///
    /// Queued [`acquire_or_closed`](Semaphore::acquire_or_closed) futures return
    /// [`AcquireError`]; queued [`acquire`](Semaphore::acquire) futures panic.
    /// Permits already held stay valid and are returned on drop as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = ringio::sync::Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert!(sem.try_acquire().is_none());
    /// ```
    pub fn close(&self) {
        let mut wakers = Wakers::new();
        {
            let mut state = self.state.borrow_mut();
            state.closed = true;
            state
                .waiters
                .grant_all(|| Err(AcquireError(())), &mut wakers);
        }
        wakers.wake_all();
    }

    /// True once [`close`](Semaphore::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = ringio::sync::Semaphore::new(1);
    /// assert!(!sem.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }

    /// Returns `n` permits to the pool and serves the queue. Saturates at `usize::MAX`
    /// rather than panic: a dropped [`Permit`] calls it, and a panic in a drop during
    /// unwinding aborts the process.
    fn release(&self, n: usize) {
        let mut wakers = Wakers::new();
        {
            let mut state = self.state.borrow_mut();
            state.permits = state.permits.saturating_add(n);
            state.grant_waiters(&mut wakers);
        }
        wakers.wake_all();
    }

    #[cfg(test)]
    pub(crate) fn waiter_entries(&self) -> usize {
        self.state.borrow().waiters.entries()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.borrow();
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("waiters", &state.waiters.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// Permits taken from a [`Semaphore`]; given back when dropped.
///
/// Dropping never panics. Only a semaphore whose count [`add_permits`](Semaphore::add_permits)
/// raised near `usize::MAX` while permits were out can have more permits coming back than
/// `usize` holds; the count then stays at `usize::MAX` (the permits over it are lost, and
/// that many permits are free for ever anyway).
///
/// # Examples
///
/// ```
/// use ringio::sync::Semaphore;
///
/// let sem = Semaphore::new(1);
/// {
///     let _permit = sem.try_acquire().unwrap();
///     assert_eq!(sem.available_permits(), 0);
/// } // dropped here: asyncio's release()
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[doc(alias = "release")]
#[must_use = "the permit is returned as soon as it is dropped"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl Permit<'_> {
    /// Number of permits this value holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = ringio::sync::Semaphore::new(3);
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Drops the permit without returning it: the semaphore shrinks for good.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = ringio::sync::Semaphore::new(2);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.release(self.permits);
        }
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Error from [`Semaphore::acquire_or_closed`]: the semaphore was closed.
///
/// # Examples
///
/// ```
/// use ringio::sync::Semaphore;
///
/// ringio::run(async {
///     let sem = Semaphore::new(0);
///     sem.close();
///     let err = sem.acquire_or_closed().await.unwrap_err();
///     assert_eq!(err.to_string(), "semaphore closed");
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
///
/// # Panics
///
/// If the semaphore is closed before the permits are granted (see
/// [`Semaphore::acquire_or_closed`]).
///
/// # Examples
///
/// ```
/// use ringio::sync::{Acquire, Semaphore};
///
/// ringio::run(async {
///     let sem = Semaphore::new(1);
///     let fut: Acquire<'_> = sem.acquire();
///     let _permit = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Acquire<'a> {
    waiter: Waiter<'a, Semaphore>,
    /// How many permits this future asks for.
    permits: usize,
}

impl<'a> Acquire<'a> {
    fn new(semaphore: &'a Semaphore, permits: usize) -> Self {
        Acquire {
            waiter: Waiter::new(semaphore),
            permits,
        }
    }

    /// The shared step of both acquire futures.
    fn poll_permit(&mut self, cx: &Context<'_>) -> Poll<Result<Permit<'a>, AcquireError>> {
        let result = std::task::ready!(self.waiter.poll(cx, &mut self.permits));
        Poll::Ready(result.map(|()| Permit {
            semaphore: self.waiter.owner(),
            permits: self.permits,
        }))
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        match self.get_mut().poll_permit(cx) {
            Poll::Ready(Ok(permit)) => Poll::Ready(permit),
            Poll::Ready(Err(AcquireError(()))) => {
                panic!("Semaphore::acquire on a closed semaphore; use acquire_or_closed")
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Future of [`Semaphore::acquire_or_closed`].
///
/// # Examples
///
/// ```
/// use ringio::sync::{AcquireOrClosed, Semaphore};
///
/// ringio::run(async {
///     let sem = Semaphore::new(1);
///     let fut: AcquireOrClosed<'_> = sem.acquire_or_closed();
///     assert!(fut.await.is_ok());
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct AcquireOrClosed<'a> {
    inner: Acquire<'a>,
}

impl<'a> Future for AcquireOrClosed<'a> {
    type Output = Result<Permit<'a>, AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().inner.poll_permit(cx)
    }
}

/// How an acquire future waits: it brings the number of permits it needs
/// (its carry) and is granted exactly those, or the news of a close.
impl WaitQueue for Semaphore {
    const FUTURE: &'static str = "Acquire";
    type State = State;
    type Data = usize;
    type Grant = Result<usize, AcquireError>;
    type Carry = usize;
    type Done = Result<(), AcquireError>;

    #[inline]
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    fn list(state: &mut State) -> &mut WaitList<usize, Self::Grant> {
        &mut state.waiters
    }

    #[inline]
    fn try_now(
        &self,
        state: &mut State,
        permits: &mut usize,
        _: &mut Wakers,
    ) -> Result<Self::Done, usize> {
        if state.closed {
            Ok(Err(AcquireError(())))
        } else if state.waiters.is_empty() && state.permits >= *permits {
            state.permits -= *permits;
            Ok(Ok(()))
        } else {
            // Rule 1: join the back of the line, even if permits are free.
            Err(*permits)
        }
    }

    #[inline]
    fn granted(
        &self,
        _: &mut State,
        grant: Self::Grant,
        _: &mut usize,
        _: &mut Wakers,
    ) -> Self::Done {
        grant.map(|_| ())
    }

    fn cancelled(
        &self,
        state: &mut State,
        last: WaiterState<usize, Self::Grant>,
        wakers: &mut Wakers,
    ) -> Option<Self::Grant> {
        match last {
            // Rule 2: the permits were ours; give them to the next in line.
            // Saturating, as `release`: this runs in a drop.
            WaiterState::Granted(Ok(permits)) => {
                state.permits = state.permits.saturating_add(permits);
            }
            WaiterState::Granted(Err(_)) => return None,
            // Rule 3: we left the line. If we were at its front asking for
            // more than was free, those behind us may now be served.
            WaiterState::Waiting { .. } => {}
        }
        state.grant_waiters(wakers);
        None
    }
}

#[cfg(test)]
mod tests;
