//! `<module>::<item>` paths: the crate's modules (and the test binaries') and what each defines,
//! read from the sources' code, and whether a path a text names is defined.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::defs::{tokens, Facts};
use crate::source::{files_under, root, rust_parts, Kind, Lines};

/// Which tree a module is of.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Tree {
    /// The crate: `src/`.
    Crate,
    /// A test binary: `tests/it/`, `tests/layers.rs`, ...
    Tests,
}

/// One module: its path from its tree's root and the names its files define.
struct Module {
    tree: Tree,
    path: Vec<String>,
    /// Defined in its file (or, for a folder, in any file under it): items, re-exports, and
    /// the names a macro invocation with braces spells (`packed! { quick as "QUICK" {...} }`).
    defined: BTreeSet<String>,
    /// Its own file's (not its files' below it): inline modules (`mod tests {`), what its
    /// macro invocations with braces spell (where a macro may make a module), and its items.
    inline: BTreeSet<String>,
    spelled: BTreeSet<String>,
    own: BTreeSet<String>,
}

/// A type's members: the functions, constants, variants and fields of the files that define or
/// implement it.
#[derive(Default)]
struct Members(BTreeSet<String>);

/// Every module of the crate and of the tests, and every type of ours with its members.
pub struct Index {
    modules: Vec<Module>,
    /// By type name: every member named in a file that defines or implements it.
    types: BTreeMap<String, Members>,
    /// Crates the lockfile names (`serde_json`, `tokio`, `http`), and the standard ones.
    crates: BTreeSet<String>,
}

/// What became of one path.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    Defined,
    /// Not ours to check: another crate's, `self`/`super`/`Self`, or a type not of ours.
    Elsewhere,
    Undefined(String),
}

/// The standard crates and the primitive types, whose paths are Rust's.
const STANDARD: &str = "std core alloc proc_macro str bool char f32 f64 \
                        u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize";

impl Index {
    pub fn build() -> Index {
        let mut files = Vec::new();
        for path in files_under("src").into_iter().filter(|p| is_rust(p)) {
            let module = module_path(path.strip_prefix(root().join("src")).unwrap());
            files.push((Tree::Crate, module, path));
        }
        for path in files_under("tests").into_iter().filter(|p| is_rust(p)) {
            let inside = path.strip_prefix(root().join("tests")).unwrap();
            // A binary's own folder is its root (tests/it/main.rs), a lone file is a module.
            let module = match inside.iter().count() {
                1 => module_path(inside),
                _ => module_path(&inside.iter().skip(1).collect::<std::path::PathBuf>()),
            };
            files.push((Tree::Tests, module, path));
        }
        let codes: Vec<String> = files
            .iter()
            .map(|(_, _, path)| rust_parts(&fs::read_to_string(path).unwrap()).code)
            .collect();
        // The crate's own macros, whose braced invocations may make modules and items.
        let macros: BTreeSet<String> = codes
            .iter()
            .flat_map(|code| {
                let t = tokens(code);
                (0..t.len().saturating_sub(2))
                    .filter(|&k| t[k] == "macro_rules" && t[k + 1] == "!")
                    .map(|k| t[k + 2].clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut facts = Vec::new();
        let mut types: BTreeMap<String, Members> = BTreeMap::new();
        for ((tree, module, _), code) in files.iter().zip(&codes) {
            let f = Facts::of(code, &macros);
            for name in f.types.iter().chain(&f.implemented) {
                let members = types.entry(name.clone()).or_default();
                members.0.extend(f.members.iter().cloned());
                members.0.extend(f.spelled.iter().cloned());
                if let Some(variants) = f.variants.get(name) {
                    members.0.extend(variants.iter().cloned());
                }
            }
            facts.push((*tree, module.clone(), f));
        }
        // Only types this crate defines: an `impl Display for X` does not make Display ours.
        let defined_types: BTreeSet<String> = facts.iter().flat_map(|(_, _, f)| f.types.iter().cloned()).collect();
        types.retain(|name, _| defined_types.contains(name));
        let mut paths: BTreeSet<(Tree, Vec<String>)> = BTreeSet::new();
        for (tree, module, _) in &facts {
            for depth in 0..=module.len() {
                paths.insert((*tree, module[..depth].to_vec()));
            }
        }
        let modules = paths
            .into_iter()
            .map(|(tree, path)| {
                let mut module = Module {
                    tree,
                    path,
                    defined: BTreeSet::new(),
                    inline: BTreeSet::new(),
                    spelled: BTreeSet::new(),
                    own: BTreeSet::new(),
                };
                for (t, m, f) in &facts {
                    if *t == tree && m.starts_with(&module.path) {
                        module.defined.extend(f.defined.iter().cloned());
                        module.defined.extend(f.spelled.iter().cloned());
                    }
                    if *t == tree && *m == module.path {
                        module.inline.extend(f.inline.iter().cloned());
                        module.spelled.extend(f.spelled.iter().cloned());
                        module.own.extend(f.defined.iter().chain(&f.spelled).cloned());
                    }
                }
                module
            })
            .collect();
        let lock = fs::read_to_string(root().join("Cargo.lock")).unwrap();
        let mut crates: BTreeSet<String> = lock
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .map(|name| name.trim_end_matches('"').replace('-', "_"))
            .collect();
        crates.extend(STANDARD.split_whitespace().map(String::from));
        Index { modules, types, crates }
    }

    /// Whether `path` (its segments) names something defined.
    pub fn resolve(&self, path: &[String]) -> Resolution {
        let first = path[0].as_str();
        if matches!(first, "self" | "super" | "Self") || first.starts_with('_') {
            return Resolution::Elsewhere;
        }
        // A placeholder: `a::b`, `crate::x`.
        if path.iter().any(|segment| segment.len() == 1) {
            return Resolution::Elsewhere;
        }
        if matches!(first, "crate" | "quota_gateway") {
            let root = self.module(Tree::Crate, &[]).unwrap();
            return self.within(root, &path[1..]);
        }
        if first.starts_with(|c: char| c.is_ascii_uppercase()) {
            return match self.types.get(first) {
                Some(members) if members.0.contains(&path[1]) => Resolution::Defined,
                Some(_) => Resolution::Undefined(format!("{first} has no {}", path[1])),
                None => Resolution::Elsewhere,
            };
        }
        let candidates: Vec<&Module> = self
            .modules
            .iter()
            .filter(|m| m.path.last().is_some_and(|l| l == first))
            .collect();
        if candidates.is_empty() {
            // An inline or macro-made module (`quick` of `packed! {...}`): its names count as
            // those of the module it is in.
            let last = path.last().unwrap();
            let mut within = self
                .modules
                .iter()
                .filter(|m| m.inline.contains(first) || m.spelled.contains(first));
            return if within.any(|m| m.own.contains(last)) {
                Resolution::Defined
            } else if self.crates.contains(first) {
                Resolution::Elsewhere
            } else {
                Resolution::Undefined(format!("no module {first} in src/ or tests/"))
            };
        }
        let mut reasons = Vec::new();
        for module in candidates {
            match self.within(module, &path[1..]) {
                Resolution::Defined => return Resolution::Defined,
                Resolution::Undefined(why) => reasons.push(why),
                Resolution::Elsewhere => {}
            }
        }
        // A name both ours and a crate's (`http`) that is not ours here is the crate's.
        if self.crates.contains(first) {
            return Resolution::Elsewhere;
        }
        Resolution::Undefined(reasons.join("; "))
    }

    fn module(&self, tree: Tree, path: &[String]) -> Option<&Module> {
        self.modules.iter().find(|m| m.tree == tree && m.path == path)
    }

    /// Whether `rest` is defined within `module`.
    fn within(&self, module: &Module, rest: &[String]) -> Resolution {
        let Some(name) = rest.first() else {
            return Resolution::Defined;
        };
        let mut child = module.path.clone();
        child.push(name.clone());
        if let Some(child) = self.module(module.tree, &child) {
            return self.within(child, &rest[1..]);
        }
        let here = format!(
            "{}{}",
            if module.tree == Tree::Tests { "tests:" } else { "" },
            module.path.join("::")
        );
        if rest.len() == 1 {
            return if module.defined.contains(name) {
                Resolution::Defined
            } else {
                Resolution::Undefined(format!("{here} defines no {name}"))
            };
        }
        let last = rest.last().unwrap();
        if module.inline.contains(name) || (module.spelled.contains(name) && !is_type(name)) {
            // An inline or macro-made module: its names count as the file's.
            return if module.own.contains(last) {
                Resolution::Defined
            } else {
                Resolution::Undefined(format!("{here}::{name} defines no {last}"))
            };
        }
        if is_type(name) && module.defined.contains(name) {
            return match self.types.get(name) {
                Some(members) if members.0.contains(&rest[1]) => Resolution::Defined,
                _ => Resolution::Undefined(format!("{here}::{name} has no {}", rest[1])),
            };
        }
        Resolution::Undefined(format!("{here} has no module or type {name}"))
    }
}

fn is_type(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
}

fn is_rust(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "rs")
}

/// `store/layout.rs` -> `["store", "layout"]`; `api/dto/mod.rs` -> `["api", "dto"]`;
/// `lib.rs`, `main.rs` -> `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.len() == 1 && matches!(parts[0].as_str(), "lib" | "main") {
        parts.pop();
    }
    if parts.last().is_some_and(|p| p == "mod" || p == "main") {
        parts.pop();
    }
    parts
}

/// Every `a::b` path a text names, with its line: in Markdown, in code spans outside fenced
/// blocks; in comments, anywhere.
pub fn paths_in(text: &str, kind: Kind) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    match kind {
        Kind::Comments => {
            let lines = Lines::of(text);
            for (at, path) in scan(text) {
                found.push((lines.at(at), path));
            }
        }
        Kind::Markdown => {
            let mut fenced = false;
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
                    fenced = !fenced;
                    continue;
                }
                if fenced {
                    continue;
                }
                for span in line.split('`').skip(1).step_by(2) {
                    found.extend(scan(span).into_iter().map(|(_, path)| (n + 1, path)));
                }
            }
        }
    }
    found
}

/// `a::b::c` paths of two segments or more in `text`, with their byte offsets.
fn scan(text: &str) -> Vec<(usize, Vec<String>)> {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let opens = ident(bytes[i])
            && !bytes[i].is_ascii_digit()
            && (i == 0 || !(ident(bytes[i - 1]) || matches!(bytes[i - 1], b':' | b'.' | b'$' | b'\'')));
        if !opens {
            i += 1;
            continue;
        }
        let start = i;
        let mut segments = Vec::new();
        loop {
            let from = i;
            while i < bytes.len() && ident(bytes[i]) {
                i += 1;
            }
            segments.push(text[from..i].to_owned());
            let more =
                text[i..].starts_with("::") && bytes.get(i + 2).is_some_and(|&b| ident(b) && !b.is_ascii_digit());
            if !more {
                break;
            }
            i += 2;
        }
        if segments.len() >= 2 {
            found.push((start, segments));
        }
    }
    found
}
