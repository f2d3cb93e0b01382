//! The core's buffer pool: a provided buffer ring (io_uring_register_buf_ring(3)) of
//! equal buffers the kernel picks from when data arrives, so a connection waiting for data
//! holds none.
//!
//! - `ring`: the ring and its buffers ([`BufRing`]), memory the kernel reads and writes;
//! - `pooled`: [`PooledBuf`], the bytes of one receive, whose drop gives the buffer back;
//! - `config`: the pool's sizes ([`PoolConfig`]) and one core's policy ([`Pool`]): the
//!   ring made on first use, the kernel's refusal remembered and explained, receives that
//!   fell back to owned buffers counted.
//!
//! The driver only registers the ring with the kernel, unregisters it, and counts a buffer
//! out of the kernel's hands when it reaps a CQE naming one; receives reach the pool
//! through `op` (`op::pool`).
//!
//! Rules (the `SAFETY:` comments in these files cite them as "pool rule N"):
//! 1. Ring entries and buffers live in two anonymous mappings that are unmapped only when
//!    the last `Rc<BufRing>` goes. The driver holds one `Rc` until it has unregistered the
//!    ring (or leaks it), so the kernel never sees unmapped memory.
//! 2. A buffer is the kernel's from the moment it is published in the ring (tail store)
//!    until a CQE names its id (`IORING_CQE_F_BUFFER`). Only then does the application read
//!    it, through exactly one [`PooledBuf`] (or an orphan that returns it at once).
//! 3. A buffer goes back to the kernel only through `BufRing::push_entry`, which writes
//!    a fresh entry at the tail and then publishes the tail with a release store: the
//!    kernel reads the entry only after it sees the new tail (the ring's head/tail
//!    protocol).

mod config;
mod pooled;
mod ring;

pub use config::{DEFAULT_POOL_BUFFER_SIZE, DEFAULT_POOL_BUFFERS};
pub use config::{MAX_POOL_BUFFER_SIZE, MAX_POOL_BYTES};
pub(crate) use config::{POOL_GROUP, Pool, PoolConfig};
pub use pooled::PooledBuf;
pub(crate) use pooled::take;
pub(crate) use ring::BufRing;
