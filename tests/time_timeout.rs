//! `timeout` (asyncio's `wait_for`) and `timeout_at`: who wins at the deadline, and what
//! is dropped when.

mod support;

use support::DropFlag;

use std::cell::Cell;
use std::future::{Future, pending, poll_fn};
use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use ringio::time::{Elapsed, Instant, sleep, sleep_until, timeout, timeout_at};

#[test]
fn expiry_drops_the_inner_future_before_returning() {
    ringio::run(async {
        let dropped = Rc::new(Cell::new(false));
        let guard = DropFlag(Rc::clone(&dropped));
        let inner = async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
        };
        // Poll by hand so the `Timeout` itself is still alive when it returns `Err`.
        let mut guarded = pin!(timeout(Duration::from_millis(5), inner));
        let result = poll_fn(|cx| guarded.as_mut().poll(cx)).await;
        assert!(result.is_err());
        assert!(
            dropped.get(),
            "the inner future must be dropped before `timeout` returns"
        );
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn a_result_ready_at_the_deadline_wins() {
    ringio::run(async {
        for millis in [0, 1, 2, 5, 10] {
            let d = Duration::from_millis(millis);
            assert_eq!(timeout(d, sleep(d)).await, Ok(()), "relative, {millis} ms");
            let deadline = Instant::now() + d;
            assert_eq!(
                timeout_at(deadline, sleep_until(deadline)).await,
                Ok(()),
                "absolute, {millis} ms"
            );
        }
    });
}

#[test]
fn expiry_is_never_early() {
    ringio::run(async {
        for micros in [0, 300, 1_000, 2_500, 7_000] {
            let d = Duration::from_micros(micros);
            let start = Instant::now();
            assert!(timeout(d, pending::<()>()).await.is_err());
            assert!(start.elapsed() >= d, "{d:?} timeout expired early");
        }
    });
}

#[test]
fn completion_before_the_deadline_returns_the_output_and_frees_the_timer() {
    ringio::run(async {
        let dropped = Rc::new(Cell::new(false));
        let guard = DropFlag(Rc::clone(&dropped));
        let inner = async move {
            let _guard = guard;
            sleep(Duration::from_millis(1)).await;
            42
        };
        {
            let mut guarded = pin!(timeout(Duration::from_secs(3600), inner));
            assert_eq!(poll_fn(|cx| guarded.as_mut().poll(cx)).await, Ok(42));
            assert!(
                dropped.get(),
                "the finished inner future is dropped at once"
            );
        }
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn dropping_a_pending_timeout_drops_inner_and_timer() {
    ringio::run(async {
        let dropped = Rc::new(Cell::new(false));
        let guard = DropFlag(Rc::clone(&dropped));
        let inner = async move {
            let _guard = guard;
            pending::<()>().await;
        };
        let task = ringio::spawn(timeout(Duration::from_secs(3600), inner));
        ringio::yield_now().await;
        assert_eq!(ringio::metrics().timers_pending, 1);
        assert!(task.cancel());
        assert!(task.await.is_err());
        assert!(dropped.get());
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn elapsed_is_a_small_error() {
    ringio::run(async {
        let elapsed: Elapsed = timeout(Duration::ZERO, pending::<()>()).await.unwrap_err();
        let copy = elapsed;
        assert_eq!(elapsed, copy);
        assert_eq!(elapsed.to_string(), "deadline has elapsed");
        let error: Box<dyn std::error::Error> = Box::new(elapsed);
        assert_eq!(error.to_string(), "deadline has elapsed");
        assert_eq!(io::Error::from(elapsed).kind(), io::ErrorKind::TimedOut);
    });
}
