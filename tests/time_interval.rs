//! `interval`: no drift, skipped missed ticks, reset, zero period.

use std::time::Duration;

use ringio::time::{Instant, interval, interval_at, sleep};

const PERIOD: Duration = Duration::from_millis(10);

#[test]
fn ten_ms_interval_over_200_ms_does_not_drift() {
    ringio::run(async {
        let mut ticks = interval(PERIOD);
        let start = ticks.tick().await;
        let mut last = 0;
        for k in 1..=20u32 {
            // Work between ticks must not push the schedule back.
            sleep(Duration::from_millis(u64::from(k % 7))).await;
            let tick = ticks.tick().await;
            assert!(Instant::now() >= tick, "tick {k} completed early");
            // No drift: every tick is exactly on the grid start + n * PERIOD. (On a loaded
            // machine a tick may come so late that the next grid point is skipped; that
            // is the documented policy, not drift.)
            let since = tick - start;
            assert_eq!(
                since.as_nanos() % PERIOD.as_nanos(),
                0,
                "tick {k} is off the grid"
            );
            let n = since.as_nanos() / PERIOD.as_nanos();
            assert!(n > last, "tick {k} did not move forward");
            last = n;
        }
        assert!(last >= 20, "20 ticks cover at least 20 periods");
    });
}

#[test]
fn missed_ticks_are_skipped_not_burst() {
    ringio::run(async {
        let mut ticks = interval(PERIOD);
        let start = ticks.tick().await;
        // Block the core for three and a half periods.
        std::thread::sleep(PERIOD * 7 / 2);
        assert_eq!(
            ticks.tick().await,
            start + PERIOD,
            "the late tick comes once"
        );
        let resumed = ticks.tick().await;
        assert!(resumed >= start + PERIOD * 4, "missed ticks were skipped");
        assert_eq!(
            (resumed - start).as_nanos() % PERIOD.as_nanos(),
            0,
            "still on the grid"
        );
    });
}

#[test]
fn interval_at_starts_at_its_start() {
    ringio::run(async {
        let start = Instant::now() + Duration::from_millis(5);
        let mut ticks = interval_at(start, PERIOD);
        assert_eq!(ticks.tick().await, start);
        let first_seen = Instant::now();
        assert!(first_seen >= start);
        let second = ticks.tick().await;
        if first_seen < start + PERIOD {
            assert_eq!(second, start + PERIOD);
        } else {
            // A loaded machine delivered the first tick a period late: the missed tick may
            // be skipped (see `missed_ticks_are_skipped_not_burst`), the grid stays.
            assert!(second >= start + PERIOD, "the second tick came early");
            assert_eq!(
                (second - start).as_nanos() % PERIOD.as_nanos(),
                0,
                "off the grid"
            );
        }
    });
}

#[test]
fn reset_restarts_the_schedule_from_now() {
    ringio::run(async {
        let mut ticks = interval(PERIOD);
        ticks.tick().await;
        let before = Instant::now();
        ticks.reset();
        let tick = ticks.tick().await;
        assert!(tick >= before + PERIOD);
        assert!(Instant::now() >= tick);
        assert_eq!(ticks.period(), PERIOD);
    });
}

#[test]
fn dropped_interval_leaves_no_timer() {
    ringio::run(async {
        let mut ticks = interval(Duration::from_secs(3600));
        ticks.tick().await;
        let waiting = ringio::spawn(async move {
            ticks.tick().await;
        });
        ringio::yield_now().await;
        assert_eq!(ringio::metrics().timers_pending, 1);
        assert!(waiting.cancel());
        assert!(waiting.await.is_err());
        assert_eq!(ringio::metrics().timers_pending, 0);
    });
}

#[test]
#[should_panic(expected = "period must be non-zero")]
fn zero_period_panics() {
    let _ = interval(Duration::ZERO);
}
