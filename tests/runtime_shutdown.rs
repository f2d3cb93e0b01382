//! Shutdown of a multi-core runtime with work pending: quick, nothing left behind.
//! (Its own test binary: it counts the process's descriptors.)

mod support;

use ringio::net::{TcpListener, TcpStream};
use ringio::time::sleep;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::fd_count;

fn two_cores() -> ringio::Runtime {
    ringio::Runtime::builder().workers(2).build().unwrap()
}

#[test]
fn shutdown_with_pending_work_on_two_cores_is_quick_and_leaks_nothing() {
    let _serial = support::serial();
    support::watchdog("two_core_shutdown", Duration::from_secs(60));
    support::rlimit::raise_nofile_limit().unwrap();
    let baseline = fd_count();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let acceptor = std::thread::spawn(move || {
        (0..500)
            .map(|_| std_listener.accept().unwrap().0)
            .collect::<Vec<_>>()
    });
    let rt = two_cores();
    let ready = Arc::new(AtomicUsize::new(0));
    let r = ready.clone();
    let ended = rt.run_per_core(move |core| {
        let ready = r.clone();
        async move {
            let listener = std::rc::Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            for _ in 0..250 {
                let s = TcpStream::connect(addr).await.unwrap();
                ringio::spawn(async move {
                    let _ = s.read(vec![0u8; 64]).await;
                });
                let l = listener.clone();
                ringio::spawn(async move {
                    let _ = l.accept().await;
                });
                ringio::spawn(sleep(Duration::from_secs(3600)));
            }
            ringio::yield_now().await;
            // 250 reads, and one multishot accept shared by the 250 accepts.
            assert!(ringio::metrics().ops_in_flight >= 251, "core {core}");
            ready.fetch_add(1, Ordering::SeqCst);
            Instant::now()
        }
    });
    let last_main = ended.into_iter().max().unwrap();
    let shutdown = last_main.elapsed();
    assert_eq!(ready.load(Ordering::SeqCst), 2);
    assert!(
        shutdown < Duration::from_secs(1),
        "shutdown took {shutdown:?}"
    );
    for m in rt.metrics_per_core() {
        assert_eq!(
            (m.tasks_alive, m.ops_in_flight, m.timers_pending),
            (0, 0, 0),
            "{m:?}"
        );
    }
    drop(acceptor.join().unwrap());
    assert_eq!(fd_count(), baseline, "descriptors leaked");
    eprintln!("2 cores, 1,500 pending ops each: shut down in {shutdown:?}");
}
