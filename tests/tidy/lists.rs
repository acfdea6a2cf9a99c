//! ARCHITECTURE's lists of a folder, held to the folder; and its file names, to the files.

use std::collections::BTreeSet;
use std::fs;
use std::ops::RangeInclusive;
use std::path::Path;

use crate::source::{files_under, root, Lines};

/// Words by which a list says that it names some of its folder's entries, not all.
pub const PICKS: &[&str] = &["...", "…", "a file per"];

/// A backticked name that is a file's or a folder's: `head.lua`, `modules/`.
fn looks_like_file(name: &str) -> bool {
    name.ends_with('/')
        || name.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.is_empty()
                && ext.starts_with(|c: char| c.is_ascii_alphabetic())
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// The backticked spans of `text` with their byte offsets.
fn spans(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut at = 0;
    let mut inside = false;
    for part in text.split('`') {
        if inside && !part.contains(char::is_whitespace) && !part.is_empty() {
            found.push((at, part));
        }
        at += part.len() + 1;
        inside = !inside;
    }
    found
}

/// The direct entries of `folder` as a list names them: `file.rs`, `sub/`; not `mod.rs`.
fn entries(folder: &Path) -> BTreeSet<String> {
    fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            if name.starts_with('.') || name == "mod.rs" || name == "node_modules" || name == "__pycache__" {
                return None;
            }
            Some(if p.is_dir() { format!("{name}/") } else { name })
        })
        .collect()
}

/// The list items of `text`: the lines of each (from 1) and its text.
fn items(text: &str) -> Vec<(RangeInclusive<usize>, String)> {
    let mut items = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    while n < lines.len() {
        if !lines[n].starts_with("- ") {
            n += 1;
            continue;
        }
        let first = n;
        n += 1;
        while n < lines.len() && lines[n].starts_with("  ") && !lines[n].trim().is_empty() {
            n += 1;
        }
        items.push((first + 1..=n, lines[first..n].join("\n")));
    }
    items
}

/// Every finding in ARCHITECTURE's `text`, by line.
pub fn check(text: &str) -> Vec<(usize, String)> {
    let mut findings = Vec::new();
    for (lines, item) in items(text) {
        findings.extend(
            check_item(&item)
                .into_iter()
                .map(|(line, f)| (lines.start() - 1 + line, f)),
        );
    }
    findings.extend(file_names(text));
    findings
}

/// The folders each list item is about (`` `folder/`: ``), by the item's lines.
pub fn item_folders(text: &str) -> Vec<(RangeInclusive<usize>, String)> {
    let mut found = Vec::new();
    for (lines, item) in items(text) {
        let mut first: Option<String> = None;
        for (at, name) in spans(&item) {
            if name.ends_with('/') && item[at + name.len()..].starts_with("`:") {
                let bare = name.trim_end_matches('/');
                for folder in first.iter().map(|f| format!("{f}/{bare}")).chain([bare.to_owned()]) {
                    found.push((lines.clone(), folder));
                }
                first.get_or_insert_with(|| bare.to_owned());
            }
        }
    }
    found
}

/// One list item: each `` `folder/`: `` in it opens that folder's list, up to the next; a
/// folder after the first is read within the first, else from the root.
fn check_item(item: &str) -> Vec<(usize, String)> {
    let lines = Lines::of(item);
    let all = spans(item);
    let opens: Vec<(usize, &str)> = all
        .iter()
        .filter(|(at, name)| name.ends_with('/') && item[at + name.len()..].starts_with("`:"))
        .copied()
        .collect();
    let mut findings = Vec::new();
    let mut first: Option<String> = None;
    for (k, &(at, name)) in opens.iter().enumerate() {
        let end = opens.get(k + 1).map_or(item.len(), |(next, _)| next - 1);
        let from = at + name.len() + 1;
        let segment = &item[from..end];
        let line = lines.at(at);
        let bare = name.trim_end_matches('/');
        let folder = first
            .iter()
            .map(|f| format!("{f}/{bare}"))
            .chain(std::iter::once(bare.to_owned()))
            .find(|f| root().join(f).is_dir());
        let Some(folder) = folder else {
            findings.push((line, format!("`{name}` is no folder")));
            continue;
        };
        first.get_or_insert_with(|| folder.clone());
        let dir = root().join(&folder);
        for (offset, span) in spans(segment) {
            let line = lines.at(from + offset);
            let bare = span.trim_end_matches('/');
            if span.starts_with('/') {
                // A route (`/dashboard`), not a file.
                continue;
            }
            if bare.contains('/') {
                let found = [dir.as_path(), root(), &root().join("src")]
                    .iter()
                    .any(|base| base.join(bare).exists());
                if !found {
                    findings.push((line, format!("`{span}` is in neither {folder}/, src/ nor the root")));
                }
            } else if looks_like_file(span) && !under(&dir, span) && !root().join(bare).exists() {
                findings.push((line, format!("`{span}` is not in {folder}/ (nor at the root)")));
            }
        }
        // Listed: the folder's entries the item names anywhere (a folder's own list, later in
        // the item, names it too).
        let entries = entries(&dir);
        let listed: BTreeSet<&String> = all
            .iter()
            .filter_map(|(_, span)| entries.get(*span).or_else(|| entries.get(&format!("{span}/"))))
            .collect();
        let picks = PICKS.iter().any(|p| segment.contains(p));
        if !listed.is_empty() && !picks {
            let missing: Vec<&str> = entries
                .iter()
                .filter(|e| !listed.contains(e))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                findings.push((
                    line,
                    format!(
                        "the list of {folder}/ names {} of its {} entries and does not say it picks \
                         (with {PICKS:?}): {} missing",
                        listed.len(),
                        entries.len(),
                        missing.join(", ")
                    ),
                ));
            }
        }
    }
    findings
}

/// Whether a file or folder `name` is anywhere under `dir`.
fn under(dir: &Path, name: &str) -> bool {
    let bare = name.trim_end_matches('/');
    if dir.join(bare).exists() {
        return true;
    }
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .any(|p| p.is_dir() && under(&p, name))
}

/// Outside fenced blocks, every backticked file name without a folder (`retry.rs`,
/// `holds.lua`) is the name of a file somewhere in the repository.
fn file_names(text: &str) -> Vec<(usize, String)> {
    let mut names = BTreeSet::new();
    for dir in [
        "src", "lua", "docs", "scripts", "tests", "sdk", "catalog", "examples", "deploy",
    ] {
        for path in files_under(dir) {
            names.insert(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    for entry in fs::read_dir(root()).unwrap() {
        names.insert(entry.unwrap().file_name().to_string_lossy().into_owned());
    }
    let mut findings = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        for (_, span) in spans(line) {
            if !fenced && !span.contains('/') && looks_like_file(span) && !names.contains(span) {
                findings.push((n + 1, format!("`{span}` is no file of the repository")));
            }
        }
    }
    findings
}
