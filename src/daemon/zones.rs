//! Zones whose file changed under the running daemon: a `tzdata` upgrade replacing a zone file
//! in use, or `timedatectl set-timezone` pointing `/etc/localtime` elsewhere. The zone is read
//! again, its jobs are rescheduled at once with the new rules, and a ZONE line says which zone
//! changed and how many jobs moved. A file that is gone or broken changes nothing: its jobs
//! keep the rules read before, and an ERROR line says so.

use std::path::{Path, PathBuf};

use super::Daemon;
use crate::cron::{Zone, ZoneRule};
use crate::log::Event;
use crate::system_zone::{LOCALTIME, system_zone};

impl Daemon {
    /// Watches the files of the zones in use and of the daemon's own zone (after each load).
    pub(super) fn watch_zones(&mut self) {
        let files: Vec<PathBuf> = self
            .table
            .zone_files()
            .chain(self.config.daemon.timezone.file())
            .map(Path::to_path_buf)
            .collect();
        self.zone_watch.watch(files);
    }

    /// The zone files in `files` changed: each zone read from one is read again.
    pub(super) fn zones_changed(&mut self, files: Vec<PathBuf>) {
        let now = self.clock.now();
        for file in &files {
            let mut zones = self.table.zones_from(file);
            let own = self.config.daemon.timezone.clone();
            if own.file() == Some(file) && !zones.contains(&own) {
                zones.push(own.clone());
            }
            for old in zones {
                let new = read_again(&old);
                if old == own
                    && let Some(new) = &new
                {
                    self.config.daemon.timezone = new.clone();
                }
                self.rezone(file, &old, new, now);
            }
        }
        self.watch_zones();
    }

    fn rezone(&mut self, file: &Path, old: &ZoneRule, new: Option<ZoneRule>, now: i64) {
        let Some(new) = new else {
            let jobs = self.table.jobs_in(old);
            self.logger.log(&Event::ZoneUnreadable {
                zone: old.name(),
                file,
                jobs,
            });
            return;
        };
        let name = new.name().to_string();
        let renamed = old.name() != name;
        let (jobs, moved) = match self.table.rezone(old, new.clone(), now) {
            Some(counts) => counts,
            // In use by no job: the daemon's own zone, for the jobs loaded later.
            None if self.table.jobs_in(old) == 0
                && (renamed || !Zone::new(old.clone()).same_offsets(&Zone::new(new))) =>
            {
                (0, 0)
            }
            None => return,
        };
        self.logger.log(&Event::Zone {
            zone: &name,
            was: renamed.then_some(old.name()),
            file,
            jobs,
            moved,
        });
    }
}

/// The zone read again from its file. The system's zone is found again from the start: the
/// link /etc/localtime may name another zone now.
fn read_again(rule: &ZoneRule) -> Option<ZoneRule> {
    if rule.file() == Some(Path::new(LOCALTIME)) {
        system_zone().ok()
    } else {
        rule.reread()
    }
}
