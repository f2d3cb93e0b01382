#![cfg(feature = "futures-core")]
//! `futures_core::Stream` for `AsCompleted`, `mpsc::Receiver` and `Interval`: each driven
//! through `StreamExt` with its contents checked, and each raced against short timers
//! thousands of times (a `next()` dropped at a random point) with no output, message or
//! tick lost or reordered. The network streams' tests are in `stream_impls.rs`.

mod support;

use futures_core::{FusedStream, Stream};
use futures_util::StreamExt;
use ringio::channel::mpsc;
use ringio::time::{Instant, interval, sleep, timeout};

use std::time::Duration;
use support::{Rng, serial};

#[test]
fn as_completed_yields_in_completion_order() {
    let _serial = serial();
    ringio::run(async {
        let delays = [50u64, 10, 40, 0, 30, 20];
        let futs = delays.map(|ms| async move {
            sleep(Duration::from_millis(ms)).await;
            ms
        });
        let mut done = ringio::task::as_completed(futs);
        assert_eq!(done.size_hint(), (6, Some(6)));
        let first_two: Vec<u64> = (&mut done).take(2).collect().await;
        assert_eq!(first_two, [0, 10]);
        assert_eq!(Stream::size_hint(&done), (4, Some(4)));
        let rest: Vec<u64> = (&mut done)
            .filter(|ms| std::future::ready(*ms != 40))
            .collect()
            .await;
        assert_eq!(rest, [20, 30, 50]);
        assert!(done.is_terminated());
        assert_eq!(StreamExt::next(&mut done).await, None);
    });
}

#[test]
fn as_completed_next_dropped_at_random_loses_no_output() {
    let _serial = serial();
    support::watchdog("as_completed_race", Duration::from_secs(60));
    const N: u64 = 200;
    ringio::run(async {
        // Deadlines 3 ms apart and timeouts of 0-3 ms (timers fire on whole-ms ticks), so
        // that `next()` calls are dropped between outputs as well as at them.
        let start = Instant::now();
        let futs = (0..N).rev().map(|i| async move {
            ringio::time::sleep_until(start + Duration::from_millis(3 * i)).await;
            i
        });
        let mut done = ringio::task::as_completed(futs);
        let mut rng = Rng::new(3);
        let (mut got, mut cancelled) = (Vec::new(), 0u64);
        while !FusedStream::is_terminated(&done) {
            let d = Duration::from_micros(rng.below(3_000));
            match timeout(d, StreamExt::next(&mut done)).await {
                Ok(Some(i)) => got.push(i),
                Ok(None) => break,
                Err(_) => cancelled += 1,
            }
        }
        // Deadlines that pass in the same loop turn finish in any order among themselves
        // (the ordering itself is checked above with wide gaps); each output must come
        // exactly once.
        got.sort_unstable();
        assert_eq!(
            got,
            (0..N).collect::<Vec<_>>(),
            "an output lost or repeated"
        );
        assert!(cancelled > 0, "no next() was ever cancelled");
    });
}

#[test]
fn mpsc_receiver_ends_when_every_sender_is_dropped() {
    let _serial = serial();
    let (tx, rx) = mpsc::channel::<(u32, u32)>(8);
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                ringio::run(async move {
                    for i in 0..1_000 {
                        tx.send((p, i)).await.unwrap();
                    }
                });
            })
        })
        .collect();
    drop(tx);
    let got: Vec<(u32, u32)> = ringio::run(async move {
        let mut rx = rx;
        assert!(!rx.is_terminated());
        let got: Vec<_> = (&mut rx).collect().await;
        assert!(rx.is_terminated(), "ended but not terminated");
        assert_eq!(StreamExt::next(&mut rx).await, None);
        got
    });
    for p in producers {
        p.join().unwrap();
    }
    assert_eq!(got.len(), 4_000);
    for p in 0..4 {
        let mine: Vec<u32> = got.iter().filter(|m| m.0 == p).map(|m| m.1).collect();
        assert_eq!(mine, (0..1_000).collect::<Vec<_>>(), "sender {p}'s order");
    }
}

#[test]
fn mpsc_next_dropped_at_random_loses_no_message() {
    let _serial = serial();
    support::watchdog("mpsc_race", Duration::from_secs(60));
    const N: u32 = 20_000;
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    let producer = std::thread::spawn(move || {
        ringio::run(async move {
            let mut rng = Rng::new(1);
            for i in 0..N {
                tx.send(i).await.unwrap();
                if rng.below(8) == 0 {
                    sleep(Duration::from_micros(rng.below(40))).await;
                }
            }
        });
    });
    ringio::run(async {
        let mut rng = Rng::new(2);
        let (mut next, mut cancelled) = (0u32, 0u64);
        loop {
            let d = Duration::from_micros(rng.below(20));
            match timeout(d, StreamExt::next(&mut rx)).await {
                Ok(Some(i)) => {
                    assert_eq!(i, next, "a message lost or reordered");
                    next += 1;
                }
                Ok(None) => break,
                Err(_) => cancelled += 1,
            }
        }
        assert_eq!(next, N);
        assert!(cancelled > 0, "no next() was ever cancelled");
    });
    producer.join().unwrap();
}

#[test]
fn interval_ticks_on_schedule_as_a_stream() {
    let _serial = serial();
    ringio::run(async {
        let period = Duration::from_millis(10);
        let ticks = interval(period);
        assert_eq!(ticks.size_hint(), (usize::MAX, None));
        let start = Instant::now();
        let got: Vec<Instant> = ticks.take(6).collect().await;
        let elapsed = start.elapsed();
        // A tick is skipped only if the task fell a whole period behind (a loaded machine).
        for (k, w) in got.windows(2).enumerate() {
            let gap = w[1] - w[0];
            assert!(
                !gap.is_zero() && gap.as_nanos() % period.as_nanos() == 0,
                "tick {k} off the schedule: {gap:?} after the last"
            );
        }
        assert!(elapsed >= 5 * period, "six ticks in {elapsed:?}");
        assert!(
            elapsed < 5 * period + Duration::from_millis(500),
            "{elapsed:?}"
        );

        // `filter` and `map` see every tick.
        let mut evens = interval(Duration::from_millis(1))
            .enumerate()
            .filter(|(i, _)| std::future::ready(i % 2 == 0))
            .map(|(i, _)| i);
        for want in [0, 2, 4] {
            assert_eq!(evens.next().await, Some(want));
        }
    });
}

#[test]
fn interval_next_dropped_at_random_loses_no_tick() {
    let _serial = serial();
    support::watchdog("interval_race", Duration::from_secs(60));
    ringio::run(async {
        let period = Duration::from_micros(200);
        let mut ticks = interval(period);
        let first = StreamExt::next(&mut ticks).await.unwrap();
        let mut rng = Rng::new(4);
        let (mut last, mut got, mut cancelled) = (first, 0u32, 0u64);
        while got < 1_000 {
            let d = Duration::from_micros(rng.below(300));
            match timeout(d, StreamExt::next(&mut ticks)).await {
                Ok(Some(at)) => {
                    // Each tick is on the schedule and after the last; a tick is skipped
                    // only when the task fell a whole period behind, which a dropped
                    // `next()` alone must not cause.
                    let since = at - first;
                    assert_eq!(since.as_nanos() % period.as_nanos(), 0, "off the schedule");
                    assert!(at > last, "a tick came twice or out of order");
                    assert!(Instant::now() >= at, "a tick came early");
                    last = at;
                    got += 1;
                }
                Ok(None) => panic!("an interval never ends"),
                Err(_) => cancelled += 1,
            }
        }
        assert!(cancelled > 0, "no next() was ever cancelled");
    });
}

/// A `next()` polled once and dropped takes no tick: the tick it waited for is the next
/// one given, even once its time has passed.
#[test]
fn interval_tick_waited_for_by_a_dropped_next_is_given_next() {
    let _serial = serial();
    ringio::run(async {
        let period = Duration::from_millis(50);
        let mut ticks = interval(period);
        let first = StreamExt::next(&mut ticks).await.unwrap();
        assert!(support::poll_and_drop(StreamExt::next(&mut ticks)));
        // Past the second tick, less than a period behind it: it is due, not skipped.
        ringio::time::sleep_until(first + period + Duration::from_millis(10)).await;
        assert_eq!(StreamExt::next(&mut ticks).await, Some(first + period));
        assert_eq!(StreamExt::next(&mut ticks).await, Some(first + 2 * period));
    });
}
