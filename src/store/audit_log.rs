//! The audit log of a project: every change made by a key, through the API or the dashboard,
//! one entry of a capped stream (`<prefix>:{<project>}:auditlog`, about the last 100,000),
//! read newest first.

use super::{AccountsStore, Store, StoreError};
use crate::quota::{ChangeEntry, ChangeFilter};

/// Entries the log keeps, about (trimmed approximately, so cheaply).
const KEEP: usize = 100_000;
/// Entries looked at to fill one filtered page.
const MAX_SCAN: usize = 5_000;

type Raw = Vec<(String, Vec<(String, String)>)>;

fn entry((id, fields): (String, Vec<(String, String)>)) -> ChangeEntry {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    ChangeEntry {
        at_ms: id.split('-').next().and_then(|ms| ms.parse().ok()).unwrap_or(0),
        actor_id: field("actor"),
        actor_label: field("label"),
        action: field("action"),
        target: field("target"),
        user: Some(field("user")).filter(|u| !u.is_empty()),
        detail: field("detail"),
        id,
    }
}

impl Store {
    pub(crate) async fn append_change(&self, project: &str, change: &ChangeEntry) -> Result<(), StoreError> {
        let key = self.keys.audit_log(project);
        self.run(|mut conn| async move {
            let _: String = redis::cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(KEEP)
                .arg("*")
                .arg(&[
                    ("actor", change.actor_id.as_str()),
                    ("label", &change.actor_label),
                    ("action", &change.action),
                    ("target", &change.target),
                    ("user", change.user.as_deref().unwrap_or("")),
                    ("detail", &change.detail),
                ])
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }
}

impl AccountsStore {
    /// Up to `limit` changes older than `before` (an entry id; None: the newest), only those
    /// `filter` keeps; and the id to continue before, when more may follow. A filtered page
    /// looks at most `MAX_SCAN` entries, so it may come back short with a next id.
    pub(crate) async fn changes(
        &self,
        project: &str,
        before: Option<&str>,
        filter: &ChangeFilter,
        limit: usize,
    ) -> Result<(Vec<ChangeEntry>, Option<String>), StoreError> {
        let key = &self.keys.audit_log(project);
        let mut found = Vec::with_capacity(limit);
        let mut from = before.map_or("+".to_string(), |id| format!("({id}"));
        let mut scanned = 0;
        loop {
            // One more than a page unfiltered: an entry past it says a next page has any.
            let batch = if filter.is_empty() { limit + 1 } else { 500 };
            let start = &from;
            let raw: Raw = self
                .run(|mut conn| async move {
                    Ok(redis::cmd("XREVRANGE")
                        .arg(key)
                        .arg(start)
                        .arg("-")
                        .arg("COUNT")
                        .arg(batch)
                        .query_async(&mut conn)
                        .await?)
                })
                .await?;
            let (read, done) = (raw.len(), raw.len() < batch);
            for (i, e) in raw.into_iter().map(entry).enumerate() {
                from = format!("({}", e.id);
                scanned += 1;
                if filter.keeps(&e) {
                    found.push(e);
                    if found.len() == limit {
                        // A next page only when entries are left: in this read, or after it.
                        let more = i + 1 < read || !done;
                        let last = found.last().filter(|_| more).map(|e| e.id.clone());
                        return Ok((found, last));
                    }
                }
            }
            if done {
                return Ok((found, None));
            }
            if scanned >= MAX_SCAN {
                return Ok((found, Some(from.trim_start_matches('(').to_string())));
            }
        }
    }
}
