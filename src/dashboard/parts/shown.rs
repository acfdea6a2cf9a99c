//! How ids (and other text people typed: labels, reasons) are shown: every character that
//! displays as nothing, as a space, or that reorders the text around it (bidirectional
//! controls such as U+202E, zero-width characters, a byte order mark) is written as its escaped
//! code point, `\u{202E}`, so no id can pass for another or read reversed. One helper, used by
//! every page; attribute values and links keep the id itself.

use std::borrow::Cow;
use std::fmt::Write;

use maud::{html, Markup, Render};

/// Text as the dashboard shows it: `Shown(id)` in a template.
pub(crate) struct Shown<'a>(pub &'a str);

impl Render for Shown<'_> {
    fn render(&self) -> Markup {
        html! { (visible(self.0)) }
    }
}

/// `text` with every hidden or reordering character, and the backslash that would make an
/// escape ambiguous, written as an escape.
pub(crate) fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| hidden(c) || c == '\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if hidden(c) {
            let _ = write!(out, "\\u{{{:X}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Characters a reader cannot see, or that change how the text around them reads: controls,
/// format characters (Unicode's Cf: bidirectional controls, zero-width characters, the byte
/// order mark, tags), spaces other than the ASCII space, line and paragraph separators,
/// variation selectors, and the fillers and joiners that render as nothing.
fn hidden(c: char) -> bool {
    matches!(u32::from(c),
        // Controls (Cc).
        0x00..=0x1F | 0x7F..=0x9F
        // Spaces other than U+0020 (Zs), and the line and paragraph separators (Zl, Zp).
        | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000
        // Format characters (Cf).
        | 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        // Invisible marks, fillers and selectors.
        | 0x34F | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180D | 0x180F | 0x2800
        | 0x3164 | 0xFE00..=0xFE0F | 0xFFA0 | 0xE0100..=0xE01EF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_shown_as_they_are() {
        for id in ["alice", "user {1}@x:y é", "日本語", "<img src=x>", "a b"] {
            assert_eq!(visible(id), id);
        }
    }

    #[test]
    fn hidden_and_reordering_characters_are_escaped() {
        assert_eq!(visible("admin\u{202E}nimda"), "admin\\u{202E}nimda");
        assert_eq!(visible("\u{FEFF}alice"), "\\u{FEFF}alice");
        assert_eq!(visible("al\u{200B}ice"), "al\\u{200B}ice");
        assert_eq!(visible("a\u{2066}b\u{2069}"), "a\\u{2066}b\\u{2069}");
        assert_eq!(visible("a\u{A0}b"), "a\\u{A0}b");
        assert_eq!(visible("a\u{E0041}"), "a\\u{E0041}");
        // A backslash is doubled, so a typed "\u{202E}" never reads like the character.
        assert_eq!(visible("a\\u{202E}"), "a\\\\u{202E}");
    }

    #[test]
    fn rendering_escapes_html_too() {
        assert_eq!(Shown("<b>\u{202E}").render().into_string(), "&lt;b&gt;\\u{202E}");
    }
}
