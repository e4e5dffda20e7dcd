//! Property tests. `next_after` against a slow reference that scans time step by step and
//! applies the DST rules from their definitions (DESIGN.md "Time"), on random schedules, zones
//! with odd offsets and DST rules, and start times near offset changes. One field's parser
//! against a plain expansion of each form from its definition, for every field kind. The
//! parsers against arbitrary text: they must never panic, and every diagnostic must point
//! inside its line.

use chrono::{DateTime, LocalResult, NaiveDateTime};
use proptest::prelude::*;

use cronwright::cron::{
    FieldKind, Format, Schedule, Times, Zone, parse_crontab, parse_expr, parse_field,
};

use crate::util::{RefTz, offset_changes, year_start};

/// Zones are shared by reference: the reference zones live for the whole run.
type Tz = &'static RefTz;

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
    DateTime::from_timestamp(t + tz.offset_at(t), 0)
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
                    match tz.instants_showing(&m) {
                        LocalResult::Single(t) => return Some(t),
                        LocalResult::Ambiguous(a, b) => return Some(a.min(b)),
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
            .map(|z| Zone::new(RefTz::get(z).rule()))
            .collect()
    });
    all.iter().find(|z| z.rule().name() == tz.name).unwrap()
}

/// The instants where each zone of `ZONES` changes its offset in 2020-2030, computed once.
fn all_changes() -> &'static [Vec<i64>] {
    static CHANGES: std::sync::OnceLock<Vec<Vec<i64>>> = std::sync::OnceLock::new();
    CHANGES.get_or_init(|| ZONES.iter().map(|z| changes_of(RefTz::get(z))).collect())
}

fn changes_of(tz: Tz) -> Vec<i64> {
    offset_changes(tz, year_start(2020), year_start(2030), 86_400)
        .into_iter()
        .map(|(at, _, _)| at)
        .collect()
}

fn case_strategy() -> impl Strategy<Value = (String, Tz, i64)> {
    (expr_strategy(), 0..ZONES.len()).prop_flat_map(|(expr, z)| {
        let tz: Tz = RefTz::get(ZONES[z]);
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
            Some(expected) => prop_assert_eq!(got, Some(expected), "{} in {} from {}", expr, tz.name, from),
            None => {
                // Nothing within the window: the answer, if any, lies beyond it.
                if let Some(g) = got {
                    let window = if times.has_seconds() { WINDOW_SECS_WITH_SECONDS } else { WINDOW_SECS };
                    let beyond = if times.is_fixed_time() {
                        local(tz, g) > local(tz, from) + chrono::Duration::seconds(window)
                    } else {
                        g > from + window
                    };
                    prop_assert!(beyond, "{} in {} from {}: got {} inside the window", expr, tz.name, from, g);
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
                let second_pass = matches!(tz.instants_showing(&local(tz, from)),
                    LocalResult::Ambiguous(a, b) if a.max(b) == from);
                prop_assert!(t > from || second_pass);
                // It shows a matching time, or it is the end of a gap that swallowed one.
                let gap_end = tz.offset_at(t - 1) < tz.offset_at(t);
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

/// One item of a field's comma list, in each of the grammar's forms, kept as a value so that
/// the test can both write it as text and expand it without the parser.
#[derive(Clone, Debug)]
enum Item {
    Star,
    StarStep(u32),
    Value(u32),
    Range(u32, u32),
    RangeStep(u32, u32, u32),
    /// `N/STEP`: from N to the field's largest value.
    ValueStep(u32, u32),
}

/// A field kind as the test sees it: its smallest and largest value, and its names with the
/// value of the first. Written out here rather than taken from the library.
struct KindSpec {
    kind: FieldKind,
    lo: u32,
    hi: u32,
    names: Option<Names>,
}

struct Names {
    first: u32,
    list: &'static [&'static str],
}

const KINDS: [KindSpec; 6] = [
    KindSpec {
        kind: FieldKind::Second,
        lo: 0,
        hi: 59,
        names: None,
    },
    KindSpec {
        kind: FieldKind::Minute,
        lo: 0,
        hi: 59,
        names: None,
    },
    KindSpec {
        kind: FieldKind::Hour,
        lo: 0,
        hi: 23,
        names: None,
    },
    KindSpec {
        kind: FieldKind::DayOfMonth,
        lo: 1,
        hi: 31,
        names: None,
    },
    KindSpec {
        kind: FieldKind::Month,
        lo: 1,
        hi: 12,
        names: Some(Names {
            first: 1,
            list: &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
        }),
    },
    KindSpec {
        kind: FieldKind::DayOfWeek,
        lo: 0,
        hi: 7,
        names: Some(Names {
            first: 0,
            list: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
        }),
    },
];

/// An item of a field from `lo` to `hi`. Ranges have equal ends one time in four, since
/// `a-a/S` is a form of its own; steps reach past the whole field, which is legal.
fn item_strategy(lo: u32, hi: u32) -> impl Strategy<Value = Item> {
    let value = lo..=hi;
    let ends = prop_oneof![
        3 => (value.clone(), value.clone()).prop_map(|(a, b)| (a.min(b), a.max(b))),
        1 => value.clone().prop_map(|a| (a, a)),
    ];
    let step = 1..=hi + 10;
    prop_oneof![
        1 => Just(Item::Star),
        2 => step.clone().prop_map(Item::StarStep),
        3 => value.clone().prop_map(Item::Value),
        3 => ends.clone().prop_map(|(a, b)| Item::Range(a, b)),
        3 => (ends, step.clone()).prop_map(|((a, b), s)| Item::RangeStep(a, b, s)),
        3 => (value, step).prop_map(|(a, s)| Item::ValueStep(a, s)),
    ]
}

/// A field kind, a list of one to four items, and whether to write values as names where the
/// kind has one (in upper case when the last flag is set).
fn field_case_strategy() -> impl Strategy<Value = (usize, Vec<Item>, bool, bool)> {
    (0..KINDS.len()).prop_flat_map(|k| {
        let KindSpec { lo, hi, .. } = KINDS[k];
        (
            Just(k),
            prop::collection::vec(item_strategy(lo, hi), 1..=4),
            any::<bool>(),
            any::<bool>(),
        )
    })
}

fn write_items(items: &[Item], names: Option<&Names>, upper: bool) -> String {
    let spell = |v: u32| match names {
        Some(n) if (v - n.first) < n.list.len() as u32 => {
            let name = n.list[(v - n.first) as usize];
            if upper {
                name.to_uppercase()
            } else {
                name.to_string()
            }
        }
        _ => v.to_string(),
    };
    items
        .iter()
        .map(|item| match *item {
            Item::Star => "*".to_string(),
            Item::StarStep(s) => format!("*/{s}"),
            Item::Value(v) => spell(v),
            Item::Range(a, b) => format!("{}-{}", spell(a), spell(b)),
            Item::RangeStep(a, b, s) => format!("{}-{}/{s}", spell(a), spell(b)),
            Item::ValueStep(a, s) => format!("{}/{s}", spell(a)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `v` is written by `item` in a field from `lo` to `hi`, from the definitions: an item
/// covers `from..=to` and, with a step, only the values a whole number of steps after `from`.
fn covers(item: &Item, v: u32, lo: u32, hi: u32) -> bool {
    let (from, to, step) = match *item {
        Item::Star => (lo, hi, 1),
        Item::StarStep(s) => (lo, hi, s),
        Item::Value(a) => (a, a, 1),
        Item::Range(a, b) => (a, b, 1),
        Item::RangeStep(a, b, s) => (a, b, s),
        Item::ValueStep(a, s) => (a, hi, s),
    };
    (from..=to).contains(&v) && (v - from) % step == 0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_field_form_parses_to_its_plain_expansion(
        (k, items, use_names, upper) in field_case_strategy()
    ) {
        let KindSpec { kind, lo, hi, ref names } = KINDS[k];
        let text = write_items(&items, names.as_ref().filter(|_| use_names), upper);
        let field = parse_field(&text, kind, &mut Vec::new())
            .map_err(|e| TestCaseError::fail(format!("{kind:?} '{text}': {e}")))?;
        let written = |v| (lo..=hi).contains(&v) && items.iter().any(|i| covers(i, v, lo, hi));
        for v in 0..64 {
            let expected = if kind == FieldKind::DayOfWeek {
                // Sunday is 0 or 7, and the field holds it as 0 only.
                match v {
                    0 => written(0) || written(7),
                    7 => false,
                    _ => written(v),
                }
            } else {
                written(v)
            };
            prop_assert_eq!(field.contains(v), expected, "{:?} '{}' at {}", kind, text, v);
        }
        prop_assert_eq!(field.star, matches!(items[0], Item::Star | Item::StarStep(_)), "{}", text);
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
        assert!(changes_of(RefTz::get(z)).len() >= 18, "{z}");
    }
}
