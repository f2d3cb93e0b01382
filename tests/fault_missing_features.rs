//! A kernel without a feature ringio prefers (forced through `ringio::fault`), or a
//! RLIMIT_MEMLOCK too low for the buffer pool: the runtime falls back, the user's code
//! never sees the kernel's EINVAL or ENOMEM, every byte still arrives, and the runtime
//! says what it fell back from.

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
    let settled = support::settle(Duration::from_secs(5), || {
        let m = ringio::metrics();
        m.ops_in_flight == 0 && m.pool_in_use == 0
    })
    .await;
    assert!(settled, "left behind: {:?}", ringio::metrics());
}

/// Runs `f` on a fresh one-core runtime with `missing` forced on this thread.
fn with_missing<T>(missing: &[Missing], f: impl AsyncFnOnce() -> T) -> T {
    fault::reset();
    for &m in missing {
        fault::pretend_missing(m);
    }
    let out = ringio::Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(f());
    fault::reset();
    out
}

#[test]
fn without_multishot_accept_listeners_accept_one_at_a_time() {
    support::watchdog("no_multishot_accept", Duration::from_secs(60));
    with_missing(&[Missing::MultishotAccept], async || {
        echo_check(Recv::Owned).await;
        // Each accept was its own SQE: more accept ops than one multishot would need.
        assert!(ringio::metrics().ops_submitted >= CONNS as u64);
    });
}

#[test]
fn without_multishot_recv_streams_receive_one_at_a_time() {
    support::watchdog("no_multishot_recv", Duration::from_secs(60));
    with_missing(&[Missing::MultishotRecv], async || {
        echo_check(Recv::Stream).await;
        assert!(ringio::metrics().pool_buffers > 0, "the pool still serves");
    });
}

#[test]
fn without_buffer_rings_pooled_receives_use_owned_buffers() {
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
    support::watchdog("no_ring_flags", Duration::from_secs(60));
    with_missing(&[Missing::RingFlags], async || {
        assert_eq!(ringio::metrics().ring_flags.to_string(), "none");
        for how in [Recv::Owned, Recv::Stream] {
            echo_check(how).await;
        }
        let start = std::time::Instant::now();
        ringio::time::sleep(Duration::from_millis(20)).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn without_ring_fd_registration_enters_use_the_fd() {
    support::watchdog("no_ring_fd_registration", Duration::from_secs(60));
    with_missing(&[Missing::RingFdRegistration], async || {
        echo_check(Recv::Stream).await;
    });
}

#[test]
fn with_every_optional_feature_missing_the_echo_server_still_works() {
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
    });
}

#[test]
fn pool_refused_for_memlock_falls_back_and_names_memlock() {
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

/// Drops CAP_IPC_LOCK, so the kernel charges io_uring's pinned memory against
/// RLIMIT_MEMLOCK as it does for other users.
fn drop_ipc_lock() -> io::Result<()> {
    support::drop_capabilities(&[CAP_IPC_LOCK], true)
}

fn set_memlock(bytes: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: a valid rlimit, read during the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ring entries and pool sizes for the real-limit test: a ring this small fits in the
/// limit below, while the pool's ring of 32,768 entries (512 KiB pinned) does not.
const SMALL_RING: u32 = 64;
const BIG_POOL: u16 = 32768;
const LIMIT_FOR_RING_ONLY: u64 = 128 * 1024;

/// The child's side of the real-limit tests: runs with CAP_IPC_LOCK dropped under
/// RLIMIT_MEMLOCK `limit`, and prints what happened.
fn memlock_child(limit: u64) {
    if let Err(e) = drop_ipc_lock().and_then(|()| set_memlock(limit)) {
        println!("SKIP cannot lower the limit here: {e}");
        return;
    }
    let rt = ringio::Runtime::builder()
        .workers(1)
        .ring_entries(SMALL_RING)
        .buffer_pool(BIG_POOL, 64)
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        // A kernel that charges the ring itself refuses it at start, with the reason.
        Err(e) => return println!("START-ERROR {e}"),
    };
    rt.block_on(async {
        echo_check(Recv::Stream).await;
        match ringio::runtime::pool_error() {
            Some(e) => println!(
                "FALLBACK {} receives; {e}",
                ringio::metrics().pool_fallbacks
            ),
            None => println!("POOL-OK the kernel did not charge the pool"),
        }
    });
}

/// Runs this test binary's `test` in a child with `RINGIO_MEMLOCK_CHILD=limit` and
/// returns the child's report line.
fn memlock_report(test: &str, limit: u64) -> String {
    // The kernel charges locked memory per user, not per process: one child at a time.
    let _serial = support::serial();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("RINGIO_MEMLOCK_CHILD", limit.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    let line = stdout.lines().find_map(|l| {
        ["SKIP", "START-ERROR", "FALLBACK", "POOL-OK"]
            .iter()
            .find_map(|tag| l.find(tag).map(|at| l[at..].to_string()))
    });
    let line = line.unwrap_or_else(|| panic!("no report from the child:\n{stdout}\n{stderr}"));
    eprintln!("RLIMIT_MEMLOCK {limit} without CAP_IPC_LOCK: {line}");
    line
}

/// The limit a child of the real-limit tests runs under, if this process is one.
fn child_limit() -> Option<u64> {
    std::env::var("RINGIO_MEMLOCK_CHILD").ok()?.parse().ok()
}

#[test]
fn real_memlock_limit_too_low_for_the_pool_falls_back_and_names_memlock() {
    support::watchdog("pool_memlock_real", Duration::from_secs(60));
    if let Some(limit) = child_limit() {
        return memlock_child(limit);
    }
    let line = memlock_report(
        "real_memlock_limit_too_low_for_the_pool_falls_back_and_names_memlock",
        LIMIT_FOR_RING_ONLY,
    );
    if !line.starts_with("SKIP") && !line.starts_with("POOL-OK") {
        assert!(line.starts_with("FALLBACK"), "{line}");
        assert!(
            line.contains("RLIMIT_MEMLOCK"),
            "the message must name it: {line}"
        );
    }
}

#[test]
fn real_memlock_limit_too_low_for_the_ring_is_a_start_error_not_a_panic() {
    support::watchdog("ring_memlock_real", Duration::from_secs(60));
    if let Some(limit) = child_limit() {
        return memlock_child(limit);
    }
    let line = memlock_report(
        "real_memlock_limit_too_low_for_the_ring_is_a_start_error_not_a_panic",
        0,
    );
    if line.starts_with("START-ERROR") || line.starts_with("FALLBACK") {
        assert!(
            line.contains("RLIMIT_MEMLOCK"),
            "the message must name it: {line}"
        );
    }
}

/// Fits one ring of [`SMALL_RING`] entries (two pages on Linux 6.18) but not two.
const LIMIT_FOR_ONE_RING: u64 = 12 * 1024;

#[test]
fn memlock_limit_that_fits_one_ring_starts_despite_the_probe_ring_just_dropped() {
    // The start-up probe's ring, and those of earlier processes, are uncharged by a
    // kernel worker some time after they are dropped; the core's ring must not fail (or
    // panic in `block_on`) meanwhile.
    support::watchdog("memlock_one_ring", Duration::from_secs(60));
    if let Some(limit) = child_limit() {
        return memlock_child(limit);
    }
    let line = memlock_report(
        "memlock_limit_that_fits_one_ring_starts_despite_the_probe_ring_just_dropped",
        LIMIT_FOR_ONE_RING,
    );
    assert!(!line.starts_with("START-ERROR"), "{line}");
}
