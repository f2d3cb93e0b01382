//! `Child`: a running child process, its pipes, and waiting for it on the ring.

use super::stdio::{ChildStderr, ChildStdin, ChildStdout};
use super::wait::{Pidfd, reap_in_background};
use crate::io::AsyncReadExt;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::process::{ExitStatus, Output};
use std::task::Poll;

/// A child process started by [`Command::spawn`](super::Command::spawn).
///
/// Dropping it does not wait: a child whose status was not collected is reaped in the
/// background once it exits (module rule 4), or killed first if the command had
/// [`kill_on_drop(true)`](super::Command::kill_on_drop).
///
/// # Examples
///
/// ```
/// use ringio::process::Command;
///
/// ringio::run(async {
///     let mut child = Command::new("sh").args(["-c", "exit 4"]).spawn().unwrap();
///     assert_eq!(child.wait().await.unwrap().code(), Some(4));
/// });
/// ```
#[derive(Debug)]
pub struct Child {
    /// The child's stdin, if it was set to `Stdio::piped()`.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if it was set to `Stdio::piped()`.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if it was set to `Stdio::piped()`.
    pub stderr: Option<ChildStderr>,
    pid: u32,
    /// `None` only inside `drop`.
    pidfd: Option<Pidfd>,
    kill_on_drop: bool,
}

type Pipes = (Option<ChildStdin>, Option<ChildStdout>, Option<ChildStderr>);

impl Child {
    pub(super) fn new(pid: u32, pidfd: Pidfd, kill_on_drop: bool, pipes: Pipes) -> Child {
        let (stdin, stdout, stderr) = pipes;
        Child {
            stdin,
            stdout,
            stderr,
            pid,
            pidfd: Some(pidfd),
            kill_on_drop,
        }
    }

    fn pidfd(&self) -> &Pidfd {
        self.pidfd.as_ref().expect("taken only by drop")
    }

    /// The child's process id, or `None` once its status was collected (the id may then
    /// belong to another process).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.id().unwrap() > 0);
    ///     child.wait().await.unwrap();
    ///     assert_eq!(child.id(), None);
    /// });
    /// ```
    pub fn id(&self) -> Option<u32> {
        self.pidfd().status().is_none().then_some(self.pid)
    }

    /// Waits for the child to exit and gives its status. Closes [`stdin`](Child::stdin)
    /// first, so a child reading it to its end is not left waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.wait().await.unwrap().success());
    ///     assert!(child.wait().await.unwrap().success()); // the status is kept
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What waitid(2) or the ring report (rare: the child is ours and unreaped).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped wait loses no status; the next wait returns it.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.stdin.take();
        self.pidfd().wait().await
    }

    /// The child's status if it has exited (reaping it), else `None`; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    ///     assert!(child.try_wait().unwrap().is_none());
    ///     child.kill().await.unwrap();
    ///     assert!(child.try_wait().unwrap().is_some());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What waitid(2) reports.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.pidfd().try_wait()
    }

    /// Sends SIGKILL to the child without waiting for it to end. Does nothing if its
    /// status was already collected.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    ///     child.start_kill().unwrap();
    ///     assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What pidfd_send_signal(2) reports.
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.pidfd().signal(libc::SIGKILL)
    }

    /// Sends SIGKILL to the child and waits until it is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    ///     child.kill().await.unwrap();
    ///     assert!(!child.wait().await.unwrap().success());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`start_kill`](Child::start_kill) and [`wait`](Child::wait).
    ///
    /// # Cancel safety
    ///
    /// The signal is sent at the first poll; dropping the future later loses nothing.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Closes stdin, reads stdout and stderr to their ends at the same time (so a child
    /// that fills one pipe while the other is read cannot deadlock), then waits: asyncio's
    /// `communicate()`. Streams that were not piped (or were taken) come back empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    /// use std::process::Stdio;
    ///
    /// ringio::run(async {
    ///     let child = Command::new("sh").args(["-c", "echo a; echo b >&2"])
    ///         .stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    ///     let out = child.wait_with_output().await.unwrap();
    ///     assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"a\n"[..], &b"b\n"[..]));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What reading a pipe or waiting reports.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the child (module rule 4); the output read so far is lost.
    #[doc(alias = "communicate")]
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        self.stdin.take();
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let out = read_all(stdout.as_ref());
        let err = read_all(stderr.as_ref());
        let (out, err) = join(out, err).await;
        let (stdout, stderr) = (out?, err?);
        let status = self.wait().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Everything `pipe` holds until its end; nothing if there is no pipe.
async fn read_all(pipe: Option<&impl AsyncReadExt>) -> io::Result<Vec<u8>> {
    let Some(pipe) = pipe else {
        return Ok(Vec::new());
    };
    let (res, buf) = pipe.read_to_end(Vec::new()).await;
    res.map(|_| buf)
}

/// Runs both futures at once until both are done.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().expect("checked"), rb.take().expect("checked")))
        } else {
            Poll::Pending
        }
    })
    .await
}

impl Drop for Child {
    fn drop(&mut self) {
        let Some(pidfd) = self.pidfd.take() else {
            return;
        };
        if pidfd.status().is_some() {
            return;
        }
        if self.kill_on_drop {
            // Failing here leaves a child running, which is what no kill_on_drop means.
            let _ = pidfd.signal(libc::SIGKILL);
        }
        reap_in_background(pidfd);
    }
}
