//! Child processes: many at once with no zombie left, stdin/stdout streaming every byte,
//! `wait_with_output` with both pipes full, kill, a closed stdin, a missing program, and
//! dropped children (killed or reaped in the background); descriptors back to baseline.

mod support;

use ringio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ringio::process::{Child, ChildStdin, ChildStdout, Command};
use std::future::Future;
use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::check_fds;
use support::{fd_names, serial, watchdog};

/// Children started per batch of the 1,000, whose waits start before the next batch:
/// spreads the fork cost over loop turns, so reaping begins while the rest start.
const BATCH: usize = 100;

/// This process's children that are zombies (exited, not reaped): /proc/*/stat with
/// state Z and our pid as parent.
fn zombies() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let (state, ppid) = (fields.next(), fields.next());
        if state == Some("Z") && ppid == Some(&me.to_string()) {
            found.push(pid);
        }
    }
    found
}

/// No zombie child within 2 s (a background reap finishes soon after the exit).
fn assert_no_zombies(what: &str) {
    let start = Instant::now();
    loop {
        let z = zombies();
        if z.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{what}: zombie children left: {z:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` is gone: no /proc entry (so also reaped), within 2 s.
fn gone(pid: u32) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// No zombie child and no descriptor left beyond those of `before`.
fn assert_clean(before: &[String], what: &str) {
    assert_no_zombies(what);
    check_fds(before, what);
}

#[test]
fn a_thousand_children_all_exit_zero_and_leave_no_zombie() {
    let _serial = serial();
    watchdog("thousand children", Duration::from_secs(120));
    // A pidfd each while they run: more than a 1,024 soft limit leaves room for.
    support::rlimit::raise_nofile_limit().unwrap();
    let before = fd_names();
    ringio::run(async {
        let mut waits = Vec::new();
        for _ in 0..1000 / BATCH {
            for _ in 0..BATCH {
                let mut child = Command::new("true").spawn().unwrap();
                waits.push(ringio::spawn(async move { child.wait().await }));
            }
            // The batch's waits start (and reap whoever exited) before the next batch.
            ringio::yield_now().await;
        }
        let mut ok = 0;
        for w in waits {
            assert!(w.await.unwrap().unwrap().success());
            ok += 1;
        }
        assert_eq!(ok, 1000);
    });
    assert_clean(&before, "1,000 children");
}

/// A `cat` child with its stdin and stdout taken.
fn cat() -> (Child, ChildStdin, ChildStdout) {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    (child, stdin, stdout)
}

#[test]
fn cat_echoes_every_byte_through_stdin_and_stdout() {
    let _serial = serial();
    watchdog("cat echo", Duration::from_secs(120));
    // About 10 s in a debug build (most of it checking bytes); 1,600 times a pipe's 64 KiB.
    const LEN: usize = 100 << 20;
    const CHUNK: usize = 256 << 10;
    let byte = |i: usize| (i.wrapping_mul(31) ^ (i >> 13)) as u8;
    let before = fd_names();
    ringio::run(async move {
        let (mut child, stdin, stdout) = cat();
        let writer = ringio::spawn(async move {
            let mut at = 0;
            while at < LEN {
                let chunk: Vec<u8> = (at..(at + CHUNK).min(LEN)).map(byte).collect();
                at += chunk.len();
                stdin.write_all(chunk).await.0.unwrap();
            }
            AsyncWrite::shutdown(&stdin).await.unwrap();
        });
        let mut seen = 0;
        let mut buf = Vec::with_capacity(CHUNK);
        loop {
            buf.clear();
            let (n, b) = stdout.read(buf).await;
            buf = b;
            let n = n.unwrap();
            if n == 0 {
                break;
            }
            for (k, &got) in buf.iter().enumerate() {
                assert_eq!(got, byte(seen + k), "byte {} differs", seen + k);
            }
            seen += n;
        }
        assert_eq!(seen, LEN);
        writer.await.unwrap();
        assert!(child.wait().await.unwrap().success());
    });
    assert_clean(&before, "cat");
}

#[test]
fn a_read_dropped_after_its_bytes_came_leaves_them_for_the_next() {
    let _serial = serial();
    watchdog("read dropped late", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        let (mut child, stdin, stdout) = cat();
        for round in 0..20u8 {
            let mut read = Box::pin(stdout.read(Vec::with_capacity(64)));
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(read.as_mut().poll(&mut cx).is_pending());
            ringio::yield_now().await; // the read reaches the kernel (or epoll)
            stdin.write_all(vec![round; 5]).await.0.unwrap();
            std::thread::sleep(Duration::from_millis(20)); // cat echoes the bytes
            ringio::yield_now().await; // the read completes; nobody polls it
            ringio::yield_now().await;
            drop(read);
            let next = stdout.read_exact(vec![0u8; 5]);
            let (res, buf) = ringio::time::timeout(Duration::from_secs(2), next)
                .await
                .unwrap_or_else(|_| panic!("round {round}: the dropped read's bytes are lost"));
            res.unwrap();
            assert_eq!(buf, [round; 5], "round {round}");
        }
        drop(stdin);
        let (n, _) = stdout.read(Vec::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0);
        assert!(child.wait().await.unwrap().success());
    });
    assert_clean(&before, "read dropped late");
}

#[test]
fn reads_dropped_mid_flight_lose_no_byte() {
    let _serial = serial();
    watchdog("dropped reads", Duration::from_secs(60));
    const LEN: usize = 2 << 20;
    let byte = |i: usize| (i % 251) as u8;
    let before = fd_names();
    ringio::run(async move {
        let (mut child, stdin, stdout) = cat();
        let writer = ringio::spawn(async move {
            let mut at = 0;
            while at < LEN {
                let chunk: Vec<u8> = (at..(at + 3000).min(LEN)).map(byte).collect();
                at += chunk.len();
                stdin.write_all(chunk).await.0.unwrap();
                // Gaps, so that reads wait in the kernel and are dropped there.
                ringio::time::sleep(Duration::from_micros(200)).await;
            }
        });
        let (mut seen, mut dropped) = (0, 0);
        loop {
            let read = stdout.read(Vec::with_capacity(1000));
            match ringio::time::timeout(Duration::from_micros(100), read).await {
                Err(_) => dropped += 1,
                Ok((n, buf)) => {
                    if n.unwrap() == 0 {
                        break;
                    }
                    for (k, &got) in buf.iter().enumerate() {
                        assert_eq!(got, byte(seen + k), "byte {} differs", seen + k);
                    }
                    seen += buf.len();
                }
            }
        }
        assert_eq!(seen, LEN, "bytes lost with {dropped} dropped reads");
        assert!(dropped > 10, "only {dropped} reads were dropped");
        writer.await.unwrap();
        assert!(child.wait().await.unwrap().success());
    });
    assert_clean(&before, "dropped reads");
}

#[test]
fn wait_with_output_reads_both_full_pipes_without_deadlock() {
    let _serial = serial();
    watchdog("wait_with_output", Duration::from_secs(60));
    let before = fd_names();
    ringio::run(async {
        let script = "head -c 10000000 /dev/zero; head -c 10000000 /dev/zero >&2; cat >/dev/null";
        let child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success(), "{:?}", out.status);
        assert_eq!(out.stdout.len(), 10_000_000);
        assert_eq!(out.stderr.len(), 10_000_000);
        assert!(out.stdout.iter().chain(&out.stderr).all(|&b| b == 0));
        // `output()` pipes both by default and gives the child a null stdin.
        let out = Command::new("sh")
            .args(["-c", script])
            .output()
            .await
            .unwrap();
        assert_eq!(
            (out.stdout.len(), out.stderr.len()),
            (10_000_000, 10_000_000)
        );
    });
    assert_clean(&before, "wait_with_output");
}

#[test]
fn kill_ends_a_sleeping_child_with_sigkill_at_once() {
    let _serial = serial();
    watchdog("kill", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = child.id().unwrap();
        assert!(child.try_wait().unwrap().is_none());
        let start = Instant::now();
        child.kill().await.unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(child.id(), None, "no id once reaped");
        assert!(gone(pid));
        child.start_kill().unwrap(); // nothing left to signal: not an error

        // A wait dropped mid-flight cancels its op and loses nothing: the next one gets
        // the status.
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let dropped = ringio::time::timeout(Duration::from_millis(50), child.wait()).await;
        assert!(dropped.is_err(), "sleep 60 ended early");
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    });
    assert_clean(&before, "kill");
}

#[test]
fn writing_to_a_child_that_closed_stdin_is_broken_pipe() {
    let _serial = serial();
    watchdog("broken pipe", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        let mut child = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        assert!(child.wait().await.unwrap().success());
        // More than a pipe holds, so the write cannot succeed whatever the timing.
        let (res, _) = stdin.write_all(vec![7u8; 1 << 20]).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::BrokenPipe);
        AsyncWrite::shutdown(&stdin).await.unwrap();
        let (res, _) = stdin.write(b"after".to_vec()).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::BrokenPipe);
    });
    // Still here: SIGPIPE did not end the test process, because Rust's runtime ignores it
    // in every program it starts (so a write to a closed pipe is the EPIPE error).
    // SAFETY: reads the current disposition into a live local; changes nothing.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) },
        0
    );
    assert_eq!(old.sa_sigaction, libc::SIG_IGN);
    check_fds(&before, "broken pipe");
}

#[test]
fn a_missing_program_is_not_found_and_names_it() {
    let _serial = serial();
    let before = fd_names();
    ringio::run(async {
        let err = Command::new("ringio-no-such-program").spawn().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("ringio-no-such-program"), "{err}");
        let err = Command::new("ringio-no-such-program")
            .output()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    });
    check_fds(&before, "missing program");
}

fn sleeper(kill_on_drop: bool) -> Child {
    Command::new("sleep")
        .arg("60")
        .kill_on_drop(kill_on_drop)
        .spawn()
        .unwrap()
}

#[test]
fn a_dropped_child_with_kill_on_drop_is_killed_and_reaped() {
    let _serial = serial();
    watchdog("kill_on_drop", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        let child = sleeper(true);
        let pid = child.id().unwrap();
        drop(child);
        // The background reap runs on this core: give it turns while the test looks.
        let start = Instant::now();
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "child {pid} lives on"
            );
            ringio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    assert_clean(&before, "kill_on_drop");
}

#[test]
fn a_dropped_child_without_kill_on_drop_runs_on_and_is_reaped_in_the_background() {
    let _serial = serial();
    watchdog("background reap", Duration::from_secs(30));
    let before = fd_names();
    ringio::run(async {
        let child = Command::new("sleep").arg("0.2").spawn().unwrap();
        let pid = child.id().unwrap();
        drop(child);
        ringio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "not killed without kill_on_drop"
        );
        ringio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} left as a zombie"
        );
    });
    assert_clean(&before, "background reap");
}

#[test]
fn a_child_dropped_after_the_runtime_is_gone_is_reaped_by_a_thread() {
    let _serial = serial();
    watchdog("reap without runtime", Duration::from_secs(30));
    let before = fd_names();
    // Started in one runtime, dropped outside any: no core to wait on it.
    let child = ringio::run(async { Command::new("sleep").arg("0.1").spawn().unwrap() });
    let pid = child.id().unwrap();
    drop(child);
    assert!(gone(pid), "child {pid} left as a zombie");
    // A child whose background wait is pending when its runtime shuts down.
    let pid = ringio::run(async {
        let child = Command::new("sleep").arg("0.1").spawn().unwrap();
        let pid = child.id().unwrap();
        drop(child);
        pid
    });
    assert!(gone(pid), "child {pid} left as a zombie after shutdown");
    // A child held by a task that the runtime's shutdown drops: its drop runs while the
    // core shuts down.
    let pid = ringio::run(async {
        let child = Command::new("sleep").arg("0.1").spawn().unwrap();
        let pid = child.id().unwrap();
        drop(ringio::spawn(async move {
            let _child = child;
            std::future::pending::<()>().await;
        }));
        ringio::yield_now().await;
        pid
    });
    assert!(
        gone(pid),
        "child {pid} left as a zombie by a task dropped at shutdown"
    );
    assert_clean(&before, "reap without runtime");
}
