//! Property tests. `next_after` against a slow reference that scans time step by step and
//! applies the DST rules from their definitions (DESIGN.md "Time"), on random schedules, zones
//! with odd offsets and DST rules, and start times near offset changes. The parsers against
//! arbitrary text: they must never panic, and every diagnostic must point inside its line.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use proptest::prelude::*;

use cronwright::cron::{Format, Schedule, Times, Zone, offset_at, parse_crontab, parse_expr};

use crate::util::{offset_changes, year_start};

const ZONES: [&str; 9] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago",
    "Africa/Casablanca",
    "Asia/Tehran",
];

/// How far the reference scans: matches beyond this are only checked to lie beyond it.
const WINDOW_SECS: i64 = 3 * 86_400;
/// Six-field schedules are scanned second by second, so over a shorter window.
const WINDOW_SECS_WITH_SECONDS: i64 = 3 * 3_600;

fn local(tz: Tz, t: i64) -> NaiveDateTime {
    DateTime::from_timestamp(t + offset_at(tz, t).unwrap(), 0)
        .unwrap()
        .naive_utc()
}

/// The reference answer within the window: `Some(Some(t))` when it finds the next fire `t`,
/// `Some(None)` when nothing fires within the window.
fn reference(times: &Times, from: i64, tz: Tz) -> Option<i64> {
    let (step, window) = if times.has_seconds() {
        (1, WINDOW_SECS_WITH_SECONDS)
    } else {
        (60, WINDOW_SECS)
    };
    if times.is_fixed_time() {
        // Walk the wall clock from `from`'s reading; the first matching reading fires at the
        // first instant that shows it, or, if no instant does (a gap), at the first instant
        // whose reading exists after it.
        let start = local(tz, from).and_utc().timestamp();
        let mut n = (start / step + 1) * step;
        while n <= start + window {
            let naive = DateTime::from_timestamp(n, 0).unwrap().naive_utc();
            if times.matches_local(&naive) {
                let mut m = naive;
                loop {
                    match tz.from_local_datetime(&m) {
                        LocalResult::Single(t) => return Some(t.timestamp()),
                        LocalResult::Ambiguous(a, b) => {
                            return Some(a.timestamp().min(b.timestamp()));
                        }
                        LocalResult::None => m += chrono::Duration::seconds(1),
                    }
                }
            }
            n += step;
        }
        None
    } else {
        // Walk real time; fire at every instant whose reading matches.
        let mut t = (from / step + 1) * step;
        while t <= from + window {
            if times.matches_local(&local(tz, t)) {
                return Some(t);
            }
            t += step;
        }
        None
    }
}

/// One field's text from a small grammar that covers every form. `star` weighs how often the
/// field is led by `*` (which matters to cron's day rule and DST classes) against a list of
/// numbers, ranges and steps.
fn field_text(lo: u32, hi: u32, star: u32) -> BoxedStrategy<String> {
    let value = lo..=hi;
    let item = prop_oneof![
        2 => value.clone().prop_map(|v| v.to_string()),
        2 => (value.clone(), value.clone()).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        1 => (value.clone(), value.clone(), 1..=5u32)
            .prop_map(|(a, b, s)| format!("{}-{}/{s}", a.min(b), a.max(b))),
        1 => (value.clone(), 1..=7u32).prop_map(|(a, s)| format!("{a}/{s}")),
    ];
    prop_oneof![
        star => Just("*".to_string()),
        star.div_ceil(2) => (1..=(hi - lo).max(1)).prop_map(|s| format!("*/{s}")),
        4 => prop::collection::vec(item, 1..=3).prop_map(|v| v.join(",")),
    ]
    .boxed()
}

fn expr_strategy() -> impl Strategy<Value = String> {
    (
        prop::bool::weighted(0.15),
        field_text(0, 59, 2),
        field_text(0, 59, 2),
        field_text(0, 23, 2),
        field_text(1, 31, 3),
        field_text(1, 12, 10),
        field_text(0, 7, 3),
    )
        .prop_map(|(six, s, m, h, dom, mon, dow)| {
            if six {
                format!("{s} {m} {h} {dom} {mon} {dow}")
            } else {
                format!("{m} {h} {dom} {mon} {dow}")
            }
        })
}

/// Start times: anywhere in 2020-2030, or within a day and a half of an offset change.
fn from_strategy(zone: usize) -> impl Strategy<Value = i64> {
    let (lo, hi) = (year_start(2020), year_start(2030));
    prop_oneof![
        lo..hi,
        (0..40usize, -129_600i64..129_600).prop_map(move |(i, d)| {
            let changes = &all_changes()[zone];
            if changes.is_empty() {
                lo + d.abs()
            } else {
                changes[i % changes.len()] + d
            }
        }),
    ]
}

/// A prepared `Zone` for each zone of `ZONES`, built once.
fn zone(tz: Tz) -> &'static Zone {
    static PREPARED: std::sync::OnceLock<Vec<Zone>> = std::sync::OnceLock::new();
    let all = PREPARED.get_or_init(|| {
        ZONES
            .iter()
            .map(|z| Zone::new(z.parse().unwrap()))
            .collect()
    });
    all.iter().find(|z| z.tz() == tz).unwrap()
}

/// The instants where each zone of `ZONES` changes its offset in 2020-2030, computed once.
fn all_changes() -> &'static [Vec<i64>] {
    static CHANGES: std::sync::OnceLock<Vec<Vec<i64>>> = std::sync::OnceLock::new();
    CHANGES.get_or_init(|| {
        ZONES
            .iter()
            .map(|z| changes_of(z.parse().unwrap()))
            .collect()
    })
}

fn changes_of(tz: Tz) -> Vec<i64> {
    offset_changes(tz, year_start(2020), year_start(2030), 86_400)
        .into_iter()
        .map(|(at, _, _)| at)
        .collect()
}

fn case_strategy() -> impl Strategy<Value = (String, Tz, i64)> {
    (expr_strategy(), 0..ZONES.len()).prop_flat_map(|(expr, z)| {
        let tz: Tz = ZONES[z].parse().unwrap();
        (Just(expr), Just(tz), from_strategy(z))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn next_after_is_the_first_fire_the_reference_finds((expr, tz, from) in case_strategy()) {
        let schedule = parse_expr(&expr).unwrap();
        let Schedule::Times(times) = schedule else { unreachable!() };
        let got = times.next_after_secs(from, zone(tz));
        match reference(&times, from, tz) {
            Some(expected) => prop_assert_eq!(got, Some(expected), "{} in {} from {}", expr, tz, from),
            None => {
                // Nothing within the window: the answer, if any, lies beyond it.
                if let Some(g) = got {
                    let window = if times.has_seconds() { WINDOW_SECS_WITH_SECONDS } else { WINDOW_SECS };
                    let beyond = if times.is_fixed_time() {
                        local(tz, g) > local(tz, from) + chrono::Duration::seconds(window)
                    } else {
                        g > from + window
                    };
                    prop_assert!(beyond, "{} in {} from {}: got {} inside the window", expr, tz, from, g);
                }
            }
        }
    }

    #[test]
    fn next_after_is_strictly_later_and_matches((expr, tz, from) in case_strategy()) {
        let Schedule::Times(times) = parse_expr(&expr).unwrap() else { unreachable!() };
        if let Some(t) = times.next_after_secs(from, zone(tz)) {
            let reading = local(tz, t);
            if times.is_fixed_time() {
                // Later on the wall clock; in real time too, unless `from` is the second pass
                // through a repeated hour (the job already ran in the first).
                prop_assert!(reading > local(tz, from));
                let second_pass = matches!(tz.from_local_datetime(&local(tz, from)),
                    LocalResult::Ambiguous(a, b) if a.timestamp().max(b.timestamp()) == from);
                prop_assert!(t > from || second_pass);
                // It shows a matching time, or it is the end of a gap that swallowed one.
                let gap_end = offset_at(tz, t - 1).unwrap() < offset_at(tz, t).unwrap();
                prop_assert!(times.matches_local(&reading) || gap_end);
            } else {
                prop_assert!(t > from);
                prop_assert!(times.matches_local(&reading));
            }
        }
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(text in any::<String>()) {
        for format in [Format::User, Format::System] {
            check_diagnostics_point_inside(&text, format);
        }
        let _ = parse_expr(&text);
    }

    #[test]
    fn parsers_never_panic_on_cron_like_text(
        text in "([0-9*/,@a-zA-Z%=\"' \t\\\\-]{0,40}(\r?\n)?){0,8}"
    ) {
        for format in [Format::User, Format::System] {
            check_diagnostics_point_inside(&text, format);
        }
        let _ = parse_expr(&text);
    }

    #[test]
    fn a_list_of_values_parses_to_exactly_those_values(values in prop::collection::btree_set(0u32..60, 1..10)) {
        let text = values.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let field = cronwright::cron::parse_field(&text, cronwright::cron::FieldKind::Minute, &mut Vec::new()).unwrap();
        for v in 0..60 {
            prop_assert_eq!(field.contains(v), values.contains(&v));
        }
    }
}

fn check_diagnostics_point_inside(text: &str, format: Format) {
    let parsed = parse_crontab(text, format);
    let lines: Vec<&str> = text.split('\n').collect();
    for d in &parsed.diagnostics {
        let line = lines[d.line as usize - 1];
        let width = line.strip_suffix('\r').unwrap_or(line).chars().count() as u32;
        assert!(d.column >= 1 && d.column <= width + 1, "{d:?} in {line:?}");
        let _ = d.render("f", line);
    }
}

#[test]
fn strategies_reach_dst_changes() {
    // Guard against a silently weak generator: every DST zone in the list has changes.
    for z in ["America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"] {
        assert!(changes_of(z.parse().unwrap()).len() >= 18, "{z}");
    }
}
