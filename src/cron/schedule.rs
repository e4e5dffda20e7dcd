//! `Schedule`: the six time fields of an entry (or a macro), and the exact next fire time.
//!
//! `next_after` is pure: it reads no clock and no files; the zone is a value (a `Zone`, built
//! once from the system's tz database). It finds matches by jumping field by field over
//! bit sets (month, then the month's matching days as one 31-bit mask, then hour, minute,
//! second), never by stepping through minutes, so a yearly schedule costs about what a
//! minutely one does. Wall-clock times are plain "local seconds since the epoch" and dates
//! are computed with integer arithmetic (`zone::civil_from_days`).
//!
//! Daylight saving time follows cron's classification of an entry (DESIGN.md "Time"):
//! - a *fixed-time* entry (minute and hour both written without a leading `*`) lives on the
//!   local wall clock: the next local time that matches after `from`'s wall-clock reading is
//!   mapped to the first instant that shows it; a time skipped by a spring-forward gap maps
//!   to the first instant after the gap, so it still runs once;
//! - a *wildcard* entry (minute or hour led by `*`) lives in real time: it fires at every
//!   instant whose wall-clock reading matches, so it fires in both occurrences of a repeated
//!   hour and not at all in a skipped one.
//!
//! For a fixed-time entry asked from inside the second occurrence of a repeated hour, the
//! answer can be the first occurrence, which lies before `from`: the job ran then, and the
//! conformance vectors (cronsim, Debian cron's model) define the answer this way. A scheduler
//! therefore treats an answer that is not after its `from` as done, and asks again from it.

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};

use super::field::Field;
use super::zone::{Zone, civil_from_days, days_from_civil, weekday_from_days};

/// The cron macros (`@daily` and friends) and what they stand for, in cronie's terms.
pub const MACROS: [(&str, &str); 8] = [
    ("@reboot", ""),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

mod render;

const DOM_STAR: u8 = 1;
const DOW_STAR: u8 = 2;
const MIN_STAR: u8 = 4;
const HR_STAR: u8 = 8;
/// Set when no date matches (`0 0 30 2 *`), computed once when the fields are combined.
const NEVER: u8 = 16;

/// When an entry runs: at boot, or at the times its fields match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Schedule {
    /// `@reboot`: once, when the daemon starts after the machine booted.
    Reboot,
    Times(Times),
}

/// The time fields as bit sets: 32 bytes, copied freely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Times {
    seconds: u64,
    minutes: u64,
    /// bits 0-23
    hours: u32,
    /// bits 1-31
    days: u32,
    /// bits 1-12
    months: u16,
    /// bits 0-6, Sunday = 0
    weekdays: u8,
    flags: u8,
}

impl Times {
    /// Builds the time set from parsed fields. `second` is `None` for five-field entries,
    /// which fire at second 0.
    pub fn from_fields(
        second: Option<Field>,
        minute: Field,
        hour: Field,
        dom: Field,
        month: Field,
        dow: Field,
    ) -> Times {
        let mut flags = 0;
        if dom.star {
            flags |= DOM_STAR;
        }
        if dow.star {
            flags |= DOW_STAR;
        }
        if minute.star {
            flags |= MIN_STAR;
        }
        if hour.star {
            flags |= HR_STAR;
        }
        let mut times = Times {
            seconds: second.map_or(1, |f| f.bits),
            minutes: minute.bits,
            hours: hour.bits as u32,
            days: dom.bits as u32,
            months: month.bits as u16,
            weekdays: dow.bits as u8,
            flags,
        };
        if !times.any_date_matches() {
            times.flags |= NEVER;
        }
        times
    }

    /// Fixed-time entries (literal minute and hour) keep to the wall clock across DST changes;
    /// the others ("wildcard") follow real time. This is cronie's `MIN_STAR`/`HR_STAR` test.
    pub fn is_fixed_time(&self) -> bool {
        self.flags & (MIN_STAR | HR_STAR) == 0
    }

    /// cron's day rule: if either day field starts with `*`, a day must match both;
    /// otherwise it may match either.
    pub fn days_are_ored(&self) -> bool {
        self.flags & (DOM_STAR | DOW_STAR) == 0
    }

    /// Whether the entry has a seconds field other than "at second 0".
    pub fn has_seconds(&self) -> bool {
        self.seconds != 1
    }

    /// False for schedules such as `0 0 30 2 *` that name no date that exists. Under the AND
    /// rule the weekday cannot make a valid date impossible: over the 400-year Gregorian cycle
    /// every month and day falls on every weekday (Feb 29 included).
    pub fn can_fire(&self) -> bool {
        self.flags & NEVER == 0
    }

    /// Months (bits 1-12) that the schedule names but in which none of the days it names
    /// exists, such as February for `0 0 30 * *`. Only meaningful under the AND day rule.
    pub fn months_without_their_days(&self) -> u16 {
        self.months & months_lacking(self.days)
    }

    fn any_date_matches(&self) -> bool {
        if self.days_are_ored() && self.weekdays != 0 {
            return true;
        }
        self.months & !months_lacking(self.days) != 0
    }

    /// Does this local wall-clock time match every field (with the day rule)? A plain
    /// per-field test, used to check the fast search.
    pub fn matches_local(&self, t: &NaiveDateTime) -> bool {
        let bit = |set: u64, v: u32| set & (1u64 << v) != 0;
        let dom = bit(self.days as u64, t.day());
        let dow = bit(self.weekdays as u64, t.weekday().num_days_from_sunday());
        let day = if self.days_are_ored() {
            dom || dow
        } else {
            dom && dow
        };
        day && bit(self.months as u64, t.month())
            && bit(self.hours as u64, t.hour())
            && bit(self.minutes, t.minute())
            && bit(self.seconds, t.second())
    }

    /// The days of `year`-`month` that match, as bits 1-31; `day1` is the month's first day
    /// (days since 1970-01-01).
    fn day_mask(&self, year: i64, month: u32, day1: i64) -> u32 {
        let len = days_in_month(year, month);
        let valid = month_mask(len);
        let first = weekday_from_days(day1);
        // Rotate the weekday set so bit k means "the weekday of day k+1", then repeat it
        // over five weeks and shift so bit d means day d.
        let w = self.weekdays as u64;
        let rotated = ((w >> first) | (w << (7 - first))) & 0x7f;
        let by_weekday =
            ((rotated | rotated << 7 | rotated << 14 | rotated << 21 | rotated << 28) << 1) as u32;
        let by_date = self.days;
        if self.days_are_ored() {
            (by_date | by_weekday) & valid
        } else {
            by_date & by_weekday & valid
        }
    }

    /// The first (hour, minute, second) of a matching day at or after the given time of day.
    fn time_in_day(&self, h: u32, m: u32, s: u32) -> Option<(u32, u32, u32)> {
        let first_sec = self.seconds.trailing_zeros();
        if self.hours & (1 << h) != 0 {
            if self.minutes & (1 << m) != 0 {
                if let Some(s2) = next_bit(self.seconds, s) {
                    return Some((h, m, s2));
                }
            }
            if let Some(m2) = next_bit(self.minutes, m + 1) {
                return Some((h, m2, first_sec));
            }
        }
        let h2 = next_bit(self.hours as u64, h + 1)?;
        Some((h2, self.minutes.trailing_zeros(), first_sec))
    }

    /// The first wall-clock reading at or after `start` that matches, ignoring zones.
    /// Readings are local seconds since 1970-01-01T00:00 (as if the clock were UTC). Gives up
    /// after a full 400-year Gregorian cycle, after which the calendar repeats.
    pub fn next_local_at_or_after(&self, start: i64) -> Option<i64> {
        if !self.can_fire() {
            return None;
        }
        let (mut y, mut mo, mut d) = civil_from_days(start.div_euclid(DAY));
        let sod = start.rem_euclid(DAY) as u32;
        let (mut h, mut mi, mut s) = (sod / 3600, sod / 60 % 60, sod % 60);
        let limit = y + 401;
        loop {
            if y > limit {
                return None;
            }
            match next_bit(self.months as u64, mo) {
                None => {
                    y += 1;
                    (mo, d, h, mi, s) = (1, 1, 0, 0, 0);
                    continue;
                }
                Some(m) if m != mo => (mo, d, h, mi, s) = (m, 1, 0, 0, 0),
                Some(_) => {}
            }
            let day1 = days_from_civil(y, mo, 1);
            match next_bit(self.day_mask(y, mo, day1) as u64, d) {
                None => {
                    (mo, d, h, mi, s) = (mo + 1, 1, 0, 0, 0);
                    continue;
                }
                Some(dd) if dd != d => (d, h, mi, s) = (dd, 0, 0, 0),
                Some(_) => {}
            }
            match self.time_in_day(h, mi, s) {
                Some((h2, m2, s2)) => {
                    let day = day1 + i64::from(d) - 1;
                    let tod = (h2 * 3600 + m2 * 60 + s2) as i64;
                    return day.checked_mul(DAY)?.checked_add(tod);
                }
                None => (d, h, mi, s) = (d + 1, 0, 0, 0),
            }
        }
    }

    /// The next fire time strictly after `from` (Unix seconds; the caller drops fractions,
    /// which is the same as asking from the start of that second).
    pub fn next_after_secs(&self, from: i64, zone: &Zone) -> Option<i64> {
        if self.is_fixed_time() {
            let index = zone.index_at(from);
            let reading = from.checked_add(zone.span_by_index(index).offset)?;
            let n = self.next_local_at_or_after(reading.checked_add(1)?)?;
            Some(zone.first_instant_showing(n, index))
        } else {
            // Search the wall clock of one offset span at a time; a match read with this
            // span's offset but lying past its end belongs to a later span, so go there.
            let mut t = from.checked_add(1)?;
            let mut index = zone.index_at(t);
            loop {
                let span = zone.span_by_index(index);
                let n = self.next_local_at_or_after(t.checked_add(span.offset)?)?;
                let candidate = n - span.offset;
                if candidate < span.end {
                    return Some(candidate);
                }
                t = span.end;
                index += 1;
            }
        }
    }
}

impl Schedule {
    /// The next time this schedule fires strictly after `from` in `zone`, or `None` if it
    /// never does (`@reboot`, or a date that does not exist such as Feb 30).
    pub fn next_after(&self, from: DateTime<Utc>, zone: &Zone) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Reboot => None,
            Schedule::Times(t) => {
                let secs = t.next_after_secs(from.timestamp(), zone)?;
                DateTime::from_timestamp(secs, 0)
            }
        }
    }
}

fn next_bit(set: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = set >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

/// Bits 1..=len.
fn month_mask(len: u32) -> u32 {
    ((1u64 << (len + 1)) - 2) as u32
}

/// The months (bits 1-12) that have none of `days` (bits 1-31), found from the first of them
/// alone: every month has days 1-29, and only February lacks the 30th.
fn months_lacking(days: u32) -> u16 {
    const ALL: u16 = 0x1ffe;
    const SHORT: u16 = 1 << 2 | 1 << 4 | 1 << 6 | 1 << 9 | 1 << 11;
    match (days & !1).trailing_zeros() {
        ..=29 => 0,
        30 => 1 << 2,
        31 => SHORT,
        _ => ALL,
    }
}

fn max_days_in_month(month: u32) -> u32 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    if month == 2 {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if leap { 29 } else { 28 }
    } else {
        max_days_in_month(month)
    }
}

const DAY: i64 = 86_400;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::parse_expr;

    fn next(expr: &str, tz: &str, from: &str) -> String {
        let tz = crate::cron::zone_named(tz).unwrap();
        let from = DateTime::parse_from_rfc3339(from)
            .unwrap()
            .with_timezone(&Utc);
        let s = parse_expr(expr).unwrap();
        s.next_after(from, &Zone::new(tz.clone()))
            .map(|t| tz.local(t).to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn fixed_time_job_in_dst_gap_runs_once_right_after_it() {
        let from = "2026-03-08T00:00:00-05:00";
        assert_eq!(
            next("30 2 * * *", "America/New_York", from),
            "2026-03-08T03:00:00-04:00"
        );
        assert_eq!(
            next(
                "15,45 2 * * *",
                "America/New_York",
                "2026-03-08T03:00:00-04:00"
            ),
            "2026-03-09T02:15:00-04:00"
        );
    }

    #[test]
    fn wildcard_job_skips_the_gap_and_repeats_in_the_overlap() {
        assert_eq!(
            next(
                "*/10 2 * * *",
                "America/New_York",
                "2026-03-08T01:59:00-05:00"
            ),
            "2026-03-09T02:00:00-04:00"
        );
        assert_eq!(
            next("0 * * * *", "America/New_York", "2026-11-01T01:30:00-04:00"),
            "2026-11-01T01:00:00-05:00"
        );
    }

    #[test]
    fn fixed_time_job_in_overlap_runs_at_the_first_occurrence_only() {
        assert_eq!(
            next(
                "30 1 * * *",
                "America/New_York",
                "2026-11-01T01:40:00-04:00"
            ),
            "2026-11-02T01:30:00-05:00"
        );
    }

    #[test]
    fn wildcard_job_months_ahead_fires_in_the_first_pass_of_a_repeated_hour() {
        // From December the next match is 01:00 on the first Sunday of November, 11 months
        // and two offset changes away; read with December's offset it would be the second
        // 01:00 (EST). Only probing for every change on the way finds the first (EDT).
        assert_eq!(
            next(
                "*/30 1 * 11 sun",
                "America/New_York",
                "2025-12-01T00:00:00-05:00"
            ),
            "2026-11-01T01:00:00-04:00"
        );
    }

    #[test]
    fn half_hour_gap_in_lord_howe() {
        // Lord Howe moves from +10:30 to +11:00 at 02:00 local on the first Sunday of October.
        assert_eq!(
            next(
                "15 2 * * *",
                "Australia/Lord_Howe",
                "2025-10-05T01:00:00+10:30"
            ),
            "2025-10-05T02:30:00+11:00"
        );
    }

    #[test]
    fn impossible_dates_never_fire_and_return_fast() {
        assert_eq!(next("0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z"), "");
        assert_eq!(next("0 0 31 4,6,9,11 *", "UTC", "2026-01-01T00:00:00Z"), "");
        assert_eq!(
            next("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z"),
            "2028-02-29T00:00:00+00:00"
        );
    }

    #[test]
    fn months_lacking_days_agree_with_each_months_length() {
        // Every first day, with and without later days beside it, and no day at all.
        let sets = (1..=31u32)
            .flat_map(|d| [1 << d, (u32::MAX << d) & !1])
            .chain([0]);
        for days in sets {
            let lacking = (1..=12u32)
                .filter(|&m| days & month_mask(max_days_in_month(m)) == 0)
                .fold(0u16, |acc, m| acc | 1 << m);
            assert_eq!(months_lacking(days), lacking, "days {days:#x}");
        }
    }

    #[test]
    fn reboot_has_no_next_time() {
        let zone = Zone::new(crate::cron::ZoneRule::utc());
        assert_eq!(
            parse_expr("@reboot").unwrap().next_after(Utc::now(), &zone),
            None
        );
    }
}
