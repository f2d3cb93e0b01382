//! Process descriptors (pidfds): opening one for a child, signalling it, and reaping it
//! through it, so no SIGCHLD handler and no `waitpid(-1)` ever touch other code's children.
//!
//! Kernel rules this file relies on:
//! 1. pidfd_open(2) (Linux 5.3): a pidfd refers to one process, even a zombie one, and a
//!    pid cannot be reused while its zombie is unreaped, so a pidfd opened for our own
//!    unreaped child always names that child.
//! 2. pidfd_open(2): "A PID file descriptor can be monitored using poll(2) … When the
//!    process that it refers to terminates, the file descriptor indicates as readable."
//! 3. waitid(2) (Linux 5.4): `P_PIDFD` waits for the child the pidfd names; with `WNOHANG`
//!    and the child still running it returns 0 and leaves `si_pid` zero.
//! 4. pidfd_send_signal(2) (Linux 5.1): signals exactly that process; once it was reaped
//!    the call fails with `ESRCH` instead of reaching a new process with the same pid.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// `P_PIDFD` (linux/wait.h), not in every libc version.
pub(crate) const P_PIDFD: libc::idtype_t = 3;

/// A close-on-exec pidfd for process `pid` (rule 1). It stays blocking: io_uring answers
/// an op on an `O_NONBLOCK` descriptor with -EAGAIN rather than waiting.
pub(crate) fn open(pid: u32) -> io::Result<OwnedFd> {
    // PIDFD_NONBLOCK is not asked for (above); the pidfd is close-on-exec by default
    // (pidfd_open(2)).
    // SAFETY: a plain syscall with integer arguments; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(super::fd::owned_from_raw(fd as i32))
}

/// Sends `signal` to the process `pidfd` names (rule 4).
///
/// # Errors
///
/// `ESRCH` once the process was reaped; what pidfd_send_signal(2) reports otherwise.
pub(crate) fn send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: a plain syscall; a null siginfo asks for the default one (pidfd_send_signal(2)).
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reaps the child `pidfd` names if it has exited (rule 3); `None` while it runs.
///
/// # Errors
///
/// What waitid(2) reports, e.g. `ECHILD` if it was reaped already.
pub(crate) fn try_reap(pidfd: BorrowedFd<'_>) -> io::Result<Option<ExitStatus>> {
    // SAFETY: an all-zero siginfo_t is valid plain data.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `info` is a live local the kernel fills.
        let r = unsafe {
            libc::waitid(
                P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG,
            )
        };
        if r == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        // A pidfd made O_NONBLOCK (the epoll backend does so to descriptors it polls)
        // answers a running child with EAGAIN (waitid(2), Linux 5.10).
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            _ => return Err(e),
        }
    }
    // SAFETY: waitid filled `info` for a child-state change (or left it zeroed).
    if unsafe { info.si_pid() } == 0 {
        return Ok(None);
    }
    Ok(Some(exit_status(&info)))
}

/// The wait status waitpid(2) would have given for the child-state change in `info`
/// (waitid(2): `si_code` is CLD_EXITED, CLD_KILLED or CLD_DUMPED, `si_status` the exit
/// code or the signal).
pub(crate) fn exit_status(info: &libc::siginfo_t) -> ExitStatus {
    // SAFETY: `info` describes a child-state change (SIGCHLD layout), so `si_status` is
    // the field the kernel wrote.
    let status = unsafe { info.si_status() };
    let raw = match info.si_code {
        libc::CLD_EXITED => (status & 0xff) << 8,
        libc::CLD_KILLED => status & 0x7f,
        libc::CLD_DUMPED => (status & 0x7f) | 0x80,
        // WEXITED asks for nothing else; keep the number visible rather than invent one.
        _ => status,
    };
    ExitStatus::from_raw(raw)
}

/// Blocks until the child `pidfd` names has exited, then reaps it: for a thread with no
/// runtime left to wait on (rule 2, then rule 3).
pub(crate) fn reap_blocking(pidfd: &OwnedFd) -> io::Result<ExitStatus> {
    loop {
        if let Some(status) = try_reap(pidfd.as_fd())? {
            return Ok(status);
        }
        let mut p = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let r = unsafe { libc::poll(&mut p, 1, -1) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The children are reaped through their pidfds, which clippy cannot see.
    #[test]
    #[allow(clippy::zombie_processes)]
    fn reaps_an_exited_child_through_its_pidfd() {
        let child = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap();
        let fd = open(child.id()).unwrap();
        assert_eq!(reap_blocking(&fd).unwrap().code(), Some(7));
        // Reaped: a second wait finds no child, a signal finds no process (rules 3, 4).
        assert!(try_reap(fd.as_fd()).is_err());
        assert_eq!(
            send_signal(fd.as_fd(), libc::SIGKILL)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ESRCH)
        );
    }

    #[test]
    #[allow(clippy::zombie_processes)]
    fn a_killed_child_reports_its_signal() {
        let child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let fd = open(child.id()).unwrap();
        assert!(try_reap(fd.as_fd()).unwrap().is_none());
        send_signal(fd.as_fd(), libc::SIGKILL).unwrap();
        assert_eq!(reap_blocking(&fd).unwrap().signal(), Some(libc::SIGKILL));
    }
}
