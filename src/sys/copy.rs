//! A file copy that keeps the holes of a sparse source: lseek(2)'s `SEEK_DATA` /
//! `SEEK_HOLE` find the data, copy_file_range(2) moves it inside the kernel, and the holes
//! stay holes (std's `fs::copy` writes them out as zeros where the filesystem cannot
//! share extents, as on ext4 and tmpfs).
//!
//! Where the source's filesystem cannot seek to data (`EINVAL`, `ENXIO` past the end is
//! the normal end) or the kernel refuses copy_file_range between these files (`EXDEV`,
//! `EINVAL`, `ENOSYS`, `EOPNOTSUPP`, `EPERM`: another filesystem before 5.19, a seccomp
//! filter, special files), the copy starts over with `std::fs::copy`, which has its own
//! fallbacks (sendfile, then read and write).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Most bytes one copy_file_range call is asked to move: big enough that a large extent
/// costs few calls, small enough that one call does not hold the thread for seconds.
const CHUNK: u64 = 1 << 30;

/// Copies `from` to `to` (created or truncated, given `from`'s permission bits), keeping
/// holes; returns `from`'s length, as `std::fs::copy` does.
pub(crate) fn copy_keeping_holes(from: &Path, to: &Path) -> io::Result<u64> {
    let src = File::open(from)?;
    let meta = src.metadata()?;
    if !meta.is_file() {
        // std names the error for what is not a regular file.
        return std::fs::copy(from, to);
    }
    let perm = meta.permissions();
    let dst = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(perm.mode())
        .open(to)?;
    dst.set_permissions(perm)?;
    match copy_data(&src, &dst, meta.len()) {
        Ok(()) => {
            // A hole at the end has no data to copy: the length makes it.
            dst.set_len(meta.len())?;
            Ok(meta.len())
        }
        Err(e) if refused(&e) => {
            drop(dst);
            std::fs::copy(from, to)
        }
        Err(e) => Err(e),
    }
}

/// Whether `e` means "this way of copying does not work here", not "the copy failed".
fn refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EPERM)
    )
}

/// Copies every data region of `src`'s first `len` bytes to the same offsets of `dst`.
fn copy_data(src: &File, dst: &File, len: u64) -> io::Result<()> {
    let mut at = 0u64;
    while at < len {
        let Some(data) = seek(src, at, libc::SEEK_DATA)? else {
            return Ok(()); // only a hole left
        };
        let end = seek(src, data, libc::SEEK_HOLE)?.unwrap_or(len).min(len);
        let (mut pos_in, mut pos_out) = (data as i64, data as i64);
        while (pos_in as u64) < end {
            let want = (end - pos_in as u64).min(CHUNK) as usize;
            // SAFETY: both descriptors are open files this function borrows; the offsets
            // are live locals the kernel updates (copy_file_range(2)).
            let n = unsafe {
                libc::copy_file_range(
                    src.as_raw_fd(),
                    &mut pos_in,
                    dst.as_raw_fd(),
                    &mut pos_out,
                    want,
                    0,
                )
            };
            match n {
                n if n < 0 => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
                0 => return Ok(()), // the source shrank meanwhile
                _ => {}
            }
        }
        at = end;
    }
    Ok(())
}

/// lseek(2) with `SEEK_DATA` or `SEEK_HOLE` from `at`; `None` for `ENXIO` (no data at or
/// after `at`).
fn seek(file: &File, at: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    // SAFETY: lseek on a descriptor this function borrows; it only moves the file offset,
    // which nothing else here uses (copy_file_range is given explicit offsets).
    let r = unsafe { libc::lseek(file.as_raw_fd(), at as libc::off_t, whence) };
    if r >= 0 {
        return Ok(Some(r as u64));
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENXIO) {
        Ok(None)
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn holes_stay_holes_and_data_is_copied() {
        let dir = std::env::temp_dir().join(format!("ringio-sparse-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        let len = 256 << 20;
        {
            let mut f = File::create(&a).unwrap();
            f.set_len(len).unwrap();
            f.seek(SeekFrom::Start(len / 2)).unwrap();
            f.write_all(&[7u8; 8192]).unwrap();
        }
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(copy_keeping_holes(&a, &b).unwrap(), len);
        let meta = std::fs::metadata(&b).unwrap();
        assert_eq!(meta.len(), len);
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        // 256 MiB long, a few KiB stored (512-byte blocks).
        assert!(
            meta.blocks() * 512 < 1 << 20,
            "{} blocks stored",
            meta.blocks()
        );
        let mut data = vec![0u8; 8192];
        let mut f = File::open(&b).unwrap();
        f.seek(SeekFrom::Start(len / 2)).unwrap();
        f.read_exact(&mut data).unwrap();
        assert!(data.iter().all(|&x| x == 7));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
