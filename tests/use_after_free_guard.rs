//! A poisoning, quarantining allocator catches the kernel writing into freed memory.
//!
//! Every block freed while the guard is on is filled with a pattern and never reused;
//! at the end each one is checked. valgrind and ASan cannot see writes made by the kernel,
//! this can: a recv buffer freed while its op is still in flight would be overwritten by
//! the data the peer sends afterwards.

mod support;

use ringio::net::TcpStream;
use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const PATTERN: u8 = 0xA5;
/// Blocks the quarantine can hold; later frees go back to the system unchecked.
const CAPACITY: usize = 1 << 18;

struct Quarantine;

static ON: AtomicBool = AtomicBool::new(false);
static USED: AtomicUsize = AtomicUsize::new(0);
static PTRS: [AtomicUsize; CAPACITY] = [const { AtomicUsize::new(0) }; CAPACITY];
static SIZES: [AtomicUsize; CAPACITY] = [const { AtomicUsize::new(0) }; CAPACITY];

// SAFETY: forwards to System; a quarantined block is never handed out again.
unsafe impl GlobalAlloc for Quarantine {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ON.load(Ordering::Relaxed) {
            let i = USED.fetch_add(1, Ordering::Relaxed);
            if i < CAPACITY {
                // SAFETY: the block is ours until freed, `layout.size()` bytes long.
                unsafe { std::ptr::write_bytes(ptr, PATTERN, layout.size()) };
                PTRS[i].store(ptr as usize, Ordering::Relaxed);
                SIZES[i].store(layout.size(), Ordering::Relaxed);
                return;
            }
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Quarantine = Quarantine;

/// Blocks whose pattern changed after they were freed.
fn corrupted_blocks() -> usize {
    let n = USED.load(Ordering::SeqCst).min(CAPACITY);
    (0..n)
        .filter(|&i| {
            let ptr = PTRS[i].load(Ordering::Relaxed) as *const u8;
            let len = SIZES[i].load(Ordering::Relaxed);
            // SAFETY: quarantined blocks are never freed, so they stay readable.
            let block = unsafe { std::slice::from_raw_parts(ptr, len) };
            block.iter().any(|&b| b != PATTERN)
        })
        .count()
}

#[test]
fn reads_dropped_in_flight_never_let_the_kernel_write_freed_memory() {
    support::watchdog("use_after_free_guard", Duration::from_secs(120));
    ringio::run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).await.unwrap();
        let (mut peer, _) = std_listener.accept().unwrap();
        ON.store(true, Ordering::SeqCst);
        let mut sent = Vec::new();
        let mut received = Vec::new();
        for i in 0..3000u32 {
            let chunk = [(i % 256) as u8; 100];
            let mut read = Box::pin(s.read(vec![0u8; 4096]));
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready((res, buf)) = read.as_mut().poll(&mut cx) {
                // Bytes a dropped read had received come back first, at once.
                received.extend_from_slice(&buf[..res.unwrap()]);
                peer.write_all(&chunk).unwrap();
                sent.extend_from_slice(&chunk);
                continue;
            }
            match i % 3 {
                // Data lands before the recv is even submitted: it completes inline.
                0 => {
                    peer.write_all(&chunk).unwrap();
                    drop(read);
                }
                // The recv is armed in the kernel, then data races the cancel.
                1 => {
                    ringio::yield_now().await;
                    peer.write_all(&chunk).unwrap();
                    drop(read);
                }
                // Dropped and cancelled first, data afterwards.
                _ => {
                    drop(read);
                    ringio::yield_now().await;
                    peer.write_all(&chunk).unwrap();
                }
            }
            sent.extend_from_slice(&chunk);
            ringio::yield_now().await;
        }
        // Every byte arrives, in order, though thousands of reads were dropped.
        let rest = sent.len() - received.len();
        let tail =
            ringio::time::timeout(Duration::from_secs(5), s.read_exact(vec![0u8; rest])).await;
        // Check the quarantine first: a use-after-free would also lose bytes.
        assert_eq!(corrupted_blocks(), 0, "the kernel wrote into freed memory");
        let (res, tail) = tail.expect("bytes lost by cancelled reads");
        res.unwrap();
        received.extend_from_slice(&tail);
        assert!(
            received == sent,
            "bytes lost or reordered by cancelled reads"
        );
        assert!(
            support::settle(Duration::from_secs(5), || ringio::metrics().ops_in_flight
                == 0)
            .await
        );
    });
    ON.store(false, Ordering::SeqCst);
    let checked = USED.load(Ordering::SeqCst).min(CAPACITY);
    assert!(checked > 3000, "the quarantine saw only {checked} frees");
    assert_eq!(corrupted_blocks(), 0, "the kernel wrote into freed memory");
}
