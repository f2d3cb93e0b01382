//! `task_local!`: copied into spawned tasks, scoped around each poll, restored on every
//! way out of a scope, absent where nothing copies it.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use ringio::time::{sleep, timeout};

mod support;

ringio::task_local! {
    static REQUEST_ID: u64;
    static COUNTER: Cell<u32>;
    static SHARED: Rc<Cell<u32>>;
}

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn task_local_child_gets_a_copy_not_the_parents_value() {
    support::watchdog("task_local_child_gets_a_copy", Duration::from_secs(60));
    ringio::run(REQUEST_ID.scope(1, async {
        let child = ringio::spawn(async {
            assert_eq!(
                REQUEST_ID.get(),
                1,
                "the child starts with the parent's value"
            );
            REQUEST_ID.set(2);
            ringio::yield_now().await;
            REQUEST_ID.get()
        });
        let sibling = ringio::spawn(async {
            // Runs after the child's set (FIFO), and yields past the child's end.
            ringio::yield_now().await;
            ringio::yield_now().await;
            REQUEST_ID.get()
        });
        ringio::yield_now().await;
        assert_eq!(REQUEST_ID.get(), 1, "the child's set is not the parent's");
        assert_eq!(child.await.unwrap(), 2);
        assert_eq!(sibling.await.unwrap(), 1, "nor a sibling's");
        // A change in the parent after the spawn is not the child's either.
        let late = ringio::spawn(async {
            ringio::yield_now().await;
            REQUEST_ID.get()
        });
        REQUEST_ID.set(3);
        assert_eq!(late.await.unwrap(), 1, "the copy was taken at spawn");
        assert_eq!(REQUEST_ID.get(), 3);
    }));
}

#[test]
fn task_local_copy_is_a_clone_not_a_shared_reference() {
    ringio::run(COUNTER.scope(Cell::new(10), async {
        let child = ringio::spawn(async {
            COUNTER.with(|c| c.set(c.get() + 1));
            COUNTER.with(Cell::get)
        });
        assert_eq!(child.await.unwrap(), 11);
        assert_eq!(
            COUNTER.with(Cell::get),
            10,
            "the child changed its own copy"
        );
    }));
    // An `Rc` value is copied as an `Rc`: shared on purpose.
    let seen = ringio::run(SHARED.scope(Rc::new(Cell::new(0)), async {
        ringio::spawn(async { SHARED.with(|c| c.set(5)) })
            .await
            .unwrap();
        SHARED.with(|c| c.get())
    }));
    assert_eq!(seen, 5);
}

#[test]
fn task_local_grandchildren_inherit_through_a_plain_child() {
    ringio::run(REQUEST_ID.scope(4, async {
        let h = ringio::spawn(async {
            let grandchild = ringio::spawn(async { REQUEST_ID.get() });
            grandchild.await.unwrap()
        });
        assert_eq!(h.await.unwrap(), 4);
    }));
}

#[test]
fn task_local_nested_scopes_restore_the_outer_value() {
    ringio::run(REQUEST_ID.scope(1, async {
        // Ends normally, across awaits.
        let inner = REQUEST_ID
            .scope(2, async {
                sleep(Duration::from_millis(1)).await;
                REQUEST_ID.get()
            })
            .await;
        assert_eq!((inner, REQUEST_ID.get()), (2, 1));

        // Dropped mid-way by a timeout: its inner future never ends.
        let dropped = timeout(
            Duration::from_millis(1),
            REQUEST_ID.scope(2, sleep(Duration::from_secs(3600))),
        )
        .await;
        assert!(dropped.is_err());
        assert_eq!(REQUEST_ID.get(), 1, "after a scope dropped mid-way");

        // Dropped after one poll, by hand.
        support::poll_and_drop(REQUEST_ID.scope(2, async {
            REQUEST_ID.set(20);
            std::future::pending::<()>().await;
        }));
        assert_eq!(REQUEST_ID.get(), 1, "after a scope dropped after a set");

        // Its future panics in a poll.
        let mut scoped = pin!(REQUEST_ID.scope(2, async {
            ringio::yield_now().await;
            panic!("inner scope fails");
        }));
        assert!(support::poll_noop(scoped.as_mut()).is_pending());
        let msg = panic_message(|| {
            let _ = support::poll_noop(scoped.as_mut());
        });
        assert_eq!(msg, "inner scope fails");
        assert_eq!(REQUEST_ID.get(), 1, "after a panic in the inner scope");

        // The same, synchronously.
        let msg = panic_message(|| REQUEST_ID.sync_scope(2, || panic!("sync scope fails")));
        assert_eq!(msg, "sync scope fails");
        assert_eq!(REQUEST_ID.get(), 1);
    }));
    assert!(
        REQUEST_ID.try_with(|_| ()).is_err(),
        "nothing left on the thread"
    );
}

#[test]
fn task_local_destructor_of_a_dropped_scope_sees_its_value() {
    struct ReadOnDrop(Rc<Cell<u64>>);
    impl Drop for ReadOnDrop {
        fn drop(&mut self) {
            self.0.set(REQUEST_ID.try_with(|v| *v).unwrap_or(0));
        }
    }
    let seen = Rc::new(Cell::new(0));
    let guard = ReadOnDrop(seen.clone());
    support::poll_and_drop(REQUEST_ID.scope(8, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    }));
    assert_eq!(seen.get(), 8);
}

/// Checks over `ROUNDS` polls, some after a yield and some after a timer, that the task
/// sees `id`, and sets it again (a set is the task's alone).
async fn sees_its_own(id: u64) {
    const ROUNDS: u32 = 100;
    for round in 0..ROUNDS {
        assert_eq!(REQUEST_ID.get(), id, "task {id} round {round}");
        if round % 2 == 0 {
            ringio::yield_now().await;
        } else {
            sleep(Duration::from_micros(100)).await;
        }
        REQUEST_ID.set(id);
    }
}

#[test]
fn task_local_values_swap_in_and_out_around_each_poll() {
    support::watchdog("task_local_values_swap", Duration::from_secs(60));
    const TASKS: u64 = 8;
    ringio::run(async {
        let mut handles = Vec::new();
        for id in 0..TASKS {
            // Each task has its own scope and a child with an inherited copy: all of
            // them polled in turn on the one core.
            handles.push(ringio::spawn(REQUEST_ID.scope(id, async move {
                let child = ringio::spawn(async move {
                    REQUEST_ID.set(id + 100);
                    sees_its_own(id + 100).await;
                });
                sees_its_own(id).await;
                child.await.unwrap();
            })));
        }
        // A task with no scope of its own, polled between them, sees nothing.
        let plain = ringio::spawn(async {
            for _ in 0..100 {
                assert!(REQUEST_ID.try_with(|_| ()).is_err(), "a scope leaked");
                ringio::yield_now().await;
            }
        });
        for h in handles {
            h.await.unwrap();
        }
        plain.await.unwrap();
    });
}

#[test]
fn task_local_spawn_on_and_spawn_blocking_copy_nothing() {
    let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    rt.block_on(REQUEST_ID.scope(5, async {
        let blocking = ringio::spawn_blocking(|| REQUEST_ID.try_with(|v| *v))
            .await
            .unwrap();
        assert!(blocking.is_err(), "spawn_blocking copies nothing");
        for core in [0, 1] {
            let remote = ringio::spawn_on(core, || async { REQUEST_ID.try_with(|v| *v).is_err() });
            assert!(remote.await.unwrap(), "spawn_on({core}) copies nothing");
        }
        // The documented way: read it, move it, scope it there.
        let id = REQUEST_ID.get();
        let remote = ringio::spawn_on(1, move || REQUEST_ID.scope(id, async { REQUEST_ID.get() }));
        assert_eq!(remote.await.unwrap(), 5);
    }));
}

#[test]
fn task_local_access_outside_a_scope_fails_naming_the_key() {
    let err = REQUEST_ID.try_with(|v| *v).unwrap_err();
    assert!(err.to_string().contains("task_local::REQUEST_ID"), "{err}");
    let msg = panic_message(|| {
        REQUEST_ID.with(|_| ());
    });
    assert!(msg.contains("task_local::REQUEST_ID"), "{msg}");
    let msg = panic_message(|| REQUEST_ID.set(1));
    assert!(msg.contains("is not set here"), "{msg}");
    ringio::run(async {
        let h = ringio::spawn(async { REQUEST_ID.get() });
        let err = h.await.unwrap_err();
        assert!(err.is_panic(), "a task that reads an unset key panics");
    });
}

#[test]
fn task_local_set_inside_with_panics_and_changes_nothing() {
    REQUEST_ID.sync_scope(1, || {
        let msg = panic_message(|| REQUEST_ID.with(|_| REQUEST_ID.set(2)));
        assert!(msg.contains("inside `with`"), "{msg}");
        let msg = panic_message(|| COUNTER.with(|_| ()));
        assert!(msg.contains("COUNTER"), "{msg}");
        let msg = panic_message(|| REQUEST_ID.with(|_| COUNTER.sync_scope(Cell::new(0), || ())));
        assert!(msg.contains("inside `with`"), "{msg}");
        let msg = panic_message(|| REQUEST_ID.with(|_| ringio::run(async {})));
        assert!(
            msg.contains("cannot start a ringio runtime inside"),
            "{msg}"
        );
        assert_eq!(REQUEST_ID.get(), 1);
    });
}

#[test]
fn task_local_run_copies_the_values_set_around_it() {
    REQUEST_ID.sync_scope(6, || {
        let (main, child) = ringio::run(async {
            let child = ringio::spawn(async { REQUEST_ID.get() });
            REQUEST_ID.set(7); // the main future's copy
            (REQUEST_ID.get(), child.await.unwrap())
        });
        assert_eq!((main, child), (7, 6));
        assert_eq!(REQUEST_ID.get(), 6, "run's main future had a copy");
    });
}

#[test]
fn task_local_task_group_and_builder_spawns_inherit() {
    ringio::run(REQUEST_ID.scope(9, async {
        let group = ringio::task::TaskGroup::<u64, ()>::new();
        group.spawn(async { Ok(REQUEST_ID.get()) });
        let named = ringio::task::Builder::new()
            .name("named")
            .spawn(async { REQUEST_ID.get() });
        assert_eq!(group.join().await.unwrap(), [9]);
        assert_eq!(named.await.unwrap(), 9);
    }));
}
