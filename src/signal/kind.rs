//! `SignalKind`: which signal a listener waits for, and which ones it may not.

use crate::sys::signal::MAX_SIGNAL;
use std::fmt;
use std::io;

/// A signal number to listen for with [`signal`](super::signal), as tokio's
/// `signal::unix::SignalKind`.
///
/// The named constructors cover the signals a program usually handles; [`from_raw`]
/// takes any number. Whether the signal can be listened for is checked by `signal()`,
/// not here.
///
/// [`from_raw`]: SignalKind::from_raw
///
/// # Examples
///
/// ```
/// use ringio::signal::SignalKind;
///
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGHUP), SignalKind::hangup());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// Any signal number, checked when it is listened for.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt_min = ringio::signal::SignalKind::from_raw(libc::SIGRTMIN());
    /// assert_eq!(rt_min.as_raw_value(), libc::SIGRTMIN());
    /// ```
    pub const fn from_raw(signum: i32) -> Self {
        SignalKind(signum)
    }

    /// The signal number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    /// ```
    pub const fn as_raw_value(&self) -> i32 {
        self.0
    }

    /// SIGTERM: asked to terminate (`kill`'s default, and how service managers stop a
    /// process).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::terminate().as_raw_value(), libc::SIGTERM);
    /// ```
    pub const fn terminate() -> Self {
        SignalKind(libc::SIGTERM)
    }

    /// SIGHUP: the terminal hung up; daemons take it as "reload the configuration".
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::hangup().as_raw_value(), libc::SIGHUP);
    /// ```
    pub const fn hangup() -> Self {
        SignalKind(libc::SIGHUP)
    }

    /// SIGINT: Ctrl-C at the terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::interrupt().as_raw_value(), libc::SIGINT);
    /// ```
    pub const fn interrupt() -> Self {
        SignalKind(libc::SIGINT)
    }

    /// SIGQUIT: Ctrl-\ at the terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::quit().as_raw_value(), libc::SIGQUIT);
    /// ```
    pub const fn quit() -> Self {
        SignalKind(libc::SIGQUIT)
    }

    /// SIGUSR1: no meaning of its own; the program gives it one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::user_defined1().as_raw_value(), libc::SIGUSR1);
    /// ```
    pub const fn user_defined1() -> Self {
        SignalKind(libc::SIGUSR1)
    }

    /// SIGUSR2: no meaning of its own; the program gives it one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::user_defined2().as_raw_value(), libc::SIGUSR2);
    /// ```
    pub const fn user_defined2() -> Self {
        SignalKind(libc::SIGUSR2)
    }

    /// SIGCHLD: a child process stopped or ended. (`process::Child::wait` does not need
    /// it: it waits on a pidfd.)
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::child().as_raw_value(), libc::SIGCHLD);
    /// ```
    pub const fn child() -> Self {
        SignalKind(libc::SIGCHLD)
    }

    /// SIGWINCH: the terminal changed size.
    ///
    /// # Examples
    ///
    /// ```
    /// let kind = ringio::signal::SignalKind::window_change();
    /// assert_eq!(kind.as_raw_value(), libc::SIGWINCH);
    /// ```
    pub const fn window_change() -> Self {
        SignalKind(libc::SIGWINCH)
    }

    /// SIGPIPE: a write to a pipe or socket whose reader is gone. (Rust programs start
    /// with it ignored; the write fails with `BrokenPipe` either way.)
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::pipe().as_raw_value(), libc::SIGPIPE);
    /// ```
    pub const fn pipe() -> Self {
        SignalKind(libc::SIGPIPE)
    }

    /// SIGALRM: a timer set with `alarm(2)` or `setitimer(2)` expired.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::signal::SignalKind::alarm().as_raw_value(), libc::SIGALRM);
    /// ```
    pub const fn alarm() -> Self {
        SignalKind(libc::SIGALRM)
    }

    /// The signal's name, e.g. `SIGTERM`, or `signal 40` for one without a short name.
    fn name(&self) -> String {
        let name = match self.0 {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGTRAP => "SIGTRAP",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGCONT => "SIGCONT",
            libc::SIGSTOP => "SIGSTOP",
            libc::SIGTSTP => "SIGTSTP",
            libc::SIGWINCH => "SIGWINCH",
            n => return format!("signal {n}"),
        };
        name.to_owned()
    }

    /// The signal number, if a handler may be installed for it.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the signal, for: numbers outside `1..=SIGRTMAX`; SIGKILL
    /// and SIGSTOP, which cannot be caught (`man 7 signal`); and the synchronous fault
    /// signals SIGSEGV, SIGBUS, SIGFPE and SIGILL, after which returning from a handler
    /// re-runs the faulting instruction (`man 2 sigaction`), so they cannot be waited
    /// for.
    pub(crate) fn checked(self) -> io::Result<i32> {
        let why = match self.0 {
            n if !(1..=MAX_SIGNAL).contains(&n) => {
                "is not a signal number (they run from 1 to SIGRTMAX, 64)"
            }
            libc::SIGKILL | libc::SIGSTOP => "cannot be caught",
            libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL => {
                "is a synchronous fault: the faulting thread cannot go on to wait for it"
            }
            n => return Ok(n),
        };
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot listen for {}: it {why}", self.name()),
        ))
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignalKind({} = {})", self.name(), self.0)
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::SignalKind;

    #[test]
    fn catchable_kinds_pass() {
        for kind in [
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::interrupt(),
            SignalKind::quit(),
            SignalKind::user_defined1(),
            SignalKind::user_defined2(),
            SignalKind::child(),
            SignalKind::window_change(),
            SignalKind::pipe(),
            SignalKind::alarm(),
            SignalKind::from_raw(64),
        ] {
            assert_eq!(kind.checked().unwrap(), kind.as_raw_value());
        }
    }
}
