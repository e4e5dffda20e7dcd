//! Zones read from the system's tz database while the daemon runs. A zone file in use that is
//! replaced, as a `tzdata` upgrade replaces it, moves its jobs at once and says so in a ZONE
//! line; jobs in other zones stay. A zone file that vanishes changes nothing but an ERROR line.
//! The database is a private `TZDIR` whose file the test swaps.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use super::Harness;
use super::history::ask_json;
use crate::util::{cronwright, text};
use cronwright::cron::tz_dir;

/// The next run (Unix seconds) that `status` shows for job `name`.
fn next_run(h: &Harness, name: &str) -> i64 {
    let status = ask_json(h, &["status", "--json"]);
    let jobs = status["jobs"].as_array().unwrap();
    let job: &Value = jobs.iter().find(|j| j["job"] == name).unwrap();
    job["next"]
        .as_i64()
        .unwrap_or_else(|| panic!("{name}: {job:#}"))
}

/// Copies the system's zone `zone` to `to`, as a package would install it: written beside it
/// and renamed over it.
fn install_zone(zone: &str, to: &Path) {
    let new = to.with_extension("dpkg-new");
    std::fs::copy(tz_dir().join(zone), &new).unwrap();
    std::fs::rename(&new, to).unwrap();
}

#[test]
fn a_replaced_zone_file_moves_its_jobs_at_once() {
    let mut h = Harness::new("");
    let tzdir = h.path("zoneinfo");
    std::fs::create_dir_all(tzdir.join("Test")).unwrap();
    let file = tzdir.join("Test/Zone");
    install_zone("Europe/Berlin", &file);
    h.write(
        "mine",
        "CRON_NAME=noon\nCRON_TZ=Test/Zone\n0 12 * * * true\n\
         CRON_TZ=\nCRON_NAME=utc_noon\n0 12 * * * true\n",
    );
    let mut daemon = h.daemon_command();
    daemon
        .arg("--foreground")
        .env("TZDIR", &tzdir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    h.spawn(daemon);
    h.wait_for("START", |l| l.starts_with("START"));
    // `check` reads the same private database as the daemon.
    let out = cronwright()
        .args(["next", "--tz", "Test/Zone", "-n", "1", "0 12 * * *"])
        .env("TZDIR", &tzdir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (noon, utc_noon) = (next_run(&h, "noon"), next_run(&h, "utc_noon"));
    // Noon in Berlin is 10:00 or 11:00 UTC.
    assert!(
        [10 * 3600, 11 * 3600].contains(&noon.rem_euclid(86_400)),
        "{noon}"
    );

    // The country of Test/Zone moves to Tokyo's rules.
    install_zone("Asia/Tokyo", &file);
    let line = h.wait_for("ZONE", |l| l.starts_with("ZONE"));
    assert!(line.contains("Test/Zone:"), "{line}");
    assert!(
        line.contains(&format!("{} changed", file.display())),
        "{line}"
    );
    assert!(line.contains("jobs=1 moved=1"), "{line}");
    let moved = next_run(&h, "noon");
    // Noon in Tokyo is 03:00 UTC, and it comes within a day.
    assert_eq!(moved.rem_euclid(86_400), 3 * 3600, "{moved}");
    assert!(moved - noon < 86_400 && noon - moved < 86_400);
    assert_eq!(next_run(&h, "utc_noon"), utc_noon);

    // The file vanishes: the job keeps the rules it has.
    std::fs::remove_file(&file).unwrap();
    let line = h.wait_for("the zone's ERROR", |l| {
        l.contains("is gone or is not a zone file")
    });
    assert!(
        line.starts_with("ERROR") && line.contains("its 1 jobs keep"),
        "{line}"
    );
    assert_eq!(next_run(&h, "noon"), moved);

    // Installed again with the same rules: nothing moves, so nothing is said.
    h.clear_lines();
    install_zone("Asia/Tokyo", &file);
    install_zone("Europe/Berlin", &file);
    let line = h.wait_for("ZONE", |l| l.starts_with("ZONE"));
    assert!(line.contains("jobs=1 moved=1"), "{line}");
    assert_eq!(next_run(&h, "noon"), noon);
    assert_eq!(h.count(|l| l.starts_with("ZONE")), 1, "{:?}", h.lines());
}
