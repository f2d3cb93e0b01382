//! The registered ring fd (IORING_REGISTER_RING_FDS, Linux 5.18): each enter names the
//! ring by a per-thread index instead of its fd, which spares the kernel an fd table
//! lookup and reference count per call.

use super::{Driver, fault};
use std::io;
use std::os::fd::AsRawFd;

/// `IORING_ENTER_REGISTERED_RING` and `IORING_REGISTER_RING_FDS` (io_uring.h).
const REGISTERED_RING: u32 = 1 << 4;
const IORING_REGISTER_RING_FDS: libc::c_uint = 20;
const IORING_UNREGISTER_RING_FDS: libc::c_uint = 21;

/// `struct io_uring_rsrc_update` (io_uring.h).
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

impl Driver {
    /// io_uring_enter(2) on this ring, through its registered index when it has one
    /// (`IORING_ENTER_REGISTERED_RING`: the kernel skips looking the fd up).
    ///
    /// # Safety
    ///
    /// `arg` and `argsz` must be what `flags` tells the kernel to expect (null and 0, or
    /// an io_uring_getevents_arg with EXT_ARG), valid for the call.
    pub(super) unsafe fn sys_enter(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const libc::c_void,
        argsz: usize,
    ) -> io::Result<usize> {
        let (fd, flags) = match self.ring_index {
            Some(index) => (index as libc::c_int, flags | REGISTERED_RING),
            None => (self.ring().as_raw_fd(), flags),
        };
        // SAFETY: the fd (or registered index) names this live ring; the rest is the
        // caller's promise.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                fd,
                to_submit,
                min_complete,
                flags,
                arg,
                argsz,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r as usize)
        }
    }

    /// Registers the ring's own fd (IORING_REGISTER_RING_FDS, Linux 5.18) so each enter
    /// passes its index instead: the kernel then skips the fd table lookup and reference
    /// count on every call. The registration belongs to this thread, the ring's only
    /// issuer. Optional: on failure enters go through the fd as before.
    pub(super) fn register_ring_fd(&mut self) {
        if fault::is_missing(fault::Missing::RingFdRegistration) {
            return;
        }
        let mut update = RsrcUpdate {
            offset: u32::MAX, // any free slot
            resv: 0,
            data: self.ring().as_raw_fd() as u64,
        };
        // SAFETY: one io_uring_rsrc_update, live for the call, as the opcode expects.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.ring().as_raw_fd(),
                IORING_REGISTER_RING_FDS,
                &raw mut update,
                1,
            )
        };
        if r == 1 {
            self.ring_index = Some(update.offset);
        }
    }

    /// Drops the registration: it holds a reference to the ring, which would otherwise
    /// outlive its fd until the thread exits (and a thread may register only 16 rings).
    pub(super) fn unregister_ring_fd(&mut self) {
        let Some(index) = self.ring_index.take() else {
            return;
        };
        let mut update = RsrcUpdate {
            offset: index,
            resv: 0,
            data: 0,
        };
        // SAFETY: as in `register_ring_fd`.
        unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.ring().as_raw_fd(),
                IORING_UNREGISTER_RING_FDS,
                &raw mut update,
                1,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::RingSize;
    use super::*;

    #[test]
    fn ring_fd_registration_is_undone_on_drop() {
        // A thread may register at most 16 ring fds (IO_RINGFD_REG_MAX): if a dropped
        // driver kept its registration, the 17th ring on this thread would go without.
        let wake = crate::sys::fd::eventfd().unwrap();
        let size = RingSize {
            entries: 8,
            rings: 1,
        };
        let first = Driver::new(size, wake.as_raw_fd()).unwrap().ring_index;
        for _ in 0..40 {
            let d = Driver::new(size, wake.as_raw_fd()).unwrap();
            assert_eq!(d.ring_index, first, "a registration slot leaked");
        }
        eprintln!("registered ring index: {first:?}");
    }
}
