//! The Lua kept readable, checked on its sources: no function of the library (`lua/library/`)
//! or of the control scripts (`lua/scripts/`) runs over `MAX_FUNCTION_LINES` lines, so each
//! reads as the few steps it takes; no code names a key or an argument by its number
//! (`KEYS[1]`, `ARGV[alt + 2 * a]`: the library reads them by the places
//! src/store/scripts/keys.rs and args.rs declare, a control script by the names shape.lua's
//! `named` gives them, the one place that indexes them); and no byte is compared with a bare number (`string.byte(x) == 114`), since each
//! character the library tells text apart by has its name in head.lua, held here to its
//! character. No Redis: it reads the files, and asks Lua 5.1's compiler (`luac5.1`, which
//! scripts/test installs) where each function begins and ends.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The longest a function of the library may be, from its `function` line to its `end`.
const MAX_FUNCTION_LINES: usize = 80;

fn lua_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lua")
}

/// Every Lua file of the library, by its path under lua/.
fn library_files() -> Vec<(String, String)> {
    files_under("library")
}

/// Every Lua file under lua/<folder>, by its path under lua/.
fn files_under(folder: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "lua") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&lua_dir().join(folder), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(lua_dir()).unwrap().display().to_string();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// One function of a file: its name as its first line gives it, and its first and last lines.
#[derive(Debug)]
struct Function {
    name: String,
    lines: (usize, usize),
}

impl Function {
    fn length(&self) -> usize {
        self.lines.1 - self.lines.0 + 1
    }
}

/// The name a function's first line gives it: `local function weigh(`, `function C.state(`,
/// a library function's `register('reserve', ...`; else where it begins.
fn name_at(line: &str, number: usize) -> String {
    if let Some(rest) = line.split("register('").nth(1) {
        return rest.split('\'').next().unwrap_or_default().to_owned();
    }
    if let Some(rest) = line.split("function ").nth(1) {
        let name: String = rest
            .chars()
            .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_' || *ch == '.' || *ch == ':')
            .collect();
        if !name.is_empty() {
            return name;
        }
    }
    format!("the function at line {number}")
}

/// Every function `luac5.1` compiles in `text`, with where it begins and ends.
fn functions(text: &str) -> Vec<Function> {
    use std::io::Write;
    let mut luac = Command::new("luac5.1")
        .args(["-o", "/dev/null", "-l", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("luac5.1, Lua 5.1's compiler (scripts/test installs package lua5.1)");
    luac.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = luac.wait_with_output().unwrap();
    assert!(out.status.success(), "luac5.1 failed");
    let lines: Vec<&str> = text.lines().collect();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("function <"))
        .filter_map(|l| {
            let span = l.split(':').nth(1)?.split('>').next()?;
            let (a, b) = span.split_once(',')?;
            let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
            Some(Function {
                name: name_at(lines.get(a - 1).copied().unwrap_or_default(), a),
                lines: (a, b),
            })
        })
        .collect()
}

/// The functions of `files` longer than `MAX_FUNCTION_LINES`, as "<file>: <name> (lines a-b,
/// is n lines, over 80)".
fn too_long(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (file, text) in files {
        for f in functions(text) {
            let length = f.length();
            if length > MAX_FUNCTION_LINES {
                found.push(format!(
                    "{file}: {} (lines {}-{}) is {length} lines, over {MAX_FUNCTION_LINES}",
                    f.name, f.lines.0, f.lines.1
                ));
            }
        }
    }
    found
}

#[test]
fn no_function_of_the_library_or_the_scripts_is_over_80_lines() {
    let mut files = library_files();
    files.extend(files_under("scripts"));
    assert!(files.len() > 60, "{} files", files.len());
    assert_eq!(too_long(&files), Vec::<String>::new(), "cut it into the steps it takes");
    // The check finds one.
    let body = "  local x = 1\n".repeat(MAX_FUNCTION_LINES - 1);
    let planted = vec![(
        "planted.lua".to_owned(),
        format!("local function long(c)\n{body}end\nlocal function short(c)\n  return c\nend\n"),
    )];
    assert_eq!(
        too_long(&planted),
        [format!(
            "planted.lua: long (lines 1-{0}) is {0} lines, over 80",
            MAX_FUNCTION_LINES + 1
        )]
    );
}

/// Where `text` compares a `string.byte(...)` with a number: "<line>: <the line>".
fn bare_bytes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("--").next().unwrap_or_default();
        for (at, _) in code.match_indices("string.byte(") {
            // The call's closing parenthesis, then the comparison and what it compares with.
            let mut depth = 0;
            let rest = &code[at + "string.byte".len()..];
            let Some(close) = rest.char_indices().find_map(|(i, ch)| {
                match ch {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i)
            }) else {
                continue;
            };
            let after = rest[close + 1..].trim_start();
            let compared = after
                .strip_prefix("==")
                .or_else(|| after.strip_prefix("~="))
                .map(str::trim_start);
            if compared.is_some_and(|c| c.starts_with(|ch: char| ch.is_ascii_digit())) {
                found.push(format!("{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn no_byte_is_compared_with_a_bare_number() {
    let mut found = Vec::new();
    for (file, text) in library_files() {
        found.extend(bare_bytes(&text).into_iter().map(|f| format!("{file}:{f}")));
    }
    assert_eq!(found, Vec::<String>::new(), "name the character in head.lua (BYTE_...)");
    // The check finds them, and passes a named one.
    let planted = "if string.byte(tail, 2) == 114 then\nlocal a = string.byte(s) ~= 34\n\
                   local b = string.byte(s, #s - 1) == BYTE_r -- not 114\n";
    assert_eq!(bare_bytes(planted).len(), 2, "{:?}", bare_bytes(planted));
}

#[test]
fn each_named_byte_is_its_character() {
    let head = fs::read_to_string(lua_dir().join("library/head.lua")).unwrap();
    let mut named = 0;
    for line in head.lines().filter(|l| l.starts_with("local BYTE_")) {
        // local BYTE_TILDE = 126       -- '~'
        let (value, comment) = line
            .split_once("--")
            .unwrap_or_else(|| panic!("{line}: no character named"));
        let value: u8 = value
            .split('=')
            .nth(1)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line}: not a byte"));
        let character = comment.trim().strip_prefix('\'').and_then(|c| c.strip_suffix('\''));
        assert_eq!(character, Some((value as char).to_string().as_str()), "{line}");
        named += 1;
    }
    assert!(named >= 8, "head.lua names the bytes: {named} found");
    // Declared once: no other file of the library declares one.
    for (file, text) in library_files() {
        if file != "library/head.lua" {
            assert!(!text.contains("local BYTE_"), "{file} declares a byte of its own");
        }
    }
}

/// Where `text`'s code (not its comments) names a key or an argument by a number: `KEYS[` or
/// `ARGV[` with a digit in what it indexes by ("<line>: <the line>").
fn numbered(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("--").next().unwrap_or_default();
        for lead in ["KEYS[", "ARGV["] {
            for (at, _) in code.match_indices(lead) {
                if code[..at].ends_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_') {
                    continue;
                }
                let mut depth = 1;
                let index: String = code[at + lead.len()..]
                    .chars()
                    .take_while(|ch| {
                        match ch {
                            '[' => depth += 1,
                            ']' => depth -= 1,
                            _ => {}
                        }
                        depth > 0
                    })
                    .collect();
                if index.contains(|ch: char| ch.is_ascii_digit()) {
                    found.push(format!("{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn no_code_names_a_key_or_an_argument_by_its_number() {
    let mut found = Vec::new();
    let mut files = library_files();
    files.extend(files_under("scripts"));
    files.push((
        "shape.lua".into(),
        fs::read_to_string(lua_dir().join("shape.lua")).unwrap(),
    ));
    for (file, text) in files {
        found.extend(numbered(&text).into_iter().map(|f| format!("{file}:{f}")));
    }
    assert_eq!(
        found,
        Vec::<String>::new(),
        "name it: the library by keys.rs and args.rs, a control script by shape.lua's named"
    );
    // The check finds them, past comments and names, and passes a named one.
    let planted = "local a = KEYS[1]\nlocal b = ARGV[#ARGV - 3] -- ARGV[2]\n\
                   local c = ARGV[alt + 2 * a]\nlocal d = c.ARGV[ARGV_RESERVE.id]\n\
                   local e = ARGV[#ARGV]\nlocal f = MY_KEYS[2]\nlocal g = ARGV[at(x[1])]\n";
    assert_eq!(numbered(planted).len(), 4, "{:?}", numbered(planted));
}
