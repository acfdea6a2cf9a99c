//! Operators' passwords: hashed with Argon2id (the crate's defaults, OWASP's minimum: 19 MiB,
//! two passes, one lane) and a random salt, kept as a PHC string; checked in constant time.
//! Both take tens of milliseconds by design, so callers run them off the async workers, on a
//! `Hasher` each: its 19 MiB are allocated once and reused by every hash it makes, so the
//! memory sign-ins take is the hashers' and no more (allocated per hash, on whichever thread
//! ran it, the allocator kept it: 763 MiB grew to 1,200 under concurrent sign-ins).

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::{bytes_equal, random_bytes};

/// Argon2id with its memory: one per thread that hashes.
pub(crate) struct Hasher {
    blocks: Vec<Block>,
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher {
            blocks: vec![Block::default(); Params::DEFAULT_M_COST as usize],
        }
    }
}

impl Hasher {
    /// The PHC string of `password` (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
    pub(crate) fn hash(&mut self, password: &str) -> String {
        let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes is a valid salt");
        let mut raw = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut raw).expect("a salt it encoded decodes");
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        Argon2::default()
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, &mut self.blocks)
            .expect("Argon2id with its default parameters hashes any password");
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&Params::default()).expect("the default parameters are a parameter string"),
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).expect("32 bytes is an output")),
        };
        phc.to_string()
    }

    /// Whether `password` is the one `phc` was made from; false for a malformed `phc`, or one
    /// whose memory is more than this hasher's.
    pub(crate) fn verify(&mut self, password: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let (Ok(algorithm), Ok(params), Some(salt), Some(hash)) = (
            Algorithm::try_from(parsed.algorithm),
            Params::try_from(&parsed),
            parsed.salt,
            parsed.hash,
        ) else {
            return false;
        };
        let version = parsed.version.map_or(Ok(Version::default()), Version::try_from);
        let (Ok(version), true) = (version, params.m_cost() as usize <= self.blocks.len()) else {
            return false;
        };
        let mut raw = [0u8; 64];
        let Ok(salt_bytes) = salt.decode_b64(&mut raw) else {
            return false;
        };
        let mut out = vec![0u8; hash.len()];
        let blocks = &mut self.blocks[..params.block_count()];
        let argon = Argon2::new(algorithm, version, params);
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, blocks)
            .is_ok_and(|()| bytes_equal(&out, hash.as_bytes()))
    }
}

/// The PHC string of `password`, with a hasher of its own (tests, start-up).
pub(crate) fn hash(password: &str) -> String {
    Hasher::default().hash(password)
}

/// Whether `password` is the one `phc` was made from, with a hasher of its own (the node
/// verifies on its hashers' threads: `Hasher::verify`).
#[cfg(test)]
fn verify(password: &str, phc: &str) -> bool {
    Hasher::default().verify(password, phc)
}

/// A hash of no one's password, verified when a sign-in names no operator, so an unknown
/// address takes as long to refuse as a wrong password.
pub(crate) fn decoy() -> &'static str {
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

    #[test]
    fn a_hasher_reuses_its_memory_and_reads_hashes_the_crate_made() {
        use argon2::password_hash::PasswordHasher;
        let mut hasher = Hasher::default();
        let memory = hasher.blocks.as_ptr();
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let made = Argon2::default()
            .hash_password(b"an older password", &salt)
            .unwrap()
            .to_string();
        assert!(hasher.verify("an older password", &made));
        assert!(!hasher.verify("another password", &made));
        let ours = hasher.hash("a newer password");
        assert!(PasswordHash::new(&ours).is_ok_and(|p| {
            use argon2::password_hash::PasswordVerifier;
            Argon2::default().verify_password(b"a newer password", &p).is_ok()
        }));
        assert_eq!(hasher.blocks.as_ptr(), memory, "the same memory, every time");
    }
}
