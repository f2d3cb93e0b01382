//! A global allocator for fault tests: it counts live bytes, and while its quarantine is
//! on it poisons every freed block and keeps it out of reuse, then checks the poison.
//!
//! The quarantine is the only tool that sees the kernel write into freed memory: valgrind
//! and ASan do not watch io_uring's writes. A recv buffer freed while its op is still in
//! flight would be overwritten by the bytes the peer sends afterwards, and the check
//! finds the changed pattern.
//!
//! A test binary installs it with
//! `#[global_allocator] static ALLOC: support::alloc::Guard = support::alloc::Guard;`.
//!
//! Rules:
//! 1. A quarantined block is never handed out again while it sits in the quarantine.
//! 2. The quarantine holds at most `CAPACITY` blocks; the oldest is checked and really
//!    freed to make room, so a long test runs in bounded memory and keeps the most recent
//!    frees (the ones a late CQE could still hit) under watch.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering};

const PATTERN: u8 = 0xA5;
/// Blocks kept under watch: 2^18 frees is several seconds of a busy test, far longer than
/// any CQE takes to arrive after the cancel of its op.
const CAPACITY: usize = 1 << 18;

/// The allocator; see the module docs.
pub struct Guard;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The most `LIVE` has been since [`reset_peak`].
static PEAK: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ON: AtomicBool = AtomicBool::new(false);
static QUARANTINED: AtomicU64 = AtomicU64::new(0);
static CORRUPTED: AtomicUsize = AtomicUsize::new(0);
/// Times the quarantine was switched off: a [`Watch`] that sees it change was not
/// watching for its whole length.
static SWITCHED_OFF: AtomicU64 = AtomicU64::new(0);

struct Quarantine {
    blocks: [(usize, Layout); CAPACITY],
    head: usize,
    len: usize,
}

// std's Mutex on Linux is a futex word: locking it never allocates, so the allocator may use it.
static QUARANTINE: Mutex<Quarantine> = Mutex::new(Quarantine {
    blocks: [(0, Layout::new::<u8>()); CAPACITY],
    head: 0,
    len: 0,
});

fn poisoned(ptr: usize, layout: Layout) -> bool {
    // SAFETY: a quarantined block is ours (rule 1) and `layout.size()` bytes long.
    let block = unsafe { std::slice::from_raw_parts(ptr as *const u8, layout.size()) };
    block.iter().all(|&b| b == PATTERN)
}

impl Quarantine {
    fn push(&mut self, ptr: usize, layout: Layout) {
        if self.len == CAPACITY {
            let (old, old_layout) = self.blocks[self.head];
            if !poisoned(old, old_layout) {
                CORRUPTED.fetch_add(1, Ordering::Relaxed);
            }
            // SAFETY: the block came from System with this layout and left the quarantine.
            unsafe { System.dealloc(old as *mut u8, old_layout) };
            self.len -= 1;
            self.head = (self.head + 1) % CAPACITY;
        }
        let tail = (self.head + self.len) % CAPACITY;
        self.blocks[tail] = (ptr, layout);
        self.len += 1;
    }

    /// Frees every block, counting the corrupted ones.
    fn release(&mut self) {
        while self.len > 0 {
            let (ptr, layout) = self.blocks[self.head];
            if !poisoned(ptr, layout) {
                CORRUPTED.fetch_add(1, Ordering::Relaxed);
            }
            // SAFETY: as in `push`.
            unsafe { System.dealloc(ptr as *mut u8, layout) };
            self.len -= 1;
            self.head = (self.head + 1) % CAPACITY;
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Quarantine> {
    QUARANTINE.lock().unwrap_or_else(|e| e.into_inner())
}

// SAFETY: forwards to System; a quarantined block is not reused until it leaves (rule 1).
unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            PEAK.fetch_max(live + layout.size() as isize, Ordering::Relaxed);
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        if ON.load(Ordering::Relaxed) {
            // SAFETY: the block is ours until freed, `layout.size()` bytes long.
            unsafe { std::ptr::write_bytes(ptr, PATTERN, layout.size()) };
            QUARANTINED.fetch_add(1, Ordering::Relaxed);
            lock().push(ptr as usize, layout);
            return;
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Bytes allocated and not freed, in the whole process.
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// Starts a new peak: [`peak_bytes`] is measured from now on.
pub fn reset_peak() {
    PEAK.store(LIVE.load(Ordering::SeqCst), Ordering::SeqCst);
}

/// The most bytes that were allocated and not freed at once, in the whole process, since
/// [`reset_peak`].
pub fn peak_bytes() -> isize {
    PEAK.load(Ordering::SeqCst)
}

/// Allocations made so far, in the whole process.
pub fn allocations() -> u64 {
    ALLOCS.load(Ordering::SeqCst)
}

/// Starts poisoning and quarantining frees (rule 1).
pub fn quarantine_on() {
    ON.store(true, Ordering::SeqCst);
}

/// Stops quarantining new frees; blocks already held stay under watch until `verify`.
pub fn quarantine_off() {
    ON.store(false, Ordering::SeqCst);
    SWITCHED_OFF.fetch_add(1, Ordering::SeqCst);
}

/// Frees that went through the quarantine so far.
pub fn quarantined() -> u64 {
    QUARANTINED.load(Ordering::SeqCst)
}

/// Quarantined blocks whose poison changed after they were freed: checks every block
/// still held, and counts those found changed when they were evicted (rule 2). Blocks
/// stay held, so a later call checks them again.
pub fn corrupted_blocks() -> usize {
    let q = lock();
    let held = (0..q.len)
        .filter(|i| {
            let (ptr, layout) = q.blocks[(q.head + i) % CAPACITY];
            !poisoned(ptr, layout)
        })
        .count();
    held + CORRUPTED.load(Ordering::SeqCst)
}

/// Turns the quarantine off, checks and frees everything it holds, and returns how many
/// blocks were corrupted over the whole run.
pub fn verify_and_release() -> usize {
    quarantine_off();
    lock().release();
    CORRUPTED.load(Ordering::SeqCst)
}

/// The quarantine on for one check: [`watch`] switches it on, [`Watch::verify`] proves it
/// stayed on all along (nobody called [`quarantine_off`] meanwhile, e.g. a test running
/// beside this one without `support::serial()`), that frees went through it, and that
/// none of them was written after its free.
#[must_use = "a watch proves nothing until verified"]
pub struct Watch {
    switched_off: u64,
    quarantined: u64,
}

/// Switches the quarantine on; see [`Watch`].
pub fn watch() -> Watch {
    let w = Watch {
        switched_off: SWITCHED_OFF.load(Ordering::SeqCst),
        quarantined: quarantined(),
    };
    quarantine_on();
    w
}

impl Watch {
    /// Frees seen since [`watch`].
    pub fn watched(&self) -> u64 {
        quarantined() - self.quarantined
    }

    /// Asserts what [`Watch`] promises, then switches the quarantine off and frees what it
    /// holds; returns how many frees it watched.
    pub fn verify(self, what: &str) -> u64 {
        assert!(
            ON.load(Ordering::SeqCst) && SWITCHED_OFF.load(Ordering::SeqCst) == self.switched_off,
            "{what}: the quarantine was switched off during the check"
        );
        let watched = self.watched();
        assert!(watched > 0, "{what}: no free went through the quarantine");
        let corrupted = verify_and_release();
        assert_eq!(
            corrupted, 0,
            "{what}: {corrupted} blocks were written after their free"
        );
        watched
    }
}
