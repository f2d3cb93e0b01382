//! Owned buffers for completion-based I/O.
//!
//! The kernel may read or write an operation's buffer until that operation's CQE is
//! reaped, even if the future that started it is dropped. So buffers are passed by value
//! and come back with the result: `read(buf) -> (io::Result<usize>, buf)`, never `&mut [u8]`.
//!
//! Rules every implementation upholds (the `# Safety` of [`IoBuf`] and [`IoBufMut`]):
//! 1. the pointer stays valid and the bytes stay where they are while the value is moved
//!    (heap storage, or `'static` memory);
//! 2. `bytes_init() <= bytes_total()`, and `bytes_total()` bytes are writable from the
//!    mutable pointer;
//! 3. nothing but the owner touches the memory while the runtime holds the value.

mod aligned;
mod fixed;
pub(crate) mod pool;
mod slice;

pub use aligned::AlignedBuf;
pub use fixed::{FixedBuf, FixedBufPool};
pub use pool::PooledBuf;
pub use slice::Slice;

use std::io;
use std::ops::{Bound, RangeBounds};

/// The result of an owned-buffer operation: the outcome and the buffer, given back.
pub type BufResult<T, B> = (io::Result<T>, B);

/// A buffer the kernel may read from while the runtime owns it.
///
/// # Safety
///
/// Implementors promise rules 1–3 of the [module docs](self): `stable_ptr` stays valid
/// and unchanged while the value is moved, and `bytes_init` bytes from it are readable.
pub unsafe trait IoBuf: Unpin + 'static {
    /// A pointer to the first byte; it does not change when the value is moved.
    fn stable_ptr(&self) -> *const u8;

    /// How many bytes from the start hold data (a `Vec`'s `len`).
    fn bytes_init(&self) -> usize;

    /// How many bytes the buffer can hold (a `Vec`'s `capacity`).
    fn bytes_total(&self) -> usize;

    /// A view of `range` of this buffer that owns it; [`Slice::into_inner`] gives it back.
    ///
    /// # Panics
    ///
    /// If the range ends past [`bytes_total`](IoBuf::bytes_total) or starts after its end.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::buf::IoBuf;
    ///
    /// let s = b"hello world".to_vec().slice(6..);
    /// assert_eq!(&s[..], b"world");
    /// assert_eq!(s.into_inner().len(), 11);
    /// ```
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n + 1,
            Bound::Excluded(&n) => n,
            Bound::Unbounded => self.bytes_total(),
        };
        assert!(
            begin <= end && end <= self.bytes_total(),
            "slice {begin}..{end} out of bounds of a buffer of {} bytes",
            self.bytes_total()
        );
        Slice::new(self, begin, end)
    }
}

/// A buffer the kernel may write into while the runtime owns it.
///
/// # Safety
///
/// As [`IoBuf`], and `bytes_total` bytes from `stable_mut_ptr` are writable.
pub unsafe trait IoBufMut: IoBuf {
    /// A mutable pointer to the first byte; equal to [`IoBuf::stable_ptr`].
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Marks the first `pos` bytes as holding data (never shrinks what is there).
    ///
    /// # Safety
    ///
    /// The first `pos` bytes must have been written (by the kernel or the caller).
    unsafe fn set_init(&mut self, pos: usize);
}

/// The pointer the kernel writes `buf` through. In builds with the `valgrind` feature the
/// bytes past `bytes_init` are zeroed first: memcheck does not see io_uring's writes, so it
/// would call the bytes the kernel put there uninitialised. Elsewhere it costs nothing.
pub(crate) fn kernel_write_target<B: IoBufMut>(buf: &mut B) -> *mut u8 {
    let ptr = buf.stable_mut_ptr();
    #[cfg(feature = "valgrind")]
    {
        let init = buf.bytes_init().min(buf.bytes_total());
        // SAFETY: `bytes_total` bytes from the pointer are writable (IoBufMut), and the
        // kernel has not been given the buffer yet.
        unsafe { ptr.add(init).write_bytes(0, buf.bytes_total() - init) };
    }
    ptr
}

/// Copies `front` then `back` into the start of `buf`, as much of them as it holds, and
/// marks what was copied as initialised; returns how many bytes that was. (Two slices, so
/// a `VecDeque`'s two halves go in one call.)
pub(crate) fn copy_into<B: IoBufMut>(buf: &mut B, front: &[u8], back: &[u8]) -> usize {
    let n = (front.len() + back.len()).min(buf.bytes_total());
    let front = &front[..front.len().min(n)];
    let back = &back[..n - front.len()];
    let dst = buf.stable_mut_ptr();
    // SAFETY: n <= bytes_total, so both copies stay inside the buffer's writable storage
    // (rule 2), and they write exactly its first n bytes; the sources are the caller's
    // own memory, not `buf`'s storage, which only its owner touches (rule 3).
    unsafe {
        std::ptr::copy_nonoverlapping(front.as_ptr(), dst, front.len());
        std::ptr::copy_nonoverlapping(back.as_ptr(), dst.add(front.len()), back.len());
        buf.set_init(n);
    }
    n
}

// SAFETY: a Vec's heap storage does not move when the Vec is moved (rule 1); len <= capacity.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: `capacity` bytes of the Vec's allocation are writable through `as_mut_ptr`.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if self.len() < pos {
            // SAFETY: the caller promises `pos` bytes were written; pos <= capacity (rule 2).
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: boxed slice storage is on the heap and fully initialised.
unsafe impl IoBuf for Box<[u8]> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: every byte of the boxed slice is writable and already initialised.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _pos: usize) {}
}

// SAFETY: 'static memory never moves nor goes away; read-only.
unsafe impl IoBuf for &'static [u8] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: 'static memory never moves nor goes away; read-only.
unsafe impl<const N: usize> IoBuf for &'static [u8; N] {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        N
    }
    fn bytes_total(&self) -> usize {
        N
    }
}

// SAFETY: 'static memory never moves nor goes away; read-only.
unsafe impl IoBuf for &'static str {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: a String's heap storage does not move with it; read-only (no IoBufMut, which
// could write invalid UTF-8).
unsafe impl IoBuf for String {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_set_init_never_shrinks() {
        let mut v = vec![1u8; 8];
        // SAFETY: the 8 bytes are initialised.
        unsafe { v.set_init(4) };
        assert_eq!(v.len(), 8);
    }

    #[test]
    fn slice_bounds() {
        let v = Vec::with_capacity(16);
        let s = v.slice(4..);
        assert_eq!((s.begin(), s.end()), (4, 16));
        assert_eq!(s.bytes_total(), 12);
        assert_eq!(s.bytes_init(), 0);
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn slice_past_capacity_panics() {
        let _ = vec![0u8; 4].into_boxed_slice().slice(..5);
    }
}
