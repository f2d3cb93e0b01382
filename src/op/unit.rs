//! The ops that only succeed or fail and give nothing back (close, connect, fadvise,
//! fallocate, fsync, ftruncate, linkat, mkdirat, renameat, symlinkat, unlinkat): one [`Completable`] for all of them, while
//! each opcode's own file builds its SQE and names what the op keeps alive.

use super::{Completable, Op};
use crate::driver::Completion;
use io_uring::squeue;
use std::io;

/// An op whose result is `Ok(())` or the errno.
///
/// `K` is what the SQE points to or needs alive until the CQE (a descriptor, a boxed
/// address, paths); the op keeps it (rule 2). `CANCEL` is the op's
/// [`CANCEL_ON_DROP`](Completable::CANCEL_ON_DROP): whether it may wait forever.
pub(crate) struct Unit<K, const CANCEL: bool> {
    _keep: K,
}

impl<K: 'static, const CANCEL: bool> Completable for Unit<K, CANCEL> {
    type Output = io::Result<()>;
    const CANCEL_ON_DROP: bool = CANCEL;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

impl<K: 'static, const CANCEL: bool> Op<Unit<K, CANCEL>> {
    /// Queues `sqe`, keeping `keep` alive until its CQE.
    ///
    /// # Safety
    ///
    /// As [`Op::submit`]: every pointer in `sqe` points into `keep`'s heap memory or into
    /// `'static` memory (rule 1).
    ///
    /// # Errors
    ///
    /// As [`Op::submit`]; `keep` is dropped.
    pub(crate) unsafe fn submit_unit(keep: K, sqe: squeue::Entry) -> io::Result<Self> {
        // SAFETY: the caller's promise, passed on.
        unsafe { Op::submit(Unit { _keep: keep }, sqe) }.map_err(|(e, _)| e)
    }
}
