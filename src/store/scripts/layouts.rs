//! Every value the node and the library pack by position, declared once, by name: a hold's
//! arguments and options, the parts of the answers, the wallet's lines, a balance's quick
//! line, a run's field. The node reads and writes them through the indices declared here; the
//! library's text opens with the same declarations as Lua tables (`lua()`: `QUICK.av` is where
//! the quick line keeps what is available, `QUICK_FIELDS` how many values it has), so a field
//! added, removed or moved here moves on both sides, and neither reads another's by a number.
//! That text is `lua/layouts.lua`, kept in the repository so that every tool that joins the
//! library's files (scripts/script-costs, for one) joins the same text: a test writes it anew
//! from these declarations and fails when it was not as they say.
//!
//! Each layout is a Rust module of indices (from 0) and a Lua table of positions (from 1) under
//! the name given, its fields under their Lua names (the keys the Lua's own tables use for the
//! same values, short since they are written on every call).

/// One layout as the library's text declares it. (Only the test that writes lua/layouts.lua
/// reads these: the node loads that file.)
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Packed {
    /// Its Lua table's name; its count of fields is `<name>_FIELDS`.
    pub lua: &'static str,
    /// Its fields' Lua names, in order.
    pub fields: &'static [&'static str],
}

macro_rules! packed {
    ($(
        $(#[$doc:meta])*
        $module:ident as $lua:literal {
            $( $(#[$field_doc:meta])* $field:ident = $key:literal ),+ $(,)?
        }
    )+) => {
        $(
            $(#[$doc])*
            pub(crate) mod $module {
                #[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
                #[repr(usize)]
                enum At { $($field),+ }
                $( $(#[$field_doc])* #[allow(dead_code)] pub(crate) const $field: usize = At::$field as usize; )+
                /// How many values it has.
                #[allow(dead_code)]
                pub(crate) const FIELDS: usize = [$($key),+].len();
                #[cfg(test)]
                pub(crate) const PACKED: super::Packed = super::Packed { lua: $lua, fields: &[$($key),+] };
            }
        )+
        /// Every layout, in the order the library declares them.
        #[cfg(test)]
        pub(crate) const ALL: &[Packed] = &[$($module::PACKED),+];
    };
}

packed! {
    /// One hold as the node passes it to reserve, check, track, adjust and balances
    /// (lua/library/modules/holds.lua), a run of arguments per hold.
    hold as "HOLD" {
        GROUP = "g",
        /// Its counter's field: "<group>@<period start>", a per-value group's
        /// "<group>~<value>@<period start>".
        FIELD = "f",
        PERIOD_START = "ps",
        /// "" for a lifetime.
        PERIOD_END = "pe",
        AMOUNT = "a",
        QUOTA = "q",
        /// Its `option` fields joined by "|", or "" when every one is the default.
        OPTIONS = "o",
    }

    /// A hold's options, "|"-separated in its last argument (holds.lua says each).
    option as "OPTION" {
        MODE = "m",
        UNIT = "k",
        THRESHOLDS = "t",
        OVERRIDE = "o",
        OVERRIDE_EXPIRES = "oe",
        PER_VALUE = "pv",
        /// Last, since it is JSON and may hold a "|".
        MEASURE = "me",
    }

    /// The head of a reserve's answer that admitted or denied (reserve.lua), its holds'
    /// verdicts after it.
    reserved as "RESERVED" {
        STATUS = "status",
        ID = "id",
        EXPIRES = "expires",
        ALLOWED = "allowed",
    }

    /// The head of the answer of a reserve of several alternatives (reserve.lua,
    /// alternatives.lua): RESERVED's, then how many alternatives it weighed (the held one's
    /// place, or all of them), their holds' verdicts after it.
    first as "FIRST" {
        STATUS = "status",
        ID = "id",
        EXPIRES = "expires",
        ALLOWED = "allowed",
        TRIED = "tried",
    }

    /// The head of check's answer (check.lua), its holds' verdicts after it.
    checked as "CHECKED" {
        STATUS = "status",
        ALLOWED = "allowed",
    }

    /// The head of usage's answer (usage.lua), each field's counter after it, then the
    /// balances of its balance groups.
    usage as "USAGE" {
        STATUS = "status",
        /// Redis time, ms.
        NOW = "now",
    }

    /// The head of adjust's answer (adjust.lua), its hold's counter and the alerts after it.
    adjusted as "ADJUSTED" {
        STATUS = "status",
        /// The signed change applied, in milli-units (never below zero).
        APPLIED = "applied",
    }

    /// The head of commit's answer (commit.lua), its holds' counters, the alerts and the
    /// balances after it.
    committed as "COMMITTED" {
        STATUS = "status",
        /// 1 when it came after the holds had expired.
        LATE = "late",
        /// The record as it ended (JSON).
        RECORD = "record",
    }

    /// The head of release's answer (release.lua), its holds' counters and the balances after
    /// it.
    released as "RELEASED" {
        STATUS = "status",
        /// "released", or "expired" when its holds had expired first.
        STATE = "state",
        /// The record as it ended (JSON).
        RECORD = "record",
    }

    /// extend's answer (extend.lua).
    extended as "EXTENDED" {
        STATUS = "status",
        EXPIRES = "expires",
        /// The reservation's next level up, "" for none.
        PARENT = "parent",
    }

    /// The head of grant's answer (grant.lua): then the grant's AMOUNTS, the debt it paid,
    /// and the alerts.
    granted as "GRANTED" {
        STATUS = "status",
        ID = "id",
    }

    /// The head of void_grant's answer (void_grant.lua): then the grant's AMOUNTS and the
    /// alerts.
    voided as "VOIDED" {
        STATUS = "status",
        BALANCE = "balance",
    }

    /// One take's arguments to take_slice (take_slice.lua), after its holds: the lease to
    /// take, and the last statement of the slice its member closed of the same group, which
    /// the take applies first (its fields "" when the member closed none).
    take as "TAKE" {
        /// The lease's id (the member's intent named it).
        LEASE = "ls",
        /// The least worth leasing (the call that asked), milli-units.
        LEAST = "least",
        /// The headroom the take must leave, milli-units.
        THRESHOLD = "th",
        /// The closed slice's lease, its statement's number, and what it used and still
        /// holds, milli-units (as settle_slice takes a statement).
        CLOSED = "cl",
        NUMBER = "n",
        USED = "u",
        HELD = "h",
    }

    /// One short slice's part of a reserve's short answer (slices.lua's S.short), after
    /// "short" and their count.
    short as "SHORT" {
        /// The hold's index among the reserve's, from 1.
        HOLD = "i",
        /// The lease to take for it, and the intent to take it the reserve wrote.
        LEASE = "ls",
        INTENT = "intent",
        /// What the last slice closed used and held, milli-units, when it was to end and when
        /// it was placed, ms: the demand that sizes the next, and the time it served it in (0,
        /// 0 and 0 for none; its placing 0 when unknown, as for one an earlier build placed).
        DEMAND = "d",
        ENDS = "x",
        BEGAN = "b",
        /// The statement closing the slice wrote, when this call closed one: its outbox
        /// entry, its lease, number, and what it used and holds ("", "", 0, 0, 0 for none).
        /// The take applies it, and the reserve that places the new lease removes the entry.
        STATED = "st",
        CLOSED = "cl",
        NUMBER = "n",
        USED = "u",
        HELD = "h",
    }

    /// take_slice's answer (take_slice.lua): the lease a parent's level leased to a member.
    taken as "TAKEN" {
        STATUS = "status",
        /// The lease's id, as the take named it.
        ID = "id",
        /// What it leased, milli-units: between the least asked and the amount asked.
        AMOUNT = "amount",
        /// Ms after which no new hold goes on its slice (the take's own, or the first take's
        /// under this id).
        ENDS = "ends",
        /// The group's counter at the parent's level after the take: used, held (leases
        /// included) and the quota in force, milli-units; what a decision on the slice shows
        /// of the parent's group.
        USED = "used",
        HELD = "held",
        QUOTA = "quota",
    }

    /// One statement's part of settle_slice's answer (settle_slice.lua), after its "ok".
    settled as "SETTLED" {
        /// 1 when the statement changed the lease, 0 when a later one had already.
        APPLIED = "applied",
        /// What the lease still holds at the parent, milli-units, after the statement.
        LEASED = "leased",
    }

    /// The head of leases' answer (leases.lua): then a `lease` per open lease.
    leases as "LEASES" {
        STATUS = "status",
        /// Redis time, ms.
        NOW = "now",
        /// The open set's rank to read from next, 0 when none is left.
        NEXT = "next",
    }

    /// One open lease of a team's level, as leases.lua answers it.
    lease as "LEASE" {
        ID = "id",
        MEMBER = "member",
        /// The team's counter field it leases from, "<group>@<period start>".
        FIELD = "field",
        /// Its period's end, ms ("" for a lifetime).
        PERIOD_END = "period_end",
        /// Ms after which its slice takes no new hold.
        ENDS = "ends",
        /// What statements have counted as used, and what it still leases, milli-units.
        USED = "used",
        LEASED = "leased",
    }

    /// The head of balances' answer (balances.lua): then per balance its name, its wallet's
    /// text and its BALANCE, then the grants hash's fields asked for, field and value.
    balances as "BALANCES" {
        STATUS = "status",
        NOW = "now",
        /// How many balances follow.
        COUNT = "count",
    }

    /// A grant's amounts in milli-units, as grant's and void_grant's answers give them and as
    /// a finished grant's field "n|<id>" keeps them, "|"-separated (wallet.lua).
    grant_amounts as "AMOUNTS" {
        AMOUNT = "a",
        REMAINING = "r",
        HELD = "h",
        CONSUMED = "c",
        EXPIRED = "e",
        VOIDED = "v",
    }

    /// One hold's part of a decision (reserve's and check's answers; holds.lua's weigh).
    verdict as "VERDICT" {
        USED = "used",
        HELD = "held",
        QUOTA = "quota",
        /// 0, 1, or the code of how it was denied or clamped (holds.lua's weigh).
        DENIED = "denied",
    }

    /// One hold's part of an answer of counters (counters.lua).
    counter as "COUNTER" {
        USED = "used",
        HELD = "held",
        QUOTA = "quota",
    }

    /// A balance's part of an answer (wallet.lua's C.state, or a quick line's).
    balance as "BALANCE" {
        AVAILABLE = "available",
        HELD = "held",
        DEBT = "debt",
        /// What the grants that expire first have remaining.
        SOONEST_AMOUNT = "soonest",
        /// When they expire, "" for never.
        SOONEST_AT = "soonest_at",
    }

    /// A step's answer of its run (runs.lua's R.answer, reserve.lua), before what its run has
    /// left of each hold's group.
    step as "STEP" {
        /// Its whole-step denial, 0 for none.
        CODE = "code",
        STEPS = "n",
        FALLBACKS = "f",
    }

    /// A wallet's first line (wallet.lua), its fields "|"-separated, then "|q" (the mark that
    /// it has a quick line, which builds before the quick path refuse).
    wallet as "WALLET" {
        DEBT = "d",
        OVERDRAWN = "oh",
        THRESHOLDS = "t",
        ALERT_GROUP = "ag",
        /// The low-balance amounts that fired and were not re-armed.
        FIRED = "lf",
        /// Debt paid, waiting for the ledger.
        DEBT_PAID = "dq",
    }

    /// A wallet's line of one grant (wallet.lua's C.encode), its fields "|"-separated.
    grant as "GRANT" {
        ID = "i",
        BURN_KEY = "k",
        EFFECTIVE = "f",
        /// "" for never.
        EXPIRES = "x",
        GRANTED = "a",
        REMAINING = "r",
        HELD = "h",
        CONSUMED = "c",
        EXPIRED = "e",
        VOIDED = "v",
        CATEGORY = "cat",
        COST_BASIS = "cb",
        /// What of its expiry the ledger has already.
        EXPIRED_LOGGED = "el",
        /// What of its void the ledger has already.
        VOIDED_LOGGED = "vl",
        /// "1" when it was voided, "" while it is not.
        VOIDED_MARK = "vd",
        /// An allowance's own amount (its quota in force when it opened).
        OWN_AMOUNT = "oa",
        /// What an allowance had left at its period's end, for the rollover.
        LEFT = "l",
    }

    /// A balance's quick line (wallet.lua's header), packed with cmsgpack.
    quick as "QUICK" {
        /// The instant it holds until ("" never, 0 already passed), in ms.
        UNTIL = "nx",
        AVAILABLE = "av",
        OVERDRAWN = "oh",
        HELD = "held",
        DEBT = "d",
        SOONEST_AT = "sa",
        SOONEST_AMOUNT = "ss",
        /// Whether the head's expiry is the soonest.
        HEAD_SOONEST = "soon",
        THRESHOLDS = "t",
        ALERT_GROUP = "ag",
        /// The highest amount a fall would fire (-2 when the wallet has none, -1 when all fired).
        ARMED = "armed",
        /// The first usable grant in burn order ("" for none) and what it has remaining.
        HEAD = "id",
        HEAD_REMAINING = "hr",
        /// The allowances open, "\n<id>=<milli>" each, then "\n".
        OPENED = "opened",
    }

    /// A member's slice of an ancestor's group, the field "^<ancestor>^<group>@<period start>"
    /// of its counters hash (slices.lua), "|"-separated.
    slice as "SLICE" {
        /// What its lease leased, milli-units.
        AMOUNT = "q",
        /// Ms after which no new hold goes on it.
        ENDS = "x",
        /// The ancestor's subscription version it was leased under.
        VERSION = "v",
        /// Its lease's id (take_slice.lua).
        LEASE = "l",
        /// Statements written of it so far.
        STATEMENTS = "n",
        /// The ancestor's counter when it was leased: used, held and quota in force
        /// (take_slice's answer), which a decision on the slice shows of the ancestor's group.
        ANCESTOR_USED = "pu",
        ANCESTOR_HELD = "ph",
        ANCESTOR_QUOTA = "pq",
    }

    /// A run's limits as its record keeps them ("L", runs.lua), "|"-separated, each "" for none.
    limits as "LIMITS" {
        STEPS = "steps",
        ATTEMPTS_PER_ACTION = "attempts",
        FALLBACKS = "fallbacks",
        /// In millionths of each group's budget.
        FALLBACK_SHARE = "share",
        /// What the attempts after the first of one of its actions may hold and spend together,
        /// in milli-units of each group it holds (runs.lua keeps it apart, "r|<run>|$").
        MAX_FALLBACK_SPEND = "spend",
    }

    /// A reserve's attempt after the first of one original action (fallbacks.lua), as reserve
    /// takes it, "|"-separated.
    fallback as "FALLBACK" {
        /// The original action: "<run>~<action>" for a run's, else the call's own id.
        CHAIN = "chain",
        /// "<group>=<milli>,..." the caps of its matched groups' `maxFallbackSpend` ("" for
        /// none); last, since it holds the separators of its own.
        CAPS = "caps",
    }

    /// The run a step of a run belongs to, as reserve and track take it (runs.lua),
    /// "|"-separated: its id, its action's id ("" for none) and its kind ("primary", "retry" or
    /// "fallback").
    run_step as "RUN_STEP" {
        RUN = "run",
        ACTION = "action",
        KIND = "kind",
    }

    /// A run's first field, "r|<run>" (runs.lua), packed with cmsgpack: these, then a
    /// `run_group` for each group it holds.
    run as "RUN" {
        STEPS = "n",
        FALLBACKS = "f",
        /// Its four limits, -1 for none.
        LIMIT_STEPS = "ls",
        LIMIT_ATTEMPTS = "la",
        LIMIT_FALLBACKS = "lf",
        LIMIT_FALLBACK_SHARE = "lfs",
        /// 1 for a run of its own, one more per parent run.
        DEPTH = "depth",
    }

    /// One group of a run's first field: its id, then milli-units.
    run_group as "RUN_GROUP" {
        GROUP = "g",
        BUDGET = "b",
        /// What its steps committed or tracked.
        USED = "u",
        /// What its open steps hold.
        OPEN = "o",
        /// What its fallback steps hold or spent.
        FALLBACK = "fu",
    }
}

#[cfg(test)]
/// Lua's pattern for `n` "|"-separated fields that capture `field` each, the last `last`.
fn fields_pattern(n: usize, field: &str, last: &str) -> String {
    let mut parts = vec![field; n.saturating_sub(1)];
    parts.push(last);
    parts.join("|")
}

/// The library's declarations of every layout (`lua/layouts.lua`), first in its text: a table of positions each
/// (`local QUICK = {nx = 1, ...}`) with its count (`local QUICK_FIELDS = 14`); the patterns
/// that read the "|"-separated ones, capturing a field each; the reservation records'
/// encoding; where each key is in a function's KEYS (`keys::lua`); and how far the outbox grows
/// (`entries::lua`). Constants, so a call
/// reads them as it reads any of the library's locals.
#[cfg(test)]
pub(crate) fn lua() -> String {
    let mut out = String::from(
        "-- layouts.lua: written from src/store/scripts/layouts.rs, which declares each of them (edit \
         them\n-- there; its test writes this file anew): every value packed by position, its fields \
         by name\n-- at their positions, where each key is (keys.rs) and how far the outbox grows (entries.rs).\n-- The library's first part.\n",
    );
    for p in ALL {
        let fields: Vec<String> = p
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{f} = {}", i + 1))
            .collect();
        out.push_str(&format!(
            "local {lua} = {{{}}}\nlocal {lua}_FIELDS = {}\n",
            fields.join(", "),
            p.fields.len(),
            lua = p.lua
        ));
    }
    // An option's fields, the measure (JSON) last: it may hold a "|".
    let options = fields_pattern(option::FIELDS, "([^|]*)", "(.*)");
    // A wallet's first line (its text's start), then where it ends; a grant's line, from the
    // "\n" before it, then where the next starts.
    let wallet = fields_pattern(wallet::FIELDS, "([^|\\n]*)", "([^|\\n]*)");
    let grant = fields_pattern(grant::FIELDS, "([^|\\n]*)", "([^|\\n]*)");
    let limits = fields_pattern(limits::FIELDS, "([^|]*)", "([^|]*)");
    let fallback = fields_pattern(fallback::FIELDS, "([^|]*)", "(.*)");
    // (Its captures are taken into locals, in its order: ids and kinds hold no "|".)
    let run_step = fields_pattern(run_step::FIELDS, "([^|]*)", "(.*)");
    let slice = fields_pattern(slice::FIELDS, "([^|]*)", "([^|]*)");
    // A slice line's head, up to the last field a decision on it reads (holds.lua's weigh): a
    // match costs a Redis function per capture, and the node reads the rest from the line.
    let head = [slice::AMOUNT, slice::ENDS, slice::VERSION, slice::LEASE]
        .into_iter()
        .max()
        .unwrap_or(0);
    let slice_head = "([^|]*)|".repeat(head + 1);
    // What follows the mode in the options of a hold that has no other: read without a match.
    let mode_only = "|".repeat(option::FIELDS - 1);
    out.push_str(&format!(
        "local OPTION_LINE = '^{options}$'\nlocal OPTION_MODE_ONLY = '{mode_only}'\nlocal WALLET_LINE = '^{wallet}()'\n\
         local GRANT_LINE = '^\\n{grant}()'\nlocal LIMITS_LINE = '^{limits}$'\nlocal RUN_STEP_LINE = '^{run_step}$'\n\
         local FALLBACK_LINE = '^{fallback}$'\n\
         local SLICE_LINE = '^{slice}$'\nlocal SLICE_HEAD = '^{slice_head}'\n"
    ));
    out.push_str(&format!(
        "-- The encoding of the reservation records this build writes (prelude.lua).\nlocal RECORD_VERSION = '{}'\n",
        super::contract::RECORD_VERSION
    ));
    out.push_str(&super::alternatives::lua());
    out.push_str(&super::keys::lua());
    out.push_str(&super::args::lua());
    out.push_str(&super::entries::lua());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_declarations() {
        assert_eq!(hold::FIELDS, 7);
        assert_eq!(hold::OPTIONS, 6);
        assert_eq!(quick::OPENED, quick::FIELDS - 1);
        let text = lua();
        assert!(
            text.contains("local VERDICT = {used = 1, held = 2, quota = 3, denied = 4}\nlocal VERDICT_FIELDS = 4\n")
        );
        assert!(text.contains(&format!("local GRANT_FIELDS = {}\n", grant::FIELDS)));
        // holds.lua's weigh takes SLICE_HEAD's captures into locals, in this order.
        assert_eq!([slice::AMOUNT, slice::ENDS, slice::VERSION, slice::LEASE], [0, 1, 2, 3]);
        // A reserve of alternatives answers FIRST, which opens as RESERVED does.
        assert_eq!(
            [first::STATUS, first::ID, first::EXPIRES, first::ALLOWED],
            [reserved::STATUS, reserved::ID, reserved::EXPIRES, reserved::ALLOWED]
        );
        // runs.lua takes RUN_STEP_LINE's captures into locals, in this order.
        assert_eq!([run_step::RUN, run_step::ACTION, run_step::KIND], [0, 1, 2]);
    }

    /// lua/layouts.lua is what these declarations say; when it is not, it is written anew (and
    /// the test fails, so the change is seen and committed).
    #[test]
    fn the_lua_file_is_written_from_the_declarations() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/lua/layouts.lua");
        let want = lua();
        if std::fs::read_to_string(path).ok().as_deref() != Some(want.as_str()) {
            std::fs::write(path, &want).expect("write lua/layouts.lua");
            panic!("lua/layouts.lua was not as src/store/scripts/layouts.rs declares: written anew, commit it");
        }
    }

    #[test]
    fn answers_open_with_their_tag() {
        // Fields::head puts the tag an answer was already read by first.
        for status in [
            reserved::STATUS,
            first::STATUS,
            checked::STATUS,
            usage::STATUS,
            adjusted::STATUS,
            committed::STATUS,
            released::STATUS,
            extended::STATUS,
            granted::STATUS,
            voided::STATUS,
            balances::STATUS,
            taken::STATUS,
        ] {
            assert_eq!(status, 0);
        }
    }

    #[test]
    fn names_are_unique_within_a_layout_and_across_layouts() {
        let mut tables = std::collections::HashSet::new();
        for p in ALL {
            assert!(tables.insert(p.lua), "{} twice", p.lua);
            let mut names = std::collections::HashSet::new();
            for f in p.fields {
                assert!(names.insert(f), "{}.{f} twice", p.lua);
                // Lua names, written bare as a table's keys.
                assert!(f.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}.{f}", p.lua);
            }
        }
    }
}
