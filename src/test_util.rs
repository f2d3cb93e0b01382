//! Helpers for the unit tests under `src/`: a waker that counts its wakes, so a
//! test can poll futures by hand and see exactly who was woken, and a tiny PRNG
//! for deterministic randomized tests without a dependency.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// Counts how often it was woken (`Wake` needs `Send + Sync`, hence the atomic).
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// One waker per simulated task, so a test can tell who was woken.
///
/// Derefs to its [`Waker`], so `&test_waker` goes wherever a `&Waker` does.
pub(crate) struct TestWaker {
    counter: Arc<Counter>,
    waker: Waker,
}

impl TestWaker {
    /// A waker that has not been woken yet.
    pub(crate) fn new() -> Self {
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        TestWaker { counter, waker }
    }

    /// How many times any clone of this waker has been woken so far.
    pub(crate) fn wakes(&self) -> usize {
        self.counter.0.load(Ordering::SeqCst)
    }

    /// Polls `fut` once with this waker.
    pub(crate) fn poll<F: Future + ?Sized>(&self, fut: Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut cx(&self.waker))
    }
}

impl Deref for TestWaker {
    type Target = Waker;

    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// A context around `waker`.
pub(crate) fn cx(waker: &Waker) -> Context<'_> {
    Context::from_waker(waker)
}

/// Polls `fut` once with a waker that does nothing.
pub(crate) fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut cx(Waker::noop()))
}

/// A tiny xorshift64 PRNG: deterministic randomized tests without a dependency.
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator seeded from `seed`, mixed so that nearby seeds differ.
    pub(crate) fn new(seed: u64) -> Self {
        // xorshift must not start at 0: the low bit is forced on.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A generator whose state is exactly `state` (not mixed), which must not be 0.
    #[allow(dead_code, reason = "for tests that pin a raw xorshift sequence")]
    pub(crate) fn from_state(state: u64) -> Self {
        assert_ne!(state, 0, "xorshift never leaves the state 0");
        XorShift(state)
    }

    /// The next number.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Settings for the property tests under `src/`: `cases` cases, or more when
/// `PROPTEST_CASES` asks for more (`scripts/soak.sh`), and no regression files
/// written into the source tree (a failure prints its minimal input instead).
pub(crate) fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .map_or(cases, |n| n.max(cases));
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
