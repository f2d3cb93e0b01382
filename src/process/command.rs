//! `Command`: std's process builder, started so that the child is waited for on the ring.

use super::child::Child;
use super::stdio::{ChildStderr, ChildStdin, ChildStdout};
use super::wait::Pidfd;
use crate::sys::pidfd;
use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

/// A process builder with std's shape: program, arguments, environment, working
/// directory and stdio, then [`spawn`](Command::spawn), [`output`](Command::output) or
/// [`status`](Command::status).
///
/// For a shell command line (asyncio's `create_subprocess_shell`), run the shell:
/// `Command::new("sh").arg("-c").arg("ls | wc -l")`.
///
/// # Examples
///
/// ```
/// use ringio::process::Command;
///
/// ringio::run(async {
///     let out = Command::new("echo").args(["a", "b"]).output().await.unwrap();
///     assert_eq!(out.stdout, b"a b\n");
/// });
/// ```
#[derive(Debug)]
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Which stdio streams the caller chose ([`output`](Command::output) pipes the
    /// others, as std's does).
    stdin_set: bool,
    stdout_set: bool,
    stderr_set: bool,
}

impl Command {
    /// A builder for running `program` (looked up in `PATH` if it has no `/`), with no
    /// arguments, the parent's environment and working directory, and inherited stdio.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     assert!(Command::new("true").status().await.unwrap().success());
    /// });
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command {
            std: std::process::Command::new(program),
            kill_on_drop: false,
            stdin_set: false,
            stdout_set: false,
            stderr_set: false,
        }
    }

    /// Adds one argument.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("echo").arg("hi").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"hi\n");
    /// });
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("printf").args(["%s-%s", "a", "b"]).output().await.unwrap();
    ///     assert_eq!(out.stdout, b"a-b");
    /// });
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets one environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo $GREETING"]).env("GREETING", "hi")
    ///         .output().await.unwrap();
    ///     assert_eq!(out.stdout, b"hi\n");
    /// });
    /// ```
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo $A$B"]).envs([("A", "1"), ("B", "2")])
    ///         .output().await.unwrap();
    ///     assert_eq!(out.stdout, b"12\n");
    /// });
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes one variable from the child's environment.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo ${HOME-none}"]).env_remove("HOME")
    ///         .output().await.unwrap();
    ///     assert_eq!(out.stdout, b"none\n");
    /// });
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Gives the child an empty environment (plus what [`env`](Command::env) adds after).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("/usr/bin/env").env_clear().env("ONLY", "1")
    ///         .output().await.unwrap();
    ///     assert_eq!(out.stdout, b"ONLY=1\n");
    /// });
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("pwd").current_dir("/").output().await.unwrap();
    ///     assert_eq!(out.stdout, b"/\n");
    /// });
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's stdin: `Stdio::piped()` gives [`Child::stdin`], `inherit()`
    /// (the default for `spawn` and `status`) or `null()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::io::AsyncWriteExt;
    /// use ringio::process::Command;
    /// use std::process::Stdio;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped())
    ///         .spawn().unwrap();
    ///     let stdin = child.stdin.take().unwrap();
    ///     stdin.write_all(b"echo".to_vec()).await.0.unwrap();
    ///     drop(stdin); // cat sees end of input
    ///     let out = child.wait_with_output().await.unwrap();
    ///     assert_eq!(out.stdout, b"echo");
    /// });
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// Sets the child's stdout: `Stdio::piped()` gives [`Child::stdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    /// use std::process::Stdio;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("echo").stdout(Stdio::null()).output().await.unwrap();
    ///     assert!(out.stdout.is_empty());
    /// });
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self.stdout_set = true;
        self
    }

    /// Sets the child's stderr: `Stdio::piped()` gives [`Child::stderr`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    /// use std::process::Stdio;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo e >&2"]).stderr(Stdio::null())
    ///         .output().await.unwrap();
    ///     assert!(out.stderr.is_empty());
    /// });
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self.stderr_set = true;
        self
    }

    /// Whether dropping the [`Child`] before its status was collected sends it SIGKILL
    /// (off by default: the child runs on and is reaped in the background when it exits).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let child = Command::new("sleep").arg("60").kill_on_drop(true).spawn().unwrap();
    ///     drop(child); // killed, then reaped in the background
    /// });
    /// ```
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// Starts the child. Stdio not set is inherited.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let mut child = Command::new("true").spawn().unwrap();
    ///     assert!(child.id().is_some());
    ///     assert!(child.wait().await.unwrap().success());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `NotFound` naming the program if it does not exist; what fork/exec or
    /// pidfd_open(2) report otherwise (pidfds need Linux 5.3).
    pub fn spawn(&mut self) -> io::Result<Child> {
        let mut child = self.std.spawn().map_err(|e| {
            let program = self.std.get_program().to_string_lossy();
            crate::io::context::with_context(e, format_args!("cannot run {program:?}"))
        })?;
        let fd = match pidfd::open(child.id()) {
            Ok(fd) => fd,
            Err(e) => {
                // Without a pidfd the child cannot be waited for on the ring: end it now
                // rather than leave it unreaped.
                let _ = child.kill();
                let _ = child.wait();
                return Err(crate::io::context::with_context(
                    e,
                    "pidfd_open for a new child (needs Linux 5.3)",
                ));
            }
        };
        let stdin = child.stdin.take().map(ChildStdin::from_std);
        let stdout = child.stdout.take().map(ChildStdout::from_std);
        let stderr = child.stderr.take().map(ChildStderr::from_std);
        Ok(Child::new(
            child.id(),
            Pidfd::new(fd),
            self.kill_on_drop,
            (stdin, stdout, stderr),
        ))
    }

    /// Runs the child to its end and collects its stdout and stderr (piped unless set
    /// otherwise); its stdin is null unless set.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let out = Command::new("sh").args(["-c", "echo out; exit 3"]).output().await.unwrap();
    ///     assert_eq!(out.status.code(), Some(3));
    ///     assert_eq!(out.stdout, b"out\n");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn), and what reading the pipes or waiting reports.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the [`Child`]: it runs on (or is killed, with
    /// [`kill_on_drop`](Command::kill_on_drop)) and is reaped in the background.
    pub async fn output(&mut self) -> io::Result<Output> {
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        if !self.stdout_set {
            self.std.stdout(Stdio::piped());
        }
        if !self.stderr_set {
            self.std.stderr(Stdio::piped());
        }
        let child = self.spawn();
        self.reset_default_stdio();
        child?.wait_with_output().await
    }

    /// Runs the child to its end (stdio inherited unless set) and gives its status.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::process::Command;
    ///
    /// ringio::run(async {
    ///     let status = Command::new("sh").args(["-c", "exit 2"]).status().await.unwrap();
    ///     assert_eq!(status.code(), Some(2));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`spawn`](Command::spawn), and what waiting reports.
    ///
    /// # Cancel safety
    ///
    /// As [`output`](Command::output).
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        let mut child = self.spawn()?;
        // Nothing reads the child's pipes here: as std's `status`, close them.
        child.stdin.take();
        child.stdout.take();
        child.stderr.take();
        child.wait().await
    }

    /// Puts back the inherited stdio that [`output`](Command::output) replaced, so a
    /// later `spawn` sees what the caller set and nothing else.
    fn reset_default_stdio(&mut self) {
        if !self.stdin_set {
            self.std.stdin(Stdio::inherit());
        }
        if !self.stdout_set {
            self.std.stdout(Stdio::inherit());
        }
        if !self.stderr_set {
            self.std.stderr(Stdio::inherit());
        }
    }
}
