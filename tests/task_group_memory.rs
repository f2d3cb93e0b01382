//! `task::TaskGroup` over 100,000 short tasks run one after another: memory stays flat.
//!
//! This file holds one test so that its counting allocator sees only that test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use ringio::task::TaskGroup;

mod support;

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: the caller's obligations for `alloc` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const TASKS: usize = 100_000;
/// Tasks run before the baseline is taken, so slabs and queues reach their steady size.
const WARM_UP: usize = 1_000;
/// Growth allowed over the 99,000 measured tasks: less than one byte per task.
const MAX_GROWTH_BYTES: isize = 32 * 1024;

#[test]
fn task_group_100k_sequential_tasks_stay_small() {
    let _serial = support::serial();
    ringio::run(async {
        let group = TaskGroup::<(), ()>::new();
        let mut baseline = 0;
        for i in 0..TASKS {
            if i == WARM_UP {
                baseline = LIVE_BYTES.load(Ordering::Relaxed);
            }
            group.spawn(async {
                ringio::yield_now().await;
                Ok(())
            });
            while group.running() > 0 {
                ringio::yield_now().await;
            }
            assert!(ringio::metrics().tasks_alive <= 1);
        }
        let growth = LIVE_BYTES.load(Ordering::Relaxed) - baseline;
        assert!(
            growth < MAX_GROWTH_BYTES,
            "{} tasks grew the heap by {growth} bytes",
            TASKS - WARM_UP
        );
        assert_eq!(group.join().await.unwrap().len(), TASKS);
    });
}
