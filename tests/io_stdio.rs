//! `io::{stdin, stdout, stderr}`: a child copy of this test binary reads its stdin and
//! writes its stdout through the ring, with them being a pipe (1 MB echoed with reads
//! racing timeouts, every byte checked), an `O_NONBLOCK` pipe, a regular file (read from
//! its position, written in append mode) and `/dev/null`; descriptors 0, 1 and 2 stay
//! open with their flags unchanged, and the handles' duplicates are closed.
//!
//! `support::child::run_test` gives the child `/dev/null` as stdin, so the children here
//! are started by [`spawn_child`], which lets each test choose.

mod support;

use ringio::io::AsyncWrite;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::sequence::{self, pattern};
use support::{fd_names, fd_names_settled, serial, watchdog};

/// The variable that makes [`child_role`] act, and says how.
const ROLE_ENV: &str = "RINGIO_STDIO_CHILD";
/// Written by the child before its data, after libtest's own "running 1 test" lines.
const MARKER: &[u8] = b"\n<ringio-stdio-data>\n";
/// Bytes echoed through the child.
const TOTAL: usize = 1 << 20;

/// The flags (fcntl F_GETFL) of descriptors 0, 1 and 2; `None` for one that is closed.
fn std_flags() -> [Option<i32>; 3] {
    [0, 1, 2].map(|fd| {
        // SAFETY: F_GETFL reads a descriptor's flags; no memory is passed.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        (flags >= 0).then_some(flags)
    })
}

fn set_nonblocking(fd: &impl AsRawFd) {
    // SAFETY: F_GETFL / F_SETFL on a descriptor the caller holds; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK),
            0
        );
    }
}

/// The child's side: does nothing unless [`ROLE_ENV`] is set. On success it exits at
/// once with status 0, so libtest writes nothing after the data.
#[test]
fn child_role() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    // A broken child must not run on (and write) for ever.
    watchdog("stdio child", Duration::from_secs(60));
    let flags = std_flags();
    let fds = fd_names();
    ringio::run(async {
        let out = ringio::io::stdout();
        out.write_all(MARKER).await.0.unwrap();
        match role.as_str() {
            "race" => echo_with_cancelled_reads(&out).await,
            "copy" => {
                let n = copy_at_most(&out).await;
                ringio::io::stderr()
                    .write_all(format!("copied {n}\n"))
                    .await
                    .0
                    .unwrap();
            }
            "null" => {
                let (n, _) = ringio::io::stdin().read(vec![0u8; 64]).await;
                assert_eq!(n.unwrap(), 0, "/dev/null gives end of input at once");
                let data = pattern();
                let mut sent = 0;
                while sent < TOTAL {
                    let (res, _) = out.write_all(data[..PERIOD_CHUNK].to_vec()).await;
                    res.unwrap();
                    sent += PERIOD_CHUNK;
                }
            }
            other => panic!("unknown role {other}"),
        }
        AsyncWrite::shutdown(&out).await.unwrap();
    });
    assert_eq!(
        std_flags(),
        flags,
        "descriptors 0-2 open with the same flags"
    );
    assert_eq!(
        fd_names_settled(&fds),
        fds,
        "the handles' duplicates closed"
    );
    std::process::exit(0);
}

/// A whole number of the sequence's periods, so chunks written one after another
/// continue it.
const PERIOD_CHUNK: usize = sequence::PERIOD * 64;

/// Copies stdin to stdout with every read racing a 0–50 µs timeout, so some reads are
/// dropped in flight: their bytes must come with the next read.
async fn echo_with_cancelled_reads(out: &ringio::io::Stdout) {
    let stdin = ringio::io::stdin();
    let mut i = 0u64;
    let mut echoed = 0;
    loop {
        i += 1;
        let d = Duration::from_micros(i % 51);
        let Ok((res, buf)) = ringio::time::timeout(d, stdin.read(vec![0u8; 1500])).await else {
            continue;
        };
        let n = res.unwrap();
        if n == 0 {
            return;
        }
        echoed += n;
        assert!(echoed <= TOTAL, "more bytes came than were sent");
        out.write_all(ringio::buf::IoBuf::slice(buf, ..n))
            .await
            .0
            .unwrap();
    }
}

/// `io::copy(stdin, out)`, failing once more than [`TOTAL`] bytes came (stdin read
/// again and again from one place would never end); returns the bytes copied.
async fn copy_at_most(out: &ringio::io::Stdout) -> usize {
    let stdin = ringio::io::stdin();
    let mut copied = 0;
    loop {
        let (res, buf) = stdin.read(Vec::with_capacity(64 << 10)).await;
        let n = res.unwrap();
        if n == 0 {
            return copied;
        }
        copied += n;
        assert!(copied <= TOTAL, "more bytes came than the file holds");
        out.write_all(buf).await.0.unwrap();
    }
}

/// Starts this binary's [`child_role`] as `role`, with the given stdin and stdout.
fn spawn_child(role: &str, stdin: Stdio, stdout: Stdio) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the child; fails with its stderr unless it exited 0.
fn wait_ok(mut child: std::process::Child, what: &str) -> String {
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{what}: child failed ({status}):\n{err}");
    err
}

/// What the child wrote after [`MARKER`].
fn data_after_marker(out: &[u8]) -> &[u8] {
    let at = out
        .windows(MARKER.len())
        .position(|w| w == MARKER)
        .expect("the child wrote its marker");
    &out[at + MARKER.len()..]
}

/// Feeds the sequence into `w` in 997-byte chunks, pausing now and then so the child
/// finds its stdin empty and waits.
fn feed(mut w: impl Write + Send + 'static) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let data: Vec<u8> = pattern().into_iter().cycle().take(TOTAL).collect();
        for (i, chunk) in data.chunks(997).enumerate() {
            if w.write_all(chunk).is_err() {
                return; // the child failed: its stderr says why
            }
            if i % 64 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    })
}

/// Runs role `race` with a pipe on each side and checks every echoed byte. With
/// `nonblocking`, both pipe ends the child gets are `O_NONBLOCK`, and the first reads of
/// its output come slowly, so its writes find the pipe full.
fn echo_through_pipes(nonblocking: bool, what: &str) {
    let (stdin_r, stdin_w) = std::io::pipe().unwrap();
    let (mut stdout_r, stdout_w) = std::io::pipe().unwrap();
    if nonblocking {
        set_nonblocking(&stdin_r);
        set_nonblocking(&stdout_w);
    }
    let child = spawn_child("race", stdin_r.into(), stdout_w.into());
    let feeder = feed(stdin_w);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    for reads in 0.. {
        let n = stdout_r.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
        if nonblocking && reads < 20 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    feeder.join().unwrap();
    wait_ok(child, what);
    let data = data_after_marker(&out);
    assert_eq!(data.len(), TOTAL, "{what}: bytes echoed");
    sequence::check(&pattern(), data, 0);
}

#[test]
fn a_megabyte_echoes_through_stdin_and_stdout_pipes_with_cancelled_reads() {
    let _serial = serial();
    watchdog("stdio pipes", Duration::from_secs(120));
    echo_through_pipes(false, "stdio pipes");
}

#[test]
fn nonblocking_stdin_and_stdout_pipes_are_waited_on_and_left_nonblocking() {
    let _serial = serial();
    watchdog("O_NONBLOCK stdio", Duration::from_secs(120));
    // The child checks that fds 0 and 1 keep O_NONBLOCK (their flags do not change).
    echo_through_pipes(true, "O_NONBLOCK stdio");
}

#[test]
fn a_file_on_stdin_is_read_from_its_position_and_stdout_appends_to_a_file() {
    let _serial = serial();
    watchdog("stdio files", Duration::from_secs(120));
    const SKIP: u64 = 1000;
    let dir = std::env::temp_dir().join(format!("ringio-io-stdio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = RemoveOnDrop(dir.clone());
    let (in_path, out_path) = (dir.join("in"), dir.join("out"));
    let data: Vec<u8> = pattern().into_iter().cycle().take(TOTAL).collect();
    std::fs::write(&in_path, &data).unwrap();
    std::fs::write(&out_path, b"kept\n").unwrap();

    let mut input = std::fs::File::open(&in_path).unwrap();
    input.seek(SeekFrom::Start(SKIP)).unwrap();
    // Shares the open file description (and so its position) with the child's fd 0.
    let mut ours = input.try_clone().unwrap();
    let output = std::fs::OpenOptions::new()
        .append(true)
        .open(&out_path)
        .unwrap();
    let child = spawn_child("copy", input.into(), output.into());
    let err = wait_ok(child, "stdio files");
    assert!(
        err.contains(&format!("copied {}", TOTAL as u64 - SKIP)),
        "{err}"
    );
    assert_eq!(
        ours.stream_position().unwrap(),
        TOTAL as u64,
        "reads moved the shared position to the end"
    );

    let out = std::fs::read(&out_path).unwrap();
    assert!(out.starts_with(b"kept\n"), "appended, not overwritten");
    let echoed = data_after_marker(&out);
    assert_eq!(echoed.len() as u64, TOTAL as u64 - SKIP);
    assert!(
        echoed == &data[SKIP as usize..],
        "stdin was read from the file's position"
    );
}

/// Removes its directory when dropped, failed test or not.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn dev_null_gives_end_of_input_and_takes_a_megabyte() {
    let _serial = serial();
    watchdog("stdio /dev/null", Duration::from_secs(60));
    let child = spawn_child("null", Stdio::null(), Stdio::null());
    wait_ok(child, "stdio /dev/null");
}

#[test]
fn handles_in_this_process_leave_descriptors_as_they_were() {
    let _serial = serial();
    watchdog("stdio here", Duration::from_secs(30));
    let flags = std_flags();
    let before = fd_names();
    ringio::run(async {
        // Writing nothing touches the descriptor without printing into libtest's output.
        let (n, _) = ringio::io::stderr().write(Vec::<u8>::new()).await;
        assert_eq!(n.unwrap(), 0);
        let (n, _) = ringio::io::stdout().write(Vec::<u8>::new()).await;
        assert_eq!(n.unwrap(), 0);
        // A handle that never read or wrote holds no descriptor.
        let inside = fd_names();
        let idle = (ringio::io::stdin(), ringio::io::stdout());
        assert_eq!(fd_names(), inside);
        drop(idle);
    });
    assert_eq!(std_flags(), flags);
    assert_eq!(fd_names_settled(&before), before, "duplicates closed");
}
