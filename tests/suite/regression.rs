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

/// An install killed between creating its temporary file and renaming it over the crontab
/// (up to 16 MiB) left `tmp.*` in the spool for good. The next install removes those left
/// unchanged for ten minutes, and never the file of an install still running. Run as root or
/// as anyone: the files are the caller's own, in a spool the caller may list.
#[test]
fn install_removes_temporary_files_killed_installs_left_in_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let config = dir.path().join("cronwright.toml");
    std::fs::write(
        &config,
        "[sources]\nsystem_crontab = \"\"\nsystem_dirs = []\nuser_spool = \"spool\"\n\
         [crontab]\nallow_file = \"allow\"\ndeny_file = \"deny\"\n[daemon]\ntimezone = \"UTC\"\n",
    )
    .unwrap();
    let left = |name: &str, minutes_ago: u64| {
        let file = std::fs::File::create(spool.join(name)).unwrap();
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(minutes_ago * 60);
        file.set_modified(then).unwrap();
    };
    left("tmp.killed", 11);
    left("tmp.running", 1);
    let out = run(
        cronwright()
            .args(["crontab", "--config"])
            .arg(&config)
            .arg("-")
            .env_remove("CRONWRIGHT_CONFIG"),
        "0 * * * * hourly\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    assert_eq!(names, [user, "tmp.running".to_string()]);
}
