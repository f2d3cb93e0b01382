//! Shared test tools: fd counting, a watchdog, settle-until helpers, idle-CPU checks, the
//! `serial()` lock; in submodules a quarantining allocator (`alloc`), one test re-run in a
//! child process (`child`), the examples run through cargo (`example`), futures polled by hand
//! (`poll`), a tiny PRNG (`rng`), a numbered byte stream (`sequence`), an echo server
//! under load (`server`) and a directory removed after the test (`temp_dir`).
// Each test binary uses a part of this: what another uses is neither dead nor a stray import.
#![allow(dead_code, unused_imports)]

pub mod alloc;
pub mod child;
pub mod example;
pub mod poll;
/// The examples' descriptor-limit helper, one copy for both.
#[path = "../../examples/common/rlimit.rs"]
pub mod rlimit;
pub mod rng;
pub mod sequence;
pub mod server;
pub mod temp_dir;

pub use poll::{CountingWaker, in_flight, poll_and_drop, poll_noop, poll_once_and_drop};
pub use rng::Rng;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// The backend a default runtime runs here (`RINGIO_BACKEND`, else io_uring where it
/// works): what the suite is testing in this run.
pub fn backend() -> ringio::runtime::Backend {
    static BACKEND: std::sync::OnceLock<ringio::runtime::Backend> = std::sync::OnceLock::new();
    *BACKEND.get_or_init(|| {
        ringio::Runtime::builder()
            .workers(1)
            .build()
            .expect("a default runtime starts")
            .metrics()
            .backend
    })
}

/// Whether this run tests the epoll backend.
pub fn on_epoll() -> bool {
    backend() == ringio::runtime::Backend::Epoll
}

/// For a test of something only io_uring has (ring flags, a registered ring fd, CQ
/// overflow, injected enter failures, ...): on epoll, prints why the test is skipped and
/// returns `true`, and the test returns at once.
pub fn skip_on_epoll(why: &str) -> bool {
    if on_epoll() {
        eprintln!("SKIPPED on epoll: {why}");
        return true;
    }
    false
}

/// Open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// What each open descriptor points to ("3=socket:[1234]"), sorted.
pub fn fd_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some(format!(
                "{}={}",
                e.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .filter(|n| !n.contains("/fd")) // the directory this listing reads
        .collect();
    names.sort();
    names
}

/// Whether descriptor listing entry `name` is one a runtime's core holds: its eventfd, its
/// ring or its epoll instance.
fn is_runtime_fd(name: &str) -> bool {
    [
        "anon_inode:[eventfd]",
        "anon_inode:[io_uring]",
        "anon_inode:[eventpoll]",
    ]
    .iter()
    .any(|kind| name.ends_with(kind))
}

/// Waits up to 2 s for the runtimes of earlier tests to have let go of their descriptors.
/// `run` can return while a blocking-pool thread still holds a waker of its core (it is
/// in the middle of waking it after a job), and with it the core's eventfd, until that
/// thread next gets a CPU: on a loaded machine, after the next test has begun. A baseline
/// taken then lists an eventfd that the end of the test no longer sees. Where the process
/// keeps such descriptors on purpose (the signal handler's table of eventfds, once a test
/// has listened for a signal), this waits the whole 2 s and goes on.
fn wait_for_runtimes_to_close() {
    let start = std::time::Instant::now();
    while fd_names().iter().any(|n| is_runtime_fd(n)) && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The descriptors once two reads 20 ms apart agree and equal `want` (if given), within
/// 2 s: a runtime's eventfd that a pool thread releases a moment after the test's last
/// `run` returned must not fail a check; a leaked or wrongly closed descriptor stays and
/// does.
pub fn fd_names_settled(want: &[String]) -> Vec<String> {
    let start = std::time::Instant::now();
    let mut last = fd_names();
    while start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
        let now = fd_names();
        if now == last && (want.is_empty() || now == want) {
            return now;
        }
        last = now;
    }
    last
}

/// Fails the caller if descriptors beyond those of `before` are still open once the
/// listing settles ([`fd_names_settled`]).
pub fn check_fds(before: &[String], what: &str) {
    assert_eq!(
        fd_names_settled(before),
        before,
        "{what}: descriptors leaked"
    );
}

/// Kills the process with a message if the calling test runs longer than `limit`, so a
/// hang fails instead of blocking CI. The watch ends with the calling thread (libtest runs
/// each test on its own thread), so a test that finished in time is never blamed for
/// others still running in the same process.
pub fn watchdog(name: &'static str, limit: Duration) {
    thread_local! {
        static ALIVE: std::sync::Arc<()> = std::sync::Arc::new(());
    }
    let alive = ALIVE.with(std::sync::Arc::downgrade);
    let start = std::time::Instant::now();
    std::thread::spawn(move || {
        while start.elapsed() < limit {
            if alive.strong_count() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100).min(limit));
        }
        if alive.strong_count() == 0 {
            return;
        }
        eprintln!("watchdog: {name} still running after {limit:?}; aborting");
        std::process::abort();
    });
}

/// Lets the loop turn until `cond` holds or `limit` passes; returns whether it held.
pub async fn settle(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        ringio::time::sleep(Duration::from_millis(1)).await;
    }
    cond()
}

/// CPU time the calling thread used so far (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the live local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time the process used so far, every thread counted (`getrusage(RUSAGE_SELF)`).
pub fn process_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage into the live local.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Idle CPU above this over [`IDLE_WINDOW`] means something is left spinning. A loop that
/// sleeps properly wakes a handful of times (timers of the test, the settle helper) and
/// costs well under a millisecond; a spinning loop costs the whole window. 50 ms (5 %)
/// leaves room for a noisy machine's scheduler accounting.
pub const IDLE_CPU_LIMIT: Duration = Duration::from_millis(50);
/// How long the idle measurements watch.
pub const IDLE_WINDOW: Duration = Duration::from_secs(1);

/// Sleeps [`IDLE_WINDOW`] on the current core and asserts that the core's thread used at
/// most [`IDLE_CPU_LIMIT`] of CPU meanwhile: `what` left nothing spinning. Call it from a
/// task of the core to check, once the work under test is over.
pub async fn assert_core_idle(what: &str) {
    let before = thread_cpu();
    ringio::time::sleep(IDLE_WINDOW).await;
    let used = thread_cpu() - before;
    assert!(
        used <= IDLE_CPU_LIMIT,
        "after {what}, the idle core used {used:?} of CPU in {IDLE_WINDOW:?} (limit \
         {IDLE_CPU_LIMIT:?}): something is left spinning"
    );
}

/// Waits until nothing is left in flight and no pool buffer is held on this core, and
/// fails naming `what` and the metrics if that does not come within 5 s.
pub async fn assert_settled(what: &str) {
    let settled = settle(Duration::from_secs(5), || {
        let m = ringio::metrics();
        m.ops_in_flight == 0 && m.pool_in_use == 0
    })
    .await;
    assert!(settled, "{what}: left behind: {:?}", ringio::metrics());
}

/// Serialises the tests of one binary that read process-wide counters (descriptors, live
/// heap bytes, threads, process CPU): those counters see every test running beside them.
/// In a binary where one test reads such a counter, every test takes this lock, so none
/// runs beside another. With the lock held, it waits for the runtimes of the tests before
/// to let go of their descriptors (see `wait_for_runtimes_to_close`): a baseline counted
/// after it, outside or inside the caller's own `run`, must not include a descriptor
/// about to close.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    wait_for_runtimes_to_close();
    guard
}

/// Sets its flag when dropped: proves a future (and what it holds) was dropped.
pub struct DropFlag(pub Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A connected TCP pair on loopback: (client, server side).
pub async fn tcp_pair() -> (ringio::net::TcpStream, ringio::net::TcpStream) {
    let listener = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = ringio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Reads `total` bytes that `peer` writes in 997-byte chunks, each read racing a
/// 0–50 µs timeout, and checks that no byte was lost or reordered: reads cancelled just
/// as their data landed must hand those bytes to the next read.
pub async fn timeout_read_race<R, W>(stream: &R, peer: W, total: usize)
where
    R: ringio::io::AsyncRead,
    W: std::io::Write + Send + 'static,
{
    let writer = std::thread::spawn(move || {
        let mut peer = peer;
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(997) {
            peer.write_all(chunk).unwrap();
            std::thread::yield_now();
        }
        peer
    });
    let mut got = Vec::with_capacity(total);
    let mut i = 0u64;
    while got.len() < total {
        i += 1;
        let d = Duration::from_micros(i % 51);
        if let Ok((res, buf)) = ringio::time::timeout(d, stream.read(vec![0u8; 1500])).await {
            let n = res.unwrap();
            assert!(n > 0, "unexpected EOF after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
        }
    }
    drop(writer.join().unwrap());
    assert_eq!(got.len(), total);
    for (i, b) in got.iter().enumerate() {
        assert_eq!(
            *b,
            (i % 251) as u8,
            "byte {i}: a cancelled read lost or reordered data"
        );
    }
}

/// Echoes every chunk of a multishot receive into the buffer pool (`recv_stream`) until
/// the peer closes or the connection fails, as the echo example's default server does.
pub async fn echo_stream_until_eof(stream: ringio::net::TcpStream) {
    let mut data = stream.recv_stream();
    while let Some(Ok(buf)) = data.next().await {
        if stream.write_all(buf).await.0.is_err() {
            return;
        }
    }
}

/// Echoes one pooled receive (`recv_pooled`) at a time until the peer closes or the
/// connection fails.
pub async fn echo_pooled_until_eof(stream: ringio::net::TcpStream) {
    loop {
        match stream.recv_pooled().await {
            Ok(buf) if !buf.is_empty() => {
                if stream.write_all(buf).await.0.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

/// Echoes every byte back, through one reused 4 KiB buffer, until the peer closes or the
/// connection fails.
pub async fn echo_until_eof(stream: ringio::net::TcpStream) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (res, b) = stream.read(buf).await;
        let n = match res {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let (res, b) = stream.write_all(ringio::buf::IoBuf::slice(b, ..n)).await;
        if res.is_err() {
            return;
        }
        buf = b.into_inner();
    }
}

/// Drops capabilities `caps` (numbers from linux/capability.h, all below 32) from the
/// calling thread's effective set, and from its permitted set too if `permitted` (then
/// they cannot come back). Capabilities are per thread (capset(2) on the raw syscall);
/// threads it starts afterwards, a runtime's included, inherit them.
pub fn drop_capabilities(caps: &[u32], permitted: bool) -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522; // _LINUX_CAPABILITY_VERSION_3: two Data words
    let mask = caps.iter().fold(0u32, |m, &c| m | (1 << c));
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes one header and two Data words into live locals.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    data[0].effective &= !mask;
    if permitted {
        data[0].permitted &= !mask;
    }
    // SAFETY: capset reads the same live locals.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
