//! Start and stop: SIGTERM exits 0 and leaves no child behind; @reboot runs once per boot.

use std::process::Stdio;

use nix::sys::signal::Signal;

use super::{Harness, alive, field, is_event};

#[test]
fn sigterm_exits_zero_and_leaves_no_child_behind() {
    let mut h = Harness::new("[jobs]\ngrace_period = 1\n");
    h.start_with("* * * * * * sleep 1000 & sleep 1000\n");
    let cmd = h.wait_for("CMD", |l| is_event(l, "CMD"));
    let pid: i32 = field(&cmd, "pid").unwrap().parse().unwrap();
    assert!(alive(pid));
    assert_eq!(h.stop(), Some(0));
    // The job's whole process group got SIGTERM after the grace period. Zombies do not
    // count: the job's orphaned children are reaped by init, which in some containers
    // never reaps.
    let ps = std::process::Command::new("ps")
        .args(["-eo", "pid,pgid,stat,args"])
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    let survivors: Vec<&str> = ps
        .lines()
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1) == Some(&pid.to_string().as_str())
                && !cols.get(2).is_some_and(|s| s.starts_with('Z'))
        })
        .collect();
    assert!(
        survivors.is_empty(),
        "processes of group {pid} survived:\n{survivors:?}"
    );
}

#[test]
fn reboot_jobs_run_once_per_boot_not_on_a_daemon_restart() {
    let mut h = Harness::new("");
    h.start_with("@reboot echo booted\n");
    h.wait_for("@reboot run", |l| l.ends_with("| booted"));
    assert_eq!(h.stop(), Some(0));
    assert!(h.path("reboot-marker").exists());
    h.clear_lines();
    h.start();
    h.gather(std::time::Duration::from_millis(1500));
    assert!(
        h.lines().iter().all(|l| !l.ends_with("| booted")),
        "{:?}",
        h.lines()
    );
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn check_config_reports_unknown_keys_with_their_line() {
    let h = Harness::new("[jobs]\nshel = \"/bin/bash\"\n");
    let out = h.run_daemon(&["--check-config"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shel") && err.contains("cronwright.toml:"),
        "{err}"
    );
}

#[test]
fn json_log_on_stdout_and_the_pid_file_come_and_go_with_the_daemon() {
    use std::io::{BufRead, BufReader};
    let mut h = Harness::new("");
    h.write("mine", "* * * * * * echo json\n");
    let pid_file = h.path("cronwrightd.pid");
    let mut cmd = h.daemon_command();
    cmd.args(["--log", "json", "--pid-file"])
        .arg(&pid_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let stdout = h.spawn(cmd).stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut events = Vec::new();
    while !events
        .iter()
        .any(|e: &serde_json::Value| e["event"] == "OUT")
    {
        let line = lines.next().expect("stdout closed").unwrap();
        events.push(serde_json::from_str(&line).expect("one JSON object per line"));
    }
    let out = events.iter().find(|e| e["event"] == "OUT").unwrap();
    assert_eq!(out["line"], "json", "{out}");
    let written = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(written.trim(), h.pid().to_string());
    assert_eq!(h.stop(), Some(0));
    assert!(!pid_file.exists());
}

#[test]
fn systemd_hears_ready_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let mut h = Harness::new("");
    h.write("mine", "0 0 1 1 * echo yearly\n");
    let socket_path = h.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(super::PATIENCE)).unwrap();
    let mut cmd = h.daemon_command();
    cmd.env("NOTIFY_SOCKET", &socket_path).stderr(Stdio::null());
    h.spawn(cmd);
    let recv = || {
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = recv();
    assert!(
        ready.starts_with("READY=1\nSTATUS=loaded 1 crontabs, 1 jobs"),
        "{ready}"
    );
    h.signal(Signal::SIGHUP);
    let reloading = recv();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(recv().starts_with("READY=1"));
    h.signal(Signal::SIGTERM);
    assert_eq!(recv(), "STOPPING=1");
    assert_eq!(h.wait(), Some(0));
}
