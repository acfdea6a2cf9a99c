//! Tidy: what the docs, the decision records and the comments name must exist, as
//! rust-analyzer's tidy tests hold its docs to its code. No Redis, no network: it reads the
//! sources. A failure names the file, the line and what does not resolve; the fix is the text.
//!
//! The texts: README.md, ARCHITECTURE.md, BENCHMARKS.md, CONTRIBUTING.md and the Markdown of
//! docs/, sdk/ and tests/ whole; the comments of src/**/*.rs, tests/**/*.rs and lua/**/*.lua,
//! and of scripts/** (`#` comments, and Python's docstrings).
//!
//! 1. Paths. A word opening with `src/`, `lua/`, `docs/`, `scripts/`, `tests/`, `sdk/` or a
//!    folder of `src/` (`store/layout.rs`) names a file or folder, found from the root, from
//!    `src/`, or from the naming file's folder or one above it; in ARCHITECTURE also from the
//!    folder its list item is about. A `:12` or `:12-20` after it names lines the file has.
//!    Not paths: a word inside another, a URL or an `@scope/package` (one that follows a letter,
//!    `/`, `-`, `.`, `@`, `$` or `~`), placeholders and globs (one that runs into `{`, `<`,
//!    `*`, `$` or `[`), versions (`http/1.1`), and what builds write (`target`, `dist`,
//!    `node_modules`). A Markdown link's target is found from the linking file's folder.
//! 2. Items. A `<module>::<item>` path (in Markdown in a code span outside fenced blocks, but
//!    not in the SDKs' pages, which speak other languages; in a comment anywhere) opening with
//!    a lowercase name names a module of the crate or of the tests (a file or folder under
//!    `src/` or `tests/`, at any depth: `layout` or `store::layout`), and each segment after it
//!    a module, a type or an item defined there (`fn`, `struct`, `enum`, `const`, `static`,
//!    `type`, `trait`, `mod`, `macro_rules!`, a `pub use`, or a name one of the crate's macros
//!    spells in a braced invocation); after a type, one of its functions, constants, variants
//!    or fields. A path opening with a type of ours (`Node::drive`) names a member of it;
//!    `crate::` and `quota_gateway::` open at the crate's root. Not checked: other crates'
//!    paths (`std`, `core`, and every crate Cargo.lock names), `self`, `super`, `Self`, types
//!    not of ours, the compiler's symbols (`__rustc`), and placeholders (a segment of one
//!    letter: `a::b`). A first segment both ours and a crate's (`http`) is the crate's where
//!    ours has no such item.
//! 3. ARCHITECTURE's lists. In a list item, `` `folder/`: `` opens that folder's list, up to
//!    the next one (a folder after the item's first is read within the first, else from the
//!    root). Each backticked file name in it (`head.lua`, `modules/`) is in that folder, at
//!    any depth, or at the root; a name with a slash is found from the folder, `src/` or the
//!    root; a route (`/dashboard`) is no file. A list that names an entry of its folder names
//!    every entry (`mod.rs` aside), or says that it picks: with `...` or "a file per".
//!    Everywhere in ARCHITECTURE, a backticked file name is a file of the repository, and the
//!    whole stays under 14 KiB.
//! 4. Lengths. No function of `src/` runs over 80 lines, tests aside (`#[cfg(test)]` items and
//!    `tests.rs` files): a longer one is split into named steps.
//! 5. Parameters. No function of `src/proxy/` takes more than 4, `self` and tests aside: what
//!    travels together is a struct named for what it is, or the call that carries it.

mod defs;
mod items;
mod lengths;
mod lists;
mod params;
mod paths;
mod source;

use std::fs;

use items::{Index, Resolution};
use source::{files_under, relative, root, texts, Kind};

fn fail_on(findings: Vec<String>, what: &str) {
    assert!(
        findings.is_empty(),
        "{what} ({} of them):\n{}",
        findings.len(),
        findings.join("\n")
    );
}

#[test]
fn every_path_the_docs_and_comments_name_exists() {
    let starts = paths::starts();
    let architecture = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let item_folders = lists::item_folders(&architecture);
    let mut findings = Vec::new();
    for text in texts() {
        let bases = paths::bases(&text.file);
        for named in paths::paths_in(&text.body, &starts) {
            let mut bases = bases.clone();
            if text.file == "ARCHITECTURE.md" {
                bases.extend(
                    item_folders
                        .iter()
                        .filter(|(lines, _)| lines.contains(&named.line))
                        .map(|(_, f)| f.clone()),
                );
            }
            if let Err(what) = paths::resolve(&named.path, named.lines, &bases) {
                findings.push(format!("{}:{}: {what}", text.file, named.line));
            }
        }
        if text.kind == Kind::Markdown {
            let folder = std::path::Path::new(&text.file)
                .parent()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            for (line, target) in paths::links_in(&text.body) {
                if let Err(what) = paths::resolve(&target, None, std::slice::from_ref(&folder)) {
                    findings.push(format!("{}:{line}: the link's {what}", text.file));
                }
            }
        }
    }
    fail_on(findings, "paths named that do not exist");
}

#[test]
fn every_module_item_the_docs_and_comments_name_is_defined() {
    let index = Index::build();
    let mut findings = Vec::new();
    // The SDKs' pages speak of Python and TypeScript, where `::` is no Rust path.
    for text in texts().into_iter().filter(|t| !t.file.starts_with("sdk/")) {
        for (line, path) in items::paths_in(&text.body, text.kind) {
            if let Resolution::Undefined(why) = index.resolve(&path) {
                findings.push(format!("{}:{line}: `{}`: {why}", text.file, path.join("::")));
            }
        }
    }
    fail_on(findings, "module::item paths named that are not defined");
}

#[test]
fn architecture_lists_each_folder_whole_or_says_it_picks() {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let findings = lists::check(&text)
        .into_iter()
        .map(|(line, what)| format!("ARCHITECTURE.md:{line}: {what}"))
        .collect();
    fail_on(findings, "ARCHITECTURE's lists against the folders");
}

#[test]
fn architecture_stays_a_map_under_14_kib() {
    let size = fs::metadata(root().join("ARCHITECTURE.md")).unwrap().len();
    assert!(
        size < 14 * 1024,
        "ARCHITECTURE.md is {size} bytes, 14 KiB or more: shorten it"
    );
}

/// The most lines a function of `src/` may run, from its `fn` to its closing brace.
const MOST_LINES: usize = 80;

#[test]
fn no_function_outside_tests_runs_over_80_lines() {
    let mut findings = Vec::new();
    for path in files_under("src") {
        let file = relative(&path);
        let is_tests = path.file_name().is_some_and(|n| n == "tests.rs");
        if !file.ends_with(".rs") || is_tests {
            continue;
        }
        let source = fs::read_to_string(&path).unwrap();
        for f in lengths::functions(&source).into_iter().filter(|f| f.lines > MOST_LINES) {
            findings.push(format!("{file}:{}: `{}` is {} lines", f.line, f.name, f.lines));
        }
    }
    fail_on(
        findings,
        &format!("functions over {MOST_LINES} lines: split each into named steps"),
    );
}

/// The most parameters a function of the proxy takes, `self` aside.
const MOST_PARAMETERS: usize = 4;

#[test]
fn no_proxy_function_outside_tests_takes_over_4_parameters() {
    let mut findings = Vec::new();
    for path in files_under("src/proxy") {
        let file = relative(&path);
        let is_tests = path.file_name().is_some_and(|n| n == "tests.rs");
        if !file.ends_with(".rs") || is_tests {
            continue;
        }
        let source = fs::read_to_string(&path).unwrap();
        for f in params::signatures(&source)
            .into_iter()
            .filter(|f| f.parameters > MOST_PARAMETERS)
        {
            findings.push(format!(
                "{file}:{}: `{}` takes {} parameters",
                f.line, f.name, f.parameters
            ));
        }
    }
    fail_on(
        findings,
        &format!(
            "proxy functions over {MOST_PARAMETERS} parameters: group what travels together in a struct named for it"
        ),
    );
}

#[test]
fn the_parameter_counter_skips_self_and_counts_patterns_and_closure_types_once() {
    let source = "impl A {\n    pub(crate) async fn read<'a, F: Fn(u8, u8) -> u8>(&'a mut self, f: F, (a, b): (u8, u8),\n        m: HashMap<u8, u8>,\n    ) {}\n}\n\
                  fn own(self: Arc<Self>, selfish: u8) {}\n\
                  trait T { fn declared(&self, s: &str) -> u8; }\n\
                  fn typed(f: fn(u8, u8)) { let g = |a: u8, b: u8| a + b; }\n\
                  #[cfg(test)]\nmod tests {\n    fn hidden(a: u8, b: u8, c: u8, d: u8, e: u8) {}\n}\n";
    let found: Vec<(String, usize, usize)> = params::signatures(source)
        .into_iter()
        .map(|f| (f.name, f.line, f.parameters))
        .collect();
    let expected = [("read", 2, 3), ("own", 6, 1), ("declared", 7, 1), ("typed", 8, 1)];
    assert_eq!(
        found,
        expected.map(|(name, line, n)| (name.to_owned(), line, n)).to_vec()
    );
}

#[test]
fn the_length_scanner_counts_bodies_and_skips_tests_strings_and_declarations() {
    let source = "fn short() {\n    let s = \"}\"; // }\n}\n\
                  trait T { fn declared(&self) -> [u8; 2]; }\n\
                  pub(crate) async fn typed(f: fn(u8)) -> [u8; 2] {\n    f(1);\n    [0, 1]\n}\n\
                  #[cfg(test)]\nmod tests {\n    fn hidden() {}\n}\n";
    let found: Vec<(String, usize, usize)> = lengths::functions(source)
        .into_iter()
        .map(|f| (f.name, f.line, f.lines))
        .collect();
    assert_eq!(found, vec![("short".to_owned(), 1, 3), ("typed".to_owned(), 5, 4)]);
}

#[test]
fn the_path_scanner_finds_paths_and_skips_urls_globs_and_placeholders() {
    let text = "see src/store/layout.rs:23 and `lua/shape.lua:40-44`, store/scripts/.\n\
                not https://example.com/src/x.rs, @ai-sdk/openai, lua/scripts/*.lua, src/{module}.rs,\n\
                src/<service>/, $root/lua/x.lua, docs/... nor xsrc/y";
    let named = |line: usize, path: &str, lines: Option<(usize, usize)>| paths::Named {
        line,
        path: path.to_owned(),
        lines,
    };
    assert_eq!(
        paths::paths_in(text, &paths::starts()),
        vec![
            named(1, "src/store/layout.rs", Some((23, 23))),
            named(1, "lua/shape.lua", Some((40, 44))),
            named(1, "store/scripts/", None),
            named(3, "docs/", None),
        ]
    );
    let bases = paths::bases("src/store/install.rs");
    assert!(paths::resolve("scripts/call.rs", None, &bases).is_ok());
    assert!(paths::resolve("src/store/layout.rs", Some((1, 1_000_000)), &bases).is_err());
    assert!(paths::resolve("lua/library/layouts.lua", None, &bases).is_err());
    let links = paths::links_in("[0057](./0057-x.md#why), [web](https://x.org) and\n[a]: ../y.md");
    assert_eq!(links, vec![(1, "./0057-x.md".to_owned()), (2, "../y.md".to_owned())]);
}

#[test]
fn the_item_scanner_reads_paths_in_code_spans_and_comments() {
    let markdown = "`keys::escape` and `api::paths::percent_decode(s)`, not keys::outside\n```\nx::y\n```\n";
    let found: Vec<(usize, String)> = items::paths_in(markdown, Kind::Markdown)
        .into_iter()
        .map(|(line, p)| (line, p.join("::")))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, "keys::escape".to_owned()),
            (1, "api::paths::percent_decode".to_owned())
        ]
    );
    let comments = "  see store::layout::value_field, a::b::c; not ::x nor 1::2\n";
    assert_eq!(items::paths_in(comments, Kind::Comments).len(), 2);
    let index = Index::build();
    let resolve = |p: &str| index.resolve(&p.split("::").map(String::from).collect::<Vec<_>>());
    for defined in [
        "http::paths::percent_decode",
        "layout::value_field",
        "store::layout::UserKeys",
        "crate::store::Ended",
        "layouts::quick::AVAILABLE",
        "Node::drive",
        "Reply::Stale",
        "faults::skew::skewed_clocks_never_admit_more_than_a_minutes_quota",
    ] {
        assert_eq!(resolve(defined), Resolution::Defined, "{defined}");
    }
    for elsewhere in [
        "serde_json::Value",
        "std::mem::take",
        "Self::Invalid",
        "HeaderValue::from_static",
    ] {
        assert_eq!(resolve(elsewhere), Resolution::Elsewhere, "{elsewhere}");
    }
    for undefined in ["keys::escape", "layout::no_such_thing", "Gateway::no_such_verb"] {
        assert!(matches!(resolve(undefined), Resolution::Undefined(_)), "{undefined}");
    }
}

#[test]
fn a_folder_list_must_name_every_entry_or_say_it_picks() {
    let check = |item: &str| lists::check(item).into_iter().map(|(_, f)| f).collect::<Vec<_>>();
    // lua/ holds layouts.lua and shape.lua, not lua/library/.
    let misplaced = check("- `lua/library/`: `layouts.lua`, `head.lua`, `modules/`, `functions/`.\n");
    assert_eq!(misplaced.len(), 1, "{misplaced:?}");
    assert!(
        misplaced[0].contains("`layouts.lua` is not in lua/library/"),
        "{misplaced:?}"
    );
    let some = check("- `src/webhooks/`: signing (`sign.rs`), the guard (`guard.rs`).\n");
    assert!(
        some.len() == 1 && some[0].contains("event.rs, send.rs missing"),
        "{some:?}"
    );
    assert!(check("- `src/webhooks/`: `sign.rs`, `guard.rs`, ...\n").is_empty());
    assert!(check("- `src/webhooks/`: `sign.rs`, `guard.rs`, `send.rs`, `event.rs`.\n").is_empty());
    // A list that names no entry is a description, not a list.
    assert!(check("- `src/http/`: what `api` and `dashboard` share.\n").is_empty());
    assert_eq!(check("Run `no_such_file.rs`.\n").len(), 1);
}

#[test]
fn comments_are_read_apart_from_code_and_strings() {
    let rust = source::rust_parts("let s = \"src/a.rs\"; // see src/b.rs\n/* c::d */ let c = '\"';\n");
    assert_eq!(
        rust.comments.split_whitespace().collect::<Vec<_>>(),
        ["see", "src/b.rs", "c::d"]
    );
    assert!(rust.code.contains("let c =") && !rust.code.contains("src/"));
    let lua = source::lua_comments("local s = '-- no' -- yes\n--[[ long\nstill ]] x = 1\n");
    assert_eq!(lua.split_whitespace().collect::<Vec<_>>(), ["yes", "long", "still"]);
    let shell = source::hash_comments("echo '#no' \"#no\" # yes\n$# x=${#y} # also\n", false);
    assert_eq!(shell.split_whitespace().collect::<Vec<_>>(), ["yes", "also"]);
    let python = source::hash_comments("\"\"\"Doc\nmore\n\"\"\"\nx = 1  # c\n", true);
    assert_eq!(python.split_whitespace().collect::<Vec<_>>(), ["Doc", "more", "c"]);
}
