//! Container mode, `cronwrightd CRONTAB...`: as PID 1 of a fresh PID namespace (root only),
//! and the parts any user can run: `-` on standard input, passthrough lines, the health file,
//! `--check`, and a missing crontab failing the start.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::history::{curl, free_port};
use super::{PATIENCE, eventually, wait_exit};
use crate::util::{CRONWRIGHTD_BIN, needs_root, text};

/// A daemon in container mode whose stdout lines a thread collects.
struct Contained {
    dir: tempfile::TempDir,
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Contained {
    /// A directory with `crontab` (mode 0644) and a configuration that keeps the daemon's
    /// state, control socket and `@reboot` marker inside it: the test must not touch the
    /// machine's own.
    fn new(crontab: &str) -> Contained {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("crontab"), crontab).unwrap();
        let config = format!(
            "[daemon]\ntimezone = \"UTC\"\nstate_dir = \"{d}/state\"\n\
             control_socket = \"{d}/control.sock\"\nreboot_marker = \"{d}/reboot\"\n\
             [jobs]\npam = false\n",
            d = dir.path().display()
        );
        std::fs::write(dir.path().join("cronwright.toml"), config).unwrap();
        Contained {
            dir,
            child: None,
            lines: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `cronwrightd --config … ARGS` in this directory.
    fn daemon(&self, args: &[&str]) -> Command {
        let mut c = Command::new(CRONWRIGHTD_BIN);
        c.arg("--config")
            .arg(self.path("cronwright.toml"))
            .args(args)
            .current_dir(self.dir.path());
        c
    }

    /// Starts `cmd` with its stdout collected line by line.
    fn start(&mut self, mut cmd: Command) {
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        if cmd.get_envs().all(|(k, _)| k != "TZ") {
            cmd.env("TZ", "UTC");
        }
        let mut child = cmd.spawn().expect("start the daemon");
        let out = child.stdout.take().unwrap();
        let lines = Arc::clone(&self.lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        self.child = Some(child);
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The JSON lines of event `event`.
    fn events(&self, event: &str) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["event"] == event)
            .collect()
    }

    /// Waits for a JSON line of `event` that `ok` accepts.
    fn wait_event(
        &self,
        event: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        eventually(
            || self.events(event).into_iter().find(|v| ok(v)),
            || {
                format!(
                    "no {event} line as expected in:\n{}",
                    self.lines().join("\n")
                )
            },
        )
    }

    /// Waits for the process to exit, and its status code.
    fn wait(&mut self) -> Option<i32> {
        wait_exit(self.child.take()?)
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The children of host pid `parent`, each with its state letter (`Z` for a zombie).
fn children(parent: i32) -> Vec<(i32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the command name's closing parenthesis: state, then the parent's pid.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = rest.split(' ');
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|p| p.parse().ok()) == Some(parent) {
            found.push((pid, state));
        }
    }
    found
}

/// Renames a new text over `path`, as an editor or a ConfigMap update does.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn as_pid_1_it_passes_the_environment_reaps_orphans_survives_a_bad_edit_and_stops_cleanly() {
    if !needs_root("container mode as PID 1 in a PID namespace") {
        return;
    }
    let crontab = "\
CRON_NAME=env
* * * * * * echo \"greeting=$GREETING\"
CRON_NAME=orphan
*/2 * * * * * setsid sh -c 'echo $$ > orphan.pid; sleep 0.3; exit 3' & echo left one behind
CRON_NAME=long
CRON_OVERLAP=skip
* * * * * * sleep 60
";
    let mut c = Contained::new(crontab);
    let health = c.path("healthy");
    let mut cmd = Command::new("unshare");
    // --kill-child: a failed test that kills unshare takes the namespace down with it.
    cmd.args([
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        CRONWRIGHTD_BIN,
    ])
    .arg("--config")
    .arg(c.path("cronwright.toml"))
    .args(["--log", "json", "--grace", "1", "--health-file"])
    .arg(&health)
    .arg(c.path("crontab"))
    .current_dir(c.dir.path())
    .env("GREETING", "set outside the namespace");
    c.start(cmd);

    // PID 1 of its namespace, healthy once loaded.
    let start = c.wait_event("START", |_| true);
    assert_eq!(start["pid"], 1, "{start}");
    assert!(health.exists(), "no health file after the load");
    let unshare = c.child.as_ref().unwrap().id() as i32;
    let daemon = eventually(
        || children(unshare).first().map(|(pid, _)| *pid),
        || "the daemon is not a child of unshare".into(),
    );

    // The variable set outside reaches the job, through the JSON log.
    let out = c.wait_event("OUT", |v| {
        v["line"]
            .as_str()
            .is_some_and(|l| l.starts_with("greeting="))
    });
    assert_eq!(out["line"], "greeting=set outside the namespace", "{out}");

    // The orphan (its own session, so not in the job's group) comes to PID 1, which reaps it.
    let orphan: u64 = eventually(
        || {
            std::fs::read_to_string(c.path("orphan.pid"))
                .ok()?
                .trim()
                .parse()
                .ok()
        },
        || "the orphan never wrote its pid".into(),
    );
    let reaped = c.wait_event("REAPED", |v| v["pid"].as_u64() == Some(orphan));
    assert_eq!(reaped["status"], "3", "{reaped}");
    // No zombie stays: any child of the daemon in state Z is gone a moment later.
    let zombies: Vec<i32> = children(daemon)
        .into_iter()
        .filter(|(_, s)| *s == 'Z')
        .map(|(p, _)| p)
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let lingering: Vec<(i32, char)> = children(daemon)
        .into_iter()
        .filter(|(p, s)| *s == 'Z' && zombies.contains(p))
        .collect();
    assert!(lingering.is_empty(), "zombies stay: {lingering:?}");

    // A bad edit is reported with its place, and the jobs loaded before go on.
    replace(
        &c.path("crontab"),
        &format!("{crontab}61 * * * * echo never\n"),
    );
    let error = c.wait_event("ERROR", |v| v["line"] == 8);
    assert_eq!(error["column"], 1, "{error}");
    let kept = c.wait_event("KEPT", |_| true);
    assert_eq!(kept["jobs"], 3, "{kept}");
    let outs = c.events("OUT").len();
    eventually(
        || (c.events("OUT").len() >= outs + 2).then_some(()),
        || "the old jobs stopped after the bad edit".into(),
    );
    assert_eq!(
        c.events("STOP").len(),
        0,
        "the daemon stopped on a bad edit"
    );

    // SIGTERM: the long job gets SIGTERM after the grace period, and the daemon exits 0.
    c.wait_event("CMD", |v| v["command"] == "sleep 60");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(c.wait(), Some(0), "{}", c.lines().join("\n"));
    let end = c.wait_event("END", |v| v["command"] == "sleep 60");
    assert_eq!(end["status"], "signal:15", "{end}");
    let stop = c.wait_event("STOP", |_| true);
    assert_eq!(stop["reason"], "SIGTERM", "{stop}");
    assert!(!health.exists(), "the health file outlived the daemon");
}

#[test]
fn a_crontab_on_standard_input_passes_its_lines_through_whole() {
    let mut c = Contained::new("");
    let health = c.path("healthy");
    // Two jobs write lines in pieces at the same time: each line must come out whole.
    let stdin = "\
CRON_NAME=pieces
* * * * * * for i in 1 2 3; do printf 'aaaa'; sleep 0.05; printf 'bbbb\\n'; done; printf tail
CRON_NAME=burst
* * * * * * for i in $(seq 50); do echo burst-line-$i; done
";
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = c.daemon(&[
        "--passthrough",
        "--metrics-listen",
        &listen,
        "--health-file",
    ]);
    cmd.arg(&health).arg("-").stdin(Stdio::piped());
    cmd.stdout(Stdio::piped());
    c.start(cmd);
    {
        use std::io::Write;
        let mut input = c.child.as_mut().unwrap().stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
    }
    eventually(
        || {
            let lines = c.lines();
            let ended = lines
                .iter()
                .filter(|l| l.starts_with("[pieces] tail"))
                .count();
            (ended >= 2).then_some(())
        },
        || format!("no passthrough lines:\n{}", c.lines().join("\n")),
    );
    assert!(health.exists());
    // The metrics endpoint serves this mode too.
    let metrics = curl(&format!("http://{listen}/metrics")).expect("metrics served");
    assert!(
        metrics.contains("cronwright_job_runs_total{job=\"pieces\""),
        "{metrics}"
    );
    let lines = c.lines();
    for line in lines.iter().filter(|l| l.starts_with('[')) {
        let ok = line == "[pieces] aaaabbbb"
            || line == "[pieces] tail"
            || line
                .strip_prefix("[burst] burst-line-")
                .is_some_and(|n| n.parse::<u32>().is_ok());
        assert!(ok, "a line mixed or cut: {line:?} in\n{}", lines.join("\n"));
    }
    // Passed through, so not told again as OUT lines.
    assert!(
        !lines.iter().any(|l| l.contains(") OUT (")),
        "{}",
        lines.join("\n")
    );
    let child = c.child.as_ref().unwrap().id() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(c.wait(), Some(0));
    assert!(!health.exists());
}

#[test]
fn a_crontab_missing_at_start_fails_the_start_and_check_judges_files_for_a_build() {
    let c = Contained::new("* * * * * echo fine\n");
    let out = c.daemon(&["nowhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("nowhere: does not exist"), "{err}");

    let ok = c.daemon(&["--check", "crontab"]).output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    std::fs::write(
        c.path("bad"),
        "* * * * * fine\n0 0 31 feb * never\n70 * * * * bad\n",
    )
    .unwrap();
    let bad = c.daemon(&["--check", "crontab", "bad"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let report = text(&bad.stdout);
    assert!(
        report.contains("bad:3:1: error: minute 70 is out of range"),
        "{report}"
    );
}

/// A reader that falls behind loses no line: the job waits on its pipe instead.
#[test]
fn passed_through_lines_wait_for_a_slow_reader_and_none_is_lost() {
    let c = Contained::new("CRON_NAME=many\n@reboot seq 100000\n");
    let mut child = c
        .daemon(&["--passthrough", "--log", "json", "crontab"])
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Lines lost would leave the reader below waiting forever: the daemon is stopped after
    // PATIENCE whatever happens, which ends its output.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let flag = Arc::clone(&done);
    std::thread::spawn(move || {
        std::thread::sleep(PATIENCE);
        if !flag.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    // Far more than a pipe and the daemon's backlog hold, written while nobody reads.
    std::thread::sleep(Duration::from_millis(1500));
    let mut numbers = Vec::new();
    let mut end = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        match v["event"].as_str() {
            Some("OUTPUT") => numbers.push(v["line"].as_str().unwrap().parse::<u32>().unwrap()),
            Some("END") => end = Some(v),
            _ => {}
        }
        if numbers.len() == 100_000 && end.is_some() {
            break;
        }
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(numbers.len(), 100_000, "lines were lost");
    assert_eq!(numbers, (1..=100_000).collect::<Vec<u32>>());
    assert_eq!(end.unwrap()["status"], "0");
}

/// Kubernetes updates a mounted ConfigMap by pointing `..data` at a new directory: the
/// crontab's own path (a link through `..data`) never changes, and the new text still loads.
#[test]
fn a_configmap_update_through_its_data_link_reloads_the_crontab() {
    use std::os::unix::fs::symlink;
    let mut c = Contained::new("");
    let mount = c.path("config");
    std::fs::create_dir_all(mount.join("..2026_12_05_a")).unwrap();
    std::fs::write(
        mount.join("..2026_12_05_a/crontab"),
        "* * * * * * echo version a\n",
    )
    .unwrap();
    symlink("..2026_12_05_a", mount.join("..data")).unwrap();
    symlink("..data/crontab", mount.join("crontab")).unwrap();
    let crontab = mount.join("crontab");
    let mut cmd = c.daemon(&["--log", "json"]);
    cmd.arg(&crontab);
    c.start(cmd);
    c.wait_event("OUT", |v| v["line"] == "version a");

    // What the kubelet does: a new directory, a new link beside ..data, renamed over it.
    std::fs::create_dir_all(mount.join("..2026_12_05_b")).unwrap();
    std::fs::write(
        mount.join("..2026_12_05_b/crontab"),
        "* * * * * * echo version b\n",
    )
    .unwrap();
    symlink("..2026_12_05_b", mount.join("..data_tmp")).unwrap();
    std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).unwrap();
    std::fs::remove_dir_all(mount.join("..2026_12_05_a")).unwrap();
    c.wait_event("OUT", |v| v["line"] == "version b");
    assert_eq!(c.events("STOP").len(), 0);
}

/// A container that runs as a user other than root, without a configuration file: jobs run
/// as that user with its environment, and the system's state directory and control socket,
/// which it cannot use, are left alone with one line saying so, not an error at every run.
#[test]
fn as_a_user_without_a_config_it_runs_quietly_without_state() {
    if !needs_root("container mode as another user") {
        return;
    }
    let user = super::users::TempUser::new("ct");
    let mut c = Contained::new("* * * * * * echo \"$USER has $GREETING\"\n");
    let chowned = Command::new("chown")
        .args(["-R", &user.name])
        .arg(c.dir.path())
        .status()
        .unwrap();
    assert!(chowned.success());
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={}", user.id("-u")))
        .arg(format!("--regid={}", user.id("-g")))
        .arg("--clear-groups")
        .arg(CRONWRIGHTD_BIN)
        .arg(c.path("crontab"))
        .current_dir(c.dir.path())
        .env("GREETING", "hello");
    c.start(cmd);
    let want = format!("{} has hello", user.name);
    eventually(
        || {
            let lines = c.lines();
            (lines.iter().filter(|l| l.ends_with(&want)).count() >= 2).then_some(())
        },
        || format!("no job output {want:?} in:\n{}", c.lines().join("\n")),
    );
    let lines = c.lines();
    assert!(
        lines.iter().any(|l| l.contains("no run history")),
        "{}",
        lines.join("\n")
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("ERROR")),
        "{}",
        lines.join("\n")
    );
}

/// A container's start is its boot: without a `reboot_marker` of its own, `@reboot` jobs
/// run at every start, also when /run (where the marker would be) outlives the daemon.
#[test]
fn reboot_jobs_run_at_every_start_of_a_container() {
    let c = Contained::new("@reboot echo booted\n");
    let config = format!(
        "[daemon]\ntimezone = \"UTC\"\nstate_dir = \"{d}/state\"\n\
         control_socket = \"{d}/control.sock\"\n[jobs]\npam = false\n",
        d = c.dir.path().display()
    );
    std::fs::write(c.path("noreboot.toml"), config).unwrap();
    for start in 1..=2 {
        let mut c2 = Contained::new("");
        let mut cmd = Command::new(CRONWRIGHTD_BIN);
        cmd.arg("--config")
            .arg(c.path("noreboot.toml"))
            .args(["--log", "json"])
            .arg(c.path("crontab"))
            .current_dir(c.dir.path());
        c2.start(cmd);
        c2.wait_event("OUT", |v| v["line"] == "booted");
        let child = c2.child.as_ref().unwrap().id() as i32;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        assert_eq!(c2.wait(), Some(0), "start {start}");
    }
}
