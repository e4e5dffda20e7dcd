//! Start and stop: SIGTERM exits 0 and leaves no child behind; @reboot runs once per boot.

use super::{Harness, alive, field};

#[test]
fn sigterm_exits_zero_and_leaves_no_child_behind() {
    let mut h = Harness::new("[jobs]\ngrace_period = 1\n");
    h.write("mine", "* * * * * * sleep 1000 & sleep 1000\n");
    h.start();
    let cmd = h.wait_for("CMD", |l| l.contains(") CMD ("));
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
    h.write("mine", "@reboot echo booted\n");
    h.start();
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
    let out = std::process::Command::new(crate::util::CRONWRIGHTD_BIN)
        .args(["--check-config", "--config"])
        .arg(h.path("cronwright.toml"))
        .output()
        .unwrap();
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
    let h = Harness::new("");
    h.write("mine", "* * * * * * echo json\n");
    let pid_file = h.path("cronwrightd.pid");
    let mut child = std::process::Command::new(crate::util::CRONWRIGHTD_BIN)
        .arg("--config")
        .arg(h.path("cronwright.toml"))
        .args(["--log", "json", "--pid-file"])
        .arg(&pid_file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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
    assert_eq!(written.trim(), child.id().to_string());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!pid_file.exists());
}

#[test]
fn systemd_hears_ready_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let h = Harness::new("");
    h.write("mine", "0 0 1 1 * echo yearly\n");
    let socket_path = h.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(super::PATIENCE)).unwrap();
    let mut child = std::process::Command::new(crate::util::CRONWRIGHTD_BIN)
        .arg("--config")
        .arg(h.path("cronwright.toml"))
        .env("NOTIFY_SOCKET", &socket_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
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
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let reloading = recv();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(recv().starts_with("READY=1"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(recv(), "STOPPING=1");
    assert!(child.wait().unwrap().success());
}
