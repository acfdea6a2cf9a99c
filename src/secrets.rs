//! Tokens and keys: minted from the OS random source, stored only as SHA-256 digests,
//! and compared in constant time so a timing side channel reveals nothing about a digest.

use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source failing means the machine cannot mint secrets at all.
    getrandom::fill(&mut buf).expect("the operating system's random source is unavailable");
    buf
}

/// A random base62 string of `len` characters (about 5.95 bits each).
pub fn random_token(len: usize) -> String {
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

/// A new secret key, `qg_sk_` and 40 base62 characters (238 bits).
pub fn new_secret_key() -> String {
    format!("qg_sk_{}", random_token(40))
}

/// A new root token, `qg_root_` and 40 base62 characters.
pub fn new_root_token() -> String {
    format!("qg_root_{}", random_token(40))
}

pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn digest_hex(token: &str) -> String {
    hex::encode(digest(token))
}

/// Constant-time equality of two digests.
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_prefix_and_length() {
        let key = new_secret_key();
        assert!(key.starts_with("qg_sk_"));
        assert_eq!(key.len(), 46);
        assert_ne!(key, new_secret_key());
    }

    #[test]
    fn digests_compare_by_value() {
        assert!(digests_equal(&digest("a"), &digest("a")));
        assert!(!digests_equal(&digest("a"), &digest("b")));
    }
}
