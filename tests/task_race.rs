//! `task::race`: the first to finish wins and every loser is dropped before it returns.

mod support;

use support::DropFlag;

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use ringio::task::race;
use ringio::time::{sleep, timeout};

#[test]
fn race_drops_losers() {
    ringio::run(async {
        let flags: Vec<_> = (0..4).map(|_| Rc::new(Cell::new(false))).collect();
        let futs = flags.iter().enumerate().map(|(i, flag)| {
            let guard = DropFlag(flag.clone());
            async move {
                let _guard = guard;
                let ms = if i == 2 { 5 } else { 3_600_000 };
                sleep(Duration::from_millis(ms)).await;
                i * 100
            }
        });
        // Polled by hand so the `Race` itself is still alive when it returns.
        let mut first = pin!(race(futs));
        let winner = timeout(
            Duration::from_secs(5),
            poll_fn(|cx| first.as_mut().poll(cx)),
        )
        .await
        .expect("race returns with the first finisher");
        assert_eq!(winner, (2, 200));
        // Rule 4: the losers were dropped before the winner was returned.
        for (i, flag) in flags.iter().enumerate() {
            assert!(flag.get(), "child {i} was dropped");
        }
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn race_gives_the_first_to_finish_by_completion_not_input_order() {
    ringio::run(async {
        let futs = [30u64, 20, 10].map(|ms| async move {
            sleep(Duration::from_millis(ms)).await;
            ms
        });
        assert_eq!(race(futs).await, (2, 10));
    });
}

#[test]
#[should_panic(expected = "at least one future")]
fn race_of_nothing_panics() {
    let none: Vec<std::future::Ready<()>> = Vec::new();
    drop(race(none));
}
