//! `File`: an open file whose reads, writes, syncs and close go through the ring.

use super::path_error::not_writable;
use super::{Advice, DirectIoAlignment, Metadata, OpenOptions};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::io::loops;
use crate::op::Op;
use crate::op::result::finish;
use crate::sys::fd::SharedFd;
use std::fs::Permissions;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

/// Smallest step by which `read_to_end` grows its buffer.
const READ_TO_END_STEP: usize = 64 * 1024;

/// The longest range one fadvise SQE can carry: its length field has 32 bits; a
/// page-aligned piece keeps the next one page-aligned when `offset` is.
const FADVISE_PIECE: u32 = !4095;

/// An open file. Reads and writes take an explicit offset and an owned buffer.
///
/// Methods take `&self`, so many reads and writes can be in flight on one file at once
/// (share it with `Rc`). Dropping a `File` closes it with a plain close(2) once no
/// operation is in flight on it; [`close`](File::close) closes it through the ring and
/// reports the error.
///
/// # Examples
///
/// ```
/// use ringio::fs::OpenOptions;
///
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-file-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("file.bin");
///     let mut opts = OpenOptions::new();
///     opts.read(true).write(true).create(true);
///     let file = opts.open(&path).await.unwrap();
///     file.write_all_at(b"0123456789", 0).await.0.unwrap();
///     file.sync_all().await.unwrap();
///     let (res, buf) = file.read_exact_at(vec![0u8; 3], 4).await;
///     res.unwrap();
///     assert_eq!(buf, b"456");
///     file.close().await.unwrap();
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[doc(alias = "open")]
#[derive(Debug)]
pub struct File {
    pub(super) fd: SharedFd,
    /// Set when the file was opened with O_DIRECT: what its reads and writes must align to.
    pub(super) direct: Option<DirectIoAlignment>,
}

impl File {
    pub(super) fn from_fd(fd: OwnedFd) -> File {
        File {
            fd: SharedFd::new(fd),
            direct: None,
        }
    }

    /// Opens an existing file for reading.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let file = ringio::fs::File::open("/proc/self/status").await.unwrap();
    ///     let (res, buf) = file.read_at(vec![0u8; 5], 0).await;
    ///     assert_eq!(&buf[..res.unwrap()], b"Name:");
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `InvalidInput` (NUL in the path), and the other
    /// errors of open(2).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped, the descriptor the kernel opens afterwards
    /// is closed when its completion arrives.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file for writing, creating it if needed and truncating it if it exists
    /// (Python's `open(path, "wb")`).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-create-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("out.txt");
    ///     let file = ringio::fs::File::create(&path).await.unwrap();
    ///     file.write_all_at(b"out", 0).await.0.unwrap();
    ///     file.close().await.unwrap();
    ///     assert_eq!(std::fs::read(&path).unwrap(), b"out");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `PermissionDenied`, `NotFound` (missing parent directory), `IsADirectory`,
    /// `InvalidInput` (NUL in the path), and the other errors of open(2).
    ///
    /// # Cancel safety
    ///
    /// As [`open`](File::open); a file the kernel created stays created.
    #[doc(alias = "open")]
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Reads up to `buf.bytes_total()` bytes starting at byte `pos` of the file into the
    /// start of `buf`; returns how many were read (0 at end of file).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let file = ringio::fs::File::open("/proc/self/status").await.unwrap();
    ///     let (res, buf) = file.read_at(Vec::with_capacity(64), 0).await;
    ///     assert!(res.unwrap() > 0);
    ///     assert!(buf.starts_with(b"Name:"));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `pos` exceeds `i64::MAX`, or if the file was opened with O_DIRECT
    /// and the buffer's address, its capacity or `pos` misses the file's
    /// [`direct_io_alignment`](File::direct_io_alignment) (the message says which; the
    /// kernel never sees the read); otherwise what pread(2) reports
    /// (`EISDIR` for a directory, `EBADF` for a file not open for reading).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe (reading changes no state). The buffer is gone with the future.
    #[doc(alias = "os.pread")]
    pub async fn read_at<B: IoBufMut>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        let checked = check_pos(pos)
            .and_then(|()| self.check_direct("read", buf.stable_ptr(), buf.bytes_total(), pos));
        if let Err(e) = checked {
            return (Err(e), buf);
        }
        finish(self.submit_direct(Op::read_at(&self.fd, buf, pos))).await
    }

    /// Reads exactly `buf.bytes_total()` bytes starting at `pos`, however many reads it
    /// takes.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-rea-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("abc.txt");
    ///     ringio::fs::write(&path, b"abcdef").await.unwrap();
    ///     let file = ringio::fs::File::open(&path).await.unwrap();
    ///     let (res, buf) = file.read_exact_at(vec![0u8; 2], 2).await;
    ///     res.unwrap();
    ///     assert_eq!(buf, b"cd");
    ///     let (res, _) = file.read_exact_at(vec![0u8; 10], 2).await;
    ///     assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first (the bytes read so far are in the buffer,
    /// marked initialised); otherwise as [`read_at`](File::read_at).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe in that the file is unchanged; the bytes read so far go with the buffer.
    pub async fn read_exact_at<B: IoBufMut>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        let ended = format_args!("file read from offset {pos} ended");
        loops::read_exact(buf, ended, |rest, filled| {
            self.read_at(rest, pos.saturating_add(filled as u64))
        })
        .await
    }

    /// Writes some of `buf`'s initialised bytes at byte `pos` of the file; returns how
    /// many were written. With O_APPEND, the bytes go to the end whatever `pos`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-wa-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("w.txt");
    ///     let file = ringio::fs::File::create(&path).await.unwrap();
    ///     let (res, _) = file.write_at(b"xyz", 2).await;
    ///     assert_eq!(res.unwrap(), 3);
    ///     assert_eq!(std::fs::read(&path).unwrap(), b"\0\0xyz");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `pos` exceeds `i64::MAX`, or if the file was opened with O_DIRECT
    /// and the bytes' address, their length or `pos` misses the file's
    /// [`direct_io_alignment`](File::direct_io_alignment); otherwise what pwrite(2) reports
    /// (`StorageFull`, ...). A file not opened for writing (`EBADF`) gets a message that
    /// says so and names the file; the errno stays in the error's `source`.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, the bytes may or may not have been written.
    #[doc(alias = "os.pwrite")]
    pub async fn write_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<usize, B> {
        let checked = check_pos(pos)
            .and_then(|()| self.check_direct("write", buf.stable_ptr(), buf.bytes_init(), pos));
        if let Err(e) = checked {
            return (Err(e), buf);
        }
        let (res, buf) = finish(self.submit_direct(Op::write_at(&self.fd, buf, 0, pos))).await;
        (res.map_err(|e| not_writable(e, self.fd.as_fd())), buf)
    }

    /// Writes every initialised byte of `buf` starting at `pos`, however many writes it
    /// takes.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-waa-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("all.bin");
    ///     let file = ringio::fs::File::create(&path).await.unwrap();
    ///     let (res, buf) = file.write_all_at(vec![1u8; 1 << 20], 0).await;
    ///     res.unwrap();
    ///     assert_eq!(buf.len(), 1 << 20, "the buffer comes back");
    ///     assert_eq!(file.metadata().await.unwrap().len(), 1 << 20);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `WriteZero` if the kernel accepts nothing; otherwise as [`write_at`](File::write_at).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: if dropped, an unknown prefix of the buffer was written.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, pos: u64) -> BufResult<(), B> {
        loops::write_all(buf, 0, "write", |buf, written| async move {
            let at = pos.saturating_add(written as u64);
            let rest = buf.bytes_init().saturating_sub(written);
            let from = buf.stable_ptr().wrapping_add(written);
            let checked = check_pos(at).and_then(|()| self.check_direct("write", from, rest, at));
            if let Err(e) = checked {
                return (Err(e), buf);
            }
            let (res, buf) =
                finish(self.submit_direct(Op::write_at(&self.fd, buf, written, at))).await;
            (res.map_err(|e| not_writable(e, self.fd.as_fd())), buf)
        })
        .await
    }

    /// Reads from offset 0 to the end of the file into a new `Vec`.
    pub(super) async fn read_to_end(&self) -> io::Result<Vec<u8>> {
        // The size is a hint: the file may grow or shrink while it is read.
        let hint = self.metadata().await.map_or(0, |m| m.len());
        let mut buf = Vec::with_capacity(usize::try_from(hint).unwrap_or(0).saturating_add(1));
        loop {
            if buf.len() == buf.capacity() {
                buf.reserve(buf.capacity().max(READ_TO_END_STEP));
            }
            let at = buf.len();
            let (res, slice) = self.read_at(buf.slice(at..), at as u64).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => return Ok(buf),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Flushes the file's data and metadata to the device (fsync(2)).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-sync-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let file = ringio::fs::File::create(dir.join("durable.txt")).await.unwrap();
    ///     file.write_all_at(b"keep me", 0).await.0.unwrap();
    ///     file.sync_all().await.unwrap();
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// What fsync(2) reports, e.g. `EIO` when write-back failed.
    ///
    /// # Cancel safety
    ///
    /// The sync is not cancelled: dropping the future only stops waiting for it.
    #[doc(alias = "os.fsync")]
    pub async fn sync_all(&self) -> io::Result<()> {
        Op::fsync(&self.fd, false)?.await
    }

    /// Flushes the file's data, and only the metadata needed to read it back (the size),
    /// to the device (fdatasync(2)).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-dsync-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let file = ringio::fs::File::create(dir.join("data.txt")).await.unwrap();
    ///     file.write_all_at(b"data", 0).await.0.unwrap();
    ///     file.sync_data().await.unwrap();
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// What fdatasync(2) reports, e.g. `EIO` when write-back failed.
    ///
    /// # Cancel safety
    ///
    /// The sync is not cancelled: dropping the future only stops waiting for it.
    #[doc(alias = "os.fdatasync")]
    pub async fn sync_data(&self) -> io::Result<()> {
        Op::fsync(&self.fd, true)?.await
    }

    /// Size, type, permissions and times of the open file (statx on the descriptor).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let file = ringio::fs::File::open("/").await.unwrap();
    ///     assert!(file.metadata().await.unwrap().is_dir());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What statx(2) reports (rarely anything for an open file).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    #[doc(alias = "os.fstat")]
    #[doc(alias = "os.stat")]
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let stx = Op::statx_fd(&self.fd)?.await?;
        Ok(Metadata::from_statx(&stx))
    }

    /// Cuts or extends the file to `len` bytes; new bytes read as zeros. The file must be
    /// open for writing.
    ///
    /// Uses IORING_OP_FTRUNCATE (Linux 6.9+); older kernels reject it with `EINVAL`, and
    /// then the call falls back to a plain ftruncate(2) on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-len2-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let file = ringio::fs::File::create(dir.join("sized.bin")).await.unwrap();
    ///     file.set_len(1000).await.unwrap();
    ///     assert_eq!(file.metadata().await.unwrap().len(), 1000);
    ///     file.set_len(10).await.unwrap();
    ///     assert_eq!(file.metadata().await.unwrap().len(), 10);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the file is not open for writing or `len` exceeds `i64::MAX`;
    /// otherwise what ftruncate(2) reports (`FileTooLarge`, ...).
    ///
    /// # Cancel safety
    ///
    /// The truncate is not cancelled: once the future was polled, it happens even if the
    /// future is dropped.
    #[doc(alias = "os.truncate")]
    #[doc(alias = "os.ftruncate")]
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        check_pos(len)?;
        match Op::ftruncate(&self.fd, len)?.await {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // Either the kernel lacks the opcode or the call is invalid; the plain
                // syscall tells which (and reports the same error in the second case).
                let file = std::fs::File::from(self.fd.as_fd().try_clone()?);
                file.set_len(len)
            }
            res => res,
        }
    }

    /// Reserves disk space for `len` bytes from `offset`, so later writes there cannot
    /// fail for want of space; a range that ends past the end of the file grows it (the
    /// new bytes read as zeros). IORING_OP_FALLOCATE with mode 0 (fallocate(2)).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-alloc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let file = ringio::fs::File::create(dir.join("reserved.bin")).await.unwrap();
    ///     file.allocate(0, 1 << 20).await.unwrap();
    ///     assert_eq!(file.metadata().await.unwrap().len(), 1 << 20);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `len` is 0 or `offset + len` exceeds `i64::MAX`; otherwise what
    /// fallocate(2) reports: `EBADF` for a file not open for writing, `StorageFull`,
    /// `EOPNOTSUPP` on a filesystem that cannot preallocate.
    ///
    /// # Cancel safety
    ///
    /// The allocation is not cancelled: once the future was polled, it happens even if
    /// the future is dropped.
    #[doc(alias = "fallocate")]
    #[doc(alias = "os.posix_fallocate")]
    pub async fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        check_pos(offset.saturating_add(len))?;
        Op::fallocate(&self.fd, offset, len, 0)?.await
    }

    /// Announces how `len` bytes from `offset` will be read (`len` 0: to the end of the
    /// file), so the kernel can read ahead or drop cached pages (posix_fadvise(2), through
    /// IORING_OP_FADVISE).
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::fs::{Advice, File};
    ///
    /// ringio::run(async {
    ///     let file = File::open("/proc/self/status").await.unwrap();
    ///     file.fadvise(0, 4096, Advice::WillNeed).await.unwrap();
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `offset + len` exceeds `i64::MAX`; `ESPIPE` for a pipe or FIFO.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: advice changes no data. A dropped call may still take effect.
    #[doc(alias = "posix_fadvise")]
    #[doc(alias = "os.posix_fadvise")]
    pub async fn fadvise(&self, offset: u64, len: u64, advice: Advice) -> io::Result<()> {
        check_pos(offset.saturating_add(len))?;
        if len == 0 {
            return Op::fadvise(&self.fd, offset, 0, advice.raw())?.await;
        }
        // The SQE's length field has 32 bits (op/fadvise.rs): longer ranges in pieces.
        let (mut at, end) = (offset, offset + len);
        while at < end {
            let piece = u32::try_from(end - at).unwrap_or(FADVISE_PIECE);
            Op::fadvise(&self.fd, at, piece, advice.raw())?.await?;
            at += u64::from(piece);
        }
        Ok(())
    }

    /// Changes the file's permission bits (fchmod(2), on the blocking pool: io_uring has
    /// no opcode for it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-fchmod-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let file = ringio::fs::File::create(dir.join("secret.txt")).await.unwrap();
    ///     file.set_permissions(std::fs::Permissions::from_mode(0o600)).await.unwrap();
    ///     assert_eq!(file.metadata().await.unwrap().permissions().mode() & 0o777, 0o600);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `PermissionDenied` (`EPERM`) if this process does not own the file; `EMFILE` if no
    /// descriptor is left to hand to the pool (the file's is duplicated).
    ///
    /// # Cancel safety
    ///
    /// Not cancelled: once the future was polled, the change happens even if the future
    /// is dropped.
    #[doc(alias = "fchmod")]
    #[doc(alias = "os.fchmod")]
    pub async fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        // A duplicate, so the pool's call cannot outlive this file's descriptor number.
        let file = std::fs::File::from(self.fd.as_fd().try_clone()?);
        match crate::spawn_blocking(move || file.set_permissions(perm)).await {
            Ok(res) => res,
            Err(join) => Err(io::Error::other(join.to_string())),
        }
    }

    /// Closes the file through the ring and reports what close(2) said (e.g. a delayed
    /// write error on a network filesystem), which a plain drop cannot.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let file = ringio::fs::File::open("/proc/self/status").await.unwrap();
    ///     file.close().await.unwrap();
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What close(2) reports. The descriptor is released whatever the result.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the descriptor is released whether or not the future finishes. If an
    /// operation dropped earlier is still in flight on this file, the descriptor is
    /// closed when that operation completes, and `close` returns `Ok(())` at once.
    pub async fn close(self) -> io::Result<()> {
        match self.fd.try_unwrap() {
            Ok(fd) => Op::close(fd)?.await,
            Err(shared) => {
                drop(shared);
                Ok(())
            }
        }
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd().as_fd()
    }
}

/// Offsets go to the kernel as a signed `loff_t`; `u64::MAX` would even mean "the
/// current position" to io_uring, which a positional API must not do silently.
pub(super) fn check_pos(pos: u64) -> io::Result<()> {
    if pos > i64::MAX as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file offset {pos} exceeds i64::MAX"),
        ));
    }
    Ok(())
}
