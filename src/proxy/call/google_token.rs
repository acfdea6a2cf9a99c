//! OAuth 2.0 access tokens for a Vertex AI upstream, minted from a service account's key by
//! Google's JWT-bearer grant: a JWT naming the account, the scope and the key's token URI,
//! signed with its private key (RS256), exchanged at that URI for a token that lives about an
//! hour. A token is kept and used until three quarters of its life have passed, then one call
//! mints the next while the others go on with the old one, still valid; a call finds no valid
//! token only at the start or after minting failed, and then waits for one.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What Vertex AI's calls need of Google Cloud.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Where a key that names no token URI mints.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long one minting may take.
const MINT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most an assertion may live: Google refuses longer ones.
const ASSERTION_SECONDS: u64 = 3600;

/// The fields of a service account's JSON key the gateway reads.
#[derive(Deserialize)]
struct KeyFile {
    client_email: String,
    private_key: String,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct Minted {
    access_token: String,
    expires_in: u64,
}

/// A token and when to mint the next.
#[derive(Clone)]
struct Held {
    token: String,
    renew_at: Instant,
    expires_at: Instant,
}

pub(crate) struct TokenSource {
    email: String,
    key: jsonwebtoken::EncodingKey,
    key_id: Option<String>,
    token_uri: String,
    held: Mutex<Option<Held>>,
    /// One minting at a time: the others use the token held, or wait for the new one.
    minting: tokio::sync::Mutex<()>,
}

impl TokenSource {
    /// From a service account's JSON key (its text); Err says what is wrong with it.
    pub(crate) fn from_key(json: &str) -> Result<TokenSource, String> {
        let file: KeyFile =
            serde_json::from_str(json).map_err(|e| format!("is not a service account's JSON key: {e}"))?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(file.private_key.as_bytes())
            .map_err(|e| format!("its private_key is not an RSA key in PEM: {e}"))?;
        let token_uri = file.token_uri.unwrap_or_else(|| GOOGLE_TOKEN_URI.to_string());
        if !(token_uri.starts_with("https://") || token_uri.starts_with("http://")) {
            return Err("its token_uri must be an http or https URL".into());
        }
        Ok(TokenSource {
            email: file.client_email,
            key,
            key_id: file.private_key_id,
            token_uri,
            held: Mutex::new(None),
            minting: tokio::sync::Mutex::new(()),
        })
    }

    /// A valid access token: the one held, or a new one minted with `client`.
    pub(crate) async fn token(&self, client: &reqwest::Client) -> Result<String, String> {
        let now = Instant::now();
        let held = self.held();
        if let Some(h) = held.as_ref().filter(|h| now < h.renew_at) {
            return Ok(h.token.clone());
        }
        let still_valid = held.filter(|h| now < h.expires_at);
        let _minting = match (self.minting.try_lock(), &still_valid) {
            (Ok(guard), _) => guard,
            // Another call is minting and the token is still good: go on with it.
            (Err(_), Some(h)) => return Ok(h.token.clone()),
            (Err(_), None) => self.minting.lock().await,
        };
        // Minted by another call while this one waited?
        if let Some(h) = self.held().filter(|h| Instant::now() < h.renew_at) {
            return Ok(h.token);
        }
        match self.mint(client).await {
            Ok(token) => Ok(token),
            // A token still valid serves while minting fails; the next call tries again.
            Err(why) => match still_valid {
                Some(h) if Instant::now() < h.expires_at => Ok(h.token),
                _ => Err(why),
            },
        }
    }

    fn held(&self) -> Option<Held> {
        self.held.lock().ok().and_then(|h| h.clone())
    }

    async fn mint(&self, client: &reqwest::Client) -> Result<String, String> {
        let iat = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = Claims {
            iss: &self.email,
            scope: SCOPE,
            aud: &self.token_uri,
            iat,
            exp: iat + ASSERTION_SECONDS,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key_id.clone();
        let assertion = jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| format!("cannot sign: {e}"))?;
        let began = Instant::now();
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ];
        let answer = client
            .post(&self.token_uri)
            .form(&form)
            .timeout(MINT_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("minting an access token failed: {e}"))?;
        let status = answer.status();
        if !status.is_success() {
            let body = answer.text().await.unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            return Err(format!("minting an access token was refused ({status}): {body}"));
        }
        let minted: Minted = answer
            .json()
            .await
            .map_err(|e| format!("the token endpoint's answer is no token: {e}"))?;
        let life = Duration::from_secs(minted.expires_in.max(1));
        let held = Held {
            token: minted.access_token.clone(),
            renew_at: began + life * 3 / 4,
            expires_at: began + life,
        };
        if let Ok(mut slot) = self.held.lock() {
            *slot = Some(held);
        }
        Ok(minted.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_cannot_mint_is_refused_saying_why() {
        let refused = |json: &str| TokenSource::from_key(json).err().unwrap_or_default();
        assert!(refused("not json").contains("service account's JSON key"));
        let no_pem = r#"{"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#;
        assert!(refused(no_pem).contains("private_key"));
        assert!(refused(r#"{"private_key": "x"}"#).contains("client_email"));
    }
}
