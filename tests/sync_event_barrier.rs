//! `Event` and `Barrier` on a real runtime, at 10,000 tasks.

use std::rc::Rc;

use ringio::sync::{Barrier, Event};

const TASKS: usize = 10_000;

#[test]
fn sync_event_set_then_clear_releases_every_waiting_task() {
    ringio::run(async {
        let event = Rc::new(Event::new());
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let event = event.clone();
                ringio::spawn(async move { event.wait().await })
            })
            .collect();
        ringio::yield_now().await;
        event.set();
        event.clear(); // before any waiter runs
        for handle in handles {
            handle.await.expect("released by set");
        }
        assert!(!event.is_set());
    });
}

#[test]
fn sync_barrier_has_one_leader_per_generation() {
    ringio::run(async {
        let parties = 100;
        let generations = TASKS / parties;
        let barrier = Rc::new(Barrier::new(parties));
        let handles: Vec<_> = (0..parties)
            .map(|_| {
                let barrier = barrier.clone();
                ringio::spawn(async move {
                    let mut led = 0;
                    for _ in 0..generations {
                        led += usize::from(barrier.wait().await.is_leader());
                    }
                    led
                })
            })
            .collect();
        let mut leaders = 0;
        for handle in handles {
            leaders += handle.await.expect("task finished");
        }
        assert_eq!(leaders, generations);
        assert_eq!(barrier.n_waiting(), 0);
    });
}
