//! Debug mode (`Builder::debug`, `RINGIO_DEBUG`): a poll that holds its core past the
//! threshold is reported with the task's name and spawn location, and a detached task
//! that panicked is reported ("Task exception was never retrieved"). Each case runs in a
//! child process whose stderr is checked.

mod support;

use ringio::task::Builder;
use std::time::Duration;
use support::child::{ChildOutput, run_test};

/// Which case the child runs; unset in the parent, where `child_role` does nothing.
const ROLE: &str = "RINGIO_DEBUG_TEST_ROLE";

fn runtime(debug: Option<bool>) -> ringio::Runtime {
    let mut b = ringio::Runtime::builder().workers(1);
    if let Some(on) = debug {
        b = b.debug(on);
    }
    b.build().unwrap()
}

/// A task named `name` whose one poll blocks its core for `ms`.
async fn block_core(name: &str, ms: u64) {
    Builder::new()
        .name(name)
        .spawn(async move { std::thread::sleep(Duration::from_millis(ms)) })
        .await
        .unwrap();
}

#[test]
fn child_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    match role.as_str() {
        "slow" | "slow-env" | "slow-off" => {
            let debug = match role.as_str() {
                "slow" => Some(true),
                "slow-off" => Some(false),
                _ => None,
            };
            runtime(debug).block_on(async {
                block_core("sleeper", 200).await;
                block_core("quick", 50).await;
            });
        }
        "detached" => runtime(Some(true)).block_on(async {
            // Fails before its handle is dropped.
            let early = Builder::new()
                .name("early")
                .spawn(async { panic!("early failure") });
            while !early.is_finished() {
                ringio::yield_now().await;
            }
            drop(early);
            // Fails after its handle is dropped.
            drop(Builder::new().name("late").spawn(async {
                ringio::time::sleep(Duration::from_millis(20)).await;
                panic!("late failure");
            }));
            // Awaited: retrieved, never reported.
            let seen = Builder::new()
                .name("seen")
                .spawn(async { panic!("seen failure") });
            assert!(seen.await.unwrap_err().is_panic());
            // Cancelled: asked for, never reported.
            let cancelled = Builder::new()
                .name("cancelled")
                .spawn(ringio::time::sleep(Duration::from_secs(3600)));
            ringio::yield_now().await;
            cancelled.cancel();
            drop(cancelled);
            ringio::time::sleep(Duration::from_millis(100)).await;
        }),
        "bad-env" => {
            let err = ringio::Runtime::builder().build().unwrap_err();
            println!("{:?}: {err}", err.kind());
        }
        other => panic!("unknown role {other}"),
    }
}

fn run(role: &str, debug_env: Option<&str>) -> ChildOutput {
    let out = run_test(
        "child_role",
        &[(ROLE, Some(role)), ("RINGIO_DEBUG", debug_env)],
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "child failed:\n{}", out.stderr);
    out
}

fn reports(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("ringio debug:"))
        .collect()
}

#[test]
fn a_poll_past_the_threshold_is_reported_with_name_and_place() {
    let out = run("slow", None);
    let reports = reports(&out.stderr);
    assert_eq!(reports.len(), 1, "{}", out.stderr);
    let r = reports[0];
    assert!(r.contains(r#"task "sleeper""#), "{r}");
    assert!(r.contains("spawned at tests/runtime_debug.rs:"), "{r}");
    assert!(r.contains("held core 0 for"), "{r}");
}

#[test]
fn the_environment_turns_it_on_and_builder_off_wins() {
    let out = run("slow-env", Some("1"));
    assert_eq!(reports(&out.stderr).len(), 1, "{}", out.stderr);
    let out = run("slow-off", Some("1"));
    assert!(reports(&out.stderr).is_empty(), "{}", out.stderr);
    let out = run("slow-env", None);
    assert!(reports(&out.stderr).is_empty(), "{}", out.stderr);
}

#[test]
fn an_unknown_debug_value_is_an_error_naming_it() {
    let out = run("bad-env", Some("yes"));
    assert!(out.stdout.contains("InvalidInput"), "{}", out.stdout);
    assert!(out.stdout.contains("RINGIO_DEBUG"), "{}", out.stdout);
}

#[test]
fn a_detached_task_that_panicked_is_reported_once() {
    let out = run("detached", None);
    // A panic hook that prints a backtrace may hold the core long enough for a slow-poll
    // report too: only failure reports count here.
    let reports: Vec<&str> = reports(&out.stderr)
        .into_iter()
        .filter(|r| r.contains("failed and its JoinHandle was dropped"))
        .collect();
    assert_eq!(reports.len(), 2, "{}", out.stderr);
    assert!(
        reports[0].contains(r#"task "early""#) && reports[0].contains("early failure"),
        "{}",
        reports[0]
    );
    assert!(
        reports[1].contains(r#"task "late""#) && reports[1].contains("late failure"),
        "{}",
        reports[1]
    );
    assert!(
        reports
            .iter()
            .all(|r| r.contains("spawned at tests/runtime_debug.rs:"))
    );
}
