//! The closed choices of a plan: units, modes, plan-change rules, what unmatched events do.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Tokens,
    Seconds,
    Cents,
    /// In-flight work: only open reservations count; commit and release both give the slot back.
    Concurrent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Hard,
    Soft,
    /// Denies as hard; its first denial in a period opens an approval request (approval.rs).
    Approval,
}

/// What happens to a group's current period when a user who had another plan moves to this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanChange {
    /// Keep counting in the same counter (same group id, same period).
    Carry,
    /// The current period's usage starts from zero; open holds stay.
    Reset,
    /// The current period is filled to the quota: no fresh quota for plan cycling.
    Block,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmatched {
    Allow,
    Deny,
}

impl Unit {
    pub fn parse(text: &str) -> Option<Unit> {
        [Unit::Count, Unit::Tokens, Unit::Seconds, Unit::Cents, Unit::Concurrent]
            .into_iter()
            .find(|u| u.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Tokens => "tokens",
            Unit::Seconds => "seconds",
            Unit::Cents => "cents",
            Unit::Concurrent => "concurrent",
        }
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hard => "hard",
            Mode::Soft => "soft",
            Mode::Approval => "approval",
        }
    }
}

/// How often a budget's owner reviews it (`reviewEvery`): said on alerts and approval
/// requests, so a receiver knows when the limit will next be looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    Day,
    Week,
    Month,
}

impl Review {
    pub fn parse(text: &str) -> Option<Review> {
        [Review::Day, Review::Week, Review::Month]
            .into_iter()
            .find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Review::Day => "day",
            Review::Week => "week",
            Review::Month => "month",
        }
    }
}
