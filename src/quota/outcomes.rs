//! What calls' outputs came to: a commit, a track or a run's close says `outcome` (`accepted`,
//! `rejected`, `failed`, or a word of the app's), or it is said later of a committed
//! reservation. The scripts count each counter's outcomes (outcomes.lua); usage divided by
//! accepted outcomes is the cost per accepted output: a workflow may look cheap per call and
//! be expensive per result its users keep.

use super::amount::Milli;

/// The outcome that makes an output count as delivered.
pub(crate) const ACCEPTED: &str = "accepted";

/// The longest outcome word, in bytes.
pub(crate) const MAX_OUTCOME: usize = 32;

/// An outcome word: 1 to 32 of `a-z`, `0-9`, `_`, `.`, `-`.
pub(crate) fn check_outcome(word: &str) -> Result<(), &'static str> {
    let ok = !word.is_empty()
        && word.len() <= MAX_OUTCOME
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'));
    match ok {
        true => Ok(()),
        false => Err("must be accepted, rejected, failed or a word of [a-z0-9_.-]{1,32}"),
    }
}

/// One counter's (or one day's group's) outcomes, as the scripts keep them: each word with its
/// count, in the order first said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes(pub Vec<(String, u64)>);

impl Outcomes {
    /// Reads the scripts' packed text, "accepted=3,rejected=1" ("" for none); a part that is
    /// not a word and a count is left out.
    pub fn parse(text: &str) -> Outcomes {
        Outcomes(
            text.split(',')
                .filter_map(|part| {
                    let (word, n) = part.split_once('=')?;
                    Some((word.to_string(), n.parse().ok()?))
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn count(&self, word: &str) -> u64 {
        self.0.iter().find(|(w, _)| w == word).map_or(0, |(_, n)| *n)
    }

    pub fn accepted(&self) -> u64 {
        self.count(ACCEPTED)
    }

    /// Adds `other`'s counts to these (days added up into a range).
    pub fn add(&mut self, other: &Outcomes) {
        for (word, n) in &other.0 {
            match self.0.iter_mut().find(|(w, _)| w == word) {
                Some((_, mine)) => *mine += n,
                None => self.0.push((word.clone(), *n)),
            }
        }
    }

    /// What `used` cost per accepted output, rounded down to a milli-unit; None when nothing
    /// was accepted (there is no such cost yet, not an infinite one).
    pub fn cost_per_accepted(&self, used: Milli) -> Option<Milli> {
        let accepted = self.accepted();
        (accepted > 0).then(|| Milli(used.0 / accepted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_checked_and_counts_read_back() {
        assert!(check_outcome("accepted").is_ok());
        assert!(check_outcome("user.kept-2").is_ok());
        for bad in ["", "Accepted", "a b", &"x".repeat(33)] {
            assert!(check_outcome(bad).is_err(), "{bad}");
        }
        let o = Outcomes::parse("accepted=2,rejected=2,edited=0,bad");
        assert_eq!(o.0, [("accepted".to_string(), 2), ("rejected".to_string(), 2)]);
        assert_eq!(o.cost_per_accepted(Milli::from_units(40)), Some(Milli::from_units(20)));
        assert_eq!(Outcomes::parse("").cost_per_accepted(Milli::from_units(40)), None);
    }
}
