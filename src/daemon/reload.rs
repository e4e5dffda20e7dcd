//! SIGHUP and file changes: the configuration read again, crontabs loaded again, and what
//! each load found logged (and kept for `status`).

use std::path::PathBuf;
use std::time::Instant;

use super::table::{Change, LoadNote};
use super::{Daemon, load_context, logger, pam_sessions};
use crate::config::Config;
use crate::log::Event;
use crate::resolve::sources_config;
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
        match Config::load_or_defaults(&self.options.config_path) {
            Ok(config) => {
                // Lines still queued for syslog go on to the new targets.
                self.logger.switch_to(logger(&config, &self.options.log));
                self.sources =
                    sources_config(&config, self.as_root, &self.own.user, self.own.uid.as_raw());
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
        let cx = load_context(&self.config, &self.sources, self.clock.now());
        let changes = self.table.load_all(&cx, force);
        self.log_changes(changes);
        self.watch_zones();
        self.trim_at = Some(Instant::now() + super::TRIM_AFTER);
    }

    /// Reloads what the watcher reported (see [`Table::reload_paths`]).
    pub(super) fn reload_paths(&mut self, changed: Vec<PathBuf>) {
        if changed.is_empty() {
            return;
        }
        let cx = load_context(&self.config, &self.sources, self.clock.now());
        let changes = self.table.reload_paths(changed, &cx);
        self.log_changes(changes);
        self.watch_zones();
        self.trim_at = Some(Instant::now() + super::TRIM_AFTER);
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
