//! The length of every Rust function outside tests: from the line of its `fn` to the line of
//! its closing brace, read from the code with comments and strings blanked (`source::rust_parts`),
//! so a brace in a string or a comment never counts. An item under `#[cfg(test)]` (a test
//! module, a test-only function) is not read.

use std::ops::Range;

use crate::source::{rust_parts, Lines};

/// One function: its name, the line its `fn` is on (from 1), and its lines.
#[derive(Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub line: usize,
    pub lines: usize,
}

/// Every function with a body in `source` that is not under `#[cfg(test)]`, nested ones too.
pub fn functions(source: &str) -> Vec<Function> {
    let code = rust_parts(source).code;
    let bytes = code.as_bytes();
    let lines = Lines::of(&code);
    let mut found = Vec::new();
    for item in fn_items(&code) {
        // A declaration without a body (in a trait, or extern) ends at `;`.
        let Some(close) = body_start(bytes, item.after).and_then(|open| matching(bytes, open)) else {
            continue;
        };
        let line = lines.at(item.start);
        found.push(Function {
            name: item.name.to_owned(),
            line,
            lines: lines.at(close) - line + 1,
        });
    }
    found
}

/// A function's `fn` in blanked code: where the keyword starts, where it ends, and the name
/// after it.
pub struct FnItem<'a> {
    pub start: usize,
    pub after: usize,
    pub name: &'a str,
}

/// Every `fn` of `code` (comments and strings blanked) that names a function not under
/// `#[cfg(test)]`: what the length and the parameter checks both read.
pub fn fn_items(code: &str) -> Vec<FnItem<'_>> {
    let bytes = code.as_bytes();
    let tested = tested(code);
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find("fn") {
        let start = at + offset;
        at = start + 2;
        let word_before = start > 0 && is_ident(bytes[start - 1]);
        let Some(name) = name_after(&code[at..]) else {
            continue;
        };
        if word_before || tested.iter().any(|r| r.contains(&start)) {
            continue;
        }
        found.push(FnItem { start, after: at, name });
    }
    found
}

pub fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The name after `fn` when `rest` (what follows the keyword) names one: `fn(u8)` is a type.
fn name_after(rest: &str) -> Option<&str> {
    let trimmed = rest.trim_start();
    if trimmed.len() == rest.len() {
        return None;
    }
    let end = trimmed.bytes().position(|b| !is_ident(b)).unwrap_or(trimmed.len());
    (end > 0).then(|| &trimmed[..end])
}

/// Where the item from `from` opens its body: the first `{` outside parentheses and brackets
/// (`-> [u8; 4]` holds a `;`), or None when a `;` ends it first.
fn body_start(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        match b {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b'{' if depth == 0 => return Some(i),
            b';' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// The brace that closes the one at `open`.
fn matching(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The spans of the items under `#[cfg(test)]`: from the attribute to the item's closing brace.
fn tested(code: &str) -> Vec<Range<usize>> {
    let bytes = code.as_bytes();
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find("#[cfg(test)]") {
        let start = at + offset;
        at = start + "#[cfg(test)]".len();
        if let Some(end) = body_start(bytes, at).and_then(|open| matching(bytes, open)) {
            spans.push(start..end + 1);
        }
    }
    spans
}
