//! io_uring forbidden: with [`Backend::IoUring`] asked for (by the builder or by
//! `RINGIO_BACKEND=io_uring`) the runtime must fail at start with an error that names the
//! cause and the fix, never panic inside the library and never hang (README.md, "What
//! ringio needs from the system"); with the default [`Backend::Auto`] it must start on
//! epoll instead, say why in its metrics and its `Debug`, and carry real traffic.
//!
//! Each test re-runs this test binary as a child with `RINGIO_SECCOMP_CHILD` set; the
//! same test function, seeing the variable, acts as the child: it installs a seccomp
//! filter on its own thread (no root needed, thanks to `PR_SET_NO_NEW_PRIVS`) that makes
//! one io_uring syscall fail with EPERM, then checks what the runtime does. Threads the
//! child starts afterwards (the runtime's cores and blocking pool) inherit the filter.
//! The filter cannot be removed, so it must never be installed in the parent. Each child
//! sets or removes `RINGIO_BACKEND` itself, so the parent's value (a whole test run on
//! epoll sets it) changes nothing here.
//!
//! `kernel.io_uring_disabled` is not changed here: that needs root and would affect the
//! whole machine. Instead one cause denies `io_uring_setup` and injects the sysctl's value
//! through `ringio::fault::set_io_uring_disabled`, which is what the runtime reads when it
//! explains the EPERM (and which makes ring setup fail with EPERM, as the kernel does).
//!
//! A child counts its descriptors, so every test of this binary runs alone
//! (`support::serial`).

mod support;

use ringio::net::{TcpListener, TcpStream};
use ringio::runtime::{BACKEND_ENV, Backend};
use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Duration;
use support::child::ChildOutput;

/// The child reads its scenario (`cause/how`) from this variable.
const CHILD_ENV: &str = "RINGIO_SECCOMP_CHILD";
/// Printed by a child whose checks all passed.
const MARKER: &str = "RINGIO-SECCOMP-CHILD-OK";
/// How long the parent waits for a child; a hang in `Runtime::new` ends here.
const CHILD_LIMIT: Duration = Duration::from_secs(30);
/// Connections of the echo round trip on the fallback runtime.
const CONNS: usize = 1000;

/// `AUDIT_ARCH_*` from linux/audit.h (not in the libc crate): the architecture the filter
/// accepts; a syscall from any other ABI is let through, since its numbers mean
/// something else.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
/// Offsets in `struct seccomp_data`: `int nr` then `__u32 arch`.
const SECCOMP_DATA_NR: u32 = 0;
const SECCOMP_DATA_ARCH: u32 = 4;

fn bpf_stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn bpf_jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// Installs, on the calling thread only, a seccomp filter under which syscall `nr` fails
/// with EPERM and every other syscall is allowed.
fn deny_syscall(nr: libc::c_long) {
    let mut program = [
        bpf_stmt(
            libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
            SECCOMP_DATA_ARCH,
        ),
        bpf_jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            AUDIT_ARCH,
            1,
            0,
        ),
        bpf_stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
        bpf_stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, SECCOMP_DATA_NR),
        bpf_jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, nr as u32, 0, 1),
        bpf_stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | (libc::EPERM as u32 & libc::SECCOMP_RET_DATA),
        ),
        bpf_stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integer arguments and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "PR_SET_NO_NEW_PRIVS: {}", io::Error::last_os_error());
    // SAFETY: `fprog` points to `program`, both live locals for the whole call; the kernel
    // copies the program before prctl returns.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    assert_eq!(rc, 0, "PR_SET_SECCOMP: {}", io::Error::last_os_error());
}

/// Why io_uring is unavailable in a child, and what its error must then say.
#[derive(Clone, Copy, Debug)]
enum Cause {
    /// `io_uring_setup` denied by seccomp.
    Setup,
    /// Only `io_uring_enter` denied by seccomp: setup works, the probe's NOP fails.
    Enter,
    /// `io_uring_setup` denied, and `kernel.io_uring_disabled = 2` injected.
    Disabled,
}

impl Cause {
    fn name(self) -> &'static str {
        match self {
            Cause::Setup => "setup",
            Cause::Enter => "enter",
            Cause::Disabled => "disabled",
        }
    }

    fn syscall(self) -> libc::c_long {
        match self {
            Cause::Setup | Cause::Disabled => libc::SYS_io_uring_setup,
            Cause::Enter => libc::SYS_io_uring_enter,
        }
    }

    /// What the io_uring error (and so the fallback reason) must name. Both seccomp
    /// errors list every io_uring syscall in their fix, so the denied one is matched with
    /// the words that blame it.
    fn names(self) -> &'static [&'static str] {
        match self {
            Cause::Setup => &["io_uring_setup was denied", "seccomp"],
            Cause::Enter => &["io_uring_enter was denied", "seccomp"],
            Cause::Disabled => &["kernel.io_uring_disabled = 2"],
        }
    }

    /// The fix the io_uring error must give.
    fn fix(self) -> &'static str {
        match self {
            Cause::Setup | Cause::Enter => "allow",
            Cause::Disabled => "sysctl -w kernel.io_uring_disabled=0",
        }
    }

    /// Makes io_uring unavailable on this thread and the threads it starts from now on.
    fn apply(self) {
        if let Cause::Disabled = self {
            ringio::fault::set_io_uring_disabled(Some(2));
        }
        deny_syscall(self.syscall());
    }

    /// Checks an io_uring start-up error: PermissionDenied, naming the cause and the fix.
    fn check_error(self, what: &str, err: &io::Error) {
        let msg = err.to_string();
        eprintln!("child: {what} -> {err:?}");
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{what}: {msg}");
        for name in self.names() {
            assert!(
                msg.contains(name),
                "{what}: error should name {name:?}: {msg}"
            );
        }
        assert!(
            msg.contains(self.fix()),
            "{what}: error should say how to fix it ({:?}): {msg}",
            self.fix()
        );
    }
}

/// How a child asks for its runtime.
#[derive(Clone, Copy, Debug)]
enum How {
    /// `Runtime::builder().backend(Backend::IoUring)`, `RINGIO_BACKEND` unset.
    Forced,
    /// `RINGIO_BACKEND=io_uring`, then `Runtime::new()` and `ringio::run`.
    EnvIoUring,
    /// The default (`Auto`, `RINGIO_BACKEND` unset): `Runtime::new()` and `ringio::run`.
    Auto,
}

impl How {
    fn name(self) -> &'static str {
        match self {
            How::Forced => "forced",
            How::EnvIoUring => "env_io_uring",
            How::Auto => "auto",
        }
    }

    /// The `RINGIO_BACKEND` the child runs with (`None`: removed).
    fn env(self) -> Option<&'static str> {
        match self {
            How::EnvIoUring => Some("io_uring"),
            How::Forced | How::Auto => None,
        }
    }
}

/// The child's descriptors, once settled back to `baseline` (see
/// [`support::fd_names_settled`]); fails naming what `after` leaked or closed.
fn assert_fds_back(baseline: &[String], after: &str) {
    let now = support::fd_names_settled(baseline);
    assert_eq!(
        now, baseline,
        "descriptors after {after} differ from before"
    );
}

/// The message of a panic payload.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("panic payload is a string")
}

/// Child side, io_uring asked for: the builder's `IoUring`, or `RINGIO_BACKEND=io_uring`
/// behind `Runtime::new` and `run`, must fail with the clear error and close what they
/// opened.
fn child_refused(cause: Cause, how: How) {
    let fds_before = support::fd_names();
    cause.apply();
    match how {
        How::Forced => {
            assert!(
                std::env::var_os(BACKEND_ENV).is_none(),
                "{BACKEND_ENV} is set"
            );
            let err = ringio::Runtime::builder()
                .backend(Backend::IoUring)
                .build()
                .expect_err("a forced io_uring runtime must fail under the filter");
            cause.check_error("builder().backend(IoUring).build()", &err);
            // The eventfd and the ring built before the failure must be closed again.
            assert_fds_back(&fds_before, "the forced build failed");
        }
        How::EnvIoUring => {
            assert_eq!(std::env::var(BACKEND_ENV).as_deref(), Ok("io_uring"));
            let err = ringio::Runtime::new()
                .expect_err("RINGIO_BACKEND=io_uring: Runtime::new must fail under the filter");
            cause.check_error("Runtime::new() with RINGIO_BACKEND=io_uring", &err);
            assert_fds_back(&fds_before, "Runtime::new failed");
            let payload = std::panic::catch_unwind(|| ringio::run(async {}))
                .expect_err("ringio::run must panic when the runtime cannot start");
            let panic_msg = panic_message(payload);
            for name in cause.names() {
                assert!(
                    panic_msg.contains(name),
                    "panic should name {name:?}: {panic_msg}"
                );
            }
            assert_fds_back(&fds_before, "ringio::run failed");
        }
        How::Auto => unreachable!("child_refused is for io_uring asked for"),
    }
}

/// A distinct message for connection `i`: its number, then 1–2,048 bytes of its own.
fn message(i: usize) -> Vec<u8> {
    let mut rng = support::Rng::new(i as u64 + 1);
    let mut msg = format!("connection {i:04}:").into_bytes();
    let start = msg.len();
    msg.resize(start + 1 + rng.below(2048) as usize, 0);
    rng.fill(&mut msg[start..]);
    msg
}

/// On the current core: an echo server on loopback and `conns` clients that each write
/// their own message and read it back. Returns the bytes verified; checks the server
/// accepted every connection.
async fn echo_round_trips(conns: usize) -> usize {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Rc::new(Cell::new(0usize));
    let _server = {
        let accepted = accepted.clone();
        ringio::spawn(async move {
            loop {
                let (s, _) = listener.accept().await.expect("accept on the fallback");
                accepted.set(accepted.get() + 1);
                ringio::spawn(support::echo_until_eof(s));
            }
        })
    };
    let clients: Vec<_> = (0..conns)
        .map(|i| {
            ringio::spawn(async move {
                let s = TcpStream::connect(addr)
                    .await
                    .unwrap_or_else(|e| panic!("connection {i}: connect: {e}"));
                let msg = message(i);
                let len = msg.len();
                let (res, msg) = s.write_all(msg).await;
                res.unwrap_or_else(|e| panic!("connection {i}: write: {e}"));
                let (res, back) = s.read_exact(vec![0u8; len]).await;
                res.unwrap_or_else(|e| panic!("connection {i}: read: {e}"));
                assert!(back == msg, "connection {i} got other bytes back");
                len
            })
        })
        .collect();
    let mut total = 0;
    for c in clients {
        total += c.await.unwrap();
    }
    assert_eq!(total, (0..conns).map(|i| message(i).len()).sum::<usize>());
    assert_eq!(accepted.get(), conns, "the server accepted another count");
    total
}

/// Child side, the default (`Auto`): `Runtime::new` and `run` start on epoll, report the
/// io_uring error as the fallback reason, and echo over [`CONNS`] connections; every
/// descriptor is closed again once they are dropped.
fn child_fallback(cause: Cause) {
    assert!(
        std::env::var_os(BACKEND_ENV).is_none(),
        "{BACKEND_ENV} is set"
    );
    let limit = support::rlimit::raise_nofile_limit().expect("raise RLIMIT_NOFILE");
    assert!(
        limit >= 2 * CONNS as u64 + 100,
        "RLIMIT_NOFILE's hard limit {limit} is too low for {CONNS} loopback connections"
    );
    let fds_before = support::fd_names();
    cause.apply();

    // The error the fallback must report: what io_uring, asked for, says here.
    let forced = ringio::Runtime::builder()
        .backend(Backend::IoUring)
        .build()
        .expect_err("a forced io_uring runtime must fail under the filter");
    cause.check_error("builder().backend(IoUring).build()", &forced);
    let want_reason = forced.to_string();

    let rt = ringio::Runtime::new().expect("Runtime::new must fall back to epoll");
    let m = rt.metrics();
    assert_eq!(m.backend, Backend::Epoll, "Runtime::new: {rt:?}");
    let reason = m
        .fallback_reason
        .expect("a runtime that fell back says why (Metrics::fallback_reason)");
    eprintln!("child: Runtime::new() fell back: {reason}");
    assert_eq!(
        Some(reason),
        want_reason.strip_prefix("ringio cannot start: "),
        "the reason is the io_uring error's text, without the start error's lead-in"
    );
    for name in cause.names() {
        assert!(
            reason.contains(name),
            "reason should name {name:?}: {reason}"
        );
    }
    let debug = format!("{rt:?}");
    assert!(debug.contains("backend: Epoll"), "Debug: {debug}");
    assert!(
        debug.contains(&format!("fallback_reason: Some({reason:?})")),
        "Debug should show the reason: {debug}"
    );

    let (bytes, core_backend) = rt.block_on(async {
        let core = ringio::metrics();
        let bytes = echo_round_trips(CONNS).await;
        (bytes, (core.backend, core.fallback_reason))
    });
    assert_eq!(
        core_backend,
        (Backend::Epoll, Some(reason)),
        "the core's metrics"
    );
    eprintln!("child: {CONNS} connections echoed {bytes} bytes on epoll");
    for (core, m) in rt.metrics_per_core().iter().enumerate() {
        assert_eq!(m.backend, Backend::Epoll, "core {core}");
        assert_eq!(m.fallback_reason, Some(reason), "core {core}");
    }
    drop(rt);
    assert_fds_back(
        &fds_before,
        "the fallback runtime and its connections were dropped",
    );

    let (bytes, core_backend) = ringio::run(async {
        let core = ringio::metrics();
        let bytes = echo_round_trips(10).await;
        (bytes, (core.backend, core.fallback_reason))
    });
    assert_eq!(
        core_backend,
        (Backend::Epoll, Some(reason)),
        "ringio::run's core"
    );
    assert!(bytes > 0);
    assert_fds_back(&fds_before, "ringio::run returned");
}

/// Child side: io_uring made unavailable by `cause`, the runtime asked for as `how`.
fn child_checks(cause: Cause, how: How) {
    support::watchdog("seccomp child", CHILD_LIMIT);
    match how {
        How::Forced | How::EnvIoUring => child_refused(cause, how),
        How::Auto => child_fallback(cause),
    }
    println!("{MARKER}");
}

/// Runs this binary's test `name` as a child with `CHILD_ENV=mode` and `RINGIO_BACKEND`
/// set to `backend` (removed if `None`, whatever the parent has).
fn run_child(name: &str, mode: &str, backend: Option<&str>) -> ChildOutput {
    let env = [(CHILD_ENV, Some(mode)), (BACKEND_ENV, backend)];
    support::child::run_test(name, &env, CHILD_LIMIT)
}

/// Parent side: runs the child for `cause` and `how` and checks that it passed. io_uring
/// must work here without a filter (whatever `RINGIO_BACKEND` says), or the child's error
/// would prove nothing about the filter.
fn parent_checks(name: &str, cause: Cause, how: How) {
    if let Err(e) = ringio::Runtime::builder().backend(Backend::IoUring).build() {
        panic!(
            "{name} cannot run its check: io_uring is unavailable here even without a \
             seccomp filter, so the filter's error cannot be told apart: {e}"
        );
    }
    let mode = format!("{}/{}", cause.name(), how.name());
    let out = run_child(name, &mode, how.env());
    assert!(
        out.status.success() && out.stdout.contains(MARKER),
        "child `{name}` ({mode}) failed: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    for line in out.stderr.lines().filter(|l| l.starts_with("child:")) {
        eprintln!("{line}");
    }
}

/// A child runs only the test it was started for (`--exact`), in the mode that test
/// asked for: anything else means the child did not run the checks it was meant to.
fn wrong_child(mode: &str) -> ! {
    panic!("a child in mode {mode:?} ran a test that does not use that mode: nothing was checked")
}

/// The test `name` for `cause` asked for `how`: the parent side starts the child, the
/// child side checks.
fn scenario(name: &str, cause: Cause, how: How) {
    let _serial = support::serial();
    let mode = format!("{}/{}", cause.name(), how.name());
    match std::env::var(CHILD_ENV) {
        Ok(m) if m == mode => child_checks(cause, how),
        Ok(m) => wrong_child(&m),
        Err(_) => parent_checks(name, cause, how),
    }
}

#[test]
fn setup_denied_by_seccomp_forced_io_uring_gives_clear_error() {
    scenario(
        "setup_denied_by_seccomp_forced_io_uring_gives_clear_error",
        Cause::Setup,
        How::Forced,
    );
}

#[test]
fn setup_denied_by_seccomp_env_io_uring_gives_clear_error() {
    scenario(
        "setup_denied_by_seccomp_env_io_uring_gives_clear_error",
        Cause::Setup,
        How::EnvIoUring,
    );
}

#[test]
fn setup_denied_by_seccomp_auto_falls_back_to_epoll() {
    scenario(
        "setup_denied_by_seccomp_auto_falls_back_to_epoll",
        Cause::Setup,
        How::Auto,
    );
}

#[test]
fn enter_denied_by_seccomp_forced_io_uring_gives_clear_error() {
    scenario(
        "enter_denied_by_seccomp_forced_io_uring_gives_clear_error",
        Cause::Enter,
        How::Forced,
    );
}

#[test]
fn enter_denied_by_seccomp_env_io_uring_gives_clear_error() {
    scenario(
        "enter_denied_by_seccomp_env_io_uring_gives_clear_error",
        Cause::Enter,
        How::EnvIoUring,
    );
}

#[test]
fn enter_denied_by_seccomp_auto_falls_back_to_epoll() {
    scenario(
        "enter_denied_by_seccomp_auto_falls_back_to_epoll",
        Cause::Enter,
        How::Auto,
    );
}

#[test]
fn io_uring_disabled_forced_io_uring_names_the_sysctl_value() {
    scenario(
        "io_uring_disabled_forced_io_uring_names_the_sysctl_value",
        Cause::Disabled,
        How::Forced,
    );
}

#[test]
fn io_uring_disabled_env_io_uring_names_the_sysctl_value() {
    scenario(
        "io_uring_disabled_env_io_uring_names_the_sysctl_value",
        Cause::Disabled,
        How::EnvIoUring,
    );
}

#[test]
fn io_uring_disabled_auto_falls_back_to_epoll() {
    scenario(
        "io_uring_disabled_auto_falls_back_to_epoll",
        Cause::Disabled,
        How::Auto,
    );
}

/// The value the next test's child runs with.
const UNKNOWN_BACKEND: &str = "kqueue";

/// An unknown `RINGIO_BACKEND` is refused by name, not guessed at; a backend the
/// program chose itself does not read the variable.
#[test]
fn unknown_backend_env_is_refused_with_the_accepted_values() {
    let _serial = support::serial();
    let name = "unknown_backend_env_is_refused_with_the_accepted_values";
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("unknown_backend") => {
            support::watchdog("unknown backend child", CHILD_LIMIT);
            assert_eq!(std::env::var(BACKEND_ENV).as_deref(), Ok(UNKNOWN_BACKEND));
            let err = ringio::Runtime::new().expect_err("an unknown RINGIO_BACKEND is refused");
            let msg = err.to_string();
            eprintln!("child: Runtime::new() -> {err:?}");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{msg}");
            assert!(
                msg.contains("auto, io_uring, epoll"),
                "accepted values: {msg}"
            );
            assert!(msg.contains(BACKEND_ENV), "names the variable: {msg}");
            assert!(msg.contains(UNKNOWN_BACKEND), "names the value: {msg}");
            let payload = std::panic::catch_unwind(|| ringio::run(async {}))
                .expect_err("ringio::run must panic on an unknown RINGIO_BACKEND");
            let panic_msg = panic_message(payload);
            assert!(panic_msg.contains("auto, io_uring, epoll"), "{panic_msg}");
            let rt = ringio::Runtime::builder()
                .backend(Backend::Epoll)
                .build()
                .expect("a backend chosen by the program ignores RINGIO_BACKEND");
            assert_eq!(rt.metrics().backend, Backend::Epoll);
            println!("{MARKER}");
        }
        Ok(mode) => wrong_child(mode),
        Err(_) => {
            let out = run_child(name, "unknown_backend", Some(UNKNOWN_BACKEND));
            assert!(
                out.status.success() && out.stdout.contains(MARKER),
                "child `{name}` failed: {:?}\n--- stdout\n{}\n--- stderr\n{}",
                out.status,
                out.stdout,
                out.stderr
            );
            for line in out.stderr.lines().filter(|l| l.starts_with("child:")) {
                eprintln!("{line}");
            }
        }
    }
}
