//! The numbered byte stream the stream tests send and check: the byte at stream offset
//! `i` is `i % PERIOD`, a prime, so a lost, repeated or swapped chunk of any size shifts
//! the sequence and shows.

use super::Rng;
use std::ops::Range;

/// The sequence's period.
pub const PERIOD: usize = 251;

/// The longest chunk [`pattern`] serves from any offset.
pub const PATTERN_CHUNK: usize = PERIOD * 299;

/// The sequence from offset 0, long enough that any chunk up to [`PATTERN_CHUNK`] bytes
/// starting anywhere is one slice of it.
pub fn pattern() -> Vec<u8> {
    (0..PERIOD * 300).map(|i| (i % PERIOD) as u8).collect()
}

/// Checks that `bytes` are the sequence from stream offset `at`.
#[track_caller]
pub fn check(pattern: &[u8], bytes: &[u8], at: u64) {
    for (i, chunk) in bytes.chunks(PATTERN_CHUNK).enumerate() {
        let off = at as usize + i * PATTERN_CHUNK;
        let want = &pattern[off % PERIOD..off % PERIOD + chunk.len()];
        if chunk != want {
            let bad = chunk.iter().zip(want).position(|(a, b)| a != b).unwrap();
            panic!("wrong byte at stream offset {}", off + bad);
        }
    }
}

/// The first `total` bytes of the sequence as chunks of random sizes (seeded by `seed`),
/// each a range of [`pattern`].
pub fn chunks(total: u64, seed: u64) -> impl Iterator<Item = Range<usize>> {
    let mut rng = Rng::new(seed);
    let mut at = 0u64;
    std::iter::from_fn(move || {
        if at >= total {
            return None;
        }
        let len = (1 + rng.below(PATTERN_CHUNK as u64)).min(total - at) as usize;
        let off = at as usize % PERIOD;
        at += len as u64;
        Some(off..off + len)
    })
}
