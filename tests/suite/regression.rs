//! One test per fixed bug, named after the behaviour it pins rather than after the report
//! (`fixed_time_job_in_dst_gap_runs_once`, not a number), so that a failure here says what
//! broke again. Each test drives the smallest input that showed the bug, through the library
//! or the binaries like the other modules, with the helpers in `util`.

use cronwright::cron::{Format, Zone, parse_crontab, parse_expr};

use crate::util::{cronwright, run, text, utc};

/// `CRON_TZ=:Europe/Berlin` (the `TZ` spelling glibc and cronie accept) used to be refused
/// as an unknown zone, dropping every entry below it, while `--tz :Europe/Berlin` worked.
#[test]
fn cron_tz_accepts_every_spelling_tz_accepts() {
    for spelling in [
        ":Europe/Berlin",
        "/usr/share/zoneinfo/Europe/Berlin",
        "Europe/Berlin",
    ] {
        let source = format!("CRON_TZ={spelling}\n0 9 * * * report\n");
        let parsed = parse_crontab(&source, Format::User);
        assert!(!parsed.has_errors(), "{spelling}: {:?}", parsed.diagnostics);
        assert_eq!(
            parsed.crontab.entries[0].zone,
            Some(chrono_tz::Europe::Berlin),
            "{spelling}"
        );
        // `check` says the same as the parser the daemon loads with.
        let out = run(cronwright().args(["check", "-"]), &source);
        assert!(out.status.success(), "{spelling}: {}", text(&out.stdout));
    }
}

/// A range with equal ends and a step (`5-5/10`) covers just its one value, as in cronie. It
/// used to be read like `5/10` (from 5 to the end of the field), running every ten minutes
/// from 00:05 instead of once at 00:05.
#[test]
fn range_with_equal_ends_and_a_step_fires_once() {
    let zone = Zone::new(chrono_tz::UTC);
    let schedule = parse_expr("5-5/10 0 * * *").unwrap();
    let first = schedule
        .next_after(utc("2026-01-01T00:00:00Z"), &zone)
        .unwrap();
    assert_eq!(first, utc("2026-01-01T00:05:00Z"));
    let second = schedule.next_after(first, &zone).unwrap();
    assert_eq!(second, utc("2026-01-02T00:05:00Z"));
}

/// `cronwright next` printed fire times past 9999 as `+10000-01-01T...`, which is not RFC
/// 3339 (four-digit years only) and breaks the tools that read its output. It now prints the
/// times up to the end of 9999 (as written in the zone asked for) and says on stderr why it
/// stops, exiting 0 as for a schedule that never fires.
#[test]
fn next_stops_before_year_10000() {
    let next = |tz: &str, from: &str, expr: &str| {
        let out = cronwright()
            .args(["next", "--tz", tz, "--from", from, "-n", "3", expr])
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    // Stops after the last time in 9999.
    let (code, out, err) = next("UTC", "9999-12-30T00:00:00Z", "0 0 * * *");
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "9999-12-31T00:00:00+00:00\n")
    );
    assert!(err.contains("before year 10000"), "{err}");
    // Nothing to print at all: after 9996 the next 29 February is in 10000.
    let (code, out, err) = next("UTC", "9996-03-01T00:00:00Z", "0 0 29 2 *");
    assert_eq!((code, out.as_str()), (Some(0), ""));
    assert!(err.contains("before year 10000"), "{err}");
    // The year that counts is the one printed: local midnight in Tokyo is already 10000...
    let (_, out, _) = next("Asia/Tokyo", "9999-12-30T00:00:00Z", "0 0 * * *");
    assert_eq!(out, "9999-12-31T00:00:00+09:00\n");
    // ...and 23:00 in New York on 31 December 9999 is still 9999 there, though not in UTC.
    let (code, out, _) = next(
        "America/New_York",
        "9999-12-31T00:00:00-05:00",
        "0 23 * * *",
    );
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "9999-12-31T23:00:00-05:00\n")
    );
}
