//! The shapes of names the API accepts, checked before anything reaches Redis, and the id
//! types that carry a checked name past the edge: a `UserId` or `ReservationId` is valid by
//! construction, so nothing behind the API checks one again.

use std::borrow::Cow;
use std::fmt::{self, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// An end user's id: 1 to 256 bytes of UTF-8 without control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// The id, or what is wrong with it.
    pub fn parse(text: &str) -> Result<UserId, &'static str> {
        check_user_id(text)?;
        Ok(UserId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for UserId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A reservation id, `r_<base64url user>.<base64url random>`: it carries its user, so commit
/// and release find the user's state without a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationId {
    text: String,
    user: UserId,
}

impl ReservationId {
    /// A new id for `user` with the given random bytes.
    pub fn new(user: &UserId, random: &[u8]) -> ReservationId {
        ReservationId::made("r_", user, random)
    }

    /// A new run's id for `user`: a run is a reservation, named apart so the reservation
    /// routes never end one and the run routes never end anything else.
    pub fn new_run(user: &UserId, random: &[u8]) -> ReservationId {
        ReservationId::made("run_", user, random)
    }

    fn made(prefix: &str, user: &UserId, random: &[u8]) -> ReservationId {
        // Written into one string (a reserve makes one): <prefix> <user> "." <random>, base64url.
        let mut text = String::with_capacity(prefix.len() + 2 + (user.as_str().len() + random.len()) * 4 / 3 + 2);
        text.push_str(prefix);
        URL_SAFE_NO_PAD.encode_string(user.as_str(), &mut text);
        text.push('.');
        URL_SAFE_NO_PAD.encode_string(random, &mut text);
        ReservationId {
            text,
            user: user.clone(),
        }
    }

    /// A reservation's id as the reservation routes take it: a run is no reservation there.
    pub fn parse_reservation(text: &str) -> Option<ReservationId> {
        ReservationId::parse(text).filter(|id| !id.is_run())
    }

    /// A run's id as the run routes take it.
    pub fn parse_run(text: &str) -> Option<ReservationId> {
        ReservationId::parse(text).filter(ReservationId::is_run)
    }

    /// Whether it names a run.
    pub fn is_run(&self) -> bool {
        self.text.starts_with("run_")
    }

    /// The id a reserve of `user`'s answered (its own, or a repeat's first call's, which an
    /// Idempotency-Key of the same user made): taken as it is, without decoding the user
    /// again; None when it is not a reservation's or a run's id.
    pub fn answered(text: String, user: &UserId) -> Option<ReservationId> {
        (text.starts_with("r_") || text.starts_with("run_")).then(|| ReservationId {
            text,
            user: user.clone(),
        })
    }

    /// The id, or None for anything this gateway could not have made.
    pub fn parse(text: &str) -> Option<ReservationId> {
        let rest = text.strip_prefix("r_").or_else(|| text.strip_prefix("run_"))?;
        let (user, random) = rest.split_once('.')?;
        if random.is_empty()
            || !random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let user = String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()?;
        Some(ReservationId {
            text: text.to_string(),
            user: UserId::parse(&user).ok()?,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn user(&self) -> &UserId {
        &self.user
    }
}

impl fmt::Display for ReservationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Plan, group and project ids: `[A-Za-z0-9_.-]{1,64}`, but never `.` or `..`.
pub(crate) fn check_id(id: &str) -> Result<(), &'static str> {
    check_charset(id, 64, |b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        .map_err(|_| "must match [A-Za-z0-9_.-]{1,64}")?;
    check_not_dots(id)
}

/// Event names: `[A-Za-z0-9_.:-]{1,128}`.
pub(crate) fn check_event(event: &str) -> Result<(), &'static str> {
    check_charset(event, 128, |b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
        .map_err(|_| "must match [A-Za-z0-9_.:-]{1,128}")
}

/// User ids: any UTF-8 of 1 to 256 bytes without control characters, but never `.` or `..`.
pub(crate) fn check_user_id(user: &str) -> Result<(), &'static str> {
    if user.is_empty() || user.len() > 256 {
        return Err("must be 1 to 256 bytes");
    }
    if user.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    check_not_dots(user)
}

/// An id is a path segment (`/v1/users/{userId}`, `/dashboard/users/{userId}`), and `.` and
/// `..` are the two segments every URL parser resolves away: a link to user `..` would lead
/// to the parent page. So neither is an id.
fn check_not_dots(id: &str) -> Result<(), &'static str> {
    if id == "." || id == ".." {
        return Err("must not be . or .. (they are not path segments)");
    }
    Ok(())
}

/// The most bytes of a reason (for blocking a user, for an adjustment).
pub(crate) const MAX_REASON_BYTES: usize = 256;

/// Why an operator blocked a user or adjusted a counter: 1 to 256 bytes without control
/// characters, not only spaces. Valid by construction, so the gateway's verbs take only this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonText(String);

impl ReasonText {
    /// The reason, or what is wrong with it.
    pub fn parse(text: &str) -> Result<ReasonText, &'static str> {
        if text.trim().is_empty() || text.len() > MAX_REASON_BYTES || text.chars().any(char::is_control) {
            return Err("must be 1 to 256 bytes without control characters");
        }
        Ok(ReasonText(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReasonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_charset(s: &str, max: usize, allowed: impl Fn(u8) -> bool) -> Result<(), ()> {
    if s.is_empty() || s.len() > max || !s.bytes().all(allowed) {
        return Err(());
    }
    Ok(())
}

/// Reads an id back from `escape`'s text; None when it is no such text.
pub(crate) fn unescape(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// Percent-encodes `%`, `{`, `}`, `:`, `@` and whitespace: ids as Redis keys and fields hold
/// them (`store::layout`), so distinct ids never share a key or a field.
pub(crate) fn escape(id: &str) -> Cow<'_, str> {
    let special = |c: char| matches!(c, '%' | '{' | '}' | ':' | '@') || c.is_whitespace();
    if !id.contains(special) {
        return Cow::Borrowed(id);
    }
    let mut out = String::with_capacity(id.len() + 8);
    for c in id.chars() {
        if special(c) {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The position of a Redis stream entry as a cursor carries it (`<ms>-<seq>`), refused unless
/// Redis can start a range after it and end one before it: past `u64::MAX` there is no next
/// entry and before `0-0` no previous one, and either would fail in Redis, not here.
pub(crate) fn stream_position(text: &str) -> Option<&str> {
    let (ms, seq) = text.split_once('-')?;
    let (ms, seq) = (ms.parse::<u64>().ok()?, seq.parse::<u64>().ok()?);
    let inside = ms < u64::MAX && seq < u64::MAX && (ms, seq) != (0, 0);
    inside.then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_documented_shapes() {
        assert!(check_id("plan_free-1.a").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id("a:b").is_err());
        assert!(check_id(&"a".repeat(65)).is_err());
        assert!(check_event("image.model_a:v2").is_ok());
        assert!(check_event("image model").is_err());
        assert!(check_user_id("user {1}@x:y é").is_ok());
        assert!(check_user_id("a\nb").is_err());
        assert!(check_user_id(&"é".repeat(129)).is_err());
    }

    #[test]
    fn dot_segments_are_no_ids() {
        for dots in [".", ".."] {
            assert!(check_id(dots).is_err());
            assert!(check_user_id(dots).is_err());
            assert!(UserId::parse(dots).is_err());
        }
        assert!(check_id("...").is_ok());
        assert!(check_id(".a").is_ok());
        assert!(check_user_id("..a").is_ok());
    }

    #[test]
    fn reasons_are_short_printable_text() {
        assert_eq!(ReasonText::parse("chargeback").unwrap().as_str(), "chargeback");
        assert!(ReasonText::parse("é".repeat(128).as_str()).is_ok());
        for bad in ["", "   ", "a\nb", "a\rb", "a\u{0}b", "a\u{1b}[31mb"] {
            assert!(ReasonText::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ReasonText::parse(&"x".repeat(257)).is_err());
        assert!(ReasonText::parse(&"x".repeat(5000)).is_err());
    }

    #[test]
    fn reservation_ids_carry_their_user() {
        let user = UserId::parse("user {1}").unwrap();
        let id = ReservationId::new(&user, &[1, 2, 3]);
        assert_eq!(ReservationId::parse(id.as_str()).unwrap().user(), &user);
        assert_eq!(ReservationId::parse("r_nope"), None);
        let run = ReservationId::new_run(&user, &[1, 2, 3]);
        assert!(run.is_run() && !id.is_run());
        assert_eq!(ReservationId::parse_run(run.as_str()).unwrap().user(), &user);
        assert_eq!(ReservationId::parse_reservation(run.as_str()), None);
        assert_eq!(ReservationId::parse_run(id.as_str()), None);
        assert_eq!(ReservationId::parse("x_dXNlcg.AQID"), None);
        assert_eq!(ReservationId::parse("r_!!.AQID"), None);
    }
}
