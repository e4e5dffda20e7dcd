//! Noticing when a zone file in use changes: `timedatectl set-timezone` replacing
//! `/etc/localtime`, a `tzdata` upgrade replacing `/usr/share/zoneinfo/Europe/Berlin`.
//!
//! An inotify instance of its own, polled by the loop, rather than the crontab watcher's
//! `notify`: a zone file is watched through its directory, because both changes replace the
//! file (a rename over it) and a watch on the file would follow the old inode, or the old
//! target of the /etc/localtime link; and a watch on /etc must not wake anything each time a
//! program opens a file there, which `notify` asks to hear of. So only the events that put a
//! new file in place or finish writing one are asked for, and only names in use are reported.
//! A file created empty and written afterwards is reported when it is closed, not when it
//! appears; a symbolic link is complete when it appears.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

/// What a directory holding a zone file is watched for.
fn events() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_ONLYDIR
}

/// The zone files in use, watched through their directories.
pub struct ZoneWatch {
    /// `None` when inotify cannot be had: zones then change only with SIGHUP.
    inotify: Option<Inotify>,
    /// Each watched directory, by its watch.
    dirs: HashMap<WatchDescriptor, PathBuf>,
    /// Each file in use, as the zone names it, with the paths whose replacement replaces
    /// what it reads: itself, and where its links lead.
    files: Vec<(PathBuf, Vec<PathBuf>)>,
}

impl ZoneWatch {
    /// A watch with no files yet; without inotify (no instance left), one that never reports.
    pub fn new() -> ZoneWatch {
        ZoneWatch {
            inotify: Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok(),
            dirs: HashMap::new(),
            files: Vec::new(),
        }
    }

    /// What the loop polls; `None` without inotify.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inotify.as_ref().map(|i| i.as_fd())
    }

    /// Watches these files, and no others: called after each load, with the zones in use.
    pub fn watch(&mut self, files: impl IntoIterator<Item = PathBuf>) {
        let Some(inotify) = &self.inotify else {
            return;
        };
        // Links are followed again each time: where /etc/localtime leads changes.
        let mut files: Vec<PathBuf> = files.into_iter().collect();
        files.sort();
        files.dedup();
        self.files = files
            .into_iter()
            .map(|file| {
                let mut paths = vec![file.clone()];
                if let Ok(real) = std::fs::canonicalize(&file)
                    && real != file
                {
                    paths.push(real);
                }
                (file, paths)
            })
            .collect();
        let wanted: HashSet<&Path> = self
            .files
            .iter()
            .flat_map(|(_, paths)| paths.iter().filter_map(|p| p.parent()))
            .collect();
        self.dirs.retain(|wd, dir| {
            let keep = wanted.contains(dir.as_path());
            if !keep {
                let _ = inotify.rm_watch(*wd);
            }
            keep
        });
        for dir in wanted {
            if !self.dirs.values().any(|d| d == dir)
                && let Ok(wd) = inotify.add_watch(dir, events())
            {
                self.dirs.insert(wd, dir.to_path_buf());
            }
        }
    }

    /// The files in use (as given to [`ZoneWatch::watch`]) that changed since the last call.
    pub fn drain(&mut self) -> Vec<PathBuf> {
        let Some(inotify) = &self.inotify else {
            return Vec::new();
        };
        let mut changed: Vec<PathBuf> = Vec::new();
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for event in events {
                if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    changed.extend(self.files.iter().map(|(f, _)| f.clone()));
                    continue;
                }
                if event.mask.contains(AddWatchFlags::IN_IGNORED) {
                    self.dirs.remove(&event.wd);
                    continue;
                }
                let (Some(dir), Some(name)) = (self.dirs.get(&event.wd), &event.name) else {
                    continue;
                };
                let path = dir.join(name);
                if event.mask.contains(AddWatchFlags::IN_CREATE) && !is_link(&path) {
                    continue;
                }
                changed.extend(self.using(&path, name));
            }
        }
        changed.sort();
        changed.dedup();
        changed
    }

    /// The files in use that read `path`.
    fn using<'a>(&'a self, path: &'a Path, name: &'a OsStr) -> impl Iterator<Item = PathBuf> + 'a {
        self.files
            .iter()
            .filter(move |(_, paths)| {
                paths
                    .iter()
                    .any(|p| p.file_name() == Some(name) && p == path)
            })
            .map(|(file, _)| file.clone())
    }
}

fn is_link(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_for(w: &mut ZoneWatch) -> Vec<PathBuf> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let got = w.drain();
            if !got.is_empty() || Instant::now() > end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_file_replaced_or_relinked_is_reported_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let zone = dir.path().join("Zone");
        let other = dir.path().join("Other");
        std::fs::write(&zone, "one").unwrap();
        std::fs::write(&other, "one").unwrap();
        let link = dir.path().join("localtime");
        std::os::unix::fs::symlink(&zone, &link).unwrap();
        let mut w = ZoneWatch::new();
        w.watch([zone.clone(), link.clone()]);
        // Another file of the directory: nothing.
        std::fs::write(&other, "two").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(w.drain().is_empty());
        // Replaced by a rename, as dpkg does: both the file and the link reading it.
        let new = dir.path().join("Zone.dpkg-new");
        std::fs::write(&new, "two").unwrap();
        std::fs::rename(&new, &zone).unwrap();
        assert_eq!(wait_for(&mut w), vec![zone.clone(), link.clone()]);
        // The link made to point elsewhere, as timedatectl does: the link alone.
        let tmp = dir.path().join(".localtime.tmp");
        std::os::unix::fs::symlink(&other, &tmp).unwrap();
        std::fs::rename(&tmp, &link).unwrap();
        assert_eq!(wait_for(&mut w), vec![link.clone()]);
    }
}
