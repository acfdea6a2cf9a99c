//! A clamped hold's curve: how much of the call's elastic part (its output in whole tokens, or
//! its quantity in milli-units: a "step" each) an amount held covers, drawn by the node from the
//! hold's measure and handed to the script with the hold, so that the script that clamps the
//! hold also writes what the call was granted into its record, in the same call.
//!
//! Every measure is, between a few kinks, a ceiling of a line: `amount(x) = ceil(N(x) / D)` with
//! `N(x) = N(lo) + B·(x − lo)` on a piece starting at step `lo`. The most of a piece an amount
//! `h` covers is then `lo + floor((h·D − N(lo)) / B)`, which the node writes in numbers the
//! script's doubles hold exactly (each below 2^53): with `a0` the piece's amount at `lo`,
//! `d = h − a0` and `e = a0·D − N(lo)`, reduced by their common divisor,
//! `steps = d·qd + qe + floor((d·rd + re) / B)` where `D = qd·B + rd` and `e = qe·B + re`.
//! Rust answers the call from the same numbers (`covered`), so answer and record agree.

use std::fmt::Write;

use super::amount::Milli;

/// The script's numbers are doubles: whole numbers below 2^53 are exact.
const EXACT: u128 = 1 << 53;

/// Pieces past which no curve is drawn: the call is then granted its least.
const MAX_PIECES: usize = 32;

/// A clamped hold's curve over the elastic part's steps, from `least` to `full`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Curve {
    /// The least size the hold may be granted, and the whole size asked, in steps.
    pub least: u64,
    pub full: u64,
    /// The event's quantity granted at size `x`: `base + per_step · x` milli-units.
    pub base: u64,
    pub per_step: u64,
    /// Empty when the measure could not be drawn in exact pieces: the least is granted.
    pieces: Vec<Piece>,
}

/// One piece of a curve, from step `lo` to the next piece's `lo` (or the curve's `full`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    lo: u64,
    /// The amount at `lo`, and how much more it is at the piece's last step.
    a0: u64,
    range: u64,
    /// The line's slope, reduced (0: the amount is the same all along the piece), and the
    /// quotients and remainders above.
    b: u64,
    qd: u64,
    rd: u64,
    qe: u64,
    re: u64,
}

/// A measure's exact numerator at each step (None where it cannot be measured), over one
/// denominator.
pub(crate) struct Line<'a> {
    pub numerator: &'a dyn Fn(u64) -> Option<u128>,
    pub denominator: u128,
}

impl Curve {
    /// Draws the curve of `line` from `least` to `full` steps, with pieces starting at `kinks`
    /// (where the measure is known to bend); a piece found not to be straight is halved.
    pub(crate) fn draw(least: u64, full: u64, (base, per_step): (u64, u64), line: &Line<'_>, kinks: &[u64]) -> Curve {
        let mut curve = Curve {
            least,
            full,
            base,
            per_step,
            pieces: Vec::new(),
        };
        let mut starts: Vec<u64> = kinks.iter().copied().filter(|k| *k > least && *k <= full).collect();
        starts.sort_unstable();
        starts.dedup();
        let mut todo: Vec<(u64, u64)> = Vec::with_capacity(MAX_PIECES);
        let mut hi = full;
        for lo in starts.iter().rev().copied().chain([least]) {
            todo.push((lo, hi));
            hi = lo.saturating_sub(1);
        }
        while let Some((lo, hi)) = todo.pop() {
            match piece(line, lo, hi) {
                Some(p) => curve.pieces.push(p),
                None if lo < hi => {
                    let mid = lo + (hi - lo) / 2;
                    todo.push((mid + 1, hi));
                    todo.push((lo, mid));
                }
                None => return curve.bare(),
            }
            if curve.pieces.len() + todo.len() > MAX_PIECES {
                return curve.bare();
            }
        }
        curve
    }

    fn bare(mut self) -> Curve {
        self.pieces.clear();
        self
    }

    /// The most steps `held` covers: the largest size whose amount is at most `held`, and the
    /// least when none is.
    pub(crate) fn covered(&self, held: Milli) -> u64 {
        let mut best = self.least;
        for (i, p) in self.pieces.iter().enumerate() {
            let hi = self.pieces.get(i + 1).map_or(self.full, |next| next.lo - 1);
            if p.a0 > held.0 {
                continue;
            }
            best = match p.b {
                0 => hi,
                b => {
                    let d = (held.0 - p.a0).min(p.range);
                    let steps = d * p.qd + p.qe + (d * p.rd + p.re) / b;
                    hi.min(p.lo.saturating_add(steps))
                }
            };
        }
        best
    }

    /// The quantity granted at `steps`.
    pub(crate) fn quantity(&self, steps: u64) -> Milli {
        Milli(self.base + self.per_step * steps)
    }

    /// As the script reads it (holds.lua's mode "f/<least amount>/<curve>"):
    /// "<least>,<full>,<base>,<per step>", then ";<lo>,<a0>,<range>,<b>,<qd>,<rd>,<qe>,<re>" a piece.
    pub(crate) fn encode(&self, out: &mut String) {
        let _ = write!(out, "{},{},{},{}", self.least, self.full, self.base, self.per_step);
        for p in &self.pieces {
            let _ = write!(
                out,
                ";{},{},{},{},{},{},{},{}",
                p.lo, p.a0, p.range, p.b, p.qd, p.rd, p.qe, p.re
            );
        }
    }
}

/// The piece of `line` from `lo` to `hi` when it is straight there and its numbers are exact
/// in the script; else None.
fn piece(line: &Line<'_>, lo: u64, hi: u64) -> Option<Piece> {
    let den = line.denominator;
    let n0 = (line.numerator)(lo)?;
    let slope = match hi > lo {
        true => (line.numerator)(lo + 1)?.checked_sub(n0)?,
        false => 0,
    };
    let at = |x: u64| n0.checked_add(slope.checked_mul(u128::from(x - lo))?);
    let mid = lo + (hi - lo) / 2;
    if (line.numerator)(hi)? != at(hi)? || (line.numerator)(mid)? != at(mid)? {
        return None;
    }
    let a0 = n0.div_ceil(den);
    let range = at(hi)?.div_ceil(den) - a0;
    let e = a0 * den - n0;
    let g = gcd(gcd(slope, den), e).max(1);
    let (b, d, e) = (slope / g, den / g, e / g);
    let (qd, rd, qe, re) = match b {
        0 => (0, 0, 0, 0),
        b => (d / b, d % b, e / b, e % b),
    };
    let exact = [
        a0,
        range,
        b,
        range.checked_mul(rd)?.checked_add(re)?,
        range.checked_mul(qd)?.checked_add(qe)?,
    ]
    .iter()
    .all(|n| *n < EXACT);
    let small = |n: u128| u64::try_from(n).ok();
    exact.then_some(Piece {
        lo,
        a0: small(a0)?,
        range: small(range)?,
        b: small(b)?,
        qd: small(qd)?,
        rd: small(rd)?,
        qe: small(qe)?,
        re: small(re)?,
    })
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most steps from `least` whose amount is at most `held`, by trying each.
    fn by_hand(numerator: &dyn Fn(u64) -> Option<u128>, den: u128, least: u64, full: u64, held: u64) -> u64 {
        (least..=full)
            .filter(|x| numerator(*x).unwrap().div_ceil(den) <= u128::from(held))
            .max()
            .unwrap_or(least)
    }

    fn agrees(numerator: &dyn Fn(u64) -> Option<u128>, den: u128, least: u64, full: u64, kinks: &[u64]) -> usize {
        let curve = Curve::draw(
            least,
            full,
            (0, 1),
            &Line {
                numerator,
                denominator: den,
            },
            kinks,
        );
        assert!(!curve.pieces.is_empty(), "a curve is drawn");
        let top = numerator(full).unwrap().div_ceil(den) as u64 + 2;
        for held in 0..=top {
            assert_eq!(
                curve.covered(Milli(held)),
                by_hand(numerator, den, least, full, held),
                "held {held}"
            );
        }
        curve.pieces.len()
    }

    #[test]
    fn a_line_is_one_piece_and_covers_what_trying_each_size_finds() {
        // 0.35 milli-units a step over 7 milli-units of base, in millionths.
        let line = |x: u64| Some(7_000_000 + 350_000 * u128::from(x));
        assert_eq!(agrees(&line, 1_000_000, 3, 400, &[]), 1);
        // Three milli-units a step.
        let steep = |x: u64| Some(3 * u128::from(x) + 1);
        assert_eq!(agrees(&steep, 1, 0, 300, &[]), 1);
    }

    #[test]
    fn a_bend_at_a_kink_makes_two_pieces_and_an_unknown_bend_is_halved_until_straight() {
        // Reasoning tokens count up to 40, then stop: the slope falls at 41.
        let bent = |x: u64| Some(u128::from(x) * 1_000 + u128::from(x.min(40)) * 500);
        assert_eq!(agrees(&bent, 1_000, 1, 200, &[41]), 2);
        assert!(agrees(&bent, 1_000, 1, 200, &[]) > 2);
        // A jump down where audio output stops exceeding the output (the dearer price ends).
        let jump = |x: u64| {
            Some(if x < 50 {
                u128::from(x) * 9
            } else {
                u128::from(x) * 7 + 60
            })
        };
        assert_eq!(agrees(&jump, 4, 1, 120, &[50]), 2);
    }

    #[test]
    fn a_flat_measure_covers_the_whole_once_its_amount_is_held() {
        let flat = |_: u64| Some(12_000u128);
        let curve = Curve::draw(
            2,
            90,
            (0, 1),
            &Line {
                numerator: &flat,
                denominator: 1_000,
            },
            &[],
        );
        assert_eq!(curve.covered(Milli(11)), 2);
        assert_eq!(curve.covered(Milli(12)), 90);
    }

    #[test]
    fn numbers_past_the_scripts_doubles_are_split_or_not_drawn() {
        // A slope of odd millionths over a vast range: exact only in smaller pieces.
        let odd = |x: u64| Some(u128::from(x) * 123_456_789_012_347 + 5);
        let curve = Curve::draw(
            0,
            1 << 40,
            (0, 1),
            &Line {
                numerator: &odd,
                denominator: 1_000_003,
            },
            &[],
        );
        let bare = curve.pieces.is_empty();
        let whole = curve.pieces.iter().all(|p| p.range < (1 << 53) && p.b < (1 << 53));
        assert!(bare || whole);
        // An unmeasurable step leaves no curve: the least is granted.
        let none = |x: u64| (x < 5).then_some(1u128);
        let curve = Curve::draw(
            0,
            9,
            (0, 1),
            &Line {
                numerator: &none,
                denominator: 1,
            },
            &[],
        );
        assert_eq!(curve.covered(Milli(100)), 0);
    }

    #[test]
    fn the_encoding_lists_the_header_then_each_piece() {
        let line = |x: u64| Some(2 * u128::from(x));
        let curve = Curve::draw(
            1,
            10,
            (5, 1_000),
            &Line {
                numerator: &line,
                denominator: 1,
            },
            &[],
        );
        let mut text = String::new();
        curve.encode(&mut text);
        assert_eq!(text, "1,10,5,1000;1,2,18,2,0,1,0,0");
    }
}
