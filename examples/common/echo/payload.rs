//! The bytes each request carries, and the check of each reply.
//!
//! Request `req` of connection `conn` carries a pseudo-random pattern seeded by both
//! numbers, so a reply that belongs to another connection (mis-routed) or to an earlier
//! request of the same one (stale, duplicated) differs from what is expected. With
//! payloads of 8 bytes or more two different requests collide with odds of 2^-64; a
//! 1-byte payload still catches 255 of 256 such mix-ups.

#[path = "../rng.rs"]
mod rng;

use rng::SplitMix64;

/// Fills `buf` with the pattern of request `req` on connection `conn`.
pub fn fill(buf: &mut [u8], conn: u64, req: u64) {
    SplitMix64::new(seed(conn, req)).fill(buf);
}

/// Where a reply first differs from what was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Byte offset of the first difference.
    pub offset: usize,
    /// The byte that was sent there.
    pub expected: u8,
    /// The byte that came back.
    pub got: u8,
}

/// Compares a reply with the request it answers; `None` if every byte matches.
///
/// The caller keeps the request it sent (filled by [`fill`]) and passes it as `sent`, so
/// checking costs one comparison of two slices, not a second pattern computation.
pub fn check(sent: &[u8], reply: &[u8]) -> Option<Mismatch> {
    if sent == reply {
        return None;
    }
    let offset = sent
        .iter()
        .zip(reply)
        .position(|(a, b)| a != b)
        .unwrap_or(sent.len().min(reply.len()));
    Some(Mismatch {
        offset,
        expected: sent.get(offset).copied().unwrap_or(0),
        got: reply.get(offset).copied().unwrap_or(0),
    })
}

/// Mixes the two numbers so that neighbouring connections and requests start far apart.
fn seed(conn: u64, req: u64) -> u64 {
    SplitMix64::new(conn.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ req).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize, conn: u64, req: u64) -> Vec<u8> {
        let mut v = vec![0u8; len];
        fill(&mut v, conn, req);
        v
    }

    #[test]
    fn same_request_gives_same_bytes() {
        assert_eq!(pattern(64, 7, 3), pattern(64, 7, 3));
        assert_eq!(check(&pattern(64, 7, 3), &pattern(64, 7, 3)), None);
    }

    #[test]
    fn other_connection_or_request_is_caught() {
        let sent = pattern(64, 7, 3);
        assert!(
            check(&sent, &pattern(64, 8, 3)).is_some(),
            "mis-routed reply"
        );
        assert!(check(&sent, &pattern(64, 7, 2)).is_some(), "stale reply");
        assert!(
            check(&sent, &pattern(64, 3, 7)).is_some(),
            "swapped numbers"
        );
    }

    #[test]
    fn one_flipped_byte_is_located() {
        let sent = pattern(100, 1, 1);
        let mut reply = sent.clone();
        reply[97] ^= 0x40;
        let m = check(&sent, &reply).unwrap();
        assert_eq!(m.offset, 97);
        assert_eq!(m.expected, sent[97]);
        assert_eq!(m.got, sent[97] ^ 0x40);
    }

    #[test]
    fn odd_sizes_are_prefixes_of_the_same_pattern() {
        let long = pattern(72, 5, 9);
        for len in [1, 7, 9, 63, 65] {
            assert_eq!(pattern(len, 5, 9), long[..len], "len {len}");
        }
    }

    #[test]
    fn short_reply_is_a_mismatch_at_its_end() {
        let sent = pattern(16, 2, 2);
        let m = check(&sent, &sent[..10]).unwrap();
        assert_eq!(m.offset, 10);
    }

    #[test]
    fn first_requests_of_many_connections_all_differ() {
        let mut seen = std::collections::HashSet::new();
        for conn in 0..1000 {
            for req in 0..4 {
                assert!(
                    seen.insert(pattern(16, conn, req)),
                    "collision at {conn}/{req}"
                );
            }
        }
    }
}
