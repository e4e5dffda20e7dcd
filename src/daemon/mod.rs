//! `cronwrightd`'s event loop: it ties sources, the cron parser, the scheduler, the runner,
//! the log and mail together.
//!
//! One `poll(2)` on the loop's thread over: the deadline timer (`clock.rs`), the self-pipe the
//! signal handlers write to (`signals.rs`), the watcher's wake descriptor, every running
//! job's output pipe (`running.rs`), and while syslog lags behind, its socket. `notify` delivers inotify events on a thread of its own,
//! which only queues paths and wakes the loop; everything else happens here. Nothing sleeps
//! for an interval or polls the clock: between deadlines, file changes and job output the
//! daemon does not wake at all.
//!
//! Each turn of the loop acts on the signals that came, finishes the jobs that are done, runs
//! what is due, arms the timer, then waits (`wait` returns what is ready) and handles what is
//! ready (`dispatch`). The crontabs and their jobs are the table (`table.rs`); its operations
//! return what happened, and this module logs it.

mod answer;
mod clock;
mod container;
mod due;
mod mailing;
mod observe;
mod options;
mod passthrough;
mod reload;
mod running;
mod service;
mod signals;
mod table;
mod zones;

use crate::catchup::CatchupState;
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use crate::config::Config;
use crate::control::LastRun;
use crate::history::History;
use crate::inflight::Journal;
use crate::log::{Event, Logger};
use crate::metrics::Metrics;
use crate::resolve::system_crontabs_left_out;
use crate::runner::{self, Credentials};
use crate::sources::SourcesConfig;
use crate::watch::{WatchPaths, Watcher};
use crate::zone_watch::ZoneWatch;
use clock::{Timer, WallClock, WallSource, wall_now};
use running::{Running, Waiting};
use service::Service;
use signals::{Signals, StopSignal, Supervisor};
use std::collections::{BTreeMap, HashMap};
use table::{LoadContext, Table};

pub use crate::log::Target;
/// `cronwrightd --pam-session`: the process between the daemon and a job with a PAM session
/// (see `runner/session.rs`).
pub use crate::runner::session::helper_main as session_helper;
pub use container::Container;
pub use options::Options;
use options::sources_for;

/// Checks the configuration file as the daemon would read it (`cronwrightd --check-config`).
/// Checks the configuration at `path` as a start would read it; the line to print when it
/// is good: `ok`, or that it does not exist and the defaults are used (only the default path
/// may be missing).
pub fn check_config(path: &std::path::Path) -> anyhow::Result<String> {
    Config::load_or_defaults(path)?;
    Ok(if path.exists() {
        format!("{}: ok", path.display())
    } else {
        format!(
            "{}: does not exist, so the built-in defaults are used (every key is described in \
             cronwrightd(8))",
            path.display()
        )
    })
}

// Exists for the fuzz target `config` (tests/fuzz): the configuration parser on text, without
// a file per input. Not part of the API.
#[doc(hidden)]
pub fn check_config_text(text: &str) -> Result<(), String> {
    Config::parse(text, std::path::Path::new(crate::config::DEFAULT_PATH))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// After the grace period and the stop signal to the jobs' groups, how long before SIGKILL.
const KILL_AFTER_TERM: Duration = Duration::from_secs(5);

/// What the table needs to load now (a free function: the table is borrowed mutably beside it).
fn load_context<'a>(
    config: &'a Config,
    sources: &'a SourcesConfig,
    now: i64,
    options: &Options,
) -> LoadContext<'a> {
    LoadContext {
        config,
        sources,
        now,
        keep_on_error: options.container.is_some(),
    }
}

/// Writes a file of the daemon's own (the pid file, the `@reboot` marker) as root would
/// safely: never through a symbolic link planted at its path, which would make the daemon
/// overwrite whatever the link names.
fn write_no_follow(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .write_all(data)
}

/// Adds `fd` to a poll set; its slot there.
fn slot<'a>(fds: &mut Vec<PollFd<'a>>, fd: BorrowedFd<'a>) -> usize {
    fds.push(PollFd::new(fd, PollFlags::POLLIN));
    fds.len() - 1
}

/// Where the daemon is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Running jobs at their times.
    Running,
    /// Asked to stop at `since`: no new jobs; the running ones get the grace period.
    Stopping { signal: StopSignal, since: Instant },
    /// The grace period ran out: the `killed` jobs' groups got the stop signal at `at`, and SIGKILL
    /// follows [`KILL_AFTER_TERM`] later.
    Terminating {
        signal: StopSignal,
        at: Instant,
        killed: usize,
    },
}

/// Bytes stdout may hold back before the loop stops reading the jobs whose output passes
/// through (see `wait`).
const PASSTHROUGH_BACKLOG: usize = 256 * 1024;

/// How long the loop is quiet after a load before it gives back memory (see `trim_at`).
const TRIM_AFTER: Duration = Duration::from_millis(200);

/// What one `poll` found ready.
#[derive(Debug, Default)]
struct Ready {
    /// The deadline passed or the clock was set.
    timer: bool,
    /// A signal came.
    signal: bool,
    /// The watcher queued changed paths.
    watch: bool,
    /// A zone file in use may have changed.
    zones: bool,
    /// Indices into `running` of the jobs whose output pipe is readable (or at EOF).
    jobs: Vec<usize>,
    /// The control socket's and the metrics endpoint's descriptors, and which poll found
    /// ready (by slot).
    service: Option<(service::Slots, Vec<bool>)>,
}

/// The running daemon: everything the loop owns.
pub struct Daemon {
    /// The command line.
    options: Options,
    /// The configuration in force; a reload that fails keeps it.
    config: Config,
    /// Where crontabs are, derived from `config` and who the daemon is; kept with it.
    sources: SourcesConfig,
    /// Where log lines go; rebuilt when a reload changes the targets.
    logger: Logger,
    /// Whether the daemon can run jobs as other users.
    as_root: bool,
    /// The session helper jobs run through when they run in a PAM session (`[jobs] pam`, as
    /// root only); set with the config.
    pam: Option<PathBuf>,
    /// The daemon's own identity, which every job takes when the daemon is not root.
    own: Credentials,
    /// For the `From`/`Subject` of mailed output.
    hostname: String,
    /// The soft descriptor limit the daemon was started with, which its jobs get back: the
    /// daemon raises its own to the hard limit, so that jobs holding pipes open cannot run
    /// it out of descriptors for everyone else.
    job_descriptor_limit: Option<u64>,
    /// The daemon's own descriptor limit, which bounds the runs in flight (see
    /// `running::DESCRIPTOR_RESERVE`).
    descriptor_limit: u64,
    /// The crontabs and their scheduled jobs.
    table: Table,
    /// Jobs and sendmail runs in flight.
    running: Vec<Running>,
    /// Due runs not started yet (see `running::Waiting`).
    waiting: VecDeque<Waiting>,
    /// The last turn left runs that could start to the next: poll must not sleep.
    slice_cut: bool,
    /// A load touched memory that idling does not need: when to give it back (see
    /// [`crate::trim`]). Set at start and after each load to [`TRIM_AFTER`] later, so that
    /// a burst of loads (an editor saving twice) is trimmed once, after it.
    trim_at: Option<Instant>,
    /// Reports changed crontab paths (inotify, or stamps once a minute when it cannot).
    watcher: Watcher,
    /// Reports zone files in use that were replaced.
    zone_watch: ZoneWatch,
    /// When the watcher has fallen back to polling: when it last looked.
    last_fallback_check: Instant,
    /// Wakes the loop at the earliest deadline.
    timer: Timer,
    /// The wall clock at the last run of what was due, to tell clock steps from time passing.
    clock: WallClock,
    /// SIGHUP, SIGTERM, SIGINT and SIGCHLD, seen as flags and a readable pipe.
    signals: Signals,
    /// systemd, told of readiness, reloads and the stop.
    supervisor: Supervisor,
    /// Running, or stopping and how far along.
    phase: Phase,
    /// The runs in flight on disk, for the daemon after one that is killed; `None` when the
    /// state directory cannot be used.
    journal: Option<Journal>,
    /// `CRON_CATCHUP`'s state; `None` until the start has read it.
    catchup: Option<CatchupState>,
    /// The control socket and the metrics endpoint, and their clients.
    service: Service,
    /// The record of every run; `None` when it is off or cannot be opened.
    history: Option<History>,
    /// Run numbers handed out while there is no history.
    runs_without_history: i64,
    /// Prometheus metrics, when `[metrics]` asks for them.
    metrics: Option<Metrics>,
    /// A run ended since node_exporter's textfile was last written.
    textfile_due: bool,
    /// The last write of the textfile failed, and the log said so.
    textfile_failing: bool,
    /// The state directory the history was opened in (a reload may name another; the
    /// history stays where it was until a restart).
    history_dir: PathBuf,
    /// The last run of each job that ended or was skipped, by job id, for `status`.
    last: HashMap<String, LastRun>,
    /// Whether `last` has had the history's rows read into it (see `read_last_runs`).
    last_read: bool,
    /// The lines and files not loaded, by file, as the log told them, for `status`.
    problems: BTreeMap<PathBuf, Vec<String>>,
    /// When the daemon started, Unix seconds.
    started_at: i64,
    /// Orphans come to the daemon (it is the subreaper, or PID 1): every exited child that
    /// is not a job is reaped.
    reaps_orphans: bool,
}

/// The logger the configuration asks for: syslog if it wants it (with its queue), plus what
/// the command line asked for; with nothing asked for there, stderr while syslog is down.
fn logger(config: &Config, extra: &[Target]) -> Logger {
    let mut t = Vec::new();
    if config.log.syslog {
        t.push(Target::Syslog(config.log.syslog_socket.clone()));
    }
    t.extend(extra.iter().cloned());
    let logger = Logger::new(t).with_syslog_queue(config.log.syslog_queue);
    if extra.is_empty() {
        logger.with_stderr_while_syslog_down()
    } else {
        logger
    }
}

/// The session helper, if jobs run in PAM sessions: only a daemon running as root can open
/// them (a daemon that is not root runs every job as itself, and PAM's modules need root to
/// set limits and the login uid).
fn pam_sessions(config: &Config, as_root: bool) -> Option<PathBuf> {
    let on = as_root
        && config
            .jobs
            .pam_enabled(std::path::Path::new(runner::session::SERVICE_FILE));
    if !on {
        return None;
    }
    // Without a path of its own, the daemon still tries the file name, and each job's output
    // says it cannot be executed: jobs never run without the session that was asked for.
    Some(runner::session::helper_path().unwrap_or_else(|| runner::session::HELPER_NAME.into()))
}

/// How long the daemon waits at exit for syslog to take the lines still queued.
const LOG_FLUSH_AT_EXIT: Duration = Duration::from_secs(1);

impl Daemon {
    /// Sets everything up: config, log, signals, timer, watcher. Loads nothing yet.
    pub fn new(options: Options) -> anyhow::Result<Daemon> {
        if cfg!(not(debug_assertions)) && options.clock_offset_file.is_some() {
            anyhow::bail!("a clock offset file is for tests, in debug builds only");
        }
        let config = options.load_config()?;
        let logger = logger(&config, &options.log);
        let as_root = nix::unistd::geteuid().is_root();
        // Failing to raise it leaves the limit as it was, which is no reason not to run.
        let (job_descriptor_limit, descriptor_limit) = match runner::raise_descriptor_limit() {
            Ok((was, now)) => ((was != now).then_some(was), now),
            Err(_) => (None, 1024),
        };
        let own = runner::current_user().context("cannot look up the daemon's own user")?;
        let signals = Signals::install()?;
        let timer = Timer::new()?;
        let sources = sources_for(&config, &options, as_root, &own);
        let watcher = Watcher::new(&WatchPaths::from_sources(&sources));
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".into());
        let seed = (wall_now() as u64) ^ (u64::from(std::process::id()) << 32);
        let pam = pam_sessions(&config, as_root);
        let clock = WallClock::new(WallSource::new(options.clock_offset_file.clone()));
        Ok(Daemon {
            options,
            config,
            sources,
            logger,
            as_root,
            pam,
            own,
            hostname,
            job_descriptor_limit,
            descriptor_limit,
            table: Table::new(seed),
            running: Vec::new(),
            waiting: VecDeque::new(),
            slice_cut: false,
            trim_at: Some(Instant::now()),
            watcher,
            zone_watch: ZoneWatch::new(),
            last_fallback_check: Instant::now(),
            timer,
            clock,
            signals,
            supervisor: Supervisor::default(),
            phase: Phase::Running,
            journal: None,
            catchup: None,
            service: Service::default(),
            history: None,
            runs_without_history: 0,
            metrics: None,
            textfile_due: false,
            textfile_failing: false,
            history_dir: PathBuf::new(),
            last: HashMap::new(),
            last_read: false,
            problems: BTreeMap::new(),
            started_at: chrono::Utc::now().timestamp(),
            reaps_orphans: std::process::id() == 1,
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
            write_no_follow(p, format!("{}\n", std::process::id()).as_bytes())
                .with_context(|| format!("cannot write the pid file {}", p.display()))?;
        }
        if self.options.container.is_some() {
            // Without it, what a job leaves behind goes to PID 1, which is this daemon in most
            // containers anyway; elsewhere it is someone else's to reap.
            self.reaps_orphans |= runner::become_subreaper().is_ok();
        }
        self.load_all(true);
        if let Err(e) = self.container_crontabs_loaded() {
            if let Some(p) = &pid_file {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        let runs_as = (!self.as_root).then(|| self.own.user.clone());
        self.logger.log(&Event::Start {
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            zone: self.config.daemon.timezone.name(),
            files: self.table.files(),
            entries: self.table.jobs(),
            runs_as: runs_as.as_deref(),
            pam: self.pam.is_some().then_some(runner::session::SERVICE),
        });
        self.notify_ready();
        self.open_journal();
        self.open_history();
        self.open_service();
        self.open_catchup();
        self.run_reboot_jobs();
        if let Some((_, why)) = self.watcher.fallback() {
            self.logger.log(&Event::WatchFallback { why });
        }
        self.tell_system_crontabs_left_out();
        let result = self.event_loop();
        self.service.close();
        if let Some(history) = self.history.take() {
            history.close();
        }
        self.history_problems();
        if let Some(p) = &pid_file {
            let _ = std::fs::remove_file(p);
        }
        if let Some(p) = &self.options.health_file {
            let _ = std::fs::remove_file(p);
        }
        if let Some(journal) = self.journal.take() {
            journal.close();
        }
        let (reason, killed) = match self.phase {
            Phase::Running => ("error", 0),
            Phase::Stopping { signal, .. } => (signal.name(), 0),
            Phase::Terminating { signal, killed, .. } => (signal.name(), killed),
        };
        self.logger.log(&Event::Stop {
            pid: std::process::id(),
            reason,
            killed,
        });
        self.logger.finish(LOG_FLUSH_AT_EXIT);
        result
    }

    /// Says so when a daemon that is not root leaves out the system crontabs: a foreground
    /// start by hand would otherwise just run fewer jobs than the administrator expected.
    fn tell_system_crontabs_left_out(&mut self) {
        if !system_crontabs_left_out(&self.config, self.as_root) {
            return;
        }
        let sources = &self.config.sources;
        let paths: Vec<String> = sources
            .system_crontab
            .iter()
            .chain(&sources.system_dirs)
            .map(|p| p.display().to_string())
            .collect();
        self.logger.log(&Event::SystemCrontabsLeftOut {
            own: &self.own.user,
            paths: &paths.join(", "),
        });
    }

    fn event_loop(&mut self) -> anyhow::Result<()> {
        loop {
            if let Some(signal) = self.signals.take_stop() {
                self.begin_stop(signal);
            }
            if self.signals.take_hup() {
                self.reload();
            }
            if self.signals.take_chld() {
                self.collect_exits();
            }
            self.enforce_timeouts();
            self.finish_jobs(false);
            self.history_problems();
            self.write_textfile();
            self.service.expire(Instant::now());
            if self.phase == Phase::Running {
                self.run_due();
                self.arm_timer();
            } else if self.alive() == 0 {
                // Output still held by background processes is logged (and mailed) now;
                // the mails are waited for like jobs.
                self.finish_jobs(true);
                if self.running.is_empty() {
                    return Ok(());
                }
            } else {
                self.enforce_grace();
            }
            let ready = self.wait()?;
            self.dispatch(ready);
        }
    }

    /// Blocks in poll until a deadline, a signal, a file change or job output.
    fn wait(&mut self) -> anyhow::Result<Ready> {
        // Lines syslog did not take when they were logged go out first, in order; a receiver
        // still full wakes the loop through `pending_fd` once it has room.
        self.logger.flush();
        // Passed-through lines move on while stdout takes them; what it does not take now
        // wakes the loop through `stdout_pending_fd`, and a job with lines still waiting is
        // not read meanwhile.
        loop {
            self.drain_taps();
            self.logger.flush();
            let waiting = self.running.iter().any(|r| r.job.tap_has_line());
            if self.logger.stdout_backlog() > 0 || !waiting {
                break;
            }
        }
        // Just before sleeping, so that what runs until the sleep is about all that is
        // faulted in again.
        if self.trim_at.is_some_and(|at| at <= Instant::now()) {
            self.trim_at = None;
            crate::trim::trim();
        }
        let timeout = self.poll_timeout();
        let mut fds: Vec<PollFd> = Vec::with_capacity(4 + self.running.len());
        let timer_slot = slot(&mut fds, self.timer.fd());
        let signal_slot = slot(&mut fds, self.signals.fd());
        // Without a wake fd (out of descriptors) the watcher polls instead.
        let watch_slot = self.watcher.wake_fd().map(|fd| slot(&mut fds, fd));
        let zone_slot = self.zone_watch.fd().map(|fd| slot(&mut fds, fd));
        // Nothing to dispatch for it: the next turn's flush sends what the receiver takes.
        if let Some(fd) = self.logger.pending_fd() {
            fds.push(PollFd::new(fd, PollFlags::POLLOUT));
        }
        if let Some(fd) = self.logger.stdout_pending_fd() {
            fds.push(PollFd::new(fd, PollFlags::POLLOUT));
        }
        let service_slots = self.service.add_to(&mut fds);
        let job_slots: Vec<(usize, usize)> = self
            .running
            .iter()
            .enumerate()
            // A job whose passed-through lines wait for stdout is left alone: it waits on its
            // full pipe rather than lose lines, and the loop stays free.
            .filter(|(_, r)| !r.job.output_eof() && !r.job.tap_has_line())
            .map(|(i, r)| (i, slot(&mut fds, r.job.output_fd())))
            .collect();
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("poll failed"),
        }
        let ready = |s: usize| fds[s].revents().is_some_and(|r| !r.is_empty());
        let readiness: Vec<bool> = (0..fds.len()).map(ready).collect();
        Ok(Ready {
            service: Some((service_slots, readiness)),
            timer: ready(timer_slot),
            signal: ready(signal_slot),
            watch: watch_slot.is_some_and(ready),
            zones: zone_slot.is_some_and(ready),
            jobs: job_slots
                .into_iter()
                .filter(|&(_, s)| ready(s))
                .map(|(i, _)| i)
                .collect(),
        })
    }

    /// Handles what `wait` found ready. Signals only set flags: the next turn of the loop
    /// acts on them.
    fn dispatch(&mut self, ready: Ready) {
        if ready.timer {
            self.timer.clear();
        }
        if ready.signal {
            self.signals.drain();
        }
        if ready.watch {
            let changed = self.watcher.drain();
            self.reload_paths(changed);
        }
        if ready.zones {
            let changed = self.zone_watch.drain();
            if !changed.is_empty() {
                self.zones_changed(changed);
            }
        }
        // A file written without being closed (truncate(2) on its path) is read once quiet.
        let settled = self.watcher.settled();
        self.reload_paths(settled);
        if !ready.watch && self.fallback_due() {
            let changed = self.watcher.poll_changes();
            self.reload_paths(changed);
        }
        for i in ready.jobs {
            self.running[i].read();
            self.forward_output(i);
            self.pass_through(i, false, false);
        }
        if let Some((slots, readiness)) = ready.service {
            for incoming in self.service.dispatch(&slots, |s| readiness[s]) {
                self.answer(incoming);
            }
        }
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

    /// poll's own timeout covers what the wall-clock timer does not: draining output after a
    /// job exits, the grace period on stop, and the once-a-minute fallback check.
    fn poll_timeout(&self) -> PollTimeout {
        let now = Instant::now();
        let grace_end = match self.phase {
            Phase::Running => None,
            Phase::Stopping { since, .. } => Some(since + self.config.jobs.grace_period),
            Phase::Terminating { at, .. } => Some(at + KILL_AFTER_TERM),
        };
        let next = self
            .running
            .iter()
            .flat_map(|r| {
                [
                    r.output_deadline(self.config.jobs.output_wait),
                    r.timeout_deadline(self.config.jobs.kill_grace),
                ]
            })
            .flatten()
            .chain(grace_end)
            .chain(self.service.deadline())
            .map(|at| at.saturating_duration_since(now))
            .chain(self.watcher.fallback().map(|(every, _)| every))
            .chain(self.logger.retry_in())
            .chain(self.watcher.settle_in())
            .chain(self.trim_at.map(|at| at.saturating_duration_since(now)))
            .min();
        match next {
            _ if self.slice_cut => PollTimeout::ZERO,
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32 + 1)
                .unwrap_or(PollTimeout::MAX),
        }
    }

    /// Arms the timer for the earliest deadline.
    fn arm_timer(&mut self) {
        if let Err(e) = self.timer.arm(self.table.next_wake(), &self.clock) {
            self.logger.log(&Event::TimerFailed {
                error: &e.to_string(),
            });
        }
    }

    /// SIGTERM or SIGINT: no new jobs from now on; the running ones get the grace period.
    fn begin_stop(&mut self, signal: StopSignal) {
        if self.phase != Phase::Running {
            return;
        }
        self.phase = Phase::Stopping {
            signal,
            since: Instant::now(),
        };
        if let Some(e) = self.supervisor.stopping() {
            self.supervisor_failed(e);
        }
        self.drop_waiting();
        self.logger.log(&Event::Stopping {
            grace_secs: self.config.jobs.grace_period.as_secs(),
            running: self.alive(),
        });
    }

    /// On stop: after the grace period, the stop signal to every job's process group; later,
    /// SIGKILL.
    fn enforce_grace(&mut self) {
        match self.phase {
            Phase::Stopping { signal, since }
                if since.elapsed() >= self.config.jobs.grace_period =>
            {
                self.signal_all(signal.signal());
                self.phase = Phase::Terminating {
                    signal,
                    at: Instant::now(),
                    killed: self.alive(),
                };
            }
            Phase::Terminating { at, .. } if at.elapsed() >= KILL_AFTER_TERM => {
                self.signal_all(Signal::SIGKILL);
            }
            _ => {}
        }
    }

    /// READY, with what is loaded, for the supervisor.
    fn notify_ready(&mut self) {
        if let Some(e) = self.supervisor.ready(self.table.files(), self.table.jobs()) {
            self.supervisor_failed(e);
        }
    }

    fn supervisor_failed(&mut self, e: std::io::Error) {
        self.logger.log(&Event::NotifyFailed {
            error: &e.to_string(),
        });
    }
}
