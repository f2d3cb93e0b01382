//! xorshift64*: deterministic, dependency-free randomness for tests.

/// xorshift64* (Vigna 2016): the same seed gives the same numbers on every run.
pub struct Rng(u64);

impl Rng {
    /// A generator started at `seed` (0, which xorshift cannot leave, becomes 1).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Fills `buf` with random bytes, eight per draw: a client filling megabytes spends its
    /// CPU on its connections, not on the generator (one draw per byte made a debug client
    /// fall seconds behind its timers).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}
