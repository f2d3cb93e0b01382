//! fork() while a ring has operations in flight: the ring's memory (SQ/CQ rings, SQE
//! array, provided buffer ring and its buffers) is MADV_DONTFORK, so the child gets none
//! of it; the child can build a runtime of its own and do I/O on it; the parent's ring
//! goes on undisturbed, its in-flight reads completing with their bytes intact.
//! (Its own test binary: it forks, and reads its own memory map.)
//!
//! On the epoll backend the same forks run, with the same child and parent checks; only
//! the SQ/CQ and SQE mappings are not looked for, as epoll has no ring (the buffer pool's
//! mappings are the same on both backends and are checked on both).

mod support;

use ringio::net::UnixStream;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;
use support::serial;

/// Pool sizes no other mapping of the process has: its mappings are found by size too.
const POOL_BUFFERS: u16 = 256;
const POOL_BUFFER_SIZE: usize = 12_288;
/// The child's own deadline (SIGALRM kills it), and the parent's for the child.
const CHILD_ALARM_SECS: u32 = 10;
const CHILD_WAIT: Duration = Duration::from_secs(20);

/// One mapping of /proc/self/smaps.
#[derive(Debug, Clone, PartialEq)]
struct Mapping {
    start: usize,
    end: usize,
    path: String,
    flags: Vec<String>,
}

impl Mapping {
    fn len(&self) -> usize {
        self.end - self.start
    }
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
    /// VM_DONTCOPY, which MADV_DONTFORK sets: fork gives the child no such mapping.
    fn dont_copy(&self) -> bool {
        self.has("dc")
    }
    fn is_io_uring(&self) -> bool {
        self.path.contains("io_uring")
    }
}

fn smaps() -> Vec<Mapping> {
    let text = std::fs::read_to_string("/proc/self/smaps").expect("read /proc/self/smaps");
    let mut maps: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        if let Some(flags) = line.strip_prefix("VmFlags:") {
            if let Some(m) = maps.last_mut() {
                m.flags = flags.split_whitespace().map(str::to_owned).collect();
            }
            continue;
        }
        // A header: "start-end perms offset dev inode [path]"; key lines have no '-'
        // before their first space.
        let mut parts = line.split_whitespace();
        let Some(range) = parts.next() else { continue };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        let path = parts.skip(4).collect::<Vec<_>>().join(" ");
        maps.push(Mapping {
            start,
            end,
            path,
            flags: Vec::new(),
        });
    }
    maps
}

/// The provided buffer ring's mappings: the anonymous mappings that appeared between
/// `before` and `after` with the pool's sizes (entries: 16 bytes each, page-rounded;
/// buffers). The kernel may merge the two into one area when it places them side by
/// side, as both have the same flags.
fn pool_mappings(before: &[Mapping], after: &[Mapping]) -> Vec<Mapping> {
    let entries_len = (POOL_BUFFERS as usize * 16).next_multiple_of(4096);
    let buffers_len = POOL_BUFFERS as usize * POOL_BUFFER_SIZE;
    after
        .iter()
        .filter(|m| !before.iter().any(|b| b.start == m.start && b.end == m.end))
        .filter(|m| m.path.is_empty() && m.has("rd") && m.has("wr"))
        .filter(|m| [entries_len, buffers_len, entries_len + buffers_len].contains(&m.len()))
        .cloned()
        .collect()
}

/// Bytes the buffer ring maps.
fn pool_bytes() -> usize {
    (POOL_BUFFERS as usize * 16).next_multiple_of(4096) + POOL_BUFFERS as usize * POOL_BUFFER_SIZE
}

/// What the child does, with no runtime of the parent's touched: checks that it got no
/// ring memory, then builds its own runtime and does I/O on it. `Err` says what failed.
fn child_checks(forked_inside_block_on: bool, parent_ring: &[Mapping]) -> Result<String, String> {
    let maps = smaps();
    let inherited: Vec<&Mapping> = maps
        .iter()
        .filter(|m| m.is_io_uring() || parent_ring.iter().any(|p| p.start == m.start))
        .collect();
    if !inherited.is_empty() {
        return Err(format!("the child inherited ring memory: {inherited:?}"));
    }
    let round_trip = || -> Result<String, String> {
        let rt = ringio::Runtime::builder()
            .workers(1)
            .build()
            .map_err(|e| format!("child runtime: {e}"))?;
        rt.block_on(async {
            let (a, b) = UnixStream::pair().map_err(|e| e.to_string())?;
            let (res, _) = a.write_all(b"child ping".to_vec()).await;
            res.map_err(|e| e.to_string())?;
            let (res, buf) = b.read_exact(vec![0u8; 10]).await;
            res.map_err(|e| e.to_string())?;
            if buf != b"child ping" {
                return Err(format!("child read {buf:?}"));
            }
            ringio::time::sleep(Duration::from_millis(2)).await;
            let m = ringio::metrics();
            Ok(format!(
                "no ring memory inherited, own {:?} runtime (ring flags {}) echoed and slept",
                m.backend, m.ring_flags
            ))
        })
    };
    if forked_inside_block_on {
        // This thread's copy of the thread-local still says the parent's core runs here
        // (fork copied it from inside block_on): a runtime here is refused, as nesting is.
        // A new thread starts with no runtime and is where the child builds its own.
        std::panic::set_hook(Box::new(|_| {}));
        let nested = std::panic::catch_unwind(|| ringio::run(async {}));
        let _ = std::panic::take_hook();
        if nested.is_ok() {
            return Err("a runtime started on the forking thread's copy".into());
        }
        let done = std::thread::spawn(round_trip)
            .join()
            .map_err(|_| "the child's runtime thread panicked".to_string())??;
        Ok(format!(
            "{done}; on the forking thread a new runtime was refused"
        ))
    } else {
        round_trip()
    }
}

/// Forks. The child runs `child_checks` under an alarm and `_exit`s: 0 on success, 1
/// with its message written into the returned pipe otherwise. Returns the child's pid.
fn fork_child(forked_inside_block_on: bool, parent_ring: &[Mapping]) -> (libc::pid_t, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both are new descriptors we own.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child only runs code that does not depend on other threads of the
    // parent (glibc's malloc is fork-safe; no lock of ours is held across the fork) and
    // ends with _exit, so no destructor of the parent's state runs in it.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: alarm only sets a timer; SIGALRM's default action ends the child.
        unsafe { libc::alarm(CHILD_ALARM_SECS) };
        let res = std::panic::catch_unwind(|| child_checks(forked_inside_block_on, parent_ring))
            .unwrap_or_else(|_| Err("the child panicked".into()));
        let (code, msg) = match res {
            Ok(msg) => (0, msg),
            Err(msg) => (1, msg),
        };
        // SAFETY: writes from a live buffer to our pipe, then ends the process without
        // running any destructor (the parent's runtime must not be torn down here).
        unsafe {
            libc::write(wr.as_raw_fd(), msg.as_ptr().cast(), msg.len());
            libc::_exit(code)
        }
    }
    drop(wr);
    (pid, rd)
}

/// Waits for `pid` up to `CHILD_WAIT` without blocking the core; returns what it wrote
/// and asserts it exited with 0.
async fn reap_child(pid: libc::pid_t, out: OwnedFd) -> String {
    let start = std::time::Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, writing its status into a live local.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if r == pid {
            break;
        }
        if start.elapsed() > CHILD_WAIT {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the child did not finish within {CHILD_WAIT:?}");
        }
        ringio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut msg = String::new();
    let _ = std::fs::File::from(out).read_to_string(&mut msg);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed (exited: {}, code {}, signal {}): {msg}",
        libc::WIFEXITED(status),
        libc::WEXITSTATUS(status),
        if libc::WIFSIGNALED(status) {
            libc::WTERMSIG(status)
        } else {
            0
        }
    );
    msg
}

/// Asserts the parent's ring mappings are all don't-copy; returns them (SQ/CQ rings and
/// SQE array, then the buffer ring's entries and buffers, maybe merged into one area).
/// On `epoll` there must be no SQ/CQ or SQE mappings, only the buffer ring's.
fn ring_mappings(before_pool: &[Mapping], epoll: bool) -> Vec<Mapping> {
    let now = smaps();
    let rings: Vec<Mapping> = now.iter().filter(|m| m.is_io_uring()).cloned().collect();
    if epoll {
        assert_eq!(rings, [], "the epoll backend mapped io_uring memory");
    } else {
        // SQ and CQ share one mapping (IORING_FEAT_SINGLE_MMAP) or not; the SQEs have theirs.
        assert!(
            (2..=3).contains(&rings.len()),
            "expected the one core's SQ/CQ and SQE mappings: {rings:?}"
        );
    }
    let pool = pool_mappings(before_pool, &now);
    assert_eq!(
        pool.iter().map(Mapping::len).sum::<usize>(),
        pool_bytes(),
        "buffer ring mappings not found: {pool:?}"
    );
    for m in rings.iter().chain(&pool) {
        assert!(
            m.dont_copy(),
            "ring mapping {:#x}-{:#x} ({}) lacks VmFlags dc: {:?}",
            m.start,
            m.end,
            m.path,
            m.flags
        );
    }
    rings.into_iter().chain(pool).collect()
}

/// The whole scenario: a read and a pooled receive in flight on the parent's ring, fork
/// (from the core itself or from a blocking-pool thread), then the parent completes both
/// and more while the child runs its own runtime.
fn fork_with_ops_in_flight(fork_on_core: bool) {
    let _serial = serial();
    support::watchdog("fork", Duration::from_secs(60));
    // Asked here, outside `block_on`: asking builds a runtime.
    let epoll = support::on_epoll();
    let rt = ringio::Runtime::builder()
        .workers(1)
        .buffer_pool(POOL_BUFFERS, POOL_BUFFER_SIZE)
        .build()
        .unwrap();
    let report = rt.block_on(async move {
        // A read in flight on a socket pair.
        let (a, b) = UnixStream::pair().unwrap();
        let reader = ringio::spawn(async move { (a.read(vec![0u8; 64]).await, a) });
        // A pooled receive in flight: it makes the buffer ring, whose mappings are new.
        let before_pool = smaps();
        let (c, d) = support::tcp_pair().await;
        let pooled = ringio::spawn(async move { (c.recv_pooled().await.map(|b| b.to_vec()), c) });
        assert!(
            support::settle(Duration::from_secs(5), || {
                let m = ringio::metrics();
                m.ops_in_flight >= 2 && m.pool_buffers == usize::from(POOL_BUFFERS)
            })
            .await,
            "the read and the pooled receive did not get in flight: {:?}",
            ringio::metrics()
        );
        let ring = ring_mappings(&before_pool, epoll);

        let (pid, out) = if fork_on_core {
            fork_child(true, &ring)
        } else {
            // A blocking-pool thread is not a core: its thread-local holds no runtime, so
            // the child may build one directly on it.
            let r = ring.clone();
            ringio::spawn_blocking(move || fork_child(false, &r))
                .await
                .unwrap()
        };

        // The parent's ops in flight across the fork complete, with their bytes.
        b.write_all(b"after the fork".to_vec()).await.0.unwrap();
        let ((res, buf), a) = reader.await.unwrap();
        assert_eq!(&buf[..res.unwrap()], b"after the fork");
        d.write_all(b"pooled, after the fork".to_vec())
            .await
            .0
            .unwrap();
        let (got, c) = pooled.await.unwrap();
        assert_eq!(got.unwrap(), b"pooled, after the fork");
        // And new ones, while the child may still run: round trips both ways, owned and
        // pooled receives, and timers.
        for i in 0..100u32 {
            let msg = format!("round {i}").into_bytes();
            b.write_all(msg.clone()).await.0.unwrap();
            let (res, got) = a.read_exact(vec![0u8; msg.len()]).await;
            res.unwrap();
            assert_eq!(got, msg);
            d.write_all(msg.clone()).await.0.unwrap();
            let mut got = Vec::new();
            while got.len() < msg.len() {
                got.extend_from_slice(&c.recv_pooled().await.unwrap());
            }
            assert_eq!(got, msg);
            if i % 10 == 0 {
                ringio::time::sleep(Duration::from_micros(100)).await;
            }
        }
        ringio::time::sleep(Duration::from_millis(1)).await;
        let child = reap_child(pid, out).await;
        // The parent's ring and pool are the same mappings, still don't-copy.
        assert_eq!(ring_mappings(&before_pool, epoll), ring);
        (child, ring.len())
    });
    eprintln!(
        "fork from {} on {:?}: child ok ({}); parent's {} ring mappings all VmFlags dc, \
         absent in the child; in-flight read and pooled receive completed intact after the \
         fork",
        if fork_on_core {
            "the core's thread inside block_on (child runtime on a new thread)"
        } else {
            "a blocking-pool thread (child runtime on the forking thread)"
        },
        support::backend(),
        report.0,
        report.1
    );
}

#[test]
fn fork_on_a_core_with_ops_in_flight_child_runs_its_own_runtime_parent_ring_unaffected() {
    fork_with_ops_in_flight(true);
}

#[test]
fn fork_from_a_blocking_thread_with_ops_in_flight_child_runs_its_own_runtime_parent_ring_unaffected()
 {
    fork_with_ops_in_flight(false);
}
