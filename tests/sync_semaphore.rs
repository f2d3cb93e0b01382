//! `Semaphore` on a real runtime: FIFO order, the permit bound and cancelled
//! waiters, at 10,000 tasks.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ringio::sync::Semaphore;

/// Enough tasks that an O(n) step per waiter would show.
const TASKS: usize = 10_000;

/// Spawns `TASKS` tasks that each take a permit, yield while holding it and
/// log their index; checks they got in in spawn order and never more than
/// `permits` at once.
fn fifo_and_bounded(permits: usize) {
    ringio::run(async move {
        let sem = Rc::new(Semaphore::new(permits));
        let inside = Rc::new(Cell::new(0));
        let most_inside = Rc::new(Cell::new(0));
        let order = Rc::new(RefCell::new(Vec::with_capacity(TASKS)));
        let gate = sem.acquire_many(permits).await;
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let (sem, inside, most_inside, order) = (
                    sem.clone(),
                    inside.clone(),
                    most_inside.clone(),
                    order.clone(),
                );
                ringio::spawn(async move {
                    let _permit = sem.acquire().await;
                    order.borrow_mut().push(i);
                    inside.set(inside.get() + 1);
                    most_inside.set(most_inside.get().max(inside.get()));
                    ringio::yield_now().await;
                    inside.set(inside.get() - 1);
                })
            })
            .collect();
        ringio::yield_now().await; // every task is now queued, in spawn order
        drop(gate);
        for handle in handles {
            handle.await.expect("task finished");
        }
        assert!(
            order.borrow().iter().copied().eq(0..TASKS),
            "served out of order"
        );
        assert_eq!(most_inside.get(), permits);
        assert_eq!(sem.available_permits(), permits);
    });
}

#[test]
fn sync_semaphore_of_one_is_fifo_and_exclusive() {
    fifo_and_bounded(1);
}

#[test]
fn sync_semaphore_of_64_is_fifo_and_bounded() {
    fifo_and_bounded(64);
}

#[test]
fn sync_semaphore_every_other_waiter_cancelled_while_queued() {
    ringio::run(async {
        let sem = Rc::new(Semaphore::new(1));
        let order = Rc::new(RefCell::new(Vec::new()));
        let gate = sem.acquire().await;
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let (sem, order) = (sem.clone(), order.clone());
                ringio::spawn(async move {
                    let _permit = sem.acquire().await;
                    order.borrow_mut().push(i);
                    ringio::yield_now().await;
                })
            })
            .collect();
        ringio::yield_now().await;
        for handle in handles.iter().step_by(2) {
            assert!(handle.cancel());
        }
        ringio::yield_now().await; // the cancelled tasks are dropped
        drop(gate);
        for (i, handle) in handles.into_iter().enumerate() {
            let result = handle.await;
            assert_eq!(result.is_err(), i % 2 == 0, "task {i}");
        }
        assert!(order.borrow().iter().copied().eq((1..TASKS).step_by(2)));
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn sync_semaphore_waiters_cancelled_after_their_grant_pass_permits_on() {
    ringio::run(async {
        let sem = Rc::new(Semaphore::new(0));
        let order = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let (sem, order) = (sem.clone(), order.clone());
                ringio::spawn(async move {
                    let _permit = sem.acquire().await;
                    order.borrow_mut().push(i);
                    ringio::yield_now().await;
                })
            })
            .collect();
        ringio::yield_now().await; // all queued
        sem.add_permits(TASKS / 2); // grants the first half; none has run yet
        for handle in handles.iter().step_by(2) {
            assert!(handle.cancel());
        }
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(handle.await.is_err(), i % 2 == 0, "task {i}");
        }
        // Every surviving task got a permit: none was lost with a cancelled one.
        assert_eq!(order.borrow().len(), TASKS / 2);
        assert_eq!(sem.available_permits(), TASKS / 2);
    });
}

#[test]
fn sync_semaphore_close_wakes_waiting_tasks() {
    ringio::run(async {
        let sem = Rc::new(Semaphore::new(0));
        let handles: Vec<_> = (0..100)
            .map(|_| {
                let sem = sem.clone();
                ringio::spawn(async move { sem.acquire_or_closed().await.is_err() })
            })
            .collect();
        ringio::yield_now().await;
        sem.close();
        for handle in handles {
            assert!(
                handle.await.expect("task finished"),
                "closed semaphore fails acquire"
            );
        }
    });
}
