//! IORING_OP_NOP: a round trip through the ring that does nothing (tests, benchmarks).

use super::{Completable, Op};
use crate::driver::Completion;
use io_uring::opcode;
use std::io;

pub(crate) struct Nop;

impl Completable for Nop {
    type Output = io::Result<()>;
    const CANCEL_ON_DROP: bool = false;

    fn complete(self, c: Completion) -> io::Result<()> {
        c.into_result().map(drop)
    }
}

impl Op<Nop> {
    pub(crate) fn nop() -> io::Result<Op<Nop>> {
        // SAFETY: a NOP points to no memory.
        unsafe { Op::submit(Nop, opcode::Nop::new().build()) }.map_err(|(e, _)| e)
    }
}
