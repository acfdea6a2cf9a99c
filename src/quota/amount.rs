//! Quantities and quotas as integer milli-units, parsed from their decimal text and never through a float.
//! Amounts cross into Lua as integer strings, so every value here stays below 2^53.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest quota or quantity, in units.
pub(crate) const MAX_UNITS: u64 = 1_000_000_000_000;

/// An amount in milli-units: `Milli(333)` is `0.333` on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Milli(pub u64);

/// Why a decimal text is not an amount; the caller adds the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a number")]
    NotANumber,
    #[error("must not be negative")]
    Negative,
    #[error("must have at most {0} decimal places")]
    TooPrecise(u32),
    /// Larger than `max` (in whole units of what was parsed).
    #[error("must be at most {max}")]
    TooLarge { max: u64 },
}

impl Milli {
    pub const ZERO: Milli = Milli(0);
    pub const MAX: Milli = Milli(MAX_UNITS * 1000);

    pub fn from_units(units: u64) -> Milli {
        Milli(units.saturating_mul(1000))
    }

    /// Whole units, rounded down, as the RateLimit headers show them.
    pub fn whole_units(self) -> u64 {
        self.0 / 1000
    }

    /// Parses a JSON number's text (`12`, `0.333`, `1.5e2`) exactly.
    pub fn parse(text: &str) -> Result<Milli, AmountError> {
        parse_scaled(text, 3, Milli::MAX.0).map(Milli)
    }

    /// A JSON number as milli-units, as `parse` reads its text: a whole number (most are:
    /// token counts, quantities) without formatting it first, which every proxied call did for
    /// each count its measures read.
    pub fn of_number(number: &serde_json::Number) -> Result<Milli, AmountError> {
        match number.as_u64() {
            Some(units) if units <= MAX_UNITS => Ok(Milli(units * 1000)),
            _ => Milli::parse(&number.to_string()),
        }
    }

    pub fn saturating_sub(self, other: Milli) -> Milli {
        Milli(self.0.saturating_sub(other.0))
    }
}

/// Parses a non-negative decimal as an integer count of `10^-decimals` units, exactly,
/// refusing more decimals than that and values above `max_scaled`.
pub(crate) fn parse_scaled(text: &str, decimals: u32, max_scaled: u64) -> Result<u64, AmountError> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('-') {
        // "-0" is zero; anything else below zero is refused.
        return match parse_scaled(rest, decimals, max_scaled) {
            Ok(0) => Ok(0),
            Ok(_) | Err(AmountError::TooLarge { .. }) | Err(AmountError::TooPrecise(_)) => Err(AmountError::Negative),
            Err(other) => Err(other),
        };
    }
    let too_large = AmountError::TooLarge {
        max: max_scaled / 10u64.pow(decimals),
    };
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => {
            let exp: i32 = text[at + 1..].parse().map_err(|_| AmountError::NotANumber)?;
            (&text[..at], exp)
        }
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
        return Err(AmountError::NotANumber);
    }
    // Shift the decimal point by the exponent, then by `decimals` for the scaled unit.
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let shift = i64::from(decimals) + i64::from(exponent) - frac_part.len() as i64;
    let (kept, dropped) = if shift >= 0 {
        (digits, "")
    } else {
        digits.split_at(digits.len().saturating_sub(shift.unsigned_abs() as usize))
    };
    if dropped.bytes().any(|b| b != b'0') {
        return Err(AmountError::TooPrecise(decimals));
    }
    if kept.is_empty() {
        return Ok(0);
    }
    // More than 19 digits cannot fit a u64 before the check below.
    if kept.len() as i64 + shift.max(0) > 19 {
        return Err(too_large);
    }
    let base: u64 = kept.parse().map_err(|_| too_large.clone())?;
    let value = base
        .checked_mul(10u64.pow(shift.max(0) as u32))
        .ok_or_else(|| too_large.clone())?;
    if value > max_scaled {
        return Err(too_large);
    }
    Ok(value)
}

/// A signed amount (an adjustment) in milli-units: `-3` is `-3000`.
pub(crate) fn parse_signed_milli(text: &str) -> Result<i64, AmountError> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let milli = i64::try_from(Milli::parse(digits)?.0).map_err(|_| AmountError::TooLarge { max: MAX_UNITS })?;
    Ok(if negative { -milli } else { milli })
}

impl fmt::Display for Milli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (units, milli) = (self.0 / 1000, self.0 % 1000);
        if milli == 0 {
            write!(f, "{units}")
        } else {
            let frac = format!("{milli:03}");
            write!(f, "{units}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl FromStr for Milli {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Milli::parse(s)
    }
}

impl Serialize for Milli {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Whole units are written as integers (every counter of a count plan: the common case,
        // and a tenth of the instructions of the decimal text below).
        if self.0.is_multiple_of(1000) {
            return serializer.serialize_u64(self.0 / 1000);
        }
        // With arbitrary precision a Number keeps its decimal text, so `0.333` stays exact.
        let number = serde_json::Number::from_str(&self.to_string()).map_err(serde::ser::Error::custom)?;
        number.serialize(serializer)
    }
}

/// A signed amount in units (`-3`, `0.5`), for adjustments.
#[derive(Debug, Clone, Copy)]
pub struct SignedAmount(pub i64);

impl Serialize for SignedAmount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let number = serde_json::Number::from_str(&self.to_string()).map_err(serde::ser::Error::custom)?;
        number.serialize(serializer)
    }
}

impl std::fmt::Display for SignedAmount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}", Milli(self.0.unsigned_abs()))
    }
}

impl<'de> Deserialize<'de> for Milli {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        Milli::of_number(&number).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_number_reads_as_its_text_does() {
        for text in [
            "0",
            "1",
            "42",
            "1000000000000",
            "1000000000001",
            "18446744073709551615",
            "0.5",
            "1e3",
            "-0",
            "-1",
            "2.0",
        ] {
            let number: serde_json::Number = serde_json::from_str(text).unwrap();
            assert_eq!(Milli::of_number(&number), Milli::parse(&number.to_string()), "{text}");
        }
    }

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(Milli::parse("0.333"), Ok(Milli(333)));
        assert_eq!(Milli::parse("12"), Ok(Milli(12_000)));
        assert_eq!(Milli::parse("1.5e2"), Ok(Milli(150_000)));
        assert_eq!(Milli::parse("1500e-3"), Ok(Milli(1_500)));
        assert_eq!(Milli::parse("0.100"), Ok(Milli(100)));
        assert_eq!(Milli::parse("0.0010"), Ok(Milli(1)));
        assert_eq!(Milli::parse("-0"), Ok(Milli(0)));
        assert_eq!(Milli::parse("999999999999.999"), Ok(Milli(999_999_999_999_999)));
        assert_eq!(Milli::parse("1000000000000"), Ok(Milli::MAX));
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        assert_eq!(Milli::parse("-1"), Err(AmountError::Negative));
        assert_eq!(Milli::parse("-0.0001"), Err(AmountError::Negative));
        assert_eq!(Milli::parse("0.0001"), Err(AmountError::TooPrecise(3)));
        assert_eq!(
            Milli::parse("1000000000000.001"),
            Err(AmountError::TooLarge { max: MAX_UNITS })
        );
        assert_eq!(Milli::parse("1e13"), Err(AmountError::TooLarge { max: MAX_UNITS }));
        assert_eq!(Milli::parse("1e400"), Err(AmountError::TooLarge { max: MAX_UNITS }));
        assert_eq!(Milli::parse("NaN"), Err(AmountError::NotANumber));
        assert_eq!(Milli::parse(""), Err(AmountError::NotANumber));
    }

    #[test]
    fn shows_units_without_trailing_zeros() {
        assert_eq!(Milli(333).to_string(), "0.333");
        assert_eq!(Milli(1_500).to_string(), "1.5");
        assert_eq!(Milli(20_000).to_string(), "20");
        assert_eq!(serde_json::to_string(&Milli(1_050)).unwrap(), "1.05");
    }

    #[test]
    fn json_round_trip_keeps_every_digit() {
        let m: Milli = serde_json::from_str("999999999999.999").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "999999999999.999");
        assert!(serde_json::from_str::<Milli>("\"5\"").is_err());
    }
}
