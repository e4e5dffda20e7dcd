//! Jobs run at their second, log CMD/END/OUT, do not drift, and never wait on each other.

use super::{Harness, field, is_event};

#[test]
fn jobs_run_at_their_second_and_log_cmd_end_and_output() {
    let mut h = Harness::new("");
    h.start_with("*/2 * * * * * echo hello from $LOGNAME; exit 3\n");
    let cmd = h.wait_for("CMD", |l| l.contains(") CMD (echo hello"));
    assert!(field(&cmd, "job").unwrap().ends_with("/mine:1"), "{cmd}");
    let pid = field(&cmd, "pid").unwrap().to_string();
    let end = h.wait_for_event("END", &pid);
    assert_eq!(field(&end, "status"), Some("3"), "{end}");
    assert!(field(&end, "duration").unwrap().ends_with('s'));
    let out = h.wait_for_event("OUT", &pid);
    assert!(out.contains("| hello from "), "{out}");
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn runs_do_not_drift_each_start_falls_within_its_deadline_second() {
    let mut h = Harness::new("");
    let log = h.path("starts");
    h.write(
        "mine",
        &format!("* * * * * * date +\\%s.\\%N >> {}\n", log.display()),
    );
    h.start();
    h.wait_for_count("END", 8, |l| is_event(l, "END"));
    assert_eq!(h.stop(), Some(0));
    let starts: Vec<f64> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert!(starts.len() >= 8, "{starts:?}");
    let seconds: Vec<i64> = starts.iter().map(|s| s.floor() as i64).collect();
    // One run per second, every second: no second skipped or run twice, so lateness never
    // accumulates into a missed or doubled deadline.
    assert!(seconds.windows(2).all(|w| w[1] == w[0] + 1), "{starts:?}");
}

#[test]
fn a_stuck_job_delays_nothing_else() {
    let mut h = Harness::new("[jobs]\ngrace_period = 1\n");
    h.start_with("* * * * * * sleep 1000\n* * * * * * echo tick\n");
    h.wait_for_count("tick", 4, |l| l.contains("| tick"));
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn stdin_from_percent_and_environment_lines_reach_the_job() {
    let mut h = Harness::new("");
    h.start_with(
        "GREETING = \"hi there\"\n* * * * * * cat; echo \"$GREETING\" $HOME%line one%line two\n",
    );
    let one = h.wait_for("stdin", |l| l.ends_with("| line one"));
    let pid = field(&one, "pid").unwrap().to_string();
    h.wait_for("second stdin line", |l| {
        l.ends_with("| line two") && l.contains(&pid)
    });
    h.wait_for("env", |l| l.contains("| hi there /") && l.contains(&pid));
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn a_job_sees_only_descriptors_0_1_and_2() {
    let mut h = Harness::new("");
    // `ls` lists the shell's descriptors (not its own directory handle); `; :` keeps the
    // shell from exec'ing ls in its place.
    h.start_with("* * * * * * ls /proc/$$/fd; :\n");
    let end = h.wait_for("END", |l| is_event(l, "END"));
    let pid = field(&end, "pid").unwrap().to_string();
    let fds: Vec<String> = h
        .events("OUT", &pid)
        .iter()
        .map(|l| l.rsplit("| ").next().unwrap().to_string())
        .collect();
    assert_eq!(fds, ["0", "1", "2"]);
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn a_dash_entry_runs_unlogged_but_its_failure_is_still_logged() {
    let mut h = Harness::new("");
    let marks = h.path("marks");
    h.write(
        "mine",
        &format!(
            "* * * * * * -echo quiet >> {m}; echo hidden\n-* * * * * * echo quiet2 >> {m}; exit 4\n\
             * * * * * * echo loud\n",
            m = marks.display()
        ),
    );
    h.start();
    h.wait_for_count("loud", 3, |l| l.contains("| loud"));
    let failed = h.wait_for("END of the failing quiet job", |l| {
        is_event(l, "END") && l.contains("status=4")
    });
    assert!(
        field(&failed, "job").unwrap().ends_with("/mine:2"),
        "{failed}"
    );
    assert_eq!(h.stop(), Some(0));
    let lines = h.lines();
    let logged_run = |l: &&String| is_event(l, "CMD") || is_event(l, "OUT");
    assert!(
        !lines
            .iter()
            .filter(logged_run)
            .any(|l| l.contains("quiet") || l.contains("hidden")),
        "{lines:#?}"
    );
    let marks = std::fs::read_to_string(&marks).unwrap();
    assert!(
        marks.contains("quiet\n") && marks.contains("quiet2\n"),
        "{marks}"
    );
}

#[test]
fn a_user_at_max_running_per_user_waits_and_a_job_due_again_meanwhile_is_one_run() {
    let mut h = Harness::new("[jobs]\nmax_running_per_user = 2\ngrace_period = 0\n");
    h.start_with("* * * * * * sleep 100\n");
    let waits = h.wait_for("the wait", |l| {
        l.starts_with("INFO ") && l.contains(" waits: ")
    });
    assert!(
        waits.contains("2 runs of") && waits.contains("max_running_per_user"),
        "{waits}"
    );
    h.wait_for("a merge", |l| {
        l.starts_with("INFO ") && l.contains("the two are one run")
    });
    assert_eq!(h.count(|l| is_event(l, "CMD")), 2, "{:?}", h.lines());
    assert_eq!(h.stop(), Some(0));
    assert!(
        h.lines()
            .iter()
            .any(|l| l.contains("was not started: the daemon is stopping")),
        "{:?}",
        h.lines()
    );
}

#[test]
fn a_burst_beyond_max_running_per_user_waits_and_every_job_runs() {
    let mut h = Harness::new("[jobs]\nmax_running_per_user = 3\n");
    h.start_with(&"@reboot echo burst\n".repeat(20));
    h.wait_for_count("20 ENDs", 20, |l| is_event(l, "END"));
    assert_eq!(h.count(|l| l.starts_with("ERROR ")), 0, "{:?}", h.lines());
    assert_eq!(h.stop(), Some(0));
}
