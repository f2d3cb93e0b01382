//! `task::TaskGroup`: spawn order, failures cancel siblings, every real failure reported.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ringio::task::{Failure, TaskGroup};
use ringio::time::{sleep, timeout};

/// Sets its flag when dropped: shows when a future was cancelled.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A future that holds `flag` and sleeps for an hour: only a cancel ends it.
fn sleeper(flag: &Rc<Cell<bool>>) -> impl Future<Output = Result<u32, String>> + use<> {
    let guard = DropFlag(flag.clone());
    async move {
        let _guard = guard;
        sleep(Duration::from_secs(3600)).await;
        Ok(0)
    }
}

#[test]
fn task_group_join_keeps_spawn_order() {
    ringio::run(async {
        let group = TaskGroup::<u64, ()>::new();
        for ms in [30u64, 0, 20, 10] {
            group.spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                Ok(ms)
            });
        }
        assert_eq!(group.join().await.unwrap(), [30, 0, 20, 10]);
    });
}

#[test]
fn task_group_failure_cancels_siblings() {
    ringio::run(async {
        let flags: Vec<_> = (0..2).map(|_| Rc::new(Cell::new(false))).collect();
        let group = TaskGroup::<u32, String>::new();
        group.spawn(sleeper(&flags[0]));
        group.spawn(async {
            sleep(Duration::from_millis(5)).await;
            Err("boom".to_string())
        });
        group.spawn(sleeper(&flags[1]));
        let err = timeout(Duration::from_secs(5), group.join())
            .await
            .expect("the failure cancels the sleepers, so join returns")
            .unwrap_err();
        assert_eq!(err.failures().len(), 1);
        assert_eq!(err.failures()[0].error(), Some(&"boom".to_string()));
        assert!(flags[0].get() && flags[1].get(), "siblings were dropped");
        assert_eq!(ringio::metrics().tasks_alive, 0);
    });
}

#[test]
fn task_group_reports_every_failure() {
    ringio::run(async {
        let flag = Rc::new(Cell::new(false));
        let group = TaskGroup::<u32, &str>::new();
        // Both fail in the same round of the run queue: both are real failures.
        group.spawn(async {
            ringio::yield_now().await;
            Err("first")
        });
        group.spawn(async {
            ringio::yield_now().await;
            Err("second")
        });
        // Cancelled by the failures: not a failure itself.
        group.spawn(sleeper_str(&flag));
        let err = timeout(Duration::from_secs(5), group.join())
            .await
            .expect("join returns")
            .unwrap_err();
        let errors: Vec<_> = err.failures().iter().map(|f| f.error().copied()).collect();
        assert_eq!(errors, [Some("first"), Some("second")]);
        assert!(flag.get(), "the sleeper was cancelled");
    });
}

fn sleeper_str(flag: &Rc<Cell<bool>>) -> impl Future<Output = Result<u32, &'static str>> + use<> {
    let guard = DropFlag(flag.clone());
    async move {
        let _guard = guard;
        sleep(Duration::from_secs(3600)).await;
        Ok(0)
    }
}

#[test]
fn task_group_drop_cancels_tasks() {
    ringio::run(async {
        let flags: Vec<_> = (0..3).map(|_| Rc::new(Cell::new(false))).collect();
        let group = TaskGroup::<u32, String>::new();
        for flag in &flags {
            group.spawn(sleeper(flag));
        }
        ringio::yield_now().await; // every task starts its sleep
        assert_eq!(ringio::metrics().tasks_alive, 3);
        drop(group);
        ringio::yield_now().await; // the cancels take effect at the tasks' next poll
        assert!(flags.iter().all(|f| f.get()), "every task was dropped");
        assert_eq!(ringio::metrics().tasks_alive, 0);
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn task_group_panic_is_a_failure() {
    ringio::run(async {
        let flag = Rc::new(Cell::new(false));
        let group = TaskGroup::<u32, String>::new();
        group.spawn(sleeper(&flag));
        group.spawn(async {
            sleep(Duration::from_millis(5)).await;
            panic!("task exploded");
        });
        let err = timeout(Duration::from_secs(5), group.join())
            .await
            .expect("the panic cancels the sleeper, so join returns")
            .unwrap_err();
        match err.failures() {
            [f @ Failure::Panic(_)] => assert_eq!(f.panic_message(), Some("task exploded")),
            other => panic!("expected one panic, got {other:?}"),
        }
        assert!(flag.get(), "the sibling was cancelled");
    });
}

#[test]
fn task_group_spawn_after_failure_cancels_at_once() {
    ringio::run(async {
        let group = TaskGroup::<u32, &str>::new();
        group.spawn(async { Err("early") });
        sleep(Duration::from_millis(1)).await;
        let polled = Rc::new(Cell::new(false));
        let dropped = Rc::new(Cell::new(false));
        let (p, guard) = (polled.clone(), DropFlag(dropped.clone()));
        group.spawn(async move {
            let _guard = guard;
            p.set(true);
            Ok(1)
        });
        assert!(dropped.get(), "the late future is dropped by spawn itself");
        let err = group.join().await.unwrap_err();
        assert_eq!(err.failures().len(), 1);
        assert!(!polled.get(), "the late future never ran");
    });
}

#[test]
fn task_group_finished_task_leaves_no_handle() {
    ringio::run(async {
        let group = TaskGroup::<(), ()>::new();
        group.spawn(async { Ok(()) });
        group.spawn(async {
            sleep(Duration::from_millis(5)).await;
            Ok(())
        });
        assert_eq!(group.running(), 2);
        ringio::yield_now().await;
        assert_eq!(group.running(), 1, "the finished task's handle is gone");
        assert_eq!(group.join().await.unwrap(), [(), ()]);
    });
}
