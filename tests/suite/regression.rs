//! One test per fixed bug, named after the behaviour it pins rather than after the report
//! (`fixed_time_job_in_dst_gap_runs_once`, not a number), so that a failure here says what
//! broke again. Each test drives the smallest input that showed the bug, through the library
//! or the binaries like the other modules, with the helpers in `util`.

use std::os::unix::fs::PermissionsExt;

use cronwright::cron::{Format, parse_crontab};

use crate::util::{cronwright, run, text};

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

/// A crontab in the user spool with a second name (a hard link) used to load, so a name kept
/// outside the spool let its owner change the crontab in place, around crontab(1)'s checks.
/// `cronwright list` judges files by the daemon's rules, so it shows the refusal without a
/// daemon.
#[test]
fn spool_crontab_with_a_second_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let config = dir.path().join("cronwright.toml");
    std::fs::write(
        &config,
        "[sources]\nsystem_crontab = \"\"\nsystem_dirs = []\nuser_spool = \"spool\"\n\
         [daemon]\ntimezone = \"UTC\"\n",
    )
    .unwrap();
    // The effective user's own crontab, so that the test runs as root or as anyone.
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .name;
    let crontab = spool.join(&user);
    std::fs::write(&crontab, "0 * * * * hourly\n").unwrap();
    std::fs::set_permissions(&crontab, std::fs::Permissions::from_mode(0o600)).unwrap();
    let list = || {
        let out = cronwright()
            .args(["list", "--json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        rows.as_array().unwrap().clone()
    };
    assert_eq!(list()[0]["command"], "hourly");

    std::fs::hard_link(&crontab, dir.path().join("second-name")).unwrap();
    let rows = list();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["kind"], "refused");
    assert_eq!(rows[0]["file"], crontab.display().to_string());
    assert_eq!(
        rows[0]["reason"],
        "has 2 hard links; a crontab in the user spool must have exactly one name"
    );
}
