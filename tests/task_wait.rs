//! `task::wait` and `task::try_wait`: asyncio's `wait(return_when=.., timeout=..)`, which
//! splits tasks into done and pending and cancels nothing.

mod support;

use ringio::task::{self, ReturnWhen};
use ringio::time::sleep;
use std::time::{Duration, Instant};

fn after(ms: u64) -> ringio::JoinHandle<u64> {
    ringio::spawn(async move {
        sleep(Duration::from_millis(ms)).await;
        ms
    })
}

#[test]
fn first_completed_returns_with_one_done_and_leaves_the_rest_running() {
    support::watchdog("first completed", Duration::from_secs(60));
    ringio::run(async {
        let start = Instant::now();
        let (done, pending) = task::wait(
            [after(400), after(5), after(300)],
            ReturnWhen::FirstCompleted,
            None,
        )
        .await;
        assert!(
            start.elapsed() < Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(done.len(), 1);
        assert_eq!(pending.len(), 2);
        for h in done {
            assert!(h.is_finished());
            assert_eq!(h.try_result().expect("done").unwrap(), 5);
        }
        // Input order, and still running: each ends with its own output.
        let outs: Vec<u64> =
            ringio::task::gather(pending.into_iter().map(|h| async { h.await.unwrap() })).await;
        assert_eq!(outs, [400, 300]);
    });
}

#[test]
fn all_completed_waits_for_every_task() {
    ringio::run(async {
        let (done, pending) = task::wait(
            [after(20), after(1), after(10)],
            ReturnWhen::AllCompleted,
            None,
        )
        .await;
        assert!(pending.is_empty());
        let outs: Vec<u64> = done
            .into_iter()
            .map(|h| h.try_result().expect("done").unwrap())
            .collect();
        assert_eq!(outs, [20, 1, 10], "done in input order");
    });
}

#[test]
fn first_exception_returns_at_a_panic() {
    ringio::run(async {
        let boom = ringio::spawn(async {
            sleep(Duration::from_millis(5)).await;
            panic!("boom");
        });
        let start = Instant::now();
        let (done, pending) = task::wait(
            [after(3_000), boom, after(1)],
            ReturnWhen::FirstException,
            None,
        )
        .await;
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_eq!((done.len(), pending.len()), (2, 1));
        // Input order: the panicked task, then the quick one.
        let mut done = done.into_iter();
        let err = done.next().unwrap().await.unwrap_err();
        assert!(err.is_panic(), "{err}");
        let quick = done.next().unwrap();
        assert_eq!(quick.try_result().expect("done").unwrap(), 1);
        for h in pending {
            assert!(h.cancel());
        }
    });
}

#[test]
fn first_exception_without_a_failure_waits_for_all() {
    ringio::run(async {
        let (done, pending) =
            task::wait([after(10), after(1)], ReturnWhen::FirstException, None).await;
        assert_eq!((done.len(), pending.len()), (2, 0));
    });
}

#[test]
fn try_wait_counts_an_err_as_an_exception_and_wait_does_not() {
    ringio::run(async {
        let spawn = || {
            let slow = ringio::spawn(async {
                sleep(Duration::from_millis(300)).await;
                Ok::<u32, String>(1)
            });
            let failing = ringio::spawn(async {
                sleep(Duration::from_millis(5)).await;
                Err::<u32, String>("refused".into())
            });
            [slow, failing]
        };
        let start = Instant::now();
        let (done, pending) = task::try_wait(spawn(), ReturnWhen::FirstException, None).await;
        assert!(
            start.elapsed() < Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
        assert_eq!((done.len(), pending.len()), (1, 1));
        let out = done.into_iter().next().unwrap().await.unwrap();
        assert_eq!(out, Err("refused".to_string()));
        // `wait` sees a task that returned `Err` as done well, not failed.
        let (done, pending) = task::wait(spawn(), ReturnWhen::FirstException, None).await;
        assert_eq!((done.len(), pending.len()), (2, 0));
        drop(pending);
    });
}

#[test]
fn a_timeout_with_nothing_done_returns_everything_pending() {
    ringio::run(async {
        let start = Instant::now();
        let (done, pending) = task::wait(
            [after(3_000), after(3_000)],
            ReturnWhen::FirstCompleted,
            Some(Duration::from_millis(20)),
        )
        .await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(20), "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        assert!(done.is_empty());
        assert_eq!(pending.len(), 2);
        for h in pending {
            assert!(!h.is_finished());
            assert!(h.cancel(), "still running");
        }
    });
}

#[test]
fn no_handles_return_at_once() {
    ringio::run(async {
        let (done, pending) = task::wait(
            Vec::<ringio::JoinHandle<()>>::new(),
            ReturnWhen::AllCompleted,
            None,
        )
        .await;
        assert!(done.is_empty() && pending.is_empty());
    });
}

#[test]
fn tasks_on_other_cores_are_waited_for() {
    support::watchdog("wait across cores", Duration::from_secs(60));
    let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async {
        let far = ringio::spawn_on(1, || async {
            sleep(Duration::from_millis(5)).await;
            ringio::runtime::current_core()
        });
        let near = ringio::spawn(async {
            sleep(Duration::from_secs(3600)).await;
            0
        });
        let (done, pending) = task::wait([near, far], ReturnWhen::FirstCompleted, None).await;
        assert_eq!(done.len(), 1);
        assert_eq!(done.into_iter().next().unwrap().await.unwrap(), 1);
        for h in pending {
            h.cancel();
        }
    });
}
