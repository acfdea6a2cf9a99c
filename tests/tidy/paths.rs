//! Paths a text names: the words that start like one of the repository's paths, with their
//! `:line`, and Markdown's link targets; and whether each resolves.

use std::fs;
use std::path::Path;

use crate::source::{root, Lines};

/// A path as a text names it.
#[derive(Debug, PartialEq, Eq)]
pub struct Named {
    pub line: usize,
    pub path: String,
    /// The lines a `:12` or `:12-20` after it names.
    pub lines: Option<(usize, usize)>,
}

/// The first parts a path is recognised by: the root's folders that hold code or docs, and the
/// folders of `src/` (`store/layout.rs` as ARCHITECTURE writes it).
pub fn starts() -> Vec<String> {
    let mut starts: Vec<String> = ["src", "lua", "docs", "scripts", "tests", "sdk"]
        .map(String::from)
        .into();
    for entry in fs::read_dir(root().join("src")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            starts.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    starts
}

/// Folders builds write, which the repository does not hold.
const BUILT: &[&str] = &["target", "dist", "node_modules"];

fn in_path(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

/// Every path `text` names: a word that opens with one of `starts` and a `/`, and that is
/// neither inside a word, a URL or an `@scope/package` (it follows a letter, `/`, `-`, `.`, `@`,
/// `$` or `~`) nor a placeholder or a glob (it runs into `{`, `<`, `*`, `$` or `[`).
pub fn paths_in(text: &str, starts: &[String]) -> Vec<Named> {
    let lines = Lines::of(text);
    let bytes = text.as_bytes();
    let with_slash: Vec<String> = starts.iter().map(|s| format!("{s}/")).collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let opens = bytes[i].is_ascii_lowercase()
            && (i == 0
                || !matches!(bytes[i - 1], b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'/' | b'-' | b'.' | b'@' | b'$' | b'~' | b'\\'));
        let start = opens
            .then(|| with_slash.iter().find(|s| text[i..].starts_with(s.as_str())))
            .flatten()
            .map(|s| &s[..s.len() - 1]);
        let Some(start) = start else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let mut end = i + start.len() + 1;
        // `http/1.1` is no path.
        let version = bytes.get(end).is_some_and(u8::is_ascii_digit);
        while end < text.len() && in_path(bytes[end] as char) {
            end += 1;
        }
        let placeholder = matches!(bytes.get(end), Some(b'{' | b'<' | b'*' | b'$' | b'['));
        // What a build writes is not in the repository.
        let built = text[i..end].split('/').any(|part| BUILT.contains(&part));
        let path = text[i..end].trim_end_matches(['.', '-']).to_owned();
        let line_numbers = line_suffix(&text[end..]);
        if !placeholder && !version && !built && !path.contains("..") {
            found.push(Named {
                line: lines.at(i),
                path,
                lines: line_numbers,
            });
        }
        i = end;
    }
    found
}

/// `:12` or `:12-20` at the start of `rest`.
fn line_suffix(rest: &str) -> Option<(usize, usize)> {
    let rest = rest.strip_prefix(':')?;
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).collect::<String>();
    let from = digits(rest);
    let first: usize = from.parse().ok()?;
    let after = &rest[from.len()..];
    let last = after
        .strip_prefix('-')
        .map(digits)
        .and_then(|d| d.parse().ok())
        .unwrap_or(first);
    Some((first, last))
}

/// Markdown link targets in `text` that are files of the repository: `[text](target)` and
/// `[name]: target`, but URLs, `mailto:` and anchors of the same page.
pub fn links_in(text: &str) -> Vec<(usize, String)> {
    let lines = Lines::of(text);
    let mut found = Vec::new();
    let mut push = |at: usize, target: &str| {
        let target = target.split_whitespace().next().unwrap_or("").trim_matches(['<', '>']);
        let target = target.split('#').next().unwrap_or("");
        if !target.is_empty() && !target.contains(':') {
            found.push((lines.at(at), target.to_owned()));
        }
    };
    let mut from = 0;
    while let Some(at) = text[from..].find("](") {
        let start = from + at + 2;
        let end = text[start..].find(')').map_or(text.len(), |e| start + e);
        push(start, &text[start..end]);
        from = start;
    }
    for (n, line) in text.lines().enumerate() {
        if let Some(rest) = line.trim_start().strip_prefix('[') {
            if let Some((_, target)) = rest.split_once("]: ") {
                found.push((n + 1, target.trim().to_owned()));
            }
        }
    }
    found.retain(|(_, t)| !t.starts_with("http") && !t.contains(':'));
    found
}

/// Whether `path` names a file or folder from one of `bases` (folders from the root, "" the
/// root itself), and if it names lines, whether the file has them. Answers what is wrong.
pub fn resolve(path: &str, lines: Option<(usize, usize)>, bases: &[String]) -> Result<(), String> {
    let found = bases
        .iter()
        .map(|base| root().join(base).join(path))
        .find(|p| p.exists());
    let Some(found) = found else {
        return Err(format!("{path} is no file or folder"));
    };
    if let Some((first, last)) = lines {
        let length = fs::read_to_string(&found).map_or(0, |text| text.lines().count());
        if first == 0 || first > last || last > length {
            return Err(format!("{path}:{first}-{last}: the file has {length} lines"));
        }
    }
    Ok(())
}

/// The folders a path named in `file` may be read from: the root, `src/`, and the file's own
/// folder and each above it.
pub fn bases(file: &str) -> Vec<String> {
    let mut bases = vec![String::new(), "src".to_owned()];
    let mut folder = Path::new(file).parent();
    while let Some(f) = folder.filter(|f| !f.as_os_str().is_empty()) {
        bases.push(f.to_string_lossy().into_owned());
        folder = f.parent();
    }
    bases
}
