//! Faults with real components: a job that closes its output before it exits, the kernel
//! refusing a new process (`RLIMIT_NPROC`), a syslog daemon restarted in the middle of a
//! burst, the daemon killed outright and started again, its state directory full. The daemon
//! logs what happened and goes on.

use super::users::TempUser;
use super::{Harness, field, is_event};
use crate::util::{in_mount_namespace, needs_root};

#[test]
fn a_job_that_closes_its_output_early_is_followed_to_its_exit() {
    let mut h = Harness::new("");
    h.start_with("@reboot exec >&- 2>&-; sleep 1; exit 7\n");
    let end = h.wait_for("END", |l| is_event(l, "END"));
    assert_eq!(field(&end, "status"), Some("7"), "{end}");
    assert_eq!(field(&end, "output"), Some("0B"), "{end}");
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn clone_failing_with_eagain_is_logged_and_the_daemon_goes_on() {
    if !needs_root("clone_failing_with_eagain_is_logged_and_the_daemon_goes_on") {
        return;
    }
    // RLIMIT_NPROC binds users other than root: the daemon runs as a throwaway user, with
    // room for its own two threads and no job.
    let user = TempUser::new("npr");
    let mut h = Harness::new("");
    h.write("mine", "* * * * * * sleep 3\n");
    h.start_as(&user, &["prlimit", "--nproc=2", "--"]);
    let refused = h.wait_for("the refusal", |l| {
        l.starts_with("ERROR ") && l.contains("cannot start the job")
    });
    assert!(
        refused.contains("clone: EAGAIN") || refused.contains("clone: Resource temporarily"),
        "{refused}"
    );
    // The daemon goes on: it tries again at the next due time, and stops when asked.
    h.wait_for_count("two refusals", 2, |l| {
        l.starts_with("ERROR ") && l.contains("cannot start the job")
    });
    assert_eq!(h.count(|l| is_event(l, "CMD")), 0, "{:?}", h.lines());
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn a_syslogd_restarted_mid_burst_loses_no_end_line() {
    let mut h = Harness::new("");
    h.start_with(&"* * * * * * echo burst\n".repeat(20));
    h.wait_for("a first run", |l| is_event(l, "END"));
    // The socket goes away for two seconds of runs, then a new one is bound at its path.
    h.unlisten();
    std::thread::sleep(std::time::Duration::from_secs(2));
    h.listen();
    h.gather(std::time::Duration::from_millis(2500));
    assert_eq!(h.stop(), Some(0));
    let (started, ended) = h.started_and_ended();
    assert!(started.len() >= 80, "{} runs", started.len());
    assert_eq!(started, ended);
}

#[test]
fn a_daemon_killed_with_jobs_running_reports_its_orphans_and_runs_no_reboot_job_again() {
    let mut h = Harness::new("");
    let runs = h.path("reboot-runs");
    h.start_with(&format!(
        "@reboot echo run >> {}; sleep 30\n@reboot sleep 1\n",
        runs.display()
    ));
    let cmds = h.wait_for_count("the @reboot runs", 2, |l| is_event(l, "CMD"));
    let pid_of = |text: &str| {
        let line = cmds.iter().find(|l| l.contains(text)).unwrap();
        field(line, "pid").unwrap().to_string()
    };
    let (long, short) = (pid_of("sleep 30"), pid_of("sleep 1)"));
    h.signal(nix::sys::signal::Signal::SIGKILL);
    assert_eq!(h.wait(), None, "killed by a signal, not exited");
    // The short run ends while no daemon is there.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    h.clear_lines();
    h.start();
    let orphan = h.wait_for("the orphan", |l| l.contains("is still running"));
    assert!(
        orphan.contains(&format!("(pid {long}) that a killed daemon started at ")),
        "{orphan}"
    );
    let lost = h.wait_for("the lost run", |l| l.contains("status is lost"));
    assert!(lost.contains(&format!("(pid {short})")), "{lost}");
    h.gather(std::time::Duration::from_millis(1500));
    assert_eq!(h.count(|l| is_event(l, "CMD")), 0, "{:?}", h.lines());
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "run\n");
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(long.parse().unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_eq!(h.stop(), Some(0));
    // A stop with nothing left in flight leaves nothing to report.
    h.clear_lines();
    h.start();
    h.gather(std::time::Duration::from_millis(500));
    assert_eq!(
        h.count(|l| l.contains("killed daemon")),
        0,
        "{:?}",
        h.lines()
    );
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn a_full_state_directory_is_an_error_line_and_every_job_still_runs() {
    if !needs_root("a_full_state_directory_is_an_error_line_and_every_job_still_runs") {
        return;
    }
    // The state directory on a tmpfs filled to the last byte, in a mount namespace of the
    // daemon's own.
    let mut h = Harness::new("");
    let state = h.path("state");
    std::fs::create_dir(&state).unwrap();
    h.write("mine", "* * * * * * echo still running\n");
    let mut daemon = h.daemon_command();
    daemon.arg("--foreground");
    let mut cmd = in_mount_namespace(
        r#"mount -t tmpfs -o size=16k tmpfs "$1" &&
dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; shift; exec "$@""#,
    );
    cmd.arg(&state)
        .arg(daemon.get_program())
        .args(daemon.get_args())
        .env("TZ", "UTC")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    h.spawn(cmd);
    let error = h.wait_for("the state error", |l| {
        l.contains("journal of runs in flight")
    });
    assert!(
        error.starts_with("ERROR cannot keep the journal of runs in flight in ")
            && error.contains("No space left on device"),
        "{error}"
    );
    h.wait_for_count("runs", 3, |l| is_event(l, "END"));
    assert_eq!(h.stop(), Some(0));
}
