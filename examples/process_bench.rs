//! Spawns a batch of child processes at once and reaps them all, and says what it cost:
//! wall time, this process's CPU time (user + system) and the children's. The same batch
//! runs on ringio (`process::Command` on one core: pidfd waits through the ring) or on
//! std threads (`std::process::Command`, a blocking `wait` per child, `--threads` at a
//! time); `bench/process.sh` sets both beside tokio's `process`.
//!
//! ```sh
//! cargo run --release --example process_bench -- --children 1000 --mode ringio
//! cargo run --release --example process_bench -- --children 1000 --mode std --threads 64
//! ```
//!
//! `--program` (default `true`) is run with no arguments and its exit status checked;
//! `--json` prints one JSON object (`mode`, `children`, `wall_ms`, `cpu_ms`,
//! `children_cpu_ms`).

#[path = "common/rlimit.rs"]
mod rlimit;

use clap::{Parser, ValueEnum};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// `ringio::process::Command` on one core.
    Ringio,
    /// `std::process::Command` on `--threads` threads.
    Std,
}

/// Spawn and reap a batch of children.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Children in the batch, all running at once.
    #[arg(long, default_value_t = 1000)]
    children: usize,
    /// Who spawns and waits.
    #[arg(long, value_enum, default_value_t = Mode::Ringio)]
    mode: Mode,
    /// Threads for `--mode std`, each spawning and waiting for its share in turn.
    #[arg(long, default_value_t = 64)]
    threads: usize,
    /// The program each child runs.
    #[arg(long, default_value = "true")]
    program: String,
    /// Print one JSON object instead of a line of text.
    #[arg(long)]
    json: bool,
}

/// User + system CPU time of `who` (`RUSAGE_SELF` or `RUSAGE_CHILDREN`).
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: an all-zero rusage is a valid value to fill in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the live local struct.
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Runs the batch on ringio; the number of children that failed.
fn on_ringio(args: &Args) -> usize {
    ringio::run(async {
        let spawned: Vec<_> = (0..args.children)
            .map(|_| ringio::process::Command::new(&args.program).spawn())
            .collect();
        let mut failed = 0;
        for child in spawned {
            match child {
                Ok(mut c) => failed += usize::from(!matches!(c.wait().await, Ok(s) if s.success())),
                Err(e) => {
                    eprintln!("spawn: {e}");
                    failed += 1;
                }
            }
        }
        failed
    })
}

/// Runs the batch on std threads; the number of children that failed.
fn on_threads(args: &Args) -> usize {
    let threads = args.threads.clamp(1, args.children.max(1));
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let share = args.children / threads + usize::from(t < args.children % threads);
                s.spawn(move || {
                    // This thread's share runs at once; then it waits for each in turn.
                    let spawned: Vec<_> = (0..share)
                        .map(|_| std::process::Command::new(&args.program).spawn())
                        .collect();
                    let mut failed = 0;
                    for child in spawned {
                        failed += usize::from(match child {
                            Ok(mut c) => !c.wait().is_ok_and(|s| s.success()),
                            Err(e) => {
                                eprintln!("spawn: {e}");
                                true
                            }
                        });
                    }
                    failed
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = rlimit::raise_nofile_limit() {
        eprintln!("cannot raise RLIMIT_NOFILE: {e}");
    }
    let (cpu0, kids0, start) = (
        cpu(libc::RUSAGE_SELF),
        cpu(libc::RUSAGE_CHILDREN),
        Instant::now(),
    );
    let failed = match args.mode {
        Mode::Ringio => on_ringio(&args),
        Mode::Std => on_threads(&args),
    };
    let wall = start.elapsed();
    let (own, kids) = (
        cpu(libc::RUSAGE_SELF) - cpu0,
        cpu(libc::RUSAGE_CHILDREN) - kids0,
    );
    let mode = format!("{:?}", args.mode).to_lowercase();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if args.json {
        println!(
            "{{\"mode\":\"{mode}\",\"children\":{},\"failed\":{failed},\"wall_ms\":{:.1},\"cpu_ms\":{:.1},\"children_cpu_ms\":{:.1}}}",
            args.children,
            ms(wall),
            ms(own),
            ms(kids)
        );
    } else {
        println!(
            "{mode}: {} children in {:.1} ms wall, {:.1} ms CPU here, {:.1} ms in the children ({failed} failed)",
            args.children,
            ms(wall),
            ms(own),
            ms(kids)
        );
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
