//! `cronwright next`: its output format and exit codes, which outside checks rely on.

use crate::util::{cronwright, text};

fn next(args: &[&str]) -> (Option<i32>, String, String) {
    let out = cronwright().arg("next").args(args).output().unwrap();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn prints_count_times_in_rfc3339_with_the_zone_offset() {
    let (code, out, _) = next(&[
        "--from",
        "2026-03-07T12:00:00-05:00",
        "--tz",
        "America/New_York",
        "-n",
        "3",
        "30 2 * * *",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n2026-03-10T02:30:00-04:00\n"
    );
}

#[test]
fn default_count_is_five_and_words_are_joined() {
    let (_, out, _) = next(&[
        "--from",
        "2026-01-01T00:00:00Z",
        "--tz",
        "UTC",
        "*/10",
        "*",
        "*",
        "*",
        "*",
    ]);
    assert_eq!(out.lines().count(), 5);
    assert_eq!(out.lines().next(), Some("2026-01-01T00:10:00+00:00"));
}

#[test]
fn zone_defaults_to_the_tz_variable() {
    let out = cronwright()
        .env("TZ", "Asia/Kolkata")
        .args([
            "next",
            "--from",
            "2026-01-01T00:00:00Z",
            "-n",
            "1",
            "@daily",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "2026-01-02T00:00:00+05:30\n");
}

#[test]
fn never_firing_schedule_prints_nothing_and_exits_zero() {
    let (code, out, err) = next(&["0 0 30 2 *"]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
    assert!(err.contains("never fires"), "{err}");
}

#[test]
fn reboot_is_reported_as_firing_only_at_boot() {
    let (code, out, err) = next(&["@reboot"]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
    assert!(err.contains("boot"), "{err}");
}

#[test]
fn invalid_input_exits_one_with_a_caret() {
    let (code, out, err) = next(&["0 0 1 jna *"]);
    assert_eq!((code, out.as_str()), (Some(1), ""));
    assert!(
        err.contains("expression:1:7: error: unknown month name 'jna'"),
        "{err}"
    );
    assert!(err.contains("|       ^^^"), "{err}");
    for bad in [
        &["--tz", "Mars/Base", "* * * * *"][..],
        &["--from", "yesterday", "* * * * *"],
        &["* * *"],
    ] {
        assert_eq!(next(bad).0, Some(1), "{bad:?}");
    }
}

#[test]
fn usage_errors_exit_two_and_help_exits_zero() {
    assert_eq!(next(&[]).0, Some(2));
    assert_eq!(next(&["-n", "many", "* * * * *"]).0, Some(2));
    let (code, out, _) = next(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("--from") && out.contains("--tz") && out.contains("--count"));
}

#[test]
fn version_names_the_tz_database() {
    let out = cronwright().arg("--version").output().unwrap();
    // The system's database, whose version tzdata.zi states on its first line.
    let zi = std::fs::read_to_string(cronwright::cron::tz_dir().join("tzdata.zi")).unwrap();
    let version = zi
        .lines()
        .next()
        .unwrap()
        .strip_prefix("# version ")
        .unwrap();
    let out = text(&out.stdout);
    assert!(out.contains(&format!("tz database {version} in ")), "{out}");
}
