//! `ctrl_c` completes on every core when the process gets SIGINT.
//! (Its own test binary: the signal goes to the whole process.)

mod support;

use std::time::Duration;

#[test]
fn ctrl_c_completes_every_waiter_on_every_core() {
    support::watchdog("ctrl_c", Duration::from_secs(30));
    let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    let done = rt.run_per_core(|core| async move {
        // Two waiters per core, all installed before the signal is sent.
        let a = ringio::spawn(ringio::signal::ctrl_c());
        let b = ringio::spawn(ringio::signal::ctrl_c());
        ringio::yield_now().await;
        if core == 0 {
            ringio::spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(100));
                // SAFETY: sends SIGINT to this process; the handler is installed.
                unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
            });
        }
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        core
    });
    assert_eq!(done, vec![0, 1]);
    // A later wait is not completed by the signal that already came.
    ringio::run(async {
        let r = ringio::time::timeout(Duration::from_millis(50), ringio::signal::ctrl_c()).await;
        assert!(r.is_err(), "an old signal completed a new wait");
    });
}
