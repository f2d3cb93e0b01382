//! `Mutex` and `Condition` on a real runtime: exclusive across awaits, FIFO,
//! cancelled waiters pass the lock and the notification on.

use std::cell::RefCell;
use std::rc::Rc;

use ringio::sync::{Condition, Mutex};

const TASKS: usize = 10_000;

#[test]
fn sync_mutex_is_fifo_and_exclusive_across_awaits() {
    ringio::run(async {
        let m = Rc::new(Mutex::new(Vec::with_capacity(TASKS)));
        let gate = m.lock().await;
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let m = m.clone();
                ringio::spawn(async move {
                    let mut log = m.lock().await;
                    let before = log.len();
                    ringio::yield_now().await; // nobody else gets in meanwhile
                    assert_eq!(log.len(), before);
                    log.push(i);
                })
            })
            .collect();
        ringio::yield_now().await;
        drop(gate);
        for handle in handles {
            handle.await.expect("task finished");
        }
        assert!(m.lock().await.iter().copied().eq(0..TASKS));
    });
}

#[test]
fn sync_mutex_cancelled_waiters_pass_the_lock_on() {
    ringio::run(async {
        let m = Rc::new(Mutex::new(Vec::new()));
        let gate = m.lock().await;
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let m = m.clone();
                ringio::spawn(async move { m.lock().await.push(i) })
            })
            .collect();
        ringio::yield_now().await;
        drop(gate); // the lock now belongs to task 0, which has not run
        for handle in handles.iter().step_by(2) {
            assert!(handle.cancel());
        }
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(handle.await.is_err(), i % 2 == 0, "task {i}");
        }
        assert!(m.lock().await.iter().copied().eq((1..TASKS).step_by(2)));
        assert!(m.try_lock().is_some(), "the lock is free again");
    });
}

#[test]
fn sync_condition_producer_wakes_consumers_in_order() {
    ringio::run(async {
        let shared = Rc::new((Mutex::new(Vec::new()), Condition::new()));
        let got = Rc::new(RefCell::new(Vec::new()));
        let consumers: Vec<_> = (0..100)
            .map(|i| {
                let (shared, got) = (shared.clone(), got.clone());
                ringio::spawn(async move {
                    let (items, cond) = &*shared;
                    let mut guard = items.lock().await;
                    while guard.is_empty() {
                        guard = cond.wait(guard).await;
                    }
                    let item = guard.remove(0);
                    got.borrow_mut().push((i, item));
                })
            })
            .collect();
        ringio::yield_now().await; // all 100 wait on the condition
        for item in 0..100 {
            shared.0.lock().await.push(item);
            shared.1.notify(1);
        }
        for handle in consumers {
            handle.await.expect("task finished");
        }
        let got = got.borrow();
        assert_eq!(got.len(), 100);
        assert!(
            got.iter().all(|&(i, item)| i == item),
            "oldest waiter served first"
        );
    });
}

#[test]
fn sync_condition_cancelled_after_notify_passes_notification_on() {
    ringio::run(async {
        let shared = Rc::new((Mutex::new(0), Condition::new()));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let shared = shared.clone();
                ringio::spawn(async move {
                    let guard = shared.0.lock().await;
                    drop(shared.1.wait(guard).await);
                })
            })
            .collect();
        ringio::yield_now().await;
        shared.1.notify(1); // goes to the first waiter...
        assert!(handles[0].cancel()); // ...which is cancelled before it runs
        let mut handles = handles.into_iter();
        assert!(handles.next().expect("two tasks").await.is_err());
        handles
            .next()
            .expect("two tasks")
            .await
            .expect("woken by the passed-on notify");
    });
}
