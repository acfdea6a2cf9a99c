//! The wallets of `lua/library/modules/wallet.lua` against a small Rust model: random sequences of grants
//! (priorities, expiries, categories), reserves, commits below, at and above the hold, releases,
//! expiries of reservations and of grants, and voids must give the same decisions and the same
//! amounts on every grant, which always add up to what was granted, and burn in one order.

use proptest::prelude::*;
use quota_gateway::gateway::audit::Actor;
use quota_gateway::gateway::{Gateway, Granting, ParentChange, Settlement};
use quota_gateway::surface::quota::{Category, EventInput, GrantInput, Milli, Plan, ReservationId, UserId};
use quota_gateway::surface::store::layout::Layout;
use serde_json::json;

use crate::support::{redis, service_on_shared, unique_prefix};

/// Reserves may overdraw this many milli-credits.
const OVERDRAFT: u64 = 3_000;

#[derive(Debug, Clone)]
enum Op {
    Grant {
        units: u64,
        priority: u8,
        expiry: u8,
        promotional: bool,
    },
    Reserve {
        units: u64,
    },
    Commit {
        pick: usize,
        actual: Option<u64>,
    },
    Release {
        pick: usize,
    },
    Expire {
        pick: usize,
    },
    ExpireGrant {
        pick: usize,
    },
    Void {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1u64..7, prop_oneof![Just(10u8), Just(50)], 0u8..3, any::<bool>())
            .prop_map(|(units, priority, expiry, promotional)| Op::Grant { units, priority, expiry, promotional }),
        4 => (1u64..6).prop_map(|units| Op::Reserve { units }),
        3 => (any::<usize>(), proptest::option::of(0u64..9)).prop_map(|(pick, actual)| Op::Commit { pick, actual }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Expire { pick }),
        1 => any::<usize>().prop_map(|pick| Op::ExpireGrant { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Void { pick }),
    ]
}

#[derive(Debug, Clone, Default)]
struct ModelGrant {
    id: String,
    /// (priority, expiry or MAX, promotional first, effective ms, id): the burn order.
    key: (u8, i64, u8, i64, String),
    r: u64,
    h: u64,
    c: u64,
    e: u64,
    v: u64,
    expired: bool,
    void: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Held,
    Done,
    Expired,
}

#[derive(Debug)]
struct ModelReservation {
    id: String,
    amount: u64,
    takes: Vec<(String, u64)>,
    over: u64,
    state: State,
}

#[derive(Debug, Default)]
struct Model {
    grants: Vec<ModelGrant>,
    debt: u64,
    overdrawn: u64,
    reservations: Vec<ModelReservation>,
}

impl Model {
    fn usable(g: &ModelGrant) -> bool {
        g.r > 0 && !g.void && !g.expired
    }

    fn available(&self) -> i64 {
        self.grants
            .iter()
            .filter(|g| Self::usable(g))
            .map(|g| g.r as i64)
            .sum::<i64>()
            - self.debt as i64
    }

    fn find(&mut self, id: &str) -> &mut ModelGrant {
        self.grants.iter_mut().find(|g| g.id == id).unwrap()
    }

    fn give(g: &mut ModelGrant, milli: u64) {
        g.h -= milli;
        if g.expired {
            g.e += milli;
        } else if g.void {
            g.v += milli;
        } else {
            g.r += milli;
        }
    }

    fn pay_debt(&mut self) {
        for g in self.grants.iter_mut() {
            if self.debt == 0 {
                return;
            }
            if Self::usable(g) {
                let take = g.r.min(self.debt);
                g.r -= take;
                g.c += take;
                self.debt -= take;
            }
        }
    }

    fn burn(&mut self, mut need: u64) {
        for g in self.grants.iter_mut() {
            if need == 0 {
                break;
            }
            if Self::usable(g) {
                let take = g.r.min(need);
                g.r -= take;
                g.c += take;
                need -= take;
            }
        }
        self.debt += need;
    }

    fn reserve(&mut self, amount: u64) -> Option<(Vec<(String, u64)>, u64)> {
        if self.available() + OVERDRAFT as i64 - (self.overdrawn as i64) < amount as i64 {
            return None;
        }
        let mut need = amount;
        let mut takes = Vec::new();
        for g in self.grants.iter_mut() {
            if need == 0 {
                break;
            }
            if Self::usable(g) {
                let take = g.r.min(need);
                g.r -= take;
                g.h += take;
                need -= take;
                takes.push((g.id.clone(), take));
            }
        }
        self.overdrawn += need;
        Some((takes, need))
    }

    fn give_back(&mut self, i: usize) {
        let takes = self.reservations[i].takes.clone();
        for (id, milli) in takes {
            Self::give(self.find(&id), milli);
        }
        self.overdrawn -= self.reservations[i].over;
        self.pay_debt();
    }

    fn settle(&mut self, i: usize, actual: u64) {
        let takes = self.reservations[i].takes.clone();
        let mut need = actual;
        for (id, milli) in takes {
            let g = self.find(&id);
            let take = milli.min(need);
            g.h -= take;
            g.c += take;
            need -= take;
            if milli > take {
                Self::give(g, milli - take);
            }
        }
        self.overdrawn -= self.reservations[i].over;
        self.burn(need);
        self.pay_debt();
    }
}

struct Harness {
    gateway: Gateway,
    keys: Layout,
}

fn user() -> UserId {
    UserId::parse("w").unwrap()
}

async fn harness() -> Harness {
    let prefix = unique_prefix();
    let gateway = service_on_shared(&prefix).await;
    let doc = serde_json::from_value(json!({ "periodType": "lifetime", "groups": [
        { "id": "credits", "balance": "credits", "overdraft": OVERDRAFT as f64 / 1000.0, "matches": [ { "event": "*" } ] } ] }))
    .unwrap();
    let plan = Plan::from_doc("plan_wallet", doc).unwrap();
    gateway.accounts().put_plan("p", &plan, &Actor::root()).await.unwrap();
    gateway
        .accounts()
        .subscribe("p", &user(), &plan, None, None, ParentChange::Keep, &Actor::root())
        .await
        .unwrap();
    Harness {
        gateway,
        keys: Layout::new(&prefix),
    }
}

fn input(units: u64) -> EventInput {
    EventInput {
        user: user(),
        event: "render".into(),
        quantity: Milli(units * 1000),
        metadata: Default::default(),
        step: None,
        fit: Default::default(),
        fallback: None,
    }
}

/// Moves one grant's expiry into the past in its wallet, as time passing would.
fn expire_grant(keys: &Layout, id: &str) {
    let ctr = keys.user("p", "w").ctr().to_string();
    let raw: String = redis::shared().query(&["HGET", &ctr, "w|credits"]);
    // The wallet's text (lua/library/modules/wallet.lua): a first line, then a line per grant, its expiry the
    // fourth field.
    let lines: Vec<String> = raw
        .split('\n')
        .map(|line| {
            let mut fields: Vec<&str> = line.split('|').collect();
            if fields.len() == 17 && fields[0] == id {
                fields[3] = "1";
            }
            fields.join("|")
        })
        .collect();
    let _: i64 = redis::shared().query(&["HSET", &ctr, "w|credits", &lines.join("\n")]);
    // Its quick line (packed by cmsgpack) holds until the instant its first field names: made
    // 0, so the next reserve reads the wallet whole, as it would at the grant's expiry.
    let passed = "local key = KEYS[1]; local q = redis.call('HGET', key, 'w|credits|q'); \
        if q then local f = {cmsgpack.unpack(q)}; f[1] = 0; \
        redis.call('HSET', key, 'w|credits|q', cmsgpack.pack(unpack(f))) end; return 1";
    let _: i64 = redis::shared().query(&["EVAL", passed, "1", &ctr]);
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let h = harness().await;
    let mut model = Model::default();
    let now = chrono::Utc::now().timestamp_millis();
    let last = ops.len() - 1;
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Grant {
                units,
                priority,
                expiry,
                promotional,
            } => {
                let expires_ms = [None, Some(now + 3_600_000), Some(now + 7_200_000)][expiry as usize];
                let category = if promotional {
                    Category::Promotional
                } else {
                    Category::Paid
                };
                let input = GrantInput {
                    balance: "credits".into(),
                    amount: Milli(units * 1000),
                    priority,
                    category,
                    effective_ms: None,
                    expires_ms,
                    cost_basis: None,
                    source: None,
                    metadata: None,
                };
                let Granting::Made { grant, .. } = h
                    .gateway
                    .data()
                    .grant("p", &user(), &input, &Actor::root(), None)
                    .await
                    .unwrap()
                else {
                    prop_assert!(false, "a grant was refused");
                    unreachable!()
                };
                let key = (
                    priority,
                    expires_ms.unwrap_or(i64::MAX),
                    if promotional { 0 } else { 1 },
                    grant.effective_ms,
                    grant.id.clone(),
                );
                let at = model
                    .grants
                    .iter()
                    .position(|g| key < g.key)
                    .unwrap_or(model.grants.len());
                model.grants.insert(
                    at,
                    ModelGrant {
                        id: grant.id.clone(),
                        key,
                        r: units * 1000,
                        ..ModelGrant::default()
                    },
                );
                model.pay_debt();
            }
            Op::Reserve { units } => {
                let expected = model.reserve(units * 1000);
                let decision = h
                    .gateway
                    .data()
                    .reserve("p", &input(units), 60_000, None)
                    .await
                    .unwrap();
                prop_assert_eq!(decision.allowed, expected.is_some(), "reserve {} units", units);
                // Its answer says the balance after it, whether it decided on the quick path (with
                // the journal of the reserves since the wallet was last read) or on the wallet.
                let answered = decision.counters.iter().find_map(|c| c.credit.as_ref());
                prop_assert_eq!(
                    answered.map(|(_, c)| c.available.0 as i64),
                    Some(model.available().max(0)),
                    "the balance a reserve answers"
                );
                if let (Some(granted), Some((takes, over))) = (decision.granted, expected) {
                    model.reservations.push(ModelReservation {
                        id: granted.reservation_id.to_string(),
                        amount: units * 1000,
                        takes,
                        over,
                        state: State::Held,
                    });
                }
            }
            Op::Commit { pick, actual } => {
                if model.reservations.is_empty() {
                    continue;
                }
                let i = pick % model.reservations.len();
                let id = ReservationId::parse(&model.reservations[i].id).unwrap();
                let answer = h
                    .gateway
                    .data()
                    .commit(
                        "p",
                        &id,
                        quota_gateway::gateway::Commit {
                            quantity: actual.map(|a| Milli(a * 1000)),
                            key_id: "key_model",
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                let milli = actual.map_or(model.reservations[i].amount, |a| a * 1000);
                match (model.reservations[i].state, answer) {
                    (State::Held, Settlement::Settled(_)) => {
                        model.settle(i, milli);
                        model.reservations[i].state = State::Done;
                    }
                    (State::Expired, Settlement::Settled(_)) => {
                        // Late: its holds went back at expiry; it burns in burn order.
                        model.burn(milli);
                        model.reservations[i].state = State::Done;
                    }
                    (State::Done, _) => {}
                    (state, other) => prop_assert!(false, "commit of {:?} answered {:?}", state, other),
                }
            }
            Op::Release { pick } => {
                if model.reservations.is_empty() {
                    continue;
                }
                let i = pick % model.reservations.len();
                let id = ReservationId::parse(&model.reservations[i].id).unwrap();
                h.gateway.data().release("p", &id).await.unwrap();
                if model.reservations[i].state == State::Held {
                    model.give_back(i);
                }
                if model.reservations[i].state != State::Done {
                    model.reservations[i].state = State::Done;
                }
            }
            Op::Expire { pick } => {
                if model.reservations.is_empty() {
                    continue;
                }
                let i = pick % model.reservations.len();
                if model.reservations[i].state == State::Held {
                    crate::support::expire_at(&h.keys.user("p", "w"), &model.reservations[i].id, "1");
                    // The next writing call gives it back; the model gives it back now, so a
                    // call that writes (and reads the wallet whole) follows at once, before any
                    // other can pay debt from a grant in between.
                    h.gateway.data().balances("p", &user()).await.unwrap();
                    model.give_back(i);
                    model.reservations[i].state = State::Expired;
                }
            }
            Op::ExpireGrant { pick } => {
                let live: Vec<usize> = (0..model.grants.len())
                    .filter(|&i| !model.grants[i].expired && (model.grants[i].r > 0 || model.grants[i].h > 0))
                    .collect();
                if live.is_empty() {
                    continue;
                }
                let g = &mut model.grants[live[pick % live.len()]];
                expire_grant(&h.keys, &g.id);
                g.expired = true;
                g.e += g.r;
                g.r = 0;
            }
            Op::Void { pick } => {
                if model.grants.is_empty() {
                    continue;
                }
                let i = pick % model.grants.len();
                let id = model.grants[i].id.clone();
                h.gateway
                    .data()
                    .void_grant("p", &user(), &id, None, &Actor::root())
                    .await
                    .unwrap();
                let g = &mut model.grants[i];
                if (g.r > 0 || g.h > 0) && !g.void {
                    g.void = true;
                    g.v += g.r;
                    g.r = 0;
                }
            }
        }
        // Every third step and the last one read the wallet whole (which moves the quick path's
        // journal onto its grant and writes it); between them, reserves on the quick path leave
        // a journal for the next commit, release, grant, void or expiry to move.
        if step % 3 != 2 && step != last {
            continue;
        }
        let (_, balances) = h.gateway.data().balances("p", &user()).await.unwrap();
        let Some(balance) = balances.iter().find(|b| b.name == "credits") else {
            prop_assert!(model.grants.is_empty());
            continue;
        };
        let ids: Vec<&str> = balance.grants.iter().map(|g| g.id.as_str()).collect();
        let expected: Vec<&str> = model.grants.iter().map(|g| g.id.as_str()).collect();
        prop_assert_eq!(&ids, &expected, "burn order");
        for (got, want) in balance.grants.iter().zip(&model.grants) {
            let a = got.amounts;
            prop_assert_eq!(
                (a.remaining.0, a.held.0, a.consumed.0, a.expired.0, a.voided.0),
                (want.r, want.h, want.c, want.e, want.v),
                "grant {} at step {}",
                want.id,
                step
            );
            prop_assert_eq!(
                a.amount.0,
                a.remaining.0 + a.held.0 + a.consumed.0 + a.expired.0 + a.voided.0
            );
        }
        prop_assert_eq!(balance.credit.debt.0, model.debt, "debt");
        prop_assert_eq!(balance.credit.available.0 as i64, model.available().max(0), "available");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn wallets_agree_with_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}

/// A sequence the model once found, when an expired reservation went back only at the next
/// writing call, after a grant had paid debt the model paid from what went back.
#[test]
fn a_sequence_found_once_agrees() {
    let ops = vec![
        Op::Commit { pick: 0, actual: None },
        Op::Grant {
            units: 5,
            priority: 10,
            expiry: 0,
            promotional: false,
        },
        Op::Commit {
            pick: 1451751714,
            actual: None,
        },
        Op::Reserve { units: 2 },
        Op::Reserve { units: 2 },
        Op::Commit {
            pick: 2353164695129088448,
            actual: Some(7),
        },
        Op::Commit {
            pick: 5843073581824705103,
            actual: None,
        },
        Op::Reserve { units: 1 },
        Op::Grant {
            units: 5,
            priority: 50,
            expiry: 2,
            promotional: true,
        },
        Op::Reserve { units: 2 },
        Op::Commit {
            pick: 8381330790456936504,
            actual: Some(4),
        },
        Op::Reserve { units: 2 },
        Op::Reserve { units: 4 },
        Op::Reserve { units: 2 },
        Op::Release {
            pick: 10237394276302424889,
        },
        Op::Reserve { units: 2 },
        Op::Void {
            pick: 5107904215167922270,
        },
        Op::Reserve { units: 1 },
        Op::Commit {
            pick: 16617652301880233083,
            actual: None,
        },
        Op::Expire {
            pick: 2190500584266948400,
        },
        Op::Release {
            pick: 13391340979822911980,
        },
        Op::Expire {
            pick: 14249971868450114407,
        },
        Op::Reserve { units: 3 },
        Op::Commit {
            pick: 4153631351851461188,
            actual: Some(1),
        },
        Op::Expire {
            pick: 17523420829246347938,
        },
        Op::Grant {
            units: 5,
            priority: 50,
            expiry: 0,
            promotional: false,
        },
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(ops)).unwrap();
}
