//! The entries of a slot's outbox, declared once: for each type an entry is written as, its
//! fields in the order written. The library writes every entry through outbox.lua's `outbox`,
//! which takes the fields of its type from these declarations (written into lua/layouts.lua
//! from `lua()`, with the one `MAXLEN`); the node reads them by the same names
//! (store/outbox.rs), and refuses an entry without a field its type declares, or whose number
//! does not parse, rather than reading it as 0. (decide_approval.lua, run with EVALSHA, writes
//! its entry itself; a test holds it to its declaration.)

/// About how many entries a slot's outbox keeps (XADD's `MAXLEN ~`): one that no node drains
/// cannot grow without bound. (Only the Lua uses it: `lua()` writes it there.)
#[cfg(test)]
pub(crate) const MAXLEN: u64 = 100_000;

/// Every field an entry may have, by its name in the stream.
pub(crate) mod field {
    /// The user's (or member's) hash tag, `<project>:<user>`, escaped.
    pub(crate) const TAG: &str = "tag";
    /// The subscription's plan, "" on the default plan.
    pub(crate) const PLAN: &str = "plan";
    /// What the entry is: one of the types declared below.
    pub(crate) const TYPE: &str = "type";
    pub(crate) const GROUP: &str = "g";
    /// The group's unit code ("" for count).
    pub(crate) const UNIT: &str = "k";
    /// A threshold's percent, a balance alert's amount reached ("" for a limit).
    pub(crate) const THRESHOLD: &str = "t";
    /// The quota in force, milli-units.
    pub(crate) const QUOTA: &str = "q";
    /// Used (open holds for in-flight groups) when it fired, milli-units; a statement's number.
    pub(crate) const LEVEL: &str = "n";
    /// What open reservations held; a statement's held.
    pub(crate) const HELD: &str = "h";
    pub(crate) const PERIOD_START: &str = "ps";
    /// "" for a lifetime.
    pub(crate) const PERIOD_END: &str = "pe";
    /// A per-value group's value, escaped as in its counter's field ("" for others).
    pub(crate) const VALUE: &str = "v";
    /// A balance alert's balance.
    pub(crate) const BALANCE: &str = "b";
    /// An approval request's id.
    pub(crate) const APPROVAL: &str = "ap";
    /// The event an approval request's denial was for.
    pub(crate) const EVENT: &str = "e";
    /// The amount an approval request's denial asked, milli-units.
    pub(crate) const AMOUNT: &str = "a";
    /// A decided approval's state: "a" approved, "d" declined.
    pub(crate) const STATE: &str = "st";
    /// A decided approval's override expiry, ms ("" for none).
    pub(crate) const EXPIRES: &str = "x";
    pub(crate) const REASON: &str = "r";
    pub(crate) const BY: &str = "by";
    /// The ancestor (base64url) whose lease a leases' note is about.
    pub(crate) const ANCESTOR: &str = "p";
    pub(crate) const LEASE: &str = "ls";
    /// A statement's used, milli-units.
    pub(crate) const USED: &str = "u";
    /// A placed slice's field.
    pub(crate) const FIELD: &str = "f";
    /// A ledger note's entry: its fields and values, as JSON.
    pub(crate) const ENTRY: &str = "entry";
}

use field::*;

/// One kind of entry: the types it is written as, and its fields in the order written.
#[derive(Debug)]
pub(crate) struct Entry {
    pub types: &'static [&'static str],
    pub fields: &'static [&'static str],
}

impl Entry {
    /// Whether its type declares `field`.
    pub(crate) fn has(&self, field: &str) -> bool {
        self.fields.contains(&field)
    }
}

/// A counter's alert (alerts.lua's fire).
pub(crate) const ALERT: Entry = Entry {
    types: &["threshold", "limit"],
    fields: &[
        TAG,
        PLAN,
        TYPE,
        GROUP,
        UNIT,
        THRESHOLD,
        QUOTA,
        LEVEL,
        PERIOD_START,
        PERIOD_END,
        VALUE,
    ],
};

/// An approval request's opening (approvals.lua).
pub(crate) const APPROVAL_REQUEST: Entry = Entry {
    types: &["approval"],
    fields: &[
        TAG,
        PLAN,
        TYPE,
        GROUP,
        UNIT,
        THRESHOLD,
        QUOTA,
        LEVEL,
        HELD,
        PERIOD_START,
        PERIOD_END,
        APPROVAL,
        EVENT,
        AMOUNT,
        VALUE,
    ],
};

/// A balance's low-balance alert (wallet.lua's fire).
pub(crate) const BALANCE_ALERT: Entry = Entry {
    types: &["low_balance", "depleted"],
    fields: &[
        TAG,
        PLAN,
        TYPE,
        GROUP,
        UNIT,
        THRESHOLD,
        QUOTA,
        LEVEL,
        PERIOD_START,
        PERIOD_END,
        BALANCE,
    ],
};

/// An approval request's decision (lua/scripts/decide_approval.lua).
pub(crate) const APPROVAL_DECISION: Entry = Entry {
    types: &["approval_decided"],
    fields: &[
        TAG,
        PLAN,
        TYPE,
        GROUP,
        UNIT,
        THRESHOLD,
        QUOTA,
        LEVEL,
        PERIOD_START,
        PERIOD_END,
        APPROVAL,
        STATE,
        EXPIRES,
        REASON,
        BY,
        VALUE,
    ],
};

/// A statement of a member's slice for its ancestor's lease (slices.lua).
pub(crate) const STATEMENT: Entry = Entry {
    types: &["slice"],
    fields: &[TYPE, TAG, ANCESTOR, LEASE, LEVEL, USED, HELD],
};

/// A placed slice's mark, which the sweeper ends it by (slices.lua).
pub(crate) const PLACED: Entry = Entry {
    types: &["placed"],
    fields: &[TYPE, TAG, ANCESTOR, LEASE, FIELD, EXPIRES, PERIOD_END],
};

/// An intent to take a lease, named in a short answer (slices.lua).
pub(crate) const INTENT: Entry = Entry {
    types: &["lease"],
    fields: &[TYPE, TAG, ANCESTOR, LEASE],
};

/// An ancestor's ledger entry of a commit on a slice (changes.lua).
pub(crate) const LEDGER: Entry = Entry {
    types: &["ledger"],
    fields: &[TYPE, TAG, ANCESTOR, ENTRY],
};

/// Every kind of entry.
pub(crate) const ALL: &[&Entry] = &[
    &ALERT,
    &APPROVAL_REQUEST,
    &BALANCE_ALERT,
    &APPROVAL_DECISION,
    &STATEMENT,
    &PLACED,
    &INTENT,
    &LEDGER,
];

/// The kind of entry `type_name` is written as; None for a type no script writes.
pub(crate) fn of(type_name: &str) -> Option<&'static Entry> {
    ALL.iter().copied().find(|e| e.types.contains(&type_name))
}

/// The library's declaration of the outbox (a part of lua/layouts.lua): `MAXLEN`, as XADD
/// takes it. (Each entry's fields are held to their declaration by a test of the calls that
/// write them, rather than looked up when each is written: see outbox.lua.)
#[cfg(test)]
pub(crate) fn lua() -> String {
    format!(
        "-- About how many entries a slot's outbox keeps (src/store/scripts/entries.rs; outbox.lua).\n\
         local OUTBOX_MAXLEN = '{MAXLEN}'\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(file: &str) -> String {
        std::fs::read_to_string(format!("{}/lua/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn each_type_is_declared_once() {
        let mut seen = std::collections::HashSet::new();
        for e in ALL {
            for t in e.types {
                assert!(seen.insert(*t), "{t} twice");
                assert_eq!(of(t).unwrap().types, e.types);
            }
            assert!(e.has(TYPE), "{:?}", e.types);
        }
        assert!(of("threshold").unwrap().has(VALUE) && !of("slice").unwrap().has(PLAN));
    }

    /// The arguments of the call whose text follows `(` at the start of `text`, split at its
    /// top-level commas (outside parentheses, braces, brackets and strings), each trimmed.
    fn arguments(text: &str) -> Vec<String> {
        let (mut out, mut current, mut depth, mut quote) = (Vec::new(), String::new(), 0, None);
        let mut chars = text.chars();
        while let Some(ch) = chars.next() {
            match (quote, ch) {
                (Some(_), '\\') => {
                    current.push(ch);
                    current.extend(chars.next());
                    continue;
                }
                (Some(q), _) if ch == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(ch),
                (None, '(' | '{' | '[') => depth += 1,
                (None, ')' | '}' | ']') if depth == 0 => break,
                (None, ')' | '}' | ']') => depth -= 1,
                (None, ',') if depth == 0 => {
                    out.push(current.trim().to_string());
                    current.clear();
                    continue;
                }
                _ => {}
            }
            current.push(ch);
        }
        out.push(current.trim().to_string());
        out
    }

    /// The names and values of an entry's fields given in pairs: each name must be a literal.
    fn pairs(args: &[String]) -> Vec<(String, String)> {
        args.chunks(2)
            .map(|pair| {
                let name = pair[0].trim_matches('\'').to_string();
                assert!(
                    pair[0].starts_with('\'') && !name.contains('\''),
                    "a field's name is a literal: {pair:?}"
                );
                (name, pair.get(1).cloned().unwrap_or_default())
            })
            .collect()
    }

    /// Holds an entry's fields to a declaration: its names are one kind's, in order, and its type,
    /// when a literal, is one of that kind's.
    fn declared(fields: &[(String, String)], at: &str) {
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        let kind = ALL
            .iter()
            .find(|e| e.fields == names.as_slice())
            .unwrap_or_else(|| panic!("{at}: fields {names:?} are no declared entry's"));
        let type_value = &fields.iter().find(|(n, _)| n == TYPE).unwrap().1;
        if let Some(literal) = type_value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            assert!(
                kind.types.contains(&literal),
                "{at}: type {literal} of {:?}",
                kind.types
            );
        }
    }

    /// The library writes the outbox in one place, every call of it as an entry's declaration
    /// says, and the control plane's one entry (decide_approval.lua) is its declaration's
    /// fields in order, kept as long as the rest.
    #[test]
    fn every_entry_is_written_as_its_type_declares() {
        let mut calls = 0;
        for path in super::super::lua_files() {
            let file = path.display().to_string();
            if !file.contains("/lua/library/") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let xadds = text.matches("'XADD', ").count()
                - text.matches("'XADD', c.KEYS[KEY_LEDGER]").count()
                - text.matches("'XADD', KEYS[KEY_LEDGER]").count();
            let written_here = file.ends_with("/lua/library/modules/outbox.lua");
            assert_eq!(
                xadds,
                usize::from(written_here),
                "{file}: an entry written past outbox.lua"
            );
            for (at, _) in text.match_indices("outbox(c, ") {
                if text[..at].ends_with("function ") {
                    continue;
                }
                let args = arguments(&text[at + "outbox(".len()..]);
                assert!(
                    args[1] == "true" || args[1] == "false",
                    "{file}: whether it fired, {args:?}"
                );
                declared(&pairs(&args[2..]), &file);
                calls += 1;
            }
        }
        assert_eq!(calls, 7, "every kind of entry the library writes");
        let decide = source("scripts/decide_approval.lua");
        let at = decide.find("redis.call('XADD', ").unwrap();
        let args = arguments(&decide[at + "redis.call(".len()..]);
        assert_eq!(args[2..6], ["'MAXLEN'", "'~'", &MAXLEN.to_string(), "'*'"]);
        declared(&pairs(&args[6..]), "decide_approval.lua");
        // The check finds fields out of their order, and a type of another kind.
        let planted = |text: &str| {
            let args = arguments(text);
            std::panic::catch_unwind(|| declared(&pairs(&args), "planted")).is_err()
        };
        assert!(!planted("'type', 'lease', 'tag', t, 'p', a, 'ls', l)"));
        assert!(planted("'type', 'lease', 'p', a, 'tag', t, 'ls', l)"));
        assert!(planted("'type', 'slice', 'tag', t, 'p', a, 'ls', l)"));
    }

    #[test]
    fn a_calls_arguments_are_split_where_it_splits_them() {
        let args = arguments("c, true, 'tag', string.match(x, '{(.*)}'), 'n', f('a,b'), {1, 2}) .. rest");
        assert_eq!(
            args,
            [
                "c",
                "true",
                "'tag'",
                "string.match(x, '{(.*)}')",
                "'n'",
                "f('a,b')",
                "{1, 2}"
            ]
        );
    }
}
