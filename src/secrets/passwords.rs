//! Operators' passwords: hashed with Argon2id (the crate's defaults, OWASP's minimum: 19 MiB,
//! two passes, one lane) and a random salt, kept as a PHC string; checked in constant time by
//! the crate. Both take tens of milliseconds by design, so callers run them off the async
//! workers (`tokio::task::spawn_blocking`).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::random_bytes;

/// The PHC string of `password` (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub fn hash(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id with its default parameters hashes any password")
        .to_string()
}

/// Whether `password` is the one `phc` was made from; false for a malformed `phc`.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of no one's password, verified when a sign-in names no operator, so an unknown
/// address takes as long to refuse as a wrong password.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&super::random_token(24)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("correct horse battery", "not a phc string"));
        assert_ne!(hash("correct horse battery"), phc, "each hash has its own salt");
    }
}
