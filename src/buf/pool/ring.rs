//! The provided buffer ring and its buffers: two mappings the kernel reads and writes
//! (the `pool` module's rules).

use super::PoolConfig;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

/// One entry of the ring, `struct io_uring_buf` in io_uring.h. The ring's tail is the
/// `resv` field of entry 0, which the kernel reads while we write the other fields, so
/// entries are written field by field through raw pointers, never through a `&mut`.
#[repr(C)]
struct RingEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

// The kernel's layout: 16 bytes an entry, the tail at byte 14 of entry 0.
const _: () = assert!(std::mem::size_of::<RingEntry>() == 16);
const _: () = assert!(std::mem::offset_of!(RingEntry, resv) == 14);

/// An anonymous private mapping, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh anonymous mapping aliases nothing; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // A forked child must not share memory the parent's kernel ring writes into.
        // SAFETY: the range is the mapping just made. Failure only loses that guard.
        let _ = unsafe { libc::madvise(ptr, len, libc::MADV_DONTFORK) };
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing points into it any more (pool rule 1).
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// One core's provided buffer ring and its buffers.
pub(crate) struct BufRing {
    entries: Mapping,
    buffers: Mapping,
    config: PoolConfig,
    /// Our copy of the ring tail (the kernel only reads the shared one).
    tail: Cell<u16>,
    /// The ring's head when no kernel consumes it (the epoll backend): it stays put, as
    /// that consumer takes buffers back from the tail
    /// ([`peek_published`](Self::peek_published)). Unused with io_uring, whose head is the
    /// kernel's own.
    head: Cell<u16>,
    /// Buffers out of the kernel's hands: named by a reaped CQE and not given back yet,
    /// whether the application holds them or they wait unread in a queue. Counted at
    /// reap (`note_taken`), so it says truly whether the kernel has any left.
    in_use: Cell<usize>,
    /// Receives that found the pool empty (-ENOBUFS), since the ring was made.
    exhausted: Cell<u64>,
}

impl BufRing {
    /// Maps the ring and its buffers and publishes every buffer. The caller registers
    /// the ring with the kernel (`Pool::ring`, through `Driver::register_buf_ring`).
    pub(crate) fn new(config: PoolConfig) -> io::Result<BufRing> {
        config.validate()?;
        let count = usize::from(config.buffers);
        let entries = Mapping::new(count * std::mem::size_of::<RingEntry>())?;
        let buffers = Mapping::new(count * config.buffer_size)?;
        let ring = BufRing {
            entries,
            buffers,
            config,
            tail: Cell::new(0),
            head: Cell::new(0),
            in_use: Cell::new(0),
            exhausted: Cell::new(0),
        };
        for bid in 0..config.buffers {
            ring.push_entry(bid);
        }
        Ok(ring)
    }

    /// The ring's address and entry count, for registration.
    pub(crate) fn ring_addr(&self) -> (u64, u16) {
        (self.entries.ptr as u64, self.config.buffers)
    }

    pub(crate) fn buffer_size(&self) -> usize {
        self.config.buffer_size
    }

    /// Buffers out of the kernel's hands (see the field).
    pub(crate) fn in_use(&self) -> usize {
        self.in_use.get()
    }

    /// Receives that found the pool empty so far.
    pub(crate) fn exhausted(&self) -> u64 {
        self.exhausted.get()
    }

    /// Counts a receive that found the pool empty (-ENOBUFS), and says whether it still
    /// is: no buffer came back since the kernel looked.
    pub(crate) fn found_empty(&self) -> bool {
        self.exhausted.set(self.exhausted.get() + 1);
        !self.has_free()
    }

    /// A reaped CQE named one of this pool's buffers (`IORING_CQE_F_BUFFER`).
    pub(crate) fn note_taken(&self) {
        self.in_use.set(self.in_use.get() + 1);
    }

    /// Buffers in the pool.
    pub(crate) fn capacity(&self) -> usize {
        usize::from(self.config.buffers)
    }

    #[inline]
    pub(crate) fn buffer_ptr(&self, bid: u16) -> *mut u8 {
        assert!(bid < self.config.buffers, "buffer id {bid} out of range");
        // SAFETY: bid < count, so the offset stays inside the buffers mapping.
        unsafe {
            self.buffers
                .ptr
                .add(usize::from(bid) * self.config.buffer_size)
        }
    }

    /// Hands buffer `bid` back to the kernel (pool rule 3).
    pub(super) fn give_back(&self, bid: u16) {
        self.push_entry(bid);
        self.in_use.set(self.in_use.get() - 1);
    }

    /// Writes the entry for buffer `bid` at the tail and publishes it (pool rule 3).
    fn push_entry(&self, bid: u16) {
        let mask = self.config.buffers - 1;
        let tail = self.tail.get();
        let base: *mut RingEntry = self.entries.ptr.cast();
        // SAFETY: `tail & mask` < count: inside the mapping. The kernel reads no entry past
        // the published tail, which this one is until the store below (pool rule 3); `resv`
        // (entry 0's is the tail, read meanwhile) is left alone, so no `&mut` is made.
        unsafe {
            let entry = base.add(usize::from(tail & mask));
            (&raw mut (*entry).addr).write(self.buffer_ptr(bid) as u64);
            (&raw mut (*entry).len).write(self.config.buffer_size as u32);
            (&raw mut (*entry).bid).write(bid);
        }
        let tail = tail.wrapping_add(1);
        self.tail.set(tail);
        // SAFETY: the tail is entry 0's `resv`, inside the mapping and 2-byte aligned. The
        // kernel reads it concurrently, so it is stored atomically, with release order so
        // the entry written above is visible first.
        unsafe {
            AtomicU16::from_ptr(&raw mut (*base).resv).store(tail, Ordering::Release);
        }
    }

    /// The published buffer a consumer in user space (the epoll backend) takes next (id,
    /// address, size), without taking it: the one published last. Any published buffer
    /// may serve a receive, since its CQE names it; taking the newest one keeps a light
    /// load on the few buffers just given back, warm in the cache, where taking them in
    /// ring order would walk every buffer of the pool in turn. No kernel consumes this
    /// ring (it is not registered), so its tail may move back.
    pub(crate) fn peek_published(&self) -> Option<(u16, *mut u8, u32)> {
        let tail = self.tail.get();
        if self.head.get() == tail {
            return None;
        }
        let base: *const RingEntry = self.entries.ptr.cast();
        let mask = self.config.buffers - 1;
        // SAFETY: `(tail - 1) & mask` < count: inside the mapping; the entry was written by
        // `push_entry` on this thread before the tail passed it, and is not rewritten while
        // it is published (`push_entry` writes at the tail, past it).
        let (addr, len, bid) = unsafe {
            let entry = base.add(usize::from(tail.wrapping_sub(1) & mask));
            (
                (&raw const (*entry).addr).read(),
                (&raw const (*entry).len).read(),
                (&raw const (*entry).bid).read(),
            )
        };
        Some((bid, addr as *mut u8, len))
    }

    /// Buffers published and not yet taken by [`consume_published`](Self::consume_published).
    pub(crate) fn published(&self) -> usize {
        usize::from(self.tail.get().wrapping_sub(self.head.get()))
    }

    /// Takes the buffer [`peek_published`](Self::peek_published) named (the tail moves
    /// back over it); a CQE naming it follows (`note_taken` counts it at reap, as for the
    /// kernel's).
    pub(crate) fn consume_published(&self) {
        debug_assert_ne!(self.head.get(), self.tail.get(), "nothing published");
        let tail = self.tail.get().wrapping_sub(1);
        self.tail.set(tail);
        let base: *mut RingEntry = self.entries.ptr.cast();
        // SAFETY: as in `push_entry`: entry 0's `resv`, inside the mapping and aligned;
        // kept equal to our copy although no kernel reads this ring.
        unsafe {
            AtomicU16::from_ptr(&raw mut (*base).resv).store(tail, Ordering::Release);
        }
    }

    /// Whether any buffer is in the kernel's hands now.
    pub(crate) fn has_free(&self) -> bool {
        self.in_use.get() < self.capacity()
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("buffers", &self.config.buffers)
            .field("buffer_size", &self.config.buffer_size)
            .field("in_use", &self.in_use.get())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A consumer in user space takes the newest published buffer, so the one given back
    /// last is the next taken, and the count of published buffers follows.
    #[test]
    fn user_space_consumer_takes_the_newest_buffer() {
        let ring = BufRing::new(PoolConfig {
            buffers: 8,
            buffer_size: 64,
        })
        .unwrap();
        assert_eq!(ring.published(), 8);
        let take = |ring: &BufRing| {
            let (bid, ptr, len) = ring.peek_published().expect("a buffer is published");
            assert_eq!((ptr, len), (ring.buffer_ptr(bid), 64));
            ring.consume_published();
            ring.note_taken();
            bid
        };
        assert_eq!(take(&ring), 7, "the last one published at start");
        assert_eq!(take(&ring), 6);
        assert_eq!(ring.published(), 6);
        ring.give_back(7);
        assert_eq!(take(&ring), 7, "the one given back last");
        ring.give_back(6);
        ring.give_back(7);
        assert_eq!(ring.published(), 8);
        let mut all: Vec<u16> = (0..8).map(|_| take(&ring)).collect();
        assert_eq!(ring.peek_published(), None);
        assert_eq!(ring.published(), 0);
        all.sort_unstable();
        assert_eq!(all, (0..8).collect::<Vec<u16>>(), "each buffer taken once");
    }
}
