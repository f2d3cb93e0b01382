//! Files through the ring: open, read and write at offsets, sync, stat, truncate,
//! allocate, advise, close; the whole-file helpers (`read`, `write`, `copy`); names and
//! directories (`remove_file`, `rename`, `create_dir`, `create_dir_all`, `remove_dir`,
//! `remove_dir_all`, `read_dir`, `hard_link`, `symlink`, `read_link`, `canonicalize`),
//! as in `std::fs`.
//!
//! Every file call is one io_uring operation (openat, read, write, fsync, statx,
//! ftruncate, fallocate, fadvise, unlinkat, renameat, mkdirat, linkat, symlinkat, close),
//! so a file copy can keep many reads in flight on one thread, the way `asyncio` code
//! hands file work to a thread pool but without the threads; what io_uring has no opcode
//! for runs on the blocking pool (rule 6). Rules this module keeps:
//! 1. Buffers are passed by value and come back with the result (`read_at(buf, pos)`
//!    gives `(io::Result<usize>, buf)`), because the kernel may use them until the
//!    operation's completion arrives, even if the future was dropped.
//! 2. A [`File`] shares its descriptor with the operations in flight on it: dropping the
//!    `File` while a read is in flight closes the descriptor only after that read's
//!    completion, so the number is never reused under the kernel's feet.
//! 3. An `open` whose future is dropped before its completion closes the descriptor the
//!    kernel returns later: dropping never leaks a file.
//! 4. Paths are handed to the kernel as C strings: a path with an interior NUL byte is
//!    an `InvalidInput` error, never a panic. Relative paths start at the working
//!    directory.
//! 5. An error of a call that takes a path names the path (and what was being done) in
//!    its message and keeps the [`ErrorKind`](io::ErrorKind) of the syscall's error,
//!    which is its [`source`](std::error::Error::source).
//! 6. What io_uring has no opcode for (reading a directory, removing a tree, copying,
//!    resolving links, permissions) runs on the runtime's blocking pool
//!    ([`spawn_blocking`](crate::spawn_blocking)), never on the core: a directory is read
//!    in batches of entries, so the core only ever waits for one batch's hand-over.
//! 7. A read or write on a file opened with O_DIRECT is handed to the kernel at once, in
//!    an `io_uring_enter` of its own (the queued SQEs go with it), not with the batch the
//!    loop submits at the end of its turn. Direct I/O goes straight to the device, and a
//!    batch of it reaches the device as one plugged burst (`blk_start_plug` when an
//!    enter submits several): on a virtio disk the burst completed together and the
//!    next one went out together, so the reads at depth 32 moved in lockstep and each
//!    waited for the slowest of its burst. Submitted one by one, as fio's io_uring
//!    engine does by default (`iodepth_batch_submit=1`), they stay staggered (figures in
//!    the README's Files section). Buffered I/O, served by the page cache, keeps the
//!    batch: there a syscall per read would cost more than it saves.
//!
//! Files are always read and written at explicit offsets (`pread`/`pwrite` style): there
//! is no shared cursor to race on when many operations are in flight.
//!
//! On the epoll backend ([`Backend::Epoll`](crate::runtime::Backend), where io_uring is
//! denied) regular files cannot be polled, so each of these operations runs on the
//! runtime's blocking pool ([`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads))
//! and the core goes on meanwhile, as in tokio; a read the page cache can serve at once
//! is done on the core (`preadv2` with `RWF_NOWAIT`). The rules above hold unchanged.
//!
//! # Examples
//!
//! ```
//! use ringio::fs::{self, File};
//!
//! # let dir = std::env::temp_dir().join(format!("ringio-doc-fs-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! ringio::run(async {
//!     let path = dir.join("hello.txt");
//!     fs::write(&path, b"hello, ring").await.unwrap();
//!     let file = File::open(&path).await.unwrap();
//!     let (res, buf) = file.read_at(vec![0u8; 4], 7).await;
//!     assert_eq!(&buf[..res.unwrap()], b"ring");
//!     file.close().await.unwrap();
//! });
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![forbid(unsafe_code)]

mod advice;
mod copy;
mod dir;
mod direct;
mod file;
mod fixed;
mod links;
mod metadata;
mod open_options;
mod path_error;

pub use advice::Advice;
#[doc(alias = "copy_file_range")]
#[doc(alias = "shutil.copy")]
#[doc(alias = "shutil.copyfile")]
pub use copy::copy;
#[doc(alias = "os.chmod")]
pub use copy::set_permissions;
#[doc(alias = "os.DirEntry")]
pub use dir::DirEntry;
pub use dir::ReadDir;
#[doc(alias = "mkdir -p")]
#[doc(alias = "os.makedirs")]
pub use dir::create_dir_all;
#[doc(alias = "os.listdir")]
#[doc(alias = "os.scandir")]
#[doc(alias = "opendir")]
pub use dir::read_dir;
#[doc(alias = "os.rmdir")]
pub use dir::remove_dir;
#[doc(alias = "rm -r")]
#[doc(alias = "shutil.rmtree")]
pub use dir::remove_dir_all;
#[doc(alias = "O_DIRECT")]
pub use direct::DirectIoAlignment;
pub use file::File;
#[doc(alias = "os.path.realpath")]
#[doc(alias = "Path.resolve")]
pub use links::canonicalize;
#[doc(alias = "linkat")]
#[doc(alias = "os.link")]
pub use links::hard_link;
#[doc(alias = "os.readlink")]
pub use links::read_link;
#[doc(alias = "os.symlink")]
#[doc(alias = "symlinkat")]
pub use links::symlink;
#[doc(alias = "lstat")]
#[doc(alias = "os.lstat")]
pub use links::symlink_metadata;
#[doc(alias = "Path.exists")]
#[doc(alias = "os.path.exists")]
pub use links::try_exists;
#[doc(alias = "os.stat_result")]
pub use metadata::Metadata;
pub use open_options::OpenOptions;

use crate::buf::IoBuf;
use crate::op::Op;
use path_error::{on_pool, with_path, with_paths};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Permission bits for a new directory before the umask, as `mkdir(1)` and std use.
const DIR_MODE: u32 = 0o777;

/// Reads a whole file into a `Vec`.
///
/// Opens the file, reads until end of file (sizing the buffer from the file's length) and
/// closes it through the ring.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-read-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("data.bin");
///     ringio::fs::write(&path, vec![7u8; 100_000]).await.unwrap();
///     let data = ringio::fs::read(&path).await.unwrap();
///     assert_eq!(data, vec![7u8; 100_000]);
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `NotFound` if the file does not exist, `PermissionDenied` if it may not be read,
/// `InvalidInput` if the path holds a NUL byte, and what read(2) reports (`EISDIR` for
/// a directory).
///
/// # Cancel safety
///
/// Dropping the future stops reading; the file is closed and nothing leaks.
#[doc(alias = "Path.read_bytes")]
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path).await?;
    let data = file.read_to_end().await;
    let closed = file.close().await;
    let data = data?;
    closed?;
    Ok(data)
}

/// Writes `data` as the whole content of the file at `path`, creating it if needed and
/// truncating it if it exists.
///
/// `data` is any owned buffer (`Vec<u8>`, `String`, `&'static [u8]`, ...): the kernel
/// reads it in place, without a copy.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-write-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("note.txt");
///     ringio::fs::write(&path, "written through io_uring".to_string()).await.unwrap();
///     assert_eq!(std::fs::read_to_string(&path).unwrap(), "written through io_uring");
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `PermissionDenied`, `NotFound` (a missing parent directory), `InvalidInput` (NUL in
/// the path), `EISDIR` if `path` is a directory, and what write(2) reports (e.g.
/// `StorageFull`).
///
/// # Cancel safety
///
/// Not cancel-safe: if the future is dropped, the file may hold part of `data`.
#[doc(alias = "Path.write_bytes")]
pub async fn write(path: impl AsRef<Path>, data: impl IoBuf) -> io::Result<()> {
    let file = File::create(path).await?;
    let (written, _) = file.write_all_at(data, 0).await;
    let closed = file.close().await;
    written?;
    closed
}

/// Removes a file (not a directory).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-remove-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("gone.txt");
///     ringio::fs::write(&path, b"x").await.unwrap();
///     ringio::fs::remove_file(&path).await.unwrap();
///     assert!(!path.exists());
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `NotFound`, `PermissionDenied`, `InvalidInput` (NUL in the path), and `EISDIR` for a
/// directory.
///
/// # Cancel safety
///
/// The unlink is not cancelled: once the future was polled, the file is removed even if
/// the future is dropped.
#[doc(alias = "os.remove")]
#[doc(alias = "os.unlink")]
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let res = async { Op::unlink_at(c_path(path)?, false)?.await }.await;
    res.map_err(|e| with_path(e, "remove file", path))
}

/// Renames `from` to `to`, replacing `to` if it exists (`rename(2)`).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-rename-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
///     ringio::fs::write(&a, b"moved").await.unwrap();
///     ringio::fs::rename(&a, &b).await.unwrap();
///     assert!(!a.exists());
///     assert_eq!(std::fs::read(&b).unwrap(), b"moved");
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `NotFound` if `from` does not exist, `PermissionDenied`, `InvalidInput` (NUL in a
/// path), `CrossesDevices` across filesystems, and the other errors of rename(2).
///
/// # Cancel safety
///
/// The rename is not cancelled: once the future was polled, it happens even if the
/// future is dropped.
#[doc(alias = "os.rename")]
#[doc(alias = "os.replace")]
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    let res = async { Op::rename_at(c_path(from)?, c_path(to)?)?.await }.await;
    res.map_err(|e| with_paths(e, "rename", from, to))
}

/// Creates a directory (its parent must exist), with mode 0o777 less the umask.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-mkdir-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let sub = dir.join("sub");
///     ringio::fs::create_dir(&sub).await.unwrap();
///     assert!(sub.is_dir());
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `AlreadyExists`, `NotFound` (missing parent), `PermissionDenied`, `InvalidInput`
/// (NUL in the path).
///
/// # Cancel safety
///
/// The mkdir is not cancelled: once the future was polled, the directory is created
/// even if the future is dropped.
#[doc(alias = "os.mkdir")]
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let res = async { Op::mkdir_at(c_path(path)?, DIR_MODE)?.await }.await;
    res.map_err(|e| with_path(e, "create directory", path))
}

/// Metadata of the file or directory at `path`, following symlinks (statx).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-stat-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("five.txt");
///     ringio::fs::write(&path, b"12345").await.unwrap();
///     let meta = ringio::fs::metadata(&path).await.unwrap();
///     assert!(meta.is_file());
///     assert_eq!(meta.len(), 5);
///     assert!(ringio::fs::metadata(&dir).await.unwrap().is_dir());
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `NotFound`, `PermissionDenied` (a directory on the way may not be searched),
/// `InvalidInput` (NUL in the path).
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future loses nothing.
#[doc(alias = "os.stat")]
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref();
    let stx = async { Op::statx_path(c_path(path)?)?.await }.await;
    let stx = stx.map_err(|e| with_path(e, "stat", path))?;
    Ok(Metadata::from_statx(&stx))
}

/// The path as the kernel takes it: its bytes and a terminating NUL.
fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            // The callers name the path (`with_path`).
            "the path contains a NUL byte",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nul_is_invalid_input() {
        let err = c_path(Path::new("a\0b")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(c_path(Path::new("/tmp/x")).unwrap().as_bytes(), b"/tmp/x");
    }
}
