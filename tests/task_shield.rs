//! `task::shield`: the shielded work finishes even when whoever waited for it is gone.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ringio::sync::Event;
use ringio::task::shield;
use ringio::time::{sleep, timeout};

#[test]
fn shield_survives_dropped_waiter() {
    ringio::run(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        // The shielded future waits for the test, not for a time: a sleep could end
        // inside the waiter's 1 ms timeout when a loaded machine stalls this thread.
        let gate = Rc::new(Event::new());
        let g = gate.clone();
        let handle = shield(async move {
            g.wait().await;
            d.set(true);
            7
        });
        // The waiter gives up: the handle is dropped inside `timeout`.
        assert!(timeout(Duration::from_millis(1), handle).await.is_err());
        gate.set();
        assert!(
            wait_for_flag(&done).await,
            "the shielded future ran to the end"
        );
    });
}

#[test]
fn shield_survives_a_cancelled_waiting_task() {
    ringio::run(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        // Ended by the test, not by a time: with a 10 ms sleep ended by the test's own
        // 30 ms one, a loaded machine that stalls the shielded task's first poll past
        // the difference checks before the task could finish.
        let gate = Rc::new(Event::new());
        let g = gate.clone();
        let waiter = ringio::spawn(async move {
            shield(async move {
                g.wait().await;
                d.set(true);
            })
            .await
            .unwrap();
        });
        ringio::yield_now().await;
        assert!(waiter.cancel());
        assert!(waiter.await.unwrap_err().is_cancelled());
        gate.set();
        let finished = wait_for_flag(&done).await;
        assert!(
            finished,
            "cancelling the waiter did not cancel the shielded task"
        );
    });
}

#[test]
fn shield_gives_the_output_to_a_patient_waiter() {
    ringio::run(async {
        let out = shield(async { "kept" }).await.unwrap();
        assert_eq!(out, "kept");
    });
}

/// Lets the loop turn until `flag` is set, for at most 5 s (a loaded machine's stall,
/// many times over); returns whether it was set.
async fn wait_for_flag(flag: &Cell<bool>) -> bool {
    let waited = timeout(Duration::from_secs(5), async {
        while !flag.get() {
            sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    waited.is_ok()
}
