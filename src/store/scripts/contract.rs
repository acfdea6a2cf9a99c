//! The contract between the node and its Lua scripts, declared once: each script's keys, the
//! shape of its arguments and how it runs (what is packed by position in them is declared in
//! `layouts.rs`). What each answers is said once, in its file's header (a test holds every
//! header to saying it). `lua/shape.lua` checks every call against the shape its script
//! declares here; tests hold each script's header and its first check to this table, and send
//! every script a call of the wrong shape to see it refused.

use std::sync::{LazyLock, OnceLock};

use redis::Script;

use super::{args, keys, layouts};

/// Values per hold (layouts::hold).
pub const HOLD_FIELDS: usize = layouts::hold::FIELDS;
/// "|"-separated fields of a hold's options (layouts::option).
pub const OPTION_FIELDS: usize = layouts::option::FIELDS;
/// Values per hold of a decision (layouts::verdict).
pub const VERDICT_FIELDS: usize = layouts::verdict::FIELDS;
/// Values per hold of an answer of counters (layouts::counter).
pub const COUNTER_FIELDS: usize = layouts::counter::FIELDS;
/// The encoding of the reservation records this code writes; it reads version 1 (no `v`) too.
pub const RECORD_VERSION: &str = "2";
/// Keys every data-plane writing function starts with (keys::WRITING; prelude.lua).
pub const WRITING_KEYS: usize = keys::WRITING.len();
/// Keys of the read-only functions that read holds (keys::READING; pending.lua).
const READING_KEYS: usize = keys::READING.len();
/// Arguments every data-plane writing script starts with (prelude.lua).
pub const WRITING_ARGS: usize = 4;

/// How many arguments each counted item of a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Each {
    /// A hold: `HOLD_FIELDS` values.
    Hold,
    /// A take of take_slice: `TAKE_FIELDS` values (layouts::take).
    Take,
    Values(usize),
}

impl Each {
    pub const fn values(self) -> usize {
        match self {
            Each::Hold => HOLD_FIELDS,
            Each::Take => layouts::take::FIELDS,
            Each::Values(n) => n,
        }
    }

    fn lua(self) -> String {
        match self {
            Each::Hold => "HOLD_FIELDS".to_owned(),
            Each::Take => "TAKE_FIELDS".to_owned(),
            Each::Values(n) => n.to_string(),
        }
    }
}

/// One part of a call's arguments: a fixed number of them, the last of which counts the items
/// that follow when `then` is given.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub fixed: usize,
    pub then: Option<Each>,
}

const fn fixed(n: usize) -> Part {
    Part { fixed: n, then: None }
}

const fn counted(n: usize, each: Each) -> Part {
    Part {
        fixed: n,
        then: Some(each),
    }
}

/// How the node runs a script.
#[derive(Debug)]
pub enum Runs {
    /// As a function of the data plane's library (FCALL): its file's text, which the library
    /// joins after its modules (library.rs), and its full name there, kept once made.
    Function { text: &'static str, name: OnceLock<String> },
    /// With EVALSHA: shape.lua, then its files.
    Eval(LazyLock<Script>),
}

/// A function of the library, named after its file under lua/library/functions/.
macro_rules! function {
    ($name:literal, keys: $keys:expr, args: $args:expr) => {
        Contract {
            file: concat!("library/functions/", $name, ".lua"),
            runs: Runs::Function {
                text: include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/lua/library/functions/",
                    $name,
                    ".lua"
                )),
                name: OnceLock::new(),
            },
            keys: $keys,
            args: $args,
        }
    };
}

/// A control-plane script run with EVALSHA: shape.lua, the files of lua/scripts/ it shares
/// with others (in brackets), then its own.
macro_rules! eval {
    ($([$($before:literal),+])? $file:literal, keys: $keys:expr, args: $args:expr) => {
        Contract {
            file: concat!("scripts/", $file),
            runs: Runs::Eval(LazyLock::new(|| {
                Script::new(concat!(
                    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/shape.lua")),
                    $($(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/scripts/", $before)),)+)?
                    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/scripts/", $file))
                ))
            })),
            keys: $keys,
            args: $args,
        }
    };
}

/// Declares every script, each once: its static, and `ALL`, the list of them every other list
/// (the library's functions, the tests that hold each script to its contract) is made from.
macro_rules! contracts {
    ($($name:ident = $contract:expr;)+) => {
        $(pub static $name: Contract = $contract;)+
        /// Every script a node runs.
        pub static ALL: &[&Contract] = &[$(&$name),+];
    };
}

/// One script as both sides know it.
#[derive(Debug)]
pub struct Contract {
    /// Its file under `lua/`.
    pub file: &'static str,
    pub runs: Runs,
    pub keys: usize,
    pub args: &'static [Part],
}

impl Contract {
    /// The script a control-plane contract runs with EVALSHA (through redis::Script).
    pub fn script(&self) -> &Script {
        match &self.runs {
            Runs::Eval(script) => script,
            Runs::Function { .. } => panic!("{} is a function of the library, called with FCALL", self.file),
        }
    }

    /// Its name: its file's, without the folder and ".lua".
    pub fn name(&self) -> &'static str {
        let file = self.file.rsplit('/').next().unwrap_or(self.file);
        file.strip_suffix(".lua").unwrap_or(file)
    }

    /// How many arguments a call has with these counts of items, in order.
    pub fn args_with(&self, counts: &[usize]) -> usize {
        let mut counts = counts.iter();
        self.args
            .iter()
            .map(|p| {
                p.fixed
                    + p.then
                        .map_or(0, |each| each.values() * counts.next().copied().unwrap_or(0))
            })
            .sum()
    }

    /// The check the script makes first, as it is written in the script: `shape(KEYS, ARGV,
    /// 10, 8, HOLD_FIELDS, 1)`. A test holds every script to it.
    pub fn lua_check(&self) -> String {
        let mut parts = vec!["KEYS".to_owned(), "ARGV".to_owned(), self.keys.to_string()];
        for p in self.args {
            parts.push(p.fixed.to_string());
            if let Some(each) = p.then {
                parts.push(each.lua());
            }
        }
        format!("shape({})", parts.join(", "))
    }
}

contracts! {
    RESERVE = function!("reserve", keys: WRITING_KEYS, args: &[counted(args::RESERVE.end(), Each::Hold), counted(1, Each::Values(args::ALTERNATIVE.names.len())), fixed(args::RESERVE_END.names.len() + 1)]);
    CHECK = function!("check", keys: READING_KEYS, args: &[counted(args::CHECK.end(), Each::Hold), fixed(1)]);
    TRACK = function!("track", keys: WRITING_KEYS, args: &[counted(args::TRACK.end(), Each::Hold), fixed(args::TRACK_TAIL.names.len() + 1)]);
    ADJUST = function!("adjust", keys: WRITING_KEYS + 1, args: &[fixed(args::ADJUST.end())]);
    COMMIT = function!("commit", keys: WRITING_KEYS, args: &[counted(args::COMMIT.end(), Each::Values(1)), fixed(args::COMMIT_TAIL.names.len())]);
    SET_OUTCOME = function!("set_outcome", keys: WRITING_KEYS, args: &[fixed(args::SET_OUTCOME.end())]);
    RELEASE = function!("release", keys: WRITING_KEYS, args: &[fixed(args::RELEASE.end())]);
    EXTEND = function!("extend", keys: WRITING_KEYS, args: &[fixed(args::EXTEND.end())]);
    RECLAIM = function!("reclaim", keys: WRITING_KEYS, args: &[fixed(args::WRITING.end())]);
    USAGE = function!("usage", keys: READING_KEYS, args: &[counted(args::USAGE.end(), Each::Values(args::USAGE_GROUP.names.len()))]);
    TAKE_SLICE = function!("take_slice", keys: WRITING_KEYS, args: &[counted(args::TAKE_SLICE.end(), Each::Hold), counted(1, Each::Take), fixed(1)]);
    SETTLE_SLICE = function!("settle_slice", keys: WRITING_KEYS, args: &[counted(args::SETTLE_SLICE.end(), Each::Values(args::STATEMENT.names.len()))]);
    END_SLICE = function!("end_slice", keys: WRITING_KEYS, args: &[fixed(args::END_SLICE.end())]);
    LEASES = function!("leases", keys: READING_KEYS - 1, args: &[fixed(args::LEASES.end())]);
    APPEND_LEDGER = function!("append_ledger", keys: WRITING_KEYS, args: &[counted(args::APPEND_LEDGER.end(), Each::Values(args::NOTE.names.len()))]);
    SUBSCRIBE = eval!("subscribe.lua", keys: 3, args: &[counted(5, Each::Values(2)), counted(1, Each::Values(5)), fixed(1)]);
    UNSUBSCRIBE = eval!("unsubscribe.lua", keys: 1, args: &[]);
    SET_STATUS = eval!("set_status.lua", keys: 1, args: &[fixed(2)]);
    OVERRIDE = eval!(["override_room.lua"] "override.lua", keys: 1, args: &[fixed(2)]);
    INDEX_USER = eval!("index_user.lua", keys: 5, args: &[fixed(5)]);
    PUT_PLAN = eval!("put_plan.lua", keys: 2, args: &[fixed(2)]);
    DELETE_PLAN = eval!("delete_plan.lua", keys: 4, args: &[fixed(2)]);
    CLAIM_PLAN = eval!("claim_plan.lua", keys: 2, args: &[fixed(1)]);
    ENQUEUE = eval!("enqueue.lua", keys: 4, args: &[fixed(5)]);
    CLAIM = eval!("claim.lua", keys: 4, args: &[fixed(4)]);
    COMPLETE = eval!("complete.lua", keys: 3, args: &[fixed(7)]);
    REDELIVER = eval!("redeliver.lua", keys: 3, args: &[fixed(2)]);
    CREATE_ENDPOINT = eval!("create_endpoint.lua", keys: 2, args: &[fixed(5)]);
    ROTATE_SECRET = eval!("rotate_secret.lua", keys: 1, args: &[fixed(5)]);
    SET_ENABLED = eval!("set_enabled.lua", keys: 3, args: &[fixed(3)]);
    GRANT = function!("grant", keys: WRITING_KEYS + 1, args: &[fixed(args::GRANT.end())]);
    VOID_GRANT = function!("void_grant", keys: WRITING_KEYS + 1, args: &[fixed(args::VOID_GRANT.end())]);
    BALANCES = function!("balances", keys: WRITING_KEYS + 1, args: &[counted(args::BALANCES.end(), Each::Values(1)), counted(1, Each::Hold), fixed(1)]);
    DECIDE_APPROVAL = eval!(["override_room.lua"] "decide_approval.lua", keys: 3, args: &[fixed(10)]);
    INDEX_APPROVAL = eval!("index_approval.lua", keys: 6, args: &[fixed(4)]);
    UNLOCK = eval!("unlock.lua", keys: 1, args: &[fixed(1)]);
    ADD_CAPPED = eval!("add_capped.lua", keys: 1, args: &[fixed(2)]);
    INDEX_LISTED = eval!("index_listed.lua", keys: 1, args: &[fixed(3)]);
    REPLACE_FIELD = eval!("replace_field.lua", keys: 1, args: &[fixed(3)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(file: &str) -> String {
        std::fs::read_to_string(format!("{}/lua/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// The highest index the header's `-- KEYS[..]` or `-- ARGV[..]` lines name with numbers
    /// (`KEYS[4]`, `KEYS[1..10]`); 0 when it names none.
    fn highest(header: &[&str], name: &str) -> usize {
        let open = format!("-- {name}[");
        header
            .iter()
            .filter_map(|line| line.strip_prefix(&open))
            .filter_map(|rest| rest.split(']').next())
            .filter_map(|index| index.rsplit("..").next().and_then(|last| last.parse::<usize>().ok()))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn every_script_header_names_the_keys_and_arguments_its_contract_declares() {
        for c in ALL {
            let text = source(c.file);
            let header: Vec<&str> = text.lines().take_while(|l| l.starts_with("--")).collect();
            assert_eq!(highest(&header, "KEYS"), c.keys, "{}: KEYS in its header", c.file);
            let fixed = c.args.first().map_or(0, |p| p.fixed);
            assert_eq!(
                highest(&header, "ARGV"),
                fixed,
                "{}: numbered ARGV in its header",
                c.file
            );
            for p in c.args {
                if p.then == Some(Each::Hold) {
                    assert!(
                        text.contains("HOLD_FIELDS values"),
                        "{}: its header names HOLD_FIELDS",
                        c.file
                    );
                }
            }
        }
    }

    #[test]
    fn every_script_header_says_what_it_answers() {
        for c in ALL {
            let text = source(c.file);
            let header: String = text
                .lines()
                .take_while(|l| l.starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                header.contains("-- Returns") || header.contains("-- Answers"),
                "{}: its header says what it answers",
                c.file
            );
        }
    }

    #[test]
    fn every_script_checks_the_shape_its_contract_declares_before_anything_else() {
        for c in ALL {
            let text = source(c.file);
            // (A function of the library opens with its registration, the places of its
            // arguments when it reads them from ARG as the library loads, and its call's names.)
            let code = text
                .lines()
                .map(str::trim)
                .find(|l| {
                    let places = l.starts_with("local ") && l.contains(" = ARG.");
                    !(l.is_empty()
                        || l.starts_with("--")
                        || l.starts_with("register(")
                        || places
                        || *l == "return function(c)"
                        || l.starts_with("local KEYS, ARGV"))
                })
                .unwrap_or_default();
            let check = c.lua_check();
            assert!(
                code == check || code.ends_with(&format!(" = {check}")),
                "{}: its first statement is {code:?}, not the declared {check}",
                c.file
            );
        }
    }

    /// The layouts' names in the Lua: no file but layouts.lua (written from layouts.rs)
    /// declares one, and every `LAYOUT.field` it reads is one that is declared,
    /// so a field renamed or removed there is not read as nil here.
    #[test]
    fn the_lua_reads_packed_values_by_the_declared_names_only() {
        use super::layouts::ALL as LAYOUTS;
        let mut uses = 0;
        for path in super::super::lua_files() {
            let file = path.display().to_string();
            if file.ends_with("/lua/layouts.lua") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().map(str::trim).filter(|l| !l.starts_with("--")) {
                if let Some(names) = line
                    .strip_prefix("local ")
                    .and_then(|l| l.split_once(" = "))
                    .map(|(n, _)| n)
                {
                    for name in names.split(", ") {
                        let declared = LAYOUTS.iter().any(|p| {
                            name == p.lua || name.strip_suffix("_FIELDS") == Some(p.lua) || name.ends_with("_LINE")
                        }) || name == "RECORD_VERSION";
                        assert!(!declared, "{file} declares {name}, which layouts.rs declares");
                    }
                }
                for p in LAYOUTS {
                    let dotted = format!("{}.", p.lua);
                    for (at, _) in line.match_indices(&dotted) {
                        // Not the tail of a longer name (RUN. inside RUN_GROUP. cannot be), nor
                        // a field of another table (ARG.USAGE., args.rs's).
                        if line[..at].ends_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.') {
                            continue;
                        }
                        let field: String = line[at + dotted.len()..]
                            .chars()
                            .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                            .collect();
                        assert!(
                            p.fields.contains(&field.as_str()),
                            "{file}: {}{field} is not declared",
                            dotted
                        );
                        uses += 1;
                    }
                }
            }
        }
        assert!(uses > 30, "the Lua reads its layouts by name: {uses} reads found");
    }

    #[test]
    fn arguments_add_up_as_declared() {
        // Its head, two holds, one alternative (its count of holds and its record), its
        // fallback's chain, its run's step and start, and the decision instant.
        assert_eq!(RESERVE.args_with(&[2, 1]), 8 + 2 * HOLD_FIELDS + 1 + 2 + 4);
        assert_eq!(RESERVE.lua_check(), "shape(KEYS, ARGV, 10, 8, HOLD_FIELDS, 1, 2, 4)");
        assert_eq!(SUBSCRIBE.args_with(&[1, 2]), 5 + 2 + 1 + 10 + 1);
        assert_eq!(SUBSCRIBE.lua_check(), "shape(KEYS, ARGV, 3, 5, 2, 1, 5, 1)");
        assert_eq!(UNSUBSCRIBE.lua_check(), "shape(KEYS, ARGV, 1)");
    }
}
