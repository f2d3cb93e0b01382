//! A storm of timers on one core: arms `--timers` sleeps (one task each) and, while they
//! fire, measures how long the loop holds still between two polls of a probe task. A
//! loop turn that moves many timers between the timer wheel's levels shows up as a long
//! gap; the wheel spreads that work over turns (`runtime/wheel.rs`, rule 5), so no gap
//! should come from it.
//!
//! ```sh
//! # deadlines spread evenly over 1–60 s
//! cargo run --release --example timer_storm -- --timers 100000 --from-ms 1000 --to-ms 60000
//! # every deadline in one level-2 slot of the wheel (ticks 4096..8192): the worst case
//! cargo run --release --example timer_storm -- --timers 100000 --from-ms 4200 --to-ms 8100
//! # the probe sleeps 1 ms at a time instead of yielding: the loop sleeps between turns
//! cargo run --release --example timer_storm -- --probe sleep
//! ```
//!
//! The probe either yields (`--probe yield`: the loop never sleeps, and a gap is one
//! turn) or sleeps 1 ms (`--probe sleep`: a gap is how late that sleep ended). Each gap
//! is measured twice: in wall time, and in this thread's CPU time, which leaves out the
//! time the kernel ran other processes (on a loaded machine that dwarfs a turn). Printed
//! for both: the longest gap, the 99.9th percentile, how many gaps passed 1 ms; and the
//! run's length. `--json` prints one JSON object with the same fields. By default the
//! wheel's entries are first scattered in memory (`scatter`); `--sequential` skips that.

#[allow(dead_code)] // shared by the examples; this one only draws numbers
#[path = "common/rng.rs"]
mod rng;

use clap::{Parser, ValueEnum};
use rng::SplitMix64;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Probe {
    /// `yield_now` in a loop: a gap is the time between two turns.
    Yield,
    /// `sleep(1 ms)` in a loop: a gap is how late each sleep ended.
    Sleep,
}

/// Arm many sleeps and report the longest loop stall while they fire.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Sleeps armed, one task each.
    #[arg(long, default_value_t = 100_000)]
    timers: u64,
    /// Earliest deadline, in milliseconds after the runtime started.
    #[arg(long, default_value_t = 1_000)]
    from_ms: u64,
    /// Latest deadline (exclusive), in milliseconds after the runtime started.
    #[arg(long, default_value_t = 60_000)]
    to_ms: u64,
    /// How the probe task waits between two measurements.
    #[arg(long, value_enum, default_value_t = Probe::Yield)]
    probe: Probe,
    /// Skip scattering the wheel's entries in memory first (see `scatter`).
    #[arg(long)]
    sequential: bool,
    /// Print one JSON object instead of lines of text.
    #[arg(long)]
    json: bool,
}

/// CPU time this thread has used: unlike the wall clock, it does not count the time the
/// kernel gave the CPU to another process, which on a loaded machine dwarfs a turn.
fn thread_cpu() -> Duration {
    // SAFETY: an all-zero timespec is a valid value to fill in.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime writes into the live local struct.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Gaps counted in 1 µs buckets up to `BUCKETS` µs (the last bucket holds the rest).
struct Gaps {
    buckets: Vec<u64>,
    max: Duration,
    count: u64,
}

/// 100 ms in 1 µs buckets: 800 KB, and any gap worth reporting fits.
const BUCKETS: usize = 100_000;

impl Gaps {
    fn new() -> Self {
        Gaps {
            buckets: vec![0; BUCKETS],
            max: Duration::ZERO,
            count: 0,
        }
    }

    fn add(&mut self, gap: Duration) {
        let us = usize::try_from(gap.as_micros()).unwrap_or(usize::MAX);
        self.buckets[us.min(BUCKETS - 1)] += 1;
        self.max = self.max.max(gap);
        self.count += 1;
    }

    /// The smallest bucket (in µs) at or below which `per_mille`‰ of the gaps fall.
    fn quantile_us(&self, per_mille: u64) -> usize {
        let want = self.count * per_mille / 1000;
        let mut seen = 0;
        for (us, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return us;
            }
        }
        BUCKETS
    }

    fn over_1ms(&self) -> u64 {
        self.buckets[1_001..].iter().sum()
    }
}

/// Registers `n` sleeps and drops them in random order, so the wheel's free entries are
/// reused in that order and a slot's list walks memory at random, as after hours of
/// churn in a server; armed in order instead, each list would walk memory in sequence,
/// which the CPU's prefetcher makes several times cheaper than any real workload.
async fn scatter(n: u64, rng: &mut SplitMix64) {
    let far = Instant::now() + Duration::from_secs(3_600);
    let mut sleeps: Vec<_> = (0..n)
        .map(|_| Box::pin(ringio::time::sleep_until(far.into())))
        .collect();
    std::future::poll_fn(|cx| {
        for sleep in &mut sleeps {
            assert!(
                sleep.as_mut().poll(cx).is_pending(),
                "an hour has not passed"
            );
        }
        std::task::Poll::Ready(())
    })
    .await;
    for i in (1..sleeps.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        sleeps.swap(i, j);
    }
    drop(sleeps);
}

fn main() {
    let args = Args::parse();
    assert!(
        args.from_ms < args.to_ms,
        "--from-ms {} must be below --to-ms {}",
        args.from_ms,
        args.to_ms
    );
    // One core: the wheel's tick 0 is when this runtime is built, so `--from-ms` and
    // `--to-ms` name the wheel's ticks to within the few milliseconds arming takes.
    let rt = ringio::Runtime::builder()
        .workers(1)
        .build()
        .expect("a one-core runtime");
    let start = Instant::now();
    let (wall, cpu) = rt.block_on(async move {
        let mut rng = SplitMix64::new(0x9E37_79B9_7F4A_7C15);
        if !args.sequential {
            scatter(args.timers, &mut rng).await;
        }
        let left = Rc::new(Cell::new(args.timers));
        for _ in 0..args.timers {
            let at = start
                + Duration::from_millis(
                    args.from_ms + rng.next_u64() % (args.to_ms - args.from_ms),
                );
            let left = left.clone();
            ringio::spawn(async move {
                ringio::time::sleep_until(at.into()).await;
                left.set(left.get() - 1);
            });
        }
        // Every task has registered its sleep by then, and none is due yet.
        ringio::time::sleep_until((start + Duration::from_millis(args.from_ms / 2)).into()).await;
        let (mut wall, mut cpu) = (Gaps::new(), Gaps::new());
        let (mut last, mut last_cpu) = (Instant::now(), thread_cpu());
        while left.get() > 0 {
            let expected = match args.probe {
                Probe::Yield => {
                    ringio::yield_now().await;
                    last
                }
                Probe::Sleep => {
                    let due = last + Duration::from_millis(1);
                    ringio::time::sleep_until(due.into()).await;
                    due
                }
            };
            let (now, now_cpu) = (Instant::now(), thread_cpu());
            wall.add(now.saturating_duration_since(expected));
            cpu.add(now_cpu.saturating_sub(last_cpu));
            (last, last_cpu) = (now, now_cpu);
        }
        (wall, cpu)
    });
    report(&args, &wall, &cpu, start.elapsed());
}

fn report(args: &Args, wall: &Gaps, cpu: &Gaps, run: Duration) {
    let us = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1e6);
    // (JSON name, text label, value), in the order both forms print them.
    let fields = [
        ("timers", "timers", args.timers.to_string()),
        ("from_ms", "from ms", args.from_ms.to_string()),
        ("to_ms", "to ms", args.to_ms.to_string()),
        ("probe", "probe", format!("\"{:?}\"", args.probe)),
        ("gaps", "gaps", wall.count.to_string()),
        ("max_gap_us", "wall: longest µs", us(wall.max)),
        (
            "p999_gap_us",
            "wall: p99.9 µs",
            wall.quantile_us(999).to_string(),
        ),
        (
            "gaps_over_1ms",
            "wall: over 1 ms",
            wall.over_1ms().to_string(),
        ),
        ("max_cpu_gap_us", "thread CPU: longest µs", us(cpu.max)),
        (
            "p999_cpu_gap_us",
            "thread CPU: p99.9 µs",
            cpu.quantile_us(999).to_string(),
        ),
        (
            "cpu_gaps_over_1ms",
            "thread CPU: over 1 ms",
            cpu.over_1ms().to_string(),
        ),
        ("run_ms", "run ms", run.as_millis().to_string()),
    ];
    let line: Vec<String> = if args.json {
        fields
            .iter()
            .map(|(k, _, v)| format!("\"{k}\":{v}"))
            .collect()
    } else {
        fields
            .iter()
            .map(|(_, label, v)| format!("{label} {}", v.trim_matches('"')))
            .collect()
    };
    if args.json {
        println!("{{{}}}", line.join(","));
    } else {
        println!("{}", line.join("; "));
    }
}
