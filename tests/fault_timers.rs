//! The timer wheel under load: 100,000 random timers, half of them dropped before they
//! fire, none early, lateness bounded by a tick plus what the loop and the kernel add,
//! and the wheel empty afterwards; a 10 ms `interval` that does not drift over 30 s.
//!
//! Durations scale for a soak run: `RINGIO_SOAK_TIMER_SECS` (default 10) spreads the
//! 100,000 deadlines over that many seconds, `RINGIO_SOAK_INTERVAL_SECS` (default 30) is
//! how long the interval runs. Both tests run in parallel in this binary, so `cargo test`
//! pays about 30 s of wall time for them.
//!
//! Where a timer's lateness comes from (measured while writing this test, 2 noisy vCPUs):
//! - the wheel rounds a deadline up to its 1 ms tick (`time/mod.rs`, rule 1): uniform in
//!   [0, 1 ms), so its p99 alone is ~0.99 ms;
//! - the kernel wakes the loop's `io_uring_enter` some 20–60 µs after the tick (p50 ~30 µs:
//!   the same as a `nanosleep` with zero timer slack, i.e. the wait has no slack and this is
//!   the hypervisor and scheduler);
//! - the loop then polls the woken tasks one after another: a timer's task waits for the
//!   ones queued before it (p99 ~30 µs in release, ~65 µs in debug at this load);
//! - every 4.096 s the wheel cascades one level-2 slot (all deadlines of the next 4.096 s,
//!   ~60,000 entries here) down in one `fire_expired`: that turn takes ~5 ms (release) to
//!   ~8 ms (debug), so ~100 timers due around it fire that late. This is the usual cost of
//!   a hierarchical wheel, well under 1 % of the timers, and shows in the printed max.

mod support;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use ringio::time::{Instant, Interval, interval, sleep_until, timeout_at};

/// The wheel's resolution (`runtime/wheel.rs`, `TICK_MILLIS`).
const TICK: Duration = Duration::from_millis(1);
/// Timers created by the first test.
const TIMERS: usize = 100_000;
/// Time allowed to spawn and register every timer before the first deadline: so every
/// timer goes through the wheel (setup takes ~70 ms in release, ~200 ms in debug, and
/// past 2 s in debug at a load average of 10 on 2 CPUs).
const SETUP_MARGIN: Duration = Duration::from_secs(5);
/// The percentile of lateness the bound applies to. Not p99: the turn that cascades a
/// level-2 slot (module docs) holds up the timers due meanwhile, ~1 % of them on a quiet
/// machine and more as other processes slow that turn (p99 lateness of 33 ms, against a
/// p50 of 0.7 ms, at a load average of 8). A wheel that fires a class of timers late (a
/// deadline rounded up past its tick, a level checked too rarely, a loop that sleeps past
/// the next deadline) moves the bulk of the distribution, which p90 sees.
const LATENESS_PCT: f64 = 0.90;
/// The interval of the second test.
const PERIOD: Duration = Duration::from_millis(10);

fn env_secs(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number of seconds")),
        Err(_) => default,
    }
}

/// Nearest-rank percentile of an ascending slice.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    assert!(!sorted.is_empty(), "percentile of nothing");
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The offset a window's ticks come back to when nothing holds the core: their 10th
/// percentile. Load only adds to offsets (a tick whose core waited for a CPU resumes
/// late), so a median moves with the machine's load (by 4.5 ms at a load average of 10)
/// while the low percentile stays on the floor; drift moves the floor itself.
fn floor_of(mut v: Vec<Duration>) -> Duration {
    v.sort();
    pct(&v, 0.10)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

// ---------------------------------------------------------------- the stamping waker

/// Forwards wakes to the task's waker, counts them and records the instant of the last
/// one: for a timer that instant is inside the wheel's `fire_expired`, so it is when the
/// timer fired.
struct WakeStamp {
    last: Mutex<Option<Instant>>,
    wakes: AtomicUsize,
    task: Mutex<Option<Waker>>,
}

impl WakeStamp {
    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for WakeStamp {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.last.lock().unwrap() = Some(Instant::now());
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if let Some(task) = self.task.lock().unwrap().as_ref() {
            task.wake_by_ref();
        }
    }
}

/// Polls `fut` with a [`WakeStamp`] waker; completes with `fut`'s output and the instant
/// of the last wake before the poll that completed it (`None`: completed without a wake).
struct Stamped<F> {
    fut: F,
    stamp: Arc<WakeStamp>,
    waker: Waker,
}

impl<F: Future + Unpin> Stamped<F> {
    fn new(fut: F) -> Self {
        let stamp = Arc::new(WakeStamp {
            last: Mutex::new(None),
            wakes: AtomicUsize::new(0),
            task: Mutex::new(None),
        });
        Stamped {
            fut,
            waker: Waker::from(stamp.clone()),
            stamp,
        }
    }
}

impl<F: Future + Unpin> Future for Stamped<F> {
    type Output = (F::Output, Option<Instant>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        {
            let mut task = this.stamp.task.lock().unwrap();
            if !task.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        let woke = *this.stamp.last.lock().unwrap();
        match Pin::new(&mut this.fut).poll(&mut Context::from_waker(&this.waker)) {
            Poll::Ready(out) => Poll::Ready((out, woke)),
            Poll::Pending => Poll::Pending,
        }
    }
}

// ------------------------------------------------------------ 100,000 random timers

/// One timer that fired.
#[derive(Clone, Copy)]
struct Fired {
    deadline: Instant,
    /// When the wheel woke its task (the stamping waker).
    woke: Instant,
    /// The first instant the task saw after its `.await` returned.
    resumed: Instant,
    /// [`cpu_wait`] of the core's thread at `resumed`.
    cpu_wait: u64,
}

/// Time the calling thread has spent runnable but waiting for a CPU (second field of
/// `/proc/thread-self/schedstat`, nanoseconds): what other processes took from it.
fn cpu_wait() -> u64 {
    use std::os::unix::fs::FileExt;
    thread_local! {
        static SCHEDSTAT: std::fs::File = std::fs::File::open("/proc/thread-self/schedstat")
            .expect("/proc/thread-self/schedstat (CONFIG_SCHED_INFO)");
    }
    let mut buf = [0u8; 128];
    let n = SCHEDSTAT
        .with(|f| f.read_at(&mut buf, 0))
        .expect("read schedstat");
    std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("schedstat: on-cpu, run-queue wait, timeslices")
}

impl Fired {
    fn lateness(&self) -> Duration {
        self.resumed - self.deadline
    }
    fn poll_delay(&self) -> Duration {
        self.resumed - self.woke
    }
}

/// How a timer task ended, i.e. how many wakes the wheel owes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// A sleep that fired: exactly one wake.
    Fired,
    /// A sleep whose cancel timer fired, then dropped: exactly one wake (the cancel
    /// timer's); the dropped sleep must never fire.
    Dropped,
    /// A sleep and its cancel timer due in the same loop turn: one or two wakes.
    CancelLost,
}

#[derive(Default)]
struct Log {
    /// Sleeps that fired.
    naps: Vec<Fired>,
    /// Cancel timers (the `timeout_at` around a sleep to drop) that fired.
    cancels: Vec<Fired>,
    /// Sleeps dropped before they fired.
    dropped: usize,
    /// Sleeps meant to be dropped whose deadline came in the same loop turn as their
    /// cancel: the timeout returns the output then (timeout rule 6), so they fired.
    cancel_lost: usize,
    /// Those sleeps, as the timeout that returned their output saw them.
    lost: Vec<Fired>,
    /// Drops that did not take exactly one timer out of the wheel at once:
    /// (`timers_pending` before, after).
    bad_drops: Vec<(usize, usize)>,
    /// Timers that completed without being woken: never registered with the wheel.
    unregistered: usize,
    /// Every timer task's stamping waker and how it ended, to count, once every deadline
    /// has passed, how often the wheel woke it.
    stamps: Vec<(Arc<WakeStamp>, Ending)>,
    /// (instant, [`cpu_wait`]) at every resume, in order.
    resumes: Vec<(Instant, u64)>,
}

impl Log {
    fn resumed(&mut self, resumed: Instant) -> u64 {
        let wait = cpu_wait();
        self.resumes.push((resumed, wait));
        wait
    }
}

/// Kernel wake-up latency, sampled at the same time as the timers fire: a thread sleeps
/// until random instants (up to a tick ahead, like the loop's waits) and records how late
/// it wakes. Its timer slack is set to 1 ns because `io_uring_enter`'s wait has none (its
/// wake-ups matched a zero-slack `nanosleep`, not the default 50 µs slack).
fn sample_wakeups(from: std::time::Instant, until: std::time::Instant) -> Vec<Duration> {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and only affects this thread.
    let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    assert_eq!(rc, 0, "prctl(PR_SET_TIMERSLACK)");
    std::thread::sleep(from.saturating_duration_since(std::time::Instant::now()));
    let mut rng = support::Rng::new(0x5EED_5A4D);
    let mut late = Vec::new();
    while std::time::Instant::now() < until {
        let wait_before = cpu_wait();
        let target = std::time::Instant::now() + Duration::from_nanos(rng.below(1_000_000));
        std::thread::sleep(target.saturating_duration_since(std::time::Instant::now()));
        let late_by = std::time::Instant::now() - target;
        late.push(late_by.saturating_sub(Duration::from_nanos(cpu_wait() - wait_before)));
    }
    late.sort();
    late
}

/// 100,000 timers with deadlines uniform over 10 s (after a setup margin) on one core.
/// Every second one is wrapped in `timeout_at(cancel, &mut sleep)` with `cancel` uniform
/// between the start and a tick before the deadline: when the cancel fires, the test drops
/// the sleep itself and checks that `timers_pending` fell by exactly one at that moment,
/// i.e. the dropped timer left the wheel at once (`time/mod.rs` rule 5).
///
/// Definitions:
/// - *lateness* = the instant the task resumes after its `.await` − the deadline. The
///   deadline is the exact `ringio::time::Instant` handed to `sleep_until`/`timeout_at`
///   and the resume instant is read from the same clock, so "never early" is the exact
///   comparison `resumed >= deadline`. It is also checked on the instant the wheel woke
///   the task (a waker that stamps each wake), which is the firing itself.
/// - *poll time* of a timer = resume instant − the instant the wheel woke its task: the
///   time the loop spent polling the tasks woken before it in that turn. Its p99 is
///   measured over the same timers.
/// - *kernel wake-up latency*: see [`sample_wakeups`], sampled over the same 10 s.
/// - *CPU wait*: time the core's thread was runnable while another process held its CPU
///   (`/proc/thread-self/schedstat`, see [`cpu_wait`]); subtracted from lateness, poll time
///   and the kernel samples alike, because the bound is on the runtime, not the machine.
///
/// Bound: p90(lateness − CPU wait) ≤ 1 tick + p90(poll time − CPU wait) + p90(kernel
/// wake-up − CPU wait) ([`LATENESS_PCT`] says why p90). The kernel term is looser than
/// "1 tick + poll time": a loop asleep in `io_uring_enter` until its next tick is woken by
/// the kernel, never exactly at the tick (p50 ~20–30 µs here). Without it the percentile
/// exceeds the bound by those tens of µs on every run, since the rounding to the tick
/// alone is uniform in [0, 1 ms). The CPU-wait subtraction is needed because other
/// processes on a 2-vCPU machine (a parallel build) hold the CPU for milliseconds: raw
/// p99 lateness then reaches 5–20 ms.
#[test]
fn hundred_thousand_timers_half_dropped_none_early_and_count_returns_to_zero() {
    let secs = env_secs("RINGIO_SOAK_TIMER_SECS", 10);
    support::watchdog(
        "hundred_thousand_timers_half_dropped_none_early_and_count_returns_to_zero",
        Duration::from_secs(120.max(secs * 3 + 60)),
    );
    // A setup that outlasts its margin proves nothing either way (the first deadlines
    // passed before their timers existed): that run stops there and the test runs again
    // with three times the margin. Seen once: 7 s of setup at a load average of 9.
    for margin in [SETUP_MARGIN, SETUP_MARGIN * 3] {
        if hundred_thousand_timers_once(secs, margin) {
            return;
        }
        eprintln!("setup took longer than {margin:?}: running again with a longer margin");
    }
    panic!(
        "setup took longer than {:?}: the first deadlines passed before their timers were \
         registered",
        SETUP_MARGIN * 3
    );
}

/// One run of the test above with `margin` for the setup; `false` if the setup took
/// longer (nothing was checked).
fn hundred_thousand_timers_once(secs: u64, margin: Duration) -> bool {
    let span = Duration::from_secs(secs);
    let base = std::time::Instant::now() + margin;
    let end = base + span;
    let sampler = std::thread::spawn(move || sample_wakeups(base, end));

    ringio::run(async move {
        let baseline = ringio::metrics();
        let t0 = Instant::now();
        let base = Instant::from(base);
        let end = Instant::from(end);
        let log = Rc::new(RefCell::new(Log::default()));
        let registered = Rc::new(Cell::new(0usize));
        let mut rng = support::Rng::new(0x7133_5EED);
        let span_nanos = u64::try_from(span.as_nanos()).expect("span fits u64 nanoseconds");
        let mut handles = Vec::with_capacity(TIMERS);
        let mut to_drop = 0;
        for i in 0..TIMERS {
            let deadline = base + Duration::from_nanos(rng.below(span_nanos));
            // Every second timer is dropped, at a random instant before its deadline:
            // at least a tick before, so the cancel and the sleep fall in different ticks.
            let cancel_at = (i % 2 == 1).then(|| {
                let room = (deadline - base).saturating_sub(TICK).as_nanos() as u64;
                base + Duration::from_nanos(rng.below(room + 1))
            });
            to_drop += usize::from(cancel_at.is_some());
            let (log, registered) = (log.clone(), registered.clone());
            handles.push(ringio::spawn(async move {
                let mut nap = sleep_until(deadline);
                registered.set(registered.get() + 1);
                let Some(cancel_at) = cancel_at else {
                    let stamped = Stamped::new(&mut nap);
                    let stamp = stamped.stamp.clone();
                    let ((), woke) = stamped.await;
                    let resumed = Instant::now();
                    let mut log = log.borrow_mut();
                    log.stamps.push((stamp, Ending::Fired));
                    let cpu_wait = log.resumed(resumed);
                    match woke {
                        Some(woke) => log.naps.push(Fired {
                            deadline,
                            woke,
                            resumed,
                            cpu_wait,
                        }),
                        None => log.unregistered += 1,
                    }
                    return;
                };
                let stamped = Stamped::new(timeout_at(cancel_at, &mut nap));
                let stamp = stamped.stamp.clone();
                let (out, woke) = stamped.await;
                let resumed = Instant::now();
                let cpu_wait = log.borrow_mut().resumed(resumed);
                let ending = if out.is_ok() {
                    Ending::CancelLost
                } else {
                    Ending::Dropped
                };
                log.borrow_mut().stamps.push((stamp, ending));
                let Some(woke) = woke else {
                    log.borrow_mut().unregistered += 1;
                    return;
                };
                if out.is_ok() {
                    let mut log = log.borrow_mut();
                    log.cancel_lost += 1;
                    let fired = Fired {
                        deadline,
                        woke,
                        resumed,
                        cpu_wait,
                    };
                    log.lost.push(fired);
                    log.naps.push(fired);
                    return;
                }
                // The cancel fired and the sleep has not: drop it now.
                let before = ringio::metrics().timers_pending;
                drop(nap);
                let after = ringio::metrics().timers_pending;
                let mut log = log.borrow_mut();
                log.cancels.push(Fired {
                    deadline: cancel_at,
                    woke,
                    resumed,
                    cpu_wait,
                });
                log.dropped += 1;
                if after + 1 != before {
                    log.bad_drops.push((before, after));
                }
            }));
        }
        // Tasks start lazily: let every one of them register its timers.
        while registered.get() < TIMERS {
            ringio::yield_now().await;
        }
        let setup = t0.elapsed();
        if Instant::now() >= base {
            // The sampler thread ends by itself at `end`; the runtime drops the tasks.
            return false;
        }
        assert_eq!(
            ringio::metrics().timers_pending,
            TIMERS + to_drop,
            "every sleep and every cancel timer is in the wheel"
        );

        let now = Instant::now();
        log.borrow_mut().resumed(now);
        sleep_until(end + Duration::from_millis(20)).await;
        for h in handles {
            h.await.expect("timer task");
        }
        let m = ringio::metrics();
        assert_eq!(m.timers_pending, 0, "timers left in the wheel");
        assert_eq!(m.tasks_alive, baseline.tasks_alive, "tasks left alive");

        let log = Rc::try_unwrap(log)
            .ok()
            .expect("tasks are gone")
            .into_inner();
        let sampled = sampler.join().expect("wake-up sampler");
        report_and_check(&log, to_drop, setup, &sampled);
        true
    })
}

fn report_and_check(log: &Log, to_drop: usize, setup: Duration, kernel: &[Duration]) {
    assert_eq!(log.unregistered, 0, "timers completed without the wheel");
    // Counted after every deadline has passed: a timer fired twice, or a dropped sleep
    // that fired anyway, shows as a wake more than its ending owes.
    assert_eq!(log.stamps.len(), TIMERS, "a timer task did not finish");
    let mut wrong: Vec<(Ending, usize)> = log
        .stamps
        .iter()
        .map(|(stamp, ending)| (*ending, stamp.wakes()))
        .filter(|&(ending, wakes)| match ending {
            Ending::Fired | Ending::Dropped => wakes != 1,
            Ending::CancelLost => !(1..=2).contains(&wakes),
        })
        .collect();
    wrong.truncate(5);
    assert!(
        wrong.is_empty(),
        "timers woken other than once (a sleep fired twice, or fired after its drop): \
         (ending, wakes) {wrong:?}"
    );
    assert!(
        log.bad_drops.is_empty(),
        "{} drops did not remove their timer at once (pending before, after): {:?}",
        log.bad_drops.len(),
        &log.bad_drops[..log.bad_drops.len().min(5)]
    );
    // A cancel loses only if the loop was late by the whole gap to the sleep's deadline.
    // A cancel loses its race only when the loop reaches it after the sleep's deadline
    // too (they are at least a tick apart), so how many lose says how late the loop ran,
    // which the lateness bound below judges: 0.3 % lose on a quiet machine, 4 % beside two
    // CPU burners. What must hold for each one is that its sleep really was due: a timeout
    // that returned the sleep's output before the sleep's deadline is a sleep fired early.
    let lost_early: Vec<Duration> = log
        .lost
        .iter()
        .filter(|f| f.resumed < f.deadline)
        .map(|f| f.deadline - f.resumed)
        .collect();
    assert!(
        lost_early.is_empty(),
        "{} timeouts returned their sleep's output before its deadline (by): {:?}",
        lost_early.len(),
        &lost_early[..lost_early.len().min(5)]
    );

    let all: Vec<&Fired> = log.naps.iter().chain(&log.cancels).collect();
    let early: Vec<(Duration, Duration)> = all
        .iter()
        .filter(|f| f.woke < f.deadline || f.resumed < f.deadline)
        .map(|f| (f.deadline - f.woke, f.deadline - f.resumed))
        .collect();
    assert!(
        early.is_empty(),
        "{} timers fired early (woken before the deadline by, resumed before it by): {:?}",
        early.len(),
        &early[..early.len().min(5)]
    );

    let sorted = |f: &dyn Fn(&Fired) -> Duration, v: &[&Fired]| {
        let mut d: Vec<Duration> = v.iter().map(|x| f(x)).collect();
        d.sort();
        d
    };
    let line = |name: &str, d: &[Duration]| {
        eprintln!(
            "  {name:<26} p50 {:>8.1} µs  p99 {:>8.1} µs  p99.9 {:>8.1} µs  max {:>8.1} µs",
            us(pct(d, 0.5)),
            us(pct(d, 0.99)),
            us(pct(d, 0.999)),
            us(pct(d, 1.0))
        );
    };
    // The bound is on the runtime, not on the machine: from each figure subtract the
    // time the core's thread spent runnable but waiting for a CPU that another process
    // held ([`cpu_wait`] at the timer's resume minus at the last resume before `from`).
    // On a shared 2-vCPU machine compiling next door that wait alone is milliseconds.
    let waited = |from: Instant, f: &Fired| {
        let before = log.resumes.partition_point(|&(at, _)| at <= from);
        let wait_before = log.resumes[before.saturating_sub(1)].1;
        Duration::from_nanos(f.cpu_wait.saturating_sub(wait_before))
    };
    let own_lateness = |f: &Fired| f.lateness().saturating_sub(waited(f.deadline, f));
    let own_poll = |f: &Fired| f.poll_delay().saturating_sub(waited(f.woke, f));
    let cpu_waits = sorted(&|f: &Fired| waited(f.deadline, f), &all);
    let lateness = sorted(&own_lateness, &all);
    let poll = sorted(&own_poll, &all);
    let naps: Vec<&Fired> = log.naps.iter().collect();
    let cancels: Vec<&Fired> = log.cancels.iter().collect();
    eprintln!(
        "timers: {TIMERS} sleeps, {} fired, {} of {to_drop} dropped ({} cancels lost), {} cancel timers \
         fired; setup {setup:?}",
        log.naps.len(),
        log.dropped,
        log.cancel_lost,
        log.cancels.len()
    );
    line("lateness (all fired)", &sorted(&Fired::lateness, &all));
    line("lateness (sleeps)", &sorted(&Fired::lateness, &naps));
    line(
        "lateness (cancel timers)",
        &sorted(&Fired::lateness, &cancels),
    );
    line(
        "fired − deadline",
        &sorted(&|f: &Fired| f.woke - f.deadline, &all),
    );
    line("poll time", &sorted(&Fired::poll_delay, &all));
    line("core waited for a CPU", &cpu_waits);
    line("lateness − CPU wait", &lateness);
    line("poll time − CPU wait", &poll);
    line("kernel wake-up − CPU wait", kernel);

    let p = LATENESS_PCT;
    let bound = TICK + pct(&poll, p) + pct(kernel, p);
    eprintln!(
        "  p{0:.0} lateness {1:.1} µs <= bound {2:.1} µs (1 tick + p{0:.0} poll time + p{0:.0} \
         kernel wake-up)",
        p * 100.0,
        us(pct(&lateness, p)),
        us(bound)
    );
    assert!(
        pct(&lateness, p) <= bound,
        "p{0:.0} lateness {1:?} exceeds 1 tick + p{0:.0} poll time {2:?} + p{0:.0} kernel \
         wake-up {3:?}",
        p * 100.0,
        pct(&lateness, p),
        pct(&poll, p),
        pct(kernel, p)
    );
}

// --------------------------------------------------------------------- the interval

/// A 10 ms `interval` for 30 s. Each tick's *offset* = the instant the task resumes after
/// `tick().await` − its place on the schedule, start + n × period (`tick` returns that
/// scheduled instant; start is the first tick's). Drift, the error that accumulates, is
/// the floor offset ([`floor_of`]) over the last second minus that over the first; it
/// must stay within a tick. Every deadline start + n × period has the same phase against
/// the wheel's 1 ms ticks, so rounding adds the same amount to every offset and cancels
/// out of the drift.
///
/// Missed ticks (`time/interval.rs`): when a tick completes, the next one is scheduled
/// at the first point of the schedule after that moment: the next point if it is still
/// ahead, else the points already passed are skipped, never delivered in a burst. Each
/// tick's completion is bracketed (the clock read just before and just after the poll
/// that completed it), so the next tick's number must lie between the first point after
/// each end of the bracket. The test blocks its thread for [`STALL`] twice, mid-run, so
/// the skip path runs on every run, not only on a loaded machine.
#[test]
fn interval_of_ten_ms_does_not_drift() {
    let secs = env_secs("RINGIO_SOAK_INTERVAL_SECS", 30);
    support::watchdog(
        "interval_of_ten_ms_does_not_drift",
        Duration::from_secs(60.max(secs * 2 + 30)),
    );
    let duration = Duration::from_secs(secs);
    let points = u64::try_from(duration.as_nanos() / PERIOD.as_nanos()).unwrap();
    let window = u64::try_from(Duration::from_secs(1).as_nanos() / PERIOD.as_nanos()).unwrap();
    assert!(
        points >= 2 * window,
        "RINGIO_SOAK_INTERVAL_SECS must be at least 2"
    );
    // After these ticks the thread blocks for STALL: the middle of the run, away from the
    // first and last second whose floors give the drift.
    let stalls = [points / 2, points / 2 + window / 2];

    ringio::run(async move {
        let baseline = ringio::metrics();
        let mut ticks = interval(PERIOD);
        let (start, before, after) = tick_bracketed(&mut ticks).await;
        let mut completed = (before, after);
        // (n, offset) of each tick after the first.
        let mut seen: Vec<(u64, Duration)> = Vec::with_capacity(points as usize);
        let mut early = Vec::new();
        let mut off_schedule = Vec::new();
        let (mut last_n, mut skipped) = (0u64, 0u64);
        // Number of the first schedule point after `at`, and after tick `last_n`.
        let first_after = |at: Instant, last_n: u64| {
            let passed = at
                .checked_duration_since(start)
                .unwrap_or_default()
                .as_nanos()
                / PERIOD.as_nanos();
            (u64::try_from(passed).unwrap() + 1).max(last_n + 1)
        };
        loop {
            let (tick, before, after) = tick_bracketed(&mut ticks).await;
            let resumed = Instant::now();
            let since = tick - start;
            assert_eq!(
                since.as_nanos() % PERIOD.as_nanos(),
                0,
                "tick {tick:?} is off the schedule"
            );
            let n = u64::try_from(since.as_nanos() / PERIOD.as_nanos()).unwrap();
            assert!(n > last_n, "tick {n} after tick {last_n}: not forward");
            skipped += n - last_n - 1;
            let expected = first_after(completed.0, last_n)..=first_after(completed.1, last_n);
            if !expected.contains(&n) {
                off_schedule.push((last_n, n, expected));
            }
            match resumed.checked_duration_since(tick) {
                Some(offset) => seen.push((n, offset)),
                None => early.push((n, tick - resumed)),
            }
            (last_n, completed) = (n, (before, after));
            if stalls.contains(&n) {
                std::thread::sleep(STALL);
            }
            if n >= points {
                break;
            }
        }
        drop(ticks);
        let m = ringio::metrics();
        assert_eq!(m.timers_pending, 0, "the interval's timer is gone");
        assert_eq!(m.tasks_alive, baseline.tasks_alive);

        assert!(early.is_empty(), "ticks completed early (n, by): {early:?}");
        off_schedule.truncate(5);
        assert!(
            off_schedule.is_empty(),
            "ticks not at the first point after the previous tick completed: a burst or an \
             early skip (previous n, next n, allowed n): {off_schedule:?}"
        );
        // Each stall passes a point of the schedule (STALL > PERIOD): the next tick is
        // late and the one after skips what passed meanwhile.
        assert!(
            skipped >= stalls.len() as u64,
            "{skipped} points skipped after {} stalls of {STALL:?}",
            stalls.len()
        );
        let received = seen.len() as u64 + 1;

        let first: Vec<Duration> = seen
            .iter()
            .filter(|(n, _)| *n <= window)
            .map(|x| x.1)
            .collect();
        let last: Vec<Duration> = seen
            .iter()
            .filter(|(n, _)| *n > points - window)
            .map(|x| x.1)
            .collect();
        let (first_len, last_len) = (first.len(), last.len());
        let (first, last) = (floor_of(first), floor_of(last));
        let drift = last.abs_diff(first);
        let mut all: Vec<Duration> = seen.iter().map(|x| x.1).collect();
        all.sort();
        eprintln!(
            "interval {PERIOD:?} for {duration:?}: {received} ticks, {skipped} skipped points \
             ({} stalls of {STALL:?}); floor offset first second {:.1} µs ({first_len} \
             ticks), last second {:.1} µs ({last_len} ticks), drift {:.1} µs; offset p50 \
             {:.1} µs p99 {:.1} µs max {:.1} µs",
            stalls.len(),
            us(first),
            us(last),
            us(drift),
            us(pct(&all, 0.5)),
            us(pct(&all, 0.99)),
            us(pct(&all, 1.0)),
        );
        assert!(
            drift <= TICK,
            "the interval drifted {drift:?} (floor offset {first:?} in the first second, \
             {last:?} in the last)"
        );
    });
}

/// How long the interval test blocks its thread, twice: 2.5 periods, so schedule points
/// pass while the task cannot run.
const STALL: Duration = Duration::from_millis(25);

/// The next tick, with the clock read just before and just after the poll that
/// completed it: the interval computed the following tick between the two.
async fn tick_bracketed(ticks: &mut Interval) -> (Instant, Instant, Instant) {
    std::future::poll_fn(|cx| {
        let before = Instant::now();
        ticks
            .poll_tick(cx)
            .map(|tick| (tick, before, Instant::now()))
    })
    .await
}
