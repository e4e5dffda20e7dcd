//! `cronwright check`: diagnostics with file, line, column and caret, good lines named,
//! exit 1 on errors and 0 on warnings only, system format for /etc files or --system.

use crate::util::{cronwright, data, run, text};

/// Every (line, column, severity, part of the message) that `mistakes.crontab` must produce.
/// Laid out by hand as a table, one diagnostic a row, to be read down its columns; rustfmt
/// would break the rows with longer messages over six lines each.
#[rustfmt::skip]
const EXPECTED: [(u32, u32, &str, &str); 17] = [
    (6,  7,  "error",   "unknown month name 'jna' (expected 1-12 or jan-dec); did you mean 'jan'?"),
    (8,  1,  "error",   "minute 60 is out of range (expected 0-59)"),
    (10, 3,  "warning", "range 22-2 runs backwards"),
    (12, 3,  "error",   "a step of 0 never advances"),
    (14, 13, "error",   "unknown day of week name 'frii'"),
    (16, 8,  "error",   "found only 4 fields"),
    (18, 1,  "error",   "unknown macro '@dialy'"),
    (21, 3,  "error",   "in the minute field, found ','"),
    (23, 1,  "error",   "or an environment line NAME=value, found 'backup'"),
    (25, 4,  "error",   "unexpected 'O' in the hour field"),
    (27, 14, "warning", "RANDOM_DELAY is a whole number of minutes: 'soon' is read as 0"),
    (29, 9,  "error",   "unknown time zone 'Europe/Berln'"),
    (30, 1,  "error",   "entry not loaded: CRON_TZ on line 29"),
    (33, 5,  "warning", "never fires"),
    (34, 5,  "warning", "cron's OR rule"),
    (35, 18, "warning", "unescaped '%'"),
    (36, 49, "warning", "no newline at the end of the file"),
];

#[test]
fn a_dozen_mistakes_are_each_reported_at_their_line_and_column() {
    let file = data("mistakes.crontab");
    let out = cronwright().arg("check").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let headlines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": error: ") || l.contains(": warning: "))
        .collect();
    assert_eq!(headlines.len(), EXPECTED.len(), "{stdout}");
    for ((line, col, severity, msg), got) in EXPECTED.iter().zip(&headlines) {
        let prefix = format!("{}:{line}:{col}: {severity}: ", file.display());
        assert!(
            got.starts_with(&prefix) && got.contains(msg),
            "expected {prefix}...{msg}\ngot {got}"
        );
    }
    assert!(
        stdout.ends_with("11 errors, 6 warnings; 7 entries fine (lines 4, 10, 19, 33-36)\n"),
        "{stdout}"
    );
}

#[test]
fn diagnostics_show_the_source_line_with_a_caret() {
    let out = run(cronwright().args(["check", "-"]), "0 0 1 jna * /bin/true\n");
    assert_eq!(
        text(&out.stdout),
        "<stdin>:1:7: error: unknown month name 'jna' (expected 1-12 or jan-dec); did you mean 'jan'?\n  |\n1 | 0 0 1 jna * /bin/true\n  |       ^^^\n\n<stdin>: 1 error, 0 warnings; no entries\n"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn warnings_alone_exit_zero_and_clean_files_say_ok() {
    let out = run(cronwright().args(["check", "-"]), "0 0 30 2 * /bin/true\n");
    assert_eq!(out.status.code(), Some(0));
    let out = run(
        cronwright().args(["check", "-"]),
        "SHELL=/bin/bash\n*/5 * * * * a\n@daily b\n",
    );
    assert_eq!(
        text(&out.stdout),
        "<stdin>: ok, 2 entries fine (lines 2-3)\n"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn system_format_needs_a_user_field() {
    let input = "17 * * * * root run-parts /etc/cron.hourly\n0 5 * * *\n";
    let out = run(cronwright().args(["check", "--system", "-"]), input);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("<stdin>:2:10: error: expected a user name"),
        "{stdout}"
    );
    assert!(stdout.contains("1 entry fine (line 1)"), "{stdout}");
}

#[test]
fn example_crontabs_in_the_repository_have_no_errors() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crontabs");
    let mut checked = 0;
    for dir in ["system", "cron.d", "users", "demo"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            // The demo folder also holds the daemon's config for trying it out.
            if path.extension().is_some_and(|e| e == "toml") {
                continue;
            }
            let mut cmd = cronwright();
            cmd.arg("check");
            if dir == "system" || dir == "cron.d" {
                cmd.arg("--system");
            }
            let out = cmd.arg(&path).output().unwrap();
            // Warnings are allowed: the examples show `%` stdin on purpose.
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                text(&out.stdout)
            );
            assert!(
                text(&out.stdout).contains(" 0 errors") || text(&out.stdout).contains(": ok, ")
            );
            checked += 1;
        }
    }
    assert!(checked >= 4);
}

#[test]
fn unreadable_file_is_named_and_exits_one() {
    let out = cronwright()
        .args(["check", "/nonexistent/crontab"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/crontab"));
}

#[test]
fn usage_errors_exit_two() {
    let out = cronwright().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = cronwright()
        .args(["check", "--system", "--user", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Every example of a line other crons read otherwise, or that will not do what it says:
/// `check` and `crontab -T` report the same diagnostics, and each error is the daemon's
/// reason to skip the line, in the same words.
#[test]
fn check_crontab_t_and_the_daemon_tell_every_example_alike() {
    let examples = "0005 * * * * padded\n\
                    0 9 * * sat-sun weekend\n\
                    0 22-2 * * * night\n\
                    RANDOM_DELAY=5m\n\
                    5/60 * * * * stepped\n\
                    */6 * * * * * echo six\n\
                    30 9 * * 1-5 2026 /usr/bin/with-year\n\
                    * 4 * * 0 backup\n\
                    0 0 1 jna * typo\n\
                    @dialy typo\n\
                    0 1 * * * root rm -rf /tmp/x\n\
                    0 30 25 * * * six-bad\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("examples");
    std::fs::write(&file, examples).unwrap();
    let checked = cronwright().arg("check").arg(&file).output().unwrap();
    let tested = cronwright()
        .args(["crontab", "-T"])
        .arg(&file)
        .output()
        .unwrap();
    let report = text(&checked.stdout);
    let t = text(&tested.stderr);
    assert_eq!(
        t.strip_suffix("Invalid crontab file. Syntax issues were found.\n"),
        Some(report.as_str()),
        "{t}"
    );
    let headlines: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(": warning: "))
        .collect();
    assert_eq!(headlines.len(), 9, "{report}");
    // The daemon logs each error as the reason it skips that line.
    let mut h = crate::daemon::Harness::new("");
    h.start_with(examples);
    let mine = h.path("mine").display().to_string();
    for error in report.lines().filter(|l| l.contains(": error: ")) {
        let (place, message) = error.split_once(": error: ").unwrap();
        let (_, at) = place.rsplit_once("examples:").unwrap();
        let said = format!("ERROR {mine}:{at}: {message}");
        h.wait_for(&said, |l| l == said);
    }
}
