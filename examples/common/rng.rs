//! SplitMix64 (Steele, Lea, Flood 2014): the examples' one source of pseudo-random bytes.
//! One add and three multiply-xorshift rounds per 8 bytes, fast enough that filling a
//! payload costs far less than the syscall that sends it, and the same seed gives the same
//! bytes on every run.
//!
//! An example pulls it in with `#[path = "common/rng.rs"] mod rng;` (from a file in
//! `examples/common/echo/`, `#[path = "../rng.rs"]`).

/// A SplitMix64 generator.
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`; every seed, 0 included, is a good one.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fills `buf` with the next bytes, eight per draw.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}
