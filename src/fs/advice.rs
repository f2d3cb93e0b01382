//! `Advice`: how a range of a file will be read, for [`File::fadvise`](super::File::fadvise).
#![forbid(unsafe_code)]

/// An access pattern to announce for a range of a file (posix_fadvise(2)'s `advice`).
///
/// Advice is a hint: it changes read-ahead and the page cache, never what reads return.
///
/// # Examples
///
/// ```
/// use ringio::fs::{Advice, File};
///
/// ringio::run(async {
///     let file = File::open("/proc/self/status").await.unwrap();
///     file.fadvise(0, 0, Advice::Sequential).await.unwrap();
/// });
/// ```
#[doc(alias = "posix_fadvise")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Advice {
    /// No particular pattern (the default read-ahead). `POSIX_FADV_NORMAL`.
    Normal,
    /// Read from lower to higher offsets: read-ahead grows. `POSIX_FADV_SEQUENTIAL`.
    Sequential,
    /// Read in random order: read-ahead is turned off. `POSIX_FADV_RANDOM`.
    Random,
    /// Read once. `POSIX_FADV_NOREUSE` (a no-op before Linux 6.3).
    NoReuse,
    /// Read soon: the kernel starts reading the range into the page cache.
    /// `POSIX_FADV_WILLNEED`.
    WillNeed,
    /// Not read soon: clean cached pages of the range are dropped. `POSIX_FADV_DONTNEED`.
    DontNeed,
}

impl Advice {
    /// The `POSIX_FADV_*` value.
    pub(super) fn raw(self) -> i32 {
        match self {
            Advice::Normal => libc::POSIX_FADV_NORMAL,
            Advice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
            Advice::Random => libc::POSIX_FADV_RANDOM,
            Advice::NoReuse => libc::POSIX_FADV_NOREUSE,
            Advice::WillNeed => libc::POSIX_FADV_WILLNEED,
            Advice::DontNeed => libc::POSIX_FADV_DONTNEED,
        }
    }
}
