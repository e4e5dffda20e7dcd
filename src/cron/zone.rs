//! `Zone`: a time zone prepared for next-fire searches, and civil-date arithmetic.
//!
//! chrono-tz answers "what is the offset at this instant" by converting to a date and back
//! and searching its span table, which it does not expose. A search asks that many times, so
//! a `Zone` reads the zone's offset changes once (about 2 ms) into a sorted table;
//! after that the offset at an instant, the span of instants sharing it, and the instants that
//! show a given wall-clock reading are each one binary search, and a search never has to probe
//! for changes it might have stepped over. Prepare a zone once and reuse it (the daemon keeps
//! one per zone in use).
//!
//! The table is read by probing chrono-tz every day before 1970 and every 6 days from 1970 to
//! 2200: from 1970 on no zone changes its offset twice within 6 days (`tests/suite/tzdb.rs`
//! checks this for the compiled-in database, and that nothing changes after 2200).

use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::rule::ZoneRule;

/// Unix seconds of 1800-01-01, 1970-01-01 and 2200-01-01: where the probing steps change.
const PROBE_FROM: i64 = -5_364_662_400;
const PROBE_SWITCH: i64 = 0;
const PROBE_TO: i64 = 7_258_118_400;
const DAY: i64 = 86_400;
/// From 1970 on, offset changes of one zone are more than this far apart.
pub const TRANSITION_PROBE_SECS: i64 = 6 * DAY;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    rule: ZoneRule,
    /// Offset (seconds east of UTC) before the first change.
    initial: i32,
    /// Each change: the first instant of the new offset, and that offset. Sorted.
    changes: Box<[(i64, i32)]>,
    /// For each bucket of `2^BUCKET_BITS` seconds from `PROBE_FROM`, how many changes come
    /// before the bucket starts: `index_at` looks there and steps over the few changes a
    /// bucket holds, instead of bisecting the whole table on every call.
    buckets: Box<[u32]>,
}

/// Buckets of 2^22 s (about 48.5 days): 3,000 of them cover 1800-2200 in 12 KB.
const BUCKET_BITS: u32 = 22;

/// A run of instants with one offset: `[begin, end)`, either end possibly unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub offset: i64,
    pub begin: i64,
    pub end: i64,
}

/// The zone's offset at an instant, straight from chrono-tz (slow; used to build tables).
pub fn offset_at(tz: Tz, t: i64) -> Option<i64> {
    let utc = DateTime::from_timestamp(t, 0)?.naive_utc();
    Some(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc() as i64)
}

impl Zone {
    /// Reads the zone's offset changes into a table.
    pub fn new(rule: impl Into<ZoneRule>) -> Zone {
        let rule = rule.into();
        let off = |t: i64| rule.offset_secs(t) as i32;
        let initial = off(PROBE_FROM);
        let mut changes = Vec::new();
        let (mut t, mut current) = (PROBE_FROM, initial);
        while t < PROBE_TO {
            let step = if t < PROBE_SWITCH {
                DAY
            } else {
                TRANSITION_PROBE_SECS
            };
            let next = (t + step).min(PROBE_TO);
            let o = off(next);
            if o != current {
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if off(mid) == current {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                changes.push((hi, o));
                current = o;
            }
            t = next;
        }
        let count = ((PROBE_TO - PROBE_FROM) >> BUCKET_BITS) as usize + 1;
        let buckets = (0..count)
            .map(|b| {
                let start = PROBE_FROM + ((b as i64) << BUCKET_BITS);
                changes.partition_point(|c| c.0 < start) as u32
            })
            .collect();
        Zone {
            rule,
            initial,
            changes: changes.into_boxed_slice(),
            buckets,
        }
    }

    pub fn rule(&self) -> &ZoneRule {
        &self.rule
    }

    /// How many offset changes the table holds (for tests and diagnostics).
    pub fn changes(&self) -> &[(i64, i32)] {
        &self.changes
    }

    /// The index of the span holding `t`: the number of changes at or before it.
    pub fn index_at(&self, t: i64) -> usize {
        let Some(&first) = usize::try_from(t.saturating_sub(PROBE_FROM) >> BUCKET_BITS)
            .ok()
            .and_then(|b| self.buckets.get(b))
        else {
            return self.changes.partition_point(|c| c.0 <= t);
        };
        let mut i = first as usize;
        while i < self.changes.len() && self.changes[i].0 <= t {
            i += 1;
        }
        i
    }

    /// `index_at`, trying `hint` and the span after it first: successive questions of one
    /// search are nearly always about the same span or the next.
    pub fn index_near(&self, t: i64, hint: usize) -> usize {
        for i in [hint, hint + 1] {
            if i <= self.changes.len() {
                let s = self.span_by_index(i);
                if s.begin <= t && t < s.end {
                    return i;
                }
            }
        }
        self.index_at(t)
    }

    /// The offset in force at `t` and the run of instants around `t` that share it.
    pub fn span_at(&self, t: i64) -> Span {
        self.span_by_index(self.index_at(t))
    }

    /// The span with the given index (see `index_at`).
    pub fn span_by_index(&self, i: usize) -> Span {
        Span {
            offset: if i == 0 {
                self.initial
            } else {
                self.changes[i - 1].1
            } as i64,
            begin: if i == 0 {
                i64::MIN
            } else {
                self.changes[i - 1].0
            },
            end: self.changes.get(i).map_or(i64::MAX, |c| c.0),
        }
    }

    /// The first instant whose wall-clock reading is `local` (local seconds since the epoch).
    /// A reading that occurs twice gives the first; one skipped by a gap gives the first
    /// instant after the gap. `hint` is a span index near the answer (any index is correct).
    pub fn first_instant_showing(&self, local: i64, hint: usize) -> i64 {
        let hint = hint.min(self.changes.len());
        let j = self.index_near(local - self.span_by_index(hint).offset, hint);
        let s = self.span_by_index(j);
        let x = local - s.offset;
        if s.begin <= x && x < s.end {
            // The same reading came earlier only if the clock went back at this span's start.
            if j > 0 {
                let p = self.span_by_index(j - 1);
                let earlier = local - p.offset;
                if p.begin <= earlier && earlier < p.end {
                    return earlier;
                }
            }
            return x;
        }
        // Not shown in the guessed span: any instant showing it lies within a day of the
        // guess, and spans are days long, so look in the neighbours; failing that, it is in a
        // gap, which ends at the change whose clock jump skips it.
        let lo = j.saturating_sub(2);
        let hi = (j + 2).min(self.changes.len());
        let showing = (lo..=hi)
            .map(|k| self.span_by_index(k))
            .filter_map(|s| {
                let x = local - s.offset;
                (s.begin <= x && x < s.end).then_some(x)
            })
            .min();
        if let Some(x) = showing {
            return x;
        }
        (lo.max(1)..=hi)
            .map(|k| (self.span_by_index(k - 1), self.span_by_index(k)))
            .find(|(before, after)| {
                after.begin + before.offset <= local && local < after.begin + after.offset
            })
            .map_or(x, |(_, after)| after.begin)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). Written
/// out because the search converts on every step and chrono's conversions dominated its cost.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month 1-12, day 1-31).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Day of week of a day count, Sunday = 0 (1970-01-01 was a Thursday).
pub fn weekday_from_days(z: i64) -> u32 {
    (z + 4).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn civil_arithmetic_agrees_with_chrono() {
        for z in (-800_000..800_000).step_by(97) {
            let d = NaiveDate::from_num_days_from_ce_opt(z as i32 + 719_163).unwrap();
            assert_eq!(
                civil_from_days(z),
                (d.year() as i64, d.month(), d.day()),
                "{z}"
            );
            assert_eq!(days_from_civil(d.year() as i64, d.month(), d.day()), z);
            assert_eq!(weekday_from_days(z), d.weekday().num_days_from_sunday());
        }
    }

    #[test]
    fn table_agrees_with_chrono_tz() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let zone = Zone::new(tz);
        for t in (-2_000_000_000i64..5_000_000_000).step_by(3_599_993) {
            assert_eq!(zone.span_at(t).offset, offset_at(tz, t).unwrap(), "{t}");
        }
    }

    #[test]
    fn readings_in_gaps_and_overlaps_resolve_to_the_first_instant() {
        let zone = Zone::new("America/New_York".parse::<Tz>().unwrap());
        let local = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
                .unwrap()
                .and_utc()
                .timestamp()
        };
        let utc = |s: &str| local(s);
        // 02:30 on 2026-03-08 does not exist: the gap ends at 03:00 EDT = 07:00 UTC.
        assert_eq!(
            zone.first_instant_showing(local("2026-03-08 02:30"), 0),
            utc("2026-03-08 07:00")
        );
        // 01:30 on 2026-11-01 happens twice: first at EDT = 05:30 UTC.
        assert_eq!(
            zone.first_instant_showing(local("2026-11-01 01:30"), 0),
            utc("2026-11-01 05:30")
        );
        assert_eq!(
            zone.first_instant_showing(local("2026-07-01 12:00"), 10_000),
            utc("2026-07-01 16:00")
        );
    }
}
