//! What a wake-up costs the thread that sends it: the one number behind the epoll
//! backend's figures on a virtual machine. A sleeper thread, pinned to one CPU, waits in
//! `epoll_wait` on an eventfd; a waker, pinned to another, writes the eventfd every
//! `--gap-us` microseconds (busy-waiting between writes, so its own CPU never idles) and
//! times each `write(2)`. That write runs the wake-up: `ep_poll_callback` finds the
//! sleeper on the epoll instance's wait queue and wakes it, which sends an interrupt to
//! its CPU if that CPU is idle and not polling. The same writes are then timed with the
//! sleeper spinning on the eventfd instead of sleeping, so nothing waits to be woken.
//!
//! On a guest whose idle CPUs halt at once (`guest_halt_poll_ns` = 0) the interrupt is
//! a VM exit paid by the waker; where the idle CPU polls, or on bare metal, it is not.
//!
//! `cargo run --release -p ringio-peers --bin peer-wake -- --sleeper-cpu 0 --waker-cpu 1`

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const USAGE: &str = "peer-wake [--sleeper-cpu 0] [--waker-cpu 1] [--gap-us 100] [--count 20000]";

struct Args {
    sleeper_cpu: usize,
    waker_cpu: usize,
    gap: Duration,
    count: usize,
}

fn args() -> Args {
    let mut a = Args {
        sleeper_cpu: 0,
        waker_cpu: 1,
        gap: Duration::from_micros(100),
        count: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v: u64 = ringio_peers::parse_value(&flag, it.next(), USAGE);
        match flag.as_str() {
            "--sleeper-cpu" => a.sleeper_cpu = v as usize,
            "--waker-cpu" => a.waker_cpu = v as usize,
            "--gap-us" => a.gap = Duration::from_micros(v),
            "--count" => a.count = (v as usize).max(1),
            _ => ringio_peers::bad_usage(&format!("unknown flag {flag}"), USAGE),
        }
    }
    // Two threads on one CPU would measure the scheduler, not a wake-up across CPUs.
    let allowed = ringio_peers::allowed_cpus();
    if a.sleeper_cpu == a.waker_cpu
        || !allowed.contains(&a.sleeper_cpu)
        || !allowed.contains(&a.waker_cpu)
    {
        ringio_peers::bad_usage(
            &format!("name two different CPUs this process may use: {allowed:?}"),
            USAGE,
        );
    }
    a
}

/// An eventfd in an edge-triggered epoll set.
struct Bell {
    efd: OwnedFd,
    epfd: OwnedFd,
}

impl Bell {
    fn new() -> std::io::Result<Bell> {
        let owned = |fd: libc::c_int| {
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: a descriptor just returned by the kernel, owned by nobody else.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        };
        // SAFETY: plain descriptor-creating calls; their results are checked above.
        let efd = owned(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        let epfd = owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: 0,
        };
        // SAFETY: both descriptors are live; `ev` is a live local.
        let rc = unsafe {
            libc::epoll_ctl(
                epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                efd.as_raw_fd(),
                &mut ev,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Bell { efd, epfd })
    }

    fn ring(&self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a live local.
        unsafe { libc::write(self.efd.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    fn drain(&self) {
        let mut n = 0u64;
        // SAFETY: reads 8 bytes into a live local; the eventfd is nonblocking.
        unsafe { libc::read(self.efd.as_raw_fd(), (&raw mut n).cast(), 8) };
    }

    /// Sleeps in epoll_wait until rung (or 100 ms pass).
    fn wait(&self) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: one event slot, a live local.
        unsafe { libc::epoll_wait(self.epfd.as_raw_fd(), &mut ev, 1, 100) };
    }
}

/// Times `count` writes to the bell while the other thread `sleeps` in epoll_wait (or
/// spins on the eventfd). Returns the sorted write times in nanoseconds.
fn run(a: &Args, sleeps: bool) -> std::io::Result<Vec<u64>> {
    let bell = Arc::new(Bell::new()?);
    let stop = Arc::new(AtomicBool::new(false));
    let sleeper = {
        let (bell, stop, cpu) = (bell.clone(), stop.clone(), a.sleeper_cpu);
        std::thread::spawn(move || {
            ringio_peers::pin_current_thread(cpu);
            while !stop.load(Ordering::Relaxed) {
                if sleeps {
                    bell.wait();
                }
                bell.drain();
            }
        })
    };
    ringio_peers::pin_current_thread(a.waker_cpu);
    std::thread::sleep(Duration::from_millis(10));
    let mut times = Vec::with_capacity(a.count);
    for _ in 0..a.count {
        let idle = Instant::now();
        while idle.elapsed() < a.gap {
            std::hint::spin_loop();
        }
        let t = Instant::now();
        bell.ring();
        times.push(t.elapsed().as_nanos() as u64);
    }
    stop.store(true, Ordering::Relaxed);
    bell.ring();
    sleeper.join().expect("the sleeper does not panic");
    times.sort_unstable();
    Ok(times)
}

fn main() -> std::io::Result<()> {
    let a = args();
    let pct = |t: &[u64], p: f64| t[((t.len() - 1) as f64 * p) as usize];
    for (name, sleeps) in [("sleeper", true), ("no_sleeper", false)] {
        let t = run(&a, sleeps)?;
        println!(
            "{{\"write_with\":\"{name}\",\"count\":{},\"gap_us\":{},\"p10_ns\":{},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{}}}",
            t.len(),
            a.gap.as_micros(),
            pct(&t, 0.10),
            pct(&t, 0.50),
            pct(&t, 0.90),
            pct(&t, 0.99)
        );
    }
    Ok(())
}
