//! The usage ledger as CSV: one row per entry and group (an entry that changed two groups is
//! two rows with the same id), so a spreadsheet or a billing import sums a column.

use std::fmt::Write;

use super::dto::UsageEventAnswer;

pub const HEADER: &str = "id,kind,time,userId,event,quantity,groupId,unit,periodStart,amount,reason,keyId,metadata\n";

/// A CSV field: quoted when it holds a comma, a quote or a line break; quotes doubled.
fn field(out: &mut String, value: &str) {
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

/// Appends the rows of one entry.
pub fn rows(entry: &UsageEventAnswer, out: &mut String) {
    let metadata = entry
        .metadata
        .as_ref()
        .map(|m| serde_json::to_string(m).unwrap_or_default());
    let empty = Vec::new();
    let groups = if entry.groups.is_empty() { &empty } else { &entry.groups };
    let mut write_row = |group: Option<&super::dto::UsageGroupAnswer>| {
        let cells = [
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
            metadata.clone().unwrap_or_default(),
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(out, cell);
        }
        let _ = writeln!(out);
    };
    if groups.is_empty() {
        write_row(None);
    }
    for g in groups {
        write_row(Some(g));
    }
}
