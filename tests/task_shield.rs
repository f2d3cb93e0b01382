//! `task::shield`: the shielded work finishes even when whoever waited for it is gone.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ringio::task::shield;
use ringio::time::{sleep, timeout};

#[test]
fn shield_survives_dropped_waiter() {
    ringio::run(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        let handle = shield(async move {
            sleep(Duration::from_millis(10)).await;
            d.set(true);
            7
        });
        // The waiter gives up: the handle is dropped inside `timeout`.
        assert!(timeout(Duration::from_millis(1), handle).await.is_err());
        sleep(Duration::from_millis(30)).await;
        assert!(done.get(), "the shielded future ran to the end");
    });
}

#[test]
fn shield_survives_a_cancelled_waiting_task() {
    ringio::run(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        let waiter = ringio::spawn(async move {
            shield(async move {
                sleep(Duration::from_millis(10)).await;
                d.set(true);
            })
            .await
            .unwrap();
        });
        ringio::yield_now().await;
        assert!(waiter.cancel());
        assert!(waiter.await.unwrap_err().is_cancelled());
        sleep(Duration::from_millis(30)).await;
        assert!(
            done.get(),
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
