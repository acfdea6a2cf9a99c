//! Grants of credits in Redis: each grant's record in the subject's grants hash
//! (`qg:{p:u}:grants`), its amounts in the wallet of its balance while it is live (a field of
//! the counters hash, `lua/library/modules/wallet.lua`), then beside its record once it finished.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::scripts::layouts::grant_amounts;
use super::scripts::{self, Decided, Fired, GrantArgs, Granted, Idempotency, RawBalances, Reply};
use super::{DataStore, StoreError};
use crate::quota::credit::{burn_key, MAX_LIVE_GRANTS};
use crate::quota::{BalanceView, Category, Grant, GrantAmounts, GrantInput, Hold, Milli, UserId};

/// A grant's record as the grants hash keeps it; numbers that may pass 2^53 as strings.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrantRecord {
    balance: String,
    amount: String,
    priority: u8,
    category: String,
    effective_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost_basis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    created_at: i64,
    burn_key: String,
    /// Whether the grant started at its creation (no effective time was asked for).
    #[serde(default)]
    effective_given: bool,
    /// The key (or operator) that made it, for its ledger entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

/// The grant lines of a wallet as wallet.lua keeps it (its `C.encode`): a first line of its
/// own, then a line per grant (`layouts::grant`), fields split by "|"; the wallet's own state
/// comes beside it, as balances.lua answers it.
struct WalletGrant<'a> {
    i: &'a str,
    /// At their `layouts::grant_amounts` indices.
    amounts: [&'a str; grant_amounts::FIELDS],
    voided: bool,
}

fn wallet_grants(text: &str) -> Result<Vec<WalletGrant<'_>>, StoreError> {
    use crate::store::scripts::layouts::grant::{
        CONSUMED, EXPIRED, FIELDS, GRANTED, HELD, ID, REMAINING, VOIDED, VOIDED_MARK,
    };
    let mut grants = Vec::new();
    for line in text.split('\n').skip(1).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() != FIELDS {
            return Err(bad("wallet grant", line));
        }
        let mut amounts = [""; grant_amounts::FIELDS];
        amounts[grant_amounts::AMOUNT] = f[GRANTED];
        amounts[grant_amounts::REMAINING] = f[REMAINING];
        amounts[grant_amounts::HELD] = f[HELD];
        amounts[grant_amounts::CONSUMED] = f[CONSUMED];
        amounts[grant_amounts::EXPIRED] = f[EXPIRED];
        amounts[grant_amounts::VOIDED] = f[VOIDED];
        grants.push(WalletGrant {
            i: f[ID],
            amounts,
            voided: !f[VOIDED_MARK].is_empty(),
        });
    }
    Ok(grants)
}

fn bad(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Protocol(format!("{what}: {detail}").into())
}

fn milli(text: &str) -> Result<Milli, StoreError> {
    text.parse().map(Milli).map_err(|_| bad("wallet amount", text))
}

/// A grant's amounts from their texts at their `layouts::grant_amounts` indices: a wallet's
/// line's, or a finished grant's field "n|<id>" (wallet.lua), "|"-separated in that order.
fn grant_amounts_of(texts: [&str; grant_amounts::FIELDS]) -> Result<GrantAmounts, StoreError> {
    use grant_amounts::{AMOUNT, CONSUMED, EXPIRED, HELD, REMAINING, VOIDED};
    Ok(GrantAmounts {
        amount: milli(texts[AMOUNT])?,
        remaining: milli(texts[REMAINING])?,
        held: milli(texts[HELD])?,
        consumed: milli(texts[CONSUMED])?,
        expired: milli(texts[EXPIRED])?,
        voided: milli(texts[VOIDED])?,
    })
}

/// What a grant call made.
#[derive(Debug, Clone)]
pub(crate) enum GrantMade {
    Made {
        grant: Box<Grant>,
        debt_paid: Milli,
        fired: Fired,
    },
    /// The balance has `MAX_LIVE_GRANTS` live grants already.
    Limit,
}

impl DataStore {
    /// Adds a grant `id` made at `now_ms`; a repeat of `idempotency` answers the first grant.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn grant(
        &self,
        project: &str,
        user: &UserId,
        id: &str,
        input: &GrantInput,
        key_id: &str,
        now_ms: i64,
        idempotency: Option<&Idempotency>,
        ledger: bool,
    ) -> Result<Reply<GrantMade>, StoreError> {
        let effective_ms = input.effective_ms.unwrap_or(now_ms);
        let key = burn_key(input.priority, input.expires_ms, input.category, effective_ms, id);
        let record = GrantRecord {
            balance: input.balance.clone(),
            amount: input.amount.0.to_string(),
            priority: input.priority,
            category: input.category.as_str().to_string(),
            effective_at: effective_ms,
            expires_at: input.expires_ms,
            cost_basis: input.cost_basis.map(|c| c.0.to_string()),
            source: input.source.clone(),
            metadata: input.metadata.clone(),
            created_at: now_ms,
            burn_key: key.clone(),
            effective_given: input.effective_ms.is_some(),
            key_id: Some(key_id.to_string()),
        };
        let record = serde_json::to_string(&record).map_err(|e| bad("grant record", e))?;
        let args = GrantArgs {
            id,
            balance: &input.balance,
            amount: input.amount,
            burn_key: &key,
            // Counted at once unless a time was asked for: the node's clock may be ahead of
            // Redis's, which judges it (the burn order still places it at its creation).
            effective_ms: input.effective_ms.unwrap_or(0),
            expires_ms: input.expires_ms,
            record: &record,
            max_live: MAX_LIVE_GRANTS,
            // As long as the ledger is kept, and never less than any other key's answer.
            idempotency_keep_ms: self.retention_ms.max(self.ledger_retention_ms),
        };
        let keys = &self.keys.user(project, user.as_str());
        let w = &self.writing(keys, idempotency, ledger);
        let reply = self
            .write("grant", |mut conn| async move {
                let reply = scripts::grant(&mut conn, w, &args).await?;
                Ok((reply, conn))
            })
            .await?;
        // A repeat answers the first grant, whose record is the one stored.
        Ok(match reply.done() {
            Ok(Granted::Made {
                id: made,
                amounts,
                debt_paid,
                fired,
            }) => {
                let stored = if made == id {
                    record
                } else {
                    self.grant_record(project, user, &made).await?.unwrap_or(record)
                };
                let grant = grant_of(&made, &stored, amounts, false)?;
                Reply::Done(GrantMade::Made {
                    grant: Box::new(grant),
                    debt_paid,
                    fired,
                })
            }
            Ok(Granted::Limit) => Reply::Done(GrantMade::Limit),
            Err(other) => other,
        })
    }

    async fn grant_record(&self, project: &str, user: &UserId, id: &str) -> Result<Option<String>, StoreError> {
        let key = self.keys.user(project, user.as_str()).grants();
        let id = id.to_string();
        self.run(|mut conn| async move {
            let raw: Option<String> = redis::cmd("HGET").arg(&key).arg(&id).query_async(&mut conn).await?;
            Ok(raw)
        })
        .await
    }

    /// Voids grant `id`: its balance and the grant after it; None when there is no such grant.
    pub(crate) async fn void_grant(
        &self,
        project: &str,
        user: &UserId,
        id: &str,
        ledger: bool,
    ) -> Result<Reply<Option<(Grant, Fired)>>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let w = &self.writing(keys, None, ledger);
        let reply = self
            .write("void_grant", |mut conn| async move {
                let reply = scripts::void_grant(&mut conn, w, id).await?;
                Ok((reply, conn))
            })
            .await?;
        let (amounts, fired) = match reply.done() {
            Ok(Some((_, amounts, fired))) => (amounts, fired),
            Ok(None) => return Ok(Reply::Done(None)),
            Err(other) => return Ok(other),
        };
        let record = self
            .grant_record(project, user, id)
            .await?
            .ok_or_else(|| bad("grant", id))?;
        Ok(Reply::Done(Some((grant_of(id, &record, amounts, true)?, fired))))
    }

    /// The subject's balances (those `names` and those it has grants of), each with its
    /// grants in burn order; the `allowances` (a hold of each balance group of the plan, at
    /// `at`) opened or moved to the quota in force first, as a reserve would.
    pub(crate) async fn balances(
        &self,
        project: &str,
        user: &UserId,
        names: &[&str],
        allowances: &[Hold<'_>],
        at: Decided,
        ledger: bool,
    ) -> Result<Reply<(i64, Vec<BalanceView>)>, StoreError> {
        let keys = &self.keys.user(project, user.as_str());
        let w = &self.writing(keys, None, ledger);
        let reply = self
            .write("balances", |mut conn| async move {
                let reply = scripts::balances(&mut conn, w, names, allowances, at).await?;
                Ok((reply, conn))
            })
            .await?;
        match reply.done() {
            Ok(raw) => Ok(Reply::Done((raw.now_ms, views(&raw)?))),
            Err(other) => Ok(other),
        }
    }
}

/// A grant from its record and amounts.
fn grant_of(id: &str, record: &str, amounts: GrantAmounts, void: bool) -> Result<Grant, StoreError> {
    let r: GrantRecord = serde_json::from_str(record).map_err(|e| bad("grant record", e))?;
    Ok(Grant {
        id: id.to_string(),
        input: GrantInput {
            balance: r.balance,
            amount: milli(&r.amount)?,
            priority: r.priority,
            category: Category::parse(&r.category).ok_or_else(|| bad("grant category", &r.category))?,
            effective_ms: r.effective_given.then_some(r.effective_at),
            expires_ms: r.expires_at,
            cost_basis: r.cost_basis.as_deref().map(milli).transpose()?,
            source: r.source,
            metadata: r.metadata,
        },
        created_ms: r.created_at,
        effective_ms: r.effective_at,
        amounts,
        void: void || amounts.voided > Milli::ZERO,
        burn_key: r.burn_key,
    })
}

/// Every balance with its grants: live ones from their wallet, finished ones from the final
/// amounts kept beside their records.
fn views(raw: &RawBalances) -> Result<Vec<BalanceView>, StoreError> {
    let records: std::collections::HashMap<&str, &str> = raw
        .grants
        .iter()
        .map(|(field, value)| (field.as_str(), value.as_str()))
        .collect();
    let mut out = Vec::with_capacity(raw.wallets.len());
    for (name, text, credit) in &raw.wallets {
        let mut grants = Vec::new();
        let mut live = std::collections::HashSet::new();
        for g in wallet_grants(text)? {
            let amounts = grant_amounts_of(g.amounts)?;
            let Some(record) = records.get(g.i) else {
                // An allowance (wallet.lua) has no record: it is the plan's, not a grant.
                continue;
            };
            live.insert(g.i);
            grants.push(grant_of(g.i, record, amounts, g.voided)?);
        }
        for (field, record) in &raw.grants {
            if field.starts_with("n|") || live.contains(field.as_str()) {
                continue;
            }
            let grant = grant_of(field, record, GrantAmounts::default(), false)?;
            if grant.input.balance != *name {
                continue;
            }
            let Some(last) = records.get(format!("n|{field}").as_str()) else {
                continue;
            };
            let parts: Vec<&str> = last.split('|').collect();
            let texts = <[&str; grant_amounts::FIELDS]>::try_from(parts).map_err(|_| bad("final amounts", last))?;
            let amounts = grant_amounts_of(texts)?;
            grants.push(Grant {
                amounts,
                void: amounts.voided > Milli::ZERO,
                ..grant
            });
        }
        grants.sort_by(|a, b| a.burn_key.cmp(&b.burn_key));
        out.push(BalanceView {
            name: name.clone(),
            credit: *credit,
            grants,
        });
    }
    Ok(out)
}
