//! The daily rollups in Redis: one hash per user (`qg:{p:u}:daily`), fields
//! `<day>|<group>|<stat>` kept by the scripts that change usage, holds and reservations
//! (prelude.lua says which stat is which), pruned with the ledger. A field may name a set of
//! groups, comma-separated: reserve counts all its groups in one field, which counts for each.
//! Reserve counts its admits in the counters hash instead, `a|<day>|<groups>`, in the write
//! of its holds (prelude.lua's admits_field); both are read and added up.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use redis::AsyncCommands;

use super::{Store, StoreError};
use crate::quota::{DayActivity, Outcomes, UserId};

/// Activity by UTC day and group.
pub(crate) type Days = BTreeMap<(i64, String), DayActivity>;

impl Store {
    /// The user's rollups of the UTC days from `from_day` to `to_day` (both included), by day
    /// and group. One read of a hash the retention bounds (days x groups x 5 fields), and the
    /// admits in the counters hash, a scan of its fields that match.
    pub(crate) async fn rollups(
        &self,
        project: &str,
        user: &UserId,
        from_day: i64,
        to_day: i64,
    ) -> Result<Days, StoreError> {
        let keys = self.keys.user(project, user.as_str());
        let (daily, ctr) = (keys.daily(), keys.ctr());
        // (Text values: the outcomes' field is packed, outcomes.lua.)
        let raw: Vec<(String, String)> = self
            .run(|mut conn| async move { Ok(conn.hgetall(daily).await?) })
            .await?;
        let mut days = Days::new();
        for (field, value) in raw {
            add(&mut days, &field, &value, from_day..=to_day)?;
        }
        let mut cursor = 0_u64;
        loop {
            let (next, page): (u64, Vec<(String, i64)>) = self
                .run(|mut conn| async move {
                    Ok(redis::cmd("HSCAN")
                        .arg(ctr)
                        .arg(cursor)
                        .arg("MATCH")
                        .arg("a|*")
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn)
                        .await?)
                })
                .await?;
            for (field, value) in page {
                // "a|<day>|<groups>" counts as "<day>|<groups>|a".
                let rest = field.strip_prefix("a|").unwrap_or(&field);
                add(&mut days, &format!("{rest}|a"), &value.to_string(), from_day..=to_day)?;
            }
            if next == 0 {
                return Ok(days);
            }
            cursor = next;
        }
    }
}

/// Adds one rollup field to the days in `range`: to each group it names.
fn add(days: &mut Days, field: &str, text: &str, range: RangeInclusive<i64>) -> Result<(), StoreError> {
    let bad = || StoreError::Protocol(format!("rollup field {field}").into());
    let (day, rest) = field.split_once('|').ok_or_else(bad)?;
    let (groups, stat) = rest.rsplit_once('|').ok_or_else(bad)?;
    let day: i64 = day.parse().map_err(|_| bad())?;
    if !range.contains(&day) {
        return Ok(());
    }
    // The day's count of denials the ledger kept entries of (reserve.lua): no group's.
    if groups == "~" {
        return Ok(());
    }
    for group in groups.split(',') {
        let activity: &mut DayActivity = days.entry((day, group.to_string())).or_default();
        if stat == "o" {
            activity.outcomes.add(&Outcomes::parse(text));
            continue;
        }
        if stat == "m" {
            // {"<model>": ["<used milli>", "<accepted>"]} (outcomes.lua's by_model).
            let models: BTreeMap<String, (String, String)> = serde_json::from_str(text).map_err(|_| bad())?;
            for (model, (used, accepted)) in models {
                let mine = activity.models.entry(model).or_default();
                mine.0 += used.parse::<i64>().map_err(|_| bad())?;
                mine.1 += accepted.parse::<u64>().map_err(|_| bad())?;
            }
            continue;
        }
        let value: i64 = text.parse().map_err(|_| bad())?;
        let slot = match stat {
            "u" => &mut activity.used_milli,
            "a" => &mut activity.admitted,
            "d" => &mut activity.denied,
            "r" => &mut activity.releases,
            "x" => &mut activity.expiries,
            _ => return Err(bad()),
        };
        *slot += value;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_a_set_of_groups_counts_for_each_beside_their_own_fields() {
        let mut days = Days::new();
        for (field, value) in [
            ("20000|g1,g2|a", 3),
            ("20000|g1|a", 2),
            ("20000|g2|u", 1500),
            ("20001|g1,g2|d", 1),
            ("19999|g1|a", 9),
        ] {
            add(&mut days, field, &value.to_string(), 20000..=20001).unwrap();
        }
        let at = |day: i64, group: &str| days[&(day, group.to_string())].clone();
        assert_eq!((at(20000, "g1").admitted, at(20000, "g2").admitted), (5, 3));
        assert_eq!(at(20000, "g2").used_milli, 1500);
        assert_eq!((at(20001, "g1").denied, at(20001, "g2").denied), (1, 1));
        assert!(!days.contains_key(&(19999, "g1".to_string())), "outside the range");
        assert!(add(&mut days, "20000|g1|z", "1", 20000..=20000).is_err());
        add(&mut days, "20000|g1|o", "accepted=2,rejected=1", 20000..=20000).unwrap();
        assert_eq!(days[&(20000, "g1".to_string())].outcomes.accepted(), 2);
        add(&mut days, "20000|g1|m", r#"{"gpt-4o":["4000","2"]}"#, 20000..=20000).unwrap();
        assert_eq!(days[&(20000, "g1".to_string())].models["gpt-4o"], (4000, 2));
    }
}
