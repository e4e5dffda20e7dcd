//! Job output passed through (`CRON_OUTPUT=passthrough`, `--passthrough`): each line a job
//! writes goes to stdout as it comes, whole, as an `OUTPUT` event. A job's tap (see
//! `runner`) holds what was read; lines leave it only while stdout keeps up, and a job whose
//! tap still holds a whole line is not read (see `wait`), so a slow reader makes the job
//! wait on its pipe rather than lose lines or grow the daemon.

use super::Daemon;
use super::running::Run;
use crate::cron::OutputMode;
use crate::log::Event;

use super::table::JobInfo;

impl Daemon {
    /// Whether `info`'s output goes to stdout as it comes (`CRON_OUTPUT`, else
    /// `--passthrough`).
    pub(super) fn passes_through(&self, info: &JobInfo) -> bool {
        let default = if self.options.passthrough {
            OutputMode::Passthrough
        } else {
            OutputMode::Log
        };
        info.policy().output.unwrap_or(default) == OutputMode::Passthrough
    }

    /// Writes the whole lines run `i` has read to stdout, while stdout keeps up (see
    /// `PASSTHROUGH_BACKLOG`); at `end` (its pipe is at EOF) its last line without a newline
    /// too. With `force` (the daemon is about to exit), everything the tap holds.
    pub(super) fn pass_through(&mut self, i: usize, end: bool, force: bool) {
        let r = &mut self.running[i];
        let Run::Job(info) = &r.run else { return };
        if !r.job.tapped() || r.job.tap_is_empty() {
            return;
        }
        let job = info.job_ref();
        let name = info.policy().name.as_deref();
        let pid = r.job.pid().as_raw() as u32;
        while force || self.logger.stdout_backlog() < super::PASSTHROUGH_BACKLOG {
            let Some(line) = r.job.tapped_line(end) else {
                break;
            };
            let line = String::from_utf8_lossy(&line);
            self.logger.pass_through(
                name.unwrap_or(&job),
                &Event::Output {
                    job: &job,
                    name,
                    pid,
                    line: line.strip_suffix('\r').unwrap_or(&line),
                },
            );
        }
    }

    /// Moves on the lines of every run whose output passes through: stdout may have taken
    /// what held them back.
    pub(super) fn drain_taps(&mut self) {
        for i in 0..self.running.len() {
            let end = self.running[i].job.output_eof();
            self.pass_through(i, end, false);
        }
    }
}
