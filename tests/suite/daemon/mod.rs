//! End-to-end tests of `cronwrightd`: the real binary on a temporary directory of crontabs,
//! with a syslog socket the test binds itself. One file per feature; `Harness` does the setup.

mod lifecycle;
mod logging;
mod reload;
mod running;
mod users;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for something to show up before failing. Generous on purpose: it
/// bounds a failure, it does not measure speed.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub syslog: UnixDatagram,
    pub lines: Vec<String>,
    pub daemon: Option<Child>,
}

impl Harness {
    /// A directory with `cron.d/`, `spool/`, a user crontab `mine` run as the daemon's own
    /// user, a bound syslog socket, and a config that points at all of them.
    pub fn new(extra_config: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        for d in ["cron.d", "spool"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let socket = dir.path().join("log.sock");
        let syslog = UnixDatagram::bind(&socket).unwrap();
        syslog.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let config = format!(
            r#"[sources]
system_crontab = ""
system_dirs = ["{dir}/cron.d"]
user_spool = "{dir}/spool"
extra_user_crontabs = ["{dir}/mine"]
[log]
syslog = true
syslog_socket = "{socket}"
[mail]
sendmail = "{dir}/sendmail"
[daemon]
timezone = "UTC"
reboot_marker = "{dir}/reboot-marker"
{extra_config}
"#,
            dir = dir.path().display(),
            socket = socket.display(),
        );
        std::fs::write(dir.path().join("cronwright.toml"), config).unwrap();
        Harness {
            dir,
            syslog,
            lines: Vec::new(),
            daemon: None,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file atomically (temp file and rename), as editors and `crontab` do, with
    /// mode 0600 (0644 for system crontabs would also do).
    pub fn write(&self, name: &str, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        let tmp = path.with_file_name(format!(".tmp-{}", path.file_name().unwrap().to_string_lossy()));
        std::fs::write(&tmp, text).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    pub fn start_with(&mut self, args: &[&str]) {
        let child = Command::new(env!("CARGO_BIN_EXE_cronwrightd"))
            .arg("--foreground")
            .arg("--config")
            .arg(self.path("cronwright.toml"))
            .args(args)
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cronwrightd");
        self.daemon = Some(child);
        self.wait_for("START", |l| l.contains("START"));
    }

    pub fn pid(&self) -> i32 {
        self.daemon.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// Reads syslog datagrams until `done` holds for one of them (or all gathered so far).
    /// Returns the message part of the matching line.
    pub fn wait_for(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        if let Some(l) = self.lines.iter().find(|l| done(l)) {
            return l.clone();
        }
        let start = Instant::now();
        let mut buf = vec![0u8; 65536];
        while start.elapsed() < PATIENCE {
            if let Ok(n) = self.syslog.recv(&mut buf) {
                let line = message(&String::from_utf8_lossy(&buf[..n]));
                self.lines.push(line.clone());
                if done(&line) {
                    return line;
                }
            }
        }
        panic!("timed out waiting for {what}; syslog so far:\n{}", self.lines.join("\n"));
    }

    /// Waits until `n` lines satisfy `pred`, and returns them.
    pub fn wait_for_count(&mut self, what: &str, n: usize, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let count = |lines: &[String]| lines.iter().filter(|l| pred(l)).count();
        let start = Instant::now();
        while count(&self.lines) < n {
            assert!(start.elapsed() < PATIENCE, "timed out waiting for {n} x {what}; syslog:\n{}", self.lines.join("\n"));
            let mut buf = vec![0u8; 65536];
            if let Ok(k) = self.syslog.recv(&mut buf) {
                self.lines.push(message(&String::from_utf8_lossy(&buf[..k])));
            }
        }
        self.lines.iter().filter(|l| pred(l)).cloned().collect()
    }

    /// Gathers whatever arrives for `d`.
    pub fn gather(&mut self, d: Duration) {
        let start = Instant::now();
        let mut buf = vec![0u8; 65536];
        while start.elapsed() < d {
            if let Ok(n) = self.syslog.recv(&mut buf) {
                self.lines.push(message(&String::from_utf8_lossy(&buf[..n])));
            }
        }
    }

    /// SIGTERM, then the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.daemon.take()?;
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if start.elapsed() > PATIENCE {
                let _ = child.kill();
                panic!("cronwrightd did not stop after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The message of an RFC 3164 datagram: what follows `cronwrightd[PID]: `.
pub fn message(datagram: &str) -> String {
    match datagram.find("]: ") {
        Some(i) => datagram[i + 3..].trim_end().to_string(),
        None => datagram.trim_end().to_string(),
    }
}

/// The value of `key=` in a log line.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split_whitespace().next()
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether a process exists.
pub fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
