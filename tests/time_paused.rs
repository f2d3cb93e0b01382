//! The paused clock (`time::{pause, advance, resume}`, feature `test-util`): virtual time
//! that jumps when every task is idle, `advance` firing exactly what is due, `timeout`
//! and `interval` behaving as on the real clock, I/O not starved by the jumps, and clear
//! panics on misuse.

mod support;

use std::cell::{Cell, RefCell};
use std::future::pending;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use ringio::buf::IoBuf;
use ringio::net::{TcpListener, TcpStream};
use ringio::time::{
    Instant, advance, interval, interval_at, pause, resume, sleep, sleep_until, timeout,
};
use support::{DropFlag, Rng};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Wall time the virtual-day test may take. It measured about 100 ms (debug build, 2
/// cores, io_uring; 80 ms on epoll); this is 10 times that, yet a day (or a single
/// real-clock sleep among the 10,000) could never fit in it.
const VIRTUAL_DAY_WALL_LIMIT: Duration = Duration::from_secs(1);

#[test]
fn ten_thousand_sleeps_over_a_virtual_day_fire_in_order_and_on_time() {
    support::watchdog(
        "ten_thousand_sleeps_over_a_virtual_day",
        Duration::from_secs(60),
    );
    let wall = std::time::Instant::now();
    let (woken, start, end) = ringio::run(async {
        pause();
        let start = Instant::now();
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        let woken = Rc::new(RefCell::new(Vec::with_capacity(10_000)));
        let handles: Vec<_> = (0..10_000)
            .map(|_| {
                let deadline = start + Duration::from_millis(1 + rng.below(DAY_MS));
                let woken = Rc::clone(&woken);
                ringio::spawn(async move {
                    sleep_until(deadline).await;
                    woken.borrow_mut().push((deadline, Instant::now()));
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("sleeping task failed");
        }
        (
            Rc::try_unwrap(woken).expect("tasks are done").into_inner(),
            start,
            Instant::now(),
        )
    });
    let took = wall.elapsed();
    assert_eq!(woken.len(), 10_000);
    for (deadline, at) in &woken {
        // Whole-millisecond deadlines on a paused clock fire exactly on their tick.
        assert_eq!(
            *at - start,
            *deadline - start,
            "a sleep woke at another virtual time than its deadline"
        );
    }
    for pair in woken.windows(2) {
        assert!(
            pair[0].0 <= pair[1].0,
            "woke out of order: {:?} after {:?}",
            pair[1].0 - start,
            pair[0].0 - start
        );
    }
    let last = woken.iter().map(|w| w.0).max().expect("10,000 deadlines");
    assert_eq!(end, last, "the clock stops at the last deadline");
    assert!(end - start > Duration::from_millis(DAY_MS * 9 / 10));
    assert!(
        took < VIRTUAL_DAY_WALL_LIMIT,
        "a virtual day of 10,000 sleeps took {took:?} of wall time"
    );
}

#[test]
fn advance_fires_exactly_what_is_due() {
    ringio::run(async {
        pause();
        let start = Instant::now();
        let fired = Rc::new(RefCell::new(Vec::new()));
        for ms in [30u64, 10, 20] {
            let fired = Rc::clone(&fired);
            ringio::spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                fired.borrow_mut().push((ms, Instant::now() - start));
            });
        }
        ringio::yield_now().await; // the tasks register their timers
        advance(Duration::from_millis(20)).await;
        assert_eq!(
            *fired.borrow(),
            [
                (10, Duration::from_millis(10)),
                (20, Duration::from_millis(20))
            ],
            "the timers due by 20 ms fire, in order, each at its deadline"
        );
        assert_eq!(Instant::now() - start, Duration::from_millis(20));
        advance(Duration::from_millis(9)).await;
        assert_eq!(fired.borrow().len(), 2, "30 ms is not due at 29 ms");
        advance(Duration::from_millis(1)).await;
        assert_eq!(fired.borrow()[2], (30, Duration::from_millis(30)));
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
fn advance_fires_timers_set_by_the_tasks_it_woke() {
    ringio::run(async {
        pause();
        let start = Instant::now();
        let laps = Rc::new(RefCell::new(Vec::new()));
        let seen = Rc::clone(&laps);
        ringio::spawn(async move {
            for _ in 0..4 {
                sleep(Duration::from_millis(5)).await;
                seen.borrow_mut().push(Instant::now() - start);
            }
        });
        ringio::yield_now().await;
        advance(Duration::from_millis(12)).await;
        assert_eq!(
            *laps.borrow(),
            [Duration::from_millis(5), Duration::from_millis(10)],
            "a chain of sleeps advances lap by lap, and stops within the window"
        );
        advance(Duration::from_secs(1)).await;
        assert_eq!(laps.borrow().len(), 4);
        assert_eq!(laps.borrow()[3], Duration::from_millis(20));
    });
}

#[test]
fn resume_keeps_the_advanced_time_and_the_clock_never_goes_back() {
    ringio::run(async {
        let before = Instant::now();
        pause();
        let paused = Instant::now();
        assert!(paused >= before);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(Instant::now(), paused, "a paused clock stands still");
        advance(Duration::from_secs(3600)).await;
        assert_eq!(Instant::now() - paused, Duration::from_secs(3600));
        resume();
        let resumed = Instant::now();
        assert!(resumed >= paused + Duration::from_secs(3600));
        // Real time again: a short sleep takes its time.
        let wall = std::time::Instant::now();
        sleep(Duration::from_millis(5)).await;
        assert!(wall.elapsed() >= Duration::from_millis(5));
        assert!(Instant::now() >= resumed + Duration::from_millis(5));
        // And it may be paused again.
        pause();
        let again = Instant::now();
        sleep(Duration::from_secs(60)).await;
        assert_eq!(Instant::now() - again, Duration::from_secs(60));
    });
}

#[test]
fn pausing_one_core_leaves_the_others_on_real_time() {
    let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    rt.block_on(async {
        pause();
        let frozen = Instant::now();
        let other = ringio::spawn_on(1, || async {
            let start = Instant::now();
            std::thread::sleep(Duration::from_millis(5));
            Instant::now() - start
        });
        let passed = other.await.unwrap();
        assert!(passed >= Duration::from_millis(5), "core 1 keeps real time");
        assert_eq!(Instant::now(), frozen, "core 0 stays paused");
    });
}

// ---- timeout and interval: one body each, run on the real and on the paused clock ----

/// Lets `d` pass while the calling task does not poll its timers: a blocked thread on
/// the real clock, `advance` on the paused one.
async fn fall_behind(paused: bool, d: Duration) {
    if paused {
        advance(d).await;
    } else {
        std::thread::sleep(d);
    }
}

async fn timeout_body(paused: bool) {
    let d = Duration::from_millis(5);
    // Completion before the deadline returns the output and frees the timer.
    assert_eq!(
        timeout(Duration::from_secs(3600), async { 42 }).await,
        Ok(42)
    );
    assert_eq!(ringio::metrics().timers_pending, 0);
    // A result ready at the deadline wins.
    assert_eq!(timeout(d, sleep(d)).await, Ok(()));
    // Expiry is never early, and drops the inner future before returning.
    let dropped = Rc::new(Cell::new(false));
    let guard = DropFlag(Rc::clone(&dropped));
    let start = Instant::now();
    let late = timeout(d, async move {
        let _guard = guard;
        pending::<()>().await;
    })
    .await;
    assert!(late.is_err());
    assert!(dropped.get(), "the inner future is dropped on expiry");
    assert!(start.elapsed() >= d, "the timeout expired early");
    if paused {
        assert_eq!(start.elapsed(), d, "a paused clock expires exactly on time");
    }
    assert_eq!(ringio::metrics().timers_pending, 0);
}

#[test]
fn timeout_on_the_real_clock() {
    ringio::run(timeout_body(false));
}

#[test]
fn timeout_on_the_paused_clock() {
    ringio::run(async {
        pause();
        timeout_body(true).await;
    });
}

async fn interval_body(paused: bool) {
    let period = Duration::from_millis(10);
    let mut ticks = interval(period);
    let start = ticks.tick().await;
    for k in 1..=5u32 {
        sleep(Duration::from_millis(u64::from(k % 3))).await;
        let tick = ticks.tick().await;
        assert!(Instant::now() >= tick, "tick {k} completed early");
        assert_eq!(
            (tick - start).as_nanos() % period.as_nanos(),
            0,
            "tick {k} off the grid"
        );
        if paused {
            assert_eq!(
                tick,
                start + period * k,
                "tick {k} skipped on an idle clock"
            );
            assert_eq!(Instant::now(), tick, "tick {k} came late on a paused clock");
        }
    }
    // Missed ticks are skipped, not burst.
    let last = ticks.tick().await;
    fall_behind(paused, period * 7 / 2).await;
    assert_eq!(
        ticks.tick().await,
        last + period,
        "the late tick comes once"
    );
    let resumed = ticks.tick().await;
    assert!(resumed >= last + period * 4, "missed ticks were skipped");
    assert_eq!(
        (resumed - start).as_nanos() % period.as_nanos(),
        0,
        "off the grid"
    );
    // interval_at starts at its start.
    let at = Instant::now() + Duration::from_millis(5);
    let mut later = interval_at(at, period);
    assert_eq!(later.tick().await, at);
    assert!(Instant::now() >= at);
}

#[test]
fn interval_on_the_real_clock() {
    ringio::run(interval_body(false));
}

#[test]
fn interval_on_the_paused_clock() {
    ringio::run(async {
        pause();
        interval_body(true).await;
    });
}

// ---- I/O is not starved by the jumps ----

#[test]
fn a_tcp_echo_on_the_same_core_completes_under_a_paused_clock() {
    support::watchdog("tcp_echo_same_core_paused", Duration::from_secs(60));
    ringio::run(async {
        pause();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ringio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            for _ in 0..10 {
                let (n, buf) = stream.read(vec![0u8; 64]).await;
                stream.write_all(buf.slice(..n.unwrap())).await.0.unwrap();
            }
        });
        let client = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        for i in 0..10u8 {
            // A timer pending the whole time: the loop keeps looking for a jump.
            let echoed = timeout(Duration::from_secs(3600), async {
                client.write_all(vec![i; 16]).await.0.unwrap();
                let (res, buf) = client.read_exact(vec![0u8; 16]).await;
                res.unwrap();
                buf
            })
            .await
            .expect("the echo was starved: the clock jumped to the timeout");
            assert_eq!(echoed, vec![i; 16]);
        }
        assert_eq!(
            Instant::now(),
            start,
            "nothing was idle, so the clock stood still"
        );
        server.await.unwrap();
    });
}

#[test]
fn a_tcp_echo_from_another_thread_completes_while_the_clock_jumps() {
    support::watchdog("tcp_echo_thread_paused", Duration::from_secs(60));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The peer answers after a real delay, so the core idles (and jumps) meanwhile.
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(&buf).unwrap();
    });
    ringio::run(async {
        pause();
        let start = Instant::now();
        // A ticker keeps a timer pending for the whole echo, so the loop never blocks.
        let ticks = Rc::new(Cell::new(0u64));
        let count = Rc::clone(&ticks);
        let ticker = ringio::spawn(async move {
            let mut every = interval(Duration::from_millis(1));
            loop {
                every.tick().await;
                count.set(count.get() + 1);
            }
        });
        let client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"hello".to_vec()).await.0.unwrap();
        let (res, buf) = client.read_exact(vec![0u8; 5]).await;
        res.unwrap();
        assert_eq!(&buf[..], b"hello");
        assert!(
            ticks.get() > 1,
            "the clock jumped while the echo was in flight"
        );
        assert!(Instant::now() > start);
        ticker.cancel();
    });
    peer.join().unwrap();
}

// ---- misuse ----

#[test]
#[should_panic(expected = "ringio::time::pause() must be called from inside a ringio runtime")]
fn pause_outside_a_runtime_panics() {
    pause();
}

#[test]
#[should_panic(expected = "the clock of this core is already paused")]
fn pausing_twice_panics() {
    ringio::run(async {
        pause();
        pause();
    });
}

#[test]
#[should_panic(expected = "ringio::time::resume(): the clock of this core is not paused")]
fn resume_without_pause_panics() {
    ringio::run(async {
        resume();
    });
}

#[test]
#[should_panic(expected = "ringio::time::advance(5ms): the clock of this core is not paused")]
fn advance_without_pause_panics() {
    ringio::run(advance(Duration::from_millis(5)));
}
