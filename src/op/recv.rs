//! IORING_OP_RECV: receive from a connected socket, losing nothing when cancelled.

use super::{Completable, Op};
use crate::buf::{BufResult, IoBufMut};
use crate::driver::Completion;
use crate::fd::SharedFd;
use io_uring::{opcode, types};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Bytes the kernel delivered to a recv whose future was already dropped.
///
/// A cancel can lose the race: the recv completes with data just as its future is dropped
/// (io_uring_prep_cancel(3): the cancel then answers -EALREADY or -ENOENT and the target's
/// CQE carries its real result). Those bytes are kept here and the next read on the same
/// stream returns them first, so a read cancelled by a timeout never loses data.
#[derive(Debug, Default)]
pub(crate) struct Unread(RefCell<VecDeque<u8>>);

impl Unread {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    pub(crate) fn push(&self, bytes: &[u8]) {
        self.0.borrow_mut().extend(bytes);
    }

    /// Every kept byte, in order.
    pub(crate) fn take_all(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.borrow_mut()).into()
    }

    /// Moves as many kept bytes as fit into `buf`, from its start; returns how many.
    pub(crate) fn fill<B: IoBufMut>(&self, buf: &mut B) -> usize {
        let mut kept = self.0.borrow_mut();
        let n = kept.len().min(buf.bytes_total());
        let (a, b) = kept.as_slices();
        let (a, b) = if a.len() >= n {
            (&a[..n], &b[..0])
        } else {
            (a, &b[..n - a.len()])
        };
        let dst = buf.stable_mut_ptr();
        // SAFETY: n <= bytes_total, so both copies stay inside the buffer's writable
        // storage (IoBufMut rule 2); the sources are a separate allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(a.as_ptr(), dst, a.len());
            std::ptr::copy_nonoverlapping(b.as_ptr(), dst.add(a.len()), b.len());
            buf.set_init(n);
        }
        kept.drain(..n);
        n
    }
}

pub(crate) struct Recv<B> {
    _fd: SharedFd,
    buf: B,
    unread: Option<Rc<Unread>>,
}

impl<B: IoBufMut> Recv<B> {
    /// The first `n` bytes the kernel wrote.
    fn received(&mut self, n: usize) -> &[u8] {
        // SAFETY: the kernel wrote `n` bytes from the start of the buffer.
        unsafe {
            self.buf.set_init(n);
            std::slice::from_raw_parts(self.buf.stable_ptr(), n)
        }
    }
}

impl<B: IoBufMut> Completable for Recv<B> {
    type Output = BufResult<usize, B>;
    // A recv waits until the peer sends, possibly forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(mut self, c: Completion) -> Self::Output {
        let res = c.into_result().map(|n| n as usize);
        let Some(unread) = self.unread.take().filter(|u| !u.is_empty()) else {
            if let Ok(n) = res {
                self.received(n);
            }
            return (res, self.buf);
        };
        // An older, dropped recv completed after this one was submitted: its bytes came
        // first on the wire, so they go first. An error here shows again on the next read.
        if let Ok(n) = res {
            let bytes = self.received(n).to_vec();
            unread.push(&bytes);
        }
        let n = unread.fill(&mut self.buf);
        (Ok(n), self.buf)
    }

    fn complete_orphan(mut self, c: Completion) {
        if let (Ok(n), Some(unread)) = (c.into_result(), self.unread.take()) {
            let n = n as usize;
            unread.push(self.received(n));
        }
    }
}

impl<B: IoBufMut> Op<Recv<B>> {
    /// Receives into `buf`; bytes of a cancelled recv go to `unread` (see [`Unread`]).
    pub(crate) fn recv(
        fd: &SharedFd,
        mut buf: B,
        unread: Option<Rc<Unread>>,
    ) -> Result<Op<Recv<B>>, (std::io::Error, B)> {
        let len = buf.bytes_total().min(u32::MAX as usize) as u32;
        let sqe = opcode::Recv::new(types::Fd(fd.raw()), buf.stable_mut_ptr(), len).build();
        let data = Recv {
            _fd: fd.clone(),
            buf,
            unread,
        };
        // SAFETY: the SQE points into `buf`'s stable storage (IoBuf rule 1), owned by the op.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, d)| (e, d.buf))
    }
}
