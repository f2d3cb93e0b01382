//! [`Mutex`]: a FIFO-fair async lock guarding a value (asyncio `Lock`).

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::wait_list::{WaitList, WaitQueue, Waiter, WaiterState, Wakers};

/// An async mutual-exclusion lock that owns the value it guards.
///
/// [`lock`](Mutex::lock) waits for the lock and returns a [`MutexGuard`] that
/// derefs to the value and unlocks when dropped. Unlocking hands the lock
/// straight to the oldest waiter (rule 1 in the [module docs](crate::sync)),
/// so a task that calls `lock` or [`try_lock`](Mutex::try_lock) later can
/// never slip in first. There is no poisoning: a task that panics while
/// holding the guard simply drops it.
///
/// The guard may be held across `.await`; that is what makes this lock
/// different from a `RefCell`.
///
/// This is asyncio's `Lock`: `async with lock:` is `let _guard = mutex.lock().await;`.
/// The future `lock` returns is a [`MutexLockFuture`].
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use ringio::sync::Mutex;
///
/// ringio::run(async {
///     let counter = Rc::new(Mutex::new(0));
///     let mut tasks = Vec::new();
///     for _ in 0..10 {
///         let counter = counter.clone();
///         tasks.push(ringio::spawn(async move {
///             let mut n = counter.lock().await;
///             ringio::yield_now().await; // still ours across the await
///             *n += 1;
///         }));
///     }
///     for task in tasks {
///         task.await.unwrap();
///     }
///     assert_eq!(*counter.lock().await, 10);
/// });
/// ```
#[doc(alias = "Lock")]
#[doc(alias = "asyncio.Lock")]
pub struct Mutex<T: ?Sized> {
    state: RefCell<State>,
    /// Borrowed mutably by exactly one guard at a time, which the lock state
    /// guarantees; the `RefCell` turns that guarantee into safe code.
    value: RefCell<T>,
}

pub(crate) struct State {
    locked: bool,
    waiters: WaitList<(), ()>,
}

impl State {
    /// Releases the lock: hands it to the oldest waiter, or marks it free.
    #[inline]
    fn unlock(&mut self, wakers: &mut Wakers) {
        match self.waiters.grant_front(()) {
            // The lock stays `locked`: ownership moves to the waiter.
            Ok(((), waker)) => wakers.push(waker),
            Err(()) => self.locked = false,
        }
    }
}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = ringio::sync::Mutex::new(vec![1, 2]);
    /// assert!(!m.is_locked());
    /// ```
    pub fn new(value: T) -> Self {
        Mutex {
            state: RefCell::new(State {
                locked: false,
                waiters: WaitList::new(),
            }),
            value: RefCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = ringio::sync::Mutex::new(5);
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock, in line behind every earlier waiter.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropped while queued, the future leaves the line at once
    /// (rule 3); dropped after the lock was handed to it, it hands the lock to
    /// the next waiter, or unlocks if there is none (rule 2).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Mutex;
    ///
    /// ringio::run(async {
    ///     let m = Mutex::new(String::from("a"));
    ///     m.lock().await.push('b');
    ///     assert_eq!(*m.lock().await, "ab");
    /// });
    /// ```
    #[doc(alias = "asyncio.Lock.acquire")]
    #[doc(alias = "acquire")]
    pub fn lock(&self) -> MutexLockFuture<'_, T> {
        MutexLockFuture {
            waiter: Waiter::new(self),
        }
    }

    /// Takes the lock if it is free and nobody is queued, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = ringio::sync::Mutex::new(1);
    /// let guard = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(guard);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let mut state = self.state.borrow_mut();
        if state.locked || !state.waiters.is_empty() {
            return None;
        }
        state.locked = true;
        drop(state);
        Some(MutexGuard::new(self))
    }

    /// True while some guard (or a granted waiter) holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = ringio::sync::Mutex::new(());
    /// let _guard = m.try_lock();
    /// assert!(m.is_locked());
    /// ```
    #[doc(alias = "asyncio.Lock.locked")]
    #[doc(alias = "locked")]
    pub fn is_locked(&self) -> bool {
        self.state.borrow().locked
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = ringio::sync::Mutex::new(1);
    /// *m.get_mut() += 1;
    /// assert_eq!(m.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Releases the lock: hands it to the oldest waiter, or marks it free.
    #[inline]
    fn unlock(&self) {
        let mut wakers = Wakers::new();
        self.state.borrow_mut().unlock(&mut wakers);
        wakers.wake_all();
    }

    #[cfg(test)]
    fn waiter_entries(&self) -> usize {
        self.state.borrow().waiters.entries()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Holds a [`Mutex`] locked and gives access to its value; unlocks on drop.
///
/// # Examples
///
/// ```
/// use ringio::sync::{Mutex, MutexGuard};
///
/// ringio::run(async {
///     let m = Mutex::new(1);
///     let mut guard: MutexGuard<'_, i32> = m.lock().await;
///     *guard += 1;
///     drop(guard); // unlocks, or hands the lock to the next waiter
///     assert_eq!(*m.lock().await, 2);
/// });
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// `Some` until drop, where it is released before the lock is passed on.
    value: Option<RefMut<'a, T>>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Called only once the lock is ours, so nobody else borrows the value.
    fn new(mutex: &'a Mutex<T>) -> Self {
        let value = mutex
            .value
            .try_borrow_mut()
            .expect("the lock is held, so no other guard borrows the value");
        MutexGuard {
            mutex,
            value: Some(value),
        }
    }

    /// The mutex this guard locks (an associated function, so it cannot
    /// shadow a method of `T`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::{Mutex, MutexGuard};
    ///
    /// let m = Mutex::new(0);
    /// let guard = m.try_lock().unwrap();
    /// assert!(std::ptr::eq(MutexGuard::mutex(&guard), &m));
    /// ```
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value.as_deref().expect("the borrow lives until drop")
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_deref_mut()
            .expect("the borrow lives until drop")
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // End our borrow before the next owner can be woken and borrow.
        self.value = None;
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Future of [`Mutex::lock`]; returns the [`MutexGuard`].
///
/// # Examples
///
/// ```
/// use ringio::sync::{Mutex, MutexLockFuture};
///
/// ringio::run(async {
///     let m = Mutex::new(());
///     let fut: MutexLockFuture<'_, ()> = m.lock();
///     let _guard = fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct MutexLockFuture<'a, T: ?Sized> {
    waiter: Waiter<'a, Mutex<T>>,
}

impl<'a, T: ?Sized> Future for MutexLockFuture<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let waiter = &mut self.get_mut().waiter;
        std::task::ready!(waiter.poll(cx, &mut ()));
        Poll::Ready(MutexGuard::new(waiter.owner()))
    }
}

impl<T: ?Sized> fmt::Debug for MutexLockFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.waiter.fmt(f)
    }
}

/// How a lock future waits: the grant is the lock itself.
impl<T: ?Sized> WaitQueue for Mutex<T> {
    const FUTURE: &'static str = "MutexLockFuture";
    type State = State;
    type Data = ();
    type Grant = ();
    type Carry = ();
    type Done = ();

    #[inline]
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    fn list(state: &mut State) -> &mut WaitList<(), ()> {
        &mut state.waiters
    }

    #[inline]
    fn try_now(&self, state: &mut State, _: &mut (), _: &mut Wakers) -> Result<(), ()> {
        if state.locked || !state.waiters.is_empty() {
            // Rule 1: wait our turn even if the lock looks free.
            return Err(());
        }
        state.locked = true;
        Ok(())
    }

    fn granted(&self, _: &mut State, (): (), _: &mut (), _: &mut Wakers) {}

    fn cancelled(
        &self,
        state: &mut State,
        last: WaiterState<(), ()>,
        wakers: &mut Wakers,
    ) -> Option<()> {
        if let WaiterState::Granted(()) = last {
            // Rule 2: the lock was handed to us; hand it on.
            state.unlock(wakers);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use super::*;
    use crate::test_util::{TestWaker, poll_once};

    #[test]
    fn mutex_grants_in_fifo_order() {
        let m = Mutex::new(Vec::new());
        let held = m.try_lock().expect("free");
        let wakers: Vec<TestWaker> = (0..3).map(|_| TestWaker::new()).collect();
        let mut futs: Vec<_> = (0..3).map(|_| Box::pin(m.lock())).collect();
        for (fut, w) in futs.iter_mut().zip(&wakers) {
            assert!(w.poll(fut.as_mut()).is_pending());
        }
        drop(held);
        for i in 0..3 {
            for j in i + 1..3 {
                assert!(wakers[j].poll(futs[j].as_mut()).is_pending());
            }
            match wakers[i].poll(futs[i].as_mut()) {
                Poll::Ready(mut guard) => guard.push(i),
                Poll::Pending => panic!("waiter {i} was not served in order"),
            }
        }
        drop(futs);
        assert_eq!(m.into_inner(), vec![0, 1, 2]);
    }

    #[test]
    fn mutex_cancelled_waiter_passes_lock_on() {
        let m = Mutex::new(0);
        let held = m.try_lock().expect("free");
        let (w1, w2) = (TestWaker::new(), TestWaker::new());
        let mut first = Box::pin(m.lock());
        let mut second = Box::pin(m.lock());
        assert!(w1.poll(first.as_mut()).is_pending());
        assert!(w2.poll(second.as_mut()).is_pending());
        drop(held);
        assert_eq!((w1.wakes(), w2.wakes()), (1, 0));
        drop(first);
        assert_eq!(w2.wakes(), 1);
        assert!(w2.poll(second.as_mut()).is_ready());
        // Granted and dropped with nobody behind: the lock is free again.
        let mut third = Box::pin(m.lock());
        let held = m.try_lock().expect("free");
        assert!(poll_once(third.as_mut()).is_pending());
        drop(held);
        drop(third);
        assert!(!m.is_locked());
        assert_eq!(m.waiter_entries(), 0);
    }

    #[test]
    fn mutex_newcomer_does_not_barge_queued_waiter() {
        let m = Mutex::new(());
        let held = m.try_lock().expect("free");
        let mut queued = Box::pin(m.lock());
        assert!(poll_once(queued.as_mut()).is_pending());
        drop(held); // lock now belongs to `queued`, which has not run yet
        assert!(m.try_lock().is_none());
        let mut newcomer = Box::pin(m.lock());
        assert!(poll_once(newcomer.as_mut()).is_pending());
        let guard = match poll_once(queued.as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("the queued waiter owns the lock"),
        };
        drop(guard);
        assert!(poll_once(newcomer.as_mut()).is_ready());
    }

    #[test]
    fn mutex_dropped_waiter_leaves_no_entry() {
        let m = Mutex::new(());
        let held = m.try_lock().expect("free");
        {
            let mut a = pin!(m.lock());
            let mut b = pin!(m.lock());
            assert!(poll_once(a.as_mut()).is_pending());
            assert!(poll_once(b.as_mut()).is_pending());
            assert_eq!(m.waiter_entries(), 2);
        }
        assert_eq!(m.waiter_entries(), 0);
        drop(held);
        assert!(!m.is_locked());
    }

    #[test]
    fn mutex_get_mut_and_debug() {
        let mut m = Mutex::new(3);
        *m.get_mut() = 4;
        assert_eq!(format!("{m:?}"), "Mutex { data: 4, .. }");
        let guard = m.try_lock().expect("free");
        assert_eq!(format!("{m:?}"), "Mutex { data: <locked>, .. }");
        assert_eq!(format!("{guard:?}"), "4");
    }
}
