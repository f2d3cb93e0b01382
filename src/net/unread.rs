//! The stream's stash: what receives took but nobody awaited, kept in the order they were
//! queued and returned by the stream's next read ([`Unread`]), and [`receive`], which
//! awaits a receive without letting it wait behind kept bytes.

use crate::buf::{IoBufMut, copy_into};
use crate::op::{Completable, Op};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Poll, Waker};

/// Bytes the kernel delivered to a recv whose future was already dropped: the stream's
/// stash, which its receive ops fill. It lives beside the descriptor, in the allocation
/// of its `SharedFd` (`SharedFd::unread`), which every receive op holds.
///
/// A cancel can lose the race: the recv completes with data just as its future is dropped
/// (io_uring_prep_cancel(3): the cancel then answers -EALREADY or -ENOENT and the target's
/// CQE carries its real result). Those bytes are kept here and the next read on the same
/// stream returns them first, so a read cancelled by a timeout never loses data.
///
/// A read already waiting in the kernel when bytes are kept here would not see them until
/// new data came (a peer waiting for an answer would wait forever), so the waiting reader
/// is woken ([`Unread::watch`]) and cancels its receive to return the kept bytes first.
/// An error that came behind kept bytes (a reset, say) is kept too, and returned once they
/// are read: the socket reports it only once.
///
/// A dropped receive may still take bytes after its cancel: the cancel does not always
/// find it (io_uring_prep_cancel(3): -ENOENT, -EALREADY). A receive that found the socket
/// readable while arming its poll is queued to run as task work, where an async cancel
/// does not look, and it runs after a newer receive of the same submission: on Linux 6.18
/// the newer receive took the earlier bytes and the dropped one the next (caught by
/// tests/net_pool_recv.rs `dropped_recv_pooled_loses_no_byte`). So a stream queues no
/// receive while one it dropped is still in flight ([`Unread::settled`]): the dropped
/// receive's last CQE comes first, and its bytes with it.
///
/// Kept bytes are ordered by the [`ticket`](Unread::ticket) of the receive that took
/// them, not by when its CQE is handled: completions carry no ordering promise
/// (io_uring(7)), and the driver hands a dropped multishot receive's CQEs to it while
/// reaping but finishes a dropped single-shot receive after the reap, so a later receive's
/// bytes could be kept first (two tasks reading one stream at once have such receives).
#[derive(Debug, Default)]
pub(crate) struct Unread {
    /// What cancelled receives left behind; `None`, with nothing allocated, while nothing
    /// is kept, which is how nearly every connection spends its life (an idle connection's
    /// heap cost is bounded in tests/net_conn_memory.rs).
    kept: RefCell<Option<Box<Kept>>>,
    next_ticket: Cell<u64>,
    /// Receives dropped in flight whose last CQE has not come ([`Unread::settled`]).
    abandoned: Cell<u32>,
    reader: RefCell<Option<Waker>>,
}

/// The kept bytes and error of an [`Unread`]; it exists only while one of them does.
#[derive(Debug, Default)]
struct Kept {
    bytes: VecDeque<u8>,
    /// Who took `bytes`, front to back: runs of (ticket, length), tickets ascending.
    runs: VecDeque<(u64, usize)>,
    error: Option<io::Error>,
}

impl Kept {
    /// Forgets the runs of the first `n` kept bytes, which were just taken.
    fn consumed(&mut self, mut n: usize) {
        while n > 0 {
            let front = self.runs.front_mut().expect("a run for every kept byte");
            let k = front.1.min(n);
            front.1 -= k;
            n -= k;
            if front.1 == 0 {
                self.runs.pop_front();
            }
        }
    }
}

/// Frees the kept state once it holds neither bytes nor an error.
fn tidy(kept: &mut Option<Box<Kept>>) {
    if kept
        .as_ref()
        .is_some_and(|k| k.bytes.is_empty() && k.error.is_none())
    {
        *kept = None;
    }
}

impl Unread {
    /// Whether bytes are kept (an error alone does not count: it waits behind them).
    pub(crate) fn is_empty(&self) -> bool {
        self.kept
            .borrow()
            .as_ref()
            .is_none_or(|k| k.bytes.is_empty())
    }

    /// Whether a read should return from here rather than receive: bytes or an error.
    pub(crate) fn has_any(&self) -> bool {
        self.kept.borrow().is_some()
    }

    /// A receive's place in the stream's order, taken as its SQE is queued.
    pub(crate) fn ticket(&self) -> u64 {
        let t = self.next_ticket.get();
        self.next_ticket.set(t + 1);
        t
    }

    /// Keeps `bytes` taken by the receive holding `ticket`: after the bytes of receives
    /// queued before it, before those of receives queued after it.
    pub(crate) fn push(&self, ticket: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        {
            let mut slot = self.kept.borrow_mut();
            let kept = slot.get_or_insert_default();
            let runs = &mut kept.runs;
            let (mut at, mut later) = (runs.len(), 0);
            while at > 0 && runs[at - 1].0 > ticket {
                at -= 1;
                later += runs[at].1;
            }
            match at.checked_sub(1).map(|i| &mut runs[i]) {
                Some((t, len)) if *t == ticket => *len += bytes.len(),
                _ => runs.insert(at, (ticket, bytes.len())),
            }
            let split = kept.bytes.len() - later;
            let behind = kept.bytes.split_off(split);
            kept.bytes.extend(bytes);
            kept.bytes.extend(behind);
        }
        self.wake_reader();
    }

    /// Keeps the error of a receive whose bytes could not be returned yet; interruptions
    /// and cancellations are not errors of the stream and are dropped.
    pub(crate) fn push_error(&self, e: io::Error) {
        let transient = matches!(
            e.raw_os_error(),
            Some(libc::ECANCELED | libc::ENOBUFS | libc::EINTR | libc::EAGAIN | libc::ETIME)
        );
        if transient {
            return;
        }
        self.kept
            .borrow_mut()
            .get_or_insert_default()
            .error
            .get_or_insert(e);
        self.wake_reader();
    }

    /// The kept error, once no byte is kept any more.
    pub(crate) fn take_error(&self) -> Option<io::Error> {
        let mut slot = self.kept.borrow_mut();
        let kept = slot.as_mut()?;
        if !kept.bytes.is_empty() {
            return None;
        }
        let e = kept.error.take();
        tidy(&mut slot);
        e
    }

    /// What a read returns from here instead of receiving: the kept bytes, else the kept
    /// error, else nothing.
    pub(crate) fn take_kept(&self) -> Option<io::Result<Vec<u8>>> {
        // Nearly every read finds nothing kept: one look, not two.
        if !self.has_any() {
            return None;
        }
        if !self.is_empty() {
            return Some(Ok(self.take_all()));
        }
        self.take_error().map(Err)
    }

    /// Every kept byte, in order.
    pub(crate) fn take_all(&self) -> Vec<u8> {
        let mut slot = self.kept.borrow_mut();
        let Some(kept) = slot.as_mut() else {
            return Vec::new();
        };
        kept.runs.clear();
        let bytes = std::mem::take(&mut kept.bytes).into();
        tidy(&mut slot);
        bytes
    }

    /// Waits until no receive this stream dropped is in flight, so the next one cannot
    /// take bytes before it (type docs). Ready at once on nearly every call.
    pub(crate) async fn settled(&self) {
        poll_fn(|cx| self.poll_settled(cx.waker())).await;
    }

    /// [`settled`](Self::settled) for callers that poll: `Pending` wakes `waker` once the
    /// last dropped receive ended.
    pub(crate) fn poll_settled(&self, waker: &Waker) -> Poll<()> {
        if self.abandoned.get() == 0 {
            return Poll::Ready(());
        }
        self.watch(waker);
        Poll::Pending
    }

    /// Puts `bytes` back in front of every kept byte: they were received before anything
    /// kept here (a reader took them and hands them back unread). Any receive still in
    /// flight was queued after the one that took them, so its bytes go behind.
    #[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper", test))]
    pub(crate) fn keep_front(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        {
            let mut slot = self.kept.borrow_mut();
            let kept = slot.get_or_insert_default();
            // Ticket 0 keeps the runs ascending, and a later push with any ticket (0
            // included) goes behind these bytes.
            kept.runs.push_front((0, bytes.len()));
            let mut front: VecDeque<u8> = bytes.iter().copied().collect();
            front.append(&mut kept.bytes);
            kept.bytes = front;
        }
        self.wake_reader();
    }

    /// Wakes `waker` when bytes or an error are kept here, or the last dropped receive
    /// ended (one reader at a time).
    pub(crate) fn watch(&self, waker: &Waker) {
        let mut reader = self.reader.borrow_mut();
        match &mut *reader {
            Some(w) if w.will_wake(waker) => {}
            r => *r = Some(waker.clone()),
        }
    }

    fn wake_reader(&self) {
        let reader = self.reader.borrow_mut().take();
        if let Some(w) = reader {
            w.wake();
        }
    }

    /// Moves as many kept bytes as fit into `buf`, from its start; returns how many.
    pub(crate) fn fill<B: IoBufMut>(&self, buf: &mut B) -> usize {
        let mut slot = self.kept.borrow_mut();
        let Some(kept) = slot.as_mut() else {
            return 0;
        };
        let (front, back) = kept.bytes.as_slices();
        let n = copy_into(buf, front, back);
        kept.bytes.drain(..n);
        kept.consumed(n);
        tidy(&mut slot);
        n
    }
}

/// What the receive ops (`op::recv`, `op::recv_pooled`) do with the stash.
impl Unread {
    /// Keeps the result of the receive holding `ticket`: its bytes after those of
    /// receives queued before it, before those of receives queued after it; or its error,
    /// behind every kept byte.
    pub(crate) fn keep(&self, ticket: u64, res: io::Result<&[u8]>) {
        match res {
            Ok(bytes) => self.push(ticket, bytes),
            Err(e) => self.push_error(e),
        }
    }

    /// What a read returns from here: as many kept bytes as fit into the start of `buf`,
    /// or, with no byte kept, the kept error. Call only when [`has_any`](Self::has_any).
    pub(crate) fn take_into<B: IoBufMut>(&self, buf: &mut B) -> io::Result<usize> {
        if self.is_empty() {
            let e = self.take_error().expect("has_any: bytes or an error");
            return Err(e);
        }
        Ok(self.fill(buf))
    }

    /// As [`take_into`](Self::take_into), every kept byte into a new `Vec`.
    pub(crate) fn take_result(&self) -> io::Result<Vec<u8>> {
        match self.take_error() {
            Some(e) => Err(e),
            None => Ok(self.take_all()),
        }
    }

    /// A receive of the stream was dropped while in flight: it may still take bytes.
    pub(crate) fn abandoned(&self) {
        self.abandoned.set(self.abandoned.get() + 1);
    }

    /// The last CQE of a receive given to [`abandoned`](Self::abandoned) was kept.
    pub(crate) fn abandoned_done(&self) {
        let left = self.abandoned.get() - 1;
        self.abandoned.set(left);
        if left == 0 {
            self.wake_reader();
        }
    }
}

/// Awaits the receive `op` on a stream whose stash is `unread`. If a cancelled receive
/// keeps bytes (or an error) there while `op` waits in the kernel, `op` is cancelled: its
/// completion then returns the kept bytes first (`complete` merges them), instead of
/// waiting for data that may never come.
pub(crate) async fn receive<T: Completable>(mut op: Op<T>, unread: &Unread) -> T::Output {
    poll_fn(|cx| {
        if let Poll::Ready(out) = Pin::new(&mut op).poll(cx) {
            return Poll::Ready(out);
        }
        if unread.has_any() {
            op.cancel();
        } else {
            unread.watch(cx.waker());
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::Unread;

    #[test]
    fn kept_bytes_follow_ticket_order_not_arrival_order() {
        let u = Unread::default();
        let (a, b, c) = (u.ticket(), u.ticket(), u.ticket());
        // A multishot receive's CQEs handled first, then two single-shot ones.
        u.push(b, b"B1");
        u.push(b, b"B2");
        u.push(c, b"C");
        u.push(a, b"A");
        assert_eq!(u.take_all(), b"AB1B2C");
        assert!(u.is_empty());
    }

    #[test]
    fn partly_read_bytes_keep_their_place() {
        let u = Unread::default();
        let (a, b) = (u.ticket(), u.ticket());
        u.push(b, b"BBBB");
        let mut buf = Vec::with_capacity(2);
        assert_eq!(u.fill(&mut buf), 2);
        assert_eq!(buf, b"BB");
        // Later tickets go behind what is left; the run bookkeeping followed the read.
        let c = u.ticket();
        u.push(c, b"C");
        u.push(b, b"b");
        assert_eq!(u.take_all(), b"BBbC");
        u.push(a, b"A");
        assert_eq!(u.take_all(), b"A");
    }

    #[test]
    fn bytes_handed_back_go_before_every_kept_byte() {
        let u = Unread::default();
        let _taken = u.ticket(); // the receive whose bytes are handed back
        let (a, b) = (u.ticket(), u.ticket());
        u.push(b, b"B");
        u.keep_front(b"front");
        u.push(b, b"b");
        u.push(a, b"A");
        assert_eq!(u.take_all(), b"frontABb");
        u.keep_front(b"x");
        let c = u.ticket();
        u.push(c, b"C");
        assert_eq!(u.take_all(), b"xC");
    }
}
