//! SIGHUP and file changes: the configuration read again, crontabs loaded again, and what
//! each load found logged (and kept for `status`).

use std::path::PathBuf;
use std::time::Instant;

use super::table::{Change, LoadNote};
use super::{Daemon, load_context, logger, pam_sessions, sources_for};
use crate::log::Event;
use crate::watch::{WatchPaths, Watcher};

impl Daemon {
    /// SIGHUP: the configuration and every crontab, read again.
    pub(super) fn reload(&mut self) {
        if let Some(e) = self.supervisor.reloading() {
            self.supervisor_failed(e);
        }
        self.reload_config();
        self.load_all(true);
        // READY again even when the new config was refused: the old one runs on.
        self.notify_ready();
    }

    fn reload_config(&mut self) {
        match self.options.load_config() {
            Ok(config) => {
                // Lines still queued for syslog go on to the new targets.
                self.logger.switch_to(logger(&config, &self.options.log));
                self.sources = sources_for(&config, &self.options, self.as_root, &self.own);
                self.watcher = Watcher::new(&WatchPaths::from_sources(&self.sources));
                self.pam = pam_sessions(&config, self.as_root);
                let metrics_moved = config.metrics != self.config.metrics;
                self.config = config;
                if metrics_moved {
                    self.open_metrics();
                }
            }
            Err(e) => {
                self.logger.log(&Event::ConfigKept {
                    error: &e.to_string(),
                });
            }
        }
    }

    /// Scans every source and loads every crontab (see [`Table::load_all`]).
    pub(super) fn load_all(&mut self, force: bool) {
        let cx = load_context(&self.config, &self.sources, self.clock.now(), &self.options);
        let changes = self.table.load_all(&cx, force);
        self.log_changes(changes);
        self.watch_zones();
        self.trim_at = Some(Instant::now() + super::TRIM_AFTER);
        self.write_health();
    }

    /// Reloads what the watcher reported (see [`Table::reload_paths`]).
    pub(super) fn reload_paths(&mut self, changed: Vec<PathBuf>) {
        if changed.is_empty() {
            return;
        }
        let cx = load_context(&self.config, &self.sources, self.clock.now(), &self.options);
        let changes = self.table.reload_paths(changed, &cx);
        self.log_changes(changes);
        self.watch_zones();
        self.trim_at = Some(Instant::now() + super::TRIM_AFTER);
        self.write_health();
    }

    /// `--health-file`: rewritten after every load, so its time says the daemon is alive and
    /// reads its crontabs. A failure is logged, and the next load tries again.
    fn write_health(&mut self) {
        let Some(path) = &self.options.health_file else {
            return;
        };
        let errors = self.problems.values().map(Vec::len).sum();
        if let Err(e) =
            super::container::write_health(path, self.table.files(), self.table.jobs(), errors)
        {
            let error = format!("{}: {e}", path.display());
            self.logger.log(&Event::ServiceUnavailable {
                what: "the health file",
                error: &error,
            });
        }
    }

    fn log_changes(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Ignored { path, reason } => {
                    self.logger.log(&Event::Ignored {
                        path: &path.display().to_string(),
                        reason: &reason,
                    });
                }
                Change::Loaded(report) => {
                    let file = report.path.display().to_string();
                    self.note_problems(&report);
                    for note in &report.notes {
                        let event = match note {
                            LoadNote::Invalid(d) => Event::CrontabError {
                                file: &file,
                                line: d.line,
                                column: d.column,
                                message: &d.message,
                            },
                            LoadNote::Skipped { line, skip } => Event::EntrySkipped {
                                file: &file,
                                line: *line,
                                reason: &skip.to_string(),
                            },
                            LoadNote::Note { line, note } => Event::EntryNote {
                                file: &file,
                                line: *line,
                                note: &note.to_string(),
                            },
                        };
                        self.logger.log(&event);
                    }
                    self.logger.log(&Event::Reload {
                        file: &file,
                        entries: report.entries,
                        errors: report.errors(),
                    });
                }
                Change::Refused {
                    path,
                    refusal,
                    new_reason,
                    stopped,
                } => {
                    let file = path.display().to_string();
                    self.problems
                        .insert(path.clone(), vec![format!("{file}: {refusal}")]);
                    if new_reason {
                        self.logger.log(&Event::Refused {
                            path: &file,
                            reason: &refusal.to_string(),
                            fix: refusal.fix(&path).as_deref(),
                        });
                    }
                    if stopped {
                        self.log_emptied(&file);
                    }
                }
                Change::Forgotten { path } => {
                    self.problems.remove(&path);
                    self.log_emptied(&path.display().to_string());
                }
                Change::Swept { path } => self.logger.log(&Event::Swept { path: &path }),
                Change::Kept { report, jobs } => {
                    let file = report.path.display().to_string();
                    self.note_problems(&report);
                    for note in &report.notes {
                        if let LoadNote::Invalid(d) = note {
                            self.logger.log(&Event::CrontabError {
                                file: &file,
                                line: d.line,
                                column: d.column,
                                message: &d.message,
                            });
                        }
                    }
                    self.logger.log(&Event::Kept {
                        file: &file,
                        errors: report.errors(),
                        jobs,
                    });
                }
            }
        }
    }

    /// The RELOAD line of a file whose jobs are all gone.
    fn log_emptied(&mut self, file: &str) {
        self.logger.log(&Event::Reload {
            file,
            entries: 0,
            errors: 0,
        });
    }
}
