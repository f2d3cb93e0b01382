//! The executor: spawn, JoinHandle, cancellation, panics, shutdown, wake-ups.

mod support;

use support::DropFlag;

use ringio::time::sleep;
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

#[test]
fn spawn_is_lazy_and_fifo() {
    ringio::run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        for i in 0..5 {
            let log = log.clone();
            ringio::spawn(async move { log.borrow_mut().push(i) });
        }
        assert!(
            log.borrow().is_empty(),
            "spawned tasks must not run before the spawner yields"
        );
        ringio::yield_now().await;
        assert_eq!(*log.borrow(), vec![0, 1, 2, 3, 4]);
    });
}

#[test]
fn yield_now_lets_each_ready_task_run_once() {
    ringio::run(async {
        let log = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let log = log.clone();
                ringio::spawn(async move {
                    for round in 0..3 {
                        log.borrow_mut().push((round, i));
                        ringio::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let expected: Vec<_> = (0..3).flat_map(|r| (0..3).map(move |i| (r, i))).collect();
        assert_eq!(*log.borrow(), expected);
    });
}

#[test]
fn cancel_stops_a_blocked_task_and_drops_its_future() {
    ringio::run(async {
        let dropped = Rc::new(Cell::new(false));
        let guard = DropFlag(dropped.clone());
        let h = ringio::spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
        });
        ringio::yield_now().await;
        assert!(!h.is_finished());
        assert!(h.cancel());
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled() && !err.is_panic());
        assert!(dropped.get());
        assert_eq!(
            ringio::metrics().timers_pending,
            0,
            "the sleep's timer must be removed"
        );
    });
}

#[test]
fn cancel_before_first_poll_never_runs_the_task() {
    ringio::run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let h = ringio::spawn(async move { r.set(true) });
        assert!(h.cancel());
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(!ran.get());
    });
}

#[test]
fn cancel_after_finish_returns_false() {
    ringio::run(async {
        let h = ringio::spawn(async { 5 });
        ringio::yield_now().await;
        assert!(h.is_finished());
        assert!(!h.cancel());
        assert_eq!(h.await.unwrap(), 5);
    });
}

#[test]
fn panic_in_task_is_a_join_error_and_the_loop_goes_on() {
    ringio::run(async {
        let h = ringio::spawn(async {
            panic!("task exploded");
        });
        let err = h.await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.to_string(), "task panicked: task exploded");
        let payload = err.try_into_panic().unwrap();
        assert_eq!(*payload.downcast::<&str>().unwrap(), "task exploded");
        // The runtime keeps working.
        assert_eq!(ringio::spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[test]
fn dropped_handle_detaches_the_task() {
    ringio::run(async {
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        drop(ringio::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            d.set(true);
        }));
        sleep(Duration::from_millis(30)).await;
        assert!(done.get(), "a detached task runs to completion");
    });
}

#[test]
fn run_cancels_leftover_tasks_before_returning() {
    let dropped = Rc::new(Cell::new(false));
    let guard = DropFlag(dropped.clone());
    ringio::run(async move {
        ringio::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        ringio::yield_now().await;
    });
    assert!(
        dropped.get(),
        "the leftover task's future must be dropped before run returns"
    );
}

#[test]
fn nested_run_panics_with_a_clear_message() {
    let res = std::panic::catch_unwind(|| {
        ringio::run(async {
            ringio::run(async {});
        })
    });
    let msg = panic_message(res.unwrap_err());
    assert!(msg.contains("inside a running one"), "{msg}");
}

#[test]
fn spawn_outside_a_runtime_panics_with_a_clear_message() {
    let res = std::panic::catch_unwind(|| {
        drop(ringio::spawn(async {}));
    });
    let msg = panic_message(res.unwrap_err());
    assert!(msg.contains("inside a ringio runtime"), "{msg}");
}

#[test]
fn join_handle_awaited_from_another_task() {
    ringio::run(async {
        let h = ringio::spawn(async {
            sleep(Duration::from_millis(2)).await;
            "inner"
        });
        let outer = ringio::spawn(async move { h.await.unwrap() });
        assert_eq!(outer.await.unwrap(), "inner");
        assert_eq!(ringio::metrics().tasks_alive, 0);
    });
}

#[test]
fn waker_fired_from_another_thread_wakes_a_sleeping_loop() {
    support::watchdog("cross_thread_wake", Duration::from_secs(30));
    ringio::run(async {
        let slot: Arc<Mutex<(bool, Option<Waker>)>> = Arc::new(Mutex::new((false, None)));
        let s = slot.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let mut g = s.lock().unwrap();
            g.0 = true;
            if let Some(w) = g.1.take() {
                w.wake();
            }
        });
        // The loop has nothing else to do: it sleeps in io_uring_enter until the
        // eventfd write from the other thread.
        let h = ringio::spawn(poll_fn(move |cx| {
            let mut g = slot.lock().unwrap();
            if g.0 {
                Poll::Ready(())
            } else {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }));
        h.await.unwrap();
        t.join().unwrap();
    });
}

#[test]
fn main_future_woken_from_another_thread() {
    support::watchdog("main_cross_thread_wake", Duration::from_secs(30));
    ringio::run(async {
        let flag = Arc::new(Mutex::new((false, None::<Waker>)));
        let f = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let mut g = f.lock().unwrap();
            g.0 = true;
            if let Some(w) = g.1.take() {
                w.wake();
            }
        });
        poll_fn(|cx| {
            let mut g = flag.lock().unwrap();
            if g.0 {
                Poll::Ready(())
            } else {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    });
}

#[test]
fn many_tasks_spawned_and_finished_leave_nothing_alive() {
    ringio::run(async {
        let handles: Vec<_> = (0..10_000u64)
            .map(|i| ringio::spawn(async move { i * 2 }))
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, 2 * (0..10_000u64).sum::<u64>());
        let m = ringio::metrics();
        assert_eq!(m.tasks_alive, 0);
        assert!(m.tasks_spawned >= 10_000);
    });
}

#[test]
fn runtime_reports_its_ring_flags() {
    let rt = ringio::Runtime::new().unwrap();
    // What the core's own ring got, seen from inside, is what the runtime reports outside.
    let inside = rt.block_on(async { ringio::metrics().ring_flags });
    let flags = rt.metrics().ring_flags;
    assert_eq!(
        flags, inside,
        "the runtime reports flags its ring does not have"
    );
    let dbg = format!("{rt:?}");
    assert!(
        dbg.contains(&flags.to_string()),
        "Debug does not show {flags}: {dbg}"
    );
    eprintln!("ring flags chosen: {flags}");
}

#[test]
fn block_on_can_run_twice_on_one_runtime() {
    let rt = ringio::Runtime::new().unwrap();
    assert_eq!(
        rt.block_on(async { ringio::spawn(async { 1 }).await.unwrap() }),
        1
    );
    assert_eq!(rt.block_on(async { 2 }), 2);
}

#[test]
fn main_future_yield_lets_every_ready_task_run() {
    ringio::run(async {
        let ran = Rc::new(Cell::new(0));
        for _ in 0..1_000 {
            let ran = ran.clone();
            ringio::spawn(async move { ran.set(ran.get() + 1) });
        }
        ringio::yield_now().await;
        assert_eq!(ran.get(), 1_000);
    });
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}
