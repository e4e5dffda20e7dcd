//! The daemon's one event loop: it ties sources, the cron parser, the scheduler, the runner,
//! the log and mail together.
//!
//! One thread and one `poll(2)` over: a `timerfd` on `CLOCK_REALTIME` armed with the earliest
//! deadline as an absolute time with `TFD_TIMER_CANCEL_ON_SET` (so a clock step or a resume
//! from suspend wakes the loop at once); a self-pipe that signal-hook's handlers write to (the
//! handlers only set a flag and write a byte: no work inside them); the watcher's wake pipe;
//! and every running job's output pipe. Nothing here sleeps for an interval or polls the
//! clock: between deadlines, file changes and job output the daemon does not wake at all.
//!
//! Reloads are per file and atomic: a file is read and parsed in full, then its old jobs are
//! replaced by the new ones. Running jobs are never touched by a reload.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono_tz::Tz;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use crate::config::{Config, ConfigError};
use crate::cron::{Entry, Env, Schedule, Severity, Zone, parse_crontab_each};
use crate::log::{Event, Logger, Target, status_text};
use crate::mail::{JobMail, mail_for};
use crate::runner::{self, Credentials, ExitStatus, Spec};
use crate::scheduler::{ClockStep, JobKey, Scheduler};
use crate::sd_notify;
use crate::sources::{self, Kind, Source, SourcesConfig, Stamp, Verdict};
use crate::watch::{WatchPaths, Watcher};

/// After a job's process exits, how long its output pipe may stay open (held by a child it
/// left in the background) before the daemon stops reading and logs the end.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(5);
/// After the grace period and SIGTERM to the jobs' groups, how long before SIGKILL.
const KILL_AFTER_TERM: Duration = Duration::from_secs(5);

/// How the daemon was asked to run (from the command line).
#[derive(Clone, Debug)]
pub struct Options {
    pub config_path: PathBuf,
    /// Where log lines go besides syslog (which the config turns on or off).
    pub log: Vec<Target>,
    /// Overrides the config's pid file.
    pub pid_file: Option<PathBuf>,
}

/// One loaded crontab's commands and standard inputs, end to end, shared by its jobs: they
/// name their text by offsets, so a file of 100,000 entries keeps one allocation for its text
/// instead of one per command. The text is set once the whole file is parsed; the jobs are
/// made (and scheduled) while it is parsed.
struct FileText {
    path: PathBuf,
    text: std::sync::OnceLock<String>,
}

impl FileText {
    fn get(&self, start: usize, len: usize) -> &str {
        self.text
            .get()
            .and_then(|t| t.get(start..start + len))
            .unwrap_or_default()
    }
}

/// What the loop knows of one scheduled entry: 40 bytes, plus its text in the file's
/// [`FileText`]; the user and the environment are shared with the file's other entries.
#[derive(Clone)]
struct JobInfo {
    file: Arc<FileText>,
    entry: JobEntry,
}

/// A job apart from its file (what loading collects until the file's text is complete).
/// Offsets, lengths and line numbers fit in 24 bits (a crontab is at most
/// [`sources::MAX_CRONTAB_BYTES`]), which leaves room for the flag in `line`.
#[derive(Clone)]
struct JobEntry {
    run_as: Arc<RunAs>,
    env: Arc<Env>,
    /// The command is `file.text[start..start + command_len]`; unless `stdin_len` is
    /// [`NO_STDIN`], the next `stdin_len` bytes are its standard input.
    start: u32,
    command_len: u32,
    stdin_len: u32,
    /// The line number, with [`NO_LOG`] set for entries that asked not to be logged.
    line: u32,
}

const NO_STDIN: u32 = u32::MAX;
const NO_LOG: u32 = 1 << 31;

// The per-entry budget (issue 5: at most 150 bytes an entry, all told) rests on this size.
const _: () = assert!(std::mem::size_of::<JobInfo>() == 40);

impl JobInfo {
    fn job_ref(&self) -> String {
        format!("{}:{}", self.file.path.display(), self.entry.line & !NO_LOG)
    }

    fn log(&self) -> bool {
        self.entry.line & NO_LOG == 0
    }

    fn command(&self) -> &str {
        self.file
            .get(self.entry.start as usize, self.entry.command_len as usize)
    }

    fn stdin(&self) -> Option<&str> {
        let e = &self.entry;
        let start = e.start as usize + e.command_len as usize;
        (e.stdin_len != NO_STDIN).then(|| self.file.get(start, e.stdin_len as usize))
    }

    fn user(&self) -> &str {
        &self.entry.run_as.user
    }

    fn credentials(&self) -> Option<&Credentials> {
        self.entry.run_as.credentials.as_ref()
    }
}

/// What the loop knows of one crontab file.
#[derive(Default)]
struct FileState {
    stamp: Option<Stamp>,
    jobs: Vec<JobKey>,
    /// The last refusal logged for this file, so it is logged once, not on every look.
    refused: Option<String>,
}

/// A job that is running, or whose output is still draining.
struct Running {
    job: runner::Job,
    info: Option<JobInfo>,
    user: String,
    command: String,
    job_ref: String,
    log: bool,
    exited: Option<(ExitStatus, Instant)>,
    eof: bool,
    /// Set for a sendmail run: its failure is logged as a mail failure, with the recipient.
    mail_to: Option<String>,
}

struct Signals {
    hup: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    int: Arc<AtomicBool>,
    chld: Arc<AtomicBool>,
    pipe: OwnedFd,
}

impl Signals {
    /// Handlers only set a flag and write a byte to the self-pipe (signal-hook's).
    fn install() -> anyhow::Result<Signals> {
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .context("cannot create the signal pipe")?;
        let s = Signals {
            hup: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
            int: Arc::new(AtomicBool::new(false)),
            chld: Arc::new(AtomicBool::new(false)),
            pipe: read,
        };
        for (sig, flag) in [
            (libc::SIGHUP, &s.hup),
            (libc::SIGTERM, &s.term),
            (libc::SIGINT, &s.int),
            (libc::SIGCHLD, &s.chld),
        ] {
            signal_hook::flag::register(sig, Arc::clone(flag))
                .context("cannot install a signal handler")?;
            let w = write
                .try_clone()
                .context("cannot duplicate the signal pipe")?;
            signal_hook::low_level::pipe::register(sig, w)
                .context("cannot install a signal handler")?;
        }
        Ok(s)
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!(nix::unistd::read(&self.pipe, &mut buf), Ok(n) if n > 0) {}
    }
}

pub struct Daemon {
    options: Options,
    config: Config,
    logger: Logger,
    as_root: bool,
    own: Credentials,
    hostname: String,
    zones: HashMap<Tz, Arc<Zone>>,
    files: HashMap<PathBuf, FileState>,
    scheduler: Scheduler<JobInfo>,
    running: Vec<Running>,
    watcher: Watcher,
    timer: TimerFd,
    signals: Signals,
    last_wall: i64,
    last_mono: Instant,
    rng: u64,
    stopping: Option<Instant>,
    terminated: Option<Instant>,
    /// `@reboot` entries found while loading at start; later loads do not collect them.
    reboot_pending: Option<Vec<JobInfo>>,
    last_fallback_check: Instant,
    /// Jobs that got SIGTERM on stop because they outlived the grace period.
    killed: usize,
    stop_reason: &'static str,
    /// Paths already logged as ignored (by the cron.d name rule): logged once, not per scan.
    ignored: std::collections::HashSet<PathBuf>,
    supervisor_failed: bool,
}

fn wall_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Log targets: syslog if the config wants it, plus what the command line asked for.
fn targets(config: &Config, extra: &[Target]) -> Vec<Target> {
    let mut t = Vec::new();
    if config.log.syslog {
        t.push(Target::Syslog(config.log.syslog_socket.clone()));
    }
    t.extend(extra.iter().cloned());
    t
}

/// The configuration; a missing file at the default path means "all defaults" (a daemon
/// started without a config), a missing file named on the command line is an error.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    match Config::load(path) {
        Err(ConfigError::NotFound { .. }) if path == Path::new(crate::config::DEFAULT_PATH) => {
            Config::defaults()
        }
        other => other,
    }
}

/// Where the daemon looks for crontabs, for a daemon running as `own_user` (shared with
/// `cronwright list`, which shows what such a daemon would load).
pub fn sources_config(
    config: &Config,
    as_root: bool,
    own_user: &str,
    own_uid: u32,
) -> SourcesConfig {
    SourcesConfig {
        system_crontab: config.sources.system_crontab.clone(),
        system_dirs: config.sources.system_dirs.clone(),
        user_spool: config.sources.user_spool.clone(),
        extra_user_crontabs: config.sources.extra_user_crontabs.clone(),
        as_root,
        own_user: own_user.to_string(),
        own_uid,
    }
}

impl Daemon {
    /// Sets everything up: config, log, signals, timer, watcher. Loads nothing yet.
    pub fn new(options: Options) -> anyhow::Result<Daemon> {
        let config = load_config(&options.config_path)?;
        let logger = Logger::new(targets(&config, &options.log));
        let as_root = nix::unistd::geteuid().is_root();
        let own = runner::current_user().context("cannot look up the daemon's own user")?;
        let signals = Signals::install()?;
        let timer = TimerFd::new(
            ClockId::CLOCK_REALTIME,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .context("cannot create the timer")?;
        let watcher = Watcher::new(&WatchPaths::from_sources(&sources_config(
            &config,
            as_root,
            &own.user,
            own.uid.as_raw(),
        )));
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".into());
        let seed = (wall_now() as u64) ^ (u64::from(std::process::id()) << 32);
        Ok(Daemon {
            options,
            config,
            logger,
            as_root,
            own,
            hostname,
            zones: HashMap::new(),
            files: HashMap::new(),
            scheduler: Scheduler::new(),
            running: Vec::new(),
            watcher,
            timer,
            signals,
            last_wall: wall_now(),
            last_mono: Instant::now(),
            rng: seed | 1,
            stopping: None,
            terminated: None,
            reboot_pending: Some(Vec::new()),
            last_fallback_check: Instant::now(),
            killed: 0,
            stop_reason: "SIGTERM",
            ignored: Default::default(),
            supervisor_failed: false,
        })
    }

    /// Runs until SIGTERM or SIGINT and the running jobs are done. Returns normally (exit 0).
    pub fn run(mut self) -> anyhow::Result<()> {
        let pid_file = self
            .options
            .pid_file
            .clone()
            .or_else(|| self.config.daemon.pid_file.clone());
        if let Some(p) = &pid_file {
            std::fs::write(p, format!("{}\n", std::process::id()))
                .with_context(|| format!("cannot write the pid file {}", p.display()))?;
        }
        self.load_all(true);
        let entries = self.scheduler.len();
        let runs_as = (!self.as_root).then(|| self.own.user.clone());
        self.logger.log(&Event::Start {
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            zone: self.config.daemon.timezone.name(),
            files: self.files.len(),
            entries,
            runs_as: runs_as.as_deref(),
        });
        let status = format!(
            "READY=1\nSTATUS=loaded {} crontabs, {entries} jobs",
            self.files.len()
        );
        self.notify_supervisor(&status);
        self.run_reboot_jobs();
        if let Some((_, why)) = self.watcher.fallback() {
            self.logger.log(&Event::WatchFallback { why });
        }
        let result = self.event_loop();
        if let Some(p) = &pid_file {
            let _ = std::fs::remove_file(p);
        }
        self.logger.log(&Event::Stop {
            pid: std::process::id(),
            reason: self.stop_reason,
            killed: self.killed,
        });
        result
    }

    fn event_loop(&mut self) -> anyhow::Result<()> {
        loop {
            let term = self.signals.term.swap(false, Ordering::Relaxed);
            let int = self.signals.int.swap(false, Ordering::Relaxed);
            if (term || int) && self.stopping.is_none() {
                self.stopping = Some(Instant::now());
                self.stop_reason = if term { "SIGTERM" } else { "SIGINT" };
                self.notify_supervisor("STOPPING=1");
                self.logger.log(&Event::Stopping {
                    grace_secs: self.config.jobs.grace_period.as_secs(),
                    running: self.running.len(),
                });
            }
            if self.signals.hup.swap(false, Ordering::Relaxed) {
                if let Err(e) = sd_notify::reloading() {
                    self.supervisor_error(e);
                }
                self.reload_config();
                self.load_all(true);
                // READY again even when the new config was refused: the old one runs on.
                let status = format!(
                    "READY=1\nSTATUS=loaded {} crontabs, {} jobs",
                    self.files.len(),
                    self.scheduler.len()
                );
                self.notify_supervisor(&status);
            }
            if self.signals.chld.swap(false, Ordering::Relaxed) {
                self.collect_exits();
            }
            self.finish_jobs();
            if let Some(since) = self.stopping {
                if self.running.is_empty() {
                    return Ok(());
                }
                self.enforce_grace(since);
            } else {
                self.run_due();
                self.arm_timer();
            }
            self.wait()?;
        }
    }

    /// Blocks in poll until a deadline, a signal, a file change or job output.
    fn wait(&mut self) -> anyhow::Result<()> {
        let timeout = self.poll_timeout();
        let (timer_ready, signal_ready, watch_ready, job_ready) = {
            // Without a wake fd (out of descriptors) the watcher polls: poll the signal pipe
            // twice rather than shift every index.
            let wake = self.watcher.wake_fd().unwrap_or(self.signals.pipe.as_fd());
            let mut fds = vec![
                PollFd::new(self.timer.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.signals.pipe.as_fd(), PollFlags::POLLIN),
                PollFd::new(wake, PollFlags::POLLIN),
            ];
            for r in &self.running {
                if !r.eof {
                    fds.push(PollFd::new(r.job.output_fd(), PollFlags::POLLIN));
                }
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("poll failed"),
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            let jobs: Vec<bool> = fds[3..].iter().map(ready).collect();
            (ready(&fds[0]), ready(&fds[1]), ready(&fds[2]), jobs)
        };
        if timer_ready {
            // A read fails with ECANCELED when the clock was set: either way, look again.
            let mut buf = [0u8; 8];
            let _ = nix::unistd::read(&self.timer, &mut buf);
        }
        if signal_ready {
            self.signals.drain();
        }
        if watch_ready && self.watcher.wake_fd().is_some() {
            let changed = self.watcher.drain();
            self.reload_paths(changed);
        } else if self.watcher.fallback().is_some() && self.fallback_due() {
            let changed = self.watcher.poll_changes();
            self.reload_paths(changed);
        }
        for (r, ready) in self.running.iter_mut().filter(|r| !r.eof).zip(job_ready) {
            if ready {
                r.eof = !matches!(r.job.read_output(), Ok(true));
            }
        }
        Ok(())
    }

    fn fallback_due(&mut self) -> bool {
        match self.watcher.fallback() {
            Some((every, _)) if self.last_fallback_check.elapsed() >= every => {
                self.last_fallback_check = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Tells systemd (Type=notify) about readiness and state; without NOTIFY_SOCKET it does
    /// nothing. A failure is logged once and changes nothing else.
    fn notify_supervisor(&mut self, state: &str) {
        if let Err(e) = sd_notify::notify(state) {
            self.supervisor_error(e);
        }
    }

    fn supervisor_error(&mut self, e: std::io::Error) {
        if !self.supervisor_failed {
            self.supervisor_failed = true;
            self.logger.log(&Event::NotifyFailed {
                error: &e.to_string(),
            });
        }
    }

    /// Runs the `@reboot` entries once per boot: only if the marker file (under /run, which
    /// is emptied at boot) does not exist yet, as cronie does with /run/cron.reboot.
    fn run_reboot_jobs(&mut self) {
        let pending = self.reboot_pending.take().unwrap_or_default();
        let marker = self.config.daemon.reboot_marker.clone();
        if marker.exists() {
            if !pending.is_empty() {
                self.logger.log(&Event::RebootSkipped { marker: &marker });
            }
            return;
        }
        if let Some(dir) = marker.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&marker, b"") {
            self.logger.log(&Event::RebootMarkerFailed {
                marker: &marker,
                error: &e.to_string(),
            });
        }
        for info in pending {
            self.start(&info);
        }
    }

    /// poll's own timeout covers what the wall-clock timer does not: draining output after a
    /// job exits, the grace period on stop, and the once-a-minute fallback check.
    fn poll_timeout(&self) -> PollTimeout {
        let mut next: Option<Duration> = None;
        let mut consider = |d: Duration| next = Some(next.map_or(d, |n| n.min(d)));
        for r in &self.running {
            if let Some((_, at)) = r.exited {
                consider((at + DRAIN_AFTER_EXIT).saturating_duration_since(Instant::now()));
            }
        }
        if let Some(since) = self.stopping {
            let end = match self.terminated {
                Some(t) => t + KILL_AFTER_TERM,
                None => since + self.config.jobs.grace_period,
            };
            consider(end.saturating_duration_since(Instant::now()));
        }
        if let Some((every, _)) = self.watcher.fallback() {
            consider(every);
        }
        match next {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32 + 1)
                .unwrap_or(PollTimeout::MAX),
        }
    }

    /// Arms the timer for the earliest deadline (absolute, wall clock, cancelled on set).
    fn arm_timer(&mut self) {
        match self.scheduler.next_wake() {
            Some(deadline) => {
                let when = TimeSpec::new(deadline, 0);
                let flags = TimerSetTimeFlags::TFD_TIMER_ABSTIME
                    | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET;
                if let Err(e) = self.timer.set(Expiration::OneShot(when), flags) {
                    self.logger.log(&Event::TimerFailed {
                        error: &e.to_string(),
                    });
                }
            }
            None => {
                let _ = self.timer.unset();
            }
        }
    }

    /// Asks the scheduler what is due now, given how the clock moved, and starts it.
    fn run_due(&mut self) {
        let now = wall_now();
        let mono = self.last_mono.elapsed().as_secs() as i64;
        let step = ClockStep::classify(now - self.last_wall, mono);
        let moved = match step {
            ClockStep::Forward(secs) => Some((true, secs)),
            ClockStep::Backward(secs) => Some((false, secs)),
            ClockStep::None => None,
        };
        if let Some((forward, secs)) = moved {
            self.logger.log(&Event::ClockMoved { forward, secs });
        }
        // Keep sub-second progress in the monotonic base so steps are measured fairly.
        self.last_wall = now;
        self.last_mono = Instant::now();
        for due in self.scheduler.tick(now, step) {
            if let Some(info) = self.scheduler.get(due.key).cloned() {
                self.start(&info);
            }
        }
    }

    /// The environment a job runs with, as cronie builds it: SHELL, PATH and HOME defaults,
    /// then the crontab's own lines, then LOGNAME and USER, which a crontab cannot change.
    fn environment(&self, info: &JobInfo, home: &Path) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("SHELL".into(), self.config.jobs.shell.clone()),
            ("PATH".into(), self.config.jobs.path.clone()),
            ("HOME".into(), home.display().to_string()),
        ];
        for (name, value) in info.entry.env.vars() {
            match env.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value.to_string(),
                None => env.push((name.to_string(), value.to_string())),
            }
        }
        env.retain(|(n, _)| n != "LOGNAME" && n != "USER");
        env.push(("LOGNAME".into(), info.user().to_string()));
        env.push(("USER".into(), info.user().to_string()));
        env
    }

    fn start(&mut self, info: &JobInfo) {
        let creds = info.credentials().unwrap_or(&self.own);
        let env = self.environment(info, &creds.home);
        let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let shell = PathBuf::from(get("SHELL").unwrap_or_else(|| self.config.jobs.shell.clone()));
        let cwd = PathBuf::from(get("HOME").unwrap_or_else(|| "/".into()));
        let spec = Spec {
            shell,
            command: info.command().to_string(),
            env,
            cwd,
            stdin: info.stdin().map(|s| s.as_bytes().to_vec()),
            credentials: info.credentials().cloned(),
        };
        let job_ref = info.job_ref();
        match runner::spawn(&spec, self.config.jobs.output_limit) {
            Ok(job) => {
                let pid = job.pid().as_raw() as u32;
                if info.log() {
                    self.logger.log(&Event::Cmd {
                        user: info.user(),
                        command: info.command(),
                        job: &job_ref,
                        pid,
                    });
                }
                self.running.push(Running {
                    job,
                    info: Some(info.clone()),
                    user: info.user().to_string(),
                    command: info.command().to_string(),
                    job_ref,
                    log: info.log(),
                    exited: None,
                    eof: false,
                    mail_to: None,
                });
            }
            Err(e) => {
                self.logger.log(&Event::StartFailed {
                    job: &job_ref,
                    user: info.user(),
                    error: &e.to_string(),
                });
            }
        }
    }

    /// Records the exit of every job that has exited (after SIGCHLD).
    fn collect_exits(&mut self) {
        for r in self.running.iter_mut().filter(|r| r.exited.is_none()) {
            if let Ok(Some(status)) = r.job.try_wait() {
                r.exited = Some((status, Instant::now()));
            }
        }
        // Jobs dropped before their exit was seen are reaped here, so none stays a zombie.
        runner::reap_unknown();
    }

    /// Ends every job that has exited and whose output is closed (or drained long enough):
    /// reads the rest, logs END and OUT, and mails the output if MAILTO asks for it.
    fn finish_jobs(&mut self) {
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            let Some((status, at)) = r.exited else {
                i += 1;
                continue;
            };
            if !r.eof && at.elapsed() < DRAIN_AFTER_EXIT {
                // Take what is there now; the pipe may close on the next read.
                r.eof = !matches!(r.job.read_output(), Ok(true));
                if !r.eof {
                    i += 1;
                    continue;
                }
            }
            let r = self.running.swap_remove(i);
            self.log_end(&r, status);
        }
    }

    fn log_end(&mut self, r: &Running, status: ExitStatus) {
        let pid = r.job.pid().as_raw() as u32;
        let output = r.job.output();
        if let Some(to) = &r.mail_to {
            if status != ExitStatus::Exited(0) {
                let text = String::from_utf8_lossy(output);
                let reason = match text.trim() {
                    "" => format!("sendmail ended with status {}", status_text(status)),
                    t => t.to_string(),
                };
                self.logger.log(&Event::MailFailed {
                    user: &r.user,
                    command: &r.command,
                    job: &r.job_ref,
                    pid,
                    to,
                    reason: &reason,
                });
            }
            return;
        }
        let failed = status != ExitStatus::Exited(0);
        if r.log || failed {
            self.logger.log(&Event::End {
                user: &r.user,
                command: &r.command,
                job: &r.job_ref,
                pid,
                status,
                duration: r.job.started().elapsed(),
                output_bytes: r.job.output_bytes(),
                dropped_bytes: r.job.dropped_bytes(),
            });
        }
        if r.log {
            for line in String::from_utf8_lossy(output).lines() {
                self.logger.log(&Event::Out {
                    user: &r.user,
                    command: &r.command,
                    pid,
                    line,
                });
            }
        }
        if let Some(info) = &r.info {
            self.mail(info, pid, output, r.job.dropped_bytes());
        }
    }

    /// Mails a job's output as cronie does, by running sendmail as the job's user through the
    /// runner, so the loop never waits on it.
    fn mail(&mut self, info: &JobInfo, pid: u32, output: &[u8], dropped: u64) {
        if !self.config.mail.enabled {
            return;
        }
        let env: Vec<(&str, &str)> = info.entry.env.vars().collect();
        let default_from = self
            .config
            .mail
            .from
            .clone()
            .or_else(|| (!self.as_root).then(|| self.own.user.clone()));
        let request = mail_for(&JobMail {
            sendmail: &self.config.mail.sendmail,
            mailto: info.entry.env.get("MAILTO"),
            mailfrom: info.entry.env.get("MAILFROM"),
            default_from: default_from.as_deref(),
            user: info.user(),
            hostname: &self.hostname,
            command: info.command(),
            output,
            truncated_bytes: dropped,
            env: &env,
        });
        let job_ref = info.job_ref();
        let failed = |logger: &mut Logger, to: &str, reason: &str| {
            logger.log(&Event::MailFailed {
                user: info.user(),
                command: info.command(),
                job: &job_ref,
                pid,
                to,
                reason,
            })
        };
        let request = match request {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let to = info
                    .entry
                    .env
                    .get("MAILTO")
                    .unwrap_or(info.user())
                    .to_string();
                failed(&mut self.logger, &to, &e.to_string());
                return;
            }
        };
        if !self.config.mail.sendmail.exists() {
            let reason = format!("{} does not exist", self.config.mail.sendmail.display());
            failed(&mut self.logger, &request.to, &reason);
            return;
        }
        let creds = info.credentials().unwrap_or(&self.own);
        let spec = Spec {
            shell: PathBuf::from("/bin/sh"),
            command: shell_words(&request.argv),
            env: vec![
                ("PATH".into(), self.config.jobs.path.clone()),
                ("HOME".into(), creds.home.display().to_string()),
                ("LOGNAME".into(), info.user().to_string()),
                ("USER".into(), info.user().to_string()),
            ],
            cwd: creds.home.clone(),
            stdin: Some(request.message),
            credentials: info.credentials().cloned(),
        };
        match runner::spawn(&spec, 4096) {
            Ok(job) => self.running.push(Running {
                job,
                info: None,
                user: info.user().to_string(),
                command: info.command().to_string(),
                job_ref,
                log: false,
                exited: None,
                eof: false,
                mail_to: Some(request.to),
            }),
            Err(e) => failed(&mut self.logger, &request.to, &e.to_string()),
        }
    }

    /// On stop: after the grace period, SIGTERM every job's process group; later, SIGKILL.
    fn enforce_grace(&mut self, since: Instant) {
        match self.terminated {
            None if since.elapsed() >= self.config.jobs.grace_period => {
                for r in &self.running {
                    let _ = r.job.signal_group(Signal::SIGTERM);
                }
                self.killed = self.running.len();
                self.terminated = Some(Instant::now());
            }
            Some(t) if t.elapsed() >= KILL_AFTER_TERM => {
                for r in &self.running {
                    let _ = r.job.signal_group(Signal::SIGKILL);
                }
            }
            _ => {}
        }
    }

    fn reload_config(&mut self) {
        match load_config(&self.options.config_path) {
            Ok(config) => {
                self.logger = Logger::new(targets(&config, &self.options.log));
                self.watcher = Watcher::new(&WatchPaths::from_sources(&sources_config(
                    &config,
                    self.as_root,
                    &self.own.user,
                    self.own.uid.as_raw(),
                )));
                self.config = config;
            }
            Err(e) => {
                self.logger.log(&Event::ConfigKept {
                    error: &e.to_string(),
                });
            }
        }
    }

    /// Scans every source and loads every crontab; forgets files that are gone.
    /// `force` reloads files whose stamp did not change too (SIGHUP); otherwise only changed
    /// or new files are read again.
    fn load_all(&mut self, force: bool) {
        let cfg = sources_config(
            &self.config,
            self.as_root,
            &self.own.user,
            self.own.uid.as_raw(),
        );
        let scan = sources::scan(&cfg);
        for (path, reason) in &scan.ignored {
            if self.ignored.insert(path.clone()) {
                let shown = path.display().to_string();
                self.logger.log(&Event::Ignored {
                    path: &shown,
                    reason,
                });
            }
        }
        let seen: Vec<PathBuf> = scan.sources.iter().map(|s| s.path.clone()).collect();
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !seen.contains(p))
            .cloned()
            .collect();
        for path in gone {
            self.forget(&path);
        }
        for source in scan.sources {
            self.load(&source, &cfg, !force);
        }
    }

    /// Reloads what changed: a path that is one of our crontabs is (re)loaded, a path that
    /// was one and is gone has its jobs removed, a directory means "scan again".
    fn reload_paths(&mut self, changed: Vec<PathBuf>) {
        if changed.is_empty() {
            return;
        }
        let cfg = sources_config(
            &self.config,
            self.as_root,
            &self.own.user,
            self.own.uid.as_raw(),
        );
        let configured_dir = |p: &Path| {
            cfg.system_dirs.iter().any(|d| d == p) || cfg.user_spool.as_deref() == Some(p)
        };
        let mut rescan = false;
        for path in changed {
            if configured_dir(&path) {
                rescan = true;
                continue;
            }
            match sources::judge(&path, &cfg) {
                Verdict::Source(source) => self.load(&source, &cfg, false),
                Verdict::Ignored(reason) => {
                    self.forget(&path);
                    if self.ignored.insert(path.clone()) {
                        let shown = path.display().to_string();
                        self.logger.log(&Event::Ignored {
                            path: &shown,
                            reason: &reason,
                        });
                    }
                }
                Verdict::NotOurs => self.forget(&path),
            }
        }
        if rescan {
            self.load_all(false);
        }
    }

    fn forget(&mut self, path: &Path) {
        if let Some(state) = self.files.remove(path) {
            for key in state.jobs {
                self.scheduler.remove(key);
            }
            let file = path.display().to_string();
            self.logger.log(&Event::Reload {
                file: &file,
                entries: 0,
                errors: 0,
            });
        }
    }

    /// A file that may not be loaded (or is gone): its jobs stop; a new reason is logged once
    /// with its fix, and the file is retried when it changes.
    fn refuse(&mut self, path: &Path, shown: &str, refusal: sources::Refusal) {
        if matches!(refusal, sources::Refusal::NotFound) {
            self.forget(path);
            return;
        }
        let reason = refusal.to_string();
        let state = self.files.entry(path.to_path_buf()).or_default();
        let new_reason = state.refused.as_deref() != Some(reason.as_str());
        state.refused = Some(reason.clone());
        state.stamp = None;
        let jobs = std::mem::take(&mut state.jobs);
        if new_reason {
            let fix = refusal.fix(path);
            self.logger.log(&Event::Refused {
                path: shown,
                reason: &reason,
                fix: fix.as_deref(),
            });
        }
        if !jobs.is_empty() {
            for key in jobs {
                self.scheduler.remove(key);
            }
            self.logger.log(&Event::Reload {
                file: shown,
                entries: 0,
                errors: 0,
            });
        }
    }

    /// Loads one crontab: checks it, parses it in full, then replaces its jobs. `quiet_if_same`
    /// skips files whose stamp has not changed since the last load (a full rescan).
    fn load(&mut self, source: &Source, cfg: &SourcesConfig, quiet_if_same: bool) {
        let path_text = source.path.display().to_string();
        let loaded = match sources::load(source, cfg) {
            Ok(l) => l,
            Err(refusal) => {
                self.refuse(&source.path, &path_text, refusal);
                return;
            }
        };
        if quiet_if_same
            && self
                .files
                .get(&source.path)
                .is_some_and(|s| s.stamp == Some(loaded.stamp))
        {
            return;
        }
        // Entries become compact jobs as they are parsed, straight into the scheduler: the
        // parser's `Entry` (a `String` per command) never piles up, and the commands land in
        // one text per file, set when the file is parsed in full.
        let users = UserCache::default();
        let mut diagnostics = Vec::new();
        // The commands are part of the file, so its length is about theirs (`%` input gains
        // at most a final newline): one allocation, almost always.
        let mut text = String::with_capacity(loaded.text.len());
        let mut messages: Vec<(bool, u32, String)> = Vec::new();
        let file = Arc::new(FileText {
            path: source.path.clone(),
            text: std::sync::OnceLock::new(),
        });
        let now = wall_now();
        let mut jobs = Vec::new();
        let mut infos = Vec::new();
        // Nearly every entry of a file has the zone of the one before it.
        let mut last_zone: Option<(Tz, Arc<Zone>)> = None;
        let Daemon {
            config,
            as_root,
            own,
            zones,
            scheduler,
            rng,
            ..
        } = self;
        let view = DaemonView {
            config,
            as_root: *as_root,
            own_user: &own.user,
            users: &users,
        };
        parse_crontab_each(&loaded.text, source.format, &mut diagnostics, |entry| {
            let resolved = match resolve_entry(source, &entry, &view) {
                Ok(r) => r,
                Err(why) => {
                    messages.push((true, entry.line, why));
                    return;
                }
            };
            if let Some(note) = &resolved.note {
                messages.push((false, entry.line, note.clone()));
            }
            // The file is at most MAX_CRONTAB_BYTES, so its commands fit u32 offsets.
            let start = text.len() as u32;
            text.push_str(&entry.command);
            if let Some(stdin) = &entry.stdin {
                text.push_str(stdin);
            }
            let info = JobInfo {
                file: Arc::clone(&file),
                entry: JobEntry {
                    run_as: resolved.run_as,
                    env: entry.env,
                    start,
                    command_len: entry.command.len() as u32,
                    stdin_len: entry.stdin.as_ref().map_or(NO_STDIN, |s| s.len() as u32),
                    line: entry.line | if entry.log { 0 } else { NO_LOG },
                },
            };
            match entry.schedule {
                Schedule::Reboot => infos.push(info),
                Schedule::Times(times) => {
                    let tz = resolved.zone;
                    let zone = match &last_zone {
                        Some((t, z)) if *t == tz => Arc::clone(z),
                        _ => {
                            let z = Arc::clone(
                                zones.entry(tz).or_insert_with(|| Arc::new(Zone::new(tz))),
                            );
                            last_zone = Some((tz, Arc::clone(&z)));
                            z
                        }
                    };
                    let delay = random_delay(rng, entry.random_delay_minutes);
                    jobs.push(scheduler.insert(times, zone, delay, info, now));
                }
            }
        });
        text.shrink_to_fit();
        // A new `FileText` for every load, so this is its first and only text.
        let _ = file.text.set(text);
        let mut errors = 0;
        for d in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
            errors += 1;
            self.logger.log(&Event::CrontabError {
                file: &path_text,
                line: d.line,
                column: d.column,
                message: &d.message,
            });
        }
        for (is_error, line, text) in &messages {
            if *is_error {
                errors += 1;
                self.logger.log(&Event::EntrySkipped {
                    file: &path_text,
                    line: *line,
                    reason: text,
                });
            } else {
                self.logger.log(&Event::EntryNote {
                    file: &path_text,
                    line: *line,
                    note: text,
                });
            }
        }
        let entries = jobs.len() + infos.len();
        let state = self.files.entry(source.path.clone()).or_default();
        let old = std::mem::replace(&mut state.jobs, jobs);
        state.stamp = Some(loaded.stamp);
        state.refused = None;
        for key in old {
            self.scheduler.remove(key);
        }
        if let Some(pending) = self.reboot_pending.as_mut() {
            pending.extend(infos);
        }
        self.logger.log(&Event::Reload {
            file: &path_text,
            entries,
            errors,
        });
    }
}

/// A draw of cronie's RANDOM_DELAY: seconds in `[0, minutes * 60)`.
fn random_delay(rng: &mut u64, minutes: u32) -> u32 {
    if minutes == 0 {
        return 0;
    }
    // xorshift64: a fair spread over the window is all RANDOM_DELAY needs.
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    (*rng % (u64::from(minutes) * 60)) as u32
}

/// Who a job runs as: one per user and load, shared by that user's entries.
#[derive(Debug)]
pub struct RunAs {
    pub user: String,
    /// Looked up when the daemon is root; `None` means "as the daemon's own user".
    pub credentials: Option<Credentials>,
}

/// Who one entry runs as, in which zone, per the daemon's rules.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub run_as: Arc<RunAs>,
    pub zone: Tz,
    /// Something to tell without skipping the entry (a system line naming another user for a
    /// daemon that is not root).
    pub note: Option<String>,
}

/// Who the daemon is, and what it is configured with: what [`resolve_entry`] needs.
pub struct DaemonView<'a> {
    pub config: &'a Config,
    pub as_root: bool,
    pub own_user: &'a str,
    pub users: &'a UserCache,
}

/// Users looked up while loading: a crontab of 100,000 lines for one user costs one
/// getpwnam and getgrouplist (each reads /etc/passwd or /etc/group), not 100,000, and its
/// jobs share one [`RunAs`]. Made anew for each load, so a changed passwd file is seen at the
/// next reload.
#[derive(Default)]
pub struct UserCache {
    users: std::cell::RefCell<HashMap<String, Result<Arc<RunAs>, String>>>,
}

impl UserCache {
    /// `user` as a job's identity: looked up when `look_up` (the daemon is root), otherwise
    /// a name for the daemon's own identity.
    pub fn run_as(&self, user: &str, look_up: bool) -> Result<Arc<RunAs>, String> {
        if let Some(known) = self.users.borrow().get(user) {
            return known.clone();
        }
        let credentials = if look_up {
            runner::lookup_user(user)
                .map(Some)
                .map_err(|e| e.to_string())
        } else {
            Ok(None)
        };
        let made = credentials.map(|credentials| {
            Arc::new(RunAs {
                user: user.to_string(),
                credentials,
            })
        });
        self.users
            .borrow_mut()
            .insert(user.to_string(), made.clone());
        made
    }
}

/// The daemon's per-entry rules, shared with `cronwright list`: the command length limit, the user a line runs as (the spool file's user,
/// the system line's user field, or the daemon's own), that user's lookup when the daemon is
/// root, and the zone. `Err` is why the line is skipped, without the `file:line: ` prefix.
pub fn resolve_entry(
    source: &Source,
    entry: &Entry,
    view: &DaemonView<'_>,
) -> Result<Resolved, String> {
    let config = view.config;
    if entry.command.len() > config.jobs.max_command_length {
        return Err(format!(
            "command of {} bytes is longer than max_command_length ({}); line skipped",
            entry.command.len(),
            config.jobs.max_command_length
        ));
    }
    let user: &str = match (&source.kind, &entry.user) {
        (Kind::UserSpool | Kind::Extra, _) => source.user.as_deref().unwrap_or(view.own_user),
        (_, Some(u)) => u,
        (_, None) => view.own_user,
    };
    let zone = entry.zone.unwrap_or(config.daemon.timezone);
    let note = (!view.as_root
        && user != view.own_user
        && matches!(source.kind, Kind::SystemCrontab | Kind::SystemDir))
    .then(|| {
        format!(
            "runs as {user}, but the daemon is not root; running it as {}",
            view.own_user
        )
    });
    match view.users.run_as(user, view.as_root) {
        Ok(run_as) => Ok(Resolved { run_as, zone, note }),
        Err(e) => Err(format!("unknown user '{user}' ({e}); line skipped")),
    }
}

/// Quotes argv for `sh -c`.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}
