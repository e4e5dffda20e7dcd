//! Answers to the control socket's requests and to metrics scrapes, and who may see what.
//!
//! The asker's uid comes from the kernel. Root, and the daemon's own user (a private daemon
//! is its owner's), see and run every job. Anyone else sees and runs only the jobs of their
//! own crontab: the spool file a root daemon loaded as theirs (`JobInfo::uid_at_load`), and
//! in the history the runs recorded from that file. A job named by someone who may not see
//! it is "no such job", so that names do not leak.

use std::path::PathBuf;

use chrono::DateTime;

use super::Daemon;
use super::observe::labels;
use super::running::RunMeta;
use super::service::Incoming;
use super::table::JobInfo;
use crate::control::{DaemonInfo, JobStatus, Reply, Request, Status};
use crate::cron::Schedule;
use crate::history::{Filter, Reader, Trigger};
use crate::log::Event;
use crate::metrics::Metrics;
use crate::scheduler::JobKey;

/// The most runs one history request returns.
const MAX_HISTORY: usize = 10_000;

/// What one asker may see.
enum Viewer {
    All,
    /// A user: their uid and name, and the prefix of their crontab's `file:line` references.
    Own {
        uid: u32,
        name: String,
        source: String,
    },
}

impl Viewer {
    fn sees_job(&self, info: &JobInfo) -> bool {
        match self {
            Viewer::All => true,
            Viewer::Own { uid, .. } => info.uid_at_load() == Some(*uid),
        }
    }

    fn sees_run(&self, user: &str, source: &str) -> bool {
        match self {
            Viewer::All => true,
            Viewer::Own {
                name, source: own, ..
            } => user == name && source.starts_with(own.as_str()),
        }
    }

    /// The files a problem may be told of: a user's own crontab only.
    fn sees_file(&self, file: &std::path::Path) -> bool {
        match self {
            Viewer::All => true,
            Viewer::Own { source, .. } => format!("{}:", file.display()) == *source,
        }
    }
}

impl Daemon {
    /// Listens on the control socket and, if asked for, the metrics endpoint. Either can
    /// fail (a daemon that is not root cannot make /run/cronwright): that is said once, and
    /// the jobs run without it.
    pub(super) fn open_service(&mut self) {
        if let Some(path) = self.config.daemon.control_socket.clone() {
            if let Err(e) = self.service.listen_control(&path) {
                let error = format!("{}: {e}", path.display());
                self.logger.log(&Event::ServiceUnavailable {
                    what: "the control socket",
                    error: &error,
                });
            }
        }
        self.open_metrics();
    }

    /// (Re)opens the metrics as `[metrics]` says: kept across a reload that leaves them.
    pub(super) fn open_metrics(&mut self) {
        self.service.stop_http();
        let m = &self.config.metrics;
        if m.listen.is_none() && m.textfile.is_none() {
            self.metrics = None;
            return;
        }
        if self.metrics.is_none() {
            self.metrics = Some(Metrics::new());
        }
        if let Some(addr) = m.listen {
            if let Err(e) = self.service.listen_http(addr) {
                let error = format!("{addr}: {e}");
                self.logger.log(&Event::ServiceUnavailable {
                    what: "the metrics endpoint",
                    error: &error,
                });
            }
        }
        self.textfile_due = true;
    }

    fn viewer(&self, uid: u32) -> Viewer {
        if uid == 0 || uid == self.own.uid.as_raw() {
            return Viewer::All;
        }
        let name = nix::unistd::User::from_uid(uid.into())
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |u| u.name);
        let spool = self
            .sources
            .user_spool
            .clone()
            .unwrap_or_else(|| PathBuf::from("/nonexistent"));
        let source = format!("{}:", spool.join(&name).display());
        Viewer::Own { uid, name, source }
    }

    /// Answers one request (or scrape) that came in whole.
    pub(super) fn answer(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Http { client, head } => {
                self.refresh_metrics();
                let bytes = match &self.metrics {
                    Some(m) => crate::metrics::http_response(&head, m),
                    None => Vec::new(),
                };
                self.service.send_bytes(client, &bytes, true);
            }
            Incoming::Control {
                client,
                uid,
                request,
            } => {
                let viewer = self.viewer(uid);
                let reply = match request {
                    Err(why) => Some(Reply::Error(why)),
                    Ok(Request::Status { user }) => {
                        self.read_last_runs();
                        Some(self.status(&viewer, user.as_deref()))
                    }
                    Ok(Request::History {
                        job,
                        user,
                        since_ms,
                        failed,
                        limit,
                    }) => Some(self.history_reply(&viewer, job, user, since_ms, failed, limit)),
                    Ok(Request::Output { run }) => Some(self.output_reply(&viewer, run)),
                    Ok(Request::Run { job, wait }) => self.run_by_hand(&viewer, client, &job, wait),
                };
                if let Some(reply) = reply {
                    self.service.send(client, &reply, true);
                }
            }
        }
    }

    fn status(&self, viewer: &Viewer, user: Option<&str>) -> Reply {
        let mut jobs = Vec::new();
        for s in self.table.scheduled() {
            let info = s.payload;
            if !viewer.sees_job(info) || user.is_some_and(|u| u != info.user()) {
                continue;
            }
            let id = info.id(&Schedule::Times(*s.times));
            let rule = s.zone.rule();
            let next_local = s.deadline.and_then(|t| {
                let t = DateTime::from_timestamp(t, 0)?;
                Some(rule.local(t).format("%Y-%m-%d %H:%M:%S %z").to_string())
            });
            let running = self
                .running
                .iter()
                .filter(|r| r.alive())
                .find(|r| r.record.as_ref().is_some_and(|(_, m)| m.id == id))
                .map(|r| r.job.pid().as_raw() as u32);
            let mut policy = crate::cron::describe_policy(info.policy());
            if s.delay > 0 {
                policy.push_str(&format!(" delay={}", crate::cron::show_secs(s.delay)));
            }
            jobs.push(JobStatus {
                job: labels(info, &id).job,
                name: info.policy().name.clone(),
                user: info.user().to_string(),
                source: info.job_ref(),
                schedule: s.times.expression(),
                zone: rule.name().to_string(),
                next: s.deadline,
                next_local,
                command: info.command().to_string(),
                policy: policy.trim().to_string(),
                running,
                last: self.last.get(&id).cloned(),
                id,
            });
        }
        let problems = self
            .problems
            .iter()
            .filter(|(file, _)| viewer.sees_file(file))
            .flat_map(|(_, p)| p.iter().cloned())
            .collect();
        Reply::Status(Status {
            daemon: DaemonInfo {
                pid: std::process::id(),
                started: self.started_at,
                now: chrono::Utc::now().timestamp(),
                files: self.table.files(),
                jobs: self.table.jobs(),
                problems,
                history: self.history.is_some(),
            },
            jobs,
        })
    }

    fn history_reply(
        &self,
        viewer: &Viewer,
        job: Option<String>,
        user: Option<String>,
        since_ms: Option<i64>,
        failed: bool,
        limit: usize,
    ) -> Reply {
        let Some(reader) = self.reader() else {
            return Reply::Error(self.no_history());
        };
        let users = match (viewer, user) {
            (Viewer::Own { name, .. }, _) => Some(vec![name.clone()]),
            (Viewer::All, user) => user.map(|u| vec![u]),
        };
        let source_prefix = match viewer {
            Viewer::Own { source, .. } => Some(source.clone()),
            Viewer::All => None,
        };
        let filter = Filter {
            job,
            users,
            since_ms,
            failed_only: failed,
            limit: limit.clamp(1, MAX_HISTORY),
            source_prefix,
        };
        match reader.runs(&filter) {
            Ok(rows) => Reply::History(rows),
            Err(e) => Reply::Error(e.to_string()),
        }
    }

    fn output_reply(&self, viewer: &Viewer, run: i64) -> Reply {
        let Some(reader) = self.reader() else {
            return Reply::Error(self.no_history());
        };
        match reader.run(run) {
            Ok(Some((row, output))) if viewer.sees_run(&row.user, &row.source) => Reply::Output {
                run: Box::new(row),
                output: String::from_utf8_lossy(&output).into_owned(),
            },
            Ok(_) => Reply::Error(format!("no run {run} of yours in the history")),
            Err(e) => Reply::Error(e.to_string()),
        }
    }

    /// The history, opened for one answer: a connection kept open would hold its page
    /// cache for as long as the daemon runs, for a question asked now and then.
    fn reader(&self) -> Option<Reader> {
        self.history.as_ref()?;
        Reader::open(&self.history_dir).ok()
    }

    fn no_history(&self) -> String {
        if self.config.history.enabled {
            format!(
                "the run history in {} could not be opened; the daemon's log says why",
                self.history_dir.display()
            )
        } else {
            "the run history is off ([history] enabled = false)".into()
        }
    }

    /// `cronwright run JOB`: queued as a scheduled run would be, policies and all. The
    /// reply comes when it starts (or is skipped); with `wait`, its output and end follow.
    fn run_by_hand(
        &mut self,
        viewer: &Viewer,
        client: u64,
        job: &str,
        wait: bool,
    ) -> Option<Reply> {
        if self.phase != super::Phase::Running {
            return Some(Reply::Error("the daemon is stopping".into()));
        }
        let found: Vec<(JobKey, JobInfo, String)> = self
            .table
            .scheduled()
            .filter(|s| viewer.sees_job(s.payload))
            .filter_map(|s| {
                let id = s.payload.id(&Schedule::Times(*s.times));
                let name = s.payload.policy().name.as_deref();
                (name == Some(job) || id == job).then(|| (s.key, s.payload.clone(), id))
            })
            .collect();
        let (key, info, id) = match found.len() {
            0 => {
                return Some(Reply::Error(format!(
                    "no job '{job}' (see cronwright status)"
                )));
            }
            1 => found.into_iter().next()?,
            n => {
                return Some(Reply::Error(format!(
                    "{n} jobs are named '{job}': run one by its id (see cronwright status)"
                )));
            }
        };
        let meta = RunMeta {
            id,
            trigger: Trigger::Manual,
            due: None,
            late: None,
            waiter: Some((client, wait)),
        };
        self.enqueue(Some(key), info, meta);
        self.start_waiting();
        None
    }
}
