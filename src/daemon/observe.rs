//! What the daemon remembers of its runs beyond the log: each run's start, end or skip goes
//! to the history (`history`), the metrics (`metrics`), the last result of its job (which
//! `status` shows), and to the client following it (`cronwright run --wait`).
//!
//! None of it can stop a job: the history is fed through a bounded queue that never waits,
//! and a client that is gone is passed over.

use std::time::Instant;

use super::Daemon;
use super::running::RunMeta;
use super::table::JobInfo;
use super::table::{LoadNote, LoadReport};
use crate::control::{Ended, LastRun, Reply};
use crate::history::{History, Outcome, Reader, Record, Retention, RunEnd, RunOf, RunStart, Skip};
use crate::log::Event;
use crate::metrics::JobLabels;
use crate::runner::ExitStatus;

/// Wall-clock milliseconds, as the history keeps times.
pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The exit code `cronwright run --wait` ends with for a run that ended this way: the job's
/// own, 128 + its signal as a shell gives it, 124 for a timeout as timeout(1) does, and 75
/// (EX_TEMPFAIL) for a run that did not start.
fn exit_code(outcome: &Outcome) -> i32 {
    match outcome {
        Outcome::Exit(code) => *code,
        Outcome::Signal(sig) => 128 + sig,
        Outcome::Timeout => 124,
        Outcome::Refused(_) | Outcome::Skipped { .. } => 75,
    }
}

/// What the history keeps of which job a run is of.
fn run_of(info: &JobInfo, meta: &RunMeta) -> RunOf {
    RunOf {
        job_id: meta.id.clone(),
        name: info.policy().name.clone(),
        user: info.user().to_string(),
        source: info.job_ref(),
        command: info.command().to_string(),
        trigger: meta.trigger,
        due_ms: meta.due.map(|d| d * 1000),
    }
}

/// The metrics' name for a job: its `CRON_NAME`, else its id.
pub(super) fn labels(info: &JobInfo, id: &str) -> JobLabels {
    JobLabels {
        job: info.policy().name.clone().unwrap_or_else(|| id.to_string()),
        user: info.user().to_string(),
    }
}

impl Daemon {
    /// Opens the history in the state directory (made by the journal before it) and reads
    /// each job's last result from it, for `status`. A database that cannot be used is said
    /// once; the daemon runs on without it.
    pub(super) fn open_history(&mut self) {
        if !self.config.history.enabled {
            return;
        }
        let dir = self.config.daemon.state_dir.clone();
        let retention = Retention {
            keep_runs: self.config.history.keep_runs,
            keep_days: self.config.history.keep_days,
        };
        self.history_dir = dir.clone();
        match History::open(&dir, retention) {
            Ok(history) => self.history = Some(history),
            Err(e) => {
                let problem = e.to_string();
                self.logger
                    .log(&Event::HistoryProblem { problem: &problem });
            }
        }
    }

    /// The last run of each job as the history has it, read when `status` first asks rather
    /// than at start (a start opens no database). Runs of this daemon, already known, are
    /// newer and stay.
    pub(super) fn read_last_runs(&mut self) {
        if self.last_read || self.history.is_none() {
            return;
        }
        self.last_read = true;
        // A connection of its own, closed again: an idle daemon keeps none.
        if let Ok(rows) = Reader::open(&self.history_dir).and_then(|r| r.last_per_job()) {
            for row in rows {
                self.last
                    .entry(row.job_id.clone())
                    .or_insert_with(|| LastRun::from(row));
            }
        }
    }

    /// Keeps the errors of a file's load for `status`, in the words of the log.
    pub(super) fn note_problems(&mut self, report: &LoadReport) {
        let file = report.path.display();
        let problems: Vec<String> = report
            .notes
            .iter()
            .filter_map(|note| match note {
                LoadNote::Invalid(d) => {
                    Some(format!("{file}:{}:{}: {}", d.line, d.column, d.message))
                }
                LoadNote::Skipped { line, skip } => Some(format!("{file}:{line}: {skip}")),
                LoadNote::Note { .. } => None,
            })
            .collect();
        if problems.is_empty() {
            self.problems.remove(&report.path);
        } else {
            self.problems.insert(report.path.clone(), problems);
        }
    }

    /// The number of the next run, for the history and for the client that asked for it.
    fn next_run_id(&mut self) -> i64 {
        match &mut self.history {
            Some(h) => h.next_run_id(),
            None => {
                self.runs_without_history += 1;
                self.runs_without_history
            }
        }
    }

    /// A job's process started as run `pid`: its number comes back.
    pub(super) fn observe_start(&mut self, info: &JobInfo, meta: &RunMeta, pid: u32) -> i64 {
        let run = self.next_run_id();
        let job = labels(info, &meta.id);
        if let Some(h) = &mut self.history {
            h.record(Record::Start(RunStart {
                run_id: run,
                of: run_of(info, meta),
                started_ms: now_ms(),
                late_secs: meta.late,
                pid,
            }));
        }
        if let Some(m) = &mut self.metrics {
            m.run_started(&job);
        }
        if let Some((client, follow)) = meta.waiter {
            let reply = Reply::Started {
                run,
                pid,
                job: job.job,
            };
            self.service.send(client, &reply, !follow);
        }
        run
    }

    /// A due run that did not start: `reason` is its kind (`overlap`, `merged`, `refused`,
    /// `stopping`), `detail` the words of its log line.
    pub(super) fn observe_skip(
        &mut self,
        info: &JobInfo,
        meta: &RunMeta,
        reason: &str,
        detail: &str,
    ) {
        let run = self.next_run_id();
        let at_ms = now_ms();
        let outcome = Outcome::Skipped {
            reason: reason.to_string(),
            detail: detail.to_string(),
        };
        if let Some(h) = &mut self.history {
            h.record(Record::Skip(Skip {
                run_id: run,
                of: run_of(info, meta),
                at_ms,
                reason: reason.to_string(),
                detail: detail.to_string(),
            }));
        }
        if let Some(m) = &mut self.metrics {
            m.skipped(&labels(info, &meta.id), reason);
            self.textfile_due = true;
        }
        self.remember(&meta.id, run, &outcome, at_ms, None, None);
        if let Some((client, _)) = meta.waiter {
            let ended = Ended {
                result: format!("{}: {detail}", outcome.text()),
                failed: true,
                code: exit_code(&outcome),
                duration_ms: 0,
            };
            self.service.send(client, &Reply::End(ended), true);
        }
    }

    /// Run `i`'s output is complete (its END line was logged before): the run's record ends.
    pub(super) fn observe_end(&mut self, i: usize, status: ExitStatus) {
        self.forward_output(i);
        let r = &self.running[i];
        let (Some((run, meta)), crate::daemon::running::Run::Job(info)) = (&r.record, &r.run)
        else {
            return;
        };
        let outcome = match (r.job.refusal(), status) {
            (Some(why), _) => Outcome::Refused(why.to_string()),
            _ if r.timed_out() => Outcome::Timeout,
            (None, ExitStatus::Exited(code)) => Outcome::Exit(code),
            (None, ExitStatus::Signaled(sig)) => Outcome::Signal(sig),
        };
        let exited = r.job.exited_at().unwrap_or_else(Instant::now);
        let duration = exited.saturating_duration_since(r.job.started());
        let ended_ms =
            now_ms() - Instant::now().saturating_duration_since(exited).as_millis() as i64;
        let started_ms = ended_ms - duration.as_millis() as i64;
        let lateness_ms = meta.due.map_or(0, |due| (started_ms - due * 1000).max(0));
        let (run, meta, info) = (*run, meta.clone(), info.clone());
        let (output, output_bytes) = (r.job.output().to_vec(), r.job.output_bytes());
        if let Some(h) = &mut self.history {
            h.record(Record::End(RunEnd {
                run_id: run,
                ended_ms,
                outcome: outcome.clone(),
                duration_ms: duration.as_millis() as u64,
                output_bytes,
                output,
            }));
        }
        if let Some(m) = &mut self.metrics {
            let result = match &outcome {
                Outcome::Exit(0) => "ok",
                Outcome::Timeout => "timeout",
                _ => "failed",
            };
            m.run_ended(
                &labels(&info, &meta.id),
                result,
                duration.as_secs_f64(),
                lateness_ms as f64 / 1000.0,
                ended_ms as f64 / 1000.0,
            );
            self.textfile_due = true;
        }
        let took = Some(duration.as_millis() as u64);
        self.remember(&meta.id, run, &outcome, ended_ms, took, meta.late);
        if let Some((client, _)) = meta.waiter {
            let ended = Ended {
                result: outcome.text(),
                failed: outcome.failed(),
                code: exit_code(&outcome),
                duration_ms: duration.as_millis() as u64,
            };
            self.service.send(client, &Reply::End(ended), true);
        }
    }

    /// Keeps how job `id`'s last run went, for `status`.
    fn remember(
        &mut self,
        id: &str,
        run: i64,
        outcome: &Outcome,
        at_ms: i64,
        duration_ms: Option<u64>,
        late_secs: Option<u64>,
    ) {
        let last = LastRun {
            run,
            result: outcome.text(),
            failed: outcome.failed(),
            at_ms,
            duration_ms,
            late_secs,
        };
        self.last.insert(id.to_string(), last);
    }

    /// Sends a followed run's new output to the client following it.
    pub(super) fn forward_output(&mut self, i: usize) {
        let r = &mut self.running[i];
        let Some((_, meta)) = &r.record else { return };
        let Some((client, true)) = meta.waiter else {
            return;
        };
        let output = r.job.output();
        if output.len() <= r.forwarded {
            return;
        }
        // Whole characters only: a UTF-8 sequence cut by a read waits for its end.
        let new = &output[r.forwarded..];
        let whole = match std::str::from_utf8(new) {
            Ok(_) => new.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => new.len(),
        };
        if whole == 0 {
            return;
        }
        let text = String::from_utf8_lossy(&new[..whole]).into_owned();
        r.forwarded += whole;
        self.service.send(client, &Reply::Chunk(text), false);
    }

    /// Logs what the history's writer met since the last look.
    pub(super) fn history_problems(&mut self) {
        let Some(h) = &mut self.history else { return };
        for problem in h.take_problems() {
            self.logger
                .log(&Event::HistoryProblem { problem: &problem });
        }
    }

    /// Rewrites node_exporter's textfile if a run ended since it was last written: once per
    /// turn of the loop, so that a burst of a thousand runs writes it once.
    pub(super) fn write_textfile(&mut self) {
        if !std::mem::take(&mut self.textfile_due) {
            return;
        }
        let Some(path) = self.config.metrics.textfile.clone() else {
            return;
        };
        self.refresh_metrics();
        let Some(m) = &self.metrics else { return };
        match m.write_textfile(&path) {
            Ok(()) => self.textfile_failing = false,
            // Said once until a write succeeds: it is tried after every run.
            Err(_) if self.textfile_failing => {}
            Err(e) => {
                self.textfile_failing = true;
                let error = format!("cannot write {}: {e}", path.display());
                self.logger.log(&Event::ServiceUnavailable {
                    what: "the metrics textfile",
                    error: &error,
                });
            }
        }
    }

    /// Brings the per-job series in line with the table: the jobs loaded, their next runs,
    /// the crontab errors and the log lines lost. Run before each scrape and textfile write
    /// rather than at each change, so that it costs nothing while nobody looks.
    pub(super) fn refresh_metrics(&mut self) {
        let Some(m) = &mut self.metrics else { return };
        let jobs: Vec<(JobLabels, Option<i64>)> = self
            .table
            .scheduled()
            .map(|s| {
                let id = s.payload.id(&crate::cron::Schedule::Times(*s.times));
                (labels(s.payload, &id), s.deadline)
            })
            .collect();
        m.set_jobs(&jobs);
        m.set_crontab_errors(self.problems.values().map(Vec::len).sum::<usize>() as u64);
        m.set_log_lines_dropped(self.logger.lines_dropped());
    }
}
