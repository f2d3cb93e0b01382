//! Which `ctrl_c` waiter reads which entry of the SIGINT handler's eventfd table.

use crate::sys::signal::{SLOTS, reader};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

static CLAIMED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];

/// A claimed entry of the table; released on drop.
pub(crate) struct Slot(usize);

impl Slot {
    /// Claims a free entry and returns it with a duplicate of its eventfd for reading.
    ///
    /// # Errors
    ///
    /// If every entry is claimed, or the eventfd cannot be made or duplicated.
    pub(crate) fn claim() -> io::Result<(Slot, OwnedFd)> {
        for (i, claimed) in CLAIMED.iter().enumerate() {
            if claimed
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            let slot = Slot(i);
            return Ok((slot, reader(i)?));
        }
        Err(io::Error::other(format!(
            "more than {SLOTS} ctrl_c() waiters at once; share one (e.g. with an Event)"
        )))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        CLAIMED[self.0].store(false, Ordering::Release);
    }
}
