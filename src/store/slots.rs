//! Redis Cluster hash slots, so a user's script can write to a key every node can find: the
//! alerts outbox of the user's slot (`<prefix>:{<slot tag>}:outbox`). A sweeper reads the
//! 16,384 outboxes to find what a node that died after a script left behind.

use std::sync::LazyLock;

pub(crate) const SLOTS: usize = 16_384;

/// CRC16/XMODEM, as Redis Cluster hashes keys.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of a key, by its hash tag when it has one (as Redis Cluster decides it).
pub(crate) fn slot(key: &str) -> usize {
    let bytes = key.as_bytes();
    let tagged = key
        .find('{')
        .and_then(|open| key[open + 1..].find('}').map(|len| (open + 1, len)))
        .filter(|(_, len)| *len > 0)
        .map_or(bytes, |(start, len)| &bytes[start..start + len]);
    usize::from(crc16(tagged)) % SLOTS
}

/// For every slot, a short hash tag that lands in it, found once by trying "s0", "s1", ...
pub(crate) fn tag(slot: usize) -> &'static str {
    static TAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
        let mut tags = vec![String::new(); SLOTS];
        let mut missing = SLOTS;
        let mut n = 0u64;
        while missing > 0 {
            let candidate = format!("s{n}");
            let s = usize::from(crc16(candidate.as_bytes())) % SLOTS;
            if tags[s].is_empty() {
                tags[s] = candidate;
                missing -= 1;
            }
            n += 1;
        }
        tags
    });
    &TAGS[slot % SLOTS]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_redis_clusters() {
        // Known values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(slot("a{}b"), slot("a{}b"));
        for s in [0, 1, 12182, SLOTS - 1] {
            assert_eq!(slot(&format!("{{{}}}", tag(s))), s);
        }
    }
}
