//! The line a page shows after a change. A redirect names it by a code from a fixed list
//! (`?flash=blocked`), never by its text: a link someone sends cannot make the dashboard say
//! anything it would not say itself. Errors are never redirected; the page answering the form
//! shows them.

use maud::{html, Markup};

use super::shown::Shown;

/// What a support action or a decision did, by its code in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    Blocked,
    Unblocked,
    PlanSwitched,
    OverrideSet,
    OverrideRemoved,
    KeyRevoked,
    Adjusted,
    Granted,
    GrantVoided,
    Approved,
    Declined,
    /// A decision's form sent after its request was decided (a double click, Back and send
    /// again, two operators at once): no error, it says what the request is.
    AlreadyApproved,
    AlreadyDeclined,
    /// Decided, as the request's own state says, before the project's list caught up.
    AlreadyDecided,
}

impl Notice {
    pub(crate) const ALL: [Notice; 14] = [
        Notice::Blocked,
        Notice::Unblocked,
        Notice::PlanSwitched,
        Notice::OverrideSet,
        Notice::OverrideRemoved,
        Notice::KeyRevoked,
        Notice::Adjusted,
        Notice::Granted,
        Notice::GrantVoided,
        Notice::Approved,
        Notice::Declined,
        Notice::AlreadyApproved,
        Notice::AlreadyDeclined,
        Notice::AlreadyDecided,
    ];

    pub(crate) fn code(self) -> &'static str {
        match self {
            Notice::Blocked => "blocked",
            Notice::Unblocked => "unblocked",
            Notice::PlanSwitched => "plan",
            Notice::OverrideSet => "override",
            Notice::OverrideRemoved => "override-removed",
            Notice::KeyRevoked => "key-revoked",
            Notice::Adjusted => "adjusted",
            Notice::Granted => "granted",
            Notice::GrantVoided => "voided",
            Notice::Approved => "approved",
            Notice::Declined => "declined",
            Notice::AlreadyApproved => "already-approved",
            Notice::AlreadyDeclined => "already-declined",
            Notice::AlreadyDecided => "already-decided",
        }
    }

    /// The notice a code names; None for anything else, which shows nothing.
    pub(crate) fn from_code(code: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.code() == code)
    }

    fn message(self) -> &'static str {
        match self {
            Notice::Blocked => "Blocked.",
            Notice::Unblocked => "Unblocked.",
            Notice::PlanSwitched => "Plan switched.",
            Notice::OverrideSet => "Override saved.",
            Notice::OverrideRemoved => "Override removed: the plan's quota applies again.",
            Notice::KeyRevoked => "User key revoked.",
            Notice::Adjusted => "Adjusted.",
            Notice::Granted => "Credits granted.",
            Notice::GrantVoided => "Grant voided.",
            Notice::Approved => "Request approved: the new quota is in force.",
            Notice::Declined => "Request declined: the group stays at its limit for the period.",
            Notice::AlreadyApproved => "This request was approved already; this form changed nothing.",
            Notice::AlreadyDeclined => "This request was declined already; this form changed nothing.",
            Notice::AlreadyDecided => "This request was decided already; this form changed nothing.",
        }
    }
}

/// The banner of a notice.
pub(crate) fn banner(notice: Notice) -> Markup {
    html! { div.flash role="status" { (notice.message()) } }
}

/// The banner of an error the page answering a form shows (nothing was changed).
pub(crate) fn error(text: &str) -> Markup {
    html! { div.flash.error role="alert" { (Shown(text)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_their_notice_and_nothing_else_shows() {
        for notice in Notice::ALL {
            assert_eq!(Notice::from_code(notice.code()), Some(notice));
        }
        assert_eq!(Notice::from_code("Your account is suspended, call +1 555"), None);
        assert_eq!(Notice::from_code("error:blocked"), None);
    }
}
