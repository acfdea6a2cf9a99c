//! What one file's code defines, read from its tokens: items, types and their members, inline
//! modules, and the names the crate's own macros spell.

use std::collections::{BTreeMap, BTreeSet};

const KEYWORDS: &[&str] = &[
    "fn", "struct", "enum", "const", "static", "type", "trait", "mod", "union", "unsafe", "async", "extern", "mut",
    "pub", "impl", "use", "where", "for", "let", "dyn",
];

/// What one file's code (comments and strings blanked) defines.
#[derive(Default)]
pub struct Facts {
    /// Items (`fn`, `struct`, ..., `macro_rules!`) and what `pub use` re-exports.
    pub defined: BTreeSet<String>,
    /// Types it defines: `struct`, `enum`, `trait`, `type`, `union`.
    pub types: BTreeSet<String>,
    /// Names in `impl` headers.
    pub implemented: BTreeSet<String>,
    /// Functions, constants and associated types (a type's members when it is here).
    pub members: BTreeSet<String>,
    /// By enum or struct: its variants or fields.
    pub variants: BTreeMap<String, BTreeSet<String>>,
    /// Inline modules: `mod tests {`.
    pub inline: BTreeSet<String>,
    /// Names inside a braced invocation of one of the crate's `macros`.
    pub spelled: BTreeSet<String>,
}

impl Facts {
    pub fn of(code: &str, macros: &BTreeSet<String>) -> Facts {
        let tokens = tokens(code);
        let word = |k: usize| tokens.get(k).map_or("", |t| t.as_str());
        let is_name = |k: usize| {
            let w = word(k);
            w.starts_with(|c: char| c.is_alphabetic() || c == '_') && !KEYWORDS.contains(&w)
        };
        let mut f = Facts::default();
        for k in 0..tokens.len() {
            match word(k) {
                keyword @ ("fn" | "struct" | "enum" | "const" | "static" | "type" | "trait" | "mod" | "union") => {
                    let at = if word(k + 1) == "mut" { k + 2 } else { k + 1 };
                    if !is_name(at) {
                        continue;
                    }
                    let name = word(at).to_owned();
                    if matches!(keyword, "struct" | "enum" | "trait" | "type" | "union") {
                        f.types.insert(name.clone());
                    }
                    if matches!(keyword, "fn" | "const" | "type" | "static") {
                        f.members.insert(name.clone());
                    }
                    if keyword == "mod" && word(at + 1) == "{" {
                        f.inline.insert(name.clone());
                    }
                    if matches!(keyword, "enum" | "struct") {
                        f.variants
                            .insert(name.clone(), members(&tokens, at + 1, keyword == "enum"));
                    }
                    f.defined.insert(name);
                }
                "macro_rules" if word(k + 1) == "!" => {
                    f.defined.insert(word(k + 2).to_owned());
                }
                "impl" => {
                    let mut j = k + 1;
                    while j < tokens.len() && !matches!(word(j), "{" | ";") {
                        if is_name(j) {
                            f.implemented.insert(word(j).to_owned());
                        }
                        j += 1;
                    }
                }
                "use" if word(k.wrapping_sub(1)) == "pub" || word(k.wrapping_sub(1)) == ")" => {
                    let mut j = k + 1;
                    while j < tokens.len() && word(j) != ";" {
                        if is_name(j) {
                            f.defined.insert(word(j).to_owned());
                        }
                        j += 1;
                    }
                }
                "!" if word(k + 1) == "{" && macros.contains(word(k.wrapping_sub(1))) => {
                    let mut depth = 0;
                    for j in k + 1..tokens.len() {
                        match word(j) {
                            "{" => depth += 1,
                            "}" => depth -= 1,
                            _ if is_name(j) => {
                                f.spelled.insert(word(j).to_owned());
                            }
                            _ => {}
                        }
                        if depth == 0 {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        f
    }
}

/// An enum's variants or a struct's fields: from the `{` after `from`, the names that open an
/// entry at its depth (a field's followed by a single `:`).
fn members(tokens: &[String], from: usize, variants: bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Some(open) = tokens[from..]
        .iter()
        .position(|t| t == "{" || t == ";")
        .map(|p| from + p)
    else {
        return found;
    };
    if tokens[open] != "{" {
        return found;
    }
    let (mut depth, mut expect) = (0, true);
    let mut j = open;
    while j < tokens.len() {
        match tokens[j].as_str() {
            "{" | "(" | "[" => {
                depth += 1;
                if depth == 1 {
                    expect = true;
                }
            }
            "}" | ")" | "]" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => expect = true,
            "#" if depth == 1 => {
                // An attribute: skip its brackets.
                let mut inner = 0;
                j += 1;
                while j < tokens.len() {
                    match tokens[j].as_str() {
                        "[" => inner += 1,
                        "]" => inner -= 1,
                        _ => {}
                    }
                    if inner == 0 {
                        break;
                    }
                    j += 1;
                }
            }
            "pub" | "crate" if depth == 1 => {}
            t if depth == 1 && expect && t.starts_with(|c: char| c.is_alphabetic()) => {
                let field = tokens.get(j + 1).is_some_and(|n| n == ":") && tokens.get(j + 2).is_none_or(|n| n != ":");
                if variants || field {
                    found.insert(t.to_owned());
                }
                expect = false;
            }
            _ if depth == 1 => expect = false,
            _ => {}
        }
        j += 1;
    }
    found
}

/// Code as words and single punctuation marks.
pub fn tokens(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut word = c.to_string();
            while let Some(&n) = chars.peek().filter(|n| n.is_alphanumeric() || **n == '_') {
                word.push(n);
                chars.next();
            }
            tokens.push(word);
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    tokens
}
