//! `task::gather` and `task::try_gather`: input order, and what the first error drops.

mod support;

use support::DropFlag;

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use ringio::task::{gather, try_gather};
use ringio::time::{sleep, timeout};

#[test]
fn gather_keeps_input_order() {
    ringio::run(async {
        // Finishing order is the reverse of the input order (rule 3).
        let delays = [40u64, 30, 20, 10, 0];
        let futs = delays.map(|ms| async move {
            sleep(Duration::from_millis(ms)).await;
            ms
        });
        assert_eq!(gather(futs).await, delays);
    });
}

#[test]
fn gather_keeps_every_result_of_fallible_futures() {
    ringio::run(async {
        let futs = [Ok(1), Err("two"), Ok(3)].map(|r| async move {
            ringio::yield_now().await;
            r
        });
        assert_eq!(gather(futs).await, [Ok(1), Err("two"), Ok(3)]);
    });
}

#[test]
fn gather_of_nothing_is_empty() {
    ringio::run(async {
        let none: Vec<std::future::Ready<u8>> = Vec::new();
        assert!(gather(none).await.is_empty());
    });
}

#[test]
fn try_gather_keeps_input_order_when_all_succeed() {
    ringio::run(async {
        let futs = [20u64, 10, 0].map(|ms| async move {
            sleep(Duration::from_millis(ms)).await;
            Ok::<_, ()>(ms)
        });
        assert_eq!(try_gather(futs).await, Ok(vec![20, 10, 0]));
    });
}

#[test]
fn try_gather_drops_others_on_first_error() {
    ringio::run(async {
        let flags: Vec<_> = (0..3).map(|_| Rc::new(Cell::new(false))).collect();
        let futs = flags.iter().enumerate().map(|(i, flag)| {
            let guard = DropFlag(flag.clone());
            async move {
                let _guard = guard;
                if i == 1 {
                    sleep(Duration::from_millis(5)).await;
                    Err(format!("child {i} failed"))
                } else {
                    sleep(Duration::from_secs(3600)).await;
                    Ok(i)
                }
            }
        });
        // Polled by hand so the `TryGather` itself is still alive when it returns.
        let mut all = pin!(try_gather(futs));
        let res = timeout(Duration::from_secs(5), poll_fn(|cx| all.as_mut().poll(cx)))
            .await
            .expect("the first error ends try_gather without waiting for the others");
        assert_eq!(res, Err("child 1 failed".to_string()));
        // Rule 4: the others were dropped before the error was returned.
        assert!(flags.iter().all(|f| f.get()), "every child was dropped");
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}
