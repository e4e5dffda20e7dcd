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
