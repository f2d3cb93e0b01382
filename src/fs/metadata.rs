//! `Metadata`: what statx(2) says about a file.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

/// Size, type, permissions and times of a file, from one statx(2).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-meta-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("m.txt");
///     ringio::fs::write(&path, b"abc").await.unwrap();
///     let meta = ringio::fs::metadata(&path).await.unwrap();
///     assert_eq!(meta.len(), 3);
///     assert!(meta.is_file() && !meta.is_dir());
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[doc(alias = "os.stat_result")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    len: u64,
    /// File type and permission bits (`st_mode`).
    mode: u32,
    modified: Option<SystemTime>,
    accessed: Option<SystemTime>,
    created: Option<SystemTime>,
}

impl Metadata {
    pub(super) fn from_statx(stx: &libc::statx) -> Metadata {
        let time = |bit: u32, ts: libc::statx_timestamp| {
            (stx.stx_mask & bit != 0).then(|| to_system_time(ts.tv_sec, ts.tv_nsec))
        };
        Metadata {
            len: stx.stx_size,
            mode: u32::from(stx.stx_mode),
            modified: time(libc::STATX_MTIME, stx.stx_mtime),
            accessed: time(libc::STATX_ATIME, stx.stx_atime),
            created: time(libc::STATX_BTIME, stx.stx_btime),
        }
    }

    /// The same fields from std's metadata (read on the blocking pool, for what has no
    /// statx on the ring here: not following a symlink).
    pub(super) fn from_std(m: &std::fs::Metadata) -> Metadata {
        use std::os::unix::fs::MetadataExt;
        Metadata {
            len: m.len(),
            mode: m.mode(),
            modified: m.modified().ok(),
            accessed: m.accessed().ok(),
            created: m.created().ok(),
        }
    }

    /// The size in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-len-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("len.txt");
    ///     ringio::fs::write(&path, vec![0u8; 4096]).await.unwrap();
    ///     assert_eq!(ringio::fs::metadata(&path).await.unwrap().len(), 4096);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    #[doc(alias = "st_size")]
    #[allow(clippy::len_without_is_empty)] // a file's size, as std::fs::Metadata::len
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether this is a regular file.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     assert!(!ringio::fs::metadata("/").await.unwrap().is_file());
    /// });
    /// ```
    #[doc(alias = "S_ISREG")]
    pub fn is_file(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// Whether this is a directory.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     assert!(ringio::fs::metadata("/").await.unwrap().is_dir());
    /// });
    /// ```
    #[doc(alias = "S_ISDIR")]
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// Whether this is a symbolic link: only ever true for
    /// [`symlink_metadata`](super::symlink_metadata) and
    /// [`DirEntry::metadata`](super::DirEntry::metadata), which do not follow links.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let link = ringio::fs::symlink_metadata("/proc/self").await.unwrap();
    ///     assert!(link.is_symlink() && !link.is_dir());
    ///     assert!(!ringio::fs::metadata("/proc/self").await.unwrap().is_symlink());
    /// });
    /// ```
    #[doc(alias = "S_ISLNK")]
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }

    /// The permission bits, as `std::fs::Permissions` (`.mode()` gives `st_mode`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// ringio::run(async {
    ///     let perms = ringio::fs::metadata("/").await.unwrap().permissions();
    ///     assert_ne!(perms.mode() & 0o111, 0, "the root directory can be searched");
    /// });
    /// ```
    #[doc(alias = "st_mode")]
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode)
    }

    /// The last modification time.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let modified = ringio::fs::metadata("/").await.unwrap().modified().unwrap();
    ///     assert!(modified > std::time::SystemTime::UNIX_EPOCH);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `Unsupported` if the filesystem does not record it.
    #[doc(alias = "st_mtime")]
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.modified.ok_or_else(|| unsupported("modification"))
    }

    /// The last access time.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     assert!(ringio::fs::metadata("/").await.unwrap().accessed().is_ok());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `Unsupported` if the filesystem does not record it.
    #[doc(alias = "st_atime")]
    pub fn accessed(&self) -> io::Result<SystemTime> {
        self.accessed.ok_or_else(|| unsupported("access"))
    }

    /// The creation (birth) time.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     // Not every filesystem records it (statx's STATX_BTIME).
    ///     let _maybe = ringio::fs::metadata("/").await.unwrap().created();
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `Unsupported` if the filesystem does not record it.
    #[doc(alias = "st_birthtime")]
    pub fn created(&self) -> io::Result<SystemTime> {
        self.created.ok_or_else(|| unsupported("creation"))
    }
}

fn to_system_time(sec: i64, nsec: u32) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(nsec));
    if sec >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(sec.unsigned_abs()) + nanos
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs()) + nanos
    }
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("this filesystem does not record the {what} time"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_before_and_after_the_epoch() {
        let t = to_system_time(1, 500);
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap(),
            Duration::new(1, 500)
        );
        let t = to_system_time(-2, 500_000_000);
        assert_eq!(
            SystemTime::UNIX_EPOCH.duration_since(t).unwrap(),
            Duration::from_millis(1500)
        );
    }
}
