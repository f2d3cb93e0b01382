//! [`AlignedBuf`]: an owned, zeroed buffer whose start is aligned, for direct I/O
//! (O_DIRECT), where the kernel moves bytes between the device and the buffer itself and
//! so needs its address aligned (statx(2), `stx_dio_mem_align`).
//!
//! Rules:
//! 1. The storage is one allocation of `capacity` bytes at an `align`-aligned address,
//!    zeroed when made, freed only by `Drop`: every byte is initialised for the whole life
//!    of the buffer, so any `len <= capacity` is safe to expose.
//! 2. A zero-capacity buffer allocates nothing; its pointer is `align` itself (non-null,
//!    aligned, never dereferenced for more than 0 bytes).

use super::{IoBuf, IoBufMut};
use std::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Zeroed memory at an aligned address, owned (rules 1 and 2).
pub(crate) struct AlignedMem {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl AlignedMem {
    /// `size` zeroed bytes at a multiple of `align`.
    ///
    /// # Panics
    ///
    /// If `align` is not a power of two, or `size` rounded up to `align` overflows `isize`.
    pub(crate) fn new(size: usize, align: usize) -> AlignedMem {
        let layout = Layout::from_size_align(size, align).unwrap_or_else(|_| {
            panic!("aligned buffer of {size} bytes at alignment {align}: the alignment must be a power of two and the size fit isize")
        });
        if size == 0 {
            // Rule 2: `align` is a non-zero power of two, so a valid aligned pointer.
            let ptr = NonNull::new(align as *mut u8).expect("a power of two is not zero");
            return AlignedMem { ptr, layout };
        }
        // SAFETY: the layout's size is not zero (checked above).
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| handle_alloc_error(layout));
        AlignedMem { ptr, layout }
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn size(&self) -> usize {
        self.layout.size()
    }

    pub(crate) fn align(&self) -> usize {
        self.layout.align()
    }
}

impl Drop for AlignedMem {
    fn drop(&mut self) {
        if self.layout.size() > 0 {
            // SAFETY: allocated in `new` with this very layout, freed once (rule 1).
            unsafe { dealloc(self.ptr.as_ptr(), self.layout) };
        }
    }
}

// SAFETY: the value owns its allocation, like a `Box<[u8]>`; nothing else points into it.
unsafe impl Send for AlignedMem {}
// SAFETY: shared access only reads through `&self` methods that hand out the pointer.
unsafe impl Sync for AlignedMem {}

/// An owned buffer whose first byte sits at a multiple of a given alignment, as direct
/// I/O (O_DIRECT) wants; otherwise used like a `Vec<u8>` with [`read_at`] and [`write_at`].
///
/// Its memory is zeroed when made, so every byte up to [`capacity`](AlignedBuf::capacity)
/// is initialised: [`set_len`](AlignedBuf::set_len) is safe. Reads fill it from the start
/// up to its capacity and set its length to what was read; writes send its first
/// [`len`](AlignedBuf::len) bytes.
///
/// [`read_at`]: crate::fs::File::read_at
/// [`write_at`]: crate::fs::File::write_at
///
/// # Examples
///
/// ```
/// use ringio::buf::AlignedBuf;
///
/// let mut buf = AlignedBuf::new(8192, 4096);
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// assert_eq!((buf.len(), buf.capacity()), (8192, 8192));
/// buf[..5].copy_from_slice(b"hello");
/// assert!(buf[5..].iter().all(|&b| b == 0), "zeroed");
/// ```
pub struct AlignedBuf {
    mem: AlignedMem,
    len: usize,
}

impl AlignedBuf {
    /// A buffer of `len` zero bytes (length and capacity `len`) starting at a multiple of
    /// `align`.
    ///
    /// # Panics
    ///
    /// If `align` is not a power of two, or `len` is too big to allocate.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = ringio::buf::AlignedBuf::new(512, 512);
    /// assert_eq!(&buf[..], &[0u8; 512][..]);
    /// ```
    pub fn new(len: usize, align: usize) -> AlignedBuf {
        AlignedBuf {
            mem: AlignedMem::new(len, align),
            len,
        }
    }

    /// An empty buffer (length 0) with room for `capacity` bytes, starting at a multiple
    /// of `align`: what a read fills.
    ///
    /// # Panics
    ///
    /// As [`new`](AlignedBuf::new).
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = ringio::buf::AlignedBuf::with_capacity(4096, 4096);
    /// assert!(buf.is_empty());
    /// assert_eq!(buf.capacity(), 4096);
    /// ```
    pub fn with_capacity(capacity: usize, align: usize) -> AlignedBuf {
        AlignedBuf {
            mem: AlignedMem::new(capacity, align),
            len: 0,
        }
    }

    /// Bytes holding data.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::buf::AlignedBuf::new(3, 8).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no data.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(ringio::buf::AlignedBuf::with_capacity(3, 8).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the buffer can hold.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::buf::AlignedBuf::with_capacity(100, 64).capacity(), 100);
    /// ```
    pub fn capacity(&self) -> usize {
        self.mem.size()
    }

    /// The alignment the buffer was made with.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(ringio::buf::AlignedBuf::new(1, 4096).align(), 4096);
    /// ```
    pub fn align(&self) -> usize {
        self.mem.align()
    }

    /// Sets the length. The bytes past the old length are whatever the buffer last held
    /// (zeros if never written): its memory is always initialised.
    ///
    /// # Panics
    ///
    /// If `len` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut buf = ringio::buf::AlignedBuf::with_capacity(4096, 4096);
    /// buf.set_len(4096);
    /// buf.fill(7);
    /// buf.set_len(2);
    /// assert_eq!(&buf[..], &[7, 7]);
    /// ```
    pub fn set_len(&mut self, len: usize) {
        assert!(
            len <= self.capacity(),
            "set_len({len}) past the capacity of an AlignedBuf of {} bytes",
            self.capacity()
        );
        self.len = len;
    }

    /// Sets the length to 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut buf = ringio::buf::AlignedBuf::new(10, 8);
    /// buf.clear();
    /// assert!(buf.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The first byte's address.
    ///
    /// # Examples
    ///
    /// ```
    /// let buf = ringio::buf::AlignedBuf::new(1, 64);
    /// assert_eq!(buf.as_ptr() as usize % 64, 0);
    /// ```
    pub fn as_ptr(&self) -> *const u8 {
        self.mem.ptr()
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `len <= capacity` bytes of the allocation, all initialised (rule 1).
        unsafe { std::slice::from_raw_parts(self.mem.ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.mem.ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .field("align", &self.align())
            .finish()
    }
}

// SAFETY: the heap allocation does not move with the value (buffer rule 1); len <= capacity
// (rule 2, kept by `set_len` and `set_init`).
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.mem.ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: `capacity` bytes from the pointer are owned and writable.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.mem.ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // Every byte is initialised anyway (rule 1); only the length moves, never back.
        self.len = self.len.max(pos.min(self.capacity()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_zeroed_and_sized() {
        for align in [1, 8, 512, 4096, 1 << 16] {
            let b = AlignedBuf::new(1000, align);
            assert_eq!(b.as_ptr() as usize % align, 0);
            assert!(b.iter().all(|&x| x == 0));
        }
        let empty = AlignedBuf::new(0, 4096);
        assert_eq!((empty.len(), empty.as_ptr() as usize % 4096), (0, 0));
    }

    #[test]
    fn set_init_only_grows() {
        let mut b = AlignedBuf::with_capacity(16, 8);
        // SAFETY: every byte is initialised (rule 1).
        unsafe { b.set_init(10) };
        assert_eq!(b.len(), 10);
        // SAFETY: as above.
        unsafe { b.set_init(4) };
        assert_eq!(b.len(), 10);
    }

    #[test]
    #[should_panic(expected = "power of two")]
    fn bad_alignment_panics() {
        let _ = AlignedBuf::new(8, 3);
    }
}
