//! Task names (`task::Builder`) and results taken without waiting (`try_result`).

use ringio::task::Builder;
use std::time::Duration;

#[test]
fn a_name_given_at_spawn_comes_back_from_the_handle() {
    ringio::run(async {
        let h = Builder::new().name("reader").spawn(async { 1 });
        assert_eq!(h.name(), Some("reader"));
        assert!(format!("{h:?}").contains("\"reader\""), "{h:?}");
        assert_eq!(ringio::spawn(async {}).name(), None);
        let same = Builder::new().name(String::from("reader"));
        let other = same.clone().spawn(async {});
        assert_eq!(other.name(), Some("reader"));
        // Kept after the task ends, and after its output is taken.
        ringio::yield_now().await;
        assert_eq!(h.name(), Some("reader"));
        assert_eq!(h.await.unwrap(), 1);
    });
}

#[test]
fn a_name_travels_to_another_core() {
    let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async {
        let h = Builder::new()
            .name("far")
            .spawn_on(1, || async { ringio::runtime::current_core() });
        assert_eq!(h.name(), Some("far"));
        assert_eq!(h.await.unwrap(), 1);
    });
}

#[test]
fn try_result_gives_the_handle_back_until_the_task_is_done() {
    ringio::run(async {
        let h = ringio::spawn(ringio::time::sleep(Duration::from_millis(20)));
        let h = h.try_result().expect_err("a sleeping task is not done");
        let h = h.try_result().expect_err("still not done");
        ringio::time::sleep(Duration::from_millis(40)).await;
        assert!(h.is_finished());
        h.try_result().expect("done").expect("no failure");
    });
}

#[test]
fn try_result_reports_a_panic_and_a_cancel_as_the_await_would() {
    ringio::run(async {
        let panicked = ringio::spawn(async { panic!("boom") });
        let cancelled = ringio::spawn(ringio::time::sleep(Duration::from_secs(3600)));
        ringio::yield_now().await;
        assert!(cancelled.cancel());
        ringio::yield_now().await;
        let err = panicked.try_result().expect("done").unwrap_err();
        assert!(err.is_panic(), "{err}");
        assert!(err.to_string().contains("boom"), "{err}");
        let err = cancelled.try_result().expect("done").unwrap_err();
        assert!(err.is_cancelled(), "{err}");
    });
}

#[test]
fn try_result_on_a_handle_awaited_elsewhere_is_not_lost() {
    // A handle whose task finished gives the output once, whether taken by
    // `try_result` or by `.await`.
    ringio::run(async {
        let h = ringio::spawn(async { String::from("out") });
        ringio::yield_now().await;
        let out = match h.try_result() {
            Ok(r) => r.unwrap(),
            Err(h) => h.await.unwrap(),
        };
        assert_eq!(out, "out");
    });
}
