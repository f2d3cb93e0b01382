//! IORING_OP_LINKAT: give an existing file a second name (Linux 5.15 and later).

use super::Op;
use super::unit::Unit;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;

/// Keeps the two paths the SQE points to; heap bytes (op rule 1). A link on a local
/// filesystem always finishes: a dropped one is not cancelled.
pub(crate) type LinkAt = Unit<(CString, CString), false>;

impl Op<LinkAt> {
    /// Makes `link` a new name for the file `original`, both relative to the working
    /// directory; a symlink `original` is not followed (linkat(2) without
    /// AT_SYMLINK_FOLLOW, as link(2) on Linux). Kernels without the opcode answer `EINVAL`.
    pub(crate) fn link_at(original: CString, link: CString) -> io::Result<Op<LinkAt>> {
        let sqe = opcode::LinkAt::new(
            types::Fd(libc::AT_FDCWD),
            original.as_ptr(),
            types::Fd(libc::AT_FDCWD),
            link.as_ptr(),
        )
        .build();
        // SAFETY: the SQE points into the two CStrings' heap buffers, owned by the op.
        unsafe { Op::submit_unit((original, link), sqe) }
    }
}
