//! The arguments the data plane's functions take, by name and in order, declared once, as
//! `keys.rs` declares their keys: the library's text opens with a table of where each is in a
//! call's ARGV (`c.ARGV[ARG.RESERVE.id]`, written into lua/layouts.lua from `lua()`), so no
//! Lua names an argument by its number. A function's leading arguments are at fixed places
//! (`ARG.<FUNCTION>`, every writing function's first four `ARG.WRITING`); what follows a
//! counted run of items is read from where that run ends (`ARG.<TAIL>`: a place after a
//! base), and reserve's last few from the end (`ARG.RESERVE_END`: how far before the last).
//! One table of them all: a library's chunk holds at most 200 locals, and it has few to spare. The contract
//! (`contract.rs`) counts each function's leading arguments from these lists, and a test holds
//! every function's header to them.

/// One list of arguments as the library's text declares it: its Lua table's name, the place
/// of its first name (places count from 1, as Lua's do; a tail's from its base, reserve's end
/// back from its last), and its names in order.
#[derive(Debug)]
pub(crate) struct Arguments {
    #[cfg_attr(not(test), allow(dead_code))]
    pub lua: &'static str,
    pub first: usize,
    pub names: &'static [&'static str],
}

impl Arguments {
    /// The place of its last name: how many arguments a function's leading list takes.
    pub(crate) const fn end(&self) -> usize {
        self.first + self.names.len() - 1
    }
}

const fn leading(lua: &'static str, first: usize, names: &'static [&'static str]) -> Arguments {
    Arguments { lua, first, names }
}

/// Every writing function's first four (prelude.lua): how long ended state is kept, the call's
/// Idempotency-Key field and its body's digest, how long the ledger and rollups keep.
pub(crate) const WRITING: Arguments = leading("WRITING", 1, &["retention", "idempotency", "digest", "keep"]);
/// After them, each writing function's own; the read-only functions' from the first.
pub(crate) const RESERVE: Arguments = leading("RESERVE", 5, &["version", "id", "ttl", "holds"]);
pub(crate) const CHECK: Arguments = leading("CHECK", 1, &["version", "holds"]);
pub(crate) const TRACK: Arguments = leading("TRACK", 5, &["version", "holds"]);
pub(crate) const ADJUST: Arguments = leading(
    "ADJUST",
    5,
    &[
        "version",
        "g",
        "f",
        "ps",
        "pe",
        "a",
        "q",
        "o",
        "amount",
        "reason",
        "audit_keep",
        "key",
    ],
);
pub(crate) const COMMIT: Arguments = leading("COMMIT", 5, &["id", "holds"]);
pub(crate) const SET_OUTCOME: Arguments = leading("SET_OUTCOME", 5, &["id", "outcome", "key", "member"]);
pub(crate) const RELEASE: Arguments = leading("RELEASE", 5, &["id", "metadata"]);
pub(crate) const EXTEND: Arguments = leading("EXTEND", 5, &["id", "ttl", "lifetime"]);
pub(crate) const USAGE: Arguments = leading("USAGE", 1, &["groups"]);
pub(crate) const TAKE_SLICE: Arguments = leading(
    "TAKE_SLICE",
    5,
    &["version", "member", "cutoff", "backstop", "latest", "holds"],
);
pub(crate) const SETTLE_SLICE: Arguments = leading("SETTLE_SLICE", 5, &["member", "statements"]);
pub(crate) const END_SLICE: Arguments = leading("END_SLICE", 5, &["entry", "field", "lease", "period_end", "close"]);
pub(crate) const LEASES: Arguments = leading("LEASES", 1, &["rank", "count"]);
pub(crate) const APPEND_LEDGER: Arguments = leading("APPEND_LEDGER", 5, &["notes"]);
pub(crate) const GRANT: Arguments = leading(
    "GRANT",
    5,
    &[
        "id",
        "balance",
        "amount",
        "burn",
        "effective",
        "expires",
        "record",
        "live",
        "kept",
    ],
);
pub(crate) const VOID_GRANT: Arguments = leading("VOID_GRANT", 5, &["id"]);
pub(crate) const BALANCES: Arguments = leading("BALANCES", 5, &["balances"]);

/// Reserve's last arguments, by how far before the last each is (the last, its decision
/// instant, is `ARGV[#ARGV]`, as every deciding function's).
pub(crate) const RESERVE_END: Arguments = leading("RESERVE_END", 1, &["start", "step", "fallback"]);
/// What follows a run of items, from the place before it: track's, after its holds.
pub(crate) const TRACK_TAIL: Arguments = leading(
    "TRACK_TAIL",
    1,
    &[
        "event",
        "metadata",
        "quantity",
        "key",
        "member",
        "reference",
        "run",
        "outcome",
    ],
);
/// Commit's, after its actual amounts (none when it commits what was reserved).
pub(crate) const COMMIT_TAIL: Arguments = leading(
    "COMMIT_TAIL",
    1,
    &["metadata", "quantity", "key", "member", "late", "outcome"],
);
/// One alternative of a reserve: how many of the holds are its own, and its record.
pub(crate) const ALTERNATIVE: Arguments = leading("ALTERNATIVE", 1, &["holds", "record"]);
/// One group of usage: its counter field, plan quota, balance, period end and rollover max.
pub(crate) const USAGE_GROUP: Arguments = leading("USAGE_GROUP", 1, &["f", "q", "b", "pe", "ro"]);
/// One statement of settle_slice: its lease, number, and what the slice used and holds.
pub(crate) const STATEMENT: Arguments = leading("STATEMENT", 1, &["lease", "number", "used", "held"]);
/// One note of append_ledger: the field that keeps it appended once (its outbox and id), and
/// the entry's fields and values as a JSON list.
pub(crate) const NOTE: Arguments = leading("NOTE", 1, &["once", "fields"]);

/// Every list, in the order the library declares them.
#[cfg(test)]
pub(crate) const ALL: &[&Arguments] = &[
    &WRITING,
    &RESERVE,
    &CHECK,
    &TRACK,
    &ADJUST,
    &COMMIT,
    &SET_OUTCOME,
    &RELEASE,
    &EXTEND,
    &USAGE,
    &TAKE_SLICE,
    &SETTLE_SLICE,
    &END_SLICE,
    &LEASES,
    &APPEND_LEDGER,
    &GRANT,
    &VOID_GRANT,
    &BALANCES,
    &RESERVE_END,
    &TRACK_TAIL,
    &COMMIT_TAIL,
    &ALTERNATIVE,
    &USAGE_GROUP,
    &STATEMENT,
    &NOTE,
];

/// The library's declarations of where each argument is (a part of lua/layouts.lua): one
/// table, `ARG`, of a table per list.
#[cfg(test)]
pub(crate) fn lua() -> String {
    let mut out = String::from(
        "-- Where each argument is in a data-plane function's ARGV (src/store/scripts/args.rs): a\n\
         -- function's leading ones (ARG.<FUNCTION>), what follows a run of items from the place\n\
         -- before it (ARG.TRACK_TAIL, ...), and reserve's last ones counted back from the last.\n\
         local ARG = {\n",
    );
    for list in ALL {
        let places: Vec<String> = list
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name} = {}", list.first + i))
            .collect();
        out.push_str(&format!("  {} = {{{}}},\n", list.lua, places.join(", ")));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writing_functions_own_arguments_follow_the_four_every_one_takes() {
        assert_eq!(WRITING.end(), super::super::contract::WRITING_ARGS);
        for list in [&RESERVE, &TRACK, &ADJUST, &COMMIT, &RELEASE, &GRANT, &BALANCES] {
            assert_eq!(list.first, WRITING.end() + 1, "{}", list.lua);
        }
        // An adjustment's hold is one hold's values, in their order.
        let hold = &ADJUST.names[1..=super::super::contract::HOLD_FIELDS];
        assert_eq!(hold, super::super::layouts::hold::PACKED.fields);
        assert!(lua().contains("  RESERVE = {version = 5, id = 6, ttl = 7, holds = 8},\n"));
        assert!(lua().contains("  RESERVE_END = {start = 1, step = 2, fallback = 3},\n"));
    }

    /// Every `ARG.<LIST>.name` the library reads is one declared here: a name misspelled would
    /// read nil.
    #[test]
    fn the_library_reads_its_arguments_by_the_declared_names_only() {
        let mut uses = 0;
        for path in super::super::lua_files() {
            let file = path.display().to_string();
            if !file.contains("/lua/library/") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                let code = line.split("--").next().unwrap_or_default();
                for list in ALL {
                    let dotted = format!("ARG.{}.", list.lua);
                    for (at, _) in code.match_indices(&dotted) {
                        if code[..at].ends_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_') {
                            continue;
                        }
                        let name: String = code[at + dotted.len()..]
                            .chars()
                            .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                            .collect();
                        assert!(
                            list.names.contains(&name.as_str()),
                            "{file}: {dotted}{name} is not declared"
                        );
                        uses += 1;
                    }
                }
            }
        }
        assert!(uses > 100, "the library names its arguments: {uses} found");
    }
}
