//! Choosing the backend: what `Builder::backend` and `RINGIO_BACKEND` pick, that every
//! core of a runtime runs the same one, and that the epoll backend keeps the timer
//! precision io_uring has (a 1.3 ms sleep is not rounded to a millisecond tick), with
//! `epoll_pwait2` and with the timerfd it uses where that call is missing.

mod support;

use ringio::runtime::Backend;
use std::time::{Duration, Instant};

fn runtime(backend: Backend, workers: usize) -> ringio::Runtime {
    ringio::Runtime::builder()
        .backend(backend)
        .workers(workers)
        .build()
        .expect("the runtime starts")
}

#[test]
fn epoll_asked_for_runs_on_every_core_and_says_so() {
    let _serial = support::serial();
    let rt = runtime(Backend::Epoll, 2);
    let seen = rt.run_per_core(|_| async { ringio::metrics().backend });
    assert_eq!(seen, vec![Backend::Epoll; 2]);
    let m = rt.metrics();
    assert_eq!((m.backend, m.fallback_reason), (Backend::Epoll, None));
    assert!(format!("{rt:?}").contains("backend: Epoll"), "{rt:?}");
    for core in rt.metrics_per_core() {
        assert_eq!(core.backend, Backend::Epoll);
        assert_eq!(core.ring_flags.to_string(), "none");
    }
}

#[test]
fn io_uring_asked_for_runs_io_uring_where_it_works() {
    let _serial = support::serial();
    let rt = match ringio::Runtime::builder().backend(Backend::IoUring).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("SKIPPED: io_uring does not work here: {e}");
            return;
        }
    };
    let seen = rt.run_per_core(|_| async { ringio::metrics().backend });
    assert!(seen.iter().all(|&b| b == Backend::IoUring), "{seen:?}");
    assert_eq!(rt.metrics().fallback_reason, None);
}

#[test]
fn the_default_is_what_the_environment_says_else_auto() {
    let _serial = support::serial();
    let want = match std::env::var(ringio::runtime::BACKEND_ENV) {
        Ok(v) => v
            .parse::<Backend>()
            .expect("the suite runs with a valid value"),
        Err(_) => Backend::Auto,
    };
    let got = ringio::Runtime::new().unwrap().metrics().backend;
    match want {
        Backend::Auto => assert_ne!(got, Backend::Auto, "metrics name what runs"),
        want => assert_eq!(got, want),
    }
}

/// Median lateness of 1 ms sleeps on `rt`, each started at a pseudo-random point
/// between two of the timer wheel's 1 ms ticks. The wheel fires a sleep at the first
/// tick after its deadline (0–1 ms late, half a tick on average) on both backends; a wait
/// whose timeout were rounded up to whole milliseconds would add about another half.
fn median_lateness(rt: &ringio::Runtime) -> Duration {
    rt.block_on(async {
        let mut rng = support::Rng::new(7);
        let mut late = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let phase = Duration::from_micros(rng.below(1_000));
            let spin = Instant::now();
            while spin.elapsed() < phase {}
            let start = Instant::now();
            ringio::time::sleep(SLEEP).await;
            late.push(start.elapsed().saturating_sub(SLEEP));
        }
        late.sort();
        late[SAMPLES / 2]
    })
}

const SAMPLES: usize = 300;
const SLEEP: Duration = Duration::from_millis(1);
/// How much later than io_uring's a sleep on epoll may end, at the median.
const TOLERANCE: Duration = Duration::from_micros(250);

/// The median lateness on io_uring, or half a tick where io_uring is not available.
fn io_uring_lateness() -> Duration {
    match ringio::Runtime::builder()
        .backend(Backend::IoUring)
        .workers(1)
        .build()
    {
        Ok(rt) => median_lateness(&rt),
        Err(_) => Duration::from_micros(500),
    }
}

#[test]
fn epoll_sleeps_end_as_precisely_as_on_io_uring() {
    let _serial = support::serial();
    let reference = io_uring_lateness();
    let late = median_lateness(&runtime(Backend::Epoll, 1));
    eprintln!("median lateness of a 1 ms sleep: io_uring {reference:?}, epoll_pwait2 {late:?}");
    assert!(
        late < reference + TOLERANCE,
        "epoll {late:?}, io_uring {reference:?}"
    );
}

/// Needs the fault hooks to pretend `epoll_pwait2` is missing.
#[cfg(feature = "fault-injection")]
#[test]
fn epoll_sleeps_keep_their_precision_with_a_timerfd_where_epoll_pwait2_is_missing() {
    let _serial = support::serial();
    let reference = io_uring_lateness();
    let timerfds = || {
        support::fd_names()
            .iter()
            .filter(|n| n.contains("timerfd"))
            .count()
    };
    // Core 0 is built by each `block_on` on this thread, where the fault is set.
    ringio::fault::pretend_missing(ringio::fault::Missing::EpollPwait2);
    let rt = runtime(Backend::Epoll, 1);
    assert_eq!(
        rt.block_on(async { timerfds() }),
        1,
        "the core waits with a timerfd"
    );
    let late = median_lateness(&rt);
    ringio::fault::reset();
    eprintln!("median lateness of a 1 ms sleep: io_uring {reference:?}, timerfd {late:?}");
    assert!(
        late < reference + TOLERANCE,
        "timerfd {late:?}, io_uring {reference:?}"
    );
    drop(rt);
    assert_eq!(timerfds(), 0, "the timerfd is closed with its runtime");
}
