//! A run's state as the library packs it: its limits as its record keeps them, and its fields
//! in the counters hash while it is open (lua/library/modules/runs.lua), both read and written
//! through their declarations (`scripts::layouts`).

use crate::quota::run::{RunLimits, RunRecord, Step};
use crate::quota::Milli;

use super::scripts::layouts::{self, limits, run_step};

/// A step's run as reserve and track take it (`layouts::run_step`): its parts in their
/// declared order, which the caller joins with "|" (ids and kinds hold none).
pub(crate) fn step_parts(step: &Step) -> [&str; run_step::FIELDS] {
    let mut parts = [""; run_step::FIELDS];
    for (at, value) in [
        (run_step::RUN, step.run_id.as_str()),
        (run_step::ACTION, step.action.as_str()),
        (run_step::KIND, step.kind.as_str()),
    ] {
        parts[at] = value;
    }
    parts
}

/// A run's limits as its record keeps them ("L", `layouts::limits`): "|"-separated, each "" for
/// none.
pub(crate) fn encode_limits(l: &RunLimits) -> String {
    let mut parts = [""; limits::FIELDS].map(String::from);
    for (at, value) in [
        (limits::STEPS, l.steps),
        (limits::ATTEMPTS_PER_ACTION, l.attempts_per_action),
        (limits::FALLBACKS, l.fallbacks),
        (limits::FALLBACK_SHARE, l.fallback_share_ppm),
        (limits::MAX_FALLBACK_SPEND, l.max_fallback_spend.map(|m| m.0)),
    ] {
        parts[at] = value.map(|v| v.to_string()).unwrap_or_default();
    }
    parts.join("|")
}

/// What `encode_limits` wrote (or, before runs had a `maxFallbackSpend`, wrote without its
/// last field); None when it is not that.
pub(crate) fn decode_limits(text: &str) -> Option<RunLimits> {
    let mut parts: Vec<Option<Option<u64>>> = text
        .split('|')
        .map(|p| match p {
            "" => Some(None),
            digits => digits.parse().ok().map(Some),
        })
        .collect();
    if parts.len() == limits::MAX_FALLBACK_SPEND {
        parts.push(Some(None));
    }
    if parts.len() != limits::FIELDS {
        return None;
    }
    Some(RunLimits {
        steps: parts[limits::STEPS]?,
        attempts_per_action: parts[limits::ATTEMPTS_PER_ACTION]?,
        fallbacks: parts[limits::FALLBACKS]?,
        fallback_share_ppm: parts[limits::FALLBACK_SHARE]?,
        max_fallback_spend: parts[limits::MAX_FALLBACK_SPEND]?.map(Milli),
    })
}

/// An open run's fields as lua/library/modules/runs.lua keeps them in the counters hash, by name:
/// "r|<run>" (`layouts::run`, then a `layouts::run_group` per group), packed with cmsgpack; "r|<run>|~<action>" (attempts) and
/// "r|<run>|^" (children, a line each). None without its first field (the run has ended) or
/// when one is not as the scripts write it.
pub(crate) fn parse_fields(id: &str, fields: &[(String, Vec<u8>)]) -> Option<RunRecord> {
    let key = format!("r|{id}");
    let mut head = None;
    let mut run = RunRecord::default();
    for (name, value) in fields {
        let Some(rest) = name.strip_prefix(&key) else {
            continue;
        };
        if rest.is_empty() {
            let values = unpack(value)?;
            if values.len() < layouts::run::FIELDS
                || !(values.len() - layouts::run::FIELDS).is_multiple_of(layouts::run_group::FIELDS)
            {
                return None;
            }
            head = Some((
                values[layouts::run::STEPS].count()?,
                values[layouts::run::FALLBACKS].count()?,
            ));
            for group in values[layouts::run::FIELDS..].chunks(layouts::run_group::FIELDS) {
                use layouts::run_group::{FALLBACK, GROUP, OPEN, USED};
                let Packed::Text(name) = &group[GROUP] else {
                    return None;
                };
                run.used.insert(name.clone(), Milli(group[USED].count()?));
                run.open.insert(name.clone(), Milli(group[OPEN].count()?));
                run.fallback_spent.insert(name.clone(), Milli(group[FALLBACK].count()?));
            }
        } else if let Some(action) = rest.strip_prefix("|~") {
            run.attempts
                .insert(action.to_string(), std::str::from_utf8(value).ok()?.parse().ok()?);
        } else if rest == "|^" {
            let text = std::str::from_utf8(value).ok()?;
            run.children = text.split('\n').filter(|c| !c.is_empty()).map(str::to_string).collect();
        }
    }
    let (steps, fallbacks) = head?;
    Some(RunRecord {
        steps,
        fallbacks,
        ..run
    })
}

/// One value a cmsgpack.pack of numbers and strings wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Packed {
    Int(i64),
    Text(String),
}

impl Packed {
    /// A count or an amount: an integer, never below zero.
    fn count(&self) -> Option<u64> {
        match self {
            Packed::Int(n) => u64::try_from(*n).ok(),
            Packed::Text(_) => None,
        }
    }
}

/// The values a cmsgpack.pack of several numbers and strings wrote, one after the other
/// (MessagePack's integer forms, a whole number Lua keeps as a double being packed as one of
/// them, and its string forms). None for anything else.
fn unpack(mut bytes: &[u8]) -> Option<Vec<Packed>> {
    let mut out = Vec::new();
    while let Some((&tag, rest)) = bytes.split_first() {
        let take = |n: usize, rest: &[u8]| -> Option<(u64, usize)> {
            let raw = rest.get(..n)?;
            Some((raw.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)), n))
        };
        let text = |len: usize, at: usize, rest: &[u8]| -> Option<(Packed, usize)> {
            let raw = rest.get(at..at + len)?;
            Some((Packed::Text(String::from_utf8(raw.to_vec()).ok()?), at + len))
        };
        let (value, used) = match tag {
            0x00..=0x7f => (Packed::Int(i64::from(tag)), 0),
            0xe0..=0xff => (Packed::Int(i64::from(tag as i8)), 0),
            0xcc..=0xcf => {
                let (v, n) = take(1 << (tag - 0xcc), rest)?;
                (Packed::Int(i64::try_from(v).ok()?), n)
            }
            0xd0..=0xd3 => {
                let n = 1 << (tag - 0xd0);
                let (v, n) = take(n, rest)?;
                // Sign-extend from n bytes.
                let shift = 64 - 8 * n as u32;
                (Packed::Int(((v << shift) as i64) >> shift), n)
            }
            0xcb => {
                let (v, n) = take(8, rest)?;
                let f = f64::from_bits(v);
                (Packed::Int(f.fract().eq(&0.0).then_some(f as i64)?), n)
            }
            0xa0..=0xbf => text(usize::from(tag & 0x1f), 0, rest)?,
            0xd9..=0xdb => {
                let (len, n) = take(1 << (tag - 0xd9), rest)?;
                text(usize::try_from(len).ok()?, n, rest)?
            }
            _ => return None,
        };
        out.push(value);
        bytes = &rest[used..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_names_its_run_action_and_kind_in_the_declared_order() {
        use crate::quota::run::StepKind;
        use crate::quota::{ReservationId, UserId};
        let run_id = ReservationId::new_run(&UserId::parse("u").unwrap(), &[1, 2, 3]);
        let step = Step {
            run_id: run_id.clone(),
            action: "a1".into(),
            kind: StepKind::Fallback,
        };
        // As runs.lua's RUN_STEP_LINE takes it apart: run, action, kind.
        assert_eq!(step_parts(&step).join("|"), format!("{run_id}|a1|fallback"));
    }

    #[test]
    fn numbers_and_strings_packed_as_cmsgpack_packs_them_read_back() {
        // 0, 127, -1, 200 (uint8), 70000 (uint32), -200 (int16), 2^40 (uint64), 5.0 (double),
        // "g" (fixstr), 40 x "a" (str8, as cmsgpack packs 32 to 255 bytes), 40 x "b" (str16).
        let mut bytes = vec![0x00, 0x7f, 0xff, 0xcc, 200, 0xce, 0, 1, 0x11, 0x70, 0xd1, 0xff, 0x38];
        bytes.extend([0xcf, 0, 0, 1, 0, 0, 0, 0, 0]);
        bytes.push(0xcb);
        bytes.extend(5.0f64.to_bits().to_be_bytes());
        bytes.extend([0xa1, b'g', 0xd9, 40]);
        bytes.extend([b'a'; 40]);
        bytes.extend([0xda, 0, 40]);
        bytes.extend([b'b'; 40]);
        let int = Packed::Int;
        assert_eq!(
            unpack(&bytes),
            Some(vec![
                int(0),
                int(127),
                int(-1),
                int(200),
                int(70_000),
                int(-200),
                int(1 << 40),
                int(5),
                Packed::Text("g".into()),
                Packed::Text("a".repeat(40)),
                Packed::Text("b".repeat(40)),
            ])
        );
        assert_eq!(unpack(&[0xcc]), None);
        assert_eq!(unpack(&[0xa2, b'x']), None);
        assert_eq!(unpack(&[0xc0]), None);
    }

    #[test]
    fn limits_read_back_as_they_were_written() {
        let limits = RunLimits {
            steps: Some(5),
            attempts_per_action: None,
            fallbacks: Some(0),
            fallback_share_ppm: Some(250_000),
            max_fallback_spend: Some(Milli(1_500)),
        };
        assert_eq!(encode_limits(&limits), "5||0|250000|1500");
        assert_eq!(decode_limits(&encode_limits(&limits)), Some(limits));
        // A run started before runs had a maxFallbackSpend has none.
        let before = RunLimits {
            max_fallback_spend: None,
            ..limits
        };
        assert_eq!(decode_limits("5||0|250000"), Some(before));
        assert_eq!(decode_limits("5||0"), None);
    }
}
