//! End-to-end tests of `cronwrightd`: the real binary on a temporary directory of crontabs,
//! with a syslog socket the test binds itself. One file per feature; `Harness` does the setup.

mod clock;
mod container;
mod faults;
mod history;
mod lifecycle;
mod logging;
mod pam;
mod policies;
mod reload;
mod running;
pub(crate) mod users;
mod zones;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::{CRONWRIGHTD_BIN, with_etc_files};

/// How long a test waits for something to show up before failing. Generous on purpose: it
/// bounds a failure, it does not measure speed.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The syslog receiver: a thread drains the socket into `lines` as datagrams arrive, since
/// the kernel queues only a few datagrams per socket (net.unix.max_dgram_qlen).
struct Receiver {
    stop: Arc<AtomicBool>,
    /// While set, the thread reads nothing: a syslogd that has fallen behind.
    paused: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start(path: &Path, lines: Arc<Mutex<Vec<String>>>) -> Receiver {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let hold = Arc::clone(&paused);
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            while !flag.load(Ordering::Relaxed) {
                if hold.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                if let Ok(n) = socket.recv(&mut buf) {
                    let line = message(&String::from_utf8_lossy(&buf[..n]));
                    lines.lock().unwrap().push(line);
                }
            }
            // What the socket took before it went is read, as a syslogd stopping cleanly
            // would: a line the sender saw accepted must not vanish with the test's socket.
            if !hold.load(Ordering::Relaxed) && socket.set_nonblocking(true).is_ok() {
                while let Ok(n) = socket.recv(&mut buf) {
                    let line = message(&String::from_utf8_lossy(&buf[..n]));
                    lines.lock().unwrap().push(line);
                }
            }
        });
        Receiver {
            stop,
            paused,
            thread: Some(thread),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    lines: Arc<Mutex<Vec<String>>>,
    receiver: Option<Receiver>,
    daemon: Option<Child>,
}

impl Harness {
    /// A directory with `cron.d/`, `spool/`, a user crontab `mine` run as the daemon's own
    /// user, a bound syslog socket, and a config that points at all of them. Jobs get no PAM
    /// session unless `extra_config` says `pam = true`: the machine's `/etc/pam.d/cron`
    /// (there or not) must not decide what a test sees.
    pub fn new(extra_config: &str) -> Harness {
        let extra_config = without_pam_unless_asked(extra_config);
        let dir = tempfile::tempdir().unwrap();
        for d in ["cron.d", "spool"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let socket = dir.path().join("log.sock");
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
state_dir = "{dir}/state"
control_socket = "{dir}/control.sock"
{extra_config}
"#,
            dir = dir.path().display(),
            socket = socket.display(),
        );
        std::fs::write(dir.path().join("cronwright.toml"), config).unwrap();
        let mut h = Harness {
            dir,
            lines: Arc::new(Mutex::new(Vec::new())),
            receiver: None,
            daemon: None,
        };
        h.listen();
        h
    }

    /// Binds the syslog socket (again) and starts reading it.
    pub fn listen(&mut self) {
        self.receiver = Some(Receiver::start(
            &self.path("log.sock"),
            Arc::clone(&self.lines),
        ));
    }

    /// The syslog daemon goes away: its socket's path is removed first, so that the daemon's
    /// next line finds nothing there, then what the socket already took is read and it is
    /// closed.
    pub fn unlisten(&mut self) {
        let _ = std::fs::remove_file(self.path("log.sock"));
        self.receiver = None;
    }

    /// Stops reading the syslog socket (`true`), as a syslogd that has fallen behind, or
    /// reads on (`false`).
    pub fn pause_reading(&self, paused: bool) {
        if let Some(r) = &self.receiver {
            r.paused.store(paused, Ordering::Relaxed);
        }
    }

    /// Every message received so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn clear_lines(&self) {
        self.lines.lock().unwrap().clear();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file atomically (temp file and rename), as editors and `crontab` do, with
    /// mode 0600.
    pub fn write(&self, name: &str, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        let tmp = path.with_file_name(format!(
            ".tmp-{}",
            path.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(&tmp, text).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// `cronwrightd --config <this harness's config>` with a fixed zone in its environment,
    /// for the caller to add arguments and say where the output goes.
    pub fn daemon_command(&self) -> Command {
        let mut c = Command::new(CRONWRIGHTD_BIN);
        c.arg("--config")
            .arg(self.path("cronwright.toml"))
            .env("TZ", "UTC");
        c
    }

    /// Runs the daemon binary with `args` against this harness's config, to the end (a mode
    /// that exits by itself, such as `--check-config`), and returns what it did.
    pub fn run_daemon(&self, args: &[&str]) -> Output {
        self.daemon_command()
            .args(args)
            .output()
            .expect("run cronwrightd")
    }

    /// Starts the daemon as `cmd` (from `daemon_command`) says, and keeps it, so that it is
    /// stopped when the harness goes, even when the test fails. Returns it for its pipes.
    pub fn spawn(&mut self, mut cmd: Command) -> &mut Child {
        let child = cmd.spawn().expect("start cronwrightd");
        self.daemon.insert(child)
    }

    /// Starts the daemon with its output discarded (tests read the syslog instead) and waits
    /// for its START line.
    pub fn start(&mut self) {
        self.start_with_etc_files(&[]);
    }

    /// [`Harness::start`] where each `/etc/…` file of `files` is the test's copy, in a mount
    /// namespace of the daemon's own (see [`with_etc_files`]; as root). With none, the
    /// daemon starts as it is.
    pub fn start_with_etc_files(&mut self, files: &[(&str, &Path)]) {
        let mut daemon = self.daemon_command();
        daemon.arg("--foreground");
        let mut cmd = if files.is_empty() {
            daemon
        } else {
            with_etc_files(files, &daemon)
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.spawn(cmd);
        self.wait_for("START", |l| l.starts_with("START"));
    }

    /// Starts the daemon as `user` (not root), through `wrapper` (a command that runs the
    /// rest of its arguments, such as `prlimit --nproc=2 --`), and waits for its START line.
    /// The harness's files become the user's, and its syslog socket writable by anyone.
    pub fn start_as(&mut self, user: &users::TempUser, wrapper: &[&str]) {
        let owned = Command::new("chown")
            .args(["-R", &user.name])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(owned.status.success(), "chown: {:?}", owned);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            self.path("log.sock"),
            std::fs::Permissions::from_mode(0o666),
        )
        .unwrap();
        let daemon = self.daemon_command();
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", user.id("-u")))
            .arg(format!("--regid={}", user.id("-g")))
            .arg("--clear-groups")
            .args(wrapper)
            .arg(daemon.get_program())
            .args(daemon.get_args())
            .arg("--foreground")
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.spawn(cmd);
        self.wait_for("START", |l| l.starts_with("START"));
    }

    /// Writes the user crontab `mine` and starts the daemon on it: most tests begin so.
    pub fn start_with(&mut self, mine: &str) {
        self.write("mine", mine);
        self.start();
    }

    pub fn pid(&self) -> i32 {
        self.daemon.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    /// Waits until a received message satisfies `done`, and returns it.
    pub fn wait_for(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        self.poll(what, |lines| lines.into_iter().find(|l| done(l)))
    }

    /// Waits until `n` messages satisfy `pred`, and returns them.
    pub fn wait_for_count(
        &mut self,
        what: &str,
        n: usize,
        pred: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        self.poll(&format!("{n} x {what}"), |lines| {
            let found: Vec<String> = lines.into_iter().filter(|l| pred(l)).collect();
            (found.len() >= n).then_some(found)
        })
    }

    /// Looks at the messages received so far with `found` until it finds something, and
    /// returns that; fails after PATIENCE, naming `what` it waited for and showing the log.
    fn poll<T>(&self, what: &str, found: impl Fn(Vec<String>) -> Option<T>) -> T {
        eventually(
            || found(self.lines()),
            || {
                format!(
                    "timed out waiting for {what}; syslog so far:\n{}",
                    self.lines().join("\n")
                )
            },
        )
    }

    /// The pids of the runs whose CMD line arrived, and of those whose END line did, sorted:
    /// equal when no run's END was lost.
    pub fn started_and_ended(&self) -> (Vec<String>, Vec<String>) {
        let lines = self.lines();
        let pids = |event: &str| -> Vec<String> {
            let mut pids: Vec<String> = lines
                .iter()
                .filter(|l| is_event(l, event))
                .filter_map(|l| field(l, "pid").map(str::to_string))
                .collect();
            pids.sort();
            pids
        };
        (pids("CMD"), pids("END"))
    }

    /// How many of the messages received so far satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.lines().iter().filter(|l| pred(l)).count()
    }

    /// The `event` lines (CMD, END or OUT) received so far of the run with process id `pid`.
    pub fn events(&self, event: &str, pid: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| is_event_of(l, event, pid))
            .collect()
    }

    /// Waits for the `event` line (CMD, END or OUT) of the run with process id `pid`, and
    /// returns it.
    pub fn wait_for_event(&mut self, event: &str, pid: &str) -> String {
        self.wait_for(&format!("{event} of pid {pid}"), |l| {
            is_event_of(l, event, pid)
        })
    }

    /// Lets messages arrive for `d`, then fails if one satisfies `pred` (`what` names it).
    pub fn never_within(&mut self, d: Duration, what: &str, pred: impl Fn(&str) -> bool) {
        self.gather(d);
        let lines = self.lines();
        assert!(
            !lines.iter().any(|l| pred(l)),
            "{what}:\n{}",
            lines.join("\n")
        );
    }

    /// Lets messages arrive for `d`.
    pub fn gather(&mut self, d: Duration) {
        std::thread::sleep(d);
    }

    /// SIGTERM, then the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let pid = self.daemon.as_ref()?.id() as i32;
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        self.wait()
    }

    /// Waits for the daemon to exit (after a signal the test sent), then the exit status code.
    pub fn wait(&mut self) -> Option<i32> {
        wait_exit(self.daemon.take()?)
    }
}

impl Drop for Harness {
    /// After a failed test: SIGTERM first, so the daemon takes its jobs down with it.
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(3) {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `extra` (TOML) with `pam = false` in its `[jobs]` table, unless it sets `pam` itself.
fn without_pam_unless_asked(extra: &str) -> String {
    if extra.lines().any(|l| l.trim_start().starts_with("pam ")) {
        extra.to_string()
    } else if extra.contains("[jobs]\n") {
        extra.replacen("[jobs]\n", "[jobs]\npam = false\n", 1)
    } else {
        format!("{extra}\n[jobs]\npam = false\n")
    }
}

/// Waits for a daemon to exit (after a signal the test sent), then its exit status code;
/// kills it and fails after PATIENCE.
pub fn wait_exit(mut child: Child) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cronwrightd did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Calls `found` until it returns something, and returns that; fails with `failure()` after
/// PATIENCE. The daemon does everything in its own time, so tests wait for its effects.
pub fn eventually<T>(mut found: impl FnMut() -> Option<T>, failure: impl FnOnce() -> String) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = found() {
            return t;
        }
        assert!(start.elapsed() < PATIENCE, "{}", failure());
        std::thread::sleep(Duration::from_millis(20));
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

/// Whether `line` is a job's `event` line: `(user) CMD (command) …`, likewise END and OUT.
pub fn is_event(line: &str, event: &str) -> bool {
    line.contains(&format!(") {event} ("))
}

/// Whether `line` is the `event` line of the run with process id `pid`: the whole `pid=`
/// value, so that pid 12 does not match pid 123.
fn is_event_of(line: &str, event: &str, pid: &str) -> bool {
    is_event(line, event) && field(line, "pid") == Some(pid)
}

/// Whether a process exists.
pub fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}
