//! Scripts of subscriptions, the users index and plans.

use redis::aio::ConnectionLike;
use redis::Value;

use super::contract::{CLAIM_PLAN, DELETE_PLAN, INDEX_USER, OVERRIDE, PUT_PLAN, SET_STATUS, SUBSCRIBE, UNSUBSCRIBE};
use super::{unexpected, Fields, Reply};
use std::collections::BTreeMap;

use crate::quota::{Milli, Override, PlanChange, Window};
use crate::store::layout::{counter_field, UserKeys};
use crate::store::subscriptions::encode_override;
use crate::store::StoreError;

/// The subscription hash as a script left it, field by field.
pub(crate) type SubscriptionHash = Vec<(String, String)>;

/// One onPlanChange rule of the new plan (reset or block), for its group's current window.
pub(crate) struct PlanChangeRule<'a> {
    pub rule: PlanChange,
    pub group: &'a str,
    pub window: Window,
    pub quota: Milli,
    /// A balance group's balance: the rule applies to its allowance too (wallet.lua).
    pub balance: Option<&'a str>,
}

/// What subscribe.lua writes.
pub(crate) struct SubscribeArgs<'a> {
    pub version: u64,
    pub plan: &'a str,
    pub started_ms: i64,
    /// None keeps the overrides; Some replaces them with these.
    pub overrides: Option<&'a BTreeMap<String, Override>>,
    pub rules: Vec<PlanChangeRule<'a>>,
    pub parent: ParentChange<'a>,
}

/// What a subscribe does to the subscription's parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParentChange<'a> {
    Keep,
    Remove,
    Set(&'a str),
}

fn hash_reply(script: &str, reply: Vec<Value>) -> Result<Reply<SubscriptionHash>, StoreError> {
    Fields::answer(reply)?.then(|(tag, it)| match tag.as_str() {
        "ok" => Ok(Reply::Done(it.pairs()?)),
        other => Err(unexpected(script, other)),
    })
}

pub(crate) async fn subscribe(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    args: &SubscribeArgs<'_>,
) -> Result<Reply<SubscriptionHash>, StoreError> {
    let mut inv = SUBSCRIBE.script().prepare_invoke();
    inv.key(keys.sub()).key(keys.ctr()).key(keys.periods());
    inv.arg(args.version).arg(args.plan).arg(args.started_ms);
    inv.arg(if args.overrides.is_some() { "replace" } else { "keep" })
        .arg(args.overrides.map_or(0, BTreeMap::len));
    for (group, o) in args.overrides.into_iter().flatten() {
        inv.arg(group).arg(encode_override(o));
    }
    inv.arg(args.rules.len());
    for r in &args.rules {
        let rule = match r.rule {
            PlanChange::Reset => "reset",
            PlanChange::Block => "block",
            // Carry leaves the counter as it is: nothing for the script to do.
            PlanChange::Carry => "carry",
        };
        // "<rule>/<balance>" for a balance group (balance names hold no "/").
        inv.arg(match r.balance {
            Some(b) => format!("{rule}/{b}"),
            None => rule.to_string(),
        })
        .arg(counter_field(r.group, &r.window))
        .arg(r.window.start_ms)
        .arg(r.window.end_ms.map(|ms| ms.to_string()).unwrap_or_default())
        .arg(r.quota.0);
    }
    match args.parent {
        ParentChange::Keep => inv.arg("keep"),
        ParentChange::Remove => inv.arg("none"),
        ParentChange::Set(id) => inv.arg(format!("={id}")),
    };
    hash_reply("subscribe", inv.invoke_async(conn).await?)
}

/// Ends the subscription; the user falls back to the default plan.
pub(crate) async fn unsubscribe(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
) -> Result<Reply<SubscriptionHash>, StoreError> {
    hash_reply(
        "unsubscribe",
        UNSUBSCRIBE.script().key(keys.sub()).invoke_async(conn).await?,
    )
}

/// Blocks ("blocked" with a reason) or unblocks ("active") a user.
pub(crate) async fn set_status(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    status: &str,
    reason: &str,
) -> Result<Reply<SubscriptionHash>, StoreError> {
    hash_reply(
        "set_status",
        SET_STATUS
            .script()
            .key(keys.sub())
            .arg(status)
            .arg(reason)
            .invoke_async(conn)
            .await?,
    )
}

/// Sets ("<quota milli>|<expires ms or empty>") or removes ("") one override.
pub(crate) async fn set_override(
    conn: &mut impl ConnectionLike,
    keys: &UserKeys,
    group: &str,
    value: &str,
) -> Result<Reply<Option<SubscriptionHash>>, StoreError> {
    let reply: Vec<Value> = OVERRIDE
        .script()
        .key(keys.sub())
        .arg(group)
        .arg(value)
        .invoke_async(conn)
        .await?;
    Fields::answer(reply)?.then(|(tag, it)| match tag.as_str() {
        "ok" => Ok(Reply::Done(Some(it.pairs()?))),
        "limit" => Ok(Reply::Done(None)),
        other => Err(unexpected("override", other)),
    })
}

/// The users index keys of a project: all users, their state, users per plan, and the claims
/// on the plan the user is now on.
pub(crate) struct IndexKeys<'a> {
    pub users: &'a str,
    pub info: &'a str,
    pub plan_users: &'a str,
    pub claims: &'a str,
    pub members: &'a str,
}

/// Brings the users index up to `version` of one user's subscription.
pub(crate) async fn index_user(
    conn: &mut impl ConnectionLike,
    keys: &IndexKeys<'_>,
    user: &str,
    version: u64,
    status: &str,
    plan: &str,
    parent: &str,
) -> Result<(), StoreError> {
    let _: i64 = INDEX_USER
        .script()
        .key(keys.users)
        .key(keys.info)
        .key(keys.plan_users)
        .key(keys.claims)
        .key(keys.members)
        .arg(user)
        .arg(version)
        .arg(status)
        .arg(plan)
        .arg(parent)
        .invoke_async(conn)
        .await?;
    Ok(())
}

pub(crate) async fn put_plan(
    conn: &mut impl ConnectionLike,
    plan_key: &str,
    plans_key: &str,
    plan_id: &str,
    doc_json: &str,
) -> Result<u64, StoreError> {
    let version: u64 = PUT_PLAN
        .script()
        .key(plan_key)
        .key(plans_key)
        .arg(plan_id)
        .arg(doc_json)
        .invoke_async(conn)
        .await?;
    Ok(version)
}

/// How a plan deletion went.
pub(crate) enum DeletePlanReply {
    Deleted,
    NotFound,
    /// Users are on the plan: how many.
    InUse(u64),
}

/// The keys delete_plan.lua takes, in its order.
pub(crate) struct PlanKeys<'a> {
    pub plan: &'a str,
    pub plans: &'a str,
    pub plan_users: &'a str,
    pub claims: &'a str,
}

pub(crate) async fn delete_plan(
    conn: &mut impl ConnectionLike,
    keys: &PlanKeys<'_>,
    plan_id: &str,
    claim_ttl_ms: i64,
) -> Result<DeletePlanReply, StoreError> {
    let reply: Vec<Value> = DELETE_PLAN
        .script()
        .key(keys.plan)
        .key(keys.plans)
        .key(keys.plan_users)
        .key(keys.claims)
        .arg(plan_id)
        .arg(claim_ttl_ms)
        .invoke_async(conn)
        .await?;
    let (tag, mut it) = Fields::new(reply).tag()?;
    match tag.as_str() {
        "ok" => Ok(DeletePlanReply::Deleted),
        "not_found" => Ok(DeletePlanReply::NotFound),
        "in_use" => Ok(DeletePlanReply::InUse(u64::try_from(it.int()?).unwrap_or(0))),
        other => Err(unexpected("delete_plan", other)),
    }
}

/// Claims `plan` for `user` about to be put on it; false when the plan does not exist.
pub(crate) async fn claim_plan(
    conn: &mut impl ConnectionLike,
    plan_key: &str,
    claims_key: &str,
    user: &str,
) -> Result<bool, StoreError> {
    let claimed: i64 = CLAIM_PLAN
        .script()
        .key(plan_key)
        .key(claims_key)
        .arg(user)
        .invoke_async(conn)
        .await?;
    Ok(claimed == 1)
}
