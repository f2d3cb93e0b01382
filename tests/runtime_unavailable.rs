//! io_uring forbidden: the runtime must fail at start with an error that names the cause
//! and the fix, never panic inside the library and never hang (README.md, "What ringio
//! needs from the system").
//!
//! Each test re-runs this test binary as a child with `RINGIO_SECCOMP_CHILD` set; the
//! same test function, seeing the variable, acts as the child: it installs a seccomp
//! filter on its own thread (no root needed, thanks to `PR_SET_NO_NEW_PRIVS`) that makes
//! one io_uring syscall fail with EPERM, then checks what `Runtime::new` and `run` say.
//! The filter cannot be removed, so it must never be installed in the parent.
//!
//! `kernel.io_uring_disabled` is not changed here: that needs root and would affect the
//! whole machine. Instead one child denies `io_uring_setup` and injects the sysctl's value
//! through `ringio::fault::set_io_uring_disabled`, which is what the runtime reads when it
//! explains the EPERM.
//!
//! A child counts its descriptors, so every test of this binary runs alone
//! (`support::serial`).

mod support;

use std::io::{self, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The child reads which syscall to deny from this variable.
const CHILD_ENV: &str = "RINGIO_SECCOMP_CHILD";
/// Printed by a child whose checks all passed.
const MARKER: &str = "RINGIO-SECCOMP-CHILD-OK";
/// How long the parent waits for a child; a hang in `Runtime::new` ends here.
const CHILD_LIMIT: Duration = Duration::from_secs(30);

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

/// Child side: with syscall `nr` denied, `Runtime::new` must return a PermissionDenied
/// error whose message contains `expect` and `fix`, and `run` must panic with that same
/// message.
fn child_checks(nr: libc::c_long, expect: &str, fix: &str) {
    support::watchdog("seccomp child", CHILD_LIMIT);
    let fds_before = support::fd_count();
    deny_syscall(nr);

    let err = ringio::Runtime::new().expect_err("Runtime::new must fail under the filter");
    let msg = err.to_string();
    eprintln!("child: Runtime::new() -> {err:?}");
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{msg}");
    assert!(msg.contains(expect), "error should name {expect:?}: {msg}");
    assert!(
        msg.contains(fix),
        "error should say how to fix it ({fix:?}): {msg}"
    );
    // The eventfd and the ring built before the failure must be closed again.
    assert_eq!(support::fd_count(), fds_before, "Runtime::new leaked an fd");

    let payload = std::panic::catch_unwind(|| ringio::run(async {}))
        .expect_err("ringio::run must panic when the runtime cannot start");
    let panic_msg = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("panic payload is a string");
    assert!(
        panic_msg.contains(expect),
        "panic should name {expect:?}: {panic_msg}"
    );
    assert_eq!(support::fd_count(), fds_before, "ringio::run leaked an fd");

    println!("{MARKER}");
}

/// Output of a finished child.
struct ChildOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs this binary's test `name` as a child with `CHILD_ENV=mode`; fails if it is still
/// running after [`CHILD_LIMIT`].
fn run_child(name: &str, mode: &str) -> ChildOutput {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child test process");
    // Read both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child `{name}` ({mode}) still running after {CHILD_LIMIT:?}: killed (hang?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    ChildOutput {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// Parent side: runs the child and checks that it passed. io_uring must work here without
/// a filter, or the child's error would prove nothing about the filter.
fn parent_checks(name: &str, mode: &str) {
    if let Err(e) = ringio::Runtime::new() {
        panic!(
            "{name} cannot run its check: io_uring is unavailable here even without a \
             seccomp filter, so the filter's error cannot be told apart: {e}"
        );
    }
    let out = run_child(name, mode);
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

#[test]
fn setup_denied_by_seccomp_gives_clear_error() {
    let _serial = support::serial();
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("setup") => child_checks(libc::SYS_io_uring_setup, "seccomp", "allow"),
        Ok(mode) => wrong_child(mode),
        Err(_) => parent_checks("setup_denied_by_seccomp_gives_clear_error", "setup"),
    }
}

#[test]
fn enter_denied_by_seccomp_gives_clear_error() {
    let _serial = support::serial();
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("enter") => child_checks(libc::SYS_io_uring_enter, "io_uring_enter", "allow"),
        Ok(mode) => wrong_child(mode),
        Err(_) => parent_checks("enter_denied_by_seccomp_gives_clear_error", "enter"),
    }
}

#[test]
fn setup_denied_with_io_uring_disabled_names_the_sysctl_value() {
    let _serial = support::serial();
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("disabled") => {
            ringio::fault::set_io_uring_disabled(Some(2));
            child_checks(
                libc::SYS_io_uring_setup,
                "kernel.io_uring_disabled = 2",
                "sysctl -w kernel.io_uring_disabled=0",
            );
        }
        Ok(mode) => wrong_child(mode),
        Err(_) => parent_checks(
            "setup_denied_with_io_uring_disabled_names_the_sysctl_value",
            "disabled",
        ),
    }
}
