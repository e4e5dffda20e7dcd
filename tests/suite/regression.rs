//! One test per fixed bug, named after the behaviour it pins rather than after the report
//! (`fixed_time_job_in_dst_gap_runs_once`, not a number), so that a failure here says what
//! broke again. Each test drives the smallest input that showed the bug, through the library
//! or the binaries like the other modules, with the helpers in `util`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use cronwright::cron::{Format, Zone, parse_crontab, parse_expr};

use crate::crontab_cli::{GOOD, Installed};
use crate::daemon::users::{TempUser, spool, write_owned};
use crate::daemon::{Harness, field, is_event};
use crate::util::{cronwright, needs_root, run, text, utc};

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
            cronwright::cron::zone_named("Europe/Berlin"),
            "{spelling}"
        );
        // `check` says the same as the parser the daemon loads with.
        let out = run(cronwright().args(["check", "-"]), &source);
        assert!(out.status.success(), "{spelling}: {}", text(&out.stdout));
    }
}

/// Starts a daemon whose one job (`@reboot`) prints `early` and leaves behind a process that
/// holds its output pipe for `secs`, then prints `late` and creates the file it returns.
fn start_with_a_background_child(h: &mut Harness, secs: u32) -> std::path::PathBuf {
    let done = h.path("background-done");
    h.start_with(&format!(
        "@reboot (sleep {secs}; echo late; touch {}) & echo early\n",
        done.display()
    ));
    done
}

/// A job that left `(sleep 6; …) &` behind had its output pipe closed 5 s after it exited, so
/// the background process died of SIGPIPE at its next write. The pipe is now read until it
/// closes.
#[test]
fn background_child_keeps_its_output_pipe_until_it_closes() {
    let mut h = Harness::new("");
    let survived = start_with_a_background_child(&mut h, 6);
    let end = h.wait_for("END", |l| is_event(l, "END"));
    let pid = field(&end, "pid").unwrap().to_string();
    h.wait_for("the late line", |l| l.ends_with("| late"));
    assert!(survived.exists(), "the background process was killed");
    let outs = h.events("OUT", &pid);
    assert!(outs.iter().any(|l| l.ends_with("| early")), "{outs:?}");
    assert_eq!(h.stop(), Some(0));
}

/// END used to wait for the output pipe to close (or 5 s), so a job whose background child
/// held the pipe was logged late, with that wait in its duration. END now comes when the
/// job's own process exits; its output follows when the pipe closes.
#[test]
fn end_is_logged_when_the_job_exits_not_when_its_pipe_closes() {
    let mut h = Harness::new("");
    let marker = start_with_a_background_child(&mut h, 3);
    let end = h.wait_for("END", |l| is_event(l, "END"));
    assert!(
        !marker.exists(),
        "END came only after the background process finished: {end}"
    );
    h.wait_for("the late line", |l| l.ends_with("| late"));
    let lines = h.lines();
    let end_at = lines.iter().position(|l| is_event(l, "END")).unwrap();
    let out_at = lines.iter().position(|l| is_event(l, "OUT")).unwrap();
    assert!(end_at < out_at, "{lines:?}");
    assert_eq!(h.stop(), Some(0));
}

/// With `output_wait`, output held open by a background process is logged as it stands and
/// said to be cut; the process is not killed, and what it writes later is read and dropped.
#[test]
fn output_held_past_output_wait_is_cut_and_the_holder_survives() {
    let mut h = Harness::new("[jobs]\noutput_wait = 1\n");
    let survived = start_with_a_background_child(&mut h, 4);
    let cut = h.wait_for("the cut", |l| {
        l.starts_with("INFO ") && l.contains("output of pid")
    });
    assert!(cut.contains("cut 1s after its exit"), "{cut}");
    h.wait_for("the early line", |l| l.ends_with("| early"));
    crate::daemon::eventually(
        || survived.exists().then_some(()),
        || "the background process did not survive".to_string(),
    );
    h.gather(Duration::from_millis(300));
    assert!(
        h.lines().iter().all(|l| !l.ends_with("| late")),
        "{:?}",
        h.lines()
    );
    assert_eq!(h.stop(), Some(0));
}

/// Waits for the line `refusal` picks out, checks that it says `says`, then that no run
/// prints `never` for a while, and stops the daemon: a run refused stays refused.
fn refused_and_never_run(h: &mut Harness, refusal: impl Fn(&str) -> bool, says: &str, never: &str) {
    let line = h.wait_for("the refusal", refusal);
    assert!(line.contains(says), "{line}\nexpected: {says}");
    h.never_within(Duration::from_millis(1500), "it ran", |l| {
        l.ends_with(never)
    });
    assert_eq!(h.stop(), Some(0));
}

/// A daemon running `crontab` as the spool crontab of a user made for the test (`tag` in its
/// name).
fn running_for_a_new_user(tag: &str, crontab: &str) -> (TempUser, Harness) {
    let user = TempUser::new(tag);
    let mut h = Harness::new("");
    write_owned(&h, &spool(&user), crontab, &user.name);
    h.start();
    (user, h)
}

/// Credentials were looked up once, when the crontab was loaded: a user removed from a group
/// kept it in their jobs until the file changed. They are looked up at each start now.
#[test]
fn group_removed_after_load_is_gone_from_the_next_run() {
    if !needs_root("group_removed_after_load_is_gone_from_the_next_run") {
        return;
    }
    let (user, mut h) = running_for_a_new_user("grp", "* * * * * * echo \"groups $(id -Gn)\"\n");
    let first = h.wait_for("a run", |l| l.contains("| groups "));
    assert!(first.contains(user.group()), "{first}");
    let removed = Command::new("gpasswd")
        .args(["-d", &user.name, user.group()])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    h.clear_lines();
    let later = h.wait_for_count("two more runs", 2, |l| l.contains("| groups "));
    assert!(!later[1].contains(user.group()), "{later:?}");
    assert_eq!(h.stop(), Some(0));
}

/// A deleted user's jobs kept running under the old uid until the file changed; now the run
/// is refused with an ERROR naming the user.
#[test]
fn deleted_user_gets_an_error_and_no_run() {
    if !needs_root("deleted_user_gets_an_error_and_no_run") {
        return;
    }
    let (user, mut h) = running_for_a_new_user("del", "* * * * * * echo still-here\n");
    h.wait_for("a run", |l| l.ends_with("| still-here"));
    let deleted = Command::new("userdel").arg(&user.name).output().unwrap();
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    h.clear_lines();
    refused_and_never_run(
        &mut h,
        |l| l.starts_with("ERROR ") && l.contains("unknown user"),
        &format!("cannot start the job for {}", user.name),
        "| still-here",
    );
}

/// A range with equal ends and a step (`5-5/10`) covers just its one value, as in cronie. It
/// used to be read like `5/10` (from 5 to the end of the field), running every ten minutes
/// from 00:05 instead of once at 00:05.
#[test]
fn range_with_equal_ends_and_a_step_fires_once() {
    let zone = Zone::new(cronwright::cron::ZoneRule::utc());
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

/// The set-group-ID `crontab` read any configuration named by `--config` (or
/// `CRONWRIGHT_CONFIG`) as long as root owned it, so an empty root-owned file ("all
/// defaults": everyone allowed) undid `allow_everyone = false`. Now only root may name one.
#[test]
fn setgid_crontab_keeps_the_systems_rules_whatever_config_it_is_told() {
    if !needs_root("setgid_crontab_keeps_the_systems_rules_whatever_config_it_is_told") {
        return;
    }
    let Some(inst) = Installed::new() else {
        println!("skipped: no file system here honours set-group-ID bits");
        return;
    };
    inst.s.write_config("allow_everyone = false\n");
    let empty = inst.s.path("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let user = inst.name(0);
    let refused = format!("crontab: you ({user}) are not allowed to use this program\n");
    let out = run(inst.crontab(0).arg("--config").arg(&empty).arg("-l"), "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).ends_with(&refused),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        inst.crontab(0).env("CRONWRIGHT_CONFIG", &empty).arg("-"),
        GOOD,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).ends_with(&refused),
        "{}",
        text(&out.stderr)
    );
}

/// The daemon ran any crontab in the spool, even of a user `cron.deny` lists: only
/// `crontab` applied the rule. It applies it at load now, as cronie does.
#[test]
fn daemon_does_not_run_the_spool_crontab_of_a_denied_user() {
    if !needs_root("daemon_does_not_run_the_spool_crontab_of_a_denied_user") {
        return;
    }
    let user = TempUser::new("den");
    let mut h = Harness::new("");
    let deny = h.path("deny");
    std::fs::write(&deny, format!("{}\n", user.name)).unwrap();
    let config = std::fs::read_to_string(h.path("cronwright.toml")).unwrap();
    let config = format!(
        "{config}[crontab]\nallow_file = \"{}\"\ndeny_file = \"{}\"\n",
        h.path("allow").display(),
        deny.display()
    );
    std::fs::write(h.path("cronwright.toml"), config).unwrap();
    write_owned(
        &h,
        &spool(&user),
        "* * * * * * echo denied-ran\n",
        &user.name,
    );
    // `cronwright list` says what the daemon will do.
    let out = cronwright()
        .args(["list", "--config"])
        .arg(h.path("cronwright.toml"))
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("refused: belongs to user"),
        "{}",
        text(&out.stdout)
    );
    h.start();
    refused_and_never_run(
        &mut h,
        |l| l.starts_with("REFUSED "),
        &format!(
            "belongs to user '{}', who may not use cron: listed in {}",
            user.name,
            deny.display()
        ),
        "| denied-ran",
    );
}

/// A cron.d file written in two steps was loaded in between, and its cut-short last line
/// (`echo DANGER-partial-`) ran as root. A system crontab's unterminated last line is not
/// loaded now, as vixie cron and cronie do not load it; `check` says so.
#[test]
fn unterminated_last_line_of_a_system_crontab_does_not_run() {
    let source = "* * * * * root echo whole\n* * * * * root echo DANGER-partial-";
    let parsed = parse_crontab(source, Format::System);
    let commands: Vec<&str> = parsed
        .crontab
        .entries
        .iter()
        .map(|e| e.command.as_str())
        .collect();
    assert_eq!(commands, ["echo whole"]);
    assert!(
        parsed.diagnostics[0]
            .message
            .contains("this last line is not loaded")
    );
    // A user crontab, installed whole by crontab(1), still runs it (with a warning).
    let user = parse_crontab("* * * * * echo whole\n* * * * * echo last", Format::User);
    assert_eq!(user.crontab.entries.len(), 2);
    let out = run(cronwright().args(["check", "--system", "-"]), source);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("1 entry fine (line 1)"),
        "{}",
        text(&out.stdout)
    );
}

/// Twenty long jobs holding pipes under a 200-descriptor limit made every other user's
/// jobs, and mail, fail with EMFILE: the daemon kept the soft limit it was started with. It
/// raises it to the hard limit now, and its jobs get the original back.
#[test]
fn daemon_raises_its_descriptor_limit_and_jobs_get_the_original() {
    let mut h = Harness::new("");
    h.write("mine", "@reboot echo \"limit $(ulimit -n)\"\n");
    let daemon = h.daemon_command();
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=200:")
        .arg(daemon.get_program())
        .args(daemon.get_args())
        .arg("--foreground")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (key, value) in daemon.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    h.spawn(cmd);
    h.wait_for("START", |l| l.starts_with("START"));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", h.pid())).unwrap();
    let open_files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        open_files[3], open_files[4],
        "soft is not the hard limit: {limits}"
    );
    h.wait_for("the job's limit", |l| l.ends_with("| limit 200"));
    assert_eq!(h.stop(), Some(0));
}

/// With many jobs a second and a syslogd that fell behind, lines were dropped once the
/// socket's small queue was full, END lines included (12 of 300 arrived). They are queued
/// now and sent when the reader catches up.
#[test]
fn end_lines_survive_a_syslog_reader_that_falls_behind() {
    let mut h = Harness::new("");
    h.start_with(&"* * * * * * echo burst\n".repeat(30));
    h.wait_for("a first run", |l| is_event(l, "END"));
    h.pause_reading(true);
    h.gather(Duration::from_secs(3));
    h.pause_reading(false);
    h.gather(Duration::from_millis(1500));
    assert_eq!(h.stop(), Some(0));
    // Every run the log started, it ended: no END was lost while the reader was away.
    let (started, ended) = h.started_and_ended();
    assert!(started.len() >= 90, "{} runs", started.len());
    assert_eq!(started, ended);
}

/// `check` and `crontab` accepted lines the daemon then refused or ran differently: a NUL
/// byte (refused only when the job started), bytes that are not UTF-8 (silently run as
/// U+FFFD), a command longer than `max_command_length` (skipped at load). All three are now
/// errors at their line, in `check`, in `crontab` and in the daemon's load alike.
#[test]
fn check_refuses_what_the_daemon_would_not_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cronwright.toml");
    std::fs::write(
        &config,
        "[jobs]\nmax_command_length = 20\n[daemon]\ntimezone = \"UTC\"\n",
    )
    .unwrap();
    let mut bytes = b"* * * * * echo a\0b\n* * * * * echo caf\xe9\n".to_vec();
    bytes.extend_from_slice(b"* * * * * echo this command is far too long\n* * * * * ok\n");
    let file = dir.path().join("tab");
    std::fs::write(&file, &bytes).unwrap();
    let out = run(
        cronwright()
            .arg("check")
            .arg("--config")
            .arg(&config)
            .arg(&file),
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    for expected in [
        ":1:17: error: a NUL byte",
        ":2:19: error: bytes that are not UTF-8",
        ":3:1: error: command of 33 bytes is longer than max_command_length (20); line skipped",
        "3 errors, 0 warnings; 1 entry fine (line 4)",
    ] {
        assert!(report.contains(expected), "{expected}\n{report}");
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
/// unchanged for ten minutes, and never the file of an install still running. Run as
/// root: only root may name the configuration that points at a spool of the test's.
#[test]
fn install_removes_temporary_files_killed_installs_left_in_the_spool() {
    // Naming a configuration (a spool of the test's) is root's alone.
    if !needs_root("install_removes_temporary_files_killed_installs_left_in_the_spool") {
        return;
    }
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

/// `truncate(2)` on a crontab's path (no open, so no close: only a modify event) went
/// unnoticed until SIGHUP, and the emptied file's jobs ran on. A file written without a close
/// is now read once it has been quiet for a second.
#[test]
fn truncating_a_crontab_in_place_stops_its_jobs() {
    let mut h = Harness::new("");
    h.start_with("* * * * * * echo tick\n");
    h.wait_for("a run", |l| l.ends_with("| tick"));
    nix::unistd::truncate(&h.path("mine"), 0).unwrap();
    let reload = h.wait_for("the reload", |l| {
        l.starts_with("RELOAD ") && l.contains("/mine entries=0")
    });
    assert!(reload.ends_with("entries=0 errors=0"), "{reload}");
    assert_eq!(h.stop(), Some(0));
}

/// Users were looked up by name at each start while the owner check was made at load, so an
/// account deleted and made again under the same name ran the old account's spool crontab
/// until it was reloaded. The start is refused now when the uid no longer matches.
#[test]
fn account_made_again_under_the_same_name_does_not_run_the_old_ones_crontab() {
    if !needs_root("account_made_again_under_the_same_name_does_not_run_the_old_ones_crontab") {
        return;
    }
    let (user, mut h) = running_for_a_new_user("again", "* * * * * * echo ran-as-$(id -u)\n");
    h.wait_for("a run", |l| l.contains("| ran-as-"));
    let old: u32 = user.id("-u").parse().unwrap();
    let deleted = Command::new("userdel").arg(&user.name).output().unwrap();
    assert!(deleted.status.success(), "{}", text(&deleted.stderr));
    let new = (old + 1000..old + 2000)
        .find(|uid| {
            nix::unistd::User::from_uid((*uid).into())
                .unwrap()
                .is_none()
        })
        .unwrap();
    let made = Command::new("useradd")
        .args(["-M", "-s", "/bin/sh", "-u", &new.to_string(), &user.name])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    h.clear_lines();
    refused_and_never_run(
        &mut h,
        |l| l.starts_with("ERROR ") && l.contains("the account was made again"),
        &format!("uid {new} now"),
        &format!("| ran-as-{new}"),
    );
}

/// A daemon that is not root runs every job as itself, but a system crontab line naming
/// another user gave its job that user's name in `LOGNAME` and `USER`. They name the user the
/// job really runs as now.
#[test]
fn a_job_of_a_daemon_that_is_not_root_is_named_after_the_daemons_user() {
    if !needs_root("a_job_of_a_daemon_that_is_not_root_is_named_after_the_daemons_user") {
        return;
    }
    let user = TempUser::new("nrl");
    let mut h = Harness::new("");
    h.write(
        "cron.d/names",
        "* * * * * * root echo \"names $LOGNAME $USER\"\n",
    );
    h.start_as(&user, &[]);
    let out = h.wait_for("a run", |l| l.contains("| names "));
    assert!(
        out.ends_with(&format!("| names {0} {0}", user.name)),
        "{out}"
    );
    assert_eq!(h.stop(), Some(0));
}

/// The pid file was written with a plain write, which follows a symbolic link planted at its
/// path, so the daemon (root) would overwrite whatever the link named. It refuses to now.
#[test]
fn pid_file_is_never_written_through_a_symbolic_link() {
    let h = Harness::new("");
    let target = h.path("precious");
    std::fs::write(&target, "keep me\n").unwrap();
    let pid_file = h.path("cronwrightd.pid");
    std::os::unix::fs::symlink(&target, &pid_file).unwrap();
    let mut h = h;
    let mut cmd = h.daemon_command();
    cmd.arg("--pid-file")
        .arg(&pid_file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    h.spawn(cmd);
    // It must refuse and exit; `wait` fails the test if it runs on instead.
    assert_eq!(h.wait(), Some(1));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
}

/// `cronwright check -` on `source`: its exit code and what it printed.
fn check(source: &str) -> (Option<i32>, String) {
    let out = run(cronwright().args(["check", "-"]), source);
    (out.status.code(), text(&out.stdout))
}

/// The first `n` fire times after `from` of the one entry of the user crontab `source`, as
/// the daemon would load it.
fn fires(source: &str, from: &str, n: usize) -> Vec<String> {
    let parsed = parse_crontab(source, Format::User);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let zone = Zone::new(cronwright::cron::ZoneRule::utc());
    let mut at = utc(from);
    let mut out = Vec::new();
    for _ in 0..n {
        at = parsed.crontab.entries[0]
            .schedule
            .next_after(at, &zone)
            .unwrap();
        out.push(at.format("%a %H:%M").to_string());
    }
    out
}

/// `0005 * * * *` (leading zeros) was refused as out of range; Debian's cron and cronie read
/// it as 5, as atoi does.
#[test]
fn a_value_with_leading_zeros_is_read_as_its_number() {
    let source = "0005 * * * * x\n";
    let (code, out) = check(source);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("warning: '0005' is read as 5"), "{out}");
    assert_eq!(
        fires(source, "2026-12-07T10:00:00Z", 2),
        ["Mon 10:05", "Mon 11:05"]
    );
}

/// `0 22-2 * * *` and `0 9 * * sat-sun` were refused as running backwards; Debian's cron and
/// cronie load them (and may never run them). They load, go round, and say so.
#[test]
fn a_backward_range_loads_and_goes_round_past_the_end_of_the_field() {
    let (code, out) = check("0 22-2 * * * night\n0 9 * * sat-sun weekend\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("reads it as 22-23,0-2"), "{out}");
    assert!(out.contains("write 6-7 to say so to every cron"), "{out}");
    assert_eq!(
        fires("0 22-2 * * * night\n", "2026-12-07T21:00:00Z", 6),
        [
            "Mon 22:00",
            "Mon 23:00",
            "Tue 00:00",
            "Tue 01:00",
            "Tue 02:00",
            "Tue 22:00"
        ]
    );
    assert_eq!(
        fires("0 9 * * sat-sun weekend\n", "2026-12-07T00:00:00Z", 3),
        ["Sat 09:00", "Sun 09:00", "Sat 09:00"]
    );
}

/// `RANDOM_DELAY=5m` was an error (and its crontab refused by `crontab`); cronie reads the
/// number it starts with.
#[test]
fn random_delay_is_read_up_to_its_first_non_digit() {
    let parsed = parse_crontab("RANDOM_DELAY=5m\n0 * * * * x\n", Format::User);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    assert_eq!(parsed.crontab.entries[0].random_delay_minutes, 5);
    let (code, out) = check("RANDOM_DELAY=5m\n0 * * * * x\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("'5m' is read as 5, as cronie reads it; write RANDOM_DELAY=5"),
        "{out}"
    );
}

/// `5/60 * * * *` was read as `5-59/60` with only a step-width warning; Debian's cron and
/// cronie refuse the line, which `check` must say.
#[test]
fn a_step_without_a_range_warns_that_other_crons_refuse_the_line() {
    let (code, out) = check("5/60 * * * * x\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "warning: a step without a range: Debian's cron and cronie refuse this line; \
             write 5-59/60"
        ),
        "{out}"
    );
    assert!(!out.contains("wider than"), "{out}");
}

/// A crontab saved with CR LF line endings was read silently, while Debian's cron and cronie
/// keep the CR in every command. One warning per file.
#[test]
fn windows_line_endings_are_warned_about_once_per_file() {
    let (code, out) = check("0 1 * * * a\r\n0 2 * * * b\r\n");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("Windows line endings").count(), 1, "{out}");
    assert!(
        out.contains("<stdin>:1:12: warning: Windows line endings"),
        "{out}"
    );
}

/// `* 4 * * 0` runs 60 times between 04:00 and 04:59, which real crontabs do by mistake.
#[test]
fn every_minute_of_a_fixed_hour_is_warned_about() {
    let (code, out) = check("* 4 * * 0 backup\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "<stdin>:1:1: warning: this runs every minute from 04:00 to 04:59 (60 runs); did \
             you mean `0 4 * * 0`?"
        ),
        "{out}"
    );
    // A deliberate minute range or step, or no fixed hour, is not warned about.
    for fine in ["0-59 4 * * 0 x\n", "*/1 4 * * 0 x\n", "* * * * * x\n"] {
        let (_, out) = check(fine);
        assert!(!out.contains("every minute"), "{fine}: {out}");
    }
}

/// `cronwright check --system` on `source`: its exit code and what it printed.
fn check_system(source: &str) -> (Option<i32>, String) {
    let out = run(cronwright().args(["check", "--system", "-"]), source);
    (out.status.code(), text(&out.stdout))
}

/// The system crontab lines of the next test, and what `check` and the daemon say of each.
const USERLESS: [(u32, u32, &str, &str); 3] = [
    (
        1,
        11,
        "0 5 * * * /usr/bin/backup.sh",
        "'/usr/bin/backup.sh' is not a user on this host; system crontab lines need a user \
         name between the schedule and the command",
    ),
    (
        2,
        13,
        "*/5 * * * * cd /app && python worker.py",
        "'cd' is not a user on this host; system crontab lines need a user name between the \
         schedule and the command",
    ),
    (
        3,
        12,
        "25 6 * * * nosuchuser echo hi",
        "'nosuchuser' is not a user on this host; system crontab lines need a user name \
         between the schedule and the command",
    ),
];

/// System crontab lines with no user field were accepted silently by `check --system` (the
/// command's first word taken for the user) or told "expected a command after the schedule";
/// an unknown user passed `check` while the daemon skipped the line, saying "unknown user
/// 'x' (unknown user 'x')". `check` and the daemon now say the same words, once.
#[test]
fn a_system_line_without_its_user_is_told_alike_by_check_and_the_daemon() {
    let mut source: String = USERLESS.iter().map(|u| format!("{}\n", u.2)).collect();
    source.push_str("0 3 * * * root true\n");
    let (code, out) = check_system(&source);
    // A path or a shell word where the user belongs is an error; a name that may be a user
    // on another host is a warning.
    assert_eq!(code, Some(1), "{out}");
    for (line, column, _, message) in USERLESS {
        let severity = if line == 3 { "warning" } else { "error" };
        let said = format!("<stdin>:{line}:{column}: {severity}: {message}");
        assert!(out.contains(&said), "{said}\n{out}");
    }
    assert!(
        out.contains("2 errors, 1 warning; 1 entry fine (line 4)"),
        "{out}"
    );
    if !needs_root("a_system_line_without_its_user_is_told_alike_by_check_and_the_daemon") {
        return;
    }
    let mut h = Harness::new("");
    h.write("cron.d/app", &source);
    h.start();
    for (line, column, _, message) in USERLESS {
        // A parse error has its column; a skipped entry is told at its line.
        let said = match line {
            1 => format!("cron.d/app:{line}:{column}: {message}"),
            _ => format!("cron.d/app:{line}: {message}; line skipped"),
        };
        h.wait_for(&said, |l| l.starts_with("ERROR ") && l.ends_with(&said));
    }
    assert_eq!(
        h.count(|l| l.contains("unknown user")),
        0,
        "{:?}",
        h.lines()
    );
}

/// `cronwright check crontabs/system/crontab` said "4 entries fine" of a system crontab read
/// as a user's, whose commands then start with `root`. Said once for such a file, and at its
/// line for one such line among others.
#[test]
fn a_system_crontab_checked_as_a_user_crontab_is_told_once() {
    let system = "SHELL=/bin/sh\n\
                  17 * * * * root cd / && run-parts --report /etc/cron.hourly\n\
                  25 6 * * * root test -x /usr/sbin/anacron || run-parts /etc/cron.daily\n";
    let (code, out) = check(system);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("warning:").count(), 1, "{out}");
    assert!(
        out.contains(
            "<stdin>:2:12: warning: this file looks like a system crontab: the command of every \
             entry starts with a user name ('root' here)"
        ),
        "{out}"
    );
    let (_, out) = check("0 1 * * * echo one\n0 2 * * * root rm -rf /tmp/x\n");
    assert!(
        out.contains(
            "<stdin>:2:11: warning: looks like a system crontab line: 'root' is a user name"
        ),
        "{out}"
    );
    // `crontab -T`, which installs user crontabs, says the same.
    let out = run(cronwright().args(["crontab", "-T", "-"]), system);
    assert!(
        text(&out.stderr).contains("this file looks like a system crontab"),
        "{}",
        text(&out.stderr)
    );
}

/// `*/6 * * * * * echo` was read as seconds without a word, where the other crons refuse it;
/// `30 9 * * 1-5 2026 cmd` ran the command `2026 cmd`; `next` said nothing of the seconds
/// reading in its errors, nor that a pasted crontab line holds a command.
#[test]
fn six_fields_are_told_as_cronwrights_own_reading() {
    let (code, out) = check("*/6 * * * * * echo\n0 5 * * * 2 cmd\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "<stdin>:1:1: warning: six time fields: cronwright reads the first as seconds, a \
             field only it has; Debian's cron and cronie read five fields and refuse this line"
        ),
        "{out}"
    );
    assert!(
        out.contains("read five fields and run '2 cmd' as its command"),
        "{out}"
    );
    let (code, out) = check("30 9 * * 1-5 2026 /usr/bin/with-year\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "<stdin>:1:14: warning: the command starts with '2026', which looks like one more \
             time field (a year?)"
        ),
        "{out}"
    );
    let next = |expr: &str| {
        let out = run(cronwright().args(["next", "--tz", "UTC", expr]), "");
        assert_eq!(out.status.code(), Some(1), "{expr}");
        text(&out.stderr)
    };
    let err = next("0 0 * * 5 2026");
    assert!(
        err.contains(
            "day of week 2026 is out of range (expected 0-7 or sun-sat); with six time fields \
             the first is read as seconds, so this is the day of week field"
        ),
        "{err}"
    );
    let err = next("0 0 * * * /usr/bin/backup");
    assert!(
        err.contains(
            "expression:1:11: error: '/usr/bin/backup' looks like a command, not a time field"
        ),
        "{err}"
    );
}

/// `0 0 1 jna *`, `@dialy` and `[source]` named the right spelling nowhere.
#[test]
fn a_misspelt_name_or_key_gets_the_closest_known_one() {
    let (_, out) = check("0 0 1 jna * a\n@dialy b\n0 0 * * monday c\n");
    for hint in [
        "did you mean 'jan'?",
        "did you mean '@daily'?",
        "did you mean 'mon'?",
    ] {
        assert!(out.contains(hint), "{hint}\n{out}");
    }
    let h = Harness::new("[source]\n");
    let out = h.run_daemon(&["--check-config"]);
    assert!(
        text(&out.stderr).contains("did you mean 'sources'?"),
        "{}",
        text(&out.stderr)
    );
}

/// `syslog = no` gave "invalid TOML: invalid float, expected nan".
#[test]
fn an_unquoted_word_in_the_config_says_what_the_key_takes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cronwright.toml");
    std::fs::write(&config, "[log]\nsyslog_queue = 10\nsyslog = no\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cronwrightd"))
        .arg("--check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("'syslog' takes a boolean: write true or false, not no"),
        "{err}"
    );
}

/// `cronwrightd --check-config` with no configuration file said `…/cronwright.toml: ok`.
#[test]
fn check_config_without_a_file_says_the_defaults_are_used() {
    if !needs_root("check_config_without_a_file_says_the_defaults_are_used") {
        return;
    }
    // The machine's /etc/cronwright is hidden in a mount namespace of the check's own.
    let script = r#"t=$(mktemp -d) && mkdir "$t/upper" "$t/work" &&
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$t/upper,workdir=$t/work" /etc &&
rm -rf /etc/cronwright && exec "$@""#;
    let out = crate::util::in_mount_namespace(script)
        .arg(env!("CARGO_BIN_EXE_cronwrightd"))
        .arg("--check-config")
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "/etc/cronwright/cronwright.toml: does not exist, so the built-in defaults are used \
         (every key is described in cronwrightd(8))\n"
    );
}

/// A daemon started by hand as a user, without `--config`, loaded /etc/crontab and
/// /etc/cron.d and ran root's system jobs as that user. It leaves them out unless its
/// configuration names them, and says how.
#[test]
fn a_daemon_that_is_not_root_leaves_the_system_crontabs_out_unless_named() {
    if !needs_root("a_daemon_that_is_not_root_leaves_the_system_crontabs_out_unless_named") {
        return;
    }
    let user = TempUser::new("nosys");
    let mut h = Harness::new("");
    let config = std::fs::read_to_string(h.path("cronwright.toml")).unwrap();
    // The harness's configuration without the system crontabs named: their defaults apply.
    let unnamed: String = config
        .lines()
        .filter(|l| !l.starts_with("system_"))
        .map(|l| format!("{l}\n"))
        .collect();
    h.write("cronwright.toml", &unnamed);
    h.write("mine", "0 0 1 1 * true\n");
    h.start_as(&user, &[]);
    let start = h.wait_for("START", |l| l.starts_with("START"));
    assert_eq!(field(&start, "files"), Some("1"), "{start}");
    h.wait_for("why the system crontabs are left out", |l| {
        l == format!(
            "INFO not running as root: the system crontabs (/etc/crontab, /etc/cron.d) are not \
             loaded, since their lines name the users to run as; to run their jobs as {}, name \
             them in the configuration's [sources] (system_crontab, system_dirs)",
            user.name
        )
    });
}

/// With syslog unreachable and no `--log`, a daemon started in the foreground said nothing
/// but "syslog socket … unavailable; will retry".
#[test]
fn a_daemon_logging_only_to_syslog_writes_stderr_while_syslog_is_down() {
    use std::io::{BufRead, BufReader};
    let mut h = Harness::new("");
    h.unlisten();
    h.write("mine", "0 0 1 1 * true\n");
    let mut cmd = h.daemon_command();
    cmd.arg("--foreground")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let stderr = h.spawn(cmd).stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                let start = line.starts_with("START ");
                seen.push(line);
                if start {
                    break;
                }
            }
            Err(_) => panic!("no START line on stderr: {seen:?}"),
        }
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("until syslog is back, log lines go to stderr too")),
        "{seen:?}"
    );
    assert!(seen.iter().any(|l| l.starts_with("RELOAD ")), "{seen:?}");
    assert_eq!(h.stop(), Some(0));
}

/// `CRON_TZ=JST-9` (a POSIX TZ rule, which cronie reads through tzset) was refused as an
/// unknown zone and every entry below it dropped. Rules load and fire in their own offset;
/// a name that is neither a zone nor a rule stays an error.
#[test]
fn cron_tz_accepts_posix_rules_as_tzset_does() {
    let source = "CRON_TZ=JST-9\n0 9 * * * tokyo\n\
                  CRON_TZ=CET-1CEST,M3.5.0,M10.5.0/3\n0 9 * * * berlin\n\
                  CRON_TZ=EST5EDT\n0 9 * * * newyork\n";
    let (code, out) = check(source);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("3 entries fine"), "{out}");
    let parsed = parse_crontab(source, Format::User);
    let next = |i: usize, from: &str| {
        let entry = &parsed.crontab.entries[i];
        let zone = Zone::new(entry.zone.clone().unwrap());
        entry
            .schedule
            .next_after(utc(from), &zone)
            .unwrap()
            .to_rfc3339()
    };
    assert_eq!(next(0, "2026-07-01T00:00:00Z"), "2026-07-02T00:00:00+00:00");
    // Summer and winter time of the rule.
    assert_eq!(next(1, "2026-07-01T00:00:00Z"), "2026-07-01T07:00:00+00:00");
    assert_eq!(next(1, "2026-12-01T00:00:00Z"), "2026-12-01T08:00:00+00:00");
    assert_eq!(next(2, "2026-12-01T00:00:00Z"), "2026-12-01T14:00:00+00:00");
    let out = run(
        cronwright().args([
            "next",
            "-n",
            "1",
            "--tz",
            "JST-9",
            "--from",
            "2026-06-30T12:00:00Z",
            "0 9 * * *",
        ]),
        "",
    );
    assert_eq!(text(&out.stdout), "2026-07-01T09:00:00+09:00\n");
    let (code, out) = check("CRON_TZ=Mars/Olympus\n0 9 * * * x\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("unknown time zone 'Mars/Olympus'"), "{out}");
}
