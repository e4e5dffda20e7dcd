//! The jobs in flight: starting a due job (its environment, shell and directory, as cronie
//! builds them), following its output and exit, and when it is done, its END and OUT lines
//! and the mail of its output, which is one more run (of sendmail) followed the same way.
//!
//! The runner's [`runner::Job`] keeps the state of a process (status, exit time, output at
//! EOF); this module only adds what the run was for ([`Run`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::Daemon;
use super::table::JobInfo;
use crate::config::Jobs;
use crate::cron::Env;
use crate::log::{Event, Logger, status_text};
use crate::mail::{JobMail, MailRequest, mail_for};
use crate::runner::{self, Credentials, ExitStatus, Spec};

/// After a job's process exits, how long its output pipe may stay open (held by a child it
/// left in the background) before the daemon stops reading and logs the end.
pub(crate) const DRAIN_AFTER_EXIT: Duration = runner::OUTPUT_GRACE_AFTER_EXIT;

/// The output kept of a sendmail run: only its complaint, if it fails, is worth logging.
const MAIL_OUTPUT_LIMIT: usize = 4096;

/// A process the daemon started and follows until it is done.
pub(crate) struct Running {
    pub job: runner::Job,
    pub run: Run,
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
    fn info(&self) -> &JobInfo {
        match &self.run {
            Run::Job(info) | Run::Mail { info, .. } => info,
        }
    }

    /// Reads what the output pipe holds now. A read error ends the reading as EOF would: the
    /// pipe is of no more use, and polling it again would wake the loop for nothing.
    pub fn read(&mut self) {
        let _ = self.job.read_output();
    }

    /// When the loop must look at this job again although nothing arrives: the end of the
    /// drain after its exit.
    pub fn drain_deadline(&self) -> Option<Instant> {
        match self.job.exited_at() {
            Some(at) if !self.job.output_eof() => Some(at + DRAIN_AFTER_EXIT),
            _ => None,
        }
    }
}

/// The environment a job runs with, as cronie builds it: SHELL, PATH and HOME defaults, then
/// the crontab's own lines, then LOGNAME and USER, which a crontab cannot change.
fn environment(jobs: &Jobs, crontab: &Env, user: &str, home: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("SHELL".into(), jobs.shell.clone()),
        ("PATH".into(), jobs.path.clone()),
        ("HOME".into(), home.display().to_string()),
    ];
    for (name, value) in crontab.vars() {
        match env.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => env.push((name.to_string(), value.to_string())),
        }
    }
    env.retain(|(n, _)| n != "LOGNAME" && n != "USER");
    env.push(("LOGNAME".into(), user.to_string()));
    env.push(("USER".into(), user.to_string()));
    env
}

/// How to start `info`: `$SHELL -c command` in `$HOME`, both as the environment has them.
/// `own` is the daemon's identity, whose home serves a job without credentials of its own.
fn job_spec(info: &JobInfo, jobs: &Jobs, own: &Credentials) -> Spec {
    let creds = info.credentials().unwrap_or(own);
    let env = environment(jobs, info.env(), info.user(), &creds.home);
    let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let shell = PathBuf::from(get("SHELL").unwrap_or_else(|| jobs.shell.clone()));
    let cwd = PathBuf::from(get("HOME").unwrap_or_else(|| "/".into()));
    Spec {
        shell,
        command: info.command().to_string(),
        env,
        cwd,
        stdin: info.stdin().map(|s| s.as_bytes().to_vec()),
        credentials: info.credentials().cloned(),
    }
}

/// How to run sendmail for `info`'s output: as the job's user, with a minimal environment,
/// the message on its standard input.
fn mail_spec(info: &JobInfo, request: &MailRequest, jobs: &Jobs, own: &Credentials) -> Spec {
    let creds = info.credentials().unwrap_or(own);
    Spec {
        shell: PathBuf::from("/bin/sh"),
        command: shell_words(&request.argv),
        env: vec![
            ("PATH".into(), jobs.path.clone()),
            ("HOME".into(), creds.home.display().to_string()),
            ("LOGNAME".into(), info.user().to_string()),
            ("USER".into(), info.user().to_string()),
        ],
        cwd: creds.home.clone(),
        stdin: Some(request.message.clone()),
        credentials: info.credentials().cloned(),
    }
}

/// Quotes argv for `sh -c`.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The MAIL line for a failed mail of `info`'s output.
fn mail_failed(logger: &mut Logger, info: &JobInfo, pid: u32, to: &str, reason: &str) {
    logger.log(&Event::MailFailed {
        user: info.user(),
        command: info.command(),
        job: &info.job_ref(),
        pid,
        to,
        reason,
    });
}

impl Daemon {
    /// Starts a due job and logs its CMD line (unless the entry asked for silence).
    pub(super) fn start(&mut self, info: &JobInfo) {
        let spec = job_spec(info, &self.config.jobs, &self.own);
        match runner::spawn(&spec, self.config.jobs.output_limit) {
            Ok(job) => {
                if info.log() {
                    self.logger.log(&Event::Cmd {
                        user: info.user(),
                        command: info.command(),
                        job: &info.job_ref(),
                        pid: job.pid().as_raw() as u32,
                    });
                }
                self.running.push(Running {
                    job,
                    run: Run::Job(info.clone()),
                });
            }
            Err(e) => {
                self.logger.log(&Event::StartFailed {
                    job: &info.job_ref(),
                    user: info.user(),
                    error: &e.to_string(),
                });
            }
        }
    }

    /// Records the exit of every job that has exited (after SIGCHLD).
    pub(super) fn collect_exits(&mut self) {
        for r in &mut self.running {
            let _ = r.job.try_wait();
        }
        // Jobs dropped before their exit was seen are reaped here, so none stays a zombie.
        runner::reap_unknown();
    }

    /// Ends every job that has exited and whose output is closed (or drained long enough):
    /// reads the rest, logs END and OUT, and mails the output if MAILTO asks for it.
    pub(super) fn finish_jobs(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.running.len() {
            let r = &mut self.running[i];
            let Some(status) = r.job.status() else {
                i += 1;
                continue;
            };
            if !r.job.is_finished(now, DRAIN_AFTER_EXIT) {
                // Take what is there now; the pipe may close on this read.
                r.read();
                if !r.job.output_eof() {
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
        let info = r.info();
        if let Run::Mail { to, .. } = &r.run {
            if !status.success() {
                let text = String::from_utf8_lossy(output);
                let reason = match text.trim() {
                    "" => format!("sendmail ended with status {}", status_text(status)),
                    t => t.to_string(),
                };
                mail_failed(&mut self.logger, info, pid, to, &reason);
            }
            return;
        }
        if info.log() || !status.success() {
            let duration = match r.job.exited_at() {
                Some(at) => at.saturating_duration_since(r.job.started()),
                None => r.job.started().elapsed(),
            };
            self.logger.log(&Event::End {
                user: info.user(),
                command: info.command(),
                job: &info.job_ref(),
                pid,
                status,
                duration,
                output_bytes: r.job.output_bytes(),
                dropped_bytes: r.job.dropped_bytes(),
            });
        }
        if info.log() {
            for line in String::from_utf8_lossy(output).lines() {
                self.logger.log(&Event::Out {
                    user: info.user(),
                    command: info.command(),
                    pid,
                    line,
                });
            }
        }
        self.mail(info, pid, output, r.job.dropped_bytes());
    }

    /// Mails a job's output as cronie does, by running sendmail as the job's user through the
    /// runner, so the loop never waits on it.
    fn mail(&mut self, info: &JobInfo, pid: u32, output: &[u8], dropped: u64) {
        if !self.config.mail.enabled {
            return;
        }
        let env: Vec<(&str, &str)> = info.env().vars().collect();
        let default_from = self
            .config
            .mail
            .from
            .clone()
            .or_else(|| (!self.as_root).then(|| self.own.user.clone()));
        let request = mail_for(&JobMail {
            sendmail: &self.config.mail.sendmail,
            mailto: info.env().get("MAILTO"),
            mailfrom: info.env().get("MAILFROM"),
            default_from: default_from.as_deref(),
            user: info.user(),
            hostname: &self.hostname,
            command: info.command(),
            output,
            truncated_bytes: dropped,
            env: &env,
        });
        let request = match request {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let to = info.env().get("MAILTO").unwrap_or(info.user());
                mail_failed(&mut self.logger, info, pid, to, &e.to_string());
                return;
            }
        };
        if !self.config.mail.sendmail.exists() {
            let reason = format!("{} does not exist", self.config.mail.sendmail.display());
            mail_failed(&mut self.logger, info, pid, &request.to, &reason);
            return;
        }
        let spec = mail_spec(info, &request, &self.config.jobs, &self.own);
        match runner::spawn(&spec, MAIL_OUTPUT_LIMIT) {
            Ok(job) => self.running.push(Running {
                job,
                run: Run::Mail {
                    info: info.clone(),
                    to: request.to,
                },
            }),
            Err(e) => mail_failed(&mut self.logger, info, pid, &request.to, &e.to_string()),
        }
    }

    /// Signals every running job's process group (on stop, after the grace period).
    pub(super) fn signal_all(&self, signal: Signal) {
        for r in &self.running {
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
        let got = environment(&jobs(), &env(""), "alice", Path::new("/home/alice"));
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
        let got = environment(&jobs(), &crontab, "alice", Path::new("/home/alice"));
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
    fn sendmail_arguments_are_quoted_for_the_shell() {
        let argv = ["/usr/sbin/sendmail", "-f", "it's me", "a b"].map(String::from);
        assert_eq!(
            shell_words(&argv),
            r"'/usr/sbin/sendmail' '-f' 'it'\''s me' 'a b'"
        );
    }
}
