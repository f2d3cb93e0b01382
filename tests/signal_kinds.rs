//! `signal(kind)` for signals other than SIGINT: bursts wake every listener on every
//! core and lose no final delivery, each signal completes only its own listeners, a
//! delivery between two `recv`s completes the next at once, uncatchable kinds are
//! refused, and dropped listeners free their slot and descriptors.
//!
//! Signals go to the whole process, so every test holds `support::serial()` and uses
//! signals of its own (SIGINT is `signal_ctrl_c.rs`'s).

mod support;

use ringio::signal::{Signal, SignalKind, signal};
use std::io::ErrorKind;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// How long a listener is given to see a delivery: far beyond a loaded machine's
/// scheduling delay, and only reached when a delivery is lost.
const DELIVERY_LIMIT: Duration = Duration::from_secs(20);
/// How long a listener that must not complete is watched. A wrong completion comes at
/// once; waiting longer only slows the test.
const QUIET: Duration = Duration::from_millis(100);

/// Sends `signo` to this thread; the handler has run when this returns (`man 3 raise`).
fn raise(signo: i32) {
    // SAFETY: raise(3) only sends a signal; every test installs its handler first.
    assert_eq!(unsafe { libc::raise(signo) }, 0, "raise({signo})");
}

/// Sends `signo` to this process (any thread may run the handler).
fn kill_self(signo: i32) {
    // SAFETY: kill(2) only sends a signal; every test installs its handler first.
    assert_eq!(
        unsafe { libc::kill(libc::getpid(), signo) },
        0,
        "kill({signo})"
    );
}

/// Listeners of the burst test: two per core.
const LISTENERS_PER_CORE: usize = 2;
const CORES: usize = 2;
const BURSTS: u64 = 100;
const PER_BURST: u64 = 10;

/// What the burst test's threads share.
struct Bursts {
    /// Listeners whose `Signal` exists.
    ready: AtomicU64,
    /// The burst being sent (1-based), stored before its first delivery.
    burst: AtomicU64,
    /// Per listener: the burst it saw last (`burst` read after a `recv` returned).
    acked: [AtomicU64; CORES * LISTENERS_PER_CORE],
    /// Per listener: how many `recv`s returned.
    wakes: [AtomicU64; CORES * LISTENERS_PER_CORE],
    /// Cores that finished their idle check.
    idle_checked: AtomicU64,
    /// Set before the last delivery, which ends the listeners.
    done: AtomicBool,
}

impl Bursts {
    fn all_acked(&self, burst: u64) -> bool {
        self.acked.iter().all(|a| a.load(Ordering::SeqCst) >= burst)
    }

    /// Waits until `cond` holds; panics naming `what` past [`DELIVERY_LIMIT`].
    fn wait(&self, what: &str, cond: impl Fn() -> bool) {
        let start = Instant::now();
        while !cond() {
            assert!(
                start.elapsed() < DELIVERY_LIMIT,
                "{what} not within {DELIVERY_LIMIT:?}; acked {:?}",
                self.acked
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One listener: counts its wakes and acknowledges the burst it saw, until `done`.
async fn listen(mut sig: Signal, index: usize, shared: Arc<Bursts>) {
    while sig.recv().await.is_some() {
        shared.wakes[index].fetch_add(1, Ordering::SeqCst);
        shared.acked[index].store(shared.burst.load(Ordering::SeqCst), Ordering::SeqCst);
        if shared.done.load(Ordering::SeqCst) {
            return;
        }
    }
    panic!("listener {index}: recv returned None");
}

#[test]
fn bursts_wake_every_listener_on_every_core_and_lose_no_final_delivery() {
    let _serial = support::serial();
    support::watchdog("signal bursts", Duration::from_secs(120));
    let shared = Arc::new(Bursts {
        ready: AtomicU64::new(0),
        burst: AtomicU64::new(0),
        acked: Default::default(),
        wakes: Default::default(),
        idle_checked: AtomicU64::new(0),
        done: AtomicBool::new(false),
    });
    let sender = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let listeners = (CORES * LISTENERS_PER_CORE) as u64;
            shared.wait("listeners ready", || {
                shared.ready.load(Ordering::SeqCst) == listeners
            });
            for burst in 1..=BURSTS {
                shared.burst.store(burst, Ordering::SeqCst);
                for _ in 0..PER_BURST {
                    kill_self(libc::SIGUSR1);
                }
                shared.wait(&format!("burst {burst} seen by every listener"), || {
                    shared.all_acked(burst)
                });
            }
            shared.wait("idle checks", || {
                shared.idle_checked.load(Ordering::SeqCst) == CORES as u64
            });
            shared.done.store(true, Ordering::SeqCst);
            kill_self(libc::SIGUSR1);
        })
    };
    let rt = ringio::Runtime::builder().workers(CORES).build().unwrap();
    let shared_cores = shared.clone();
    rt.run_per_core(move |core| {
        let shared = shared_cores.clone();
        async move {
            let mut tasks = Vec::new();
            for i in 0..LISTENERS_PER_CORE {
                let sig = signal(SignalKind::user_defined1()).unwrap();
                shared.ready.fetch_add(1, Ordering::SeqCst);
                let index = core * LISTENERS_PER_CORE + i;
                tasks.push(ringio::spawn(listen(sig, index, shared.clone())));
            }
            // Every burst seen: the listeners now wait in `recv`, which must sleep.
            let all_seen = support::settle(DELIVERY_LIMIT, || shared.all_acked(BURSTS)).await;
            assert!(all_seen, "core {core}: the last burst was not seen by all");
            support::assert_core_idle("1,000 deliveries, with listeners waiting").await;
            shared.idle_checked.fetch_add(1, Ordering::SeqCst);
            for t in tasks {
                t.await.unwrap();
            }
        }
    });
    sender.join().expect("sender thread");
    for (i, w) in shared.wakes.iter().enumerate() {
        let w = w.load(Ordering::SeqCst);
        // At least one wake per burst (each acknowledged); at most one per delivery.
        assert!(
            (BURSTS + 1..=BURSTS * PER_BURST + 1).contains(&w),
            "listener {i} woke {w} times for {BURSTS} bursts of {PER_BURST}"
        );
    }
}

#[test]
fn each_signal_completes_only_its_own_listeners() {
    let _serial = support::serial();
    support::watchdog("signal kinds apart", Duration::from_secs(60));
    ringio::run(async {
        let mut term = signal(SignalKind::terminate()).unwrap();
        let mut hup = signal(SignalKind::hangup()).unwrap();
        assert_eq!(term.kind(), SignalKind::terminate());

        kill_self(libc::SIGTERM);
        let got = ringio::time::timeout(DELIVERY_LIMIT, term.recv()).await;
        assert_eq!(got, Ok(Some(())), "SIGTERM did not complete its listener");
        let wrong = ringio::time::timeout(QUIET, hup.recv()).await;
        assert!(wrong.is_err(), "SIGTERM completed a SIGHUP listener");

        kill_self(libc::SIGHUP);
        let got = ringio::time::timeout(DELIVERY_LIMIT, hup.recv()).await;
        assert_eq!(got, Ok(Some(())), "SIGHUP did not complete its listener");
        let wrong = ringio::time::timeout(QUIET, term.recv()).await;
        assert!(wrong.is_err(), "SIGHUP completed a SIGTERM listener");
        support::assert_settled("SIGTERM and SIGHUP listeners").await;
    });
}

#[test]
fn delivery_between_two_recvs_completes_the_next_at_once() {
    let _serial = support::serial();
    support::watchdog("signal between recvs", Duration::from_secs(60));
    ringio::run(async {
        let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
        // Before the first recv, then between two: each completes the next recv at its
        // first poll, without waiting for the loop.
        for round in 0..3 {
            raise(libc::SIGUSR2);
            raise(libc::SIGUSR2);
            assert_eq!(
                support::poll_noop(pin!(usr2.recv())),
                Poll::Ready(Some(())),
                "round {round}: a delivery while no recv waited was lost"
            );
            // The two deliveries were one burst: reported once.
            let again = ringio::time::timeout(QUIET, usr2.recv()).await;
            assert!(again.is_err(), "round {round}: one burst reported twice");
        }
        // A delivery while the recv waits in its read wakes it.
        let waiting = ringio::spawn(async move {
            usr2.recv().await;
            usr2
        });
        ringio::time::sleep(Duration::from_millis(20)).await;
        raise(libc::SIGUSR2);
        let mut usr2 = ringio::time::timeout(DELIVERY_LIMIT, waiting)
            .await
            .expect("a waiting recv was not woken")
            .unwrap();
        // A recv dropped mid-wait loses nothing: the next one sees what came meanwhile.
        let dropped = ringio::time::timeout(QUIET, usr2.recv()).await;
        assert!(dropped.is_err());
        raise(libc::SIGUSR2);
        assert_eq!(support::poll_noop(pin!(usr2.recv())), Poll::Ready(Some(())));
        drop(usr2);
        support::assert_settled("SIGUSR2 listener").await;
    });
}

#[test]
fn uncatchable_and_out_of_range_kinds_are_refused() {
    let _serial = support::serial();
    for (raw, name) in [
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGSTOP, "SIGSTOP"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGILL, "SIGILL"),
        (0, "signal 0"),
        (-3, "signal -3"),
        (1000, "signal 1000"),
    ] {
        let e = signal(SignalKind::from_raw(raw)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
        assert!(e.to_string().contains(name), "{name} not named in: {e}");
    }
    // glibc keeps signals 32 and 33 for its threads: sigaction(2) refuses them.
    let e = signal(SignalKind::from_raw(32)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("signal 32"), "{e}");
}

/// Listeners the process may have at once (`ringio::signal` module docs, rule 4).
const SLOTS: usize = 256;

#[test]
fn dropped_listeners_free_their_slot_and_descriptors() {
    let _serial = support::serial();
    support::watchdog("signal drops", Duration::from_secs(120));
    ringio::run(async {
        // Fill every slot: this also makes the table's eventfds, kept for good, so the
        // baseline below counts them.
        let kind = SignalKind::window_change();
        let all: Vec<Signal> = (0..SLOTS).map(|_| signal(kind).unwrap()).collect();
        let e = signal(kind).unwrap_err();
        assert!(e.to_string().contains("256"), "the limit is not named: {e}");
        drop(all);
        let baseline = support::fd_names_settled(&[]);

        for i in 0..1000 {
            let mut sig = signal(kind).unwrap_or_else(|e| panic!("listener {i}: {e}"));
            if i % 2 == 0 {
                // Dropped with its read queued.
                support::poll_once_and_drop(sig.recv());
                drop(sig);
            } else {
                // Dropped with its read in the kernel (or the epoll set).
                let task = ringio::spawn(async move { sig.recv().await });
                ringio::yield_now().await;
                ringio::yield_now().await;
                task.cancel();
                let _ = task.await;
            }
        }
        support::assert_settled("1,000 dropped listeners").await;
        let after = support::fd_names_settled(&baseline);
        let leaked: Vec<&String> = after.iter().filter(|n| !baseline.contains(n)).collect();
        assert!(
            leaked.is_empty() && after.len() == baseline.len(),
            "{} descriptors before, {} after; new: {:?}",
            baseline.len(),
            after.len(),
            &leaked[..leaked.len().min(10)]
        );
        // Every slot is free again.
        let all: Vec<Signal> = (0..SLOTS).map(|_| signal(kind).unwrap()).collect();
        drop(all);
    });
}
