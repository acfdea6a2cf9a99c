//! Rolling windows on the node: the scripts decide them (lua/library/modules/rolling.lua); a
//! denial by one says when enough of what it counts will have rolled out for the call to fit,
//! which no period's end tells.

use super::resolve::Freshness;
use super::DataPlane;
use crate::gateway::GatewayError;
use crate::quota::{Decision, EventInput, Milli, Reason, UserId};

impl DataPlane {
    /// Sets `retry_at_ms` on `decision`'s denials by rolling windows: when the sub-windows that
    /// roll out first free room for the call's amount (one read of the window's sub-windows,
    /// on a denial only).
    pub(super) async fn rolling_back(
        &self,
        project: &str,
        input: &EventInput,
        decision: &mut Decision,
    ) -> Result<(), GatewayError> {
        let (at, counters) = (decision.decided_at_ms, &decision.counters);
        for d in &mut decision.denied_by {
            let Some(group_id) = d.group.as_deref().filter(|_| d.reason == Reason::LimitReached) else {
                continue;
            };
            let subject = match &d.subject {
                Some(s) => match UserId::parse(s) {
                    Ok(user) => user,
                    Err(_) => continue,
                },
                None => input.user.clone(),
            };
            let resolved = self.resolve(project, &subject, Freshness::Cached).await?;
            let Some(group) = resolved
                .plan
                .as_ref()
                .and_then(|p| p.groups.iter().find(|g| g.id == group_id))
            else {
                continue;
            };
            let window = group.window(at, resolved.started_ms);
            if window.buckets == 0 {
                continue;
            }
            let counted = window.counted();
            let windows: Vec<_> = counted.iter().map(|(w, _)| *w).collect();
            let counts = self.store.sub_windows(project, &subject, &group.id, &windows).await?;
            let amount = group
                .measure_for(&input.event, &input.metadata)
                .amount(input.quantity, &input.metadata)
                .unwrap_or(Milli::from_units(1));
            // The quota in force, as the decision's counter shows it (an override's).
            let quota = counters
                .iter()
                .find(|c| c.group_id == group.id && c.subject == d.subject)
                .map_or(group.quota, |c| c.quota);
            d.retry_at_ms = room_at(&counted, &counts, amount, quota);
        }
        Ok(())
    }
}

/// When a call of `amount` fits under `quota` again: the first instant the sub-windows rolled
/// out by then (oldest first, each at its roll-out time) leave room; None when it never fits.
fn room_at(counted: &[(crate::quota::Window, i64)], counts: &[(i64, i64)], amount: Milli, quota: Milli) -> Option<i64> {
    let mut left: i64 = counts.iter().map(|(u, h)| u + h).sum();
    let fits = |left: i64| u64::try_from(left).unwrap_or(0) + amount.0 <= quota.0;
    for ((_, out), (u, h)) in counted.iter().zip(counts) {
        left -= u + h;
        if fits(left) {
            return Some(*out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::Window;

    #[test]
    fn room_comes_back_when_enough_has_rolled_out() {
        let w = |out: i64| (Window::fixed(0, Some(1)), out);
        let counted = [w(100), w(200), w(300)];
        // 5 of 5 used: 2 roll out at 100, 3 at 300.
        let counts = [(2_000, 0), (0, 0), (3_000, 0)];
        assert_eq!(
            room_at(&counted, &counts, Milli::from_units(1), Milli::from_units(5)),
            Some(100)
        );
        assert_eq!(
            room_at(&counted, &counts, Milli::from_units(3), Milli::from_units(5)),
            Some(300)
        );
        assert_eq!(
            room_at(&counted, &counts, Milli::from_units(6), Milli::from_units(5)),
            None
        );
    }
}
