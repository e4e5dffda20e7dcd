//! What every log line says: [`Event`], its tag, its syslog severity (a `sink::Level`), and
//! for each variant its wording and fields, listed once as a [`Shape`] that gives both the
//! text line and the JSON object. Pure: nothing here writes anywhere; the sinks take the finished text.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::shape::{Shape, both, json_only, line_only, values, words};
use super::sink::Level;
use crate::runner::ExitStatus;

/// The `status=` value: `0`, `1`, … or `signal:9`.
pub(crate) fn status_text(status: ExitStatus) -> String {
    match status {
        ExitStatus::Exited(code) => code.to_string(),
        ExitStatus::Signaled(sig) => format!("signal:{sig}"),
    }
}

/// A signal's name: `SIGKILL`, `SIGRTMIN+3`, or `SIG64` when the number has no name.
fn signal_name(sig: i32) -> String {
    if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
        return s.as_str().to_string();
    }
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if (min..=max).contains(&sig) {
        return format!("SIGRTMIN+{}", sig - min);
    }
    format!("SIG{sig}")
}

/// One thing worth a log line. Strings are borrowed from the caller; nothing is allocated
/// until a sink needs the text.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// The daemon started and loaded its crontabs. `runs_as` is `Some(user)` when the daemon
    /// is not root and so runs every job as that user.
    Start {
        version: &'a str,
        pid: u32,
        zone: &'a str,
        files: usize,
        entries: usize,
        runs_as: Option<&'a str>,
        /// The PAM service jobs run under, when they run in PAM sessions.
        pam: Option<&'a str>,
    },
    /// The daemon is exiting; `reason` is one word such as `SIGTERM`; `killed` counts the jobs
    /// whose process groups got SIGTERM after the grace period.
    Stop {
        pid: u32,
        reason: &'a str,
        killed: usize,
    },
    /// A job started; `job` is `path:line`.
    Cmd {
        user: &'a str,
        command: &'a str,
        job: &'a str,
        pid: u32,
        /// A run made up for one missed while the daemon was down (`CRON_CATCHUP`): how many
        /// seconds after its due time it starts.
        late: Option<u64>,
        /// Run by hand (`cronwright run`), not at a scheduled time.
        manual: bool,
    },
    /// `CRON_CATCHUP`'s state could not be read or written (`problem` says which, and what
    /// follows).
    CatchupStateLost { problem: &'a str },
    /// The run history could not be kept as it should (`problem` says why and what follows).
    HistoryProblem { problem: &'a str },
    /// The control socket or the metrics endpoint (`what`) could not be set up: the
    /// daemon runs its jobs without it.
    ServiceUnavailable { what: &'a str, error: &'a str },
    /// A due run not started because the job's last run (process `running`) still runs and
    /// its `CRON_OVERLAP` (or OpenBSD's `-s`) says so; `why` says which.
    Skip {
        user: &'a str,
        command: &'a str,
        job: &'a str,
        running: u32,
        why: &'a str,
    },
    /// A job ended. `output_bytes` counts everything it wrote, `dropped_bytes` the part
    /// beyond the capture cap that was not kept.
    End {
        user: &'a str,
        command: &'a str,
        job: &'a str,
        pid: u32,
        status: ExitStatus,
        duration: Duration,
        output_bytes: u64,
        dropped_bytes: u64,
        /// The run outlived its `CRON_TIMEOUT` and its process group was stopped: the
        /// status says `timeout` (the signal stays in the JSON).
        timed_out: bool,
        /// For a status that has a usual cause (127: the command was not found), what to try.
        hint: Option<&'a str>,
    },
    /// One line of a job's output (without its newline).
    Out {
        user: &'a str,
        command: &'a str,
        pid: u32,
        line: &'a str,
    },
    /// A crontab file was (re)loaded.
    Reload {
        file: &'a str,
        entries: usize,
        errors: usize,
    },
    /// A crontab file was refused (owner, mode, symlink…), with the command that fixes it.
    Refused {
        path: &'a str,
        reason: &'a str,
        fix: Option<&'a str>,
    },
    /// A zone in use changed on disk (`file`: a `tzdata` update, or `/etc/localtime` for
    /// `timedatectl set-timezone`): its `jobs` were rescheduled with the new rules, and
    /// `moved` of them got a new next time. `was` is the old name when the name changed.
    Zone {
        zone: &'a str,
        was: Option<&'a str>,
        file: &'a Path,
        jobs: usize,
        moved: usize,
    },
    /// A zone file in use is gone or is no longer a zone: its `jobs` keep the rules read
    /// before.
    ZoneUnreadable {
        zone: &'a str,
        file: &'a Path,
        jobs: usize,
    },
    /// A file was skipped on purpose (for example by the `/etc/cron.d` name rule).
    Ignored { path: &'a str, reason: &'a str },
    /// A job's output could not be mailed; `to` is the recipient list as given, `pid` the
    /// job's pid.
    MailFailed {
        user: &'a str,
        command: &'a str,
        job: &'a str,
        pid: u32,
        to: &'a str,
        reason: &'a str,
    },
    // The daemon's own news and troubles below are INFO and ERROR lines of free text; JSON
    // carries that text as `text` and every value in it under its own key too.
    /// The watcher cannot watch files (`why`), so the daemon checks them once a minute.
    WatchFallback { why: &'a str },
    /// A daemon that is not root leaves the default system crontabs (`paths`) out.
    SystemCrontabsLeftOut { own: &'a str, paths: &'a str },
    /// SIGTERM or SIGINT: the daemon waits up to `grace_secs` for `running` jobs.
    Stopping { grace_secs: u64, running: usize },
    /// A new configuration was refused (SIGHUP); the old one goes on.
    ConfigKept { error: &'a str },
    /// Telling systemd about readiness or state failed (logged once).
    NotifyFailed { error: &'a str },
    /// The `@reboot` marker is there already: this is a restart, not a boot.
    RebootSkipped { marker: &'a Path },
    /// The `@reboot` marker could not be made, so a restart would run those jobs again.
    RebootMarkerFailed { marker: &'a Path, error: &'a str },
    /// The wall-clock timer could not be armed.
    TimerFailed { error: &'a str },
    /// The wall clock stepped by `secs` seconds, `forward` or back.
    ClockMoved { forward: bool, secs: i64 },
    /// A job (`path:line`) could not be started for `user`.
    StartFailed {
        job: &'a str,
        user: &'a str,
        error: &'a str,
    },
    /// PAM refused the run of a job (`path:line`) for `user` whose session helper was `pid`:
    /// the command did not run. `reason` is the step and PAM's words.
    SessionRefused {
        job: &'a str,
        user: &'a str,
        pid: u32,
        reason: &'a str,
    },
    /// A run (`path:line`, for `user`, process `pid`, started at `since`) that a daemon which
    /// was killed left behind is still running: nothing follows it any more.
    RunOrphaned {
        job: &'a str,
        user: &'a str,
        pid: u32,
        since: &'a str,
    },
    /// A run that a daemon which was killed left behind ended while no daemon was running.
    RunLost {
        job: &'a str,
        user: &'a str,
        pid: u32,
    },
    /// Runs in flight when the machine last went down, which ended with it.
    RunsEndedByReboot { count: usize },
    /// The journal of runs in flight cannot be kept in `dir`.
    StateUnavailable { dir: &'a Path, error: &'a str },
    /// `secs` after a job's exit a process it left running still held its output pipe: the
    /// output logged and mailed is what came until then; the rest is read and discarded.
    OutputCut { job: &'a str, pid: u32, secs: u64 },
    /// A temporary file of `crontab` left in the spool by an install that was killed, removed.
    Swept { path: &'a Path },
    /// Container mode, not root, and no `[daemon] state_dir` given: no journal, catch-up
    /// state, history or control socket.
    Stateless { user: &'a str },
    /// A process that a job left behind exited and was reaped by the daemon, as the
    /// subreaper (container mode) or as PID 1.
    Reaped { pid: u32, status: ExitStatus },
    /// A reload found errors in a file and did not apply it: the jobs loaded from it before
    /// keep running (container mode).
    Kept {
        file: &'a str,
        errors: usize,
        jobs: usize,
    },
    /// One line of a job's output, as it came (`CRON_OUTPUT=passthrough`). `job` is the job's
    /// `file:line`, `name` its `CRON_NAME`.
    Output {
        job: &'a str,
        name: Option<&'a str>,
        pid: u32,
        line: &'a str,
    },
    /// A due run that cannot start yet (a limit on runs in flight): it starts when a run ends.
    RunWaits {
        job: &'a str,
        user: &'a str,
        why: &'a str,
    },
    /// A job came due again while its last run was still waiting to start: one run, not two.
    RunMerged { job: &'a str, user: &'a str },
    /// A due run that will not start (the daemon is stopping).
    RunDropped {
        job: &'a str,
        user: &'a str,
        why: &'a str,
    },
    /// A crontab error at `file:line:column`.
    CrontabError {
        file: &'a str,
        line: u32,
        column: u32,
        message: &'a str,
    },
    /// An entry the daemon does not run (unknown user, command too long…): why.
    EntrySkipped {
        file: &'a str,
        line: u32,
        reason: &'a str,
    },
    /// Something worth knowing about an entry that still runs.
    EntryNote {
        file: &'a str,
        line: u32,
        note: &'a str,
    },
}

impl Event<'_> {
    /// The tag: `START`, `STOP`, `CMD`, `SKIP`, `END`, `OUT`, `OUTPUT`, `ERROR`, `RELOAD`,
    /// `KEPT`, `ZONE`, `REFUSED`, `IGNORED`, `INFO`, `REAPED` or `MAIL`; the JSON `event` field.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Event::Start { .. } => "START",
            Event::Stop { .. } => "STOP",
            Event::Cmd { .. } => "CMD",
            Event::Skip { .. } => "SKIP",
            Event::End { .. } => "END",
            Event::Out { .. } => "OUT",
            Event::Reload { .. } => "RELOAD",
            Event::Zone { .. } => "ZONE",
            Event::Refused { .. } => "REFUSED",
            Event::Ignored { .. } => "IGNORED",
            Event::MailFailed { .. } => "MAIL",
            Event::Reaped { .. } => "REAPED",
            Event::Kept { .. } => "KEPT",
            Event::Output { .. } => "OUTPUT",
            Event::WatchFallback { .. }
            | Event::SystemCrontabsLeftOut { .. }
            | Event::Stopping { .. }
            | Event::RebootSkipped { .. }
            | Event::ClockMoved { .. }
            | Event::OutputCut { .. }
            | Event::RunOrphaned { .. }
            | Event::RunLost { .. }
            | Event::RunsEndedByReboot { .. }
            | Event::Swept { .. }
            | Event::Stateless { .. }
            | Event::RunWaits { .. }
            | Event::RunMerged { .. }
            | Event::RunDropped { .. }
            | Event::EntryNote { .. } => "INFO",
            Event::ConfigKept { .. }
            | Event::NotifyFailed { .. }
            | Event::RebootMarkerFailed { .. }
            | Event::TimerFailed { .. }
            | Event::StartFailed { .. }
            | Event::SessionRefused { .. }
            | Event::StateUnavailable { .. }
            | Event::CatchupStateLost { .. }
            | Event::HistoryProblem { .. }
            | Event::ServiceUnavailable { .. }
            | Event::CrontabError { .. }
            | Event::ZoneUnreadable { .. }
            | Event::EntrySkipped { .. } => "ERROR",
        }
    }

    /// The syslog severity, by the table in the module doc ("Severities").
    pub(crate) fn severity(&self) -> Level {
        match self {
            Event::Refused { .. } => Level::Err,
            _ if self.kind() == "ERROR" => Level::Err,
            Event::End {
                status, timed_out, ..
            } if !status.success() || *timed_out => Level::Warning,
            Event::MailFailed { .. } | Event::Kept { .. } => Level::Warning,
            Event::Ignored { .. } => Level::Notice,
            _ => Level::Info,
        }
    }

    /// The text line, without a newline and without the syslog header.
    pub(crate) fn line(&self) -> String {
        self.shape().line(self.kind())
    }

    /// One JSON object (no newline): `time` (RFC 3339, UTC, milliseconds), `event` (the tag),
    /// `severity`, then every field of the event. Commands are cut as in [`Event::line`];
    /// other strings are given whole (JSON escapes control characters itself).
    pub(crate) fn json(&self) -> String {
        self.json_at(chrono::Utc::now())
    }

    fn json_at(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let mut m = Map::new();
        m.insert(
            "time".into(),
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        m.insert("event".into(), self.kind().into());
        m.insert("severity".into(), self.severity().name().into());
        self.shape().fill_json(&mut m);
        Value::Object(m).to_string()
    }

    /// What this event says, each field once; [`Shape::line`] and [`Shape::fill_json`] word
    /// it for the two kinds of target.
    fn shape(&self) -> Shape<'_> {
        match *self {
            Event::Start {
                version,
                pid,
                zone,
                files,
                entries,
                runs_as,
                pam,
            } => Shape {
                fields: vec![
                    both("version", version),
                    both("pid", pid),
                    both("zone", zone),
                    both("files", files),
                    both("entries", entries),
                    both("runs_as", runs_as),
                    both("pam", pam),
                ],
                tail: match runs_as {
                    Some(runs_as) => words(
                        "not running as root: every job runs as {runs_as}",
                        values![runs_as],
                    ),
                    None => Vec::new(),
                },
                ..Shape::default()
            },
            Event::Stop {
                pid,
                reason,
                killed,
            } => Shape {
                fields: vec![
                    both("pid", pid),
                    both("reason", reason),
                    both("killed", killed),
                ],
                ..Shape::default()
            },
            Event::Cmd {
                user,
                command,
                job,
                pid,
                late,
                manual,
            } => {
                let mut fields = vec![both("job", job), both("pid", pid)];
                if let Some(late) = late {
                    fields.push(line_only("late", format!("{late}s")));
                    fields.push(json_only("late_secs", late));
                }
                if manual {
                    fields.push(both("trigger", "manual"));
                }
                Shape {
                    fields,
                    ..Shape::job(user, command)
                }
            }
            Event::Skip {
                user,
                command,
                job,
                running,
                why,
            } => Shape {
                fields: vec![both("job", job), both("running", running), both("why", why)],
                ..Shape::job(user, command)
            },
            Event::End {
                user,
                command,
                job,
                pid,
                status,
                duration,
                output_bytes,
                dropped_bytes,
                timed_out,
                hint,
            } => {
                let status_word = if timed_out {
                    "timeout".to_string()
                } else {
                    status_text(status)
                };
                let mut fields = vec![
                    both("job", job),
                    both("pid", pid),
                    both("status", status_word),
                ];
                if timed_out {
                    fields.push(json_only("timed_out", true));
                }
                match status {
                    ExitStatus::Exited(code) => fields.push(json_only("exit_code", code)),
                    ExitStatus::Signaled(sig) => {
                        let name = signal_name(sig);
                        fields.push(line_only("signal", name.clone()));
                        fields.push(json_only("signal", sig));
                        fields.push(json_only("signal_name", name));
                    }
                }
                fields.extend([
                    line_only(
                        "duration",
                        format!("{}.{:03}s", duration.as_secs(), duration.subsec_millis()),
                    ),
                    json_only("duration", duration.as_millis() as f64 / 1000.0),
                    line_only("output", format!("{output_bytes}B")),
                    json_only("output_bytes", output_bytes),
                    json_only("dropped_bytes", dropped_bytes),
                ]);
                if dropped_bytes > 0 {
                    fields.push(line_only("truncated", format!("{dropped_bytes}B")));
                }
                if let Some(hint) = hint {
                    fields.push(both("hint", hint));
                }
                Shape {
                    fields,
                    ..Shape::job(user, command)
                }
            }
            Event::Out {
                user,
                command,
                pid,
                line,
            } => Shape {
                fields: vec![both("pid", pid)],
                tail: words("{line}", values![line]),
                ..Shape::job(user, command)
            },
            Event::Reload {
                file,
                entries,
                errors,
            } => Shape {
                sentence: words("{file}", values![file]),
                fields: vec![both("entries", entries), both("errors", errors)],
                ..Shape::default()
            },
            Event::Zone {
                zone,
                was,
                file,
                jobs,
                moved,
            } => {
                let mut sentence = words("{zone}", values![zone]);
                match was {
                    Some(was) => sentence.extend(words(" (was {was})", values![was])),
                    None => sentence.extend(words("", values![])),
                }
                sentence.extend(words(": {file} changed", values![file]));
                Shape {
                    sentence,
                    fields: vec![
                        json_only("was", was.map_or(Value::Null, Value::from)),
                        both("jobs", jobs),
                        both("moved", moved),
                    ],
                    ..Shape::default()
                }
            }
            Event::ZoneUnreadable { zone, file, jobs } => Shape::sentence(
                "zone {zone}: {file} is gone or is not a zone file now; its {jobs} jobs keep the \
                 rules read before",
                values![zone, file, jobs],
            ),
            Event::Refused { path, reason, fix } => {
                let mut sentence = words("{path}: {reason}", values![path, reason]);
                let mut fields = Vec::new();
                match fix {
                    Some(fix) => sentence.extend(words("; fix: {fix}", values![fix])),
                    None => fields.push(json_only("fix", Value::Null)),
                }
                Shape {
                    sentence,
                    fields,
                    ..Shape::default()
                }
            }
            Event::Ignored { path, reason } => Shape {
                sentence: words("{path}: {reason}", values![path, reason]),
                ..Shape::default()
            },
            Event::MailFailed {
                user,
                command,
                job,
                pid,
                to,
                reason,
            } => Shape {
                fields: vec![both("job", job), both("pid", pid), both("to", to)],
                tail: words("not sent: {reason}", values![reason]),
                ..Shape::job(user, command)
            },
            Event::WatchFallback { why } => Shape::sentence(
                "watching files is not possible ({why}); checking them once a minute",
                values![why],
            ),
            Event::SystemCrontabsLeftOut { own, paths } => Shape::sentence(
                "not running as root: the system crontabs ({paths}) are not loaded, since their \
                 lines name the users to run as; to run their jobs as {own}, name them in the \
                 configuration's [sources] (system_crontab, system_dirs)",
                values![own, paths],
            ),
            Event::Stopping {
                grace_secs,
                running,
            } => Shape::sentence(
                "stopping: no new jobs; waiting up to {grace_secs}s for {running} running",
                values![grace_secs, running],
            ),
            Event::ConfigKept { error } => Shape::sentence(
                "{error}; keeping the previous configuration",
                values![error],
            ),
            Event::NotifyFailed { error } => {
                Shape::sentence("cannot notify systemd: {error}", values![error])
            }
            Event::RebootSkipped { marker } => Shape::sentence(
                "{marker} exists: the machine did not boot since the last start, so @reboot \
                 jobs do not run",
                values![marker],
            ),
            Event::RebootMarkerFailed { marker, error } => Shape::sentence(
                "cannot create {marker} ({error}): @reboot jobs would run again if the daemon \
                 restarts",
                values![marker, error],
            ),
            Event::TimerFailed { error } => {
                Shape::sentence("cannot arm the timer: {error}", values![error])
            }
            Event::ClockMoved { forward, secs } => {
                let direction = if forward { "forward" } else { "back" };
                Shape::sentence(
                    "the clock moved {direction} by {secs}s",
                    values![direction, secs],
                )
            }
            Event::StartFailed { job, user, error } => Shape::sentence(
                "{job}: cannot start the job for {user}: {error}",
                values![job, user, error],
            ),
            Event::SessionRefused {
                job,
                user,
                pid,
                reason,
            } => Shape::sentence(
                "{job}: PAM refused the run for {user} (pid {pid}), so the command did not \
                 run: {reason}",
                values![job, user, pid, reason],
            ),
            Event::RunOrphaned {
                job,
                user,
                pid,
                since,
            } => Shape::sentence(
                "{job}: the run for {user} (pid {pid}) that a killed daemon started at {since} \
                 is still running; its output and end will not be logged",
                values![job, user, pid, since],
            ),
            Event::RunLost { job, user, pid } => Shape::sentence(
                "{job}: the run for {user} (pid {pid}) that a killed daemon started ended \
                 while no daemon was running; its status is lost",
                values![job, user, pid],
            ),
            Event::RunsEndedByReboot { count } => Shape::sentence(
                "{count} runs in flight when the machine last went down ended with it",
                values![count],
            ),
            Event::HistoryProblem { problem } => Shape::sentence(
                "{problem}: runs go on, and `cronwright history` may miss some",
                values![problem],
            ),
            Event::ServiceUnavailable { what, error } => Shape::sentence(
                "{what} is not available: {error}; jobs run as usual",
                values![what, error],
            ),
            Event::CatchupStateLost { problem } => Shape::sentence(
                "{problem}: runs missed while the daemon is down may not be made up",
                values![problem],
            ),
            Event::StateUnavailable { dir, error } => Shape::sentence(
                "cannot keep the journal of runs in flight in {dir}: {error}; the runs of a \
                 daemon that is killed will not be reported",
                values![dir, error],
            ),
            Event::OutputCut { job, pid, secs } => Shape::sentence(
                "{job}: output of pid {pid} cut {secs}s after its exit: a process it left \
                 running still holds the pipe; what it writes from now on is discarded",
                values![job, pid, secs],
            ),
            Event::RunWaits { job, user, why } => Shape::sentence(
                "{job}: the run for {user} waits: {why}",
                values![job, user, why],
            ),
            Event::RunMerged { job, user } => Shape::sentence(
                "{job}: due again before its last run for {user} could start; the two are one run",
                values![job, user],
            ),
            Event::RunDropped { job, user, why } => Shape::sentence(
                "{job}: the run for {user} was not started: {why}",
                values![job, user, why],
            ),
            Event::Stateless { user } => Shape::sentence(
                "running as {user}, not root, with no [daemon] state_dir: no run history, \
                 journal of runs in flight or control socket (name state_dir and \
                 control_socket in a file given with --config to keep them)",
                values![user],
            ),
            Event::Reaped { pid, status } => Shape {
                fields: vec![both("pid", pid), both("status", status_text(status))],
                tail: words(
                    "a process a job left behind ended, and was reaped",
                    values![],
                ),
                ..Shape::default()
            },
            Event::Kept { file, errors, jobs } => Shape {
                sentence: words("{file}", values![file]),
                fields: vec![both("errors", errors), both("jobs", jobs)],
                tail: words(
                    "the file has errors, so it is not loaded: the jobs loaded from it before \
                     keep running until it is fixed",
                    values![],
                ),
                ..Shape::default()
            },
            Event::Output {
                job,
                name,
                pid,
                line,
            } => Shape {
                sentence: words("{job}", values![job]),
                fields: vec![both("name", name), both("pid", pid)],
                tail: words("{line}", values![line]),
                ..Shape::default()
            },
            Event::Swept { path } => Shape::sentence(
                "{path}: removed, a temporary file a killed crontab(1) left in the spool",
                values![path],
            ),
            Event::CrontabError {
                file,
                line,
                column,
                message,
            } => Shape::sentence(
                "{file}:{line}:{column}: {message}",
                values![file, line, column, message],
            ),
            Event::EntrySkipped { file, line, reason } => {
                Shape::sentence("{file}:{line}: {reason}", values![file, line, reason])
            }
            Event::EntryNote { file, line, note } => {
                Shape::sentence("{file}:{line}: {note}", values![file, line, note])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::escape::COMMAND_LOG_CHARS;
    use super::*;
    use serde_json::json;

    const JOB: &str = "/var/spool/cron/crontabs/alice:3";

    fn cmd<'a>(command: &'a str) -> Event<'a> {
        Event::Cmd {
            user: "alice",
            command,
            job: JOB,
            pid: 4242,
            late: None,
            manual: false,
        }
    }

    fn end(status: ExitStatus, output: u64, dropped: u64) -> Event<'static> {
        Event::End {
            user: "alice",
            command: "backup.sh --all",
            job: JOB,
            pid: 4242,
            status,
            duration: Duration::from_millis(1532),
            output_bytes: output,
            dropped_bytes: dropped,
            timed_out: false,
            hint: None,
        }
    }

    #[test]
    fn design_document_line_shapes_are_exact() {
        assert_eq!(
            cmd("backup.sh --all").line(),
            "(alice) CMD (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242"
        );
        assert_eq!(
            end(ExitStatus::Exited(0), 312, 0).line(),
            "(alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             status=0 duration=1.532s output=312B"
        );
        let out = Event::Out {
            user: "alice",
            command: "backup.sh --all",
            pid: 4242,
            line: "copied 14 files",
        };
        assert_eq!(
            out.line(),
            "(alice) OUT (backup.sh --all) pid=4242 | copied 14 files"
        );
        let err = Event::CrontabError {
            file: "/etc/cron.d/web",
            line: 7,
            column: 12,
            message: "unknown month name 'jna' (expected 1-12 or jan-dec)",
        };
        assert_eq!(
            err.line(),
            "ERROR /etc/cron.d/web:7:12: unknown month name 'jna' (expected 1-12 or jan-dec)"
        );
        let reload = Event::Reload {
            file: "/etc/cron.d/web",
            entries: 4,
            errors: 1,
        };
        assert_eq!(reload.line(), "RELOAD /etc/cron.d/web entries=4 errors=1");
    }

    #[test]
    fn end_line_names_the_signal_and_the_truncated_output() {
        assert_eq!(
            end(ExitStatus::Signaled(9), 0, 0).line(),
            "(alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             status=signal:9 signal=SIGKILL duration=1.532s output=0B"
        );
        assert_eq!(
            Event::Skip {
                user: "alice",
                command: "backup.sh --all",
                job: JOB,
                running: 4242,
                why: "overlap=skip: the last run still runs",
            }
            .line(),
            "(alice) SKIP (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 running=4242 \
             why=\"overlap=skip: the last run still runs\""
        );
        let mut late = cmd("backup.sh --all");
        if let Event::Cmd { late: l, .. } = &mut late {
            *l = Some(3600);
        }
        assert_eq!(
            late.line(),
            "(alice) CMD (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             late=3600s"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&late.json()).unwrap()["late_secs"],
            3600
        );
        let mut timed_out = end(ExitStatus::Signaled(15), 0, 0);
        if let Event::End { timed_out: t, .. } = &mut timed_out {
            *t = true;
        }
        assert_eq!(
            timed_out.line(),
            "(alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             status=timeout signal=SIGTERM duration=1.532s output=0B"
        );
        let v: Value = serde_json::from_str(&timed_out.json()).unwrap();
        assert_eq!(
            (v["status"].as_str(), v["timed_out"].as_bool()),
            (Some("timeout"), Some(true))
        );
        assert_eq!(v["signal"], 15);
        assert_eq!(
            end(ExitStatus::Exited(2), 1048576, 983040).line(),
            "(alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             status=2 duration=1.532s output=1048576B truncated=983040B"
        );
        assert_eq!(signal_name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
    }

    #[test]
    fn refused_ignored_mail_start_stop_and_info_lines() {
        let refused = Event::Refused {
            path: "/var/spool/cron/crontabs/bob",
            reason: "owned by uid 1001, not bob (uid 1002)",
            fix: Some("chown bob /var/spool/cron/crontabs/bob"),
        };
        assert_eq!(
            refused.line(),
            "REFUSED /var/spool/cron/crontabs/bob: owned by uid 1001, not bob (uid 1002); \
             fix: chown bob /var/spool/cron/crontabs/bob"
        );
        let no_fix = Event::Refused {
            path: "/etc/crontab",
            reason: "is a symlink",
            fix: None,
        };
        assert_eq!(no_fix.line(), "REFUSED /etc/crontab: is a symlink");
        let ignored = Event::Ignored {
            path: "/etc/cron.d/web.dpkg-old",
            reason: "name has characters other than letters, digits, '_' and '-'",
        };
        assert_eq!(
            ignored.line(),
            "IGNORED /etc/cron.d/web.dpkg-old: name has characters other than letters, \
             digits, '_' and '-'"
        );
        let mail = Event::MailFailed {
            user: "alice",
            command: "backup.sh --all",
            job: JOB,
            pid: 4242,
            to: "alice@example.com, ops@example.com",
            reason: "/usr/sbin/sendmail: No such file or directory",
        };
        assert_eq!(
            mail.line(),
            "(alice) MAIL (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             to=\"alice@example.com, ops@example.com\" | not sent: /usr/sbin/sendmail: No such \
             file or directory"
        );
        let start = Event::Start {
            version: "0.1.0",
            pid: 7,
            zone: "Europe/Berlin",
            files: 3,
            entries: 12,
            runs_as: None,
            pam: Some("cron"),
        };
        assert_eq!(
            start.line(),
            "START version=0.1.0 pid=7 zone=Europe/Berlin files=3 entries=12 pam=cron"
        );
        let start_user = Event::Start {
            version: "0.1.0",
            pid: 7,
            zone: "Europe/Berlin",
            files: 3,
            entries: 12,
            runs_as: Some("alice"),
            pam: None,
        };
        assert_eq!(
            start_user.line(),
            "START version=0.1.0 pid=7 zone=Europe/Berlin files=3 entries=12 runs_as=alice \
             | not running as root: every job runs as alice"
        );
        let stop = Event::Stop {
            pid: 7,
            reason: "SIGTERM",
            killed: 1,
        };
        assert_eq!(stop.line(), "STOP pid=7 reason=SIGTERM killed=1");
        let note = Event::EntryNote {
            file: "f",
            line: 1,
            note: "hello",
        };
        assert_eq!(note.line(), "INFO f:1: hello".to_string());
    }

    #[test]
    fn zone_lines_name_the_zone_the_file_and_the_jobs_moved() {
        let renamed = Event::Zone {
            zone: "Europe/Paris",
            was: Some("Europe/Berlin"),
            file: Path::new("/etc/localtime"),
            jobs: 40,
            moved: 0,
        };
        assert_eq!(
            renamed.line(),
            "ZONE Europe/Paris (was Europe/Berlin): /etc/localtime changed jobs=40 moved=0"
        );
        let json: Value = serde_json::from_str(&renamed.json()).unwrap();
        assert_eq!(json["event"], "ZONE");
        assert_eq!(json["was"], "Europe/Berlin");
        assert_eq!(
            (json["jobs"].as_u64(), json["moved"].as_u64()),
            (Some(40), Some(0))
        );
        let updated = Event::Zone {
            zone: "America/Santiago",
            was: None,
            file: Path::new("/usr/share/zoneinfo/America/Santiago"),
            jobs: 12,
            moved: 3,
        };
        assert_eq!(
            updated.line(),
            "ZONE America/Santiago: /usr/share/zoneinfo/America/Santiago changed jobs=12 moved=3"
        );
        assert_eq!(updated.severity(), Level::Info);
        let gone = Event::ZoneUnreadable {
            zone: "America/Santiago",
            file: Path::new("/usr/share/zoneinfo/America/Santiago"),
            jobs: 12,
        };
        assert_eq!(
            gone.line(),
            "ERROR zone America/Santiago: /usr/share/zoneinfo/America/Santiago is gone or is \
             not a zone file now; its 12 jobs keep the rules read before"
        );
        assert_eq!(gone.severity(), Level::Err);
    }

    #[test]
    fn severities_follow_the_documented_table() {
        assert_eq!(cmd("x").severity().pri(), 78);
        assert_eq!(end(ExitStatus::Exited(0), 0, 0).severity(), Level::Info);
        assert_eq!(end(ExitStatus::Exited(1), 0, 0).severity().pri(), 76);
        assert_eq!(
            end(ExitStatus::Signaled(15), 0, 0).severity(),
            Level::Warning
        );
        assert_eq!(Event::TimerFailed { error: "x" }.severity().pri(), 75);
        let refused = Event::Refused {
            path: "p",
            reason: "r",
            fix: None,
        };
        assert_eq!(refused.severity(), Level::Err);
        let ignored = Event::Ignored {
            path: "p",
            reason: "r",
        };
        assert_eq!(ignored.severity().pri(), 77);
    }

    #[test]
    fn commands_are_capped_and_control_characters_escaped() {
        let long = "x".repeat(COMMAND_LOG_CHARS + 50);
        let line = cmd(&long).line();
        let shown = format!("({}…)", "x".repeat(COMMAND_LOG_CHARS));
        assert!(line.contains(&shown), "{line}");
        let exactly = "é".repeat(COMMAND_LOG_CHARS);
        assert!(cmd(&exactly).line().contains(&format!("({exactly})")));

        let nasty = "echo a\nb\r\tc\x1b[31m\u{85}d\u{2028} date +\\%Y";
        let line = cmd(nasty).line();
        assert_eq!(
            line,
            "(alice) CMD (echo a\\nb\\r\\tc\\x1b[31m\\u{85}d\\u{2028} date +\\%Y) \
             job=/var/spool/cron/crontabs/alice:3 pid=4242"
        );
        assert!(!line.chars().any(char::is_control));

        let out = Event::Out {
            user: "al\nice",
            command: "c",
            pid: 1,
            line: "a\0b",
        };
        assert_eq!(out.line(), "(al\\nice) OUT (c) pid=1 | a\\x00b");
    }

    #[test]
    fn key_values_with_spaces_or_quotes_are_quoted() {
        let e = Event::Cmd {
            user: "alice",
            command: "c",
            job: "/etc/cron d/x \"y\":3",
            pid: 1,
            late: None,
            manual: false,
        };
        assert_eq!(
            e.line(),
            "(alice) CMD (c) job=\"/etc/cron d/x \\\"y\\\":3\" pid=1"
        );
    }

    #[test]
    fn json_lines_parse_and_carry_every_field() {
        let v: Value = serde_json::from_str(&end(ExitStatus::Signaled(9), 10, 4).json()).unwrap();
        assert_eq!(v["event"], "END");
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["user"], "alice");
        assert_eq!(v["command"], "backup.sh --all");
        assert_eq!(v["job"], JOB);
        assert_eq!(v["pid"], 4242);
        assert_eq!(v["status"], "signal:9");
        assert_eq!(v["signal"], 9);
        assert_eq!(v["signal_name"], "SIGKILL");
        assert_eq!(v["duration"], 1.532);
        assert_eq!(v["output_bytes"], 10);
        assert_eq!(v["dropped_bytes"], 4);
        let time = v["time"].as_str().unwrap();
        assert!(time.ends_with('Z'), "{time}");
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok());

        let v: Value = serde_json::from_str(&end(ExitStatus::Exited(0), 0, 0).json()).unwrap();
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["status"], "0");

        let nasty = "echo \"a\"\nb";
        let v: Value = serde_json::from_str(&cmd(nasty).json()).unwrap();
        assert_eq!(v["command"], nasty);

        let refused = Event::Refused {
            path: "p",
            reason: "r",
            fix: None,
        };
        let v: Value = serde_json::from_str(&refused.json()).unwrap();
        assert_eq!(v["fix"], Value::Null);
        assert_eq!(v["event"], "REFUSED");
        let start = Event::Start {
            version: "0.1.0",
            pid: 7,
            zone: "UTC",
            files: 1,
            entries: 2,
            runs_as: Some("alice"),
            pam: None,
        };
        let v: Value = serde_json::from_str(&start.json()).unwrap();
        assert_eq!(v["runs_as"], "alice");
        assert_eq!(v["pam"], Value::Null);
        assert_eq!(v["files"], 1);
    }

    /// The daemon's own INFO and ERROR lines read as they did when the daemon worded them,
    /// and their JSON keeps that `text` and adds each value under its key.
    #[test]
    fn daemon_news_and_troubles_keep_their_lines_and_add_typed_json() {
        let marker = std::path::Path::new("/run/cronwrightd.reboot");
        let cases: Vec<(Event, &str, Value)> = vec![
            (
                Event::WatchFallback {
                    why: "inotify limit reached",
                },
                "INFO watching files is not possible (inotify limit reached); checking them \
                 once a minute",
                json!({"why": "inotify limit reached"}),
            ),
            (
                Event::SystemCrontabsLeftOut {
                    own: "alice",
                    paths: "/etc/crontab, /etc/cron.d",
                },
                "INFO not running as root: the system crontabs (/etc/crontab, /etc/cron.d) are \
                 not loaded, since their lines name the users to run as; to run their jobs as \
                 alice, name them in the configuration's [sources] (system_crontab, system_dirs)",
                json!({"own": "alice", "paths": "/etc/crontab, /etc/cron.d"}),
            ),
            (
                Event::Stopping {
                    grace_secs: 30,
                    running: 2,
                },
                "INFO stopping: no new jobs; waiting up to 30s for 2 running",
                json!({"grace_secs": 30, "running": 2}),
            ),
            (
                Event::ConfigKept {
                    error: "/etc/cronwright.toml: bad value",
                },
                "ERROR /etc/cronwright.toml: bad value; keeping the previous configuration",
                json!({"error": "/etc/cronwright.toml: bad value"}),
            ),
            (
                Event::NotifyFailed {
                    error: "Connection refused (os error 111)",
                },
                "ERROR cannot notify systemd: Connection refused (os error 111)",
                json!({"error": "Connection refused (os error 111)"}),
            ),
            (
                Event::RebootSkipped { marker },
                "INFO /run/cronwrightd.reboot exists: the machine did not boot since the last \
                 start, so @reboot jobs do not run",
                json!({"marker": "/run/cronwrightd.reboot"}),
            ),
            (
                Event::RebootMarkerFailed {
                    marker,
                    error: "Read-only file system (os error 30)",
                },
                "ERROR cannot create /run/cronwrightd.reboot (Read-only file system (os error \
                 30)): @reboot jobs would run again if the daemon restarts",
                json!({"marker": "/run/cronwrightd.reboot",
                       "error": "Read-only file system (os error 30)"}),
            ),
            (
                Event::TimerFailed {
                    error: "EINVAL: Invalid argument",
                },
                "ERROR cannot arm the timer: EINVAL: Invalid argument",
                json!({"error": "EINVAL: Invalid argument"}),
            ),
            (
                Event::ClockMoved {
                    forward: true,
                    secs: 3600,
                },
                "INFO the clock moved forward by 3600s",
                json!({"direction": "forward", "secs": 3600}),
            ),
            (
                Event::ClockMoved {
                    forward: false,
                    secs: 90,
                },
                "INFO the clock moved back by 90s",
                json!({"direction": "back", "secs": 90}),
            ),
            (
                Event::StartFailed {
                    job: JOB,
                    user: "alice",
                    error: "fork: Resource temporarily unavailable",
                },
                "ERROR /var/spool/cron/crontabs/alice:3: cannot start the job for alice: fork: \
                 Resource temporarily unavailable",
                json!({"job": JOB, "user": "alice",
                       "error": "fork: Resource temporarily unavailable"}),
            ),
            (
                Event::SessionRefused {
                    job: JOB,
                    user: "alice",
                    pid: 4242,
                    reason: "account check: User account has expired",
                },
                "ERROR /var/spool/cron/crontabs/alice:3: PAM refused the run for alice (pid \
                 4242), so the command did not run: account check: User account has expired",
                json!({"job": JOB, "user": "alice", "pid": 4242,
                       "reason": "account check: User account has expired"}),
            ),
            (
                Event::RunOrphaned {
                    job: JOB,
                    user: "alice",
                    pid: 4242,
                    since: "2026-12-05T04:00:00Z",
                },
                "INFO /var/spool/cron/crontabs/alice:3: the run for alice (pid 4242) that a \
                 killed daemon started at 2026-12-05T04:00:00Z is still running; its output and \
                 end will not be logged",
                json!({"job": JOB, "user": "alice", "pid": 4242,
                       "since": "2026-12-05T04:00:00Z"}),
            ),
            (
                Event::RunLost {
                    job: JOB,
                    user: "alice",
                    pid: 4242,
                },
                "INFO /var/spool/cron/crontabs/alice:3: the run for alice (pid 4242) that a \
                 killed daemon started ended while no daemon was running; its status is lost",
                json!({"job": JOB, "user": "alice", "pid": 4242}),
            ),
            (
                Event::RunsEndedByReboot { count: 2 },
                "INFO 2 runs in flight when the machine last went down ended with it",
                json!({"count": 2}),
            ),
            (
                Event::StateUnavailable {
                    dir: Path::new("/var/lib/cronwright"),
                    error: "Permission denied (os error 13)",
                },
                "ERROR cannot keep the journal of runs in flight in /var/lib/cronwright: \
                 Permission denied (os error 13); the runs of a daemon that is killed will not \
                 be reported",
                json!({"dir": "/var/lib/cronwright", "error": "Permission denied (os error 13)"}),
            ),
            (
                Event::OutputCut {
                    job: JOB,
                    pid: 4242,
                    secs: 3600,
                },
                "INFO /var/spool/cron/crontabs/alice:3: output of pid 4242 cut 3600s after its \
                 exit: a process it left running still holds the pipe; what it writes from now \
                 on is discarded",
                json!({"job": JOB, "pid": 4242, "secs": 3600}),
            ),
            (
                Event::RunWaits {
                    job: JOB,
                    user: "alice",
                    why: "64 runs of alice are in flight",
                },
                "INFO /var/spool/cron/crontabs/alice:3: the run for alice waits: 64 runs of alice \
                 are in flight",
                json!({"job": JOB, "user": "alice", "why": "64 runs of alice are in flight"}),
            ),
            (
                Event::RunMerged {
                    job: JOB,
                    user: "alice",
                },
                "INFO /var/spool/cron/crontabs/alice:3: due again before its last run for alice \
                 could start; the two are one run",
                json!({"job": JOB, "user": "alice"}),
            ),
            (
                Event::RunDropped {
                    job: JOB,
                    user: "alice",
                    why: "the daemon is stopping",
                },
                "INFO /var/spool/cron/crontabs/alice:3: the run for alice was not started: the \
                 daemon is stopping",
                json!({"job": JOB, "user": "alice", "why": "the daemon is stopping"}),
            ),
            (
                Event::Swept {
                    path: Path::new("/var/spool/cron/crontabs/tmp.1f2e3d4c5b6a7988"),
                },
                "INFO /var/spool/cron/crontabs/tmp.1f2e3d4c5b6a7988: removed, a temporary file \
                 a killed crontab(1) left in the spool",
                json!({"path": "/var/spool/cron/crontabs/tmp.1f2e3d4c5b6a7988"}),
            ),
            (
                Event::CrontabError {
                    file: "/etc/cron.d/web",
                    line: 7,
                    column: 12,
                    message: "unknown month name 'jna' (expected 1-12 or jan-dec)",
                },
                "ERROR /etc/cron.d/web:7:12: unknown month name 'jna' (expected 1-12 or jan-dec)",
                json!({"file": "/etc/cron.d/web", "line": 7, "column": 12,
                       "message": "unknown month name 'jna' (expected 1-12 or jan-dec)"}),
            ),
            (
                Event::EntrySkipped {
                    file: "/etc/crontab",
                    line: 4,
                    reason: "unknown user 'bob' (no such user); line skipped",
                },
                "ERROR /etc/crontab:4: unknown user 'bob' (no such user); line skipped",
                json!({"file": "/etc/crontab", "line": 4,
                       "reason": "unknown user 'bob' (no such user); line skipped"}),
            ),
            (
                Event::EntryNote {
                    file: "/etc/crontab",
                    line: 5,
                    note: "runs as bob, but the daemon is not root; running it as alice",
                },
                "INFO /etc/crontab:5: runs as bob, but the daemon is not root; running it as \
                 alice",
                json!({"file": "/etc/crontab", "line": 5,
                       "note": "runs as bob, but the daemon is not root; running it as alice"}),
            ),
        ];
        for (event, line, typed) in cases {
            assert_eq!(event.line(), line);
            let (tag, text) = line.split_once(' ').unwrap();
            let v: Value = serde_json::from_str(&event.json()).unwrap();
            assert_eq!(v["event"], tag, "{line}");
            let severity = if tag == "ERROR" { "err" } else { "info" };
            assert_eq!(v["severity"], severity, "{line}");
            assert_eq!(v["text"], text, "{line}");
            for (key, value) in typed.as_object().unwrap() {
                assert_eq!(&v[key], value, "{key} of {line}");
            }
            // time, event, severity, text and the typed keys: nothing else.
            assert_eq!(
                v.as_object().unwrap().len(),
                4 + typed.as_object().unwrap().len()
            );
        }
    }

    #[test]
    fn free_text_values_are_escaped_in_the_line_and_whole_in_json() {
        let e = Event::EntrySkipped {
            file: "/etc/cron.d/a b",
            line: 1,
            reason: "bad\nthing",
        };
        assert_eq!(e.line(), "ERROR /etc/cron.d/a b:1: bad\\nthing");
        let v: Value = serde_json::from_str(&e.json()).unwrap();
        assert_eq!(v["text"], "/etc/cron.d/a b:1: bad\nthing");
        assert_eq!(v["reason"], "bad\nthing");
    }
}
