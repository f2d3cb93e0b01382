//! `#[ringio::test]` and `#[ringio::main]` (feature `macros`): the body runs on a ringio
//! runtime with the workers asked for, `?` and `Result` work, panics fail the test, and
//! `start_paused` starts on a paused clock.

use std::time::Duration;

use ringio::time::{sleep, timeout};

#[ringio::test]
async fn the_body_runs_on_a_one_core_runtime() {
    let m = ringio::metrics();
    assert_eq!(m.tasks_alive, 0, "a fresh runtime: {m:?}");
    let task = ringio::spawn(async { 6 * 7 });
    assert_eq!(task.await.unwrap(), 42);
    sleep(Duration::from_millis(1)).await;
}

#[ringio::test(workers = 2)]
async fn workers_gives_that_many_cores() {
    assert_eq!(ringio::runtime::num_cores(), 2);
    let other = ringio::spawn_on(1, || async { std::thread::current().id() });
    assert_ne!(other.await.unwrap(), std::thread::current().id());
}

#[ringio::test(workers = 1)]
#[should_panic(expected = "spawn_on(1): this runtime has 1 cores")]
async fn workers_one_has_no_second_core() {
    let _ = ringio::spawn_on(1, || async {}).await;
}

#[ringio::test]
async fn a_result_test_may_use_question_mark() -> std::io::Result<()> {
    let listener = ringio::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let client = ringio::net::TcpStream::connect(addr).await?;
    drop(client);
    Ok(())
}

#[ringio::test]
#[should_panic(expected = "failed inside the runtime")]
async fn a_panic_fails_the_test() {
    sleep(Duration::from_millis(1)).await;
    panic!("failed inside the runtime");
}

#[ringio::test]
async fn an_early_return_returns_from_the_body() -> Result<(), String> {
    for lap in 0..10 {
        if lap == 3 {
            return Ok(());
        }
        ringio::yield_now().await;
    }
    Err("the body ran past its return".to_string())
}

#[cfg(feature = "test-util")]
#[ringio::test(start_paused = true)]
async fn start_paused_runs_on_a_paused_clock() {
    let start = ringio::time::Instant::now();
    let wall = std::time::Instant::now();
    let late = timeout(Duration::from_secs(60), sleep(Duration::from_secs(3600))).await;
    assert!(late.is_err());
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    assert!(wall.elapsed() < Duration::from_secs(30), "the clock jumped");
    ringio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(61));
}

#[cfg(feature = "test-util")]
#[ringio::test(start_paused = false)]
async fn start_paused_false_keeps_the_real_clock() {
    let start = ringio::time::Instant::now();
    sleep(Duration::from_millis(5)).await;
    assert!(start.elapsed() >= Duration::from_millis(5));
    ringio::time::pause(); // not paused yet: this does not panic
}

#[ringio::test]
async fn timeouts_work_on_the_real_clock() {
    assert!(
        timeout(Duration::from_millis(5), sleep(Duration::from_secs(60)))
            .await
            .is_err()
    );
}
