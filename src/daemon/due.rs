//! What is due, and what was missed: each turn's due jobs after a clock step (and the runs
//! the step passes over), `CRON_CATCHUP`'s runs made up after downtime, the runs a killed
//! daemon left behind (the journal), and the `@reboot` jobs once per boot.

use super::running::RunMeta;
use super::{Daemon, write_no_follow};
use crate::catchup::{self, CatchupState};
use crate::history::Trigger;
use crate::inflight::{self, Fate, Journal};
use crate::log::Event;
use crate::scheduler::ClockStep;

impl Daemon {
    /// Asks the table what is due now, given how the clock moved, and starts it.
    pub(super) fn run_due(&mut self) {
        let (now, step) = self.clock.advance();
        let moved = match step {
            ClockStep::Forward(secs) => Some((true, secs)),
            ClockStep::Backward(secs) => Some((false, secs)),
            ClockStep::None => None,
        };
        if let Some((forward, secs)) = moved {
            self.logger.log(&Event::ClockMoved { forward, secs });
        }
        for (key, info, due) in self.table.due(now, step) {
            if let (Some(state), Some(id)) = (&mut self.catchup, self.table.catchup_id(key)) {
                state.set(id, now);
            }
            let meta = RunMeta::due(
                self.table.id_of(key).unwrap_or_default(),
                Trigger::Schedule,
                due,
            );
            self.enqueue(Some(key), info, meta);
        }
        // What cron's rules for the step left out is recorded, so "why didn't it run?" has
        // an answer; the log has the step itself, once.
        if let Some((forward, secs)) = moved {
            let why = format!(
                "the clock moved {} by {secs}s, and cron's rules for such a step do not run it",
                if forward { "forward" } else { "back" }
            );
            for (key, info, due) in self.table.passed_over() {
                let meta = RunMeta::due(
                    self.table.id_of(key).unwrap_or_default(),
                    Trigger::Schedule,
                    due,
                );
                self.observe_skip(&info, &meta, "clock", &why);
            }
        }
        // Back from a suspend, jobs that want it make up the run they missed, as at a start.
        self.catch_up(now, matches!(step, ClockStep::Forward(_)));
        self.start_waiting();
    }

    /// Reads `CRON_CATCHUP`'s state and makes up the runs missed while the daemon was down.
    pub(super) fn open_catchup(&mut self) {
        if super::container::stateless(&self.config) {
            return;
        }
        let (state, problem) = CatchupState::open(&self.config.daemon.state_dir);
        if let Some(problem) = problem {
            self.logger
                .log(&Event::CatchupStateLost { problem: &problem });
        }
        self.catchup = Some(state);
        let now = self.clock.now();
        self.catch_up(now, true);
        if let Some(state) = &mut self.catchup {
            let ids: Vec<String> = self
                .table
                .catchup_jobs()
                .iter()
                .map(|(_, id, _, _)| id.to_string())
                .collect();
            state.keep_only(ids.iter().map(String::as_str));
        }
        self.save_catchup();
    }

    /// For each job with `CRON_CATCHUP=once`: one new to the state is noted as seen now; with
    /// `run` (a start, a resume), one whose last due time is older than a fire time it
    /// missed since gets that run, once, however many it missed.
    fn catch_up(&mut self, now: i64, run: bool) {
        let Some(state) = &mut self.catchup else {
            return;
        };
        let mut missed = Vec::new();
        for (key, id, times, zone) in self.table.catchup_jobs() {
            match state.last(id) {
                Some(last) if run => {
                    if let Some(at) = catchup::last_missed(times, zone, last, now) {
                        missed.push((key, (now - at).max(0) as u64));
                    }
                    state.set(id, now);
                }
                Some(_) => {}
                None => state.set(id, now),
            }
        }
        for (key, late) in missed {
            if let Some(info) = self.table.job(key) {
                let meta = RunMeta {
                    id: self.table.id_of(key).unwrap_or_default(),
                    trigger: Trigger::Catchup,
                    due: Some(now - late as i64),
                    late: Some(late),
                    waiter: None,
                };
                self.enqueue(Some(key), info, meta);
            }
        }
        self.save_catchup();
    }

    /// Writes `CRON_CATCHUP`'s state if it changed; a failure is logged, and the state is
    /// kept in memory for the next try.
    fn save_catchup(&mut self) {
        if let Some(state) = &mut self.catchup {
            if let Err(e) = state.save() {
                let problem = format!(
                    "cannot write {}/catchup: {e}",
                    self.config.daemon.state_dir.display()
                );
                self.logger
                    .log(&Event::CatchupStateLost { problem: &problem });
            }
        }
    }

    /// Starts the journal of runs in flight, and reports what a daemon that was killed left
    /// in it: runs still going (orphans nobody follows now) and runs that ended unseen.
    pub(super) fn open_journal(&mut self) {
        if super::container::stateless(&self.config) {
            self.logger.log(&Event::Stateless {
                user: &self.own.user,
            });
            return;
        }
        let dir = self.config.daemon.state_dir.clone();
        let (journal, leftover) = match Journal::open(&dir, inflight::process_start) {
            Ok(opened) => opened,
            Err(e) => {
                self.logger.log(&Event::StateUnavailable {
                    dir: &dir,
                    error: &e.to_string(),
                });
                return;
            }
        };
        self.journal = Some(journal);
        if leftover.ended_by_reboot > 0 {
            self.logger.log(&Event::RunsEndedByReboot {
                count: leftover.ended_by_reboot,
            });
        }
        for (run, fate) in &leftover.runs {
            match fate {
                Fate::Running => {
                    let since = chrono::DateTime::from_timestamp_millis(run.started_ms)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default();
                    self.logger.log(&Event::RunOrphaned {
                        job: &run.job,
                        user: &run.user,
                        pid: run.pid,
                        since: &since,
                    });
                }
                Fate::Ended => self.logger.log(&Event::RunLost {
                    job: &run.job,
                    user: &run.user,
                    pid: run.pid,
                }),
            }
        }
    }

    /// Runs the `@reboot` entries once per boot: only if the marker file (under /run, which
    /// is emptied at boot) does not exist yet, as cronie does with /run/cron.reboot.
    pub(super) fn run_reboot_jobs(&mut self) {
        let pending = self.table.take_reboot_jobs();
        let marker = self.config.daemon.reboot_marker.clone();
        // No marker (container mode): every start is a boot.
        if !marker.as_os_str().is_empty() {
            if marker.exists() {
                if !pending.is_empty() {
                    self.logger.log(&Event::RebootSkipped { marker: &marker });
                }
                return;
            }
            if let Some(dir) = marker.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = write_no_follow(&marker, b"") {
                self.logger.log(&Event::RebootMarkerFailed {
                    marker: &marker,
                    error: &e.to_string(),
                });
            }
        }
        for info in pending {
            let meta = RunMeta::due(
                info.id(&crate::cron::Schedule::Reboot),
                Trigger::Reboot,
                self.clock.now(),
            );
            self.enqueue(None, info, meta);
        }
        self.start_waiting();
    }
}
