//! The data plane's Lua as one Redis function library (FUNCTION LOAD, FCALL): its parts in the
//! order they are joined, its name, and the full name of each of its functions. A library's
//! helpers are built once, when Redis loads it, where a script run with EVALSHA builds every
//! function it defines on every call (docs/decisions/0057-data-plane-function-library.md).
//!
//! Its name is "qg_", the crate's version and a digest of its text (`qg_0_1_0_<16 hex>`), so two
//! builds never share a name and a node never calls a function of another build's library;
//! functions are named "<library>_<file's name>", since function names are Redis-wide. A node
//! removes the libraries of other builds of its version or an older one when it starts
//! (store/install.rs), never a newer version's.

use std::sync::LazyLock;

use super::contract::Runs;

macro_rules! lua {
    ($path:literal) => {
        ($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/lua/", $path)))
    };
}

/// The library's parts before its functions, in load order: the layouts (written from
/// `layouts.rs`), the shape check every call makes first, the head (the call's context and
/// `register`), then the modules (each may use those before it). The functions follow, each
/// of which registers itself: those the contracts declare (`contract.rs`), in their order.
pub(crate) const PARTS: &[(&str, &str)] = &[
    lua!("layouts.lua"),
    lua!("shape.lua"),
    lua!("library/head.lua"),
    lua!("library/modules/outbox.lua"),
    lua!("library/modules/wallet.lua"),
    lua!("library/modules/runs.lua"),
    lua!("library/modules/fallbacks.lua"),
    lua!("library/modules/slices.lua"),
    lua!("library/modules/rolling.lua"),
    lua!("library/modules/prelude.lua"),
    lua!("library/modules/pending.lua"),
    lua!("library/modules/overrides.lua"),
    lua!("library/modules/alerts.lua"),
    lua!("library/modules/approvals.lua"),
    lua!("library/modules/outcomes.lua"),
    lua!("library/modules/changes.lua"),
    lua!("library/modules/counters.lua"),
    lua!("library/modules/statements.lua"),
    lua!("library/modules/takes.lua"),
    lua!("library/modules/holds.lua"),
    lua!("library/modules/fits.lua"),
    lua!("library/modules/reserving.lua"),
    lua!("library/modules/alternatives.lua"),
    lua!("library/modules/committing.lua"),
];

/// Every part of the library, in load order: `PARTS`, then the functions.
pub(crate) fn parts() -> Vec<(&'static str, &'static str)> {
    let functions = super::contract::ALL.iter().filter_map(|c| match c.runs {
        Runs::Function { text, .. } => Some((c.file, text)),
        Runs::Eval(_) => None,
    });
    PARTS.iter().copied().chain(functions).collect()
}

/// Where head.lua names the library; the node writes the name there.
const NAME_MARK: &str = "@LIBRARY@";

pub struct Library {
    pub name: String,
    /// What FUNCTION LOAD takes: the `#!lua name=` line, then the parts.
    pub text: String,
}

pub static LIBRARY: LazyLock<Library> = LazyLock::new(|| build(&parts()));

/// The library of these parts.
pub(crate) fn build(parts: &[(&str, &str)]) -> Library {
    let joined: String = parts.iter().map(|(_, text)| *text).collect();
    let version = env!("CARGO_PKG_VERSION").replace(['.', '-', '+'], "_");
    let name = format!("qg_{version}_{}", &crate::secrets::digest_hex(&joined)[..16]);
    let text = format!("#!lua name={name}\n{}", joined.replace(NAME_MARK, &name));
    Library { name, text }
}

/// Whether `other`, a library in Redis, is another build's that this build removes: a library
/// of this project (named as `build` names them) of this version or an older one.
pub(crate) fn removes(other: &str) -> bool {
    fn version(name: &str) -> Option<(Vec<u64>, &str)> {
        let rest = name.strip_prefix("qg_")?;
        let (version, digest) = rest.rsplit_once('_')?;
        if digest.len() != 16 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let numbers = version
            .split('_')
            .map(|n| n.parse().ok())
            .collect::<Option<Vec<u64>>>()?;
        Some((numbers, digest))
    }
    let (Some((theirs, _)), Some((ours, _))) = (version(other), version(&LIBRARY.name)) else {
        return false;
    };
    other != LIBRARY.name && theirs <= ours
}

/// The full name of the library's function `name` (a functions file's name).
pub fn function_name(name: &str) -> String {
    format!("{}_{name}", LIBRARY.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_file_has_a_contract_and_registers_the_function_it_names() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/lua/library/functions");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("library/functions/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        files.sort();
        let mut functions: Vec<(&str, &str)> = parts()
            .into_iter()
            .filter(|(p, _)| p.starts_with("library/functions/"))
            .collect();
        functions.sort();
        assert_eq!(files, functions.iter().map(|(p, _)| p.to_string()).collect::<Vec<_>>());
        for (path, text) in functions {
            let stem = path.rsplit('/').next().unwrap().trim_end_matches(".lua");
            assert!(text.contains(&format!("register('{stem}', ")), "{path}");
        }
    }

    #[test]
    fn a_build_removes_other_builds_of_its_version_and_older_ones_only() {
        let ours = &LIBRARY.name;
        let version = env!("CARGO_PKG_VERSION").replace('.', "_");
        assert!(ours.starts_with(&format!("qg_{version}_")));
        assert!(!removes(ours));
        assert!(removes(&format!("qg_{version}_0123456789abcdef")));
        assert!(removes("qg_0_0_1_0123456789abcdef"));
        assert!(!removes("qg_999_0_0_0123456789abcdef"), "a newer version's stays");
        for other in [
            "qg_",
            "mylib",
            "qg_0_0_1_xyz",
            "qg_0_0_1_0123456789abcdeg",
            "qg_a_b_0123456789abcdef",
        ] {
            assert!(!removes(other), "{other}");
        }
    }

    /// What Lua 5.1 compiles of `text` (a library without its `#!lua` line), as `luac5.1 -l -l`
    /// lists it: every function with its locals and upvalues.
    fn listing(text: &str) -> String {
        use std::io::Write;
        let mut luac = std::process::Command::new("luac5.1")
            .args(["-o", "/dev/null", "-l", "-l", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("luac5.1, Lua 5.1's compiler (scripts/test installs package lua5.1)");
        luac.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = luac.wait_with_output().unwrap();
        assert!(out.status.success(), "luac5.1 failed");
        String::from_utf8(out.stdout).unwrap()
    }

    /// One function of a listing: its lines, its locals (by register) and upvalues (by index),
    /// and the upvalues it assigns to (SETUPVAL).
    struct Function {
        lines: (u32, u32),
        locals: Vec<(u32, String)>,
        upvalues: Vec<String>,
        assigns: Vec<usize>,
    }

    fn functions(listing: &str) -> Vec<Function> {
        let mut out: Vec<Function> = Vec::new();
        let mut section = "";
        for line in listing.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("main <") || line.starts_with("function <") {
                let span = line
                    .split(':')
                    .nth(1)
                    .and_then(|s| s.split('>').next())
                    .unwrap_or("0,0");
                let (a, b) = span.split_once(',').unwrap_or(("0", "0"));
                out.push(Function {
                    lines: (a.parse().unwrap_or(0), b.parse().unwrap_or(u32::MAX)),
                    locals: Vec::new(),
                    upvalues: Vec::new(),
                    assigns: Vec::new(),
                });
                section = "code";
            } else if line.starts_with("locals (") {
                section = "locals";
            } else if line.starts_with("upvalues (") {
                section = "upvalues";
            } else if line.starts_with("constants (") {
                section = "constants";
            } else if let Some(f) = out.last_mut() {
                match section {
                    "code" if words.get(2) == Some(&"SETUPVAL") => f
                        .assigns
                        .push(words.get(4).and_then(|u| u.parse().ok()).unwrap_or(usize::MAX)),
                    "locals" if words.len() == 4 => f.locals.push((words[0].parse().unwrap_or(0), words[1].to_owned())),
                    "upvalues" if words.len() == 2 => f.upvalues.push(words[1].to_owned()),
                    _ => {}
                }
            }
        }
        out
    }

    /// Where `text` breaks the library's rule that a call's state lives in its context: a
    /// function that assigns to a local of the library's own level (it would outlive the call),
    /// or a local named `c` besides a function's first parameter (it would hide the context).
    fn leaks(text: &str) -> Vec<String> {
        let all = functions(&listing(text));
        let mut found = Vec::new();
        for (k, f) in all.iter().enumerate().skip(1) {
            for &u in &f.assigns {
                let name = f.upvalues.get(u).cloned().unwrap_or_default();
                // An upvalue is the library's when no function around this one declares it.
                let around = all[1..]
                    .iter()
                    .enumerate()
                    .filter(|(j, g)| *j + 1 != k && g.lines.0 <= f.lines.0 && g.lines.1 >= f.lines.1);
                if !around
                    .into_iter()
                    .any(|(_, g)| g.locals.iter().any(|(_, l)| *l == name))
                {
                    found.push(format!("line {}: assigns to the library's `{name}`", f.lines.0));
                }
            }
            for (_, name) in f.locals.iter().skip(1).filter(|(_, l)| l == "c") {
                found.push(format!("line {}: a local `{name}` hides the call's context", f.lines.0));
            }
        }
        found
    }

    #[test]
    fn no_function_of_the_library_keeps_state_between_calls() {
        let text = LIBRARY.text.split_once('\n').unwrap().1;
        assert_eq!(leaks(text), Vec::<String>::new());
        // The check finds both kinds.
        let planted = "local seen = 0\nlocal function f(c) seen = seen + 1 local c = 2 return c end\n";
        assert_eq!(leaks(planted).len(), 2, "{:?}", leaks(planted));
        let fine = "local function f(c) local n = 0 local function g() n = n + 1 end g() return n end\n";
        assert_eq!(leaks(fine), Vec::<String>::new());
    }

    /// Every global the text reads or writes: a helper called before its local is declared
    /// (placed after its first caller) is read as a global, which Redis refuses at run time.
    fn globals(text: &str) -> std::collections::BTreeSet<String> {
        listing(text)
            .lines()
            .filter_map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                let global = matches!(words.get(2), Some(&"GETGLOBAL" | &"SETGLOBAL"));
                global.then(|| words.last().map(|name| name.to_string())).flatten()
            })
            .collect()
    }

    #[test]
    fn the_library_uses_no_global_but_those_redis_gives_it() {
        const REDIS_GLOBALS: &[&str] = &[
            "redis",
            "cjson",
            "cmsgpack",
            "bit",
            "struct",
            "string",
            "table",
            "math",
            "tonumber",
            "tostring",
            "type",
            "pairs",
            "ipairs",
            "next",
            "select",
            "unpack",
            "error",
            "pcall",
            "assert",
            "setmetatable",
            "getmetatable",
            "rawget",
            "rawset",
        ];
        let text = LIBRARY.text.split_once('\n').unwrap().1;
        let unknown: Vec<String> = globals(text)
            .into_iter()
            .filter(|g| !REDIS_GLOBALS.contains(&g.as_str()))
            .collect();
        assert_eq!(unknown, Vec::<String>::new());
        // The check finds a helper declared after its caller.
        let planted = "local function f() return later() end\nlocal function later() return 1 end\n";
        assert_eq!(globals(planted).into_iter().collect::<Vec<_>>(), ["later"]);
    }

    #[test]
    fn the_name_follows_the_text() {
        let a = build(&[("a.lua", "-- @LIBRARY@\n")]);
        let b = build(&[("a.lua", "-- @LIBRARY@ \n")]);
        assert_ne!(a.name, b.name);
        assert!(a.text.starts_with(&format!("#!lua name={}\n-- {}\n", a.name, a.name)));
        assert!(LIBRARY
            .text
            .starts_with(&format!("#!lua name={}\n-- layouts.lua:", LIBRARY.name)));
        assert!(LIBRARY.text.contains(&format!("local LIBRARY = '{}'", LIBRARY.name)));
    }
}
