//! Operators: the people who sign in to the dashboard under their own name, each with a role
//! in each project they work on. A role says what its holder may change; every change they
//! make is audited under their name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::check_id;
use super::plan_check::Problem;

/// At most this many operators in a deployment: the list is read whole.
pub(crate) const MAX_OPERATORS: usize = 1_000;
/// A password's length in characters: long enough to resist guessing, short enough that a
/// client cannot make the node hash a megabyte.
pub(crate) const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 12..=128;
/// An invitation (or a password reset) can be taken up for this long.
pub(crate) const INVITE_TTL_MS: u64 = 72 * 3_600_000;

/// What an operator may do in a project, each role including the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every page, changes nothing. The default: a record without a role fails closed.
    #[default]
    Viewer,
    /// Acts on users: overrides, grants, blocks, adjustments, subscriptions, approvals,
    /// runs, and tries plans in the pricing lab.
    Support,
    /// Everything a support operator does, and the project's configuration: plans, prices,
    /// webhooks, keys and settings.
    Admin,
    /// Everything, and who works on the project: inviting operators and setting their roles.
    /// The root token's sessions act as owners; a secret key's as admins (a key sits in apps'
    /// environments: it must not hand out lasting access to people).
    Owner,
}

/// What a change needs, each form of the dashboard naming one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A change to one user's quota or state, an approval, a run, a lab simulation.
    Support,
    /// Plans, prices, webhooks, keys, settings.
    Configure,
    /// Operators and their roles.
    Own,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Support, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Support => "support",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether this role may make a change that needs `need`.
    pub fn may(self, need: Need) -> bool {
        let least = match need {
            Need::Support => Role::Support,
            Need::Configure => Role::Admin,
            Need::Own => Role::Owner,
        };
        self >= least
    }
}

/// An operator as stored. The password is kept only as an Argon2id hash (PHC string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorRecord {
    /// `op_` and 16 random characters: what the audit log names.
    pub id: String,
    /// Lower-cased: one operator per address.
    pub email: String,
    pub name: String,
    /// Project id -> role there.
    pub roles: BTreeMap<String, Role>,
    /// None until the operator took up their invitation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// SHA-256 (hex) of the open invitation's token: only the newest one sets a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_digest: Option<String>,
    pub created_at_ms: i64,
    /// Who invited them (an actor's id).
    pub invited_by: String,
    /// Project id -> a role an owner offered there, taken up with the operator's own password
    /// (an owner who invites an address does not learn that it is an operator elsewhere).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub offers: BTreeMap<String, Offer>,
}

/// A role in one more project offered to an operator by that project's owner, as the owner
/// wrote it (their own name for the person), open until taken up, replaced or expired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub role: Role,
    pub name: String,
    /// SHA-256 (hex) of the link's token.
    pub digest: String,
    pub expires_at_ms: i64,
    pub by: String,
}

impl OperatorRecord {
    /// `invited` until a password is set, then `active`.
    pub fn status(&self) -> &'static str {
        if self.password_hash.is_some() {
            "active"
        } else {
            "invited"
        }
    }

    /// How the audit log and the pages name them.
    pub fn label(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

fn problem(field: &str, detail: &str) -> Problem {
    Problem {
        field: field.into(),
        detail: detail.into(),
    }
}

/// An operator's address, lower-cased: one `@` with text on both sides, at most 254 bytes, no
/// spaces or control characters (`email`). Whether it receives mail is the inviter's to know:
/// the invitation is a link they hand over.
pub(crate) fn checked_email(email: &str) -> Result<String, Problem> {
    let email = email.trim().to_lowercase();
    let shape = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@') && domain.contains('.')
    });
    if !shape || email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem(
            "email",
            "must be an email address (name@example.com), at most 254 bytes",
        ));
    }
    Ok(email)
}

/// A display name: 1 to 128 bytes, no control characters (`name`).
pub(crate) fn check_name(name: &str) -> Result<(), Problem> {
    if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(problem("name", "must be 1 to 128 bytes without control characters"));
    }
    Ok(())
}

/// Roles by project: at least one, each project id valid (`roles`). Whether the projects
/// exist is the gateway's to check.
pub(crate) fn check_roles(roles: &BTreeMap<String, Role>) -> Result<(), Problem> {
    if roles.is_empty() {
        return Err(problem("roles", "must give a role in at least one project"));
    }
    for project in roles.keys() {
        check_id(project).map_err(|d| problem(&format!("roles.{project}"), d))?;
    }
    Ok(())
}

/// A new password: 12 to 128 characters (`password`), of which at least 12 are not white
/// space and at least 4 differ: twelve spaces, or one key held down, guard nothing.
pub(crate) fn check_password(password: &str) -> Result<(), Problem> {
    let n = password.chars().count();
    if !PASSWORD_CHARS.contains(&n) {
        return Err(problem("password", "must be 12 to 128 characters"));
    }
    let visible = password.chars().filter(|c| !c.is_whitespace()).count();
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if visible < 12 || distinct.len() < 4 {
        return Err(problem(
            "password",
            "must have at least 12 characters besides spaces, and at least 4 different ones",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_includes_the_ones_below_it() {
        assert!(!Role::Viewer.may(Need::Support));
        assert!(Role::Support.may(Need::Support) && !Role::Support.may(Need::Configure));
        assert!(Role::Admin.may(Need::Configure) && !Role::Admin.may(Need::Own));
        assert!(Role::Owner.may(Need::Own));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn emails_are_lower_cased_and_shaped() {
        assert_eq!(checked_email(" Ana@Example.COM ").unwrap(), "ana@example.com");
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@localhost",
            "a b@example.com",
            "a@b@example.com",
        ] {
            assert_eq!(checked_email(bad).unwrap_err().field, "email", "{bad}");
        }
        assert!(checked_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_and_names_are_bounded() {
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_err(), "eleven besides the space");
        assert!(check_password("twelve chars!").is_ok());
        assert!(check_password(&" ".repeat(12)).is_err());
        assert!(check_password(&"ab".repeat(6)).is_err());
        assert!(check_password(&"éaöb".repeat(32)).is_ok());
        assert!(check_password(&"a".repeat(129)).is_err());
        assert!(check_name("").is_err() && check_name("Ana\n").is_err() && check_name("Ana Lima").is_ok());
        assert_eq!(check_roles(&BTreeMap::new()).unwrap_err().field, "roles");
    }
}
