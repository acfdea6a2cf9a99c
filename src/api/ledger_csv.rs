//! The usage ledger as CSV: one row per entry and group (an entry that changed two groups is
//! two rows with the same id), and one per grant its credits moved (with `groupId` and
//! `amount` empty on those, `balance`, `grantId` and `credits` empty on the others), so a
//! spreadsheet or a billing import sums a column.

use std::fmt::Write;

use super::dto::{CreditMoveAnswer, UsageEventAnswer, UsageGroupAnswer};

pub(crate) const HEADER: &str = "id,kind,time,userId,event,quantity,groupId,unit,periodStart,amount,reason,keyId,metadata,memberId,balance,grantId,credits,category,costBasis,value,runId,actionId,stepKind,deniedBy,heldSince,reserved,heldUntil,changesUsage,priceSource,outcome,previousOutcome,fallbackOf,attempt\n";

/// The columns of `HEADER`, each row's cells.
const COLUMNS: usize = 33;

/// The columns written by this code as numbers (quantity, amount, credits, costBasis): a
/// negative amount starts with "-" and stays a number.
const NUMBER_COLUMNS: [usize; 6] = [5, 9, 16, 18, 25, 32];

/// A text cell that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return), led by a single quote so it shows as the text it is, as OWASP
/// advises against CSV injection.
pub(super) fn neutralised(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break; quotes doubled.
pub(super) fn field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .map(|v| match v {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// Appends the rows of one entry: one per group it counted in and per credit it moved, or one
/// bare row when it did neither.
pub(crate) fn rows(entry: &UsageEventAnswer, out: &mut String) -> Result<(), serde_json::Error> {
    let metadata = entry.metadata.as_ref().map(serde_json::to_string).transpose()?;
    let metadata = metadata.as_deref();
    if entry.groups.is_empty() && entry.credits.is_empty() {
        write_row(out, &cells(entry, metadata, None, None));
    }
    for g in &entry.groups {
        write_row(out, &cells(entry, metadata, Some(g), None));
    }
    for c in &entry.credits {
        write_row(out, &cells(entry, metadata, None, Some(c)));
    }
    Ok(())
}

/// The cells of one row of `entry`, in `HEADER`'s order: of one of its groups or one of its
/// credit moves, or of neither.
fn cells(
    entry: &UsageEventAnswer,
    metadata: Option<&str>,
    group: Option<&UsageGroupAnswer>,
    credit: Option<&CreditMoveAnswer>,
) -> [String; COLUMNS] {
    let meta = |name: &str| {
        entry
            .metadata
            .as_ref()
            .and_then(|m| m.get(name))
            .map(json_text)
            .unwrap_or_default()
    };
    [
        entry.id.clone(),
        entry.kind.to_string(),
        entry.time.clone(),
        entry.user_id.clone(),
        entry.event.clone().unwrap_or_default(),
        json_text(&entry.quantity),
        group.map(|g| g.group_id.clone()).unwrap_or_default(),
        group.map(|g| g.unit.to_string()).unwrap_or_default(),
        group.and_then(|g| g.period_start.clone()).unwrap_or_default(),
        group.map(|g| json_text(&g.amount)).unwrap_or_default(),
        entry.reason.clone().unwrap_or_default(),
        entry.key_id.clone().unwrap_or_default(),
        metadata.unwrap_or_default().to_string(),
        entry.member_id.clone().unwrap_or_default(),
        credit.map(|c| c.balance.clone()).unwrap_or_default(),
        credit.and_then(|c| c.grant_id.clone()).unwrap_or_default(),
        credit.map(|c| json_text(&c.amount)).unwrap_or_default(),
        credit.and_then(|c| c.category).unwrap_or_default().to_string(),
        credit.map(|c| json_text(&c.cost_basis)).unwrap_or_default(),
        group.and_then(|g| g.value.clone()).unwrap_or_default(),
        entry.run_id.clone().unwrap_or_default(),
        entry.action_id.clone().unwrap_or_default(),
        entry.step_kind.unwrap_or_default().to_string(),
        // (Group ids hold no space: one cell lists them.)
        entry.denied_by.join(" "),
        entry.held_since.clone().unwrap_or_default(),
        json_text(&entry.reserved),
        entry.held_until.clone().unwrap_or_default(),
        entry.changes_usage.to_string(),
        // A priced group's price: "<source>[:<catalog version>]:<model>".
        group
            .and_then(|g| g.price.as_ref())
            .map(|p| match &p.catalog_version {
                Some(version) => format!("{}:{version}:{}", p.source, p.model),
                None => format!("{}:{}", p.source, p.model),
            })
            .unwrap_or_default(),
        entry.outcome.clone().unwrap_or_default(),
        entry.previous_outcome.clone().unwrap_or_default(),
        // A routed proxy call's attempt: the call it is one of and its place, so a sheet
        // sums each group's fallback spend (the attempts after the first).
        meta("fallback_of"),
        meta("attempt"),
    ]
}

/// Appends one row, its text cells neutralised against formulas.
fn write_row(out: &mut String, cells: &[String]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if NUMBER_COLUMNS.contains(&i) {
            field(out, cell);
        } else {
            field(out, &neutralised(cell));
        }
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_shown_as_text_and_numbers_stay_numbers() {
        for (cell, shown) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("+1+1", "'+1+1"),
            ("-1+1", "'-1+1"),
            ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("image.render", "image.render"),
        ] {
            let mut out = String::new();
            field(&mut out, &neutralised(cell));
            assert_eq!(out, shown, "{cell:?}");
        }
    }
}
