//! `CRON_CATCHUP`'s memory: for each job that has it, the last time the daemon saw it due
//! (or first saw it at all), kept in `state_dir/catchup` so that a daemon started after
//! downtime can tell which of those jobs missed a run, and run each once.
//!
//! The file is replaced whole on every change: written beside it, fsynced, renamed over it,
//! and the directory fsynced, so a crash leaves the old file or the new one, never half of
//! one. A file that is missing is normal (nothing to catch up); one that is unreadable or not
//! ours is reported by the caller and treated as empty, never fatal.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::cron::{Times, Zone};

const FILE_NAME: &str = "catchup";
const MAGIC: &str = "cronwright-catchup 1";

/// The last due time of each catch-up job, by job id.
pub struct CatchupState {
    path: PathBuf,
    last: BTreeMap<String, i64>,
    dirty: bool,
}

impl CatchupState {
    /// Reads `state_dir/catchup`. The problem with a file that could not be used comes back
    /// beside an empty state.
    pub fn open(state_dir: &Path) -> (CatchupState, Option<String>) {
        let path = state_dir.join(FILE_NAME);
        let (last, problem) = match std::fs::read_to_string(&path) {
            Ok(text) => match parse(&text) {
                Some(last) => (last, None),
                None => (
                    BTreeMap::new(),
                    Some(format!(
                        "{} is not a catch-up state file; starting from an empty one",
                        path.display()
                    )),
                ),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => (BTreeMap::new(), None),
            Err(e) => (
                BTreeMap::new(),
                Some(format!(
                    "cannot read {}: {e}; starting from an empty one",
                    path.display()
                )),
            ),
        };
        let state = CatchupState {
            path,
            last,
            dirty: false,
        };
        (state, problem)
    }

    pub fn last(&self, id: &str) -> Option<i64> {
        self.last.get(id).copied()
    }

    pub fn set(&mut self, id: &str, t: i64) {
        if self.last.get(id) != Some(&t) {
            self.last.insert(id.to_string(), t);
            self.dirty = true;
        }
    }

    /// Forgets the jobs not in `ids` (gone from every crontab), so the file stays the size
    /// of the jobs that have a catch-up policy.
    pub fn keep_only<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        let keep: std::collections::HashSet<&str> = ids.into_iter().collect();
        let before = self.last.len();
        self.last.retain(|id, _| keep.contains(id.as_str()));
        self.dirty |= self.last.len() != before;
    }

    /// Writes the state if it changed since the last save (see the module comment).
    pub fn save(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut text = format!("{MAGIC}\n");
        for (id, t) in &self.last {
            text.push_str(&format!("{t} {id}\n"));
        }
        crate::inflight::replace_whole(&self.path, text.as_bytes(), 0o600)?;
        self.dirty = false;
        Ok(())
    }
}

/// The state `text` holds, or `None` if it is not a state file.
fn parse(text: &str) -> Option<BTreeMap<String, i64>> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    lines
        .map(|line| {
            let (t, id) = line.split_once(' ')?;
            Some((id.to_string(), t.parse().ok()?))
        })
        .collect()
}

/// The most recent fire time of `times` in `(last, now]`: the run a catch-up makes up.
/// Only the last one counts, never a backlog.
pub fn last_missed(times: &Times, zone: &Zone, last: i64, now: i64) -> Option<i64> {
    // A job that fires often has its last missed run in the last day; only a rare one needs
    // the walk from `last`, and it has few fire times to walk.
    let from = last.max(now - 86_400);
    let mut found = None;
    let mut t = from;
    while let Some(next) = times.next_after_secs(t, zone) {
        if next > now {
            break;
        }
        found = Some(next);
        t = next;
    }
    match found {
        Some(_) => found,
        None if from > last => {
            let first = times.next_after_secs(last, zone)?;
            if first > now {
                return None;
            }
            let mut found = first;
            while let Some(next) = times.next_after_secs(found, zone) {
                if next > now {
                    break;
                }
                found = next;
            }
            Some(found)
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::{Format, Schedule, parse_crontab};

    fn times(line: &str) -> Times {
        match parse_crontab(&format!("{line} x\n"), Format::User)
            .crontab
            .entries[0]
            .schedule
        {
            Schedule::Times(t) => t,
            Schedule::Reboot => unreachable!(),
        }
    }

    #[test]
    fn only_the_most_recent_missed_run_counts() {
        let zone = Zone::new(crate::cron::ZoneRule::utc());
        // Daily at 02:00; the daemon last saw it on day 0 at 01:00 and is back on day 3 at
        // 03:00: three runs were missed, and the last, day 3 at 02:00, is made up.
        let day = 86_400;
        let t = times("0 2 * * *");
        assert_eq!(
            last_missed(&t, &zone, 3600, 3 * day + 3 * 3600),
            Some(3 * day + 2 * 3600)
        );
        // Back before any fire time: nothing missed.
        assert_eq!(last_missed(&t, &zone, 3600, 3600 + 1800), None);
        // A yearly job missed long ago.
        let y = times("0 0 1 1 *");
        assert_eq!(last_missed(&y, &zone, 1, 400 * day), Some(365 * day));
        // A job every minute, down a week: the last minute only.
        let m = times("* * * * *");
        assert_eq!(last_missed(&m, &zone, 0, 7 * day + 30), Some(7 * day));
    }

    #[test]
    fn state_survives_a_save_and_a_bad_file_is_reported_and_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, problem) = CatchupState::open(dir.path());
        assert!(problem.is_none());
        s.set("nightly", 100);
        s.set("0123456789ab", 200);
        s.save().unwrap();
        let (s, _) = CatchupState::open(dir.path());
        assert_eq!(
            (s.last("nightly"), s.last("0123456789ab")),
            (Some(100), Some(200))
        );
        std::fs::write(dir.path().join("catchup"), "garbage\n").unwrap();
        let (s, problem) = CatchupState::open(dir.path());
        assert!(problem.unwrap().contains("is not a catch-up state file"));
        assert_eq!(s.last("nightly"), None);
    }
}
