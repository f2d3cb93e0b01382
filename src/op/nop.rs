//! IORING_OP_NOP: a round trip through the ring that does nothing, for the crate's own
//! tests of the op path (users measure the ring with a real operation).

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nop_is_one_op_through_the_ring() {
        let rt = crate::Runtime::builder().workers(1).build().unwrap();
        rt.block_on(async { Op::nop().unwrap().await.unwrap() });
        let m = rt.metrics();
        assert_eq!(
            (m.ops_submitted, m.ops_completed, m.ops_in_flight),
            (1, 1, 0)
        );
    }
}
