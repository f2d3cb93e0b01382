//! Reads and writes through registered buffers ([`FixedBufPool`](crate::buf::FixedBufPool)):
//! IORING_OP_READ_FIXED and IORING_OP_WRITE_FIXED.

use super::File;
use super::file::check_pos;
use crate::buf::{BufResult, FixedBuf, IoBuf};
use crate::op::Op;
use crate::op::result::finish;

impl File {
    /// Reads up to the buffer's capacity from byte `pos` of the file into registered
    /// buffer `buf` (IORING_OP_READ_FIXED); returns how many bytes were read, which is
    /// also the buffer's new length (0 at end of file).
    ///
    /// The kernel uses the pages it pinned when the pool was registered instead of mapping
    /// the buffer at each read. On the epoll backend it is a plain `pread` on the blocking
    /// pool into the same buffer. An O_DIRECT file checks the alignment first, as
    /// [`read_at`](File::read_at) does.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-rfix-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("fixed.txt");
    ///     ringio::fs::write(&path, b"registered").await.unwrap();
    ///     let pool = ringio::buf::FixedBufPool::new(2, 4096).unwrap();
    ///     let file = ringio::fs::File::open(&path).await.unwrap();
    ///     let (res, buf) = file.read_fixed_at(pool.get().unwrap(), 0).await;
    ///     assert_eq!(res.unwrap(), 10);
    ///     assert_eq!(&buf[..], b"registered");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `pos` exceeds `i64::MAX`, or for an O_DIRECT file whose
    /// alignment the buffer, its capacity or `pos` misses (the message says which);
    /// `EFAULT` if the buffer's pool is registered with another ring (made by another
    /// runtime); otherwise what pread(2) reports.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe (reading changes no state). If the future is dropped, the buffer stays
    /// out of its pool until the kernel has finished the read, then goes back.
    #[doc(alias = "READ_FIXED")]
    pub async fn read_fixed_at(&self, buf: FixedBuf, pos: u64) -> BufResult<usize, FixedBuf> {
        let checked = check_pos(pos)
            .and_then(|()| self.check_direct("read", buf.stable_ptr(), buf.bytes_total(), pos));
        if let Err(e) = checked {
            return (Err(e), buf);
        }
        finish(self.submit_direct(Op::read_fixed_at(&self.fd, buf, pos))).await
    }

    /// Writes some of registered buffer `buf`'s `len` bytes at byte `pos` of the file
    /// (IORING_OP_WRITE_FIXED); returns how many were written.
    ///
    /// On the epoll backend it is a plain `pwrite` on the blocking pool from the same
    /// buffer. An O_DIRECT file checks the alignment first, as
    /// [`write_at`](File::write_at) does.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-wfix-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("fixed.txt");
    ///     let pool = ringio::buf::FixedBufPool::new(1, 4096).unwrap();
    ///     let mut buf = pool.get().unwrap();
    ///     buf.set_len(5);
    ///     buf.copy_from_slice(b"fixed");
    ///     let file = ringio::fs::File::create(&path).await.unwrap();
    ///     let (res, _buf) = file.write_fixed_at(buf, 0).await;
    ///     assert_eq!(res.unwrap(), 5);
    ///     assert_eq!(std::fs::read(&path).unwrap(), b"fixed");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read_fixed_at`](File::read_fixed_at), with what pwrite(2) reports.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped, the bytes may or may not have been written; the buffer
    /// goes back to its pool once the kernel is done with it.
    #[doc(alias = "WRITE_FIXED")]
    pub async fn write_fixed_at(&self, buf: FixedBuf, pos: u64) -> BufResult<usize, FixedBuf> {
        let checked = check_pos(pos)
            .and_then(|()| self.check_direct("write", buf.stable_ptr(), buf.bytes_init(), pos));
        if let Err(e) = checked {
            return (Err(e), buf);
        }
        finish(self.submit_direct(Op::write_fixed_at(&self.fd, buf, pos))).await
    }
}
