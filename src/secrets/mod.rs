//! Tokens and keys: minted from the OS random source, stored only as SHA-256 digests, compared
//! in constant time. API keys end in a checksum, so secret scanners can recognise a leaked key
//! and a mistyped one is refused without a lookup. User tokens are signed, not stored.

pub(crate) mod passwords;
pub(crate) mod tokens;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random base62 characters in an API key (178 bits).
const KEY_RANDOM_LEN: usize = 30;
/// Base62 characters of the CRC-32 checksum at the end of an API key.
const CHECKSUM_LEN: usize = 6;

pub(crate) const SECRET_PREFIX: &str = "qg_sk_";
pub(crate) const PUBLISHABLE_PREFIX: &str = "qg_pk_";
/// A user key: one end user's, for the proxy only.
pub(crate) const USER_KEY_PREFIX: &str = "qg_uk_";

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source failing means the machine cannot mint secrets at all.
    getrandom::fill(&mut buf).expect("the operating system's random source is unavailable");
    buf
}

/// `N` bytes for an id a request draws (a reservation's, a run's, a track's): from the
/// thread's ChaCha12 generator, seeded and reseeded from the operating system's source, so an
/// id is as hard to guess as one drawn from the OS without a system call per request (one of
/// the three a reserve makes otherwise). Secrets (keys, tokens) keep `random_bytes`.
pub(crate) fn id_bytes<const N: usize>() -> [u8; N] {
    use rand::Rng;
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// A random base62 string of `len` characters (about 5.95 bits each).
pub(crate) fn random_token(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_bytes::<32>() {
            // Rejection sampling keeps every character equally likely.
            if usize::from(byte) < 62 * 4 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(byte) % 62]));
            }
        }
    }
    out
}

/// A new API key: the prefix, 30 random base62 characters and a 6-character checksum.
pub(crate) fn new_api_key(prefix: &str) -> String {
    let body = format!("{prefix}{}", random_token(KEY_RANDOM_LEN));
    let checksum = checksum(&body);
    format!("{body}{}", String::from_utf8_lossy(&checksum))
}

/// Whether a presented key has an API key's shape and a matching checksum.
pub(crate) fn api_key_well_formed(key: &str) -> bool {
    let expected = SECRET_PREFIX.len() + KEY_RANDOM_LEN + CHECKSUM_LEN;
    let prefixed = [SECRET_PREFIX, PUBLISHABLE_PREFIX, USER_KEY_PREFIX]
        .iter()
        .any(|p| key.starts_with(p));
    if key.len() != expected || !prefixed {
        return false;
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_LEN);
    body[SECRET_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric()) && checksum(body) == sum.as_bytes()
}

/// CRC-32 of `text` in 6 base62 characters (bytes, not a `String`: every request checks one).
fn checksum(text: &str) -> [u8; CHECKSUM_LEN] {
    let mut value = u64::from(crc32(text.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// CRC-32 (IEEE) by a table built at compile time: every request checks its key's checksum,
/// and bit by bit that took 1,800 instructions of a reserve.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in bytes {
        crc = (crc >> 8) ^ TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize];
    }
    !crc
}

/// Generated root tokens start with this.
pub(crate) const ROOT_PREFIX: &str = "qg_root_";

/// A configured root token shorter than this draws a warning at start-up: it opens every
/// project, and the dashboard's sign-in is only throttled, not closed, to guessing.
pub(crate) const MIN_ROOT_TOKEN_CHARS: usize = 32;

/// A new root token, `qg_root_` and 40 base62 characters.
pub(crate) fn new_root_token() -> String {
    format!("{ROOT_PREFIX}{}", random_token(40))
}

pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The digest in lower-case hex, as key records store it.
pub(crate) fn digest_hex(token: &str) -> String {
    HexDigest::of(token).as_str().to_owned()
}

/// The digest in lower-case hex on the stack: a presented key's, looked up on every request
/// (`digest_hex` is the same text in a `String`).
pub(crate) struct HexDigest([u8; 64]);

impl HexDigest {
    pub(crate) fn of(token: &str) -> HexDigest {
        let mut out = [0u8; 64];
        for (pair, byte) in out.chunks_exact_mut(2).zip(digest(token)) {
            pair.copy_from_slice(&hex_pair(byte));
        }
        HexDigest(out)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only hex digits were written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Appends `bytes` in lower-case hex, as `hex::encode` writes them (by a table: this runs on
/// every request, and that crate's char-by-char iterator costs five times as much).
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        let [high, low] = hex_pair(byte);
        out.push(char::from(high));
        out.push(char::from(low));
    }
}

/// A byte's two lower-case hex digits.
fn hex_pair(byte: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [DIGITS[usize::from(byte >> 4)], DIGITS[usize::from(byte & 15)]]
}

/// Constant-time equality of two digests.
pub(crate) fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bytes_equal(a, b)
}

/// Equality of two byte strings in time that depends on their lengths only.
pub(crate) fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA256 of `message` under `key`.
pub(crate) fn sign(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Whether `signature` is the HMAC-SHA256 of `message`, compared in constant time.
pub(crate) fn verify(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.verify_slice(signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_lower_case_hex_and_compared_whole() {
        for token in ["", "qg_sk_x", "é"] {
            assert_eq!(digest_hex(token), hex::encode(digest(token)));
            assert_eq!(HexDigest::of(token).as_str(), hex::encode(digest(token)));
        }
        assert!(bytes_equal(b"abc", b"abc"));
        assert!(!bytes_equal(b"abc", b"abd"));
        assert!(!bytes_equal(b"abc", b"ab"));
    }

    #[test]
    fn keys_carry_a_checksum_that_catches_typos() {
        let key = new_api_key(SECRET_PREFIX);
        assert!(key.starts_with("qg_sk_"));
        assert_eq!(key.len(), 42);
        assert!(api_key_well_formed(&key));
        let mut typo = key.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        assert!(!api_key_well_formed(&String::from_utf8(typo).unwrap()));
        assert!(!api_key_well_formed("qg_sk_short"));
        assert!(api_key_well_formed(&new_api_key(PUBLISHABLE_PREFIX)));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn digests_compare_by_value() {
        assert!(digests_equal(&digest("a"), &digest("a")));
        assert!(!digests_equal(&digest("a"), &digest("b")));
    }

    #[test]
    fn signatures_verify_only_their_message() {
        let signature = sign(b"key", b"message");
        assert!(verify(b"key", b"message", &signature));
        assert!(!verify(b"key", b"massage", &signature));
        assert!(!verify(b"other", b"message", &signature));
    }
}
