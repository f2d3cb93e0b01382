//! Multishot operations: one SQE, a CQE per result until the kernel ends it
//! (`driver::slot` rule 4).

use crate::driver::{Completion, Orphan};
use crate::runtime::handle::DriverHandle;
use io_uring::squeue;
use std::any::Any;
use std::io;
use std::marker::PhantomData;
use std::task::{Context, Poll};

/// The owned state of a multishot op and how each CQE becomes an item.
pub(crate) trait MultiCompletable: 'static {
    /// What one CQE gives its owner.
    type Item;

    /// Turns one CQE into an item.
    fn item(&mut self, completion: Completion) -> Self::Item;

    /// The op is being dropped before its last CQE was taken; `discard` gets every CQE
    /// still to come, the last one without `IORING_CQE_F_MORE`.
    fn abandoned(&self) {}

    /// A CQE nobody will take (the owner is gone): release what it produced, e.g. close
    /// an accepted fd or give back a provided buffer. Must not use the runtime: it may run
    /// while the driver is borrowed (`Orphan::more`).
    fn discard(&mut self, completion: Completion);
}

struct MultiOrphaned<T>(T);

impl<T: MultiCompletable> Orphan for MultiOrphaned<T> {
    fn complete(mut self: Box<Self>, completion: Completion) {
        self.0.discard(completion);
    }
    fn more(&mut self, completion: Completion) {
        self.0.discard(completion);
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// An armed multishot op. [`MultiOp::poll_next`] yields one item per CQE; after the last
/// one (`more == false`) the op is over and a new one must be armed to go on. Dropping it
/// while armed cancels it; CQEs that still come are discarded (their fds closed, their
/// buffers given back).
pub(crate) struct MultiOp<T: MultiCompletable> {
    core: DriverHandle,
    key: usize,
    /// `None` once the last CQE was taken.
    data: Option<T>,
    _not_send: PhantomData<*const ()>,
}

impl<T: MultiCompletable> MultiOp<T> {
    /// Queues the multishot `sqe`; the driver cancels it once `limit` CQEs wait unread
    /// (0: never), which ends it with -ECANCELED after the queued items.
    ///
    /// # Safety
    ///
    /// As [`super::Op::submit`]: every pointer in `sqe` points into `data`'s heap memory
    /// or into `'static` memory.
    ///
    /// # Errors
    ///
    /// If the submission queue cannot take the SQE; `data` comes back.
    pub(crate) unsafe fn submit(
        data: T,
        sqe: squeue::Entry,
        limit: usize,
    ) -> Result<MultiOp<T>, (io::Error, T)> {
        let core = DriverHandle::current();
        // SAFETY: the caller's promise; `data` lives in this op, or in the slot once the
        // op is dropped, until the last CQE.
        let key = match unsafe { core.driver().push_multi(sqe, limit) } {
            Ok(key) => key,
            Err(e) => return Err((e, data)),
        };
        Ok(MultiOp {
            core,
            key,
            data: Some(data),
            _not_send: PhantomData,
        })
    }

    /// The op's owned state; `None` once its last CQE was taken.
    pub(crate) fn state(&self) -> Option<&T> {
        self.data.as_ref()
    }

    /// The next item and whether more will follow (`false`: the op is over).
    ///
    /// # Panics
    ///
    /// If polled again after the last item.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<(T::Item, bool)> {
        let data = self
            .data
            .as_mut()
            .expect("multishot op polled after its end");
        let c = std::task::ready!(self.core.driver().poll_multi(self.key, cx));
        let item = data.item(c);
        if !c.more() {
            self.data = None;
        }
        Poll::Ready((item, c.more()))
    }
}

impl<T: MultiCompletable> Drop for MultiOp<T> {
    fn drop(&mut self) {
        let Some(data) = self.data.take() else {
            return; // the last CQE was taken: the slot is free
        };
        data.abandoned();
        let done = self
            .core
            .driver()
            .abandon_multi(self.key, Box::new(MultiOrphaned(data)));
        if let Some((orphan, c)) = done {
            orphan.complete(c);
        }
    }
}
