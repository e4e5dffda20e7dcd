//! Changes to crontabs take effect without a restart: edits, new files, saves by rename,
//! deletions; a bad line keeps the rest of its file running.

use super::Harness;

#[test]
fn editing_adding_renaming_over_and_deleting_take_effect_without_restart() {
    let mut h = Harness::new("");
    h.start_with("* * * * * * echo first\n");
    h.wait_for("first", |l| l.ends_with("| first"));
    // Edit in place (not by rename).
    std::fs::write(h.path("mine"), "* * * * * * echo second\n").unwrap();
    h.wait_for("second", |l| l.ends_with("| second"));
    // A new file in cron.d (system format).
    h.write(
        "cron.d/extra",
        &format!("* * * * * * {} echo added\n", whoami()),
    );
    h.wait_for("added", |l| l.ends_with("| added"));
    // Saved by rename over (what editors do).
    h.write(
        "cron.d/extra",
        &format!("* * * * * * {} echo renamed\n", whoami()),
    );
    h.wait_for("renamed", |l| l.ends_with("| renamed"));
    // Deleted: its jobs stop.
    std::fs::remove_file(h.path("cron.d/extra")).unwrap();
    h.wait_for("RELOAD of the deleted file", |l| {
        l.starts_with("RELOAD ") && l.contains("cron.d/extra") && l.contains("entries=0")
    });
    let seen = h.lines().len();
    h.gather(std::time::Duration::from_millis(2500));
    let later = h.lines()[seen..].to_vec();
    assert!(later.iter().all(|l| !l.ends_with("| renamed")), "{later:?}");
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn a_file_with_a_bad_line_runs_its_good_lines_and_logs_the_error_once() {
    let mut h = Harness::new("");
    h.start_with("0 0 1 jna * echo never\n* * * * * * echo good\n");
    let err = h.wait_for("ERROR", |l| l.starts_with("ERROR "));
    assert!(err.contains("/mine:1:7: unknown month name 'jna'"), "{err}");
    h.wait_for_count("good runs", 2, |l| l.ends_with("| good"));
    assert_eq!(h.count(|l| l.starts_with("ERROR ")), 1);
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn sighup_reloads_everything() {
    let mut h = Harness::new("");
    h.start_with("0 0 1 1 * echo yearly\n");
    h.wait_for("first RELOAD", |l| {
        l.starts_with("RELOAD ") && l.contains("/mine")
    });
    let before = h.count(|l| l.starts_with("RELOAD "));
    h.signal(nix::sys::signal::Signal::SIGHUP);
    h.wait_for_count("RELOAD after SIGHUP", before + 1, |l| {
        l.starts_with("RELOAD ")
    });
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn crlf_is_stripped_a_last_line_without_newline_runs_and_long_commands_run() {
    let mut h = Harness::new("");
    let out = h.path("out");
    let long = format!("echo {} > /dev/null; echo long-done", "x".repeat(5000));
    h.write(
        "mine",
        &format!(
            "* * * * * * echo crlf >> {}\r\n* * * * * * {long}\r\n* * * * * * echo last-line",
            out.display()
        ),
    );
    h.start();
    h.wait_for("the last line", |l| l.ends_with("| last-line"));
    h.wait_for("the long command", |l| l.ends_with("| long-done"));
    h.wait_for("the CRLF line", |l| l.contains(") END (echo crlf"));
    assert!(out.exists(), "the CRLF job wrote to a file named 'out\\r'");
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn a_cron_d_file_ignored_by_the_name_rule_is_logged_once() {
    let mut h = Harness::new("");
    h.write("cron.d/backup.dpkg-old", "* * * * * root echo old\n");
    h.start_with("0 0 1 1 * echo yearly\n");
    h.wait_for("IGNORED", |l| {
        l.starts_with("IGNORED ") && l.contains("backup.dpkg-old")
    });
    h.signal(nix::sys::signal::Signal::SIGHUP);
    h.wait_for_count("RELOAD after SIGHUP", 2, |l| {
        l.starts_with("RELOAD ") && l.contains("/mine")
    });
    assert_eq!(h.count(|l| l.starts_with("IGNORED ")), 1);
    assert_eq!(h.stop(), Some(0));
}

fn whoami() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}
