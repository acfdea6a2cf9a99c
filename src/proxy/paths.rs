//! Path patterns, as the wire formats' tables and an upstream's `passthrough` write them:
//! segments split at `/`, each literal or holding one `*` between optional literal text
//! (`models/*:generateContent`), a `*` matching one segment's worth of plain characters (a
//! model or file id: letters, digits, `-`, `_`, `.`, `@`, never only dots; and `:` where the `*` is
//! the whole segment). A path the pattern
//! matches gives the text of each `*`, as written.
//!
//! Literal text matches whatever its case (`v1/Embeddings` is `v1/embeddings`): a provider
//! whose paths ignore case would serve such a path as the one the gateway counts, so the
//! gateway counts it too (one whose paths do not answers it 404, and the hold is released).

/// The texts `pattern`'s stars matched in `path`, in order; None when it does not match.
pub(crate) fn matches<'a>(pattern: &str, path: &'a str) -> Option<Vec<&'a str>> {
    let (mut wanted, mut given) = (pattern.split('/'), path.split('/'));
    let mut stars = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(stars),
            (Some(want), Some(got)) => match want.split_once('*') {
                None if want.eq_ignore_ascii_case(got) => {}
                None => return None,
                Some((before, after)) => {
                    let middle = strip_suffix(strip_prefix(got, before)?, after)?;
                    // A star that is a whole segment may hold a `:` too (Bedrock's model ids,
                    // `...-v1:0`): it names one segment all the same. One beside literal text
                    // may not, or `models/*:generateContent` would read `a:b` as its model.
                    let whole = before.is_empty() && after.is_empty();
                    let colons = whole && middle.len() <= 256 && middle.split(':').all(plain);
                    if !(plain(middle) || colons) {
                        return None;
                    }
                    stars.push(middle);
                }
            },
            _ => return None,
        }
    }
}

/// Whether some path matches both patterns (as `matches` reads them, whatever its case).
pub(crate) fn overlap(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| segments_overlap(x, y))
}

/// Whether the first segments of `pattern` overlap all of `prefix`'s: some path under a path
/// `prefix` matches, `pattern` may match.
pub(crate) fn overlaps_under(pattern: &str, prefix: &str) -> bool {
    let (pattern, prefix) = (pattern.to_ascii_lowercase(), prefix.to_ascii_lowercase());
    let (pattern, prefix): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), prefix.split('/').collect());
    pattern.len() >= prefix.len() && pattern.iter().zip(&prefix).all(|(x, y)| segments_overlap(x, y))
}

/// Whether one segment of text matches both segment patterns.
fn segments_overlap(a: &str, b: &str) -> bool {
    match (a.split_once('*'), b.split_once('*')) {
        (None, None) => a == b,
        (Some(_), None) => matches(a, b).is_some(),
        (None, Some(_)) => matches(b, a).is_some(),
        // Both start with the longer prefix and end with the longer suffix; what each star
        // then covers of the other's literal text must be plain, and each star's own text
        // at least one character.
        (Some((b1, a1)), Some((b2, a2))) => {
            let (long_b, short_b) = if b1.len() >= b2.len() { (b1, b2) } else { (b2, b1) };
            let (long_a, short_a) = if a1.len() >= a2.len() { (a1, a2) } else { (a2, a1) };
            long_b.starts_with(short_b)
                && long_a.ends_with(short_a)
                && long_b[short_b.len()..].bytes().all(plain_byte)
                && long_a[..long_a.len() - short_a.len()].bytes().all(plain_byte)
        }
    }
}

fn strip_prefix<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

fn strip_suffix<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let at = text.len().checked_sub(suffix.len())?;
    let tail = text.get(at..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..at])
}

/// Whether `pattern` is one this module reads: no empty segment, at most one `*` a segment.
pub(crate) fn well_formed(pattern: &str) -> bool {
    !pattern.is_empty() && pattern.split('/').all(|s| !s.is_empty() && s.matches('*').count() <= 1)
}

/// One segment of plain characters (an id).
fn plain(text: &str) -> bool {
    !text.is_empty() && text.len() <= 256 && text.bytes().any(|b| b != b'.') && text.bytes().all(plain_byte)
}

fn plain_byte(b: u8) -> bool {
    // `@`: a Vertex AI model's version (`claude-haiku-4-5@20251001`).
    b.is_ascii_alphanumeric() || b"-_.@".contains(&b)
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
            "v1/model/x",
        ] {
            assert_eq!(matches("v1/models/*", path), None, "{path}");
        }
        // A whole segment's star takes a `:` (a Bedrock model id); one beside text does not.
        assert_eq!(
            matches("model/*/converse", "model/us.anthropic.claude-v1:0/converse"),
            Some(vec!["us.anthropic.claude-v1:0"])
        );
        assert_eq!(
            matches("v1beta/models/*:generateContent", "v1beta/models/a:b:generateContent"),
            None
        );
        assert_eq!(matches("v1/models/*", "v1/models/:"), None);
        assert_eq!(
            matches("v1/files/*/content", "v1/files/file-1/content"),
            Some(vec!["file-1"])
        );
        assert!(well_formed("v1/files/*/content") && !well_formed("v1//x") && !well_formed("v1/**"));
    }

    #[test]
    fn literals_match_whatever_their_case_and_stars_keep_the_text_as_written() {
        assert_eq!(matches("v1/embeddings", "v1/Embeddings"), Some(vec![]));
        assert_eq!(matches("v1/models/*", "V1/MODELS/GPT-4o"), Some(vec!["GPT-4o"]));
        assert_eq!(
            matches(
                "v1beta/models/*:generateContent",
                "v1beta/models/Gemini-2.5:GENERATECONTENT"
            ),
            Some(vec!["Gemini-2.5"])
        );
        assert_eq!(matches("v1/embeddings", "v1/embedding"), None);
    }

    #[test]
    fn two_patterns_overlap_when_one_path_could_match_both() {
        assert!(overlap("v1/*", "v1/completions"));
        assert!(overlap("v1/Embeddings", "v1/embeddings"));
        assert!(overlap("v1/*/*", "v1/chat/completions"));
        assert!(overlap("v1/files/*", "v1/files/*"));
        assert!(overlap("v1/fine_*", "v1/fine_tuning"));
        assert!(overlap("v1beta/models/*", "v1beta/models/*"));
        assert!(overlap("v1beta/models/g*:embedContent", "v1beta/models/*:embedContent"));
        assert!(overlap("v1beta/models/*t", "v1beta/models/*"));
        // A star never covers a `:` or a `/`: a model's id is not a model's method.
        assert!(!overlap("v1beta/models/*", "v1beta/models/*:generateContent"));
        assert!(!overlap("v1/*", "v1/chat/completions"));
        assert!(!overlap("v1/moderations", "v1/completions"));
        assert!(!overlap("v1/x*", "v1/completions"));
        assert!(overlaps_under("v1/fine_tuning/jobs/*/cancel", "v1/fine_tuning"));
        assert!(overlaps_under("v1/*/jobs", "v1/fine_tuning"));
        assert!(overlaps_under("V1/Realtime", "v1/realtime"));
        assert!(!overlaps_under("v1", "v1/realtime"));
        assert!(!overlaps_under("v1/uploads/*/parts", "v1/realtime"));
    }
}
