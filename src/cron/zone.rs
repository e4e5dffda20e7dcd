//! `Zone`: a time zone prepared for next-fire searches, and civil-date arithmetic.
//!
//! A search asks "what is the offset at this instant" and "which instants show this
//! wall-clock reading" many times, so a `Zone` reads the zone's offset changes once, from
//! jiff's transitions of the TZif file or POSIX rule, into a sorted table; after that the
//! offset at an instant, the span of instants sharing it, and the instants that show a given
//! wall-clock reading are each one lookup, and a search never has to probe for changes it
//! might have stepped over. Prepare a zone once and reuse it (the daemon keeps one per zone in
//! use).
//!
//! The table covers 1970 to 2200 (no clock the daemon runs on reads earlier; `next --from`
//! asks for what it needs with [`Zone::since`]). Before its start the offset in force at the
//! start is assumed, after its end the offset in force at the end: the search's year limit is
//! far beyond any time a job can be due. `tests/suite/tzdb.rs` checks, for every zone of the
//! system's database, that offset changes are days apart and move a clock by less than a day,
//! which [`Zone::first_instant_showing`] relies on.

use super::rule::ZoneRule;

/// Unix seconds of 1970-01-01 and 2200-01-01: where the daemon's tables start and end.
const TABLE_FROM: i64 = 0;
const TABLE_TO: i64 = 7_258_118_400;
/// From 1970 on, offset changes of one zone are more than this far apart.
pub const MIN_SPAN_SECS: i64 = 6 * 86_400;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    rule: ZoneRule,
    /// Offset (seconds east of UTC) before the first change.
    initial: i32,
    /// Each change: the first instant of the new offset, and that offset. Sorted.
    changes: Box<[(i64, i32)]>,
    /// Where the buckets start (Unix seconds).
    base: i64,
    /// For each bucket of `2^BUCKET_BITS` seconds from `base`, how many changes come before
    /// the bucket starts: `index_at` looks there and steps over the few changes a bucket
    /// holds, instead of bisecting the whole table on every call.
    buckets: Box<[u32]>,
}

/// Buckets of 2^22 s (about 48.5 days): 1,730 of them cover 1970-2200 in 7 KB.
const BUCKET_BITS: u32 = 22;

/// A run of instants with one offset: `[begin, end)`, either end possibly unbounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub offset: i64,
    pub begin: i64,
    pub end: i64,
}

impl Zone {
    /// Reads the zone's offset changes from 1970 to 2200 into a table.
    pub fn new(rule: impl Into<ZoneRule>) -> Zone {
        Zone::since(rule, TABLE_FROM)
    }

    /// Reads the zone's offset changes from `from` (Unix seconds; at the latest 1970) to 2200
    /// into a table.
    pub fn since(rule: impl Into<ZoneRule>, from: i64) -> Zone {
        let rule = rule.into();
        let base = from.min(TABLE_FROM);
        let initial = rule.offset_secs(base) as i32;
        let mut changes = Vec::new();
        let mut current = initial;
        if let Ok(start) = jiff::Timestamp::from_second(base) {
            for transition in rule.time_zone().following(start) {
                let at = transition.timestamp().as_second();
                if at >= TABLE_TO {
                    break;
                }
                let offset = transition.offset().seconds();
                // Transitions that change only a name or the DST flag keep the offset.
                if offset != current {
                    changes.push((at, offset));
                    current = offset;
                }
            }
        }
        let count = ((TABLE_TO - base) >> BUCKET_BITS) as usize + 1;
        let buckets = (0..count)
            .map(|b| {
                let start = base + ((b as i64) << BUCKET_BITS);
                changes.partition_point(|c| c.0 < start) as u32
            })
            .collect();
        Zone {
            rule,
            initial,
            changes: changes.into_boxed_slice(),
            base,
            buckets,
        }
    }

    /// Whether the two tables give every instant the same offset (the zone's rules are the
    /// same where the daemon looks).
    pub fn same_offsets(&self, other: &Zone) -> bool {
        self.initial == other.initial && self.changes == other.changes
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
        let Some(&first) = usize::try_from(t.saturating_sub(self.base) >> BUCKET_BITS)
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
    use crate::cron::zone_named;
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
    fn table_agrees_with_the_rules() {
        for name in [
            "America/New_York",
            "Australia/Lord_Howe",
            "CET-1CEST,M3.5.0,M10.5.0/3",
        ] {
            let rule = zone_named(name).unwrap();
            let zone = Zone::since(rule.clone(), -2_000_000_000);
            for t in (-2_000_000_000i64..7_000_000_000).step_by(3_599_993) {
                assert_eq!(zone.span_at(t).offset, rule.offset_secs(t), "{name} {t}");
            }
        }
    }

    #[test]
    fn readings_in_gaps_and_overlaps_resolve_to_the_first_instant() {
        let zone = Zone::new(zone_named("America/New_York").unwrap());
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
