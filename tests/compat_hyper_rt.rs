#![cfg(feature = "hyper")]
//! hyper's runtime hooks on ringio: `HyperExecutor` runs what hyper spawns on the current
//! core, `HyperTimer`'s sleeps keep time on the core's wheel and are `Send + Sync`.

mod support;

use hyper::rt::{Executor, Sleep, Timer};
use ringio::compat::{HyperExecutor, HyperTimer};
use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn timers_pending() -> usize {
    ringio::metrics().timers_pending
}

#[test]
fn executor_runs_non_send_futures_to_completion_on_this_core() {
    ringio::run(async {
        let done = Rc::new(Cell::new(0));
        let core = std::thread::current().id();
        for _ in 0..100 {
            let done = done.clone();
            HyperExecutor.execute(async move {
                ringio::time::sleep(Duration::from_millis(1)).await;
                assert_eq!(std::thread::current().id(), core, "ran on another thread");
                done.set(done.get() + 1);
            });
        }
        let all = support::settle(Duration::from_secs(5), || done.get() == 100).await;
        assert!(all, "{} of 100 executed futures finished", done.get());
    });
}

#[test]
fn sleeps_are_send_and_sync() {
    fn send_sync<T: Send + Sync + ?Sized>(_: &T) {}
    let sleep: Pin<Box<dyn Sleep>> = HyperTimer.sleep(Duration::from_secs(1));
    send_sync(&*sleep);
}

#[test]
fn sleep_ends_at_its_deadline_never_early() {
    ringio::run(async {
        for ms in [1u64, 5, 20] {
            let start = Instant::now();
            HyperTimer.sleep(Duration::from_millis(ms)).await;
            let took = start.elapsed();
            assert!(
                took >= Duration::from_millis(ms),
                "{ms} ms sleep ended after {took:?}"
            );
            assert!(
                took < Duration::from_millis(ms + 200),
                "{ms} ms sleep took {took:?}"
            );
        }
        let deadline = Instant::now() + Duration::from_millis(10);
        HyperTimer.sleep_until(deadline).await;
        assert!(Instant::now() >= deadline);
    });
}

#[test]
fn reset_moves_the_deadline_of_a_waiting_sleep() {
    ringio::run(async {
        let start = Instant::now();
        let mut sleep = HyperTimer.sleep(Duration::from_secs(3600));
        // Registered first, as hyper's header timeout is before it is reset.
        assert!(support::poll_noop(sleep.as_mut()).is_pending());
        let before = &*sleep as *const dyn Sleep as *const ();
        HyperTimer.reset(&mut sleep, Instant::now() + Duration::from_millis(10));
        let after = &*sleep as *const dyn Sleep as *const ();
        assert_eq!(
            before, after,
            "reset allocated a new sleep instead of moving this one"
        );
        sleep.await;
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(10) && took < Duration::from_secs(2),
            "{took:?}"
        );
    });
}

#[test]
fn a_dropped_sleep_leaves_no_timer_behind() {
    ringio::run(async {
        let base = timers_pending();
        let mut sleeps: Vec<_> = (0..1000)
            .map(|i| HyperTimer.sleep(Duration::from_secs(60 + i)))
            .collect();
        for s in &mut sleeps {
            assert!(support::poll_noop(s.as_mut()).is_pending());
        }
        assert_eq!(timers_pending(), base + 1000);
        drop(sleeps);
        assert_eq!(timers_pending(), base);
    });
}
