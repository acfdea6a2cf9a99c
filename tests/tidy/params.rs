//! The parameters of every Rust function outside tests, counted in its signature read from the
//! code with comments and strings blanked (`source::rust_parts`): the items between the commas
//! at the top of its parentheses, `self` in any of its forms not counted. A pattern
//! (`(hold, alive): (Hold, KeepAlive)`) is one parameter, as is a closure's type
//! (`impl Fn(u8, u8)`); a closure itself is no function.

use crate::lengths::{fn_items, is_ident};
use crate::source::{rust_parts, Lines};

/// One function: its name, the line its `fn` is on (from 1), and its parameters, `self` aside.
#[derive(Debug, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub line: usize,
    pub parameters: usize,
}

/// Every function's signature in `source` that is not under `#[cfg(test)]`, declarations and
/// nested ones too.
pub fn signatures(source: &str) -> Vec<Signature> {
    let code = rust_parts(source).code;
    let bytes = code.as_bytes();
    let lines = Lines::of(&code);
    let mut found = Vec::new();
    for item in fn_items(&code) {
        let after_name = item.after + code[item.after..].find(item.name).unwrap_or(0) + item.name.len();
        let Some(list) = parameter_list(bytes, after_name) else {
            continue;
        };
        found.push(Signature {
            name: item.name.to_owned(),
            line: lines.at(item.start),
            parameters: parameters(&code[list]),
        });
    }
    found
}

/// Where a signature's parameters lie, from just after its name: past its generics (`<…>`),
/// the text inside its parentheses.
fn parameter_list(bytes: &[u8], from: usize) -> Option<std::ops::Range<usize>> {
    let mut at = from;
    while bytes.get(at)?.is_ascii_whitespace() {
        at += 1;
    }
    if bytes[at] == b'<' {
        at = closing(bytes, at)? + 1;
        while bytes.get(at)?.is_ascii_whitespace() {
            at += 1;
        }
    }
    if bytes[at] != b'(' {
        return None;
    }
    Some(at + 1..closing(bytes, at)?)
}

/// The bracket that closes the one at `open` (`(`, `[`, `{` or `<`), any of them nested
/// between; the `>` of an arrow (`->`) closes nothing.
fn closing(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'(' | b'[' | b'{' | b'<' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b')' | b']' | b'}' | b'>' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The parameters in the text between a signature's parentheses, `self` aside.
fn parameters(list: &str) -> usize {
    let bytes = list.as_bytes();
    let mut items = Vec::new();
    let (mut depth, mut begun) = (0usize, 0);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' | b'[' | b'{' | b'<' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b')' | b']' | b'}' | b'>' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                items.push(&list[begun..i]);
                begun = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[begun..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty() && !is_self(item))
        .count()
}

/// Whether a parameter is the receiver: `self`, `mut self`, `&self`, `&'a mut self`,
/// `self: Arc<Self>`.
fn is_self(item: &str) -> bool {
    let mut rest = item.trim_start_matches('&').trim_start();
    if rest.starts_with('\'') {
        rest = rest[1..]
            .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_')
            .trim_start();
    }
    rest = rest.strip_prefix("mut ").map_or(rest, str::trim_start);
    rest.strip_prefix("self")
        .is_some_and(|after| !after.bytes().next().is_some_and(is_ident))
}
