//! A subscription: which plan a user is on, since when, their overrides, and whether they are
//! blocked. Every user has one, if only the empty one: a user without a plan of their own is on
//! the project's default plan, and any user can be blocked.

use std::collections::BTreeMap;

use super::amount::Milli;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Blocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Blocked => "blocked",
        }
    }
}

/// The longest an override set "for N hours" lasts: a year.
pub(crate) const MAX_OVERRIDE_HOURS: i64 = 8_760;
/// The most overrides one subject keeps (a group's, or one value's of a per-value group):
/// lua/scripts/override.lua and lua/scripts/decide_approval.lua refuse one more, so the subscription a script
/// reads stays bounded.
pub(crate) const MAX_OVERRIDES: usize = 1_000;

/// The latest expiry an override may have: 9999-12-31T23:59:59.999Z, the last instant RFC 3339
/// writes with four digits. Scripts compare expiries as Lua numbers, exact below 2^53.
pub(crate) const LATEST_EXPIRY_MS: i64 = 253_402_300_799_999;

/// A per-user quota for one group, in force until `expires_at_ms` (Redis time) when set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Override {
    pub quota: Milli,
    pub expires_at_ms: Option<i64>,
}

impl Override {
    /// An override whose expiry, when it has one, is an instant from 1970 to 9999: before
    /// 1970 an expiry is a negative number the scripts and the answers would read apart.
    pub fn checked(quota: Milli, expires_at_ms: Option<i64>) -> Result<Override, &'static str> {
        if expires_at_ms.is_some_and(|at| !(0..=LATEST_EXPIRY_MS).contains(&at)) {
            return Err("must be a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z");
        }
        Ok(Override { quota, expires_at_ms })
    }

    /// An override that lasts `hours` (1 to 8760) from `now_ms`, computed without overflow.
    pub fn for_hours(quota: Milli, now_ms: i64, hours: i64) -> Result<Override, &'static str> {
        const REFUSED: &str = "must be a whole number of hours from 1 to 8760";
        if !(1..=MAX_OVERRIDE_HOURS).contains(&hours) {
            return Err(REFUSED);
        }
        let at = hours
            .checked_mul(3_600_000)
            .and_then(|ms| now_ms.checked_add(ms))
            .ok_or(REFUSED)?;
        Override::checked(quota, Some(at)).map_err(|_| REFUSED)
    }

    pub fn live_at(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_none_or(|at| at > now_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub user_id: String,
    /// None: no plan of the user's own (the project's default plan applies).
    pub plan_id: Option<String>,
    /// The period anchor of subscription-anchored groups.
    pub started_at_ms: Option<i64>,
    pub status: Status,
    pub reason: Option<String>,
    pub overrides: BTreeMap<String, Override>,
    /// The plan before the current one, or before a cancel: plan-change rules apply against it.
    pub last_plan: Option<String>,
    /// The subject whose budget this one draws from as well.
    pub parent_id: Option<String>,
    /// Bumped by every change; scripts refuse to decide on another version.
    pub version: u64,
}

impl Subscription {
    /// The state of a user nobody subscribed, blocked or overrode.
    pub fn none(user_id: &str) -> Subscription {
        Subscription {
            user_id: user_id.to_string(),
            plan_id: None,
            started_at_ms: None,
            status: Status::Active,
            reason: None,
            overrides: BTreeMap::new(),
            last_plan: None,
            parent_id: None,
            version: 0,
        }
    }

    /// Whether there is anything to show as "the subscription": a plan, or a block.
    pub fn exists(&self) -> bool {
        self.plan_id.is_some() || self.status == Status::Blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_550_000_000;

    #[test]
    fn hours_are_bounded_and_never_wrap() {
        let o = Override::for_hours(Milli(5), NOW, 24).unwrap();
        assert_eq!(o.expires_at_ms, Some(NOW + 24 * 3_600_000));
        assert!(Override::for_hours(Milli(5), NOW, MAX_OVERRIDE_HOURS).is_ok());
        for hours in [0, -1, -99_999_999_999_999, MAX_OVERRIDE_HOURS + 1, i64::MAX, i64::MIN] {
            assert!(Override::for_hours(Milli(5), NOW, hours).is_err(), "{hours}");
        }
        assert!(Override::for_hours(Milli(5), i64::MAX - 1, 1).is_err());
    }

    #[test]
    fn expiries_are_instants_from_1970_to_9999() {
        assert!(Override::checked(Milli(1), None).is_ok());
        assert!(Override::checked(Milli(1), Some(0)).is_ok());
        assert!(Override::checked(Milli(1), Some(LATEST_EXPIRY_MS)).is_ok());
        assert!(Override::checked(Milli(1), Some(-1)).is_err());
        assert!(Override::checked(Milli(1), Some(LATEST_EXPIRY_MS + 1)).is_err());
    }
}
