//! The ops that hand the kernel a buffer to read and give it back with how many bytes
//! were taken (send, sendmsg, write): one [`Completable`] for all of them, while each
//! opcode's own file builds its SQE and names what else the op keeps alive.

use super::{Completable, Op};
use crate::buf::{BufResult, IoBuf};
use crate::driver::Completion;
use io_uring::squeue;
use std::io;

/// An op that sends or writes `buf`'s bytes; `K` is what else the SQE needs alive until
/// the CQE (the descriptor, a boxed message header), kept in the op (rule 2).
pub(crate) struct Outgoing<B, K> {
    buf: B,
    _keep: K,
}

impl<B: IoBuf, K: 'static> Completable for Outgoing<B, K> {
    type Output = BufResult<usize, B>;
    // A send waits while the socket buffer is full and a write while a pipe is: on a
    // stream socket or a pipe whose reader stopped, forever.
    const CANCEL_ON_DROP: bool = true;

    fn complete(self, c: Completion) -> Self::Output {
        (c.into_result().map(|n| n as usize), self.buf)
    }
}

impl<B: IoBuf, K: 'static> Op<Outgoing<B, K>> {
    /// Queues `sqe`, keeping `buf` and `keep` alive until its CQE.
    ///
    /// # Safety
    ///
    /// As [`Op::submit`]: every pointer in `sqe` points into `buf`'s stable storage
    /// (IoBuf rule 1), into `keep`'s heap memory or into `'static` memory (rule 1).
    ///
    /// # Errors
    ///
    /// As [`Op::submit`]; the buffer comes back with the error.
    pub(crate) unsafe fn submit_outgoing(
        buf: B,
        keep: K,
        sqe: squeue::Entry,
    ) -> Result<Self, (io::Error, B)> {
        let data = Outgoing { buf, _keep: keep };
        // SAFETY: the caller's promise, passed on.
        unsafe { Op::submit(data, sqe) }.map_err(|(e, d)| (e, d.buf))
    }
}
