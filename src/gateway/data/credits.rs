//! Credits: grants made, voided and read. Holding and burning them is the data plane's
//! (reserve, commit, release, track), inside the scripts that decide the quotas of the same
//! event.

use serde_json::json;

use super::resolve::Freshness;
use super::DataPlane;
use super::Idempotency;
use super::LedgerQuery;
use crate::gateway::audit::{Action, Actor, Change};
use crate::gateway::GatewayError;
use crate::quota::credit::MAX_GRANT_MS;
use crate::quota::hold::prepare_adjustment;
use crate::quota::ids::check_id;
use crate::quota::{BalanceView, CreditSummary, Grant, GrantInput, Hold, Milli, ReasonText, UserId};
use crate::secrets::random_bytes;
use crate::store::GrantMade;

/// How a grant call went.
#[derive(Debug, Clone)]
pub enum Granting {
    Made {
        grant: Box<Grant>,
        /// The debt it paid first.
        debt_paid: Milli,
    },
    /// The balance has as many live grants as it may.
    TooMany,
}

impl DataPlane {
    /// Grants credits to `user`'s balance; a repeat of `idempotency` (a payment's id) answers
    /// the first grant and grants nothing.
    pub async fn grant(
        &self,
        project: &str,
        user: &UserId,
        input: &GrantInput,
        by: &Actor,
        idempotency: Option<&Idempotency>,
    ) -> Result<Granting, GatewayError> {
        check_grant(input)?;
        if input.expires_ms.is_some_and(|at| at <= self.node.clock.now_ms()) {
            return Err(GatewayError::Invalid {
                field: "expiresAt",
                detail: "must be in the future".into(),
            });
        }
        let id = grant_id();
        let ledger = self.ledger_for(project, user).await?;
        let made = self
            .node
            .drive(project, user, async || {
                let now_ms = self.node.clock.now_ms();
                Ok(self
                    .store
                    .grant(
                        project,
                        user,
                        &id,
                        input,
                        &by.id,
                        now_ms,
                        idempotency.map(Idempotency::stored),
                        ledger,
                    )
                    .await?)
            })
            .await?;
        Ok(match made {
            GrantMade::Made {
                grant,
                debt_paid,
                fired,
            } => {
                self.alerts().alerts_fired(fired);
                // A repeat was audited when it was first made.
                if grant.id == id {
                    let detail = json!({ "grantId": grant.id, "balance": input.balance,
                        "amount": input.amount, "category": input.category.as_str() });
                    let change = Change {
                        action: Action::GrantCreate,
                        target: user.as_str(),
                        user: Some(user),
                        detail,
                    };
                    self.node.record(project, by, change).await;
                }
                Granting::Made { grant, debt_paid }
            }
            GrantMade::Limit => Granting::TooMany,
        })
    }

    /// Voids a grant: what it has remaining now, what it holds when given back. None when the
    /// user has no such grant.
    pub async fn void_grant(
        &self,
        project: &str,
        user: &UserId,
        grant_id: &str,
        reason: Option<&ReasonText>,
        by: &Actor,
    ) -> Result<Option<Grant>, GatewayError> {
        let ledger = self.ledger_for(project, user).await?;
        let voided = self
            .node
            .drive(project, user, async || {
                Ok(self.store.void_grant(project, user, grant_id, ledger).await?)
            })
            .await?;
        let voided = voided.map(|(grant, fired)| {
            self.alerts().alerts_fired(fired);
            grant
        });
        if let Some(grant) = &voided {
            let mut detail = json!({ "grantId": grant.id, "balance": grant.input.balance,
                "voided": grant.amounts.voided });
            if let Some(reason) = reason {
                detail["reason"] = reason.as_str().into();
            }
            let change = Change {
                action: Action::GrantVoid,
                target: user.as_str(),
                user: Some(user),
                detail,
            };
            self.node.record(project, by, change).await;
        }
        Ok(voided)
    }

    /// The user's balances (every one its plan's balance groups name, and every one it has
    /// grants in), each with its grants in burn order, and Redis time.
    pub async fn balances(&self, project: &str, user: &UserId) -> Result<(i64, Vec<BalanceView>), GatewayError> {
        let resolved = self.resolve(project, user, Freshness::Fresh).await?;
        let mut names: Vec<&str> = resolved
            .plan
            .iter()
            .flat_map(|p| p.groups.iter())
            .filter_map(|g| g.balance.as_ref().map(|b| b.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        // Reading settles what expired, which the ledger records.
        let ledger = self.ledger_for(project, user).await?;
        self.node
            .drive(project, user, async || {
                // Each balance group's allowance as a reserve would see it now: opened for this
                // period, and moved to the quota in force when the plan or an override changed it.
                let now_ms = self.node.clock.now_ms();
                let (started_ms, overrides) = (resolved.started_ms, &resolved.sub.overrides);
                let allowances: Vec<Hold<'_>> = resolved
                    .plan
                    .iter()
                    .flat_map(|p| p.groups.iter())
                    .filter(|g| g.balance.is_some())
                    .flat_map(|g| prepare_adjustment(g, started_ms, now_ms, overrides).holds)
                    .collect();
                let at = self.decided(None);
                Ok(self
                    .store
                    .balances(project, user, &names, &allowances, at, ledger)
                    .await?)
            })
            .await
    }
}

/// The most ledger entries one summary reads; past them it answers what it read, flagged.
pub(crate) const SUMMARY_ENTRIES: usize = 200_000;

impl DataPlane {
    /// What the ledger says of credits of `balance` (every one when None) in [`from_ms`,
    /// `to_ms`), of one user when given, else of every user of the project. Answers whether
    /// it stopped at `SUMMARY_ENTRIES` before the end.
    pub(crate) async fn credits_summary(
        &self,
        project: &str,
        balance: Option<&str>,
        user: Option<&UserId>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(CreditSummary, bool), GatewayError> {
        let query = LedgerQuery {
            user,
            member: None,
            from_ms,
            to_ms,
        };
        let mut summary = CreditSummary::default();
        let (mut cursor, mut read) = (None, 0);
        loop {
            let page = self.usage_events(project, &query, cursor, 1_000).await?;
            read += page.data.len();
            for entry in &page.data {
                summary.add(entry, balance);
            }
            match page.next {
                Some(next) if read < SUMMARY_ENTRIES => cursor = Some(next),
                Some(_) => return Ok((summary, true)),
                None => return Ok((summary, false)),
            }
        }
    }
}

/// A grant's id: "g_" and 16 random bytes, base64url.
fn grant_id() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    format!("g_{}", URL_SAFE_NO_PAD.encode(random_bytes::<16>()))
}

/// What the API checks too, held here so every surface that grants is held to it.
fn check_grant(input: &GrantInput) -> Result<(), GatewayError> {
    let invalid = |field: &'static str, detail: &str| GatewayError::Invalid {
        field,
        detail: detail.into(),
    };
    check_id(&input.balance).map_err(|d| invalid("balance", d))?;
    if input.amount == Milli::ZERO {
        return Err(invalid("amount", "must be more than 0"));
    }
    if input.priority > 100 {
        return Err(invalid("priority", "must be 0 to 100"));
    }
    for (field, at) in [("effectiveAt", input.effective_ms), ("expiresAt", input.expires_ms)] {
        if at.is_some_and(|ms| !(0..=MAX_GRANT_MS).contains(&ms)) {
            return Err(invalid(field, "must be between 1970 and 2286"));
        }
    }
    if let (Some(from), Some(to)) = (input.effective_ms, input.expires_ms) {
        if to <= from {
            return Err(invalid("expiresAt", "must be after effectiveAt"));
        }
    }
    if input
        .source
        .as_ref()
        .is_some_and(|s| s.is_empty() || s.len() > 64 || s.chars().any(char::is_control))
    {
        return Err(invalid("source", "must be 1 to 64 bytes without control characters"));
    }
    Ok(())
}
