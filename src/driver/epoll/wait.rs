//! The backend's one wait per loop turn: the receives that waited for a pool buffer
//! first (rule 7), then `epoll_pwait2` (or a timerfd and `epoll_wait` before Linux 5.11),
//! the ready descriptors' parked ops (rule 1) and the pool's results (rule 3).

use super::{Epoll, OFFLOAD_TOKEN, TIMER_TOKEN, cvt, spare};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

impl Epoll {
    /// The loop's wait: collects ready descriptors and pool results, sleeping up to
    /// `wait` as `Driver::enter` describes (`None`: do not sleep; `Some(None)`: until
    /// something happens).
    pub(crate) fn wait(&mut self, wait: Option<Option<Duration>>) -> io::Result<()> {
        self.forget_changed();
        self.collect_offloaded();
        let sleeping = wait.is_some() && self.done.is_empty();
        self.feed_starved(sleeping);
        let timeout = match wait {
            _ if !self.done.is_empty() => Some(Duration::ZERO),
            None => Some(Duration::ZERO),
            Some(t) => t,
        };
        let slept_from = (timeout != Some(Duration::ZERO)).then(spare::clock);
        let n = self.epoll_wait(timeout);
        self.spare.waited(slept_from);
        let n = match n {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => 0,
            Err(e) => return Err(e),
        };
        for i in 0..n {
            let ev = self.events[i];
            let (token, bits) = (ev.u64, ev.events);
            match token {
                OFFLOAD_TOKEN => drain_counter(&self.offload.event),
                TIMER_TOKEN => {
                    if let Some(t) = &self.timer {
                        drain_counter(t);
                    }
                }
                fd => {
                    let fd = fd as RawFd;
                    let (read, write) = (
                        (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32,
                        (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32,
                    );
                    let hup = (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
                    let Some(state) = self.fds.get_mut(fd as usize) else {
                        continue;
                    };
                    if bits & hup != 0 {
                        state.closed = true;
                    }
                    // A writable socket reports EPOLLOUT with every edge: most have no
                    // write parked to retry.
                    let writers = !state.writers.is_empty();
                    if bits & read != 0 {
                        state.drained = false;
                        self.readable(fd);
                    }
                    if bits & write != 0 && writers {
                        self.retry(fd, true);
                    }
                }
            }
        }
        self.collect_offloaded();
        Ok(())
    }

    /// One `epoll_pwait2` (nanosecond timeout), or a timerfd and `epoll_wait` before 5.11.
    fn epoll_wait(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        let (epfd, events, cap) = (
            self.epfd.as_raw_fd(),
            self.events.as_mut_ptr(),
            self.events.len() as libc::c_int,
        );
        let n = match &self.timer {
            None => {
                let ts = timeout.map(timespec);
                let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
                // SAFETY: `events` has `cap` entries for the kernel to fill; `ts` outlives
                // the call; no signal mask is passed.
                unsafe {
                    libc::syscall(
                        libc::SYS_epoll_pwait2,
                        epfd,
                        events,
                        cap,
                        ts_ptr,
                        0usize,
                        8usize,
                    )
                }
            }
            Some(timer) => {
                let ms = match timeout {
                    None => -1,
                    Some(d) if d.is_zero() => 0,
                    Some(d) => {
                        arm_timer(timer, d)?;
                        -1
                    }
                };
                // SAFETY: as above.
                unsafe { libc::epoll_wait(epfd, events, cap, ms) as libc::c_long }
            }
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    }
}

/// Whether `epoll_pwait2` exists here (Linux 5.11+).
pub(super) fn pwait2_works(epfd: &OwnedFd) -> bool {
    if crate::driver::fault::is_missing(crate::driver::fault::Missing::EpollPwait2) {
        return false;
    }
    let ts = timespec(Duration::ZERO);
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: one event slot and a zero timeout, both live locals.
    let r = unsafe {
        libc::syscall(
            libc::SYS_epoll_pwait2,
            epfd.as_raw_fd(),
            &mut ev,
            1,
            &ts,
            0usize,
            8usize,
        )
    };
    r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS)
}

/// Arms `timer` to fire once after `d` (a zero `it_value` would disarm it).
fn arm_timer(timer: &OwnedFd, d: Duration) -> io::Result<()> {
    let spec = libc::itimerspec {
        it_interval: timespec(Duration::ZERO),
        it_value: timespec(d.max(Duration::from_nanos(1))),
    };
    // SAFETY: `spec` is a live local; no old value is asked for.
    cvt(unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &spec, std::ptr::null_mut()) })
        .map(drop)
}

/// Reads an eventfd's or timerfd's counter back to zero (both are nonblocking).
fn drain_counter(fd: &OwnedFd) {
    let mut n = 0u64;
    // SAFETY: reads 8 bytes into a live local.
    let _ = unsafe { libc::read(fd.as_raw_fd(), (&raw mut n).cast(), 8) };
}
