//! User tokens: short-lived, signed by the deployment, letting a browser with the project's
//! publishable key read one user's usage. Tokens are not stored: the signature and the expiry
//! are all there is to check.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{sign, verify as verify_signature};

const PREFIX: &str = "qg_ut_";
/// What a token says: which project's user, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    #[serde(rename = "p")]
    pub project: String,
    #[serde(rename = "u")]
    pub user: String,
    #[serde(rename = "e")]
    pub expires_ms: i64,
}

/// `qg_ut_<base64url claims>.<base64url HMAC-SHA256 of the first part>`. Claims that cannot be
/// written are an error, never a signed empty payload.
pub(crate) fn mint(signing_key: &[u8], claims: &Claims) -> Result<String, serde_json::Error> {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
    let signature = URL_SAFE_NO_PAD.encode(sign(signing_key, payload.as_bytes()));
    Ok(format!("{PREFIX}{payload}.{signature}"))
}

/// The claims of an untampered token that has not expired at `now_ms`.
pub(crate) fn verify(signing_key: &[u8], token: &str, now_ms: i64) -> Option<Claims> {
    let (payload, signature) = token.strip_prefix(PREFIX)?.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if !verify_signature(signing_key, payload.as_bytes(), &signature) {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (claims.expires_ms > now_ms).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            project: "p".into(),
            user: "u".into(),
            expires_ms: 2_000,
        }
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let token = mint(b"key", &claims()).unwrap();
        assert_eq!(verify(b"key", &token, 1_999), Some(claims()));
        assert_eq!(verify(b"key", &token, 2_000), None);
        assert_eq!(verify(b"other", &token, 1_000), None);
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let token = mint(b"key", &claims()).unwrap();
        let forged = mint(
            b"key",
            &Claims {
                user: "v".into(),
                ..claims()
            },
        )
        .unwrap();
        let (_, forged_payload_sig) = forged.split_at(PREFIX.len());
        let (forged_payload, _) = forged_payload_sig.split_once('.').unwrap();
        let (_, signature) = token.rsplit_once('.').unwrap();
        assert_eq!(
            verify(b"key", &format!("{PREFIX}{forged_payload}.{signature}"), 1_000),
            None
        );
        assert_eq!(verify(b"key", "qg_ut_nonsense", 1_000), None);
    }
}
