//! Job policies, end to end: the policy lines of a crontab (`CRON_TIMEOUT`…) and OpenBSD's
//! command flags, as the daemon acts on them with real processes.

use std::time::Duration;

use super::{Harness, alive, eventually, field, is_event};

/// A run past its `CRON_TIMEOUT` gets SIGTERM to its process group, and what ignores it
/// (here a child) gets SIGKILL `kill_grace` later; its END says `status=timeout`.
#[test]
fn a_run_past_its_timeout_is_stopped_with_its_children() {
    let mut h = Harness::new("[jobs]\nkill_grace = 1\n");
    let child = h.path("child");
    h.start_with(&format!(
        "CRON_TIMEOUT=2s\n@reboot (trap '' TERM; exec sleep 60) & echo $! > {}; sleep 60\n",
        child.display()
    ));
    let end = h.wait_for("the END of the run that timed out", |l| is_event(l, "END"));
    assert_eq!(field(&end, "status"), Some("timeout"), "{end}");
    let pid: i32 = eventually(
        || std::fs::read_to_string(&child).ok()?.trim().parse().ok(),
        || "the child's pid".to_string(),
    );
    // The child ignored SIGTERM; SIGKILL follows a second later.
    eventually(
        || (!alive(pid)).then_some(()),
        || format!("child {pid} still alive"),
    );
    // Its output pipe closed with it: the run is over, and no other run was started.
    h.gather(Duration::from_millis(300));
    assert_eq!(h.count(|l| is_event(l, "CMD")), 1, "{:?}", h.lines());
}

/// Without a timeout, or with `CRON_TIMEOUT=0`, a run takes as long as it takes.
#[test]
fn a_run_within_its_timeout_ends_as_usual() {
    let mut h = Harness::new("");
    h.start_with("CRON_TIMEOUT=1h\n@reboot sleep 1; exit 3\n");
    let end = h.wait_for("END", |l| is_event(l, "END"));
    assert_eq!(field(&end, "status"), Some("3"), "{end}");
}

/// The first CMD line's pid, and the lines logged so far.
fn first_run(h: &mut Harness) -> String {
    let cmd = h.wait_for("the first CMD", |l| is_event(l, "CMD"));
    field(&cmd, "pid").unwrap().to_string()
}

/// `CRON_OVERLAP=skip`: a run due while the last one still runs is not started, and a SKIP
/// line names the run in the way.
#[test]
fn overlap_skip_leaves_out_runs_due_while_the_last_still_runs() {
    let mut h = Harness::new("");
    h.start_with("CRON_OVERLAP=skip\n* * * * * * sleep 2.5\n");
    let pid = first_run(&mut h);
    let skip = h.wait_for("a SKIP", |l| is_event(l, "SKIP"));
    assert_eq!(field(&skip, "running"), Some(pid.as_str()), "{skip}");
    assert!(
        skip.ends_with("why=\"overlap=skip: the last run still runs\""),
        "{skip}"
    );
    h.wait_for_count("a second run after the first ended", 2, |l| {
        is_event(l, "CMD")
    });
    // Runs never overlapped: each CMD after the first comes after an END.
    let lines = h.lines();
    let events: Vec<&str> = lines
        .iter()
        .filter_map(|l| ["CMD", "END"].into_iter().find(|e| is_event(l, e)))
        .collect();
    assert_eq!(&events[..3], ["CMD", "END", "CMD"], "{lines:?}");
}

/// OpenBSD's `-s` is `CRON_OVERLAP=skip` for one entry.
#[test]
fn openbsd_single_instance_flag_skips_overlapping_runs() {
    let mut h = Harness::new("");
    h.start_with("* * * * * * -s sleep 2.5\n");
    let pid = first_run(&mut h);
    let skip = h.wait_for("a SKIP", |l| is_event(l, "SKIP"));
    assert_eq!(field(&skip, "running"), Some(pid.as_str()), "{skip}");
    // The flag is not part of the command.
    assert!(skip.contains("SKIP (sleep 2.5)"), "{skip}");
}

/// `CRON_OVERLAP=queue`: one run waits for the last one and starts when it ends; a run due
/// while one already waits is skipped.
#[test]
fn overlap_queue_starts_one_waiting_run_when_the_last_ends() {
    let mut h = Harness::new("");
    h.start_with("CRON_OVERLAP=queue\n* * * * * * sleep 2.5\n");
    first_run(&mut h);
    let skip = h.wait_for("a SKIP", |l| is_event(l, "SKIP"));
    assert!(
        skip.ends_with("a run already waits for the last one to end\""),
        "{skip}"
    );
    h.wait_for_count("the queued run", 2, |l| is_event(l, "CMD"));
    let lines = h.lines();
    let first_end = lines.iter().position(|l| is_event(l, "END")).unwrap();
    let second_cmd = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| is_event(l, "CMD"))
        .nth(1)
        .unwrap()
        .0;
    assert!(first_end < second_cmd, "{lines:?}");
}

/// `CRON_OVERLAP=replace`: the running one's process group gets SIGTERM, and the new run
/// starts once it is gone.
#[test]
fn overlap_replace_stops_the_last_run_and_starts_the_new_one() {
    let mut h = Harness::new("");
    h.start_with("CRON_OVERLAP=replace\n* * * * * * sleep 30\n");
    let pid = first_run(&mut h);
    let end = h.wait_for("the replaced run's END", |l| is_event(l, "END"));
    assert_eq!(field(&end, "pid"), Some(pid.as_str()), "{end}");
    assert_eq!(field(&end, "status"), Some("signal:15"), "{end}");
    h.wait_for_count("the new run", 2, |l| is_event(l, "CMD"));
}

/// `CRON_MAIL` and OpenBSD's `-n` decide which runs are mailed, with a fake sendmail that
/// records each message.
#[test]
fn mail_policies_mail_the_runs_they_name() {
    let mut h = Harness::new("");
    let record = super::logging::fake_sendmail(&h);
    h.start_with(
        "CRON_MAIL=failure\n\
         @reboot echo failure-ok\n\
         @reboot echo failure-failed; exit 2\n\
         @reboot exit 3\n\
         CRON_MAIL=always\n\
         @reboot true\n\
         CRON_MAIL=never\n\
         @reboot echo never; exit 1\n\
         CRON_MAIL=\n\
         @reboot -n echo quiet-ok\n\
         @reboot -n echo quiet-failed; exit 1\n",
    );
    h.wait_for_count("every END", 7, |l| is_event(l, "END"));
    let mails = eventually(
        || {
            let text = std::fs::read_to_string(&record).ok()?;
            (text.matches("ARGS:").count() >= 4).then_some(text)
        },
        || "four mails".to_string(),
    );
    // Nothing else comes.
    h.gather(Duration::from_millis(500));
    let mails = std::fs::read_to_string(&record).unwrap_or(mails);
    assert_eq!(mails.matches("ARGS:").count(), 4, "{mails}");
    for sent in [
        "failure-failed",
        "[cronwrightd: the job wrote nothing and failed: status 3]",
        "[cronwrightd: the job wrote nothing and succeeded]",
        "quiet-failed",
    ] {
        assert!(mails.contains(sent), "{sent}\n{mails}");
    }
    for kept in ["> echo failure-ok", "> echo never", "> echo quiet-ok"] {
        assert!(!mails.contains(kept), "{kept}\n{mails}");
    }
}

/// `cronwright list --json` against the harness's configuration.
fn listed(h: &Harness) -> Vec<serde_json::Value> {
    let out = crate::util::cronwright()
        .args(["list", "--json", "--config"])
        .arg(h.path("cronwright.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::util::text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `CRON_JITTER`: each job's delay is fixed by the machine-id and the job, the same at every
/// look and start, different for two jobs, and the daemon runs the job at the time `list`
/// shows.
#[test]
fn jitter_is_a_stable_delay_per_job_that_the_daemon_keeps() {
    let mut h = Harness::new("");
    // A name whose delay is not 0 on this machine, so that a daemon ignoring it would be seen.
    let (rows, delay) = (0..10)
        .find_map(|n| {
            h.write(
                "mine",
                &format!(
                    "CRON_JITTER=1d\nCRON_NAME=first\n0 0 1 1 * true\nCRON_NAME=second\n\
                     0 0 1 1 * true\nCRON_JITTER=5s\nCRON_NAME=tick{n}\n\
                     */5 * * * * * date +\\%S\n"
                ),
            );
            let rows = listed(&h);
            let policy = rows[2]["policy"].as_str().unwrap().to_string();
            let delay: u32 = policy
                .rsplit("delay=")
                .next()?
                .trim_end_matches('s')
                .parse()
                .ok()?;
            (delay != 0).then_some((rows, delay))
        })
        .expect("a name with a delay");
    assert_eq!(rows, listed(&h), "the same at every look");
    let delay_text = |i: usize| rows[i]["policy"].as_str().unwrap().to_string();
    assert!(delay_text(0).contains(" delay="), "{rows:?}");
    assert_ne!(delay_text(0), delay_text(1), "{rows:?}");
    // The third job runs `delay` seconds into each 5 s window, as list shows.
    let next = rows[2]["next"].as_str().unwrap();
    let second: u32 = next[17..19].parse().unwrap();
    assert_eq!(second % 5, delay, "{next}");
    h.start();
    let out = h.wait_for("the jittered run's output", |l| is_event(l, "OUT"));
    let ran: u32 = out.rsplit("| ").next().unwrap().trim().parse().unwrap();
    assert_eq!(ran % 5, delay, "{out}");
    // A new daemon keeps the same delay.
    h.stop();
    h.clear_lines();
    h.start();
    let out = h.wait_for("the output after a restart", |l| is_event(l, "OUT"));
    let ran: u32 = out.rsplit("| ").next().unwrap().trim().parse().unwrap();
    assert_eq!(ran % 5, delay, "after a restart: {out}");
}

/// `[jobs] timeout` and `overlap` are the policies of entries whose crontab sets none, and a
/// crontab line wins over them.
#[test]
fn config_defaults_apply_where_the_crontab_sets_no_policy() {
    let mut h = Harness::new("[jobs]\ntimeout = \"1s\"\nkill_grace = 0\n");
    h.start_with("@reboot sleep 30\nCRON_TIMEOUT=0\n@reboot sleep 2; echo free\n");
    let end = h.wait_for("the END of the run stopped by the default", |l| {
        is_event(l, "END") && l.contains("(sleep 30)")
    });
    assert_eq!(field(&end, "status"), Some("timeout"), "{end}");
    h.wait_for("the run whose line says no timeout", |l| {
        l.ends_with("| free")
    });
}

/// Starts the daemon on `mine` with its clock `offset` seconds ahead (see `clock.rs`).
fn start_ahead(h: &mut Harness, offset: i64) {
    let file = h.path("clock-offset");
    std::fs::write(&file, offset.to_string()).unwrap();
    let mut cmd = h.daemon_command();
    cmd.arg("--foreground")
        .arg("--clock-offset-file")
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    h.spawn(cmd);
    h.wait_for("START", |l| l.starts_with("START"));
}

/// `minute hour` (UTC, the harness's zone) two minutes from now, for a fixed-time line.
fn minute_hour_in_two_minutes() -> String {
    use chrono::Timelike;
    let due = chrono::Utc::now() + chrono::Duration::seconds(120);
    format!("{} {}", due.minute(), due.hour())
}

/// `CRON_CATCHUP=once`: a run due while the daemon was down is made up once at the next
/// start, with its lateness in the CMD line, however many were missed; a job without it is
/// not.
#[test]
fn catchup_makes_up_the_last_missed_run_once_after_downtime() {
    let mut h = Harness::new("");
    // The daemon will be down across this time.
    let fixed = minute_hour_in_two_minutes();
    h.write(
        "mine",
        &format!(
            "CRON_CATCHUP=once\n{fixed} * * * echo daily-caught\n* * * * * echo minute-caught\n\
             CRON_CATCHUP=\n{fixed} * * * echo not-caught\n"
        ),
    );
    start_ahead(&mut h, 0);
    h.stop();
    assert!(h.path("state/catchup").exists(), "the state is kept");
    h.clear_lines();
    // Back an hour later: both jobs missed runs (the minute job about 60).
    start_ahead(&mut h, 3600);
    let daily = h.wait_for("the daily job's catch-up", |l| {
        is_event(l, "CMD") && l.contains("(echo daily-caught)")
    });
    let late: i64 = field(&daily, "late")
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!((3300..=3600).contains(&late), "{daily}");
    h.wait_for("the minute job's catch-up", |l| {
        is_event(l, "CMD") && l.contains("(echo minute-caught)") && l.contains(" late=")
    });
    h.gather(Duration::from_millis(500));
    let lines = h.lines();
    let caught = |what: &str| {
        lines
            .iter()
            .filter(|l| is_event(l, "CMD") && l.contains(what) && l.contains(" late="))
            .count()
    };
    assert_eq!(
        caught("(echo minute-caught)"),
        1,
        "once, not for each missed run"
    );
    assert_eq!(caught("(echo daily-caught)"), 1, "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("not-caught")), "{lines:?}");
}

/// Back from a suspend (a forward clock step of more than 3 hours, past which cron runs
/// nothing it skipped), a job with `CRON_CATCHUP=once` makes up its missed run, once; one
/// without it does not.
#[test]
fn catchup_makes_up_a_run_missed_across_a_resume() {
    let mut h = Harness::new("");
    let fixed = minute_hour_in_two_minutes();
    // The job every second keeps the loop looking at its clock.
    h.write(
        "mine",
        &format!(
            "* * * * * * true\nCRON_CATCHUP=once\n{fixed} * * * echo resumed-caught\n\
             CRON_CATCHUP=\n{fixed} * * * echo resumed-skipped\n"
        ),
    );
    start_ahead(&mut h, 0);
    let file = h.path("clock-offset");
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, (5 * 3600).to_string()).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let cmd = h.wait_for("the catch-up after the step", |l| {
        is_event(l, "CMD") && l.contains("(echo resumed-caught)")
    });
    assert!(cmd.contains(" late="), "{cmd}");
    h.gather(Duration::from_millis(1500));
    assert_eq!(
        h.count(|l| l.contains("(echo resumed-caught)") && is_event(l, "CMD")),
        1
    );
    assert_eq!(
        h.count(|l| l.contains("resumed-skipped")),
        0,
        "{:?}",
        h.lines()
    );
}

/// OpenBSD's `-q`: the run is not logged (no CMD or OUT line, and END only on failure).
#[test]
fn openbsd_quiet_flag_keeps_a_run_out_of_the_log() {
    let mut h = Harness::new("");
    // Output is still mailed; a sendmail that takes it keeps MAIL failures out of the log.
    super::logging::fake_sendmail(&h);
    h.start_with("@reboot -q echo hushed\n@reboot -q echo failed; exit 4\n@reboot echo heard\n");
    h.wait_for("the logged run", |l| l.ends_with("| heard"));
    let end = h.wait_for("the failed quiet run's END", |l| {
        is_event(l, "END") && l.contains("status=4")
    });
    assert!(end.contains("(echo failed; exit 4)"), "{end}");
    h.gather(Duration::from_millis(300));
    assert_eq!(h.count(|l| l.contains("hushed")), 0, "{:?}", h.lines());
    assert_eq!(h.count(|l| is_event(l, "CMD")), 1, "{:?}", h.lines());
}
