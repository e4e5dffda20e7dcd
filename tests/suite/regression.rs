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
