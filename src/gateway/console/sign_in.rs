//! Signing in to the dashboard, throttled: every attempt counts against the client's address
//! and against the credential tried, in Redis so every node shares the count, before the
//! credential is judged. Past either limit the attempt is refused unjudged until the window
//! ends, so guessing runs at a few attempts a minute instead of hundreds a second, and one
//! key cannot be signed in with from everywhere at once. An operator's address is counted per
//! client address (and far higher from everywhere), so whoever knows it cannot lock its
//! operator out from elsewhere.

use std::net::IpAddr;

use super::credential::Credential;
use super::sessions::Session;
use super::Console;
use crate::gateway::GatewayError;
use crate::secrets::digest_hex;

/// The window attempts are counted in.
pub(crate) const SIGN_IN_WINDOW_MS: u64 = 60_000;
/// Attempts one client address may make per window (a person needs a handful).
pub(crate) const ATTEMPTS_PER_ADDRESS: u64 = 20;
/// Attempts with one credential per window, from anywhere (a key), or from one address (an
/// operator's address: a guesser elsewhere must not lock its operator out).
pub(crate) const ATTEMPTS_PER_CREDENTIAL: u64 = 20;
/// Attempts at one operator's address per window from all addresses together: guessing spread
/// over many addresses still runs at a few hundred a minute at most.
pub(crate) const ATTEMPTS_PER_OPERATOR: u64 = 200;

impl Credential<'_> {
    /// The counters its attempts from `client` count against, with their limits: a key's
    /// from anywhere; an operator's address's from this client (whatever password is tried),
    /// and, far higher, from everywhere.
    fn counters(&self, client: &str) -> Vec<(String, u64)> {
        match self {
            Credential::Key(key) => vec![(format!("c:{}", digest_hex(key)), ATTEMPTS_PER_CREDENTIAL)],
            Credential::Password { email, .. } => vec![
                (
                    format!("c:{}", digest_hex(&format!("operator:{email}\n{client}"))),
                    ATTEMPTS_PER_CREDENTIAL,
                ),
                (
                    format!("c:{}", digest_hex(&format!("operator:{email}"))),
                    ATTEMPTS_PER_OPERATOR,
                ),
            ],
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Credential::Key(key) => key.is_empty(),
            Credential::Password { email, password } => email.is_empty() || password.is_empty(),
        }
    }
}

/// How a sign-in went.
#[derive(Debug)]
pub(crate) enum SignIn {
    /// A new session, and the cookie value that names it.
    Signed { cookie: String, session: Session },
    /// Neither the root token, a live secret key, nor an operator's address and password.
    Refused,
    /// Too many attempts: not judged; the window ends in this many seconds.
    Throttled { retry_after_s: u64 },
}

impl Console<'_> {
    /// Signs in with `credential` from `client` (the connection's peer address), counting the
    /// attempt first.
    pub(crate) async fn sign_in(&self, credential: Credential<'_>, client: IpAddr) -> Result<SignIn, GatewayError> {
        let address = address_bucket(client);
        let mut counters = vec![(format!("a:{address}"), ATTEMPTS_PER_ADDRESS)];
        counters.extend(credential.counters(&address));
        for (name, limit) in counters {
            let (count, left_ms) = self.store.count_attempt(&name, SIGN_IN_WINDOW_MS).await?;
            if count > limit {
                return Ok(SignIn::Throttled {
                    retry_after_s: left_ms.div_ceil(1000).max(1),
                });
            }
        }
        if credential.is_empty() {
            return Ok(SignIn::Refused);
        }
        Ok(match self.open_session(credential).await? {
            Some((cookie, session)) => SignIn::Signed { cookie, session },
            None => SignIn::Refused,
        })
    }
}

/// The counter of a client address: an IPv4 address itself (also when mapped into IPv6), an
/// IPv6 address by its /64, the block one subscriber usually holds whole.
fn address_bucket(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let two: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_bucket(one), address_bucket(two));
        assert_ne!(address_bucket(one), address_bucket(other));
        assert_eq!(address_bucket("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(address_bucket("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }
}
