//! The crate's layers, written down once (`LAYERS`) and checked against every `crate::` path
//! and every `super::` chain that climbs out of its top module, in every file under `src/`.
//! A failure names the file, the line and the edge; the fix is to move the shared type down,
//! never to add the edge. Inside the dashboard, pages import its parts (`DASHBOARD_PARTS`),
//! never each other; inside the gateway, no plane names a plane above it (`PLANES`); inside the
//! proxy, each module imports only floors below its own (`PROXY_FLOORS`). No Redis, no
//! network: it reads the sources.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Who may import whom: each top module of `src/` and the modules it may use (a module may
/// always use itself). Top imports bottom, never the reverse; `api` and `dashboard` never
/// reach `store`. `lib.rs` and `main.rs` only declare and wire, and are not checked.
const LAYERS: &[(&str, &[&str])] = &[
    // The domain: plans, amounts, periods, decisions, account values. Nothing of ours.
    ("quota", &[]),
    ("json", &["quota"]),
    ("secrets", &["quota"]),
    ("metrics", &["quota"]),
    // Redis.
    ("store", &["quota", "json", "secrets", "metrics"]),
    // Standard Webhooks over HTTP: signing, the SSRF guard, one attempt, event bodies.
    ("webhooks", &["quota", "json", "secrets"]),
    // The service layer.
    ("gateway", &["store", "webhooks", "metrics", "secrets", "json", "quota"]),
    // What api and the dashboard share: the app state, errors as problem+json, the code table.
    ("http", &["gateway", "metrics", "secrets", "json", "quota"]),
    ("api", &["http", "gateway", "metrics", "secrets", "json", "quota"]),
    ("dashboard", &["http", "gateway", "secrets", "json", "quota"]),
    // The provider's front door: the gateway's verbs, and what it shares with the API in `http`.
    ("proxy", &["http", "gateway", "metrics", "secrets", "json", "quota"]),
    // Wiring: the command line, start-up, and the tools that talk to a gateway over HTTP.
    ("config", &["store", "webhooks", "proxy"]),
    ("managed_redis", &[]),
    ("apply", &["quota"]),
    ("export", &["quota"]),
    ("simulate", &["quota"]),
    (
        "startup",
        &[
            "config",
            "api",
            "dashboard",
            "proxy",
            "http",
            "gateway",
            "store",
            "webhooks",
            "metrics",
        ],
    ),
];

/// Files that only declare modules or wire the binary.
const EXEMPT: &[&str] = &["lib.rs", "main.rs"];

fn allowed(from: &str, to: &str) -> bool {
    from == to
        || LAYERS
            .iter()
            .any(|(module, uses)| *module == from && uses.contains(&to))
}

/// One `use` of another top module: where, and which.
#[derive(Debug, PartialEq, Eq)]
struct Edge {
    line: usize,
    to: String,
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The source with comments, string literals and character literals blanked (line breaks
/// kept, so line numbers stay), leaving only code to look for paths in.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
        } else if c == 'r' && !prev.is_some_and(|p| is_ident(p) && p != 'b') && matches!(next, Some('"') | Some('#')) {
            // A raw string: r"...", r#"..."#, br"...".
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push(c);
            for _ in i + 1..=j {
                out.push(' ');
            }
            i = j + 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                blank(&mut out, chars[i]);
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    blank(&mut out, chars[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\n', '\'', '\u{..}'; the escaped character may
            // be a quote itself.
            out.push_str("   ");
            i += 3;
            while i < chars.len() && chars[i] != '\'' {
                blank(&mut out, chars[i]);
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A character literal 'x' (a lifetime never closes with a quote).
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Reads an identifier at `i` after spaces; answers it and where it ends.
fn ident_at(chars: &[char], mut i: usize) -> (String, usize) {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    let start = i;
    while i < chars.len() && is_ident(chars[i]) {
        i += 1;
    }
    (chars[start..i].iter().collect(), i)
}

/// Skips spaces and one `::` at `i`; None when there is no `::`.
fn after_colons(chars: &[char], mut i: usize) -> Option<usize> {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    (chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':')).then_some(i + 2)
}

/// The first segment of each path at the crate's root that starts at `i` (just after
/// `crate::` or a `super::` chain that reached the root): one name, or every name of a
/// `{...}` group at its top level.
fn root_names(chars: &[char], i: usize, line_of: &dyn Fn(usize) -> usize, found: &mut Vec<Edge>) {
    let mut j = i;
    while j < chars.len() && chars[j].is_whitespace() {
        j += 1;
    }
    if chars.get(j) != Some(&'{') {
        let (name, _) = ident_at(chars, j);
        if !name.is_empty() {
            found.push(Edge {
                line: line_of(j),
                to: name,
            });
        }
        return;
    }
    let mut depth = 0;
    let mut expect_name = false;
    while j < chars.len() {
        match chars[j] {
            '{' => {
                depth += 1;
                expect_name = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            ',' if depth == 1 => expect_name = true,
            c if expect_name && is_ident(c) => {
                let (name, end) = ident_at(chars, j);
                found.push(Edge {
                    line: line_of(j),
                    to: name,
                });
                expect_name = false;
                j = end;
                continue;
            }
            c if !c.is_whitespace() => expect_name = false,
            _ => {}
        }
        j += 1;
    }
}

/// Every top module named by a path in `source`, a file of module `module_path` (`["api",
/// "dto"]` for `src/api/dto/mod.rs`): `crate::x`, `crate::{x, y}`, and `super::` chains that
/// climb to the crate's root.
fn edges(source: &str, module_path: &[String]) -> Vec<Edge> {
    let code = code_only(source);
    let chars: Vec<char> = code.chars().collect();
    let mut line_starts = vec![0];
    line_starts.extend(
        chars
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == '\n')
            .map(|(i, _)| i + 1),
    );
    let line_of = |at: usize| line_starts.partition_point(|start| *start <= at);
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_token = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == '$');
        if !starts_token || !is_ident(chars[i]) {
            i += 1;
            continue;
        }
        let (word, end) = ident_at(&chars, i);
        // A path's first segment only: `a::crate` is not the crate.
        let mut k = i;
        while k > 0 && chars[k - 1].is_whitespace() {
            k -= 1;
        }
        let continues = k >= 2 && chars[k - 1] == ':' && chars[k - 2] == ':';
        if !continues && word == "crate" {
            if let Some(next) = after_colons(&chars, end) {
                root_names(&chars, next, &line_of, &mut found);
            }
        } else if !continues && word == "super" {
            let (mut ups, mut at) = (1, end);
            while let Some(next) = after_colons(&chars, at) {
                let (segment, segment_end) = ident_at(&chars, next);
                if segment != "super" {
                    break;
                }
                ups += 1;
                at = segment_end;
            }
            if ups >= module_path.len() {
                if let Some(next) = after_colons(&chars, at) {
                    root_names(&chars, next, &line_of, &mut found);
                }
            }
        }
        i = end;
    }
    found
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `src/api/dto/mod.rs` -> `["api", "dto"]`, `src/json.rs` -> `["json"]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

#[test]
fn every_import_follows_the_layer_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let top_modules: BTreeSet<String> = files
        .iter()
        .map(|f| f.strip_prefix(&src).unwrap())
        .filter(|r| !EXEMPT.iter().any(|e| Path::new(e) == *r))
        .map(|r| module_path(r)[0].clone())
        .collect();
    let mut failures = Vec::new();
    for module in &top_modules {
        if !LAYERS.iter().any(|(m, _)| m == module) {
            failures.push(format!("src/{module}: a top module with no row in LAYERS; give it one"));
        }
    }
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        if EXEMPT.iter().any(|e| Path::new(e) == relative) {
            continue;
        }
        let path = module_path(relative);
        let source = fs::read_to_string(file).unwrap();
        for edge in edges(&source, &path) {
            if top_modules.contains(&edge.to) && !allowed(&path[0], &edge.to) {
                failures.push(format!(
                    "src/{}:{}: {} -> {} is not an allowed edge",
                    relative.display(),
                    edge.line,
                    path[0],
                    edge.to
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "imports against the layer table (tests/layers.rs, LAYERS):\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_table_has_no_cycle() {
    // Depth-first from each module; meeting a module on the current path is a cycle.
    fn visit<'a>(module: &'a str, path: &mut Vec<&'a str>) {
        assert!(
            !path.contains(&module),
            "a cycle in LAYERS: {} -> {module}",
            path.join(" -> ")
        );
        path.push(module);
        let uses = LAYERS.iter().find(|(m, _)| *m == module).map_or(&[][..], |(_, u)| u);
        for next in uses.iter() {
            visit(next, path);
        }
        path.pop();
    }
    for (module, _) in LAYERS {
        visit(module, &mut Vec::new());
    }
}

#[test]
fn the_scanner_finds_paths_and_ignores_comments_and_strings() {
    let source = r##"
//! Mentions crate::store in a doc comment.
use crate::quota::Milli;
use crate::{
    json::Json,
    secrets::{self, digest},
};
/* crate::api in a block comment */
fn f() -> String {
    let url = "https://crate::dashboard";
    let raw = r#"crate::http"#;
    let c = '"'; let q = '\'';
    let _ = crate::metrics::Fixed::RedisCalls;
    let _ = super::super::gateway::Gateway::new;
    format!("{c}{q}{url}{raw}")
}
"##;
    let found: Vec<(usize, String)> = edges(source, &["api".into(), "dto".into()])
        .into_iter()
        .map(|e| (e.line, e.to))
        .collect();
    let expected = [
        (3, "quota"),
        (5, "json"),
        (6, "secrets"),
        (13, "metrics"),
        (14, "gateway"),
    ];
    assert_eq!(
        found,
        expected.map(|(l, m)| (l, m.to_string())),
        "{}",
        code_only(source)
    );
    // One `super` from `api::dto` stays inside `api`.
    assert!(edges("use super::error::ApiError;", &["api".into(), "dto".into()]).is_empty());
}

/// The modules of `src/dashboard` that pages share: links, forms, the session's checks, the
/// frame, tables and cells. Everything under a listed module is a part; every other module of
/// `src/dashboard` (a file, or a folder with its files) is a page. A page imports parts, never
/// another page; a part imports parts only. `dashboard/mod.rs` only routes, and is not checked.
const DASHBOARD_PARTS: &[&str] = &["parts"];

/// Reads the paths of a `use` tree at `i` (just after `prefix::`), each as its first `want`
/// segments at most: `{a::b, c::{self, d}}` under `x` gives `x::a::b`, `x::c`, `x::c::d`.
/// Answers the paths (each with where it starts) and where the tree ends.
fn use_tree(chars: &[char], i: usize, prefix: &[String], want: usize, out: &mut Vec<(usize, Vec<String>)>) -> usize {
    let mut j = i;
    while j < chars.len() && chars[j].is_whitespace() {
        j += 1;
    }
    if chars.get(j) != Some(&'{') {
        let (name, end) = ident_at(chars, j);
        if name.is_empty() || name == "self" {
            // `*`, or `self` in a group: the prefix itself.
            out.push((j, prefix.to_vec()));
            return end.max(j);
        }
        let mut path = prefix.to_vec();
        path.push(name);
        match after_colons(chars, end) {
            Some(next) if path.len() < want => use_tree(chars, next, &path, want, out),
            _ => {
                out.push((j, path));
                end
            }
        }
    } else {
        // A group: each item in turn, skipping what follows one up to its comma.
        j += 1;
        loop {
            j = use_tree(chars, j, prefix, want, out);
            let mut depth = 0;
            while j < chars.len() {
                match chars[j] {
                    '{' => depth += 1,
                    '}' if depth == 0 => return j + 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => break,
                    _ => {}
                }
                j += 1;
            }
            j += 1;
            let mut k = j;
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            // A trailing comma closes the group.
            if chars.get(k) == Some(&'}') {
                return k + 1;
            }
            if j >= chars.len() {
                return j;
            }
        }
    }
}

/// The modules of `src/dashboard` that `source`, a file of module `module_path`, names through
/// `crate::dashboard::x`, `super::x` or `self::x` paths, resolved from the module each path is
/// written in (an inline `mod tests { use super::*; }` names its own file): each as the first
/// segment under `dashboard`, with its line.
fn dashboard_imports(source: &str, module_path: &[String]) -> Vec<(usize, String)> {
    imports_under("dashboard", source, module_path)
}

/// The modules of `src/{top}` that `source`, a file of module `module_path`, names through
/// `crate::{top}::x`, `super::x` or `self::x` paths, resolved as `dashboard_imports` says.
fn imports_under(top: &str, source: &str, module_path: &[String]) -> Vec<(usize, String)> {
    let code = code_only(source);
    let chars: Vec<char> = code.chars().collect();
    let line_of = |at: usize| chars[..at].iter().filter(|c| **c == '\n').count() + 1;
    // Inline modules open here: each one's name and the brace depth outside it.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if inline.last().is_some_and(|(_, outside)| *outside == depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        let starts_token = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == '$');
        if !starts_token || !is_ident(chars[i]) {
            i += 1;
            continue;
        }
        let (word, end) = ident_at(&chars, i);
        let mut k = i;
        while k > 0 && chars[k - 1].is_whitespace() {
            k -= 1;
        }
        let continues = k >= 2 && chars[k - 1] == ':' && chars[k - 2] == ':';
        if word == "mod" {
            let (name, after) = ident_at(&chars, end);
            let mut b = after;
            while b < chars.len() && chars[b].is_whitespace() {
                b += 1;
            }
            if !name.is_empty() && chars.get(b) == Some(&'{') {
                inline.push((name, depth));
            }
        }
        let here: Vec<String> = module_path
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        let base = match word.as_str() {
            _ if continues => None,
            "crate" => Some(Vec::new()),
            "self" => Some(here.clone()),
            "super" => {
                let (mut ups, mut at) = (1, end);
                while let Some(next) = after_colons(&chars, at) {
                    let (segment, segment_end) = ident_at(&chars, next);
                    if segment != "super" {
                        break;
                    }
                    ups += 1;
                    at = segment_end;
                }
                i = at;
                (ups <= here.len()).then(|| here[..here.len() - ups].to_vec())
            }
            _ => None,
        };
        let after = if word == "super" { i } else { end };
        if let (Some(base), Some(next)) = (base, after_colons(&chars, after)) {
            let mut paths = Vec::new();
            use_tree(&chars, next, &base, 2, &mut paths);
            for (at, path) in paths {
                if path.len() >= 2 && path[0] == top {
                    found.push((line_of(at), path[1].clone()));
                }
            }
        }
        i = end.max(after);
    }
    found
}

#[test]
fn dashboard_pages_import_parts_never_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let dashboard = root.join("dashboard");
    let mut files = Vec::new();
    rust_files(&dashboard, &mut files);
    let modules: Vec<(PathBuf, Vec<String>)> = files
        .into_iter()
        .map(|f| {
            let path = module_path(f.strip_prefix(&root).unwrap());
            (f, path)
        })
        .collect();
    // Each module of src/dashboard: a file, or a folder with everything in it.
    let units: BTreeSet<&str> = modules
        .iter()
        .filter_map(|(_, p)| p.get(1))
        .map(String::as_str)
        .collect();
    let mut failures = Vec::new();
    for part in DASHBOARD_PARTS {
        if !units.contains(part) {
            failures.push(format!(
                "DASHBOARD_PARTS names {part}, which is no module of src/dashboard"
            ));
        }
    }
    for (file, path) in &modules {
        let Some(from) = path.get(1) else {
            continue;
        };
        let from_part = DASHBOARD_PARTS.contains(&from.as_str());
        let source = fs::read_to_string(file).unwrap();
        for (line, to) in dashboard_imports(&source, path) {
            if to == *from || !units.contains(to.as_str()) || DASHBOARD_PARTS.contains(&to.as_str()) {
                continue;
            }
            let relative = file.strip_prefix(&root).unwrap().display();
            failures.push(if from_part {
                format!("src/{relative}:{line}: the part {from} imports the page {to}; a part imports only parts")
            } else {
                format!(
                    "src/{relative}:{line}: the page {from} imports the page {to}; move what they share into a part"
                )
            });
        }
    }
    assert!(
        failures.is_empty(),
        "dashboard imports against its parts (tests/layers.rs, DASHBOARD_PARTS):\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_dashboard_scanner_resolves_paths_from_where_they_are_written() {
    let source = r#"
use super::parts::{links::user_link, layout::{self, page}};
use super::{notice::{self, Notice}, users,};
use crate::dashboard::users::query;
use crate::{dashboard::{confirm, diff::Line}, http::ApiError};
fn f() { let _ = super::prices::typical_costs; }
mod tests {
    use super::*;
    use super::super::runs;
}
"#;
    let found = dashboard_imports(source, &["dashboard".into(), "plans".into()]);
    let expected = [
        (2, "parts"),
        (3, "notice"),
        (3, "users"),
        (4, "users"),
        (5, "confirm"),
        (5, "diff"),
        (6, "prices"),
        (8, "plans"),
        (9, "runs"),
    ];
    assert_eq!(found, expected.map(|(l, m)| (l, m.to_string())));
    // From a page's folder, `super` names the page itself and `super::super` the dashboard.
    let nested = dashboard_imports(
        "use super::answer; use super::super::parts::forms::form;",
        &["dashboard".into(), "user".into(), "actions".into()],
    );
    assert_eq!(nested, [(1, "user".to_string()), (1, "parts".to_string())]);
}

/// The gateway's planes, each with the types of the planes above it, which its code never
/// names: a plane holds only the planes it calls, so it could reach one above it only by
/// building one (or a `Gateway`), and that would name it. The console and the lab stand on the
/// node alone.
const PLANES: &[(&str, &[&str])] = &[
    ("data", &["Gateway", "Workers", "Accounts"]),
    ("workers", &["Gateway", "Accounts"]),
    ("accounts", &["Gateway"]),
    ("console", &["Gateway", "DataPlane", "Workers", "Accounts"]),
    ("lab", &["Gateway", "DataPlane", "Workers", "Accounts"]),
];

#[test]
fn no_plane_of_the_gateway_names_a_plane_above_it() {
    let gateway = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gateway");
    let mut failures = Vec::new();
    for (plane, above) in PLANES {
        let mut files = Vec::new();
        rust_files(&gateway.join(plane), &mut files);
        for file in files {
            let code = code_only(&fs::read_to_string(&file).unwrap());
            for (n, line) in code.lines().enumerate() {
                let words = line.split(|c: char| !is_ident(c));
                for word in words.filter(|w| above.contains(w)) {
                    failures.push(format!(
                        "src/gateway/{}:{}: the {plane} plane names {word}",
                        file.strip_prefix(&gateway).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "planes reaching up (tests/layers.rs, PLANES):\n{}",
        failures.join("\n")
    );
}

/// The proxy's floors: each module of `src/proxy` (a file, or a folder with its files, which
/// import each other freely: it is one room) and its floor. A module imports only modules on
/// floors below its own, so no phase imports another and nothing imports the sequences.
/// `mod.rs` declares the modules and is the call's sequence, on top.
const PROXY_FLOORS: &[(&str, u8)] = &[
    // 1. The vocabulary (the call, its context and hold, who pays, usage, the upstreams, the
    //    paths of jobs, what a wire format answers) and the small tools that know no call.
    ("call", 1),
    ("array", 1),
    ("budget", 1),
    ("counting", 1),
    ("drains", 1),
    ("duration", 1),
    ("eventstream", 1),
    ("multipart", 1),
    ("paths", 1),
    ("reported", 1),
    ("splice", 1),
    // 2. The wire formats, and what speaks the vocabulary beside them: the door service, the
    //    caller's body and headers, the provider's answers, the gateway's own answers, the
    //    rules of retries and fallbacks, traces, and the framing of streams.
    ("wire", 2),
    ("door", 2),
    ("body", 2),
    ("headers", 2),
    ("provider", 2),
    ("answer", 2),
    ("fallback", 2),
    ("retry", 2),
    ("trace", 2),
    ("sse", 2),
    ("delivered", 2),
    // 3. The phases, each a file of `Door`'s methods; and the upstreams file, read at start.
    ("identify", 3),
    ("understand", 3),
    ("hold", 3),
    ("forward", 3),
    ("read", 3),
    ("relay", 3),
    ("settle", 3),
    ("chain", 3),
    ("upstreams", 3),
    // 4. The sequences, which order the phases: a job's, then a call's, which hands a job's
    //    path to the job's.
    ("jobs", 4),
    ("realtime", 4),
    ("mod", 5),
];

/// The floor of a module of `src/proxy`.
fn proxy_floor(module: &str) -> Option<u8> {
    PROXY_FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

#[test]
fn every_proxy_import_runs_down_its_floors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join("proxy"), &mut files);
    let mut failures = Vec::new();
    let mut units = BTreeSet::new();
    for file in &files {
        let path = module_path(file.strip_prefix(&root).unwrap());
        let from = path.get(1).map_or("mod", String::as_str).to_string();
        units.insert(from.clone());
        let relative = file.strip_prefix(&root).unwrap().display().to_string();
        let Some(floor) = proxy_floor(&from) else {
            failures.push(format!(
                "src/{relative}: {from} has no row in PROXY_FLOORS; give it its floor"
            ));
            continue;
        };
        let source = fs::read_to_string(file).unwrap();
        for (line, to) in imports_under("proxy", &source, &path) {
            if to == from {
                continue;
            }
            match proxy_floor(&to) {
                Some(below) if below < floor => {}
                Some(other) => failures.push(format!(
                    "src/{relative}:{line}: {from} (floor {floor}) imports {to} (floor {other}); a module imports only floors below its own"
                )),
                None => failures.push(format!("src/{relative}:{line}: {from} imports {to}, which has no row in PROXY_FLOORS")),
            }
        }
    }
    for (module, _) in PROXY_FLOORS {
        if !units.contains(*module) {
            failures.push(format!("PROXY_FLOORS names {module}, which is no module of src/proxy"));
        }
    }
    assert!(
        failures.is_empty(),
        "proxy imports against its floors (tests/layers.rs, PROXY_FLOORS):\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_proxy_scanner_names_each_import_by_its_module_under_the_proxy() {
    let source = r#"
use super::call::context::Ctx;
use super::{answer, door::Door};
use crate::proxy::body::{self, Body};
use crate::http::ApiError;
fn f() { let _ = super::provider::head; }
mod tests {
    use super::*;
}
"#;
    let found = imports_under("proxy", source, &["proxy".into(), "hold".into()]);
    let expected = [
        (2, "call"),
        (3, "answer"),
        (3, "door"),
        (4, "body"),
        (6, "provider"),
        (8, "hold"),
    ];
    assert_eq!(found, expected.map(|(l, m)| (l, m.to_string())));
    // From a folder's file, `super::super` is the proxy, `super` the folder itself.
    let nested = imports_under(
        "proxy",
        "use super::super::door::Door; use super::shapes;",
        &["proxy".into(), "jobs".into(), "submit".into()],
    );
    assert_eq!(nested, [(1, "door".to_string()), (1, "jobs".to_string())]);
}
