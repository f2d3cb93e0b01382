//! [`Barrier`]: waits until `n` tasks have arrived (asyncio `Barrier`).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::wait_list::{WaitList, WaitQueue, Waiter, Wakers};

/// Lets `n` tasks wait until all of them have reached the same point.
///
/// Each call to [`wait`](Barrier::wait) is one arrival. When the `n`th
/// arrives, the whole group (a generation) is released at once and the
/// barrier starts over, so it can be reused. The task whose arrival completes
/// the group is its single leader ([`BarrierWaitResult::is_leader`]).
/// A waiter dropped before its group is complete takes its arrival back
/// (rule 3 in the [module docs](crate::sync)): the group still needs `n`
/// tasks actually waiting.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use ringio::sync::Barrier;
///
/// ringio::run(async {
///     let barrier = Rc::new(Barrier::new(3));
///     let mut tasks = Vec::new();
///     for _ in 0..3 {
///         let barrier = barrier.clone();
///         tasks.push(ringio::spawn(async move { barrier.wait().await.is_leader() }));
///     }
///     let mut leaders = 0;
///     for task in tasks {
///         leaders += usize::from(task.await.unwrap());
///     }
///     assert_eq!(leaders, 1);
/// });
/// ```
#[doc(alias = "asyncio.Barrier")]
pub struct Barrier {
    parties: usize,
    waiters: RefCell<WaitList<(), ()>>,
}

impl Barrier {
    /// Creates a barrier that releases its waiters in groups of `parties`.
    ///
    /// `Barrier::new(0)` behaves like `Barrier::new(1)`: every waiter is
    /// released at once, as its own leader.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::sync::Barrier::new(4).parties(), 4);
    /// ```
    pub fn new(parties: usize) -> Self {
        Barrier {
            parties: parties.max(1),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Number of tasks that make up one group.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::sync::Barrier::new(2).parties(), 2);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Number of tasks waiting in the current group.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::sync::Barrier::new(2).n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// Arrives at the barrier and waits until the group is complete.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropped before its group is complete, the future takes
    /// its arrival back and leaves no entry (rule 3). Dropped after the group
    /// was released, nothing is lost: the release belongs to the whole group.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Barrier;
    ///
    /// ringio::run(async {
    ///     let barrier = Barrier::new(1);
    ///     assert!(barrier.wait().await.is_leader());
    /// });
    /// ```
    #[doc(alias = "asyncio.Barrier.wait")]
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            waiter: Waiter::new(self),
        }
    }

    #[cfg(test)]
    fn waiter_entries(&self) -> usize {
        self.waiters.borrow().entries()
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("n_waiting", &self.n_waiting())
            .finish()
    }
}

/// What [`Barrier::wait`] returns: says whether this task led its group.
///
/// # Examples
///
/// ```
/// use ringio::sync::Barrier;
///
/// ringio::run(async {
///     let result = Barrier::new(1).wait().await;
///     assert!(result.is_leader());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// True for exactly one task per group: the one whose arrival completed it.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::sync::Barrier;
    ///
    /// ringio::run(async {
    ///     assert!(Barrier::new(1).wait().await.is_leader());
    /// });
    /// ```
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// Future of [`Barrier::wait`].
///
/// # Examples
///
/// ```
/// use ringio::sync::{Barrier, BarrierWait};
///
/// ringio::run(async {
///     let barrier = Barrier::new(1);
///     let fut: BarrierWait<'_> = barrier.wait();
///     fut.await;
/// });
/// ```
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct BarrierWait<'a> {
    waiter: Waiter<'a, Barrier>,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let leader = std::task::ready!(self.get_mut().waiter.poll(cx, &mut ()));
        Poll::Ready(BarrierWaitResult { leader })
    }
}

/// How an arrival waits: the one that completes the group releases it and
/// leads it; the others are granted their release.
impl WaitQueue for Barrier {
    const FUTURE: &'static str = "BarrierWait";
    type State = WaitList<(), ()>;
    type Data = ();
    type Grant = ();
    type Carry = ();
    /// True for the leader.
    type Done = bool;

    fn with_state<R>(&self, f: impl FnOnce(&mut Self::State) -> R) -> R {
        f(&mut self.waiters.borrow_mut())
    }

    fn list(waiters: &mut Self::State) -> &mut WaitList<(), ()> {
        waiters
    }

    fn try_now(
        &self,
        waiters: &mut Self::State,
        _: &mut (),
        wakers: &mut Wakers,
    ) -> Result<bool, ()> {
        if waiters.len() + 1 < self.parties {
            return Err(());
        }
        // Our arrival completes the group: release it, oldest first.
        waiters.grant_all(|| (), wakers);
        Ok(true)
    }

    fn granted(&self, _: &mut Self::State, (): (), _: &mut (), _: &mut Wakers) -> bool {
        false
    }
    // `cancelled` keeps its default: still waiting, removing the entry took
    // our arrival back; already released, the release belongs to the whole
    // group and there is nothing to pass on.
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TestWaker, poll_once};

    #[test]
    fn barrier_releases_group_with_one_leader_and_is_reusable() {
        let barrier = Barrier::new(3);
        for generation in 0..3 {
            let wakers: Vec<TestWaker> = (0..2).map(|_| TestWaker::new()).collect();
            let mut futs: Vec<_> = (0..2).map(|_| Box::pin(barrier.wait())).collect();
            for (fut, w) in futs.iter_mut().zip(&wakers) {
                assert!(w.poll(fut.as_mut()).is_pending());
            }
            assert_eq!(barrier.n_waiting(), 2);
            let last = match poll_once(Box::pin(barrier.wait()).as_mut()) {
                Poll::Ready(r) => r,
                Poll::Pending => panic!("third arrival completes the group"),
            };
            assert!(last.is_leader(), "generation {generation}");
            for (fut, w) in futs.iter_mut().zip(&wakers) {
                assert_eq!(w.wakes(), 1);
                match w.poll(fut.as_mut()) {
                    Poll::Ready(r) => assert!(!r.is_leader()),
                    Poll::Pending => panic!("released"),
                }
            }
            assert_eq!(barrier.waiter_entries(), 0);
        }
    }

    #[test]
    fn barrier_dropped_waiter_takes_its_arrival_back() {
        let barrier = Barrier::new(3);
        let mut a = Box::pin(barrier.wait());
        let mut b = Box::pin(barrier.wait());
        assert!(poll_once(a.as_mut()).is_pending());
        assert!(poll_once(b.as_mut()).is_pending());
        drop(a);
        assert_eq!(barrier.waiter_entries(), 1);
        // Only two live arrivals now: the group is not complete yet.
        let mut c = Box::pin(barrier.wait());
        assert!(poll_once(c.as_mut()).is_pending());
        let d = poll_once(Box::pin(barrier.wait()).as_mut());
        assert!(matches!(d, Poll::Ready(r) if r.is_leader()));
        // Released waiters dropped without being polled leave nothing either.
        drop((b, c));
        assert_eq!(barrier.waiter_entries(), 0);
    }

    #[test]
    fn barrier_of_zero_acts_as_one() {
        let barrier = Barrier::new(0);
        assert!(matches!(
            poll_once(Box::pin(barrier.wait()).as_mut()),
            Poll::Ready(r) if r.is_leader()
        ));
    }
}
