//! `task::as_completed`: outputs come out in completion order, nothing is lost.

use std::time::Duration;

use ringio::sync::Event;
use ringio::task::as_completed;
use ringio::time::{sleep, timeout};

#[test]
fn as_completed_yields_in_completion_order() {
    ringio::run(async {
        let futs = [30u64, 10, 40, 20, 0].map(|ms| async move {
            sleep(Duration::from_millis(ms)).await;
            ms
        });
        let mut done = as_completed(futs);
        assert_eq!(done.len(), 5);
        let mut order = Vec::new();
        while let Some(ms) = done.next().await {
            order.push(ms);
        }
        assert_eq!(order, [0, 10, 20, 30, 40]);
        assert!(done.is_empty());
        assert_eq!(done.next().await, None);
    });
}

#[test]
fn as_completed_next_dropped_loses_no_output() {
    ringio::run(async {
        // Each future finishes when the test opens its gate, not at a time: with sleeps,
        // a loaded machine that stalls this thread past the shorter sleep lets it finish
        // inside the `next` that is meant to give up empty.
        let gates = [Event::new(), Event::new()];
        let futs = [0usize, 1].map(|i| {
            let gate = &gates[i];
            async move {
                gate.wait().await;
                i
            }
        });
        let mut done = as_completed(futs);
        // Give up on `next` before anything finished: the futures keep their progress.
        assert!(
            timeout(Duration::from_millis(1), done.next())
                .await
                .is_err()
        );
        gates[0].set();
        assert_eq!(done.next().await, Some(0));
        gates[1].set();
        assert_eq!(done.next().await, Some(1));
        assert_eq!(done.next().await, None);
    });
}
