//! The keys the data plane's functions take, by name and in order, declared once: the node
//! builds every call's KEYS from these lists (`push`), and the library's text opens with where
//! each is in a call's KEYS (`KEYS[KEY_COUNTERS]`, `KEYS[READ_KEY_SUBSCRIPTION]`: written
//! into lua/layouts.lua from `lua()`, with the layouts), so neither side names a key by its
//! number. (The control plane's scripts, run with EVALSHA, keep their few keys by number.)

use crate::store::layout::UserKeys;

/// A key of a user's (or of its slot's) that a function of the library takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// The counters hash, `<tag>:ctr`: counters, wallets, runs, slices (prelude.lua).
    Counters,
    /// The reservations hash, `<tag>:res`: one JSON record per reservation.
    Reservations,
    /// The open reservations, `<tag>:open`, a sorted set by expiry.
    Open,
    /// The ended reservations and idempotency entries, `<tag>:ended`, by when they are pruned.
    Ended,
    /// The counter periods, `<tag>:periods`, by when their fields are pruned.
    Periods,
    /// The subscription hash, `<tag>:sub`.
    Subscription,
    /// The Idempotency-Key answers, `<tag>:idem`.
    Idempotency,
    /// The usage ledger, `<tag>:ledger`, a stream.
    Ledger,
    /// The daily rollups, `<tag>:daily`.
    Daily,
    /// The alerts outbox of the user's slot, `{<slot tag>}:outbox`, a stream.
    Outbox,
    /// The audit trail of adjustments, `<tag>:audit`, a list (adjust.lua).
    Audit,
    /// The grants of credits, `<tag>:grants` (grant.lua).
    Grants,
}

impl Key {
    /// Its name in the library, where its place is `KEY_<NAME>` (`READ_KEY_<NAME>`).
    #[cfg(test)]
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Key::Counters => "counters",
            Key::Reservations => "reservations",
            Key::Open => "open",
            Key::Ended => "ended",
            Key::Periods => "periods",
            Key::Subscription => "subscription",
            Key::Idempotency => "idempotency",
            Key::Ledger => "ledger",
            Key::Daily => "daily",
            Key::Outbox => "outbox",
            Key::Audit => "audit",
            Key::Grants => "grants",
        }
    }
}

/// Every writing function's keys, in order (prelude.lua).
pub(crate) const WRITING: [Key; 10] = [
    Key::Counters,
    Key::Reservations,
    Key::Open,
    Key::Ended,
    Key::Periods,
    Key::Subscription,
    Key::Idempotency,
    Key::Ledger,
    Key::Daily,
    Key::Outbox,
];

/// The keys a writing function may take after `WRITING`, one at most: adjust's audit trail,
/// or the credits functions' (grant, void_grant, balances) grants. (Their calls push the one
/// they take.)
#[cfg(test)]
pub(crate) const AFTER_WRITING: [Key; 2] = [Key::Audit, Key::Grants];

/// The read-only functions' keys, in order (pending.lua): check and usage take them all, leases
/// the first three. Those three are the writing functions' first three too, so the modules both
/// kinds share name them by `KEY` (a test holds it).
pub(crate) const READING: [Key; 4] = [Key::Counters, Key::Reservations, Key::Open, Key::Subscription];

/// What takes a script's keys one by one: a call (`call.rs`), which this file stands below.
pub(crate) trait TakesKeys {
    fn take_key(&mut self, key: &str);
}

/// Adds `list`'s keys of one user to a call, in order.
pub(crate) fn push(inv: &mut impl TakesKeys, keys: &UserKeys, list: &[Key]) {
    for &key in list {
        match key {
            Key::Counters => inv.take_key(keys.ctr()),
            Key::Reservations => inv.take_key(keys.res()),
            Key::Open => inv.take_key(keys.open()),
            Key::Ended => inv.take_key(keys.ended()),
            Key::Periods => inv.take_key(keys.periods()),
            Key::Subscription => inv.take_key(keys.sub()),
            Key::Idempotency => inv.take_key(keys.idem()),
            Key::Ledger => inv.take_key(keys.ledger()),
            Key::Daily => inv.take_key(keys.daily()),
            Key::Outbox => inv.take_key(keys.outbox()),
            Key::Audit => inv.take_key(keys.audit()),
            Key::Grants => inv.take_key(&keys.grants()),
        };
    }
}

/// The name of `key`'s place in the library, led by `lead` (KEY_COUNTERS, READ_KEY_OPEN).
#[cfg(test)]
fn place(lead: &str, key: Key) -> String {
    format!("{lead}_{}", key.name().to_uppercase())
}

/// Lua's declarations of where each of `keys` is in a call's KEYS (from 1), with `after` at the
/// place after them: a local each, since a library reads a local for less than a table's field.
#[cfg(test)]
fn places(lead: &str, keys: &[Key], after: &[Key]) -> String {
    keys.iter()
        .enumerate()
        .map(|(i, &k)| (k, i + 1))
        .chain(after.iter().map(|&k| (k, keys.len() + 1)))
        .map(|(k, at)| format!("local {} = {at}\n", place(lead, k)))
        .collect()
}

/// The library's declarations of where each key is (a part of lua/layouts.lua).
#[cfg(test)]
pub(crate) fn lua() -> String {
    format!(
        "-- Where each key is in a data-plane function's KEYS (src/store/scripts/keys.rs): a writing\n\
         -- function's (KEYS[KEY_COUNTERS]), the one it may take after them in the same place\n\
         -- (adjust's audit, a credits function's grants), and a read-only function's (READ_KEY_).\n{}{}",
        places("KEY", &WRITING, &AFTER_WRITING),
        places("READ_KEY", &READING, &[])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_only_functions_first_keys_are_the_writing_ones() {
        assert_eq!(READING[..3], WRITING[..3]);
        let text = lua();
        for line in [
            "local KEY_COUNTERS = 1\n",
            "local KEY_OUTBOX = 10\n",
            "local KEY_AUDIT = 11\n",
        ] {
            assert!(text.contains(line), "{line}");
        }
        assert!(text.contains("local KEY_GRANTS = 11\nlocal READ_KEY_COUNTERS = 1\n"));
        assert!(text.ends_with("local READ_KEY_SUBSCRIPTION = 4\n"));
    }

    /// Every key the Lua names is one declared here (a name misspelled would be read as a
    /// global, which Redis refuses only when it runs that line), and the library's code names no
    /// key by its number.
    #[test]
    fn the_library_reads_its_keys_by_the_declared_names_only() {
        let declared: Vec<String> = WRITING
            .iter()
            .chain(&AFTER_WRITING)
            .map(|&k| place("KEY", k))
            .chain(READING.iter().map(|&k| place("READ_KEY", k)))
            .collect();
        let mut uses = 0;
        for path in super::super::lua_files() {
            let file = path.display().to_string();
            if !file.contains("/lua/library/") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                let code = line.split("--").next().unwrap_or_default();
                for lead in ["READ_KEY_", "KEY_"] {
                    for (at, _) in code.match_indices(lead) {
                        if code[..at].ends_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_') {
                            continue;
                        }
                        let name: String = code[at..]
                            .chars()
                            .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                            .collect();
                        assert!(declared.contains(&name), "{file}: {name} is not declared");
                        uses += 1;
                    }
                }
                let numbered = code
                    .match_indices("KEYS[")
                    .any(|(at, _)| code[at + "KEYS[".len()..].starts_with(|ch: char| ch.is_ascii_digit()));
                assert!(!numbered, "{file}: a key by its number: {}", line.trim());
            }
        }
        assert!(uses > 100, "the library names its keys: {uses} found");
    }
}
