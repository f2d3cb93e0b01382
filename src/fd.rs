//! The file-descriptor wrapper: the one place outside `driver`, `op` and `buf` that makes
//! raw syscalls, each wrapped in a safe function.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;

/// A descriptor shared by a socket and the operations in flight on it.
///
/// An operation holds a clone until its CQE is reaped, so the descriptor number is not
/// closed (and cannot be reused by a new socket) while the kernel may still act on it.
/// The last clone closes it with a plain `close(2)`: closing needs no ring, so it is safe
/// from any `Drop`, even while the driver is busy.
#[derive(Clone, Debug)]
pub(crate) struct SharedFd(Rc<OwnedFd>);

impl SharedFd {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        SharedFd(Rc::new(fd))
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub(crate) fn as_fd(&self) -> &OwnedFd {
        &self.0
    }

    /// The descriptor itself if no op holds a clone any more (`File::close` closes it
    /// through the ring); otherwise the handle back.
    pub(crate) fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        Rc::try_unwrap(self.0).map_err(SharedFd)
    }
}

/// Takes ownership of a descriptor the kernel returned (accept, open).
pub(crate) fn owned_from_raw(fd: RawFd) -> OwnedFd {
    debug_assert!(fd >= 0);
    // SAFETY: the kernel just created `fd` for us and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A close-on-exec eventfd: other threads write to it to wake a sleeping ring. It stays
/// blocking: io_uring answers a read on an O_NONBLOCK file with -EAGAIN instead of waiting.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with no pointers.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned_from_raw(fd))
}

/// Adds one to an eventfd's counter, waking a read armed on it.
pub(crate) fn eventfd_signal(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live local; an eventfd accepts exactly that. EAGAIN
    // (counter saturated) means a wake-up is already pending, so the result is ignored.
    let _ = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit.
///
/// # Errors
///
/// If `getrlimit`/`setrlimit` fail (they do not on Linux for this resource).
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the live local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads the live local struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// The soft RLIMIT_MEMLOCK in bytes (`u64::MAX` when unlimited), for error messages.
pub(crate) fn memlock_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the live local struct.
    (unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } == 0).then_some(lim.rlim_cur)
}

/// Pins the calling thread to `cpu`.
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    set_allowed_cpus(&[cpu])
}

/// The CPUs the calling thread may run on (its affinity mask), in order.
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: all-zero is an empty cpu_set_t.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: passes a pointer to the live local set and its exact size.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: CPU_ISSET reads one bit inside the live local set.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Lets the calling thread run on exactly `cpus`.
pub(crate) fn set_allowed_cpus(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: all-zero is an empty cpu_set_t.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET writes one bit inside the live local set (it checks the bound).
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: passes a pointer to the live local set and its exact size.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// SIGINT delivery for `ringio::signal::ctrl_c`, built from async-signal-safe parts.
///
/// A `signalfd` would need SIGINT blocked in every thread of the process, which a library
/// cannot promise (threads started before the runtime keep their mask). So a handler
/// counts the signal and writes to a fixed set of eventfds; each waiter reads one of them
/// through its ring. The eventfds are never closed, so the handler never writes to a
/// descriptor number that was reused for something else.
pub(crate) mod sigint {
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

    /// Waiters that can wait at once; more get a clear error. Each costs one eventfd.
    pub(crate) const SLOTS: usize = 256;

    static GENERATION: AtomicU64 = AtomicU64::new(0);
    static FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
    static CLAIMED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
    static INSTALLED: Mutex<bool> = Mutex::new(false);

    extern "C" fn on_sigint(_: libc::c_int) {
        GENERATION.fetch_add(1, Ordering::SeqCst);
        let one: u64 = 1;
        for fd in &FDS {
            let fd = fd.load(Ordering::SeqCst);
            if fd >= 0 {
                // SAFETY: write(2) is async-signal-safe; `fd` is an eventfd never closed.
                let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
            }
        }
    }

    /// Installs the handler once per process. From then on SIGINT no longer ends the
    /// process: it completes every `ctrl_c` waiting.
    pub(crate) fn install() -> io::Result<()> {
        let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        if *installed {
            return Ok(());
        }
        // SAFETY: all-zero is a valid sigaction to fill in.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_sigint as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        // SAFETY: sigemptyset initialises the mask inside the live struct.
        unsafe { libc::sigemptyset(&mut sa.sa_mask) };
        // SAFETY: installs a handler that only uses async-signal-safe calls.
        if unsafe { libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        *installed = true;
        Ok(())
    }

    /// How many SIGINTs arrived since the handler was installed.
    pub(crate) fn generation() -> u64 {
        GENERATION.load(Ordering::SeqCst)
    }

    /// A claimed eventfd slot; released on drop.
    pub(crate) struct Slot(usize);

    impl Slot {
        /// Claims a free slot and returns it with a duplicate of its eventfd for reading.
        pub(crate) fn claim() -> io::Result<(Slot, OwnedFd)> {
            for (i, claimed) in CLAIMED.iter().enumerate() {
                if claimed
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                let slot = Slot(i);
                let mut fd = FDS[i].load(Ordering::SeqCst);
                if fd < 0 {
                    // Kept open for the life of the process (module docs).
                    fd = std::os::fd::IntoRawFd::into_raw_fd(super::eventfd()?);
                    FDS[i].store(fd, Ordering::SeqCst);
                }
                // SAFETY: dup of an fd we own; the copy is ours to close.
                let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
                if copy < 0 {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: `copy` was just created and nothing else owns it.
                return Ok((slot, unsafe { OwnedFd::from_raw_fd(copy) }));
            }
            Err(io::Error::other(format!(
                "more than {SLOTS} ctrl_c() waiters at once; share one (e.g. with an Event)"
            )))
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            CLAIMED[self.0].store(false, Ordering::Release);
        }
    }
}
