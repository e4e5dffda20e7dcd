//! The jobs in flight: starting a due job (its user looked up afresh, its environment, shell
//! and directory as cronie builds them), following its output and exit, and logging it.
//!
//! A run has two ends. Its END line is logged when its own process exits, with that process's
//! duration. Its output is logged (OUT lines) and mailed when the pipe reaches EOF, when the
//! kept output is full, or `[jobs] output_wait` after the exit, whichever comes first: a
//! process the job left in the background (`server &`) can hold the pipe for as long as it
//! lives. The pipe is read until EOF in every case, what comes after the output was logged
//! being discarded, because closing it would kill such a process with SIGPIPE at its next
//! write; cron reads to EOF too. Mail is one more run (of sendmail), followed the same way.
//!
//! The runner's [`runner::Job`] keeps the state of the process (status, exit time, output at
//! EOF); this module adds what the run was for ([`Run`]) and which of its ends are logged.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::Daemon;
use super::container::Inherit;
use super::mailing::mail_failed;
use super::table::JobInfo;
use crate::config::Jobs;
use crate::cron::{Env, Overlap};
use crate::history::Trigger;
use crate::log::{Event, Logger, status_text};
use crate::runner::{self, Credentials, ExitStatus, Spec};
use crate::scheduler::JobKey;

/// The output kept of a sendmail run: only its complaint, if it fails, is worth logging.
pub(super) const MAIL_OUTPUT_LIMIT: usize = 4096;

/// Descriptors kept free of runs: each run in flight holds one (its output pipe) and a start
/// a few more for a moment, while logging, a reload (inotify, the crontab being read) and
/// the config need a handful; this leaves them room whatever the jobs do.
const DESCRIPTOR_RESERVE: u64 = 64;

/// How long one turn of the loop spends starting waiting runs: a burst of a thousand takes
/// about a second, and signals, file changes, output and other due jobs must not wait that
/// long behind it.
const START_SLICE: Duration = Duration::from_millis(50);

/// A due run not started yet: a burst starts a slice at a time, and a run over a limit on
/// runs in flight waits for one to end.
pub(crate) struct Waiting {
    /// The job's place in the table; `None` for `@reboot` runs, which are not scheduled.
    key: Option<JobKey>,
    info: JobInfo,
    /// Its wait for a limit was logged.
    told: bool,
    /// It waits for the last run of its job to end (`CRON_OVERLAP=queue` or `replace`).
    after_last: bool,
    meta: RunMeta,
}

/// What a run is, beyond its entry: for the history, the metrics and a client waiting on it.
#[derive(Clone, Debug)]
pub(crate) struct RunMeta {
    /// The job's id (`CRON_NAME`, else the hash; see `job_id`).
    pub id: String,
    pub trigger: Trigger,
    /// When it was due, Unix seconds (`None`: run by hand).
    pub due: Option<i64>,
    /// A run made up for one missed while the daemon was down: seconds past its due time.
    pub late: Option<u64>,
    /// The control client that asked for it, and whether it follows the run to its end
    /// (`cronwright run --wait`) or only waits for it to start.
    pub waiter: Option<(u64, bool)>,
}

impl RunMeta {
    /// A run due at `due` for `trigger`, that no client waits for.
    pub fn due(id: String, trigger: Trigger, due: i64) -> RunMeta {
        RunMeta {
            id,
            trigger,
            due: Some(due),
            late: None,
            waiter: None,
        }
    }
}

/// A process the daemon started and follows until its output pipe closes.
pub(crate) struct Running {
    pub job: runner::Job,
    pub run: Run,
    /// The identity the process was started with (`None`: the daemon's own), which its mail
    /// is sent with too.
    credentials: Option<Credentials>,
    /// The process exited and its END line was dealt with.
    ended: bool,
    /// The output was logged and mailed; the pipe is only read until it closes.
    output_done: bool,
    /// When the run is stopped for its `CRON_TIMEOUT`, if it has one.
    deadline: Option<Instant>,
    /// The run is being stopped (its timeout came, or a new run replaces it).
    stop: Option<Stop>,
    /// Its number in the history, and what it is (jobs only).
    pub record: Option<(i64, RunMeta)>,
    /// Bytes of its output already sent to a client following it.
    pub forwarded: usize,
}

/// A run being stopped: SIGTERM to its process group went at `at`; SIGKILL follows
/// `[jobs] kill_grace` later if anything of the group is left.
#[derive(Clone, Copy)]
struct Stop {
    at: Instant,
    killed: bool,
    /// For its timeout (END says `status=timeout`), or for the run that replaces it.
    timeout: bool,
}

/// What a process was started for.
pub(crate) enum Run {
    /// A crontab entry.
    Job(JobInfo),
    /// sendmail with the output of `info`'s run; its failure is logged as a mail failure to
    /// `to`.
    Mail { info: JobInfo, to: String },
}

impl Running {
    pub(super) fn new(job: runner::Job, run: Run, credentials: Option<Credentials>) -> Running {
        Running {
            job,
            run,
            credentials,
            ended: false,
            output_done: false,
            deadline: None,
            stop: None,
            record: None,
            forwarded: 0,
        }
    }

    /// Whether the run ended by its `CRON_TIMEOUT`.
    pub fn timed_out(&self) -> bool {
        self.stop.is_some_and(|s| s.timeout)
    }

    /// Sends SIGTERM to the run's process group, once, and notes why.
    fn begin_stop(&mut self, now: Instant, timeout: bool) {
        if self.stop.is_none() {
            let _ = self.job.signal_group(Signal::SIGTERM);
            self.stop = Some(Stop {
                at: now,
                killed: false,
                timeout,
            });
        }
    }

    /// Whether this is a run of `info`'s job whose process still runs.
    fn runs(&self, info: &JobInfo) -> bool {
        self.alive() && matches!(&self.run, Run::Job(mine) if mine.same_job(info))
    }

    /// When the loop must act on this run's timeout: at the deadline, then `kill_grace`
    /// after SIGTERM while its process group may still hold processes (the job itself, or
    /// what it started, which keeps the output pipe open).
    pub fn timeout_deadline(&self, kill_grace: Duration) -> Option<Instant> {
        match self.stop {
            None if self.alive() => self.deadline,
            Some(Stop {
                at, killed: false, ..
            }) if self.alive() || !self.job.output_eof() => Some(at + kill_grace),
            _ => None,
        }
    }

    fn info(&self) -> &JobInfo {
        match &self.run {
            Run::Job(info) | Run::Mail { info, .. } => info,
        }
    }

    /// Whether the process itself is still running (a job's background children do not
    /// count: they are not the daemon's to wait for).
    pub fn alive(&self) -> bool {
        self.job.status().is_none()
    }

    /// Reads what the output pipe holds now. A read error ends the reading as EOF would: the
    /// pipe is of no more use, and polling it again would wake the loop for nothing.
    pub fn read(&mut self) {
        let _ = self.job.read_output();
    }

    /// When the loop must look at this run again although nothing arrives: `output_wait`
    /// after its exit, if its output is not logged by then.
    pub fn output_deadline(&self, output_wait: Duration) -> Option<Instant> {
        match self.job.exited_at() {
            Some(at) if !self.output_done && !self.job.output_eof() => Some(at + output_wait),
            _ => None,
        }
    }

    /// Whether the output can be logged now, and whether that is because `output_wait` ran
    /// out with the pipe still open.
    fn output_ready(&self, now: Instant, output_wait: Duration) -> Option<bool> {
        let at = self.job.exited_at()?;
        if self.job.output_eof() || self.job.output_capped() {
            return Some(false);
        }
        (now.saturating_duration_since(at) >= output_wait).then_some(true)
    }
}

/// The environment a job runs with. As cronie builds it: SHELL, PATH and HOME defaults,
/// then the crontab's own lines, then LOGNAME and USER, which a crontab cannot change. In
/// container mode the defaults are the daemon's own environment (`inherited`), whose PATH
/// and HOME stay when it has them: SHELL is still the shell the job runs in.
fn environment(
    jobs: &Jobs,
    crontab: &Env,
    user: &str,
    home: &Path,
    inherited: Option<&[(String, String)]>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = inherited.map(<[_]>::to_vec).unwrap_or_default();
    let set = |env: &mut Vec<(String, String)>, name: &str, value: String, replace: bool| match env
        .iter_mut()
        .find(|(n, _)| n == name)
    {
        Some(slot) if replace => slot.1 = value,
        Some(_) => {}
        None => env.push((name.to_string(), value)),
    };
    set(&mut env, "SHELL", jobs.shell.clone(), true);
    set(&mut env, "PATH", jobs.path.clone(), false);
    set(&mut env, "HOME", home.display().to_string(), false);
    for (name, value) in crontab.vars() {
        set(&mut env, name, value.to_string(), true);
    }
    env.retain(|(n, _)| n != "LOGNAME" && n != "USER");
    env.push(("LOGNAME".into(), user.to_string()));
    env.push(("USER".into(), user.to_string()));
    env
}

/// Who a process of a run is started as, and with which descriptor limit.
pub(super) struct Identity<'a> {
    /// `None`: as the daemon, whose identity is `own`.
    pub(super) credentials: Option<&'a Credentials>,
    pub(super) own: &'a Credentials,
    pub(super) descriptor_limit: Option<u64>,
    /// Jobs (not their mail) run in a PAM session through this helper.
    pub(super) pam: Option<&'a Path>,
    /// Container mode: jobs start from the daemon's environment, in its directory.
    pub(super) inherit: Option<&'a Inherit>,
}

impl Identity<'_> {
    pub(super) fn home(&self) -> &Path {
        &self.credentials.unwrap_or(self.own).home
    }

    /// The name the process runs under, for `LOGNAME` and `USER`: a daemon that is not root
    /// runs every job as itself, whichever user a system crontab line names.
    pub(super) fn user(&self) -> &str {
        &self.credentials.unwrap_or(self.own).user
    }
}

/// How to start `info`: `$SHELL -c command` in `$HOME`, both as the environment has them.
fn job_spec(info: &JobInfo, jobs: &Jobs, who: &Identity<'_>) -> Spec {
    let inherited = who.inherit.map(|i| &*i.env);
    let env = environment(jobs, info.env(), who.user(), who.home(), inherited);
    let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let shell = PathBuf::from(get("SHELL").unwrap_or_else(|| jobs.shell.clone()));
    let cwd = match who.inherit {
        Some(i) => i.dir.clone(),
        None => PathBuf::from(get("HOME").unwrap_or_else(|| "/".into())),
    };
    Spec {
        shell,
        command: info.command().to_string(),
        env,
        cwd,
        stdin: info.stdin().map(|s| s.as_bytes().to_vec()),
        credentials: who.credentials.cloned(),
        descriptor_limit: who.descriptor_limit,
        session_helper: who.pam.map(Path::to_path_buf),
    }
}

/// The END line of a job whose process exited (sendmail runs have none), or the ERROR line
/// of a job that PAM refused, which never ran.
/// `default_path`: the PATH a job has when its crontab sets none (`[jobs] path`, or in
/// container mode the daemon's own).
fn log_end(logger: &mut Logger, r: &Running, status: ExitStatus, default_path: &str) {
    let Run::Job(info) = &r.run else {
        return;
    };
    if let Some(reason) = r.job.refusal() {
        logger.log(&Event::SessionRefused {
            job: &info.job_ref(),
            user: info.user(),
            pid: r.job.pid().as_raw() as u32,
            reason,
        });
        return;
    }
    if info.log() || !status.success() {
        let hint = (status == ExitStatus::Exited(127)).then(|| {
            let path = info.env().get("PATH").unwrap_or(default_path);
            format!("command not found: PATH was {path}; set PATH= in the crontab")
        });
        let duration = match r.job.exited_at() {
            Some(at) => at.saturating_duration_since(r.job.started()),
            None => r.job.started().elapsed(),
        };
        logger.log(&Event::End {
            user: info.user(),
            command: info.command(),
            job: &info.job_ref(),
            pid: r.job.pid().as_raw() as u32,
            status,
            duration,
            output_bytes: r.job.output_bytes(),
            dropped_bytes: r.job.dropped_bytes(),
            timed_out: r.stop.is_some_and(|s| s.timeout),
            hint: hint.as_deref(),
        });
    }
}

impl Daemon {
    /// Starts a due job and logs its CMD line (unless the entry asked for silence). As root,
    /// the user and their groups are looked up now, as Debian's cron does for every run, so
    /// a user removed from a group or deleted since the crontab was loaded never runs with
    /// what they had.
    fn start(&mut self, info: &JobInfo, meta: RunMeta) {
        let late = meta.late;
        let credentials = if self.as_root {
            let looked_up = runner::lookup_user(info.user())
                .map_err(|e| e.to_string())
                .and_then(|c| match info.uid_at_load() {
                    Some(uid) if uid != c.uid.as_raw() => Err(format!(
                        "{} is uid {} now, but the crontab was loaded for uid {uid}: the \
                         account was made again, and the crontab is the old account's",
                        info.user(),
                        c.uid
                    )),
                    _ => Ok(c),
                });
            match looked_up {
                Ok(c) => Some(c),
                Err(error) => {
                    self.logger.log(&Event::StartFailed {
                        job: &info.job_ref(),
                        user: info.user(),
                        error: &error,
                    });
                    self.observe_skip(info, &meta, "refused", &error);
                    return;
                }
            }
        } else {
            None
        };
        let who = Identity {
            credentials: credentials.as_ref(),
            own: &self.own,
            descriptor_limit: self.job_descriptor_limit,
            pam: self.pam.as_deref(),
            inherit: self
                .options
                .container
                .as_ref()
                .and_then(|c| c.inherit.as_ref()),
        };
        let spec = job_spec(info, &self.config.jobs, &who);
        match runner::spawn(&spec, self.config.jobs.output_limit) {
            Ok(mut job) => {
                if self.passes_through(info) {
                    job.tap();
                }
                let pid = job.pid().as_raw() as u32;
                if info.log() {
                    self.logger.log(&Event::Cmd {
                        user: info.user(),
                        command: info.command(),
                        job: &info.job_ref(),
                        pid,
                        late,
                        manual: meta.trigger == Trigger::Manual,
                    });
                }
                if let Some(journal) = &mut self.journal {
                    let started_ms = chrono::Utc::now().timestamp_millis();
                    journal.started(pid, started_ms, info.user(), &info.job_ref());
                }
                let run = Run::Job(info.clone());
                let mut running = Running::new(job, run, credentials);
                running.record = Some((self.observe_start(info, &meta, pid), meta));
                let timeout = info.policy().timeout_secs;
                let timeout = timeout.unwrap_or(self.config.jobs.timeout_secs);
                running.deadline = (timeout > 0)
                    .then(|| running.job.started() + Duration::from_secs(timeout.into()));
                self.running.push(running);
            }
            Err(e) => {
                let error = e.to_string();
                self.logger.log(&Event::StartFailed {
                    job: &info.job_ref(),
                    user: info.user(),
                    error: &error,
                });
                self.observe_skip(info, &meta, "refused", &error);
            }
        }
    }

    /// Queues a due run (`key`: its place in the table; `None` for `@reboot` and runs by
    /// hand). A job due again while its last run still waits is one run, not two.
    pub(super) fn enqueue(&mut self, key: Option<JobKey>, info: JobInfo, meta: RunMeta) {
        let overlap = info.policy().overlap.unwrap_or(self.config.jobs.overlap);
        let mut after_last = false;
        if overlap != Overlap::Allow {
            if let Some(i) = self.running.iter().position(|r| r.runs(&info)) {
                let running = self.running[i].job.pid().as_raw() as u32;
                let skip = match overlap {
                    Overlap::Skip => Some("overlap=skip: the last run still runs"),
                    _ if self
                        .waiting
                        .iter()
                        .any(|w| w.after_last && w.info.same_job(&info)) =>
                    {
                        Some("a run already waits for the last one to end")
                    }
                    _ => None,
                };
                if let Some(why) = skip {
                    self.logger.log(&Event::Skip {
                        user: info.user(),
                        command: info.command(),
                        job: &info.job_ref(),
                        running,
                        why,
                    });
                    self.observe_skip(&info, &meta, "overlap", why);
                    return;
                }
                if overlap == Overlap::Replace {
                    self.running[i].begin_stop(Instant::now(), false);
                }
                after_last = true;
            }
        }
        if key.is_some() && self.waiting.iter().any(|w| w.key == key) {
            self.logger.log(&Event::RunMerged {
                job: &info.job_ref(),
                user: info.user(),
            });
            let why = "due again while its last run still waited to start";
            self.observe_skip(&info, &meta, "merged", why);
            return;
        }
        self.waiting.push_back(Waiting {
            key,
            info,
            told: false,
            after_last,
            meta,
        });
    }

    /// Starts waiting runs in order for at most [`START_SLICE`], passing over (and saying
    /// so, once) those a limit holds back; `slice_cut` tells whether runs that could start
    /// are left for the next turn.
    pub(super) fn start_waiting(&mut self) {
        let began = Instant::now();
        self.slice_cut = false;
        let mut i = 0;
        while i < self.waiting.len() {
            if began.elapsed() >= START_SLICE {
                self.slice_cut = true;
                return;
            }
            let w = &self.waiting[i];
            if w.after_last && self.running.iter().any(|r| r.runs(&w.info)) {
                i += 1;
                continue;
            }
            if let Some(why) = self.over_limit(self.waiting[i].info.user()) {
                let w = &mut self.waiting[i];
                if !w.told {
                    w.told = true;
                    self.logger.log(&Event::RunWaits {
                        job: &w.info.job_ref(),
                        user: w.info.user(),
                        why: &why,
                    });
                }
                i += 1;
                continue;
            }
            if let Some(w) = self.waiting.remove(i) {
                self.start(&w.info, w.meta);
            }
        }
    }

    /// On stop: the runs still waiting will not start; each is logged.
    pub(super) fn drop_waiting(&mut self) {
        for w in std::mem::take(&mut self.waiting) {
            let why = "the daemon is stopping";
            self.logger.log(&Event::RunDropped {
                job: &w.info.job_ref(),
                user: w.info.user(),
                why,
            });
            self.observe_skip(&w.info, &w.meta, "stopping", why);
        }
    }

    /// Why one more run of `user` may not start now, if it may not: `[jobs] max_running`,
    /// `max_running_per_user`, or the daemon's descriptor reserve. A run counts until its
    /// output pipe closes, since that is when it gives its descriptor back.
    fn over_limit(&self, user: &str) -> Option<String> {
        let jobs = &self.config.jobs;
        let in_flight = self.running.len();
        if in_flight >= jobs.max_running {
            return Some(format!(
                "{in_flight} runs are in flight, the most [jobs] max_running allows"
            ));
        }
        let of_user = self
            .running
            .iter()
            .filter(|r| r.info().user() == user)
            .count();
        if of_user >= jobs.max_running_per_user {
            return Some(format!(
                "{of_user} runs of {user} are in flight, the most [jobs] max_running_per_user \
                 allows"
            ));
        }
        if in_flight as u64 + DESCRIPTOR_RESERVE >= self.descriptor_limit {
            return Some(format!(
                "{in_flight} runs are in flight and the daemon keeps its last \
                 {DESCRIPTOR_RESERVE} of {} descriptors for logging, reloads and mail",
                self.descriptor_limit
            ));
        }
        None
    }

    /// Records the exit of every job that has exited (after SIGCHLD).
    pub(super) fn collect_exits(&mut self) {
        for r in &mut self.running {
            let _ = r.job.try_wait();
        }
        // Jobs dropped before their exit was seen are reaped here, so none stays a zombie.
        runner::reap_unknown();
        if self.reaps_orphans {
            let running = &self.running;
            for (pid, status) in
                runner::reap_orphans(|pid| running.iter().any(|r| r.job.pid() == pid))
            {
                self.logger.log(&Event::Reaped {
                    pid: pid.as_raw() as u32,
                    status,
                });
            }
        }
    }

    /// Logs what is due of every run: END once its process exited; OUT and the mail once its
    /// output is complete (see the module doc), or at once with `flush` (the daemon is about
    /// to exit). A run is forgotten when its pipe is at EOF.
    pub(super) fn finish_jobs(&mut self, flush: bool) {
        let now = Instant::now();
        let output_wait = self.config.jobs.output_wait;
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            let Some(status) = r.job.status() else {
                i += 1;
                continue;
            };
            if !r.ended {
                r.ended = true;
                // Take what is there now; the pipe may close on this read.
                r.read();
                self.pass_through(i, false, false);
                let r = &self.running[i];
                let inherited = self
                    .options
                    .container
                    .as_ref()
                    .and_then(|c| c.inherit.as_ref());
                let path = inherited
                    .and_then(|i| i.env.iter().find(|(n, _)| n == "PATH"))
                    .map_or(self.config.jobs.path.as_str(), |(_, v)| v.as_str());
                log_end(&mut self.logger, r, status, path);
                if let (Run::Job(_), Some(journal)) = (&r.run, &mut self.journal) {
                    journal.ended(r.job.pid().as_raw() as u32);
                }
            }
            let r = &mut self.running[i];
            if !r.output_done {
                let ready = r.output_ready(now, output_wait).or(flush.then_some(false));
                if let Some(cut) = ready {
                    r.output_done = true;
                    let r = &self.running[i];
                    if cut {
                        self.logger.log(&Event::OutputCut {
                            job: &r.info().job_ref(),
                            pid: r.job.pid().as_raw() as u32,
                            secs: output_wait.as_secs(),
                        });
                    }
                    self.log_output(i, status);
                    self.observe_end(i, status);
                }
            }
            if self.running[i].job.output_eof() || flush {
                self.pass_through(i, true, flush);
            }
            // A run is done once its pipe is at EOF and every line it passes through is out.
            let r = &self.running[i];
            if flush || (r.job.output_eof() && r.job.tap_is_empty()) {
                self.running.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// The output of run `i`, complete: OUT lines and the mail of a job, or the complaint of
    /// a sendmail that failed.
    fn log_output(&mut self, i: usize, status: ExitStatus) {
        let r = &self.running[i];
        let pid = r.job.pid().as_raw() as u32;
        let output = r.job.output().to_vec();
        let dropped = r.job.dropped_bytes();
        let info = r.info().clone();
        let credentials = r.credentials.clone();
        if let Run::Mail { to, .. } = &r.run {
            if !status.success() {
                let text = String::from_utf8_lossy(&output);
                let reason = match text.trim() {
                    "" => format!("sendmail ended with status {}", status_text(status)),
                    t => t.to_string(),
                };
                let to = to.clone();
                mail_failed(&mut self.logger, &info, pid, &to, &reason);
            }
            return;
        }
        // Output that went to stdout as it came is not told again.
        if info.log() && !r.job.tapped() {
            for line in String::from_utf8_lossy(&output).lines() {
                self.logger.log(&Event::Out {
                    user: info.user(),
                    command: info.command(),
                    pid,
                    line,
                });
            }
        }
        let failed = if r.stop.is_some_and(|s| s.timeout) {
            Some("timeout".to_string())
        } else {
            (!status.success()).then(|| status_text(status))
        };
        self.mail(&info, credentials, pid, &output, dropped, failed.as_deref());
    }

    /// Stops the runs past their `CRON_TIMEOUT`: SIGTERM to the process group, then
    /// `[jobs] kill_grace` later SIGKILL to what is left of it (a child that ignored the
    /// TERM included). Their END lines say `status=timeout`.
    pub(super) fn enforce_timeouts(&mut self) {
        let now = Instant::now();
        let kill_grace = self.config.jobs.kill_grace;
        for r in &mut self.running {
            match r.timeout_deadline(kill_grace) {
                Some(at) if at <= now => {}
                _ => continue,
            }
            match &mut r.stop {
                None => r.begin_stop(now, true),
                Some(stop) if !stop.killed => {
                    let _ = r.job.signal_group(Signal::SIGKILL);
                    stop.killed = true;
                }
                Some(_) => {}
            }
        }
    }

    /// How many processes the daemon started are still running.
    pub(super) fn alive(&self) -> usize {
        self.running.iter().filter(|r| r.alive()).count()
    }

    /// Signals the process group of every process still running (on stop, after the grace
    /// period). Runs whose process has exited are left alone: their group may be gone and its
    /// number reused.
    pub(super) fn signal_all(&self, signal: Signal) {
        for r in self.running.iter().filter(|r| r.alive()) {
            let _ = r.job.signal_group(signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn jobs() -> Jobs {
        Config::parse(
            "[daemon]\ntimezone = \"UTC\"\n[jobs]\nshell = \"/bin/dash\"\npath = \"/p\"\n",
            Path::new("/x.toml"),
        )
        .unwrap()
        .jobs
    }

    fn env(lines: &str) -> Env {
        let parsed = crate::cron::parse_crontab(
            &format!("{lines}\n* * * * * x\n"),
            crate::cron::Format::User,
        );
        (*parsed.crontab.entries[0].env).clone()
    }

    fn names(env: &[(String, String)]) -> Vec<String> {
        env.iter().map(|(n, v)| format!("{n}={v}")).collect()
    }

    #[test]
    fn a_job_gets_cronies_defaults_then_the_crontabs_lines_then_its_own_name() {
        let got = environment(&jobs(), &env(""), "alice", Path::new("/home/alice"), None);
        assert_eq!(
            names(&got),
            [
                "SHELL=/bin/dash",
                "PATH=/p",
                "HOME=/home/alice",
                "LOGNAME=alice",
                "USER=alice"
            ]
        );
        // A crontab overrides a default in place and adds its own after; it cannot change
        // who the job says it runs as.
        let crontab = env("PATH=/mine\nFOO=bar\nLOGNAME=root\nUSER=root");
        let got = environment(&jobs(), &crontab, "alice", Path::new("/home/alice"), None);
        assert_eq!(
            names(&got),
            [
                "SHELL=/bin/dash",
                "PATH=/mine",
                "HOME=/home/alice",
                "FOO=bar",
                "LOGNAME=alice",
                "USER=alice"
            ]
        );
    }

    #[test]
    fn in_a_container_a_job_starts_from_the_daemons_environment() {
        let daemon: Vec<(String, String)> = [
            ("PATH", "/venv/bin:/usr/bin"),
            ("DATABASE_URL", "postgres://db"),
            ("SHELL", "/bin/bash"),
            ("USER", "someone"),
            ("GREETING", "hi"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let crontab = env("GREETING=hello");
        let got = environment(&jobs(), &crontab, "root", Path::new("/root"), Some(&daemon));
        // PATH stays the image's; SHELL is the one jobs run in; the crontab's line wins;
        // HOME comes from the user when the daemon has none; the user is the daemon's.
        assert_eq!(
            names(&got),
            [
                "PATH=/venv/bin:/usr/bin",
                "DATABASE_URL=postgres://db",
                "SHELL=/bin/dash",
                "GREETING=hello",
                "HOME=/root",
                "LOGNAME=root",
                "USER=root"
            ]
        );
    }
}
