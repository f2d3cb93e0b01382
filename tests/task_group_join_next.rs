//! `TaskGroup::join_next`: results in finishing order, nothing lost to a dropped wait,
//! failures handed out and siblings cancelled, `None` at the end.

use std::cell::Cell;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use ringio::sync::Event;
use ringio::task::{Failure, TaskGroup};
use ringio::time::{sleep, timeout};

mod support;

use support::DropFlag;

/// Lets the other ready tasks run `n` times first: with the FIFO run queue, a task that
/// yields `n` times finishes in round `n`, whatever the machine's speed.
async fn rounds(n: usize) {
    for _ in 0..n {
        ringio::yield_now().await;
    }
}

#[test]
fn task_group_join_next_gives_results_in_finishing_order() {
    support::watchdog("join_next_finishing_order", Duration::from_secs(60));
    ringio::run(async {
        let mut group = TaskGroup::<usize, ()>::new();
        for (index, n) in [3, 0, 2, 1].into_iter().enumerate() {
            group.spawn(async move {
                rounds(n).await;
                Ok(index)
            });
        }
        let mut order = Vec::new();
        while let Some(result) = group.join_next().await {
            order.push(result.unwrap());
        }
        assert_eq!(order, [1, 3, 2, 0]);
        assert_eq!(group.running(), 0);
        assert_eq!(
            group.join().await.unwrap(),
            [],
            "join_next took every output"
        );
    });
}

#[test]
fn task_group_join_next_on_an_empty_group_is_none_at_once() {
    ringio::run(async {
        let mut group = TaskGroup::<(), ()>::new();
        let next = support::poll_noop(pin!(group.join_next()));
        assert!(matches!(next, Poll::Ready(None)));
        // And again once its only task has come and gone.
        group.spawn(async { Ok(()) });
        assert!(matches!(group.join_next().await, Some(Ok(()))));
        assert!(matches!(
            support::poll_noop(pin!(group.join_next())),
            Poll::Ready(None)
        ));
    });
}

#[test]
fn task_group_join_next_dropped_mid_way_loses_nothing() {
    support::watchdog("join_next_dropped", Duration::from_secs(60));
    ringio::run(async {
        let mut group = TaskGroup::<u32, ()>::new();
        group.spawn(async { Ok(1) });
        group.spawn(async {
            rounds(2).await;
            Ok(2)
        });
        // Polled before any task ran, then dropped.
        assert!(support::poll_noop(pin!(group.join_next())).is_pending());
        // Made and dropped unpolled while both results are ready.
        rounds(4).await;
        drop(group.join_next());
        // Given up by a timeout while a task still waits.
        let go = Rc::new(Event::new());
        let wait = go.clone();
        group.spawn(async move {
            wait.wait().await;
            Ok(3)
        });
        assert_eq!(group.join_next().await.map(Result::unwrap), Some(1));
        assert_eq!(group.join_next().await.map(Result::unwrap), Some(2));
        assert!(
            timeout(Duration::from_millis(1), group.join_next())
                .await
                .is_err()
        );
        go.set();
        let last = timeout(Duration::from_secs(10), group.join_next())
            .await
            .expect("the waiting task ends once set");
        assert_eq!(last.map(Result::unwrap), Some(3));
        assert!(group.join_next().await.is_none());
    });
}

#[test]
fn task_group_join_next_hands_out_failures_and_cancels_the_rest() {
    support::watchdog("join_next_failures", Duration::from_secs(60));
    ringio::run(async {
        let cancelled = Rc::new(Cell::new(false));
        let mut group = TaskGroup::<u32, &str>::new();
        group.spawn(async { Ok(1) });
        group.spawn(async {
            rounds(1).await;
            Err("bad input")
        });
        group.spawn(async {
            rounds(1).await;
            panic!("task exploded");
        });
        let guard = DropFlag(cancelled.clone());
        group.spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
            Ok(4)
        });
        assert_eq!(group.join_next().await.map(Result::unwrap), Some(1));
        match group.join_next().await {
            Some(Err(Failure::Error(e))) => assert_eq!(e, "bad input"),
            other => panic!("expected the Err, got {other:?}"),
        }
        match group.join_next().await {
            Some(Err(f @ Failure::Panic(_))) => {
                assert_eq!(f.panic_message(), Some("task exploded"))
            }
            other => panic!("expected the panic, got {other:?}"),
        }
        let end = timeout(Duration::from_secs(10), group.join_next())
            .await
            .expect("the failure cancels the sleeper, so join_next ends");
        assert!(end.is_none(), "a cancelled sibling gives no result");
        assert!(cancelled.get(), "the sleeper was dropped");
        assert_eq!(ringio::metrics().tasks_alive, 0);
        // Failures handed out are not join's; a spawn after the failure still drops.
        group.spawn(async { Ok(5) });
        assert_eq!(group.join().await.unwrap(), []);
    });
}

#[test]
fn task_group_join_after_join_next_gives_the_rest_in_spawn_order() {
    ringio::run(async {
        let mut group = TaskGroup::<usize, String>::new();
        for (index, n) in [4, 0, 3, 1, 2].into_iter().enumerate() {
            group.spawn(async move {
                rounds(n).await;
                Ok(index)
            });
        }
        assert_eq!(group.join_next().await.map(Result::unwrap), Some(1));
        assert_eq!(group.join_next().await.map(Result::unwrap), Some(3));
        assert_eq!(group.join().await.unwrap(), [0, 2, 4]);

        // A failure not handed out is still join's to report.
        let mut group = TaskGroup::<usize, String>::new();
        group.spawn(async { Ok(0) });
        group.spawn(async {
            rounds(1).await;
            Err("late".to_string())
        });
        assert_eq!(group.join_next().await.map(Result::unwrap), Some(0));
        let err = group.join().await.unwrap_err();
        assert_eq!(err.failures().len(), 1);
        assert_eq!(err.failures()[0].error(), Some(&"late".to_string()));
    });
}

#[test]
fn task_group_join_next_over_10k_tasks() {
    support::watchdog("join_next_10k", Duration::from_secs(120));
    const TASKS: usize = 10_000;
    const MAX_ROUNDS: usize = 7;
    ringio::run(async {
        let mut group = TaskGroup::<(usize, usize), ()>::new();
        for index in 0..TASKS {
            let n = (index * 5) % MAX_ROUNDS;
            group.spawn(async move {
                rounds(n).await;
                Ok((n, index))
            });
        }
        let mut seen = vec![false; TASKS];
        let mut last = (0, 0);
        let mut count = 0;
        while let Some(result) = group.join_next().await {
            let (n, index) = result.unwrap();
            // Round by round; within a round, in spawn order (the FIFO queue).
            assert!(
                (n, index) > last || count == 0,
                "{last:?} then {:?}",
                (n, index)
            );
            assert!(
                !std::mem::replace(&mut seen[index], true),
                "task {index} twice"
            );
            last = (n, index);
            count += 1;
        }
        assert_eq!(count, TASKS);
        assert!(seen.iter().all(|s| *s));
        assert_eq!(ringio::metrics().tasks_alive, 0);
    });
}
