//! [`Condition`]: a condition variable for [`Mutex`] (asyncio `Condition`).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::mutex::{Mutex, MutexGuard, MutexLockFuture};
use crate::wait_list::{WaitList, WaitQueue, Waiter, WaiterState, Wakers};

/// A condition variable: tasks wait on it while holding a [`Mutex`] and are
/// woken by [`notify`](Condition::notify) or [`notify_all`](Condition::notify_all).
///
/// Unlike asyncio's `Condition`, it does not own a lock: [`wait`](Condition::wait)
/// takes the guard of any [`Mutex`], releases the lock while waiting and
/// retakes it before returning the guard. Notifying needs no guard; a
/// notification reaches only tasks already waiting. As with any condition
/// variable, check the predicate in a loop.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use ringio::sync::{Condition, Mutex};
///
/// ringio::run(async {
///     let ready = Rc::new((Mutex::new(false), Condition::new()));
///     let waiter = ringio::spawn({
///         let ready = ready.clone();
///         async move {
///             let (flag, cond) = &*ready;
///             let mut guard = flag.lock().await;
///             while !*guard {
///                 guard = cond.wait(guard).await;
///             }
///         }
///     });
///     ringio::yield_now().await; // the waiter is now waiting
///     *ready.0.lock().await = true;
///     ready.1.notify_all();
///     waiter.await.unwrap();
/// });
/// ```
#[doc(alias = "asyncio.Condition")]
pub struct Condition {
    waiters: RefCell<WaitList<(), ()>>,
}

impl Condition {
    /// Creates a condition variable with nobody waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = ringio::sync::Condition::new();
    /// cond.notify_all(); // nobody waits: nothing happens
    /// ```
    pub fn new() -> Self {
        Condition {
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Releases `guard`'s lock, waits for a notification, retakes the lock and
    /// returns the guard.
    ///
    /// The lock is released only when the future is first polled, and the
    /// task is queued in the same step, so a notification cannot slip in
    /// between. The guard may come back with the value changed by others.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, but the guard is gone: dropped before its first poll the
    /// future simply drops the guard. Dropped while waiting, it leaves the
    /// line (rule 3). Dropped after it was notified but before it returned,
    /// whether or not it is still retaking the lock, it passes the
    /// notification to the next waiter (rule 2), and a lock it was handed
    /// goes to the mutex's next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use ringio::sync::{Condition, Mutex};
    ///
    /// ringio::run(async {
    ///     let shared = Rc::new((Mutex::new(Vec::new()), Condition::new()));
    ///     let consumer = ringio::spawn({
    ///         let shared = shared.clone();
    ///         async move {
    ///             let (items, cond) = &*shared;
    ///             let mut guard = items.lock().await;
    ///             while guard.is_empty() {
    ///                 guard = cond.wait(guard).await;
    ///             }
    ///             guard.pop()
    ///         }
    ///     });
    ///     ringio::yield_now().await;
    ///     shared.0.lock().await.push(7);
    ///     shared.1.notify(1);
    ///     assert_eq!(consumer.await.unwrap(), Some(7));
    /// });
    /// ```
    #[doc(alias = "asyncio.Condition.wait")]
    pub fn wait<'c, 'm, T: ?Sized>(&'c self, guard: MutexGuard<'m, T>) -> ConditionWait<'c, 'm, T> {
        ConditionWait {
            condition: self,
            phase: Phase::Start(guard),
        }
    }

    /// Wakes the `n` longest-waiting tasks (fewer if fewer wait).
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = ringio::sync::Condition::new();
    /// cond.notify(2); // nobody waits: nothing happens, nothing is stored
    /// ```
    #[doc(alias = "asyncio.Condition.notify")]
    pub fn notify(&self, n: usize) {
        let mut wakers = Wakers::new();
        grant_oldest(&mut self.waiters.borrow_mut(), n, &mut wakers);
        wakers.wake_all();
    }

    /// Wakes every waiting task.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = ringio::sync::Condition::new();
    /// cond.notify_all();
    /// ```
    #[doc(alias = "asyncio.Condition.notify_all")]
    pub fn notify_all(&self) {
        let mut wakers = Wakers::new();
        self.waiters.borrow_mut().grant_all(|| (), &mut wakers);
        wakers.wake_all();
    }

    #[cfg(test)]
    fn waiter_entries(&self) -> usize {
        self.waiters.borrow().entries()
    }
}

/// Notifies the `n` oldest waiters in `waiters` (fewer if fewer wait).
fn grant_oldest(waiters: &mut WaitList<(), ()>, n: usize, wakers: &mut Wakers) {
    for _ in 0..n {
        match waiters.grant_front(()) {
            Ok(((), waker)) => wakers.push(waker),
            Err(()) => break,
        }
    }
}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiters", &self.waiters.borrow().len())
            .finish()
    }
}

/// Future of [`Condition::wait`]; returns the guard, locked again.
///
/// # Examples
///
/// ```
/// use ringio::sync::{Condition, ConditionWait, Mutex};
///
/// let (m, cond) = (Mutex::new(0), Condition::new());
/// let fut: ConditionWait<'_, '_, i32> = cond.wait(m.try_lock().unwrap());
/// drop(fut); // never polled: the guard is dropped, the lock is free
/// assert!(!m.is_locked());
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct ConditionWait<'c, 'm, T: ?Sized> {
    condition: &'c Condition,
    phase: Phase<'c, 'm, T>,
}

enum Phase<'c, 'm, T: ?Sized> {
    /// Not polled yet: still holding the lock.
    Start(MutexGuard<'m, T>),
    /// Queued on the condition; the lock is released.
    Waiting(Waiter<'c, Condition>, &'m Mutex<T>),
    /// Notified; retaking the lock.
    Relock(MutexLockFuture<'m, T>),
    Done,
}

impl<'m, T: ?Sized> Future for ConditionWait<'_, 'm, T> {
    type Output = MutexGuard<'m, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'m, T>> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Start(guard) => {
                    let mutex = MutexGuard::mutex(guard);
                    let mut waiter = Waiter::new(this.condition);
                    // The first poll always queues (see `try_now`).
                    let queued = waiter.poll(cx, &mut ());
                    debug_assert!(queued.is_pending());
                    // Dropping the guard unlocks; done after queueing, so no
                    // notify can fall between the two.
                    this.phase = Phase::Waiting(waiter, mutex);
                    return Poll::Pending;
                }
                Phase::Waiting(waiter, mutex) => {
                    std::task::ready!(waiter.poll(cx, &mut ()));
                    this.phase = Phase::Relock(mutex.lock());
                }
                Phase::Relock(lock) => {
                    let guard = std::task::ready!(Pin::new(lock).poll(cx));
                    this.phase = Phase::Done;
                    return Poll::Ready(guard);
                }
                Phase::Done => panic!("`ConditionWait` polled after completion"),
            }
        }
    }
}

impl<T: ?Sized> Drop for ConditionWait<'_, '_, T> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            // The waiter passes on a notification it received (rule 2, see
            // `cancelled`) or leaves the line (rule 3).
            Phase::Waiting(waiter, _) => drop(waiter),
            Phase::Relock(lock) => {
                // The lock future passes on a lock it was handed; the
                // notification we consumed goes to the next waiter (rule 2).
                drop(lock);
                self.condition.notify(1);
            }
            Phase::Start(_) | Phase::Done => {}
        }
    }
}

impl<T: ?Sized> fmt::Debug for ConditionWait<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Start(_) => "start",
            Phase::Waiting(..) => "waiting",
            Phase::Relock(_) => "relocking",
            Phase::Done => "done",
        };
        f.debug_struct("ConditionWait")
            .field("phase", &phase)
            .finish_non_exhaustive()
    }
}

/// How a condition wait waits: it always queues (a notification reaches only
/// tasks already waiting), and the grant is one notification.
impl WaitQueue for Condition {
    const FUTURE: &'static str = "ConditionWait";
    type State = WaitList<(), ()>;
    type Data = ();
    type Grant = ();
    type Carry = ();
    type Done = ();

    fn with_state<R>(&self, f: impl FnOnce(&mut Self::State) -> R) -> R {
        f(&mut self.waiters.borrow_mut())
    }

    fn list(waiters: &mut Self::State) -> &mut WaitList<(), ()> {
        waiters
    }

    fn try_now(&self, _: &mut Self::State, _: &mut (), _: &mut Wakers) -> Result<(), ()> {
        Err(())
    }

    fn granted(&self, _: &mut Self::State, (): (), _: &mut (), _: &mut Wakers) {}

    fn cancelled(
        &self,
        waiters: &mut Self::State,
        last: WaiterState<(), ()>,
        wakers: &mut Wakers,
    ) -> Option<()> {
        if let WaiterState::Granted(()) = last {
            // Rule 2: we were notified but never returned.
            grant_oldest(waiters, 1, wakers);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TestWaker, poll_once};

    /// Starts `n` waits on `cond`, each taking the lock in turn.
    fn start_waiters<'c, 'm>(
        cond: &'c Condition,
        m: &'m Mutex<u32>,
        wakers: &[TestWaker],
    ) -> Vec<Pin<Box<ConditionWait<'c, 'm, u32>>>> {
        wakers
            .iter()
            .map(|w| {
                let mut fut = Box::pin(cond.wait(m.try_lock().expect("released by the last wait")));
                assert!(w.poll(fut.as_mut()).is_pending());
                fut
            })
            .collect()
    }

    #[test]
    fn condition_notify_n_wakes_oldest_n() {
        let (m, cond) = (Mutex::new(0), Condition::new());
        let wakers: Vec<TestWaker> = (0..4).map(|_| TestWaker::new()).collect();
        let mut futs = start_waiters(&cond, &m, &wakers);
        assert!(!m.is_locked(), "waiting releases the lock");
        cond.notify(2);
        let woken: Vec<usize> = wakers.iter().map(TestWaker::wakes).collect();
        assert_eq!(woken, [1, 1, 0, 0]);
        // The two notified retake the lock one after the other.
        let guard = match wakers[0].poll(futs[0].as_mut()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("oldest waiter was notified"),
        };
        assert!(wakers[1].poll(futs[1].as_mut()).is_pending());
        assert!(wakers[2].poll(futs[2].as_mut()).is_pending());
        drop(guard);
        assert!(wakers[1].poll(futs[1].as_mut()).is_ready());
        cond.notify_all();
        assert!(wakers[2].poll(futs[2].as_mut()).is_ready());
        assert!(wakers[3].poll(futs[3].as_mut()).is_ready());
        assert_eq!(cond.waiter_entries(), 0);
    }

    #[test]
    fn condition_cancelled_waiter_passes_notification_on() {
        let (m, cond) = (Mutex::new(0), Condition::new());
        let wakers: Vec<TestWaker> = (0..2).map(|_| TestWaker::new()).collect();
        let mut futs = start_waiters(&cond, &m, &wakers);
        cond.notify(1);
        assert_eq!(wakers[1].wakes(), 0);
        drop(futs.remove(0)); // notified, never returned
        assert_eq!(wakers[1].wakes(), 1);
        assert!(wakers[1].poll(futs[0].as_mut()).is_ready());
    }

    #[test]
    fn condition_cancelled_while_relocking_passes_notification_and_lock_on() {
        let (m, cond) = (Mutex::new(0), Condition::new());
        let wakers: Vec<TestWaker> = (0..2).map(|_| TestWaker::new()).collect();
        let mut futs = start_waiters(&cond, &m, &wakers);
        let held = m.try_lock().expect("free while everyone waits");
        cond.notify(1);
        assert!(wakers[0].poll(futs[0].as_mut()).is_pending()); // now relocking
        drop(held); // the lock is handed to the relocking waiter
        drop(futs.remove(0));
        assert_eq!(wakers[1].wakes(), 1, "notification passed on");
        assert!(
            wakers[1].poll(futs[0].as_mut()).is_ready(),
            "lock passed on"
        );
    }

    #[test]
    fn condition_dropped_waiter_leaves_no_entry() {
        let (m, cond) = (Mutex::new(0), Condition::new());
        let wakers: Vec<TestWaker> = (0..3).map(|_| TestWaker::new()).collect();
        let mut futs = start_waiters(&cond, &m, &wakers);
        drop(futs.remove(1));
        assert_eq!(cond.waiter_entries(), 2);
        drop(futs);
        assert_eq!(cond.waiter_entries(), 0);
        assert!(!m.is_locked());
    }

    #[test]
    fn condition_notify_reaches_only_current_waiters() {
        let (m, cond) = (Mutex::new(0), Condition::new());
        cond.notify(5);
        let mut fut = Box::pin(cond.wait(m.try_lock().expect("free")));
        assert!(poll_once(fut.as_mut()).is_pending());
        assert!(poll_once(fut.as_mut()).is_pending());
    }
}
