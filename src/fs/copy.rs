//! Whole-file copies and permission changes, on the blocking pool: io_uring has no
//! opcode for either.
//!
//! Rules:
//! 1. [`copy`] runs on a pool thread: it opens both files, gives the new file the
//!    source's permission bits, finds the source's data with lseek(2)'s `SEEK_DATA` /
//!    `SEEK_HOLE` and moves it with copy_file_range(2), inside the kernel, so a sparse
//!    file's holes stay holes. Where the kernel refuses that (`EXDEV`, `EINVAL`,
//!    `ENOSYS`, `EOPNOTSUPP`, `EPERM`: another filesystem, a file it cannot handle, an
//!    old kernel, a seccomp filter) the copy starts over with std's [`std::fs::copy`],
//!    which falls back to sendfile(2) and then to read and write through a buffer.
//! 2. The core waits for one completion, however long the copy: a dropped copy runs to
//!    its end on the pool (path_error rule 2).
#![forbid(unsafe_code)]

use super::{on_pool, with_path, with_paths};
use std::fs::Permissions;
use std::io;
use std::path::Path;

/// Copies the content of the file `from` to `to`, creating `to` or truncating it, and
/// gives `to` the permission bits of `from`; returns the number of bytes copied
/// (module rule 1).
///
/// Holes of a sparse `from` stay holes in `to` (unlike `std::fs::copy` on ext4 or
/// tmpfs, which writes them out as zeros), unless the copy had to fall back (module rule
/// 1).
///
/// # Examples
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
///
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-copy-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let (a, b) = (dir.join("a.sh"), dir.join("b.sh"));
///     ringio::fs::write(&a, b"echo hi\n").await.unwrap();
///     ringio::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o755)).await.unwrap();
///     assert_eq!(ringio::fs::copy(&a, &b).await.unwrap(), 8);
///     let meta = ringio::fs::metadata(&b).await.unwrap();
///     assert_eq!(meta.permissions().mode() & 0o777, 0o755);
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `NotFound` if `from` does not exist, `InvalidInput` if it is not a regular file,
/// `PermissionDenied`, `StorageFull`; with both paths in the message. A failed copy may
/// leave `to` created and partly written.
///
/// # Cancel safety
///
/// Not cancelled: once the future was polled, the copy runs to its end even if the future
/// is dropped (module rule 2).
#[doc(alias = "shutil.copyfile")]
#[doc(alias = "shutil.copy")]
#[doc(alias = "copy_file_range")]
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_path_buf(), to.as_ref().to_path_buf());
    let (src, dst) = (from.clone(), to.clone());
    on_pool(
        move || crate::sys::copy::copy_keeping_holes(&src, &dst),
        |e| with_paths(e, "copy", &from, &to),
    )
    .await
}

/// Changes the permission bits of the file or directory at `path`, following symlinks
/// (chmod(2), on the blocking pool).
///
/// # Examples
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
///
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-chmod-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("ro.txt");
///     ringio::fs::write(&path, b"x").await.unwrap();
///     ringio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).await.unwrap();
///     let mode = ringio::fs::metadata(&path).await.unwrap().permissions().mode();
///     assert_eq!(mode & 0o777, 0o444);
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `NotFound`, `PermissionDenied` (`EPERM` if this process does not own the file),
/// `ReadOnlyFilesystem`; with the path in the message.
///
/// # Cancel safety
///
/// Not cancelled: once the future was polled, the change happens even if the future is
/// dropped.
#[doc(alias = "os.chmod")]
#[doc(alias = "chmod")]
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_path_buf();
    let at = path.clone();
    on_pool(
        move || std::fs::set_permissions(at, perm),
        |e| with_path(e, "set permissions of", &path),
    )
    .await
}
