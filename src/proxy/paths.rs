//! Path patterns, as the wire formats' tables and an upstream's `passthrough` write them:
//! segments split at `/`, each literal or holding one `*` between optional literal text
//! (`models/*:generateContent`), a `*` matching one segment's worth of plain characters (a
//! model or file id: letters, digits, `-`, `_`, `.`, never only dots). A path the pattern
//! matches gives the text of each `*`.

/// The texts `pattern`'s stars matched in `path`, in order; None when it does not match.
pub(crate) fn matches<'a>(pattern: &str, path: &'a str) -> Option<Vec<&'a str>> {
    let (mut wanted, mut given) = (pattern.split('/'), path.split('/'));
    let mut stars = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(stars),
            (Some(want), Some(got)) => match want.split_once('*') {
                None if want == got => {}
                None => return None,
                Some((before, after)) => {
                    let middle = got.strip_prefix(before)?.strip_suffix(after)?;
                    if !plain(middle) {
                        return None;
                    }
                    stars.push(middle);
                }
            },
            _ => return None,
        }
    }
}

/// Whether `pattern` is one this module reads: no empty segment, at most one `*` a segment.
pub(crate) fn well_formed(pattern: &str) -> bool {
    !pattern.is_empty() && pattern.split('/').all(|s| !s.is_empty() && s.matches('*').count() <= 1)
}

/// One segment of plain characters (an id).
fn plain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 256
        && text.bytes().any(|b| b != b'.')
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_one_plain_segment_and_literals_match_themselves() {
        assert_eq!(matches("v1/models", "v1/models"), Some(vec![]));
        assert_eq!(matches("v1/models/*", "v1/models/gpt-4o"), Some(vec!["gpt-4o"]));
        assert_eq!(
            matches(
                "v1beta/models/*:generateContent",
                "v1beta/models/gemini-2.5-flash:generateContent"
            ),
            Some(vec!["gemini-2.5-flash"])
        );
        for path in [
            "v1/models/..",
            "v1/models/.",
            "v1/models/a/b",
            "v1/models/",
            "v1/models/a:b",
            "v1/model/x",
        ] {
            assert_eq!(matches("v1/models/*", path), None, "{path}");
        }
        assert_eq!(
            matches("v1/files/*/content", "v1/files/file-1/content"),
            Some(vec!["file-1"])
        );
        assert!(well_formed("v1/files/*/content") && !well_formed("v1//x") && !well_formed("v1/**"));
    }
}
