//! A runtime that starts with no descriptor left says so (EMFILE, `ulimit -n` and its
//! value), on both backends, instead of a bare "Too many open files"; once descriptors
//! are free again it starts.
//!
//! The test lowers this process's soft RLIMIT_NOFILE and takes every descriptor under it,
//! so this file holds that one test, and restores both before it asserts.

mod support;

use ringio::Runtime;
use ringio::runtime::Backend;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

fn nofile() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the live local struct.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim
}

fn set_nofile(lim: &libc::rlimit) {
    // SAFETY: setrlimit reads the live local struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, lim) }, 0);
}

/// Takes every descriptor the soft limit leaves: dups of stdin until EMFILE.
fn take_every_descriptor() -> Vec<OwnedFd> {
    let mut held = Vec::new();
    loop {
        // SAFETY: F_DUPFD_CLOEXEC of fd 0 returns a new descriptor or -1.
        let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
            return held;
        }
        // SAFETY: `fd` was just made and is owned by nobody else.
        held.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// Starts a one-core runtime of `backend` and runs an empty future on it.
fn start(backend: Backend) -> io::Result<()> {
    let rt = Runtime::builder().workers(1).backend(backend).build()?;
    rt.try_block_on(async {})
}

#[test]
fn start_without_a_free_descriptor_says_so() {
    let _serial = support::serial();
    let saved = nofile();
    let open = support::fd_count() as u64;
    // A little room above what is open, all of it then taken: no descriptor left.
    set_nofile(&libc::rlimit {
        rlim_cur: open + 16,
        rlim_max: saved.rlim_max,
    });
    // 0 free: every backend fails at its first descriptor; 1 to 5 free: each fails at a
    // later one (the ring, the epoll fd, ...) or starts.
    let mut results = Vec::new();
    for free in 0..6 {
        let mut held = take_every_descriptor();
        held.truncate(held.len().saturating_sub(free));
        for backend in [Backend::IoUring, Backend::Epoll, Backend::Auto] {
            results.push((free, backend, start(backend)));
        }
    }
    let with_room = start(Backend::Epoll);
    set_nofile(&saved);

    for (free, backend, res) in results {
        let what = format!("{backend:?} with {free} descriptors free");
        let e = match res {
            Ok(()) if free > 0 => continue,
            Ok(()) => panic!("{what}: a runtime started with no descriptor left"),
            Err(e) => e,
        };
        let msg = e.to_string();
        eprintln!("{what}: {msg}");
        assert!(msg.contains("no file descriptor left"), "{what}: {msg}");
        assert!(msg.contains("ulimit -n"), "{what}: {msg}");
        assert!(
            msg.contains(&format!("{}", open + 16)),
            "{what}: names the limit: {msg}"
        );
        assert_eq!(e.raw_os_error(), None, "wrapped, the errno in its source");
        let source = std::error::Error::source(e.get_ref().unwrap()).unwrap();
        let os = source.downcast_ref::<io::Error>().unwrap();
        assert_eq!(os.raw_os_error(), Some(libc::EMFILE), "{what}");
    }
    with_room.expect("the runtime starts once descriptors are free");
}
