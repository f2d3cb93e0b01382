//! [`PooledBuf`]: the bytes of one receive into the pool, owned until dropped.

use super::BufRing;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

/// Takes ownership of buffer `bid`, which a CQE just named, holding `len` bytes. (The
/// driver counted it out of the kernel's hands when it reaped that CQE.)
///
/// # Safety
///
/// `bid` must come from a CQE's `IORING_CQE_F_BUFFER` for this ring, not yet taken
/// (pool rule 2): nothing else may own that buffer.
pub(crate) unsafe fn take(ring: &Rc<BufRing>, bid: u16, len: usize) -> PooledBuf {
    assert!(len <= ring.buffer_size(), "CQE length past the buffer");
    PooledBuf(Inner::Ring {
        ring: ring.clone(),
        bid,
        len: len as u32,
    })
}

/// Bytes received into a buffer of the core's pool; dropping it gives the buffer back.
///
/// [`TcpStream::recv_pooled`](crate::net::TcpStream::recv_pooled) and
/// [`RecvStream`](crate::net::RecvStream) return it. It derefs to the received bytes and
/// can be written back as it is (`write_all(buf)`), since it implements
/// [`IoBuf`](crate::buf::IoBuf). Hold it only as long as needed: the pool is shared by
/// every connection of the core, and while it is empty receives fall back to allocated
/// buffers. A parser that needs more bytes than one buffer holds should copy what it
/// keeps rather than hold buffers while it waits for the rest.
///
/// An empty `PooledBuf` means end of stream.
pub struct PooledBuf(Inner);

enum Inner {
    Ring {
        ring: Rc<BufRing>,
        bid: u16,
        len: u32,
    },
    /// Bytes that were already in hand (left by a cancelled read), or none (EOF).
    Owned(Vec<u8>),
}

impl PooledBuf {
    pub(crate) fn owned(bytes: Vec<u8>) -> PooledBuf {
        PooledBuf(Inner::Owned(bytes))
    }

    /// Its length, without making the slice (which looks the buffer up in the pool).
    #[inline]
    fn byte_len(&self) -> usize {
        match &self.0 {
            Inner::Ring { len, .. } => *len as usize,
            Inner::Owned(v) => v.len(),
        }
    }

    /// The received bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Inner::Ring { ring, bid, len } => {
                // SAFETY: the CQE said the kernel wrote `len` bytes at this buffer, and
                // this value owns it until drop (pool rule 2), so nothing writes it meanwhile.
                unsafe { std::slice::from_raw_parts(ring.buffer_ptr(*bid), *len as usize) }
            }
            Inner::Owned(v) => v,
        }
    }
}

impl Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for PooledBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Inner::Ring { ring, bid, .. } = &self.0 {
            ring.give_back(*bid);
        }
    }
}

impl fmt::Debug for PooledBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pooled = matches!(self.0, Inner::Ring { .. });
        f.debug_struct("PooledBuf")
            .field("len", &self.len())
            .field("pooled", &pooled)
            .finish()
    }
}

// SAFETY: the bytes live in the pool's mapping (or a Vec's heap storage), which does not
// move with the value and outlives it (pool rule 1); nothing writes them while this value owns
// the buffer (pool rule 2); `bytes_init == bytes_total == len`.
unsafe impl crate::buf::IoBuf for PooledBuf {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_slice().as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.byte_len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.byte_len()
    }
}
