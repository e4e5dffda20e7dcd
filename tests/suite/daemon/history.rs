//! "Did it run, and why not?": the run history, `cronwright status`, `history` and `run`
//! through the control socket, and the Prometheus metrics, with the real daemon and real
//! runs that succeed, fail, time out and are skipped.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::users::{TempUser, spool, write_owned};
use super::{Harness, eventually, field, is_event};
use crate::util::{cronwright, needs_root, text};

/// `cronwright ARGS --config <the harness's>`.
fn ask(h: &Harness, args: &[&str]) -> Output {
    cronwright()
        .args(args)
        .arg("--config")
        .arg(h.path("cronwright.toml"))
        .output()
        .unwrap()
}

/// `ask`, as the JSON it printed.
pub(super) fn ask_json(h: &Harness, args: &[&str]) -> Value {
    let out = ask(h, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?}"))
}

/// The status row of job `name`.
fn job<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == name)
        .unwrap_or_else(|| panic!("no job {name} in {status:#}"))
}

/// The last result `status` shows for `name`, once it has one.
fn last_result(h: &Harness, name: &str) -> String {
    eventually(
        || {
            let status = ask_json(h, &["status", "--json"]);
            job(&status, name)["last"]["result"]
                .as_str()
                .map(String::from)
        },
        || format!("a last run of {name}"),
    )
}

const JOBS: &str = "\
CRON_NAME=fine
* * * * * * echo all is well
CRON_NAME=broken
* * * * * * echo about to fail >&2; exit 3
CRON_NAME=slow
CRON_TIMEOUT=1s
* * * * * * echo started; sleep 30
CRON_NAME=busy
CRON_TIMEOUT=
CRON_OVERLAP=skip
* * * * * * sleep 1.5
";

/// Runs that succeed, fail, time out and are skipped: `status` shows each job's last
/// result, failing ones first, and `history` each run with its output.
#[test]
fn status_and_history_tell_how_each_run_went() {
    let mut h = Harness::new("[jobs]\nkill_grace = 1\n");
    h.start_with(JOBS);
    assert_eq!(last_result(&h, "fine"), "ok");
    assert_eq!(last_result(&h, "broken"), "exit 3");
    assert_eq!(last_result(&h, "slow"), "timeout");
    let skipped = eventually(
        || {
            let status = ask_json(&h, &["status", "--json"]);
            let r = job(&status, "busy")["last"]["result"].as_str()?.to_string();
            r.starts_with("skipped").then_some(r)
        },
        || {
            let busy = ask_json(&h, &["history", "busy", "--json"]);
            format!(
                "a skipped run of busy; its history: {busy:#}; log: {:?}",
                h.lines()
            )
        },
    );
    assert_eq!(skipped, "skipped: overlap");

    let status = ask_json(&h, &["status", "--json"]);
    assert_eq!(status["daemon"]["pid"], h.pid());
    let jobs = status["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4, "{status:#}");
    // Failing jobs first.
    let failing: Vec<bool> = jobs
        .iter()
        .map(|j| j["last"]["failed"].as_bool().unwrap_or(false))
        .collect();
    assert!(failing.windows(2).all(|w| w[0] >= w[1]), "{failing:?}");
    assert_eq!(job(&status, "fine")["schedule"], "* * * * * *");
    assert!(job(&status, "fine")["next"].as_i64().is_some());

    let text_status = text(&ask(&h, &["status"]).stdout);
    assert!(
        text_status.starts_with(&format!("cronwrightd pid {}", h.pid())),
        "{text_status}"
    );
    assert!(text_status.contains("exit 3"), "{text_status}");

    let broken = ask_json(&h, &["history", "broken", "--json"]);
    let run = &broken[0];
    assert_eq!(run["result"], "exit 3", "{broken:#}");
    assert_eq!(run["exit_code"], 3);
    assert_eq!(run["trigger"], "schedule");
    assert_eq!(run["output_head"], "about to fail\n");
    let failed = ask_json(&h, &["history", "--failed", "--json"]);
    assert!(
        failed
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["failed"] == true),
        "{failed:#}"
    );
    let id = run["id"].as_i64().unwrap().to_string();
    let output = ask(&h, &["history", "--output", &id]);
    assert_eq!(text(&output.stdout), "about to fail\n", "{output:?}");
}

/// `cronwright run JOB --wait` runs the job through the daemon, streams its output and exits
/// with its status; the run is logged and recorded as `trigger=manual`.
#[test]
fn run_wait_runs_a_job_as_the_daemon_would_and_exits_with_its_status() {
    let mut h = Harness::new("");
    h.start_with(
        "GREETING=from the crontab\nCRON_NAME=hello\n0 0 1 1 * echo \"$GREETING\"; echo err >&2; exit 4\n",
    );
    let out = ask(&h, &["run", "hello", "--wait"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(text(&out.stdout), "from the crontab\nerr\n");
    let cmd = h.wait_for("the manual CMD", |l| is_event(l, "CMD"));
    assert_eq!(field(&cmd, "trigger"), Some("manual"), "{cmd}");
    // The writer thread records the run after its end, on its own time (the first run
    // after a start also opens the database): the row comes moments after the reply.
    let runs = eventually(
        || {
            let runs = ask_json(&h, &["history", "hello", "--json"]);
            (runs[0]["result"] == "exit 4").then_some(runs)
        },
        || "the run's row in the history".to_string(),
    );
    assert_eq!(runs[0]["trigger"], "manual", "{runs:#}");

    let missing = ask(&h, &["run", "nosuchjob"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("no job 'nosuchjob'"),
        "{missing:?}"
    );
}

/// Without a daemon the commands say so, and `status` still reads the jobs from the files.
#[test]
fn without_a_daemon_the_commands_say_it_is_not_running() {
    let h = Harness::new("");
    h.write("mine", "CRON_NAME=later\n0 4 * * * true\n");
    let status = ask(&h, &["status"]);
    assert!(status.status.success(), "{status:?}");
    let out = text(&status.stdout);
    assert!(out.starts_with("the daemon is not running"), "{out}");
    assert!(out.contains("later"), "{out}");
    let run = ask(&h, &["run", "later"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run.stderr).contains("the daemon is not running"),
        "{run:?}"
    );
}

/// A command that is not found gets a hint on its END line: the PATH it had.
#[test]
fn a_command_not_found_gets_a_hint_with_the_path_it_had() {
    let mut h = Harness::new("");
    h.start_with("PATH=/nonexistent\n@reboot no-such-command-here\n");
    let end = h.wait_for("END", |l| is_event(l, "END"));
    assert_eq!(field(&end, "status"), Some("127"), "{end}");
    assert!(
        end.contains("hint=\"command not found: PATH was /nonexistent; set PATH= in the crontab\""),
        "{end}"
    );
}

/// Clients that connect and send nothing hold up neither the jobs nor other clients (up to
/// the 8 a user may have at once), and are dropped after their deadline.
#[test]
fn a_silent_client_stalls_nothing() {
    let mut h = Harness::new("");
    h.start_with("CRON_NAME=tick\n* * * * * * true\n");
    let silent: Vec<_> = (0..7)
        .map(|_| std::os::unix::net::UnixStream::connect(h.path("control.sock")).unwrap())
        .collect();
    h.clear_lines();
    h.wait_for_count("two runs while clients hang", 2, |l| is_event(l, "END"));
    assert!(ask(&h, &["status", "--json"]).status.success());
    // Each silent client is closed by the daemon once its request deadline passes.
    let mut buf = [0u8; 16];
    for mut s in silent {
        use std::io::Read;
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let got = s.read(&mut buf);
        assert!(
            matches!(got, Ok(0)),
            "a silent client was kept: its read gave {got:?}"
        );
    }
}

/// A database that is not one is put aside with one ERROR line, and a new one is kept.
#[test]
fn a_corrupt_history_is_put_aside_and_started_anew() {
    let mut h = Harness::new("");
    std::fs::create_dir_all(h.path("state")).unwrap();
    std::fs::write(h.path("state/history.db"), vec![0x5a; 8192]).unwrap();
    h.start_with("CRON_NAME=after\n* * * * * * true\n");
    let error = h.wait_for("the history ERROR", |l| {
        l.starts_with("ERROR") && l.contains("history")
    });
    assert!(error.contains("history.db"), "{error}");
    assert_eq!(last_result(&h, "after"), "ok");
    let aside = std::fs::read_dir(h.path("state"))
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("history.db.corrupt")
        });
    assert!(aside, "the old database was not kept aside");
}

/// The metrics endpoint, scraped with curl, counts the runs as they went, and the textfile
/// for node_exporter is written after runs end.
#[test]
fn metrics_count_runs_by_result() {
    let port = free_port();
    let textfile = tempfile::tempdir().unwrap();
    let prom = textfile.path().join("cronwright.prom");
    let mut h = Harness::new(&format!(
        "[metrics]\nlisten = \"127.0.0.1:{port}\"\ntextfile = \"{}\"\n",
        prom.display()
    ));
    h.start_with("CRON_NAME=good\n* * * * * * true\nCRON_NAME=bad\n* * * * * * exit 1\n");
    let user = whoami();
    let series = |result: &str, job: &str| {
        format!("cronwright_job_runs_total{{job=\"{job}\",user=\"{user}\",result=\"{result}\"}}")
    };
    let scrape = eventually(
        || {
            let body = curl(&format!("http://127.0.0.1:{port}/metrics"))?;
            (value(&body, &series("ok", "good"))? >= 2.0
                && value(&body, &series("failed", "bad"))? >= 2.0)
                .then_some(body)
        },
        || "two runs of each counted".into(),
    );
    assert_eq!(
        value(&scrape, "cronwright_jobs_loaded"),
        Some(2.0),
        "{scrape}"
    );
    assert!(
        scrape.contains("cronwright_job_duration_seconds_bucket"),
        "{scrape}"
    );
    assert!(
        scrape.contains("cronwright_job_next_run_timestamp_seconds{"),
        "{scrape}"
    );
    let file = eventually(
        || std::fs::read_to_string(&prom).ok(),
        || "the textfile".into(),
    );
    assert!(file.contains("cronwright_job_runs_total{"), "{file}");
    assert!(!file.contains("# EOF"), "{file}");
}

/// Two users, each with a crontab: each sees and runs only their own jobs, in `status`,
/// `history` and `run`; root sees both.
#[test]
fn each_user_sees_and_runs_only_their_own_jobs() {
    if !needs_root("each_user_sees_and_runs_only_their_own_jobs") {
        return;
    }
    let alice = TempUser::new("ha");
    let bob = TempUser::new("hb");
    let mut h = Harness::new("");
    for (user, name) in [(&alice, "alices"), (&bob, "bobs")] {
        let crontab = format!("CRON_NAME={name}\n* * * * * * echo {name} ran\n");
        write_owned(&h, &spool(user), &crontab, &user.name);
    }
    // The users must reach the config and the socket: the harness directory is root's.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(h.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    h.start();
    let _ = last_result(&h, "alices");
    let _ = last_result(&h, "bobs");
    let as_user = |user: &TempUser, args: &[&str]| -> Output {
        Command::new("setpriv")
            .arg(format!("--reuid={}", user.id("-u")))
            .arg(format!("--regid={}", user.id("-g")))
            .arg("--clear-groups")
            .arg(env!("CARGO_BIN_EXE_cronwright"))
            .args(args)
            .arg("--config")
            .arg(h.path("cronwright.toml"))
            .output()
            .unwrap()
    };
    for (user, own, other) in [(&alice, "alices", "bobs"), (&bob, "bobs", "alices")] {
        let out = as_user(user, &["status", "--json"]);
        assert!(out.status.success(), "{out:?}");
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        let names: Vec<&str> = status["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|j| j["job"].as_str())
            .collect();
        assert_eq!(names, [own], "{}", user.name);
        let out = as_user(user, &["history", "--json"]);
        let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!runs.as_array().unwrap().is_empty(), "{out:?}");
        assert!(
            runs.as_array().unwrap().iter().all(|r| r["name"] == own),
            "{} saw {runs:#}",
            user.name
        );
        let theirs = as_user(user, &["run", other]);
        assert_eq!(theirs.status.code(), Some(1), "{theirs:?}");
        assert!(
            text(&theirs.stderr).contains(&format!("no job '{other}'")),
            "{theirs:?}"
        );
        let mine = as_user(user, &["run", own, "--wait"]);
        assert_eq!(text(&mine.stdout), format!("{own} ran\n"), "{mine:?}");
        assert_eq!(mine.status.code(), Some(0));
    }
    let all = ask_json(&h, &["status", "--json"]);
    assert_eq!(all["jobs"].as_array().unwrap().len(), 2, "{all:#}");
}

fn whoami() -> String {
    text(&Command::new("id").arg("-un").output().unwrap().stdout)
        .trim()
        .to_string()
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(super) fn curl(url: &str) -> Option<String> {
    let out = Command::new("curl").args(["-sf", url]).output().ok()?;
    out.status.success().then(|| text(&out.stdout))
}

/// The value of the series whose line starts with `series`.
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
