//! A user's keys for the proxy on their page: listed, and revoked by an admin (the revocation
//! itself is a support action's form, `actions.rs`, confirmed first with a reason).

use std::collections::HashMap;

use maud::{html, Markup};

use crate::dashboard::parts::layout::csrf;
use crate::dashboard::parts::numbers::{when, when_or};
use crate::dashboard::parts::shown::Shown;
use crate::gateway::console::sessions::Session;
use crate::gateway::Gateway;
use crate::http::ApiError;
use crate::quota::operator::Need;
use crate::quota::{KeyRecord, UserId};

/// The user's keys for the proxy (`qg_uk_…`): which exist, since when, until when; an admin
/// revokes one (a confirmation first).
pub(crate) fn section(session: &Session, href: &str, keys: &[KeyRecord]) -> Markup {
    html! {
        h2 id="user-keys" { "User keys (the proxy)" }
        @if keys.is_empty() {
            p.muted { "None: calls through the proxy name this user with the project's secret key, or it makes none." }
        } @else {
            table {
                thead { tr { th { "Key" } th { "Label" } th { "Created" } th { "Expires" } th { span.sr { "Actions" } } } }
                tbody {
                    @for k in keys {
                        tr {
                            td { code { (k.hint) } br; span.muted { (Shown(&k.key_id)) } }
                            td { (Shown(&k.label)) }
                            td { (when(k.created_at_ms)) }
                            td { (when_or(k.expires_at_ms, "never")) }
                            td { @if session.may(Need::Configure) {
                                form.inline method="post" action=(format!("{href}/revoke-key")) {
                                    (csrf(session))
                                    input type="hidden" name="keyId" value=(k.key_id);
                                    button.danger type="submit" { "Revoke…" }
                                }
                            } }
                        }
                    }
                }
            }
        }
    }
}

/// Keys are an admin's (the project's own, on the Keys page, the root token's): a support role
/// sees no such form, and one sent anyway is refused.
pub(crate) fn may_revoke(session: &Session) -> Result<(), ApiError> {
    match session.may(Need::Configure) {
        true => Ok(()),
        false => Err(ApiError::Forbidden),
    }
}

/// The user key a form names (`keyId`), as one of this user's: another user's is none.
pub(crate) async fn named(
    gateway: &Gateway,
    project: &str,
    user: &UserId,
    fields: &HashMap<String, String>,
) -> Result<KeyRecord, ApiError> {
    let id = fields.get("keyId").map(|v| v.trim()).unwrap_or("");
    gateway
        .accounts()
        .user_keys(project, user)
        .await?
        .into_iter()
        .find(|k| k.key_id == id)
        .ok_or_else(|| ApiError::KeyNotFound(id.to_string()))
}
