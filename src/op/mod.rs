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
mod close;
mod connect;
mod fadvise;
mod fallocate;
mod fsync;
mod ftruncate;
mod linkat;
mod mkdirat;
mod multishot;
mod new_fd;
#[cfg(test)]
mod nop;
mod openat;
mod outgoing;
mod poll;
mod read;
mod read_fixed;
mod recv;
mod recv_pooled;
mod recvmsg;
mod renameat;
pub(crate) mod result;
mod send;
mod send_zc;
mod sendmsg;
mod splice;
mod statx;
mod symlinkat;
mod unit;
mod unlinkat;
mod waitid;
mod write;
mod write_fixed;

pub(crate) use accept::AcceptMulti;
pub(crate) use multishot::{MultiCompletable, MultiOp};
pub(crate) use recv_pooled::{PooledRecv, pool, pool_fallback};
pub(crate) use recvmsg::RecvMeta;
pub(crate) use send::{send_buf, send_now};
pub(crate) use send_zc::SendZcItem;
pub(crate) use splice::splice_pipe;
pub(crate) use statx::STATX_DIOALIGN;

use crate::driver::{Completion, Orphan, Pushed};
use crate::runtime::handle::DriverHandle;
use io_uring::squeue;
use std::any::Any;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
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

    /// The op is being dropped before its result was taken; `complete_orphan` follows,
    /// now or when the CQE comes (rule 3).
    fn abandoned(&self) {}

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
/// The op keeps its core alive ([`DriverHandle`]): even a future that outlives its
/// `Runtime` (moved out of `block_on`) still finds the ring that holds its slot when it is
/// dropped.
pub(crate) struct Op<T: Completable> {
    core: DriverHandle,
    /// Its slot key or, if `finished`, the completion the backend gave at the push
    /// (`Pushed`), in one word so that an op weighs no more than with a key alone.
    key: u64,
    finished: bool,
    data: Option<T>,
    /// `cancel` was called: one async-cancel is enough.
    cancel_sent: bool,
    /// Ops belong to the thread whose ring holds their slot (the handle's `Rc` already
    /// makes this `!Send`; the marker says so on purpose).
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
        let core = DriverHandle::current();
        // SAFETY: the caller's promise plus rule 2: `data` lives in the returned Op, or in
        // the slot once the Op is dropped, until the CQE.
        let (key, finished) = match unsafe { core.driver().push(sqe) } {
            Ok(Pushed::Slot(key)) => (key as u64, false),
            Ok(Pushed::Done(c)) => (
                (u64::from(c.result as u32) << 32) | u64::from(c.flags),
                true,
            ),
            Err(e) => return Err((e, data)),
        };
        Ok(Op {
            core,
            key,
            finished,
            data: Some(data),
            cancel_sent: false,
            _not_send: PhantomData,
        })
    }

    fn pushed(&self) -> Pushed {
        if self.finished {
            Pushed::Done(Completion {
                result: (self.key >> 32) as u32 as i32,
                flags: self.key as u32,
            })
        } else {
            Pushed::Slot(self.key as usize)
        }
    }

    /// Submits this op (and whatever else is queued) now instead of with the loop turn's
    /// batch (`Driver::flush`).
    pub(crate) fn submit_now(self) -> Self {
        self.core.driver().flush();
        self
    }

    /// Asks the kernel to end this op early; awaiting it still gives its result, which is
    /// -ECANCELED unless it completed first (io_uring_prep_cancel(3)). Once per op.
    pub(crate) fn cancel(&mut self) {
        if let (Some(_), false, Pushed::Slot(key)) = (&self.data, self.cancel_sent, self.pushed()) {
            self.cancel_sent = true;
            self.core.driver().cancel_slot(key);
        }
    }
}

impl<T: Completable> Unpin for Op<T> {}

impl<T: Completable> Future for Op<T> {
    type Output = T::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        // Checked first: after completion the key may already belong to another op.
        assert!(self.data.is_some(), "op polled after it completed");
        let completion = match self.pushed() {
            Pushed::Slot(key) => std::task::ready!(self.core.driver().poll_slot(key, cx)),
            Pushed::Done(c) => c,
        };
        let data = self.data.take().expect("checked above");
        Poll::Ready(data.complete(completion))
    }
}

impl<T: Completable> Drop for Op<T> {
    fn drop(&mut self) {
        let Some(data) = self.data.take() else {
            return; // completed and taken: the slot is already free
        };
        data.abandoned();
        let mut data = Some(data);
        let done = match self.pushed() {
            Pushed::Slot(key) => self.core.driver().abandon(
                key,
                || Box::new(Orphaned(data.take().expect("taken once"))),
                T::CANCEL_ON_DROP,
            ),
            Pushed::Done(c) => Some(c),
        };
        // The CQE came before the drop: what it produced is ours to release, outside the
        // driver borrow.
        if let (Some(completion), Some(data)) = (done, data) {
            data.complete_orphan(completion);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fd::{SharedFd, owned_from_raw};
    use std::os::fd::OwnedFd;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the live local array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        (owned_from_raw(fds[0]), owned_from_raw(fds[1]))
    }

    #[test]
    fn write_then_read_through_a_pipe() {
        crate::run(async {
            let (r, w) = pipe();
            let (r, w) = (SharedFd::new(r), SharedFd::new(w));
            let (res, _) = Op::write_at(&w, b"through the ring".to_vec(), 8, u64::MAX)
                .map_err(|(e, _)| e)
                .unwrap()
                .await;
            assert_eq!(res.unwrap(), 8, "writes start at `start`");
            let (res, buf) = Op::read_at(&r, Vec::with_capacity(32), u64::MAX)
                .map_err(|(e, _)| e)
                .unwrap()
                .await;
            assert_eq!(res.unwrap(), 8);
            assert_eq!(&buf, b"the ring");
        });
    }

    #[test]
    fn close_through_the_ring_releases_the_fd() {
        crate::run(async {
            let (r, w) = pipe();
            Op::close(w).unwrap().await.unwrap();
            // The read end sees EOF only once every write end is closed. (Checking the
            // number with fcntl would race with other tests reusing it.)
            let (res, _) = Op::read_at(&SharedFd::new(r), vec![0u8; 4], u64::MAX)
                .map_err(|(e, _)| e)
                .unwrap()
                .await;
            assert_eq!(res.unwrap(), 0);
        });
    }

    #[test]
    fn dropped_pipe_read_is_cancelled_and_its_slot_freed() {
        crate::run(async {
            let (r, _w) = pipe();
            let r = SharedFd::new(r);
            for _ in 0..100 {
                let op = Op::read_at(&r, vec![0u8; 64], u64::MAX)
                    .map_err(|(e, _)| e)
                    .unwrap();
                let mut op = std::pin::pin!(op);
                let mut cx = Context::from_waker(std::task::Waker::noop());
                assert!(op.as_mut().poll(&mut cx).is_pending());
                crate::yield_now().await; // the read reaches the kernel, then is dropped
            }
            for _ in 0..100 {
                if crate::metrics().ops_in_flight == 0 {
                    break;
                }
                crate::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            assert_eq!(crate::metrics().ops_in_flight, 0);
        });
    }
}
