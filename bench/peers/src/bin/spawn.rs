//! tokio's `process` beside `examples/process_bench.rs`: spawns a batch of children at
//! once on a current-thread runtime, waits for them all, and prints the same JSON object
//! (`mode` "tokio", `children`, `failed`, `wall_ms`, `cpu_ms`, `children_cpu_ms`).
//!
//! `peer-spawn [CHILDREN] [PROGRAM]` (defaults: 1000, `true`); `bench/process.sh` runs it.

use std::time::{Duration, Instant};

/// User + system CPU time of `who` (`RUSAGE_SELF` or `RUSAGE_CHILDREN`).
fn cpu(who: libc::c_int) -> Duration {
    // SAFETY: an all-zero rusage is a valid value to fill in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the live local struct.
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let children: usize = args
        .next()
        .map_or(1000, |n| n.parse().expect("CHILDREN is a number"));
    let program = args.next().unwrap_or_else(|| "true".into());
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit read and write the live local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (cpu0, kids0, start) = (
        cpu(libc::RUSAGE_SELF),
        cpu(libc::RUSAGE_CHILDREN),
        Instant::now(),
    );
    let failed = rt.block_on(async {
        let spawned: Vec<_> = (0..children)
            .map(|_| tokio::process::Command::new(&program).spawn())
            .collect();
        let mut failed = 0;
        for child in spawned {
            failed += usize::from(match child {
                Ok(mut c) => !matches!(c.wait().await, Ok(s) if s.success()),
                Err(e) => {
                    eprintln!("spawn: {e}");
                    true
                }
            });
        }
        failed
    });
    let wall = start.elapsed();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{{\"mode\":\"tokio\",\"children\":{children},\"failed\":{failed},\"wall_ms\":{:.1},\"cpu_ms\":{:.1},\"children_cpu_ms\":{:.1}}}",
        ms(wall),
        ms(cpu(libc::RUSAGE_SELF) - cpu0),
        ms(cpu(libc::RUSAGE_CHILDREN) - kids0)
    );
    std::process::exit(i32::from(failed != 0));
}
