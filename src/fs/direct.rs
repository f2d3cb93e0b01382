//! Direct I/O (O_DIRECT): what a file opened with it requires, learnt at open, and the
//! check every read and write on it passes before it is submitted.
//!
//! With O_DIRECT the kernel moves bytes between the device and the caller's buffer, so
//! the buffer's address, the length and the file offset must be aligned; the kernel
//! answers a misaligned one with a bare `EINVAL`. ringio checks them first and says which
//! was misaligned and what alignment the file needs. The alignment comes from statx(2)
//! with `STATX_DIOALIGN` (Linux 6.1): `stx_dio_mem_align` for the address,
//! `stx_dio_offset_align` for the offset and the length. Where the kernel or filesystem
//! does not report it, 512 bytes is assumed for all three: the traditional logical
//! block size, which the kernel itself still checks, so an error is still an error.
//!
//! A read or write on such a file is also submitted at once, in an `io_uring_enter` of
//! its own, instead of with the loop turn's batch (`fs` rule 7).

use super::File;
use crate::op::{Completable, Op, STATX_DIOALIGN};
use crate::sys::fd::SharedFd;
use std::fmt;
use std::io;

/// The alignment assumed where statx gives none: the smallest logical block size.
const FALLBACK_ALIGN: u32 = 512;

/// What direct I/O (O_DIRECT) on an open file requires: buffer addresses aligned to
/// [`memory`](DirectIoAlignment::memory), file offsets and lengths to
/// [`offset`](DirectIoAlignment::offset). [`File::direct_io_alignment`] gives it.
///
/// # Examples
///
/// ```
/// use ringio::fs::OpenOptions;
///
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-dio-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("direct.bin");
///     let opened = OpenOptions::new().write(true).create(true).direct(true).open(&path).await;
///     if let Ok(file) = opened {
///         let align = file.direct_io_alignment().unwrap();
///         assert!(align.memory().is_power_of_two() && align.offset().is_power_of_two());
///     } // else: this filesystem refuses O_DIRECT (tmpfs does)
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DirectIoAlignment {
    memory: u32,
    offset: u32,
    /// Reported by statx (`STATX_DIOALIGN`), rather than assumed.
    reported: bool,
}

impl DirectIoAlignment {
    /// The alignment buffer addresses need, in bytes.
    ///
    /// # Examples
    ///
    /// See [`DirectIoAlignment`].
    pub fn memory(&self) -> u32 {
        self.memory
    }

    /// The alignment file offsets and lengths need, in bytes.
    ///
    /// # Examples
    ///
    /// See [`DirectIoAlignment`].
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// Whether the kernel reported these values (statx `STATX_DIOALIGN`, Linux 6.1);
    /// false when 512 bytes was assumed.
    ///
    /// # Examples
    ///
    /// See [`DirectIoAlignment`].
    pub fn is_reported(&self) -> bool {
        self.reported
    }

    /// The alignment of the file open as `fd` with O_DIRECT.
    pub(super) async fn of(fd: &SharedFd) -> io::Result<DirectIoAlignment> {
        let stx = Op::statx_dio(fd)?.await?;
        let reported = stx.stx_mask & STATX_DIOALIGN != 0
            && stx.stx_dio_mem_align > 0
            && stx.stx_dio_offset_align > 0;
        Ok(if reported {
            DirectIoAlignment {
                memory: stx.stx_dio_mem_align,
                offset: stx.stx_dio_offset_align,
                reported,
            }
        } else {
            DirectIoAlignment {
                memory: FALLBACK_ALIGN,
                offset: FALLBACK_ALIGN,
                reported,
            }
        })
    }

    /// `InvalidInput` naming what is misaligned, if anything is, in an O_DIRECT `what`
    /// ("read", "write") of `len` bytes at file offset `pos` through address `addr`.
    pub(super) fn check(&self, what: &str, addr: usize, len: usize, pos: u64) -> io::Result<()> {
        let (memory, offset) = (self.memory as usize, u64::from(self.offset));
        let mut wrong = Vec::new();
        if !addr.is_multiple_of(memory) {
            wrong.push(format!(
                "buffer address {addr:#x} is not a multiple of {memory}"
            ));
        }
        if !(len as u64).is_multiple_of(offset) {
            wrong.push(format!("length {len} is not a multiple of {offset}"));
        }
        if !pos.is_multiple_of(offset) {
            wrong.push(format!("file offset {pos} is not a multiple of {offset}"));
        }
        if wrong.is_empty() {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "O_DIRECT {what} of {len} bytes at offset {pos}: {}; this file needs buffers \
                 aligned to {memory} bytes and offsets and lengths to {offset} bytes ({}); \
                 use ringio::buf::AlignedBuf",
                wrong.join(", "),
                if self.reported {
                    "statx STATX_DIOALIGN"
                } else {
                    "assumed: statx gave no STATX_DIOALIGN"
                }
            ),
        ))
    }
}

impl fmt::Debug for DirectIoAlignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectIoAlignment")
            .field("memory", &self.memory)
            .field("offset", &self.offset)
            .field("reported", &self.reported)
            .finish()
    }
}

impl File {
    /// What direct I/O on this file requires, if it was opened with O_DIRECT
    /// ([`OpenOptions::direct`](super::OpenOptions::direct) or the flag in
    /// [`custom_flags`](super::OpenOptions::custom_flags)); `None` otherwise. Reads and
    /// writes on such a file check their buffer, length and offset against it before they
    /// are submitted.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let file = ringio::fs::File::open("/proc/self/status").await.unwrap();
    ///     assert!(file.direct_io_alignment().is_none());
    /// });
    /// ```
    pub fn direct_io_alignment(&self) -> Option<DirectIoAlignment> {
        self.direct
    }

    /// The alignment check of an O_DIRECT read or write (none on other files).
    pub(super) fn check_direct(
        &self,
        what: &str,
        addr: *const u8,
        len: usize,
        pos: u64,
    ) -> io::Result<()> {
        match &self.direct {
            Some(a) => a.check(what, addr as usize, len, pos),
            None => Ok(()),
        }
    }

    /// `op`, submitted now if this file is O_DIRECT (`fs` rule 7), else left for the
    /// loop's enter.
    pub(super) fn submit_direct<T: Completable, E>(
        &self,
        op: Result<Op<T>, E>,
    ) -> Result<Op<T>, E> {
        match self.direct {
            Some(_) => op.map(Op::submit_now),
            None => op,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_misaligned_part() {
        let a = DirectIoAlignment {
            memory: 4096,
            offset: 512,
            reported: true,
        };
        assert!(a.check("read", 8192, 1024, 512).is_ok());
        let e = a.check("read", 8192 + 512, 1000, 7).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let msg = e.to_string();
        for part in [
            "address 0x2200 is not a multiple of 4096",
            "length 1000 is not a multiple of 512",
            "offset 7 is not a multiple of 512",
            "STATX_DIOALIGN",
        ] {
            assert!(msg.contains(part), "{msg:?} lacks {part:?}");
        }
    }
}
