//! `gather!` and `try_gather!` with 1, 2 and 5 futures of different types.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use ringio::time::{sleep, timeout};

/// Sets its flag when dropped: shows when a future was cancelled.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Sleeps `ms`, records `name` as finished, and gives `out`.
async fn after<T>(ms: u64, name: &'static str, log: &RefCell<Vec<&'static str>>, out: T) -> T {
    sleep(Duration::from_millis(ms)).await;
    log.borrow_mut().push(name);
    out
}

#[test]
fn gather_macro_with_1_argument() {
    ringio::run(async {
        let (a,) = ringio::gather!(async { 1u8 });
        assert_eq!(a, 1);
    });
}

#[test]
fn gather_macro_with_2_arguments_runs_them_concurrently() {
    ringio::run(async {
        let log = RefCell::new(Vec::new());
        let (a, b) = ringio::gather!(after(20, "a", &log, "x"), after(0, "b", &log, 2.5f64),);
        assert_eq!((a, b), ("x", 2.5));
        assert_eq!(*log.borrow(), ["b", "a"], "the second finished first");
    });
}

#[test]
fn gather_macro_with_5_arguments_of_different_types() {
    ringio::run(async {
        let log = RefCell::new(Vec::new());
        let (a, b, c, d, e) = ringio::gather!(
            after(40, "a", &log, 1u8),
            after(30, "b", &log, "two"),
            after(20, "c", &log, vec![3]),
            after(10, "d", &log, Some('4')),
            after(0, "e", &log, 5.0f32),
        );
        assert_eq!((a, b, c, d, e), (1, "two", vec![3], Some('4'), 5.0));
        assert_eq!(*log.borrow(), ["e", "d", "c", "b", "a"]);
    });
}

#[test]
fn gather_macro_polls_only_woken_futures() {
    ringio::run(async {
        let polls = Rc::new(Cell::new(0));
        let p = polls.clone();
        let idle = std::future::poll_fn(move |_| {
            p.set(p.get() + 1);
            std::task::Poll::<()>::Pending
        });
        // The idle future is never woken, so the busy one's 100 wakes must not poll it
        // each: it is polled at its first poll and once more when the waker all first
        // polls share fires (the busy one's first yield), to get its own waker
        // (`task` module rule 2).
        let busy = async {
            for _ in 0..100 {
                ringio::yield_now().await;
            }
        };
        let res = timeout(Duration::from_millis(50), async {
            ringio::gather!(idle, busy);
        })
        .await;
        assert!(
            res.is_err(),
            "the idle future is never woken, so gather! waits"
        );
        assert_eq!(
            polls.get(),
            2,
            "the idle future was polled twice, not per wake"
        );
    });
}

#[test]
fn try_gather_macro_with_1_argument() {
    ringio::run(async {
        assert_eq!(ringio::try_gather!(async { Ok::<_, ()>(1) }), Ok((1,)));
        assert_eq!(ringio::try_gather!(async { Err::<u8, _>("no") }), Err("no"));
    });
}

#[test]
fn try_gather_macro_with_2_arguments() {
    ringio::run(async {
        let log = RefCell::new(Vec::new());
        let ok = ringio::try_gather!(
            async { Ok::<_, String>(after(10, "a", &log, 1u16).await) },
            async { Ok(after(0, "b", &log, "b").await) },
        );
        assert_eq!(ok, Ok((1, "b")));
        assert_eq!(*log.borrow(), ["b", "a"]);
    });
}

#[test]
fn try_gather_macro_with_5_arguments_drops_others_on_first_error() {
    ringio::run(async {
        let flags: Vec<_> = (0..4).map(|_| Rc::new(Cell::new(false))).collect();
        let hold = |i: usize| DropFlag(flags[i].clone());
        let (g0, g1, g2, g3) = (hold(0), hold(1), hold(2), hold(3));
        let res = timeout(Duration::from_secs(5), async {
            ringio::try_gather!(
                async move {
                    let _g = g0;
                    sleep(Duration::from_secs(3600)).await;
                    Ok::<u8, String>(1)
                },
                async move {
                    let _g = g1;
                    sleep(Duration::from_secs(3600)).await;
                    Ok("two")
                },
                async {
                    sleep(Duration::from_millis(5)).await;
                    Err::<Vec<u8>, _>("third failed".to_string())
                },
                async move {
                    let _g = g2;
                    Ok('4')
                },
                async move {
                    let _g = g3;
                    sleep(Duration::from_secs(3600)).await;
                    Ok(5.0f64)
                },
            )
        })
        .await
        .expect("the error ends try_gather! without waiting for the sleepers");
        assert_eq!(res, Err("third failed".to_string()));
        assert!(
            flags.iter().all(|f| f.get()),
            "every other future was dropped"
        );
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn try_gather_macro_with_5_arguments_all_ok_runs_them_concurrently() {
    ringio::run(async {
        let log = RefCell::new(Vec::new());
        let res = ringio::try_gather!(
            async { Ok::<_, ()>(after(40, "a", &log, 1u8).await) },
            async { Ok(after(30, "b", &log, "two").await) },
            async { Ok(after(20, "c", &log, vec![3u8]).await) },
            async { Ok(after(10, "d", &log, '4').await) },
            async { Ok(after(0, "e", &log, 5.0f64).await) },
        );
        assert_eq!(res, Ok((1, "two", vec![3], '4', 5.0)));
        assert_eq!(*log.borrow(), ["e", "d", "c", "b", "a"]);
    });
}
