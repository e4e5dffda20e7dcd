//! Clock steps, forward and back, through the real event loop. The machine's clock cannot be
//! stepped safely (`CLOCK_REALTIME` has no namespace), so the daemon (a debug build) is given
//! `--clock-offset-file`: its loop's wall clock is the system's plus the seconds that file
//! holds, and the test steps it by rewriting the file. A job due every second keeps the loop
//! looking at its clock each second, as `TFD_TIMER_CANCEL_ON_SET` would make it on a real
//! step.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use chrono::{DateTime, Timelike, Utc};

use super::Harness;

/// The loop's clock offset now: rewritten whole (a rename), so the daemon never reads half.
fn set_offset(file: &Path, secs: i64) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, secs.to_string()).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

/// Starts the daemon on the crontab `mine` with its clock `offset` seconds ahead of the
/// machine's; returns the offset file.
fn start_with_clock(h: &mut Harness, mine: &str, offset: i64) -> PathBuf {
    let file = h.path("clock-offset");
    set_offset(&file, offset);
    h.write("mine", mine);
    let mut cmd = h.daemon_command();
    cmd.arg("--foreground")
        .arg("--clock-offset-file")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    h.spawn(cmd);
    h.wait_for("START", |l| l.starts_with("START"));
    file
}

/// `minute hour` of `at` (UTC, the harness's zone), for a fixed-time crontab line.
fn minute_hour(at: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp(at, 0).unwrap();
    format!("{} {}", t.minute(), t.hour())
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// The seconds of the `INFO the clock moved DIRECTION by Ns` line, once it arrives.
fn moved(h: &mut Harness, direction: &str) -> i64 {
    let prefix = format!("INFO the clock moved {direction} by ");
    let line = h.wait_for(&prefix, |l| l.starts_with(&prefix));
    line[prefix.len()..].trim_end_matches('s').parse().unwrap()
}

/// Lines of output `text` of the job that prints it.
fn outputs(h: &Harness, text: &str) -> usize {
    let suffix = format!("| {text}");
    h.count(|l| l.ends_with(&suffix))
}

#[test]
fn clock_stepped_forward_runs_what_an_hour_skipped_once_and_nothing_a_correction_skipped() {
    let mut h = Harness::new("");
    // `early` is due half an hour from now by the machine's clock, inside the hour the first
    // step skips; `late` three hours from now, inside the four hours the second one skips.
    let (early, late) = (minute_hour(now() + 1800), minute_hour(now() + 3 * 3600));
    let offset = start_with_clock(
        &mut h,
        &format!(
            "MAILTO=\"\"\n* * * * * * true\n{early} * * * echo early\n\
             {late} * * * echo late\n"
        ),
        0,
    );
    set_offset(&offset, 3600);
    let secs = moved(&mut h, "forward");
    assert!((3599..=3601).contains(&secs), "moved {secs}s");
    h.wait_for("the fixed-time job of the skipped hour", |l| {
        l.ends_with("| early")
    });
    h.gather(std::time::Duration::from_secs(2));
    assert_eq!(outputs(&h, "early"), 1, "{:?}", h.lines());
    // More than 3 hours is a correction: nothing it skipped runs.
    h.clear_lines();
    set_offset(&offset, 5 * 3600);
    let secs = moved(&mut h, "forward");
    assert!(
        (4 * 3600 - 1..=4 * 3600 + 1).contains(&secs),
        "moved {secs}s"
    );
    h.gather(std::time::Duration::from_secs(3));
    assert_eq!(
        outputs(&h, "early") + outputs(&h, "late"),
        0,
        "{:?}",
        h.lines()
    );
    // The history says why `late` did not run.
    let runs = super::history::ask_json(&h, &["history", "--json"]);
    let late_skip = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["command"] == "echo late")
        .unwrap_or_else(|| panic!("no record of the late job in {runs:#}"));
    assert_eq!(late_skip["result"], "skipped: clock", "{late_skip:#}");
    assert!(
        late_skip["skip_detail"]
            .as_str()
            .unwrap()
            .starts_with("the clock moved forward by 14"),
        "{late_skip:#}"
    );
}

#[test]
fn clock_stepped_back_does_not_run_a_fixed_time_job_again_for_a_time_it_ran() {
    let mut h = Harness::new("");
    // The loop's clock starts 4 s before a minute boundary at which the fixed job is due.
    let real = now();
    let boundary = (real / 60 + 2) * 60;
    let offset = boundary - 4 - real;
    let file = start_with_clock(
        &mut h,
        &format!(
            "MAILTO=\"\"\n* * * * * * echo tick\n{} * * * echo fixed\n",
            minute_hour(boundary)
        ),
        offset,
    );
    h.wait_for("the fixed-time job", |l| l.ends_with("| fixed"));
    // Back 30 s, so the boundary lies ahead again; then forward 25 s (a small step, whose
    // skipped span runs), which leaves the boundary a few seconds ahead.
    set_offset(&file, offset - 30);
    let back = moved(&mut h, "back");
    assert!((29..=31).contains(&back), "moved back {back}s");
    let ticks_after_back = outputs(&h, "tick");
    set_offset(&file, offset - 5);
    let forward = moved(&mut h, "forward");
    assert!((24..=26).contains(&forward), "moved forward {forward}s");
    // The loop's clock passes the boundary again within these seconds.
    h.gather(std::time::Duration::from_secs(8));
    assert_eq!(outputs(&h, "fixed"), 1, "{:?}", h.lines());
    // Wildcard jobs follow the clock wherever it goes.
    assert!(
        outputs(&h, "tick") > ticks_after_back + 3,
        "{:?}",
        h.lines()
    );
}
