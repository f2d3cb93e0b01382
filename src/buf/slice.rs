//! A range of an owned buffer that owns the buffer.

use super::{IoBuf, IoBufMut};
use std::ops::Deref;

/// A view of `begin..end` of an owned buffer; I/O on it reads or writes only that range.
///
/// # Examples
///
/// ```
/// use ringio::buf::IoBuf;
///
/// let s = vec![1u8, 2, 3, 4].slice(1..3);
/// assert_eq!(&s[..], &[2, 3]);
/// ```
#[derive(Debug)]
pub struct Slice<T> {
    buf: T,
    begin: usize,
    end: usize,
}

impl<T: IoBuf> Slice<T> {
    pub(crate) fn new(buf: T, begin: usize, end: usize) -> Self {
        Slice { buf, begin, end }
    }

    /// Where the view starts in the underlying buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// Where the view ends (exclusive) in the underlying buffer.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The underlying buffer.
    pub fn get_ref(&self) -> &T {
        &self.buf
    }

    /// Gives the underlying buffer back.
    pub fn into_inner(self) -> T {
        self.buf
    }
}

impl<T: IoBuf> Deref for Slice<T> {
    type Target = [u8];

    /// The initialised bytes of the view.
    fn deref(&self) -> &[u8] {
        let init = self.bytes_init();
        // SAFETY: `begin + init` bytes of the buffer are initialised (IoBuf rule 2).
        unsafe { std::slice::from_raw_parts(self.buf.stable_ptr().add(self.begin), init) }
    }
}

// SAFETY: the view points into `buf`, which keeps its own guarantees; begin <= end <=
// bytes_total was checked when the view was made.
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    fn stable_ptr(&self) -> *const u8 {
        // SAFETY: begin <= bytes_total, so the pointer stays inside (or one past) the buffer.
        unsafe { self.buf.stable_ptr().add(self.begin) }
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init().clamp(self.begin, self.end) - self.begin
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: as above; writes stay within begin..end of the underlying writable buffer.
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: begin <= bytes_total, so the pointer stays inside (or one past) the buffer.
        unsafe { self.buf.stable_mut_ptr().add(self.begin) }
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // Only extend the buffer's data if it already reaches the view: otherwise the bytes
        // between its data and `begin` were never written.
        if self.buf.bytes_init() >= self.begin {
            // SAFETY: bytes ..begin were initialised (checked) and the caller wrote begin..begin+pos.
            unsafe { self.buf.set_init(self.begin + pos) }
        }
    }
}
