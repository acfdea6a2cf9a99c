//! Period arithmetic: which window of a limit group contains a given instant.
//! Pure functions of the time they are handed; there is no reset job, periods are computed on demand.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;
/// Monday 1970-01-05, where calendar weeks count from.
const FIRST_MONDAY_MS: i64 = 4 * DAY_MS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodKind {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Lifetime,
    /// A rolling window: at most the quota in any span of `every` seconds ending now, counted in
    /// ROLL_BUCKETS sub-windows (`Window::buckets`).
    Rolling,
}

/// How many sub-windows a rolling window counts in: an admission counts from its sub-window's
/// start for the window and one sub-window more (so at most 5 % longer than the window, never
/// shorter), and a user's group keeps at most ROLL_BUCKETS + 1 sub-windows' counters.
pub(crate) const ROLL_BUCKETS: u32 = 20;

/// The longest rolling window, in seconds: a day.
pub(crate) const MAX_ROLLING_SECONDS: u32 = 86_400;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Calendar,
    SubscriptionStart,
}

/// A resolved period of one limit group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    /// How many of `kind` make one window; a rolling window's length in seconds.
    pub every: u32,
    pub anchor: Anchor,
}

/// One window of a period: `start_ms <= t < end_ms`; a lifetime window has no end. Of a
/// rolling period, the sub-window containing the instant: the window counts it and the
/// `buckets` sub-windows before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    /// 0 for a calendar window; a rolling one's ROLL_BUCKETS.
    pub buckets: u32,
}

impl Window {
    /// A calendar window (or a lifetime one, without an end).
    pub const fn fixed(start_ms: i64, end_ms: Option<i64>) -> Window {
        Window {
            start_ms,
            end_ms,
            buckets: 0,
        }
    }

    /// A rolling window's sub-window length, ms; None for a calendar window.
    pub fn bucket_ms(&self) -> Option<i64> {
        (self.buckets > 0).then(|| self.end_ms.unwrap_or(self.start_ms) - self.start_ms)
    }

    /// Where counting starts: a rolling window's oldest sub-window counted, else the start.
    pub fn counted_from(&self) -> i64 {
        self.start_ms - self.bucket_ms().map_or(0, |g| g * i64::from(self.buckets))
    }

    /// When what a rolling window's current sub-window counts rolls out; None for others.
    pub fn rolled_out_at(&self) -> Option<i64> {
        self.bucket_ms()
            .map(|g| self.start_ms + g * (i64::from(self.buckets) + 1))
    }

    /// Of a rolling window: the sub-windows it counts, oldest first (`buckets` before this
    /// one, then this one), each with when what it counted rolls out.
    pub fn counted(&self) -> Vec<(Window, i64)> {
        let Some(g) = self.bucket_ms() else {
            return vec![(*self, self.end_ms.unwrap_or(i64::MAX))];
        };
        let n = i64::from(self.buckets);
        (0..=n)
            .rev()
            .map(|back| {
                let start = self.start_ms - back * g;
                (
                    Window {
                        start_ms: start,
                        end_ms: Some(start + g),
                        buckets: self.buckets,
                    },
                    start + (n + 1) * g,
                )
            })
            .collect()
    }
}

impl PeriodKind {
    /// Accepts both spellings, `month` and `monthly`.
    pub fn parse(text: &str) -> Option<PeriodKind> {
        Some(match text {
            "minute" | "minutely" => PeriodKind::Minute,
            "hour" | "hourly" => PeriodKind::Hour,
            "day" | "daily" => PeriodKind::Day,
            "week" | "weekly" => PeriodKind::Week,
            "month" | "monthly" => PeriodKind::Month,
            "year" | "yearly" => PeriodKind::Year,
            "lifetime" => PeriodKind::Lifetime,
            "rolling" => PeriodKind::Rolling,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Minute => "minute",
            PeriodKind::Hour => "hour",
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
            PeriodKind::Month => "month",
            PeriodKind::Year => "year",
            PeriodKind::Lifetime => "lifetime",
            PeriodKind::Rolling => "rolling",
        }
    }
}

impl Anchor {
    pub fn parse(text: &str) -> Option<Anchor> {
        match text {
            "calendar" => Some(Anchor::Calendar),
            "subscription_start" => Some(Anchor::SubscriptionStart),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Anchor::Calendar => "calendar",
            Anchor::SubscriptionStart => "subscription_start",
        }
    }
}

impl Period {
    /// The window containing `now_ms`, for a subscription started at `started_ms`. An instant
    /// before the start of a subscription-anchored period falls in its first window: a start
    /// may be given a few seconds ahead of a node's clock (callers' clocks differ), and what a
    /// subscription admits counts in its own periods, never in the one before its start.
    pub fn window(&self, now_ms: i64, started_ms: i64) -> Window {
        let now_ms = match (self.anchor, self.kind) {
            (_, PeriodKind::Rolling) | (Anchor::Calendar, _) => now_ms,
            (Anchor::SubscriptionStart, _) => now_ms.max(started_ms),
        };
        let every = i64::from(self.every.max(1));
        let fixed = |unit_ms: i64, calendar_origin_ms: i64| {
            let origin = match self.anchor {
                Anchor::Calendar => calendar_origin_ms,
                Anchor::SubscriptionStart => started_ms,
            };
            let len = unit_ms * every;
            let start = origin + (now_ms - origin).div_euclid(len) * len;
            Window::fixed(start, Some(start + len))
        };
        match self.kind {
            PeriodKind::Minute => fixed(MINUTE_MS, 0),
            PeriodKind::Hour => fixed(HOUR_MS, 0),
            PeriodKind::Day => fixed(DAY_MS, 0),
            PeriodKind::Week => fixed(WEEK_MS, FIRST_MONDAY_MS),
            PeriodKind::Month => self.month_window(now_ms, started_ms, every),
            PeriodKind::Year => self.month_window(now_ms, started_ms, every * 12),
            PeriodKind::Lifetime => Window::fixed(0, None),
            PeriodKind::Rolling => {
                // Sub-windows of a twentieth of the window, rounded up (50 ms at least): the
                // window they make is never shorter than asked.
                let g = (i64::from(self.every) * 1000 + i64::from(ROLL_BUCKETS) - 1) / i64::from(ROLL_BUCKETS);
                let start = now_ms.div_euclid(g) * g;
                Window {
                    start_ms: start,
                    end_ms: Some(start + g),
                    buckets: ROLL_BUCKETS,
                }
            }
        }
    }

    /// Windows of `months` calendar months, from 1970-01 or from the subscription's start.
    fn month_window(&self, now_ms: i64, started_ms: i64, months: i64) -> Window {
        let origin = match self.anchor {
            Anchor::Calendar => 0,
            Anchor::SubscriptionStart => started_ms,
        };
        let origin_at = to_datetime(origin);
        let now_at = to_datetime(now_ms);
        let elapsed = month_index(now_at) - month_index(origin_at);
        // The estimate from month numbers is off by at most one window either way
        // (the anchor's day or time of day may not have come yet this month).
        let mut k = elapsed.div_euclid(months);
        while boundary(origin_at, k * months) > now_ms {
            k -= 1;
        }
        while boundary(origin_at, (k + 1) * months) <= now_ms {
            k += 1;
        }
        Window::fixed(
            boundary(origin_at, k * months),
            Some(boundary(origin_at, (k + 1) * months)),
        )
    }
}

fn to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn month_index(at: DateTime<Utc>) -> i64 {
    i64::from(at.year()) * 12 + i64::from(at.month0())
}

/// The anchor moved by `months` calendar months, its day clamped to the month's last day
/// (started Jan 31: Feb 28 or 29, then Mar 31).
fn boundary(anchor: DateTime<Utc>, months: i64) -> i64 {
    let date = anchor.date_naive();
    let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or_default();
    let first = if months >= 0 {
        first.checked_add_months(Months::new(months as u32))
    } else {
        first.checked_sub_months(Months::new(months.unsigned_abs() as u32))
    }
    .unwrap_or_default();
    let clamped = first
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .map_or(1, |last| last.day().min(date.day()));
    let day = first.with_day(clamped).unwrap_or(first);
    day.and_time(anchor.time()).and_utc().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    fn period(kind: PeriodKind, every: u32, anchor: Anchor) -> Period {
        Period { kind, every, anchor }
    }

    #[test]
    fn calendar_month_starts_on_the_first() {
        let w = period(PeriodKind::Month, 1, Anchor::Calendar).window(ms("2026-02-14T10:00:00Z"), 0);
        assert_eq!(w.start_ms, ms("2026-02-01T00:00:00Z"));
        assert_eq!(w.end_ms, Some(ms("2026-03-01T00:00:00Z")));
    }

    #[test]
    fn subscription_month_clamps_to_the_last_day() {
        let p = period(PeriodKind::Month, 1, Anchor::SubscriptionStart);
        let started = ms("2026-01-31T09:30:00Z");
        let w = p.window(ms("2026-02-15T00:00:00Z"), started);
        assert_eq!(w.start_ms, started);
        assert_eq!(w.end_ms, Some(ms("2026-02-28T09:30:00Z")));
        let w = p.window(ms("2026-03-01T00:00:00Z"), started);
        assert_eq!(w.start_ms, ms("2026-02-28T09:30:00Z"));
        assert_eq!(w.end_ms, Some(ms("2026-03-31T09:30:00Z")));
        let leap = p.window(ms("2028-02-10T00:00:00Z"), started);
        assert_eq!(leap.end_ms, Some(ms("2028-02-29T09:30:00Z")));
    }

    #[test]
    fn calendar_weeks_start_on_monday() {
        let w = period(PeriodKind::Week, 1, Anchor::Calendar).window(ms("2026-11-22T12:00:00Z"), 0);
        assert_eq!(w.start_ms, ms("2026-11-16T00:00:00Z"));
    }

    #[test]
    fn lifetime_never_ends() {
        let w = period(PeriodKind::Lifetime, 1, Anchor::Calendar).window(ms("2026-11-22T12:00:00Z"), 0);
        assert_eq!(w, Window::fixed(0, None));
    }

    #[test]
    fn calendar_every_aligns_weeks_to_the_first_monday_and_months_to_1970() {
        let fortnight = period(PeriodKind::Week, 2, Anchor::Calendar).window(ms("2026-11-22T12:00:00Z"), 0);
        assert_eq!((fortnight.start_ms - FIRST_MONDAY_MS) % (2 * WEEK_MS), 0);
        assert_eq!(to_datetime(fortnight.start_ms).weekday(), chrono::Weekday::Mon);
        let quarter = period(PeriodKind::Month, 3, Anchor::Calendar).window(ms("2026-11-22T12:00:00Z"), 0);
        assert_eq!(quarter.start_ms, ms("2026-10-01T00:00:00Z"));
        assert_eq!(quarter.end_ms, Some(ms("2027-01-01T00:00:00Z")));
        let two_years = period(PeriodKind::Year, 2, Anchor::Calendar).window(ms("2027-03-01T00:00:00Z"), 0);
        assert_eq!(two_years.start_ms, ms("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn a_rolling_window_counts_twenty_sub_windows_before_the_current_one() {
        let p = period(PeriodKind::Rolling, 2, Anchor::Calendar);
        let w = p.window(10_050, 0);
        assert_eq!((w.start_ms, w.end_ms, w.bucket_ms()), (10_000, Some(10_100), Some(100)));
        let counted = w.counted();
        assert_eq!(counted.len(), 21);
        assert_eq!(counted[0].0.start_ms, 8_000, "2 s before the current sub-window");
        // What the oldest counted rolls out when the window has passed its sub-window's end.
        assert_eq!(counted[0].1, 10_100);
        assert_eq!(counted[20], (w, 12_100));
        // Never shorter than asked: 7 s in twentieths rounds up.
        assert_eq!(
            period(PeriodKind::Rolling, 7, Anchor::Calendar)
                .window(0, 0)
                .bucket_ms(),
            Some(350)
        );
        assert_eq!(
            period(PeriodKind::Rolling, 1, Anchor::Calendar)
                .window(0, 0)
                .bucket_ms(),
            Some(50)
        );
    }

    fn any_period() -> impl Strategy<Value = Period> {
        let kind = prop_oneof![
            Just(PeriodKind::Minute),
            Just(PeriodKind::Hour),
            Just(PeriodKind::Day),
            Just(PeriodKind::Week),
            Just(PeriodKind::Month),
            Just(PeriodKind::Year),
        ];
        let anchor = prop_oneof![Just(Anchor::Calendar), Just(Anchor::SubscriptionStart)];
        (kind, 1u32..13, anchor).prop_map(|(kind, every, anchor)| Period { kind, every, anchor })
    }

    // 2000-01-01 .. 2100-01-01
    const FROM: i64 = 946_684_800_000;
    const TO: i64 = 4_102_444_800_000;

    proptest! {
        #[test]
        fn now_is_always_inside_its_window(p in any_period(), started in FROM..TO, offset in 0i64..3_000_000_000_000) {
            let now = started + offset;
            let w = p.window(now, started);
            prop_assert!(w.start_ms <= now);
            prop_assert!(now < w.end_ms.unwrap());
        }

        #[test]
        fn consecutive_windows_tile(p in any_period(), started in FROM..TO, offset in 0i64..3_000_000_000_000) {
            let w = p.window(started + offset, started);
            let next = p.window(w.end_ms.unwrap(), started);
            prop_assert_eq!(next.start_ms, w.end_ms.unwrap());
            if w.start_ms > started || p.anchor == Anchor::Calendar {
                let before = p.window(w.start_ms - 1, started);
                prop_assert_eq!(before.end_ms, Some(w.start_ms));
            }
        }

        #[test]
        fn before_its_start_is_the_first_window(p in any_period(), started in FROM..TO, early in 1i64..10_000) {
            let w = p.window(started - early, started);
            match p.anchor {
                Anchor::SubscriptionStart => prop_assert_eq!(w, p.window(started, started)),
                Anchor::Calendar => prop_assert!(w.start_ms <= started - early),
            }
        }

        #[test]
        fn subscription_months_clamp_from_late_days(day in 29u32..32, month in 1u32..13, year in 2001i32..2090, n in 0i64..40) {
            let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else { return Ok(()) };
            let started = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis();
            let p = period(PeriodKind::Month, 1, Anchor::SubscriptionStart);
            let at = boundary(to_datetime(started), n);
            let w = p.window(at, started);
            prop_assert_eq!(w.start_ms, at);
            let start_date = to_datetime(w.start_ms).date_naive();
            let last_day = start_date.checked_add_months(Months::new(1)).map(|d| d.with_day(1).unwrap().pred_opt().unwrap().day()).unwrap();
            prop_assert_eq!(start_date.day(), day.min(last_day));
        }

        #[test]
        fn calendar_every_counts_from_the_epoch(minutes in 1u32..120, now in FROM..TO) {
            let w = period(PeriodKind::Minute, minutes, Anchor::Calendar).window(now, 0);
            prop_assert_eq!(w.start_ms % (i64::from(minutes) * MINUTE_MS), 0);
        }
    }
}
