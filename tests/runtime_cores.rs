//! Thread per core: spawn_on, cross-core wake-ups, the blocking pool, shutdown, and an
//! SO_REUSEPORT echo server over several cores.

mod support;

use ringio::net::{TcpListener, TcpStream};
use ringio::runtime::current_core;
use ringio::time::sleep;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

fn two_cores() -> ringio::Runtime {
    ringio::Runtime::builder().workers(2).build().unwrap()
}

#[test]
fn spawn_on_every_core_returns_its_id() {
    let rt = ringio::Runtime::builder().workers(3).build().unwrap();
    rt.block_on(async {
        assert_eq!(ringio::runtime::num_cores(), 3);
        let handles: Vec<_> = (0..3)
            .map(|c| ringio::spawn_on(c, || async { current_core() }))
            .collect();
        for (c, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), c);
        }
    });
}

#[test]
fn join_handle_awaited_from_another_core() {
    let rt = two_cores();
    rt.block_on(async {
        // A task on core 1 whose handle core 0 hands to a task on core 1... and back.
        let on_one = ringio::spawn_on(1, || async {
            sleep(Duration::from_millis(5)).await;
            current_core()
        });
        let waiter = ringio::spawn_on(1, move || async move { on_one.await.unwrap() + 10 });
        assert_eq!(waiter.await.unwrap(), 11);
    });
}

#[test]
#[should_panic(expected = "this runtime has 2 cores")]
fn spawn_on_a_missing_core_panics_clearly() {
    two_cores().block_on(async {
        drop(ringio::spawn_on(7, || async {}));
    });
}

#[test]
fn run_per_core_runs_everywhere_and_keeps_order() {
    let rt = ringio::Runtime::builder().workers(4).build().unwrap();
    let out = rt.run_per_core(|core| async move {
        sleep(Duration::from_millis((4 - core as u64) * 3)).await;
        (core, current_core())
    });
    assert_eq!(out, vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
}

#[test]
fn pinning_wraps_around_and_says_so() {
    let cpus = ringio::runtime::available_cpus();
    // One core more than this process has CPUs: the plan wraps on any machine.
    let workers = cpus.len() + 1;
    let rt = ringio::Runtime::builder()
        .workers(workers)
        .pin_cores(true)
        .build()
        .unwrap();
    let plan: Vec<usize> = (0..workers).map(|core| cpus[core % cpus.len()]).collect();
    let dbg = format!("{rt:?}");
    assert!(
        dbg.contains(&format!(
            "cores on CPUs {plan:?} (more cores than CPUs: wrapped around)"
        )),
        "{dbg}"
    );
    // Each core's thread may run on its planned CPU only.
    let allowed = rt.run_per_core(|_| async { ringio::runtime::available_cpus() });
    let expected: Vec<Vec<usize>> = plan.iter().map(|&cpu| vec![cpu]).collect();
    assert_eq!(allowed, expected, "CPUs each core may run on");
    assert_eq!(
        ringio::runtime::available_cpus(),
        cpus,
        "core 0 is this thread: its CPUs come back after the call"
    );
    // As many cores as CPUs: one each, nothing wrapped.
    let rt = ringio::Runtime::builder()
        .workers(cpus.len())
        .pin_cores(true)
        .build()
        .unwrap();
    let dbg = format!("{rt:?}");
    assert!(dbg.contains(&format!("cores on CPUs {cpus:?},")), "{dbg}");
    assert!(!dbg.contains("wrapped"), "{dbg}");
}

/// A one-slot mailbox whose waker may be fired from any thread.
#[derive(Default)]
struct Mailbox {
    state: Mutex<(u64, Option<Waker>)>,
}

impl Mailbox {
    fn put(&self, v: u64) {
        let mut g = self.state.lock().unwrap();
        g.0 = v;
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }
    async fn wait_for(&self, v: u64) {
        poll_fn(|cx| {
            let mut g = self.state.lock().unwrap();
            if g.0 >= v {
                Poll::Ready(())
            } else {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

#[test]
fn million_cross_core_wakes_lose_none_and_batch_enters() {
    support::watchdog("cross_core_wakes", Duration::from_secs(240));
    // Each pair of tasks ping-pongs across the two cores; every hand-off is one
    // cross-core wake. Many pairs keep both cores busy, which is when wake-ups must not
    // cost a syscall each.
    const PAIRS: u64 = 100;
    const ROUNDS: u64 = 5_000; // 2 x 100 pairs x 5,000 = 1,000,000 wakes
    let wakes = Arc::new(AtomicUsize::new(0));
    let rt = two_cores();
    let start = Instant::now();
    let w = wakes.clone();
    rt.block_on(async move {
        let mut handles = Vec::new();
        for _ in 0..PAIRS {
            let (a, b) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
            let (a2, b2, w2) = (a.clone(), b.clone(), w.clone());
            handles.push(ringio::spawn_on(1, move || async move {
                for i in 1..=ROUNDS {
                    a2.wait_for(i).await;
                    w2.fetch_add(1, Ordering::Relaxed);
                    b2.put(i);
                }
            }));
            let w3 = w.clone();
            handles.push(ringio::spawn(async move {
                for i in 1..=ROUNDS {
                    a.put(i);
                    b.wait_for(i).await;
                    w3.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let elapsed = start.elapsed();
    let total = wakes.load(Ordering::Relaxed) as u64;
    assert_eq!(total, 2 * PAIRS * ROUNDS, "a wake-up was lost");
    let enters: u64 = rt.metrics_per_core().iter().map(|m| m.enters).sum();
    eprintln!(
        "{total} cross-core wakes in {elapsed:?} ({:.0} ns/wake), {enters} io_uring_enter calls",
        elapsed.as_nanos() as f64 / total as f64
    );
    assert!(
        enters * 4 < total,
        "{enters} enters for {total} wakes: wake-ups are not batched"
    );
}

#[test]
fn blocking_pool_runs_a_hundred_sleeps_in_parallel() {
    ringio::run(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..100)
            .map(|i| {
                ringio::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(sum, (0..100).sum::<i32>());
        let took = start.elapsed();
        eprintln!("100 blocking sleeps of 200 ms took {took:?}");
        assert!(
            took < Duration::from_secs(3),
            "took {took:?}: not run in parallel"
        );
    });
}

#[test]
fn blocking_panic_is_a_join_error() {
    ringio::run(async {
        let err = ringio::spawn_blocking(|| panic!("blocking boom"))
            .await
            .unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.to_string(), "task panicked: blocking boom");
    });
}

#[test]
fn reuseport_echo_server_spreads_2000_connections_over_two_cores() {
    support::watchdog("reuseport_echo", Duration::from_secs(120));
    support::rlimit::raise_nofile_limit().unwrap();
    const CONNS: usize = 2000;
    // Reserve a port, then let each core bind its own SO_REUSEPORT listener on it.
    let port = free_port();
    let accepted: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let bound = Arc::new(AtomicUsize::new(0));
    let (acc, b) = (accepted.clone(), bound.clone());
    let client = std::thread::spawn(move || {
        while b.load(Ordering::SeqCst) < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        ringio::run(async move {
            let conns: Vec<_> = (0..CONNS)
                .map(|i| {
                    ringio::spawn(async move {
                        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                        let msg = format!("hello {i:05}").into_bytes();
                        s.write_all(msg.clone()).await.0.unwrap();
                        let (res, back) = s.read_exact(vec![0u8; msg.len()]).await;
                        res.unwrap();
                        assert_eq!(back, msg);
                    })
                })
                .collect();
            for c in conns {
                c.await.unwrap();
            }
        });
    });
    let rt = two_cores();
    let done = Arc::new(AtomicUsize::new(0));
    rt.run_per_core(|core| {
        let (acc, bound, done) = (acc.clone(), bound.clone(), done.clone());
        async move {
            let listener = TcpListener::bind_reuse_port(("127.0.0.1", port)).unwrap();
            bound.fetch_add(1, Ordering::SeqCst);
            loop {
                let accept =
                    ringio::time::timeout(Duration::from_millis(20), listener.accept()).await;
                match accept {
                    Ok(Ok((s, _))) => {
                        acc[core].fetch_add(1, Ordering::SeqCst);
                        let done = done.clone();
                        ringio::spawn(async move {
                            let (res, buf) = s.read(vec![0u8; 64]).await;
                            let n = res.unwrap();
                            s.write_all(ringio::buf::IoBuf::slice(buf, ..n))
                                .await
                                .0
                                .unwrap();
                            done.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                    Ok(Err(e)) => panic!("accept: {e}"),
                    Err(_) if done.load(Ordering::SeqCst) == CONNS => break,
                    Err(_) => {}
                }
            }
        }
    });
    client.join().unwrap();
    let per_core = [
        accepted[0].load(Ordering::SeqCst),
        accepted[1].load(Ordering::SeqCst),
    ];
    eprintln!("accepted per core: {per_core:?}");
    assert_eq!(per_core[0] + per_core[1], CONNS);
    assert!(
        per_core[0] > 0 && per_core[1] > 0,
        "one core accepted nothing: {per_core:?}"
    );
}

/// A free loopback port: bound and released at once.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
