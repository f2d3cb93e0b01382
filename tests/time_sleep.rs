//! `sleep` and `sleep_until` on a real runtime: order, never early, dropped timers leave.

mod support;

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use ringio::time::{Instant, Sleep, sleep, sleep_until};
use support::Rng;

/// Two deadlines closer than one wheel tick may fire in either order.
const TICK: Duration = Duration::from_millis(1);

/// Polls `sleep` once so it registers its timer, without waiting for it.
async fn register(sleep: &mut Sleep) {
    poll_fn(|cx| {
        assert!(Pin::new(&mut *sleep).poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
}

#[test]
fn ten_thousand_sleeps_wake_in_deadline_order() {
    ringio::run(async {
        let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
        let woken = Rc::new(RefCell::new(Vec::with_capacity(10_000)));
        let handles: Vec<_> = (0..10_000)
            .map(|_| {
                let duration = Duration::from_micros(rng.below(50_000));
                let woken = Rc::clone(&woken);
                ringio::spawn(async move {
                    // The deadline counts from the task's first poll, where the timer is
                    // registered: no timer can fire before it exists.
                    let deadline = Instant::now() + duration;
                    let mut sleep = sleep_until(deadline);
                    // Rule 2: a deadline that has passed by the first poll (a short one,
                    // on a thread the machine stalled in between) completes at once,
                    // without a timer, ahead of registered timers that expired meanwhile
                    // but fire at the next loop turn. Only registered timers are ordered.
                    let registered =
                        poll_fn(|cx| Poll::Ready(Pin::new(&mut sleep).poll(cx).is_pending())).await;
                    sleep.await;
                    assert!(Instant::now() >= deadline, "woke before its deadline");
                    woken.borrow_mut().push((deadline, registered));
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("sleeping task failed");
        }
        let woken = woken.borrow();
        assert_eq!(woken.len(), 10_000);
        let woken: Vec<Instant> = woken.iter().filter(|w| w.1).map(|w| w.0).collect();
        assert!(
            woken.len() > 9_900,
            "{} of 10,000 sleeps had a timer",
            woken.len()
        );
        let first = woken.iter().min().copied().expect("10,000 deadlines");
        for pair in woken.windows(2) {
            assert!(
                pair[1] + TICK > pair[0],
                "woke out of order: {:?} after {:?}",
                pair[1] - first,
                pair[0] - first
            );
        }
    });
}

#[test]
fn sleeps_never_complete_early() {
    ringio::run(async {
        let handles: Vec<_> = (0..200u64)
            .map(|i| {
                let duration = Duration::from_micros(i * 97);
                ringio::spawn(async move {
                    let start = Instant::now();
                    sleep(duration).await;
                    assert!(start.elapsed() >= duration, "{duration:?} ended early");
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("sleeping task failed");
        }
    });
}

#[test]
fn zero_sleep_and_past_deadline_complete() {
    ringio::run(async {
        sleep(Duration::ZERO).await;
        sleep_until(Instant::now() - Duration::from_millis(5)).await;
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn dropped_sleep_removes_its_timer() {
    ringio::run(async {
        assert_eq!(ringio::metrics().timers_pending, 0);
        let mut nap = sleep(Duration::from_secs(3600));
        register(&mut nap).await;
        assert_eq!(ringio::metrics().timers_pending, 1);
        drop(nap);
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn reset_moves_a_registered_sleep() {
    ringio::run(async {
        let mut nap = sleep(Duration::from_secs(3600));
        register(&mut nap).await;
        let deadline = Instant::now() + Duration::from_millis(5);
        nap.reset(deadline);
        assert_eq!(ringio::metrics().timers_pending, 1);
        (&mut nap).await;
        assert!(Instant::now() >= deadline);
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn hundred_thousand_pending_timers_dropped_leave_none() {
    ringio::run(async {
        let mut sleeps: Vec<Sleep> = (0..100_000u64)
            .map(|i| sleep(Duration::from_secs(60) + Duration::from_micros(i * 37)))
            .collect();
        for nap in &mut sleeps {
            register(nap).await;
        }
        assert_eq!(ringio::metrics().timers_pending, 100_000);
        drop(sleeps);
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn cancelled_sleeping_tasks_leave_no_timers() {
    ringio::run(async {
        let handles: Vec<_> = (0..1_000)
            .map(|_| ringio::spawn(sleep(Duration::from_secs(3600))))
            .collect();
        while ringio::metrics().timers_pending < 1_000 {
            ringio::yield_now().await;
        }
        for handle in &handles {
            assert!(handle.cancel());
        }
        for handle in handles {
            assert!(handle.await.expect_err("was cancelled").is_cancelled());
        }
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}
