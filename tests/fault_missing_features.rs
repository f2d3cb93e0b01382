//! A kernel without a feature ringio prefers (forced through `ringio::fault`), or a
//! RLIMIT_MEMLOCK too low for the buffer pool: the runtime falls back, the user's code
//! never sees the kernel's EINVAL or ENOMEM, every byte still arrives, and the runtime
//! says what it fell back from (metrics, `Debug`). A RLIMIT_MEMLOCK too low for the
//! rings themselves (one per core) is a start error that names it, never a panic.
//!
//! The real-limit tests run in child processes (this binary again, one test) that drop
//! CAP_IPC_LOCK, since root is exempt from the limit; each child asserts what it expects
//! and the parent requires the child's success line. Some children count descriptors and
//! threads, so every test of this binary runs alone (`support::serial`).
//!
//! On the epoll backend the forced fallbacks of multishot accept and receive and of the
//! buffer pool, and the echo server with every optional feature missing, are tested as on
//! io_uring; what only a ring has (its flags, a registered ring fd, memory pinned against
//! RLIMIT_MEMLOCK) is skipped. A real-limit test skips in the parent, so a child, which
//! runs only when its parent did not skip, does not ask again (asking builds a runtime
//! before the child's own checks).

mod support;

use ringio::fault::{self, Missing};
use ringio::net::{TcpListener, TcpStream};
use std::io;
use std::time::Duration;

const CONNS: usize = 40;
const ROUNDS: usize = 10;

/// How the server side of [`echo_check`] receives.
#[derive(Clone, Copy, Debug)]
enum Recv {
    Owned,
    Pooled,
    Stream,
}

/// Echoes until EOF; any error fails the test (the point: no EINVAL reaches the user).
async fn echo_strict(stream: TcpStream, how: Recv) {
    match how {
        Recv::Owned => support::echo_until_eof(stream).await,
        Recv::Pooled => loop {
            let buf = stream.recv_pooled().await.expect("recv_pooled failed");
            if buf.is_empty() {
                return;
            }
            stream.write_all(buf).await.0.expect("echo write failed");
        },
        Recv::Stream => {
            let mut data = stream.recv_stream();
            while let Some(buf) = data.next().await {
                let buf = buf.expect("recv_stream failed");
                stream.write_all(buf).await.0.expect("echo write failed");
            }
        }
    }
}

/// `CONNS` clients, each `ROUNDS` random messages through a ringio echo server on this
/// core, every byte checked; the listener's accepts must not fail either.
async fn echo_check(how: Recv) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = ringio::spawn(async move {
        for _ in 0..CONNS {
            let (s, _) = listener.accept().await.expect("accept failed");
            ringio::spawn(echo_strict(s, how));
        }
    });
    let clients: Vec<_> = (0..CONNS)
        .map(|i| {
            ringio::spawn(async move {
                let s = TcpStream::connect(addr).await.unwrap();
                let mut rng = support::Rng::new(i as u64 + 7);
                for _ in 0..ROUNDS {
                    let mut msg = vec![0u8; 1 + rng.below(6000) as usize];
                    rng.fill(&mut msg);
                    let len = msg.len();
                    let (res, sent) = s.write_all(msg).await;
                    res.unwrap();
                    let (res, got) = s.read_exact(vec![0u8; len]).await;
                    res.unwrap();
                    assert!(got == sent, "client {i}: echoed bytes differ");
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    server.await.unwrap();
    support::assert_settled("the echo check").await;
}

/// Runs `f` on a fresh one-core runtime with `missing` forced on this thread; returns
/// its output and the runtime, for its `Debug` and metrics after the call.
fn with_missing<T>(missing: &[Missing], f: impl AsyncFnOnce() -> T) -> (T, ringio::Runtime) {
    fault::reset();
    for &m in missing {
        fault::pretend_missing(m);
    }
    let rt = ringio::Runtime::builder().workers(1).build().unwrap();
    let out = rt.block_on(f());
    fault::reset();
    (out, rt)
}

#[test]
fn without_multishot_accept_listeners_accept_one_at_a_time() {
    let _serial = support::serial();
    support::watchdog("no_multishot_accept", Duration::from_secs(60));
    with_missing(&[Missing::MultishotAccept], async || {
        echo_check(Recv::Owned).await;
        // Connections already waiting in the backlog: a multishot accept would take them
        // all with one SQE; one at a time, each accept is its own SQE (the first also
        // pays for the refused multishot one).
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..CONNS)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let mut sqes = Vec::new();
        for _ in 0..CONNS {
            let before = ringio::metrics().ops_submitted;
            listener.accept().await.expect("accept failed");
            sqes.push(ringio::metrics().ops_submitted - before);
        }
        assert!(
            (1..=2).contains(&sqes[0]) && sqes[1..].iter().all(|&n| n == 1),
            "SQEs per accept: {sqes:?}"
        );
        drop(clients);
    });
}

#[test]
fn without_multishot_recv_streams_receive_one_at_a_time() {
    let _serial = support::serial();
    support::watchdog("no_multishot_recv", Duration::from_secs(60));
    with_missing(&[Missing::MultishotRecv], async || {
        echo_check(Recv::Stream).await;
        assert!(ringio::metrics().pool_buffers > 0, "the pool still serves");
    });
}

#[test]
fn without_buffer_rings_pooled_receives_use_owned_buffers() {
    let _serial = support::serial();
    support::watchdog("no_buffer_ring", Duration::from_secs(60));
    with_missing(&[Missing::BufferRing], async || {
        for how in [Recv::Pooled, Recv::Stream] {
            echo_check(how).await;
        }
        let m = ringio::metrics();
        assert_eq!(m.pool_buffers, 0);
        assert!(m.pool_fallbacks >= (2 * CONNS * ROUNDS) as u64, "{m:?}");
        let why = ringio::runtime::pool_error().expect("the refusal is reported");
        assert!(why.to_string().contains("5.19"), "{why}");
    });
}

#[test]
fn without_ring_flags_a_plain_ring_serves_io_and_timers() {
    let _serial = support::serial();
    if support::skip_on_epoll("ring flags are an io_uring feature") {
        return;
    }
    support::watchdog("no_ring_flags", Duration::from_secs(60));
    // A runtime with every flag first, so a report of anything but this runtime's own
    // rings would show up below.
    let full = ringio::Runtime::builder().workers(1).build().unwrap();
    let full_flags = full.metrics().ring_flags.to_string();
    assert!(full_flags.contains("COOP_TASKRUN"), "{full_flags}");
    let ((), rt) = with_missing(&[Missing::RingFlags], async || {
        assert_eq!(ringio::metrics().ring_flags.to_string(), "none");
        for how in [Recv::Owned, Recv::Stream] {
            echo_check(how).await;
        }
        let start = std::time::Instant::now();
        ringio::time::sleep(Duration::from_millis(20)).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
    assert_eq!(rt.metrics().ring_flags.to_string(), "none");
    let dbg = format!("{rt:?}");
    assert!(dbg.contains(r#"flags: "none""#), "{dbg}");
    let dbg = format!("{full:?}");
    assert!(dbg.contains(&format!("flags: {full_flags:?}")), "{dbg}");
}

#[test]
fn runtime_reports_its_own_rings_before_and_after_a_call() {
    let _serial = support::serial();
    if support::skip_on_epoll("ring flags are an io_uring feature") {
        return;
    }
    support::watchdog("own_rings", Duration::from_secs(60));
    // Built with every flag missing on this thread: `build`'s rings and core 0's are
    // plain, core 1's (another thread) are not.
    fault::reset();
    fault::pretend_missing(Missing::RingFlags);
    let rt = ringio::Runtime::builder().workers(2).build().unwrap();
    let before = format!("{rt:?}");
    assert!(before.contains(r#"flags: "none""#), "{before}");
    let per_core = rt.run_per_core(|_| async { ringio::metrics().ring_flags });
    fault::reset();
    assert_eq!(per_core[0].to_string(), "none");
    assert_ne!(
        per_core[1].to_string(),
        "none",
        "core 1 runs on its own thread"
    );
    // The summed metrics and `Debug` name only what every core has.
    assert_eq!(rt.metrics().ring_flags.to_string(), "none");
    let ring_flags: Vec<_> = rt.metrics_per_core().iter().map(|m| m.ring_flags).collect();
    assert_eq!(ring_flags, per_core);
    let after = format!("{rt:?}");
    assert!(after.contains(r#"flags: "none""#), "{after}");
}

#[test]
fn ring_fd_is_registered_when_the_kernel_allows_it() {
    let _serial = support::serial();
    if support::skip_on_epoll("a registered ring fd is an io_uring feature") {
        return;
    }
    support::watchdog("ring_fd_registration", Duration::from_secs(60));
    let (inside, rt) = with_missing(&[], async || {
        echo_check(Recv::Stream).await;
        ringio::metrics().ring_fd_registered
    });
    assert!(
        inside,
        "this kernel ({:?}) should register the ring fd (Linux 5.18+)",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
    );
    assert!(rt.metrics().ring_fd_registered);
    let dbg = format!("{rt:?}");
    assert!(dbg.contains("ring_fd_registered: true"), "{dbg}");
}

#[test]
fn without_ring_fd_registration_enters_use_the_fd() {
    let _serial = support::serial();
    support::watchdog("no_ring_fd_registration", Duration::from_secs(60));
    let (inside, rt) = with_missing(&[Missing::RingFdRegistration], async || {
        echo_check(Recv::Stream).await;
        ringio::metrics().ring_fd_registered
    });
    assert!(
        !inside,
        "registration was refused, yet metrics say registered"
    );
    assert!(!rt.metrics().ring_fd_registered);
    let dbg = format!("{rt:?}");
    assert!(dbg.contains("ring_fd_registered: false"), "{dbg}");
}

#[test]
fn with_every_optional_feature_missing_the_echo_server_still_works() {
    let _serial = support::serial();
    support::watchdog("nothing_optional", Duration::from_secs(60));
    let all = [
        Missing::MultishotAccept,
        Missing::MultishotRecv,
        Missing::BufferRing,
        Missing::RingFlags,
        Missing::RingFdRegistration,
    ];
    with_missing(&all, async || {
        for how in [Recv::Owned, Recv::Pooled, Recv::Stream] {
            echo_check(how).await;
        }
        let m = ringio::metrics();
        assert_eq!(m.pool_buffers, 0, "{m:?}");
        assert!(
            !m.ring_fd_registered && m.ring_flags.to_string() == "none",
            "{m:?}"
        );
    });
}

#[test]
fn pool_refused_for_memlock_falls_back_and_names_memlock() {
    let _serial = support::serial();
    support::watchdog("pool_memlock_injected", Duration::from_secs(60));
    fault::reset();
    fault::fail_buffer_pool(libc::ENOMEM);
    ringio::run(async {
        echo_check(Recv::Stream).await;
        let why = ringio::runtime::pool_error().expect("the refusal is reported");
        assert!(why.to_string().contains("RLIMIT_MEMLOCK"), "{why}");
        assert_eq!(why.kind(), io::ErrorKind::OutOfMemory);
        assert!(ringio::metrics().pool_fallbacks > 0);
    });
    fault::reset();
}

/// `CAP_IPC_LOCK`, which exempts a process from RLIMIT_MEMLOCK.
const CAP_IPC_LOCK: u32 = 14;

/// Sets RLIMIT_MEMLOCK's soft limit to `soft` and its hard limit to `hard`.
fn set_memlock(soft: u64, hard: u64) {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: a valid rlimit, read during the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
    assert_eq!(
        rc,
        0,
        "setrlimit(RLIMIT_MEMLOCK, {soft}, {hard}): {}",
        io::Error::last_os_error()
    );
}

/// Child side: drops CAP_IPC_LOCK, so the kernel charges io_uring's pinned memory against
/// RLIMIT_MEMLOCK as it does for other users, and sets the limit to `soft` (hard limit
/// `hard`, so the child may raise it again up to there). Cannot be undone: children only.
fn limit_locked_memory(soft: u64, hard: u64) {
    support::drop_capabilities(&[CAP_IPC_LOCK], true).unwrap_or_else(|e| {
        panic!("cannot drop CAP_IPC_LOCK, so the limit would not apply to this process: {e}")
    });
    set_memlock(soft, hard);
}

/// Ring entries and pool sizes for the real-limit tests. A ring of 64 entries pins two
/// pages on Linux 6.18 (its SQEs, and its SQ and CQ rings), so [`LIMIT_FOR_ONE_RING`]
/// fits one and [`LIMIT_FOR_TWO_RINGS`] two; the pool's ring of 32,768 entries (512 KiB
/// pinned) fits none of the limits.
const SMALL_RING: u32 = 64;
const BIG_POOL: u16 = 32768;
const LIMIT_FOR_ONE_RING: u64 = 12 * 1024;
const LIMIT_FOR_TWO_RINGS: u64 = 20 * 1024;
const LIMIT_FOR_RING_ONLY: u64 = 128 * 1024;
/// A limit far above what the real-limit runtimes need.
const ROOMY_LIMIT: u64 = 8 * 1024 * 1024;

/// The runtime the real-limit children start.
fn small_runtime(workers: usize) -> io::Result<ringio::Runtime> {
    ringio::Runtime::builder()
        .workers(workers)
        .ring_entries(SMALL_RING)
        .buffer_pool(BIG_POOL, 64)
        .build()
}

/// Open descriptors and threads of this process (children only: they run one test).
fn fds_and_threads() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: in /proc/self/status");
    (support::fd_count(), threads)
}

/// Asserts that `e` is the start error for RLIMIT_MEMLOCK: names the limit, its value
/// (`limit` bytes) and a fix.
fn assert_memlock_start_error(e: &io::Error, limit: u64, fix: &str) {
    let msg = e.to_string();
    assert_eq!(e.kind(), io::ErrorKind::OutOfMemory, "{msg}");
    let value = format!("RLIMIT_MEMLOCK (ulimit -l, now {} KiB)", limit / 1024);
    assert!(
        msg.contains(&value),
        "the message must name {value:?}: {msg}"
    );
    assert!(msg.contains(fix), "the message must say {fix:?}: {msg}");
}

/// The tag a child prints last, once every check of its own passed.
const CHILD_OK: &str = "CHILD-OK";

/// Runs this test binary's `test` in a child with `RINGIO_MEMLOCK_CHILD` set and default
/// runtimes on io_uring only (`RINGIO_BACKEND=io_uring`), and requires
/// that it passed; shows its report (what it printed after [`CHILD_OK`]).
fn memlock_child(test: &str) {
    // The kernel charges locked memory per user, not per process, so a child of another
    // run of this binary (a second `cargo test`) would count against this child's limit:
    // one child at a time on the machine.
    let _machine = MachineLock::take();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("RINGIO_MEMLOCK_CHILD", "1")
        // io_uring itself: under `Backend::Auto` a ring the limit refuses is no start
        // error but a fallback to epoll, which the limit does not charge.
        .env(ringio::runtime::BACKEND_ENV, "io_uring")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = stdout
        .lines()
        .find_map(|l| l.split_once(CHILD_OK).map(|(_, r)| r.trim().to_string()));
    match report {
        Some(report) if out.status.success() => eprintln!("{test}: {report}"),
        _ => panic!(
            "child {test} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status
        ),
    }
}

/// How long a real-limit child may run; its parent waits longer, so that a child's hang
/// is reported by the child's watchdog, with its output, and not by the parent's.
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// The start of real-limit test `test`: in the parent, runs the child and checks it
/// passed (then `false`: the test is done); in the child, `true`: go on with the checks.
/// The parent's watchdog waits longer than the child's, so that a child's hang is
/// reported by the child, with its output.
fn runs_as_child(test: &'static str) -> bool {
    if is_child() {
        support::watchdog(test, CHILD_LIMIT);
        return true;
    }
    support::watchdog(test, CHILD_LIMIT + Duration::from_secs(30));
    memlock_child(test);
    false
}

/// Whether this process is a real-limit child.
fn is_child() -> bool {
    std::env::var_os("RINGIO_MEMLOCK_CHILD").is_some()
}

/// An exclusive `flock` on a file in the temp dir, shared by every process of this test
/// binary on the machine.
struct MachineLock {
    /// Holds the lock until dropped.
    _file: std::fs::File,
}

impl MachineLock {
    fn take() -> MachineLock {
        use std::os::fd::AsRawFd;
        let path = std::env::temp_dir().join("ringio-memlock-children.lock");
        let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        // SAFETY: flock on a descriptor this function owns; no memory involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {path:?}: {}", io::Error::last_os_error());
        MachineLock { _file: file }
    }
}

#[test]
fn real_memlock_limit_too_low_for_the_pool_falls_back_and_names_memlock() {
    let _serial = support::serial();
    if !is_child()
        && support::skip_on_epoll("only io_uring pins the pool's ring against RLIMIT_MEMLOCK")
    {
        return;
    }
    if !runs_as_child("real_memlock_limit_too_low_for_the_pool_falls_back_and_names_memlock") {
        return;
    }
    limit_locked_memory(LIMIT_FOR_RING_ONLY, LIMIT_FOR_RING_ONLY);
    let rt = small_runtime(1).expect("the limit fits the ring");
    rt.block_on(async {
        echo_check(Recv::Stream).await;
        let why = ringio::runtime::pool_error()
            .expect("the kernel should refuse a 512 KiB pool under a 128 KiB limit");
        let msg = why.to_string();
        assert_eq!(why.kind(), io::ErrorKind::OutOfMemory, "{msg}");
        assert!(
            msg.contains(&format!("RLIMIT_MEMLOCK is {LIMIT_FOR_RING_ONLY} bytes")),
            "{msg}"
        );
        let m = ringio::metrics();
        // Every receive of the echo server was one, none went to the refused pool.
        assert!(m.pool_fallbacks >= (CONNS * ROUNDS) as u64, "{m:?}");
        assert_eq!(m.pool_buffers, 0, "{m:?}");
        println!("{CHILD_OK} {} owned receives; {msg}", m.pool_fallbacks);
    });
}

#[test]
fn real_memlock_limit_too_low_for_the_ring_is_a_start_error_not_a_panic() {
    let _serial = support::serial();
    if !is_child() && support::skip_on_epoll("rings are what RLIMIT_MEMLOCK charges") {
        return;
    }
    if !runs_as_child("real_memlock_limit_too_low_for_the_ring_is_a_start_error_not_a_panic") {
        return;
    }
    limit_locked_memory(0, 0);
    let before = fds_and_threads();
    let e = small_runtime(1).expect_err("no ring fits a limit of 0");
    assert_memlock_start_error(&e, 0, "raise it");
    assert_eq!(
        fds_and_threads(),
        before,
        "(fds, threads) after the failed build"
    );
    // `run`, which has no error to return, panics with the same message.
    let panic = std::panic::catch_unwind(|| ringio::run(async {}))
        .expect_err("ringio::run must panic when no ring fits");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("RLIMIT_MEMLOCK"), "panic message: {msg:?}");
    // `Backend::Auto` falls back to epoll instead, says why, and serves.
    let rt = ringio::Runtime::builder()
        .backend(ringio::runtime::Backend::Auto)
        .workers(1)
        .ring_entries(SMALL_RING)
        .build()
        .expect("Auto falls back to epoll when no ring fits");
    let m = rt.metrics();
    assert_eq!(m.backend, ringio::runtime::Backend::Epoll, "{m:?}");
    let why = m.fallback_reason.expect("the fallback says why");
    assert!(why.contains("RLIMIT_MEMLOCK"), "{why}");
    rt.block_on(echo_check(Recv::Stream));
    println!("{CHILD_OK} {e}; Auto fell back to epoll and echoed");
}

#[test]
fn memlock_limit_that_fits_one_ring_starts_despite_the_probe_ring_just_dropped() {
    // `build`'s probe ring, and those of earlier processes and calls, are uncharged by a
    // kernel worker some time after they are dropped; the core's ring must not fail (or
    // panic in `block_on`) meanwhile.
    let _serial = support::serial();
    if !is_child() && support::skip_on_epoll("rings are what RLIMIT_MEMLOCK charges") {
        return;
    }
    if !runs_as_child("memlock_limit_that_fits_one_ring_starts_despite_the_probe_ring_just_dropped")
    {
        return;
    }
    limit_locked_memory(LIMIT_FOR_ONE_RING, LIMIT_FOR_ONE_RING);
    let rt = small_runtime(1).expect("the limit fits one ring");
    // Twice: the second call's ring comes right after the first call's was dropped.
    for _ in 0..2 {
        rt.try_block_on(echo_check(Recv::Stream))
            .expect("the core's ring fits once the probe's is gone");
    }
    assert!(
        rt.metrics().pool_fallbacks > 0,
        "the pool cannot fit: owned receives"
    );
    println!("{CHILD_OK} two calls started under {LIMIT_FOR_ONE_RING} bytes");
}

#[test]
fn memlock_limit_for_fewer_rings_than_cores_is_a_build_error_not_a_panic() {
    let _serial = support::serial();
    if !is_child() && support::skip_on_epoll("rings are what RLIMIT_MEMLOCK charges") {
        return;
    }
    if !runs_as_child("memlock_limit_for_fewer_rings_than_cores_is_a_build_error_not_a_panic") {
        return;
    }
    limit_locked_memory(LIMIT_FOR_TWO_RINGS, LIMIT_FOR_TWO_RINGS);
    let before = fds_and_threads();
    let built = std::panic::catch_unwind(|| small_runtime(4));
    let e = match built {
        Err(_) => panic!("build() panicked"),
        Ok(Err(e)) => e,
        Ok(Ok(rt)) => {
            // What a server would do: every core busy at once, longer than a core's
            // ring set-up waits for memory to be uncharged.
            let run = std::panic::catch_unwind(|| {
                rt.run_per_core(|_| ringio::time::sleep(Duration::from_secs(1)))
            });
            let what = run.err().map(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| "a non-string panic".into())
            });
            panic!(
                "build() accepted 4 cores under a limit for 2 rings; run_per_core then \
                 panicked: {what:?}"
            )
        }
    };
    assert_memlock_start_error(&e, LIMIT_FOR_TWO_RINGS, "fewer workers");
    assert!(e.to_string().contains("4 rings"), "{e}");
    assert_eq!(
        fds_and_threads(),
        before,
        "(fds, threads) after the failed build"
    );
    // The limit does fit two cores: the error above is about the count.
    let cores = small_runtime(2)
        .expect("the limit fits two rings")
        .run_per_core(|core| async move { core });
    assert_eq!(cores, [0, 1]);
    println!("{CHILD_OK} {e}");
}

#[test]
fn core_that_cannot_build_its_ring_after_build_is_an_error_and_runs_nothing() {
    // `build` checked the limit, then it was lowered: the cores' own rings fail at the
    // call, and `try_block_on` returns that, with no main future polled and nothing
    // left behind; the runtime works again once the limit is back.
    let _serial = support::serial();
    if !is_child() && support::skip_on_epoll("rings are what RLIMIT_MEMLOCK charges") {
        return;
    }
    if !runs_as_child("core_that_cannot_build_its_ring_after_build_is_an_error_and_runs_nothing") {
        return;
    }
    limit_locked_memory(ROOMY_LIMIT, ROOMY_LIMIT);
    let rt = small_runtime(4).expect("a roomy limit fits four rings");
    set_memlock(LIMIT_FOR_ONE_RING, ROOMY_LIMIT);
    let before = fds_and_threads();
    let polled = std::sync::atomic::AtomicUsize::new(0);
    let poll = || {
        polled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    let e = rt
        .try_block_on(async { poll() })
        .expect_err("four rings cannot fit a limit for one");
    assert_memlock_start_error(&e, LIMIT_FOR_ONE_RING, "fewer workers");
    let e2 = rt
        .try_run_per_core(|_| async { poll() })
        .expect_err("four rings cannot fit a limit for one");
    assert_memlock_start_error(&e2, LIMIT_FOR_ONE_RING, "fewer workers");
    let panic = std::panic::catch_unwind(|| rt.block_on(async { poll() }))
        .expect_err("block_on has no error to return: it panics");
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("RLIMIT_MEMLOCK"), "panic message: {msg:?}");
    assert_eq!(
        polled.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a main future ran"
    );
    assert_eq!(
        fds_and_threads(),
        before,
        "(fds, threads) after the failed starts"
    );
    assert_eq!(rt.metrics_per_core(), [], "no call has run yet");
    set_memlock(ROOMY_LIMIT, ROOMY_LIMIT);
    let cores = rt.run_per_core(|core| async move { core });
    assert_eq!(cores, [0, 1, 2, 3]);
    println!("{CHILD_OK} {e}");
}
