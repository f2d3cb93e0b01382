//! Links and names: [`hard_link`] and [`symlink`] through the ring, and what io_uring has
//! no opcode for on the blocking pool: [`read_link`], [`canonicalize`],
//! [`symlink_metadata`]; [`try_exists`] by statx.
//!
//! Rules:
//! 1. IORING_OP_LINKAT and IORING_OP_SYMLINKAT need Linux 5.15; the runtime runs from
//!    5.11. A kernel without them answers `EINVAL` (io_uring_enter(2): an opcode it does
//!    not know), which linkat(2) and symlinkat(2) themselves never give for the flags
//!    used here, so on `EINVAL` the call is made again with the plain syscall on the
//!    blocking pool and its answer is the result.
#![forbid(unsafe_code)]

use super::{Metadata, c_path, on_pool, with_path, with_paths};
use crate::op::Op;
use std::io;
use std::path::{Path, PathBuf};

/// Makes `link` a new name for the file `original` (link(2); a symlink `original` gets
/// a second name itself, it is not followed).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-link-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
///     ringio::fs::write(&a, b"shared").await.unwrap();
///     ringio::fs::hard_link(&a, &b).await.unwrap();
///     ringio::fs::remove_file(&a).await.unwrap();
///     assert_eq!(ringio::fs::read(&b).await.unwrap(), b"shared");
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `AlreadyExists` if `link` exists, `NotFound` if `original` does not,
/// `CrossesDevices` across filesystems, `PermissionDenied` (`EPERM` for a directory),
/// `InvalidInput` (NUL in a path): what linkat(2) reports, with both paths in the
/// message.
///
/// # Cancel safety
///
/// Not cancelled: once the future was polled, the link is made even if the future is
/// dropped.
#[doc(alias = "os.link")]
#[doc(alias = "linkat")]
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    let ring = async { Op::link_at(c_path(original)?, c_path(link)?)?.await }.await;
    let name = |e| with_paths(e, "hard-link", original, link);
    match ring {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let (from, to) = (original.to_path_buf(), link.to_path_buf());
            on_pool(move || std::fs::hard_link(from, to), name).await
        }
        res => res.map_err(name),
    }
}

/// Creates the symbolic link `link` pointing to `target` (symlink(2)). `target` is stored
/// as given: it need not exist, and a relative one is resolved from `link`'s directory
/// when the link is followed.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-symlink-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     ringio::fs::write(dir.join("real.txt"), b"real").await.unwrap();
///     let link = dir.join("alias.txt");
///     ringio::fs::symlink("real.txt", &link).await.unwrap();
///     assert_eq!(ringio::fs::read(&link).await.unwrap(), b"real");
///     assert_eq!(ringio::fs::read_link(&link).await.unwrap(), std::path::Path::new("real.txt"));
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `AlreadyExists` if `link` exists, `NotFound` if its directory does not,
/// `PermissionDenied`, `InvalidInput` (NUL in a path): what symlinkat(2) reports, with
/// both paths in the message.
///
/// # Cancel safety
///
/// Not cancelled: once the future was polled, the link is made even if the future is
/// dropped.
#[doc(alias = "os.symlink")]
#[doc(alias = "symlinkat")]
pub async fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (target, link) = (target.as_ref(), link.as_ref());
    let ring = async { Op::symlink_at(c_path(target)?, c_path(link)?)?.await }.await;
    let name = |e| with_paths(e, "create symlink", link, target);
    match ring {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let (target, link) = (target.to_path_buf(), link.to_path_buf());
            on_pool(move || std::os::unix::fs::symlink(target, link), name).await
        }
        res => res.map_err(name),
    }
}

/// What the symbolic link `path` points to, as stored (readlink(2), on the blocking
/// pool).
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let target = ringio::fs::read_link("/proc/self/cwd").await.unwrap();
///     assert_eq!(target, std::env::current_dir().unwrap());
/// });
/// ```
///
/// # Errors
///
/// `InvalidInput` if `path` is not a symlink, `NotFound`, `PermissionDenied`; with the
/// path in the message.
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future loses nothing.
#[doc(alias = "os.readlink")]
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_path_buf();
    let at = path.clone();
    on_pool(
        move || std::fs::read_link(at),
        |e| with_path(e, "read link", &path),
    )
    .await
}

/// The absolute path of `path` with every symlink, `.` and `..` resolved (realpath(3),
/// on the blocking pool).
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let cwd = std::env::current_dir().unwrap();
///     assert_eq!(ringio::fs::canonicalize(".").await.unwrap(), cwd.canonicalize().unwrap());
/// });
/// ```
///
/// # Errors
///
/// `NotFound` if a component does not exist (the path must exist), `PermissionDenied`,
/// and `ELOOP` for a symlink loop (too many links followed, never a hang); with the path
/// in the message.
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future loses nothing.
#[doc(alias = "os.path.realpath")]
#[doc(alias = "Path.resolve")]
#[doc(alias = "realpath")]
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_path_buf();
    let at = path.clone();
    on_pool(
        move || std::fs::canonicalize(at),
        |e| with_path(e, "resolve", &path),
    )
    .await
}

/// Metadata of `path` itself, not following a symlink: for a symlink,
/// [`is_symlink`](Metadata::is_symlink) is true and the size is the target's length
/// (lstat(2), on the blocking pool).
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     assert!(ringio::fs::symlink_metadata("/proc/self").await.unwrap().is_symlink());
///     assert!(ringio::fs::metadata("/proc/self").await.unwrap().is_dir());
/// });
/// ```
///
/// # Errors
///
/// `NotFound`, `PermissionDenied` (a directory on the way may not be searched); with the
/// path in the message.
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future loses nothing.
#[doc(alias = "os.lstat")]
#[doc(alias = "lstat")]
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_path_buf();
    let at = path.clone();
    on_pool(
        move || std::fs::symlink_metadata(at).map(|m| Metadata::from_std(&m)),
        |e| with_path(e, "stat", &path),
    )
    .await
}

/// Whether `path` exists, following symlinks (a dangling symlink does not): `Ok(false)`
/// only when statx says `NotFound`, unlike `Path::exists`, which hides every error.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     assert!(ringio::fs::try_exists("/proc/self/status").await.unwrap());
///     assert!(!ringio::fs::try_exists("/no/such/path").await.unwrap());
/// });
/// ```
///
/// # Errors
///
/// `PermissionDenied` when a directory on the way may not be searched (existence cannot
/// be told), `InvalidInput` (NUL in the path); with the path in the message.
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future loses nothing.
#[doc(alias = "os.path.exists")]
#[doc(alias = "Path.exists")]
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    match super::metadata(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}
