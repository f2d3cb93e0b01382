//! Which listener owns which entry of the signal handler's eventfd table.

use crate::sys::signal::{SLOTS, listen, reader};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

static CLAIMED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];

/// A claimed entry of the table, listening to one signal; released on drop.
#[derive(Debug)]
pub(crate) struct Slot(usize);

impl Slot {
    /// Claims a free entry, makes it listen to `signo` (module rule 2), and returns it
    /// with a duplicate of its eventfd for reading.
    ///
    /// # Errors
    ///
    /// If every entry is claimed, or the eventfd cannot be made or duplicated.
    pub(crate) fn claim(signo: i32) -> io::Result<(Slot, OwnedFd)> {
        for (i, claimed) in CLAIMED.iter().enumerate() {
            if claimed
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // Owned from here on: an error below releases the entry.
            let slot = Slot(i);
            let fd = reader(i)?;
            listen(i, Some(signo));
            return Ok((slot, fd));
        }
        Err(io::Error::other(format!(
            "more than {SLOTS} signal listeners at once (ctrl_c() and signal() count \
             alike); share one, e.g. with an Event"
        )))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Stop the handler's writes before another listener can claim the entry; a
        // count written before this is taken as spurious by the next owner (rule 3).
        listen(self.0, None);
        CLAIMED[self.0].store(false, Ordering::Release);
    }
}
