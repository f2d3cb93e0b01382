//! Operations: one io_uring opcode per file, each owning its fd and buffer until its CQE.
//!
//! An [`Op<T>`] is a future over one slot of the driver. `T` holds everything the SQE
//! points to. Rules:
//! 1. `T`'s memory that the SQE points to is on the heap (or `'static`), so moving `T`
//!    into the `Op` after building the SQE keeps the pointers valid.
//! 2. Until the CQE, `T` lives in the `Op`; if the `Op` is dropped first, `T` moves into
//!    the slot (`driver::slot` rule 2) and, for ops that may never complete, an
//!    async-cancel is queued.
//! 3. A CQE that arrives for a dropped op is handed to [`Completable::complete_orphan`],
//!    which releases what the kernel produced (an accepted fd is closed).

mod accept;
// Files and pipes build on these; until `fs` lands only the tests below use them.
#[cfg_attr(not(test), allow(dead_code))]
mod close;
mod connect;
mod nop;
#[cfg_attr(not(test), allow(dead_code))]
mod read;
mod recv;
mod send;
#[cfg_attr(not(test), allow(dead_code))]
mod write;

pub(crate) use recv::Unread;

use crate::driver::{Completion, Orphan};
use crate::runtime::context::{self, Core};
use io_uring::squeue;
use std::any::Any;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// The owned state of one operation and how its CQE becomes a result.
pub(crate) trait Completable: 'static {
    /// What awaiting the op gives.
    type Output;

    /// Whether a dropped op must be cancelled: true for ops that may wait forever
    /// (recv, accept, connect, send to a peer that never reads).
    const CANCEL_ON_DROP: bool;

    /// Turns the CQE into the result, giving back owned buffers.
    fn complete(self, completion: Completion) -> Self::Output;

    /// The CQE of a dropped op arrived: release anything it created. Dropping `self`
    /// releases the buffers.
    fn complete_orphan(self, completion: Completion)
    where
        Self: Sized,
    {
        let _ = completion;
    }
}

struct Orphaned<T>(T);

impl<T: Completable> Orphan for Orphaned<T> {
    fn complete(self: Box<Self>, completion: Completion) {
        self.0.complete_orphan(completion);
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A submitted operation; awaiting it gives `T::Output`.
///
/// The op keeps its core alive: even a future that outlives its `Runtime` (moved out of
/// `block_on`) still finds the ring that holds its slot when it is dropped.
pub(crate) struct Op<T: Completable> {
    core: Rc<Core>,
    key: usize,
    data: Option<T>,
    /// Ops belong to the thread whose ring holds their slot (`Rc` already makes this
    /// `!Send`; the marker says so on purpose).
    _not_send: PhantomData<*const ()>,
}

impl<T: Completable> Op<T> {
    /// Queues `sqe` on this thread's ring; `data` owns what it points to.
    ///
    /// # Safety
    ///
    /// Every pointer in `sqe` must point into `data`'s heap memory or into `'static`
    /// memory (rule 1), so it stays valid for as long as `data` lives.
    ///
    /// # Errors
    ///
    /// If the submission queue cannot take the SQE (see `Driver::push`); `data` comes
    /// back, since the kernel never saw the SQE.
    pub(crate) unsafe fn submit(data: T, sqe: squeue::Entry) -> Result<Op<T>, (io::Error, T)> {
        let core = context::current();
        // SAFETY: the caller's promise plus rule 2: `data` lives in the returned Op, or in
        // the slot once the Op is dropped, until the CQE.
        let key = match unsafe { core.driver.borrow_mut().push(sqe) } {
            Ok(key) => key,
            Err(e) => return Err((e, data)),
        };
        Ok(Op {
            core,
            key,
            data: Some(data),
            _not_send: PhantomData,
        })
    }
}

impl<T: Completable> Unpin for Op<T> {}

impl<T: Completable> Future for Op<T> {
    type Output = T::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let key = self.key;
        let completion = std::task::ready!(self.core.driver.borrow_mut().poll_slot(key, cx));
        let data = self.data.take().expect("op polled after it completed");
        Poll::Ready(data.complete(completion))
    }
}

impl<T: Completable> Drop for Op<T> {
    fn drop(&mut self) {
        let Some(data) = self.data.take() else {
            return; // completed and taken: the slot is already free
        };
        let mut data = Some(data);
        let done = self.core.driver.borrow_mut().abandon(
            self.key,
            || Box::new(Orphaned(data.take().expect("taken once"))),
            T::CANCEL_ON_DROP,
        );
        // The CQE came before the drop: what it produced is ours to release, outside the
        // driver borrow.
        if let (Some(completion), Some(data)) = (done, data) {
            data.complete_orphan(completion);
        }
    }
}
