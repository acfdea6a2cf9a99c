//! The texts the checks read: Markdown whole, and of code only its comments, with everything
//! else blanked so that lines keep their numbers. Reads files; knows nothing of what a name is.

use std::fs;
use std::path::{Path, PathBuf};

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file's path from the root, with `/` between its parts.
pub fn relative(path: &Path) -> String {
    let parts: Vec<_> = path
        .strip_prefix(root())
        .unwrap_or(path)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Every file under `dir` (from the root), sorted, but hidden ones and what tools make.
pub fn files_under(dir: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    walk(&root().join(dir), &mut files);
    files
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// What a text is, which decides what is looked for in it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Markdown file, read whole; `<module>::<item>` only in code spans.
    Markdown,
    /// The comments of a source file or script; `<module>::<item>` anywhere in them.
    Comments,
}

/// One file's text to check.
pub struct Text {
    /// From the root: `src/store/layout.rs`.
    pub file: String,
    pub kind: Kind,
    pub body: String,
}

/// Markdown: README.md, ARCHITECTURE.md, BENCHMARKS.md, CONTRIBUTING.md, and under docs/,
/// sdk/ and tests/.
/// Comments: src/**/*.rs, tests/**/*.rs, lua/**/*.lua, scripts/**.
pub fn texts() -> Vec<Text> {
    let mut texts = Vec::new();
    for name in ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md", "CONTRIBUTING.md"] {
        if let Ok(body) = fs::read_to_string(root().join(name)) {
            texts.push(markdown(name.to_owned(), body));
        }
    }
    for dir in ["docs", "sdk", "tests"] {
        for path in files_under(dir).into_iter().filter(|p| has_extension(p, "md")) {
            let body = fs::read_to_string(&path).unwrap();
            texts.push(markdown(relative(&path), body));
        }
    }
    for dir in ["src", "tests"] {
        for path in files_under(dir).into_iter().filter(|p| has_extension(p, "rs")) {
            let body = rust_parts(&fs::read_to_string(&path).unwrap()).comments;
            texts.push(comments(relative(&path), body));
        }
    }
    for path in files_under("lua").into_iter().filter(|p| has_extension(p, "lua")) {
        let body = lua_comments(&fs::read_to_string(&path).unwrap());
        texts.push(comments(relative(&path), body));
    }
    for path in files_under("scripts") {
        let Ok(source) = fs::read_to_string(&path) else {
            continue;
        };
        let python = has_extension(&path, "py") || source.lines().next().is_some_and(|l| l.contains("python"));
        texts.push(comments(relative(&path), hash_comments(&source, python)));
    }
    texts
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension().is_some_and(|e| e == extension)
}

fn markdown(file: String, body: String) -> Text {
    Text {
        file,
        kind: Kind::Markdown,
        body,
    }
}

fn comments(file: String, body: String) -> Text {
    Text {
        file,
        kind: Kind::Comments,
        body,
    }
}

/// A Rust source split in two texts of its shape: its code (comments, strings and characters
/// blanked) and its comments (all else blanked, the `//` and `/*` that open them too).
pub struct RustParts {
    pub code: String,
    pub comments: String,
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where each character of a Rust source goes.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Code,
    Comment,
    /// A comment's opening marker, or a string's or character's text: in neither part.
    Neither,
}

pub fn rust_parts(source: &str) -> RustParts {
    let chars: Vec<char> = source.chars().collect();
    let mut parts = vec![Part::Code; chars.len()];
    let mut i = 0;
    let mark = |parts: &mut Vec<Part>, from: usize, to: usize, part: Part| {
        for p in &mut parts[from..to.min(chars.len())] {
            *p = part;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        if c == '/' && next == Some('/') {
            let mut end = i;
            while end < chars.len() && chars[end] != '\n' {
                end += 1;
            }
            // The marker: `//`, `///` or `//!`.
            let mut text = i + 2;
            if matches!(chars.get(text), Some('/') | Some('!')) {
                text += 1;
            }
            mark(&mut parts, i, text, Part::Neither);
            mark(&mut parts, text, end, Part::Comment);
            i = end;
        } else if c == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0);
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    mark(&mut parts, i, i + 2, Part::Neither);
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    mark(&mut parts, i, i + 2, Part::Neither);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    parts[i] = Part::Comment;
                    i += 1;
                }
            }
            debug_assert!(i > start);
        } else if c == 'r' && !prev.is_some_and(|p| is_ident(p) && p != 'b') && matches!(next, Some('"') | Some('#')) {
            // A raw string: r"...", r#"..."#, br"...".
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                i += 1;
                continue;
            }
            let start = i + 1;
            i = j + 1;
            while i < chars.len() && !(chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#'))) {
                i += 1;
            }
            i += hashes + 1;
            mark(&mut parts, start, i, Part::Neither);
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            mark(&mut parts, start, i, Part::Neither);
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: '\n', '\'', '\u{..}'.
            let start = i;
            i += 3;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            mark(&mut parts, start, i, Part::Neither);
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A character literal 'x' (a lifetime never closes with a quote).
            mark(&mut parts, i, i + 3, Part::Neither);
            i += 3;
        } else {
            i += 1;
        }
    }
    let only = |part: Part| -> String {
        chars
            .iter()
            .zip(&parts)
            .map(|(&c, &p)| if c == '\n' || p == part { c } else { ' ' })
            .collect()
    };
    RustParts {
        code: only(Part::Code),
        comments: only(Part::Comment),
    }
}

/// A Lua source's comments (`--` to the line's end, `--[[ ... ]]`), all else blanked.
pub fn lua_comments(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out: Vec<char> = chars.iter().map(|&c| if c == '\n' { c } else { ' ' }).collect();
    let mut i = 0;
    // The end of a long bracket `[==[` opening at `at`, and its level, if one opens there.
    let long = |at: usize| -> Option<(usize, usize)> {
        if chars.get(at) != Some(&'[') {
            return None;
        }
        let mut j = at + 1;
        while chars.get(j) == Some(&'=') {
            j += 1;
        }
        (chars.get(j) == Some(&'[')).then_some((j + 1, j - at - 1))
    };
    let close = |from: usize, level: usize| -> usize {
        let mut j = from;
        while j < chars.len() {
            if chars[j] == ']'
                && (1..=level).all(|k| chars.get(j + k) == Some(&'='))
                && chars.get(j + level + 1) == Some(&']')
            {
                return j;
            }
            j += 1;
        }
        chars.len()
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            if let Some((text, level)) = long(i + 2) {
                let end = close(text, level);
                out[text..end].copy_from_slice(&chars[text..end]);
                i = end + level + 2;
            } else {
                let mut end = i + 2;
                while end < chars.len() && chars[end] != '\n' {
                    end += 1;
                }
                out[i + 2..end].copy_from_slice(&chars[i + 2..end]);
                i = end;
            }
        } else if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c && chars[i] != '\n' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if let Some((text, level)) = long(i) {
            i = close(text, level) + level + 2;
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// A script's comments: from a `#` that opens a word outside quotes to the line's end, and in
/// Python its docstrings; all else blanked.
pub fn hash_comments(source: &str, python: bool) -> String {
    let mut out = Vec::new();
    let mut in_docstring = false;
    for line in source.split('\n') {
        let blank: String = line.chars().map(|_| ' ').collect();
        if python && (in_docstring || line.trim_start().starts_with("\"\"\"")) {
            let quotes = line.matches("\"\"\"").count();
            let ends = if in_docstring { quotes % 2 == 1 } else { quotes % 2 == 0 };
            in_docstring = !ends;
            out.push(line.replace("\"\"\"", "   "));
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let (mut single, mut double) = (false, false);
        let mut kept = None;
        for (i, &c) in chars.iter().enumerate() {
            match c {
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '#' if !single && !double && (i == 0 || chars[i - 1].is_whitespace()) => {
                    kept = Some(i);
                    break;
                }
                _ => {}
            }
        }
        out.push(match kept {
            Some(at) => chars
                .iter()
                .enumerate()
                .map(|(i, &c)| if i > at { c } else { ' ' })
                .collect(),
            None => blank,
        });
    }
    out.join("\n")
}

/// The line (from 1) of each character offset of `text`.
pub struct Lines(Vec<usize>);

impl Lines {
    pub fn of(text: &str) -> Lines {
        let mut starts = vec![0];
        starts.extend(text.char_indices().filter(|(_, c)| *c == '\n').map(|(i, _)| i + 1));
        Lines(starts)
    }

    /// The line of byte offset `at`.
    pub fn at(&self, at: usize) -> usize {
        self.0.partition_point(|start| *start <= at)
    }
}
