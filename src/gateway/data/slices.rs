//! Team budgets on leased slices (docs/decisions/0060-leased-slices.md): a member's reserve
//! decides its own groups and its ancestors' in one script at its own slot, on slices of the
//! ancestors' groups that its slot keeps. A slice short for the call makes the reserve decide
//! nothing: the node takes a lease of each short slice at its ancestor's slot, in one script
//! that first applies the statement of the slice the reserve closed, and reserves again
//! handing the leases over (which removes those statements from the outbox: they are settled).
//! Near an ancestor's limit (a take answers direct), or where a group cannot be sliced, the
//! call is decided as without leases: one script per level (levels.rs).

use std::time::Duration;

use super::parents::{next_level, MAX_LEVELS};
use super::resolve::Admitted;
use super::slice_rounds::{self, Round, Rounds};
use super::Leases;
use crate::gateway::GatewayError;
use crate::quota::{
    Counter, Decision, EventInput, Hold, Milli, Mode, Placement, Prepared, ReservationId, SliceHold, UserId,
};
use crate::store::{Decided, Fired, Lease as TakenLease, Reply, ReserveArgs, Reserved, Short, Take, TakeLease, Taken};

use super::reservations::MAX_LIFETIME_MS;

/// How a node leases: whether it does, how long a slice takes new holds near its ancestor's
/// limit, and the longest it may while the ancestor is far from it (take_slice.lua).
#[derive(Debug, Clone, Copy)]
pub struct LeaseSettings {
    pub enabled: bool,
    pub slice_life: Duration,
    pub longest_life: Duration,
}

impl Default for LeaseSettings {
    fn default() -> LeaseSettings {
        LeaseSettings {
            enabled: false,
            slice_life: Duration::from_secs(10),
            longest_life: Duration::from_secs(10),
        }
    }
}

/// How long a lease outlives its slice at its ancestor: the longest a hold on it may live (a
/// reservation is extended at most two days after it was made), and a minute for the statement.
const BACKSTOP_MS: i64 = MAX_LIFETIME_MS + 60_000;

/// A slice is at least this many times the call that asked for it, so a take and its settling
/// serve tens of reserves; and the headroom an ancestor keeps unleased is at least the threshold
/// times the call (and 5 % of the quota), so near the limit members decide there.
const LEAST_CALLS_PER_SLICE: u64 = 32;
const THRESHOLD_CALLS: u64 = 64;

/// A new slice is at most this many times twice its last slice's demand, however fast that was
/// spent: a burst that empties a slice at once does not lease a team's headroom in one take.
const MAX_GROWTH: u128 = 16;

/// What a new slice asks for, milli-units, for a call of `call`: at least LEAST_CALLS_PER_SLICE
/// calls, and twice what the member's last slice met at its rate over a slice life: its
/// `demand` over the time it served, from its placing at `began_ms` until it closed or its end
/// at `ends_ms`, whichever came first (0: none, or unknown). So a member calling 20 times a
/// second whose first slice of 32 calls ran short in 1.6 s asks for 400, a life's worth twice
/// over, rather than doubling per renewal (64, 128, 256), a take each. The take lengthens the
/// life far from the ancestor's limit, and the amount with it.
/// Rounded up to whole units: the scale is a fraction, and what a team leases is in its usage
/// (a count group's team read 29072.415 reserved).
fn slice_amount(call: u64, demand: u64, began_ms: i64, ends_ms: i64, at_ms: i64, life_ms: i64) -> u64 {
    let least = call.saturating_mul(LEAST_CALLS_PER_SLICE);
    let served = match (began_ms, ends_ms) {
        (_, 0) => life_ms,
        (began, ends) if began > 0 => at_ms.min(ends).saturating_sub(began),
        // Placed by an earlier build, which kept no placing: it began a life before its end,
        // or earlier when a period's end cut it short (then it served longer than this says,
        // and the scale is smaller than its rate's).
        (_, ends) => at_ms.saturating_sub(ends.saturating_sub(life_ms)).min(life_ms),
    };
    let life = u128::try_from(life_ms.max(1)).unwrap_or(1);
    let served = u128::try_from(served.max(1)).unwrap_or(1);
    let twice = u128::from(demand) * 2;
    let scaled = (twice * life / served).min(twice * MAX_GROWTH);
    let amount = least.max(u64::try_from(scaled).unwrap_or(u64::MAX));
    amount.div_ceil(1_000).saturating_mul(1_000)
}

/// One slice a short reserve asked for: its ancestor, the hold's index among the ancestor's
/// holds, what the call asked of it, the lease to take, and what the slice it closed met.
struct Wanted {
    ancestor: UserId,
    hold: usize,
    amount: Milli,
    short: Short,
    /// The member's slot outbox, where its intent is.
    outbox: String,
}

/// A lease taken for a slice, to hand over: whose, which counter field, and the lease.
struct Place {
    ancestor: UserId,
    field: String,
    placement: Placement,
}

impl Leases<'_> {
    /// Reserves on the user's slices of its ancestors' groups; None when the call is to be
    /// decided as without leases (leases off, no parent, a group that cannot be sliced, an
    /// ancestor near its limit). Never with an Idempotency-Key (levels.rs).
    pub(super) async fn reserve_on_slices(
        &self,
        project: &str,
        input: &EventInput,
        metadata: &str,
        id: &ReservationId,
        ttl_ms: i64,
    ) -> Result<Option<Decision>, GatewayError> {
        if !self.leases.enabled {
            return Ok(None);
        }
        // A user the node knows to have no parent goes by the walk at once: its one script,
        // without resolving the user twice.
        if self
            .node
            .cache
            .user(project, input.user.as_str())
            .is_some_and(|sub| sub.parent_id.is_none())
        {
            return Ok(None);
        }
        let rounds = OnSlices {
            plane: *self,
            project,
            input,
            metadata,
            id,
            ttl_ms,
        };
        // Boxed, as the walk up a team's levels (levels.rs): only a team's member pays for it.
        Box::pin(slice_rounds::decide(
            &rounds,
            &self.leases_in_flight,
            project,
            &input.user,
        ))
        .await
    }

    /// One reserve at the user's slot with a hold on each ancestor's slice, handing `places`
    /// over.
    #[allow(clippy::too_many_arguments)]
    async fn slice_round(
        &self,
        project: &str,
        input: &EventInput,
        metadata: &str,
        id: &ReservationId,
        ttl_ms: i64,
        places: &[Place],
    ) -> Result<Round<Wanted>, GatewayError> {
        let user = &input.user;
        self.node
            .drive(project, user, async || {
                let at = self.decided(None);
                let admitted = match self.admitted(project, user, input).await? {
                    Ok(admitted) => admitted,
                    Err(_) => return Ok(Reply::Done(Round::Direct)),
                };
                let Some(ancestors) = self.ancestors(project, user, &admitted, input).await? else {
                    return Ok(Reply::Done(Round::Direct));
                };
                let prepared = match self.prepared(project, user, &admitted, input, at.at_ms).await? {
                    Ok(prepared) => prepared,
                    Err(_) => return Ok(Reply::Done(Round::Direct)),
                };
                let mut above = Vec::with_capacity(ancestors.len());
                for (ancestor, a) in &ancestors {
                    match self.prepared(project, ancestor, a, input, at.at_ms).await? {
                        Ok(p) if p.holds.iter().all(sliceable) => above.push(p),
                        _ => return Ok(Reply::Done(Round::Direct)),
                    }
                }
                let holds = slice_holds(&prepared, &ancestors, &above, places);
                let args = round_args(input, admitted.version, id, ttl_ms, metadata, at);
                let ledger = self.node.keeps_ledger(project).await?;
                let reply = self.store.reserve(project, user, None, &args, &holds, ledger).await?;
                match reply.done() {
                    Ok(Reserved::Decided(held, mut verdict, fired)) => {
                        let mut rest = verdict.split_off(prepared.holds.len());
                        let mut decision = self
                            .reserved(project, user, input, &admitted, &prepared, held, verdict, fired, at)
                            .await?;
                        // Each ancestor's counters as its slice shows them, and what it holds.
                        let theirs_len = above.iter().map(|p| p.holds.len()).sum::<usize>();
                        decision.counters.reserve(theirs_len);
                        if let Some(granted) = decision.granted.as_mut() {
                            granted.held.reserve(theirs_len);
                        }
                        // A denial can find a slice hold with no slice in the member's slot (it
                        // answers quota 0: a hard group with no room leases none). That counter is
                        // not known here, so none is answered, as the walk answers no level above
                        // the one that denied.
                        let allowed = decision.allowed;
                        let known = |c: &Counter| allowed || c.quota > Milli::ZERO;
                        for ((ancestor, _), p) in ancestors.iter().zip(&above) {
                            let next = rest.split_off(p.holds.len());
                            let theirs = p.decision(&rest, None, at.at_ms).of_subject(ancestor.as_str());
                            decision.counters.extend(theirs.counters.into_iter().filter(known));
                            if let Some(granted) = decision.granted.as_mut() {
                                granted.held.extend(p.holds.iter().map(|h| h.amount));
                            }
                            rest = next;
                        }
                        Ok(Reply::Done(Round::Decided(Box::new(decision))))
                    }
                    Ok(Reserved::Short(shorts, fired)) => {
                        let own = prepared.holds.len();
                        Ok(Reply::Done(
                            self.short_round(shorts, fired, &ancestors, &above, own).await?,
                        ))
                    }
                    Err(other) => Ok(other),
                }
            })
            .await
    }

    /// A round some slice was short in: the statements of the slices it closed go to the
    /// ancestors with the takes, which apply them first; whatever else it wrote is settled now.
    /// Answers the takes wanted, of each short hold (`own`: the user's own holds' count).
    async fn short_round(
        &self,
        shorts: Vec<Short>,
        fired: Fired,
        ancestors: &[(UserId, Admitted)],
        above: &[Prepared<'_>],
        own: usize,
    ) -> Result<Round<Wanted>, GatewayError> {
        let rest = Fired {
            outbox: fired.outbox.clone(),
            ids: fired
                .ids
                .iter()
                .filter(|id| !shorts.iter().any(|s| s.stated.as_ref().is_some_and(|(e, _)| e == *id)))
                .cloned()
                .collect(),
        };
        self.settle_fired(rest).await?;
        let mut wanted = Vec::with_capacity(shorts.len());
        for short in shorts {
            let Some((ancestor, hold, amount)) = locate(ancestors, above, own, short.hold) else {
                return Err(crate::store::StoreError::Protocol("a short hold out of range".into()).into());
            };
            wanted.push(Wanted {
                ancestor,
                hold,
                amount,
                short,
                outbox: fired.outbox.clone(),
            });
        }
        Ok(Round::Short(wanted))
    }

    /// The user's ancestors, bottom-up, each admitted; None when one is not (blocked, on no
    /// plan): the walk without leases answers that.
    async fn ancestors(
        &self,
        project: &str,
        user: &UserId,
        admitted: &Admitted,
        input: &EventInput,
    ) -> Result<Option<Vec<(UserId, Admitted)>>, GatewayError> {
        // The levels so far are the user and the ancestors found: the walk's own list of them
        // would copy each id again.
        let Some(mut next) = admitted
            .parent
            .as_deref()
            .and_then(|p| next_level(p, std::iter::once(user)))
        else {
            return Ok(None);
        };
        let mut ancestors: Vec<(UserId, Admitted)> = Vec::with_capacity(MAX_LEVELS - 1);
        loop {
            let Ok(a) = self.admitted(project, &next, input).await? else {
                return Ok(None);
            };
            let levels = std::iter::once(user)
                .chain(ancestors.iter().map(|(id, _)| id))
                .chain(std::iter::once(&next));
            let above = a.parent.as_deref().and_then(|p| next_level(p, levels));
            ancestors.push((next, a));
            match above {
                Some(up) => next = up,
                None => return Ok(Some(ancestors)),
            }
        }
    }

    /// Takes a lease for each slice wanted, in one script per ancestor (every group of it the
    /// reserve found short); None when one answers direct (near its limit) or cannot take: the
    /// call is then decided as without leases.
    async fn take_slices(
        &self,
        project: &str,
        input: &EventInput,
        wanted: &[Wanted],
    ) -> Result<Option<Vec<Place>>, GatewayError> {
        let ledger = self.node.keeps_ledger(project).await?;
        let life = i64::try_from(self.leases.slice_life.as_millis()).unwrap_or(i64::MAX);
        let longest = i64::try_from(self.leases.longest_life.as_millis()).unwrap_or(i64::MAX);
        let mut places = Vec::with_capacity(wanted.len());
        let mut ancestors: Vec<&UserId> = Vec::new();
        for w in wanted {
            if !ancestors.contains(&&w.ancestor) {
                ancestors.push(&w.ancestor);
            }
        }
        for ancestor in ancestors {
            let at = self.decided(None);
            let Ok(a) = self.admitted(project, ancestor, input).await? else {
                return Ok(None);
            };
            let Ok(prepared) = self.prepared(project, ancestor, &a, input, at.at_ms).await? else {
                return Ok(None);
            };
            let Some(TakeAsk {
                holds,
                asked,
                ends_ms,
                latest_ms,
            }) = asked_of(wanted, ancestor, &prepared, at.at_ms, (life, longest))
            else {
                return Ok(None);
            };
            let leases: Vec<TakeLease<'_>> = asked
                .iter()
                .zip(&holds)
                .map(|((w, threshold), hold)| TakeLease {
                    lease: &w.short.lease,
                    least: w.amount,
                    threshold: *threshold,
                    hold,
                    closed: w.short.stated.as_ref().map(|(_, statement)| statement),
                })
                .collect();
            let take = Take {
                version: a.version,
                member: input.user.as_str(),
                ends_ms,
                backstop_ms: ends_ms + BACKSTOP_MS,
                latest_ms,
                leases: &leases,
                at,
            };
            match self.store.take_slice(project, ancestor.as_str(), &take, ledger).await? {
                Reply::Done(Taken::Leased(taken, fired)) => {
                    self.alerts().alerts_fired(fired);
                    let placed = asked.iter().zip(&holds).zip(taken);
                    places.extend(placed.map(|(((w, _), hold), lease)| place_of(ancestor, w, hold, lease)));
                }
                Reply::Done(Taken::Direct(fired)) => {
                    self.alerts().alerts_fired(fired);
                    return Ok(None);
                }
                Reply::Stale => {
                    self.node.cache.forget_user(project, ancestor.as_str());
                    return Ok(None);
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(places))
    }

    /// Ends the intents of a round given up: each lease it may have taken is stated unused, and
    /// its ancestor takes it back. One that fails is left to the sweeper.
    async fn abandon(&self, project: &str, member: &UserId, wanted: &[Wanted]) {
        for w in wanted {
            let ended = self
                .end_slice_and_settle(project, member.as_str(), &w.short.intent)
                .await;
            if let Err(err) = ended {
                tracing::warn!(%err, "an intent is left to the sweeper");
            }
        }
    }

    /// Settles, as any statement, those of the slices a round's short answer closed when no
    /// reserve will place a lease its take made: no take applied them, or one did and applying
    /// them again changes nothing (statements are numbered; near an ancestor's limit only).
    async fn settle_closed(&self, wanted: &[Wanted]) -> Result<(), GatewayError> {
        let Some(first) = wanted.first() else {
            return Ok(());
        };
        let ids = wanted
            .iter()
            .filter_map(|w| w.short.stated.as_ref().map(|(entry, _)| entry.clone()))
            .collect();
        self.settle_fired(Fired {
            outbox: first.outbox.clone(),
            ids,
        })
        .await
    }

    /// Removes the intents of a round that took nothing: no lease was taken under them, so
    /// none can be placed or has to be given back.
    async fn drop_intents(&self, wanted: &[Wanted]) {
        for w in wanted {
            if let Err(err) = self
                .store
                .outbox_done(&w.outbox, std::slice::from_ref(&w.short.intent))
                .await
            {
                tracing::warn!(%err, "an intent is left to the sweeper");
            }
        }
    }
}

/// The rounds of one member's reserve as `slice_rounds` asks for them.
struct OnSlices<'a> {
    plane: Leases<'a>,
    project: &'a str,
    input: &'a EventInput,
    metadata: &'a str,
    id: &'a ReservationId,
    ttl_ms: i64,
}

impl Rounds for OnSlices<'_> {
    type Wanted = Wanted;
    type Place = Place;

    async fn round(&self, places: &[Place]) -> Result<Round<Wanted>, GatewayError> {
        let OnSlices {
            plane,
            project,
            input,
            metadata,
            id,
            ttl_ms,
        } = *self;
        plane.slice_round(project, input, metadata, id, ttl_ms, places).await
    }

    async fn take(&self, wanted: &[Wanted]) -> Result<Option<Vec<Place>>, GatewayError> {
        self.plane.take_slices(self.project, self.input, wanted).await
    }

    async fn settle_closed(&self, wanted: &[Wanted]) -> Result<(), GatewayError> {
        self.plane.settle_closed(wanted).await
    }

    async fn drop_intents(&self, wanted: &[Wanted]) {
        self.plane.drop_intents(wanted).await;
    }

    async fn abandon(&self, wanted: &[Wanted]) {
        Box::pin(self.plane.abandon(self.project, &self.input.user, wanted)).await;
    }
}

/// Whether a hold of an ancestor's group can be held on a slice: a hard group's, with no
/// balance, approval, per-value counter or clamping.
fn sliceable(h: &Hold<'_>) -> bool {
    h.mode == Mode::Hard
        && h.balance.is_none()
        && h.approval.is_none()
        && h.value.is_none()
        && h.fit.is_none()
        // A rolling window's room comes back with time, which a slice's amount cannot say.
        && h.window.buckets == 0
}

/// What a take of one ancestor's slices asks: a hold and a threshold each, when they end and
/// when they may end at the latest.
struct TakeAsk<'w, 'p> {
    holds: Vec<Hold<'p>>,
    asked: Vec<(&'w Wanted, Milli)>,
    ends_ms: i64,
    latest_ms: i64,
}

/// What a take of `ancestor`'s slices asks for the `wanted` of it, at `at_ms` (`lives`: the
/// slice life and the longest): a hold each, sized by the closed slice's demand, with its
/// threshold, and when its slices end and may end at the latest. None when a wanted hold is
/// not the ancestor's any more.
fn asked_of<'w, 'p>(
    wanted: &'w [Wanted],
    ancestor: &UserId,
    prepared: &'p Prepared<'p>,
    at_ms: i64,
    lives: (i64, i64),
) -> Option<TakeAsk<'w, 'p>> {
    // Its slices end together: at the slice life (or as late as the longest, far from
    // the ancestor's limit: the take says), or the first of their periods' ends.
    let (life, longest) = lives;
    let mut ends_ms = at_ms.saturating_add(life);
    let mut latest_ms = at_ms.saturating_add(longest.max(life));
    let mut holds = Vec::new();
    let mut asked = Vec::new();
    for w in wanted.iter().filter(|w| w.ancestor == *ancestor) {
        let h = prepared.holds.get(w.hold)?;
        let quota = h.user_override.map_or(h.quota, |o| o.quota);
        let call = w.amount.0.max(1);
        let (demand, began, ends) = (w.short.closed_demand.0, w.short.closed_began_ms, w.short.closed_ends_ms);
        let want = slice_amount(call, demand, began, ends, at_ms, life);
        let threshold = (call * THRESHOLD_CALLS).max(quota.0 / 20);
        ends_ms = h.window.end_ms.map_or(ends_ms, |end| end.min(ends_ms));
        latest_ms = h.window.end_ms.map_or(latest_ms, |end| end.min(latest_ms));
        holds.push(Hold {
            amount: Milli(want),
            ..h.clone()
        });
        asked.push((w, Milli(threshold)));
    }
    Some(TakeAsk {
        holds,
        asked,
        ends_ms,
        latest_ms,
    })
}

/// Where a slice taken of `ancestor` for `w` was placed: its hold's field, the lease handed
/// over and what the take left of it.
fn place_of(ancestor: &UserId, w: &Wanted, hold: &Hold<'_>, lease: TakenLease) -> Place {
    Place {
        ancestor: ancestor.clone(),
        field: crate::store::layout::value_field(hold.group, hold.value.as_deref(), &hold.window),
        placement: Placement {
            lease: w.short.lease.clone(),
            amount: lease.amount,
            ends_ms: lease.ends_ms,
            intent: w.short.intent.clone(),
            seen: lease.seen,
            stated: w.short.stated.as_ref().map(|(e, _)| e.clone()).unwrap_or_default(),
        },
    }
}

/// A round's reserve arguments: every level is decided in it, so the record names no level
/// above.
fn round_args<'a>(
    input: &'a EventInput,
    version: u64,
    id: &'a ReservationId,
    ttl_ms: i64,
    metadata: &'a str,
    at: Decided,
) -> ReserveArgs<'a> {
    ReserveArgs {
        version,
        reservation_id: id.as_str(),
        ttl_ms,
        event: &input.event,
        quantity: input.quantity,
        metadata,
        parent: "",
        at,
        step: None,
        run: None,
        fallback: None,
        keep: false,
    }
}

/// The user's holds, then each ancestor's on the user's slice of it; a hold on a slice handed
/// over (`places`) names its place. (The field is made only against a lease handed over: most
/// rounds hand none.)
fn slice_holds<'a>(
    prepared: &'a Prepared<'a>,
    ancestors: &'a [(UserId, Admitted)],
    above: &'a [Prepared<'a>],
    places: &'a [Place],
) -> Vec<Hold<'a>> {
    let mut holds: Vec<Hold<'a>> =
        Vec::with_capacity(prepared.holds.len() + above.iter().map(|p| p.holds.len()).sum::<usize>());
    holds.extend(prepared.holds.iter().cloned());
    for ((ancestor, a), p) in ancestors.iter().zip(above) {
        for h in &p.holds {
            let place = places
                .iter()
                .find(|pl| {
                    pl.ancestor == *ancestor
                        && pl.field == crate::store::layout::value_field(h.group, h.value.as_deref(), &h.window)
                })
                .map(|pl| &pl.placement);
            holds.push(Hold {
                slice: Some(SliceHold {
                    ancestor,
                    version: a.version,
                    place,
                }),
                ..h.clone()
            });
        }
    }
    holds
}

/// The ancestor, its hold's index and the amount asked, of hold `index` of a reserve whose
/// first `own` holds are the user's and the rest each ancestor's in turn.
fn locate(
    ancestors: &[(UserId, Admitted)],
    above: &[crate::quota::Prepared<'_>],
    own: usize,
    index: usize,
) -> Option<(UserId, usize, Milli)> {
    let mut at = index.checked_sub(own)?;
    for ((ancestor, _), p) in ancestors.iter().zip(above) {
        if let Some(h) = p.holds.get(at) {
            return Some((ancestor.clone(), at, h.amount));
        }
        at -= p.holds.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::slice_amount;

    const LIFE: i64 = 10_000;
    const AT: i64 = 1_000_000;

    #[test]
    fn a_first_slice_is_the_least() {
        assert_eq!(slice_amount(1_000, 0, 0, 0, AT, LIFE), 32_000);
    }

    #[test]
    fn a_slice_that_served_its_life_asks_for_twice_its_demand() {
        // Ended at its life's end (or since): the rate over a life is its demand.
        assert_eq!(slice_amount(1_000, 200_000, 0, AT, AT, LIFE), 400_000);
        assert_eq!(slice_amount(1_000, 200_000, 0, AT - 5_000, AT, LIFE), 400_000);
        // Its end unknown (kept by an earlier build): as though it served a life.
        assert_eq!(slice_amount(1_000, 200_000, 0, 0, AT, LIFE), 400_000);
    }

    #[test]
    fn a_slice_spent_early_asks_for_a_lifes_worth_at_its_rate() {
        // 32 calls in 1.6 s, 8.4 s before its end: 20 a second, 200 a life, twice over.
        assert_eq!(slice_amount(1_000, 32_000, 0, AT + 8_400, AT, LIFE), 400_000);
    }

    #[test]
    fn a_slice_placed_at_a_known_instant_asks_for_its_rate_over_a_life_however_long_it_lived() {
        // Lengthened to a minute far from the limit: 1,200 calls over its whole minute are 20
        // a second, 200 a life, twice over; so are 600 spent in its first 30 s.
        assert_eq!(
            slice_amount(1_000, 1_200_000, AT - 61_000, AT - 1_000, AT, LIFE),
            400_000
        );
        assert_eq!(
            slice_amount(1_000, 600_000, AT - 30_000, AT + 30_000, AT, LIFE),
            400_000
        );
        // A period's end cut it at 5 s: 100 calls in them.
        assert_eq!(slice_amount(1_000, 100_000, AT - 5_000, AT, AT, LIFE), 400_000);
    }

    #[test]
    fn a_slice_is_whole_units_at_any_rate() {
        // 32 calls in 1.7 s, 8.3 s before its end: 2 x 32 x 10 / 1.7 = 376.47..., asked as 377.
        assert_eq!(slice_amount(1_000, 32_000, 0, AT + 8_300, AT, LIFE), 377_000);
        // A call of a third of a unit: 32 of them are 10.656 units, asked as 11.
        assert_eq!(slice_amount(333, 0, 0, 0, AT, LIFE), 11_000);
    }

    #[test]
    fn a_burst_scales_at_most_sixteen_times() {
        // Spent within a millisecond of its take: as though it served a sixteenth of a life.
        assert_eq!(slice_amount(1_000, 32_000, 0, AT + LIFE - 1, AT, LIFE), 32_000 * 2 * 16);
    }

    /// A closed lease's fields are kept while a hold placed on it may still be committed late:
    /// the data plane schedules them this long after the close (and its retention after that).
    #[test]
    fn the_data_plane_keeps_a_closed_lease_as_long_as_a_reservation_lives() {
        let head = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/library/head.lua"));
        assert!(head.contains(&format!("local MAX_HOLD_LIFE_MS = {}\n", super::MAX_LIFETIME_MS)));
    }

    #[test]
    fn sizes_a_client_controls_never_overflow() {
        assert_eq!(
            slice_amount(u64::MAX, u64::MAX, i64::MAX, i64::MAX, i64::MIN, i64::MAX),
            u64::MAX
        );
        assert_eq!(slice_amount(1, u64::MAX, i64::MIN, i64::MIN, i64::MAX, 0), u64::MAX);
    }
}
