//! Noticing when a zone file in use changes: `timedatectl set-timezone` replacing
//! `/etc/localtime`, a `tzdata` upgrade replacing `/usr/share/zoneinfo/Europe/Berlin`.
//!
//! An inotify instance of its own, polled by the loop, rather than the crontab watcher's
//! `notify`, because of how these files change and where they live:
//! - Both changes replace the file (a rename over it): the kernel tells a watch on the old
//!   file that it lost its name (`IN_ATTRIB`, its link count) and, once unused, that it is
//!   gone. A file written in place says `IN_CLOSE_WRITE`. After any event the watch is put
//!   back on the path, which names the new file by then.
//! - Files are watched, never their directories: adding a watch on a directory makes the
//!   kernel visit every name it has cached there, and /etc has thousands (most of the
//!   daemon's start-up time went there); and a watch on /etc would wake the loop whenever a
//!   file in it is written.
//! - A link is watched itself (`IN_DONT_FOLLOW`), for `timedatectl`, and through to the file
//!   it leads to, for `tzdata`.
//! - A file that is missing is watched through its directory until it is back (the rare
//!   case where the directory's cost is paid).

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

/// What a zone file (or the link to one) is watched for.
fn events(follow: bool) -> AddWatchFlags {
    let base = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF;
    if follow {
        base
    } else {
        base | AddWatchFlags::IN_DONT_FOLLOW
    }
}

/// The zone files in use, each watched itself and, through a link, where it leads.
pub struct ZoneWatch {
    /// `None` when inotify cannot be had: zones then change only with SIGHUP.
    inotify: Option<Inotify>,
    /// Each file in use, as the zone names it.
    files: Vec<PathBuf>,
    /// Each watch, and the files in use it stands for: one file can be watched for two (a
    /// link and the file it leads to, both in use). A watch on the directory of a file that
    /// is missing stands for it under its name.
    watches: HashMap<WatchDescriptor, Vec<(PathBuf, Option<OsString>)>>,
}

impl ZoneWatch {
    /// A watch with no files yet; without inotify (no instance left), one that never reports.
    pub fn new() -> ZoneWatch {
        ZoneWatch {
            inotify: Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok(),
            files: Vec::new(),
            watches: HashMap::new(),
        }
    }

    /// What the loop polls; `None` without inotify.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inotify.as_ref().map(|i| i.as_fd())
    }

    /// Watches these files, and no others: called after each load, with the zones in use.
    pub fn watch(&mut self, files: impl IntoIterator<Item = PathBuf>) {
        let mut files: Vec<PathBuf> = files.into_iter().collect();
        files.sort();
        files.dedup();
        if files != self.files {
            self.files = files;
            self.rearm();
        }
    }

    /// Drops every watch and puts them back on the paths as they are now: a link may lead
    /// elsewhere, a file may be a new one.
    fn rearm(&mut self) {
        let Some(inotify) = &self.inotify else {
            return;
        };
        for (wd, _) in self.watches.drain() {
            let _ = inotify.rm_watch(wd);
        }
        for file in &self.files {
            let link = file
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink());
            let follows: &[bool] = if link { &[false, true] } else { &[false] };
            for &follow in follows {
                match inotify.add_watch(file, events(follow)) {
                    Ok(wd) => self
                        .watches
                        .entry(wd)
                        .or_default()
                        .push((file.clone(), None)),
                    // Gone (a package's files removed and put back): its directory is watched
                    // until it is there again.
                    Err(_) => {
                        let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
                            continue;
                        };
                        let appears = AddWatchFlags::IN_CREATE
                            | AddWatchFlags::IN_MOVED_TO
                            | AddWatchFlags::IN_CLOSE_WRITE
                            | AddWatchFlags::IN_ONLYDIR;
                        if let Ok(wd) = inotify.add_watch(dir, appears) {
                            let named = (file.clone(), Some(name.to_os_string()));
                            self.watches.entry(wd).or_default().push(named);
                        }
                    }
                }
            }
        }
    }

    /// The files in use (as given to [`ZoneWatch::watch`]) that changed since the last call.
    pub fn drain(&mut self) -> Vec<PathBuf> {
        let Some(inotify) = &self.inotify else {
            return Vec::new();
        };
        let mut changed: Vec<PathBuf> = Vec::new();
        let mut any = false;
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            for event in events {
                // The end of a watch (dropped by `rearm`, or its file gone) says nothing new.
                if event.mask.contains(AddWatchFlags::IN_IGNORED) {
                    continue;
                }
                any = true;
                if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    changed.extend(self.files.iter().cloned());
                } else if let Some(files) = self.watches.get(&event.wd) {
                    let ours = |name: &Option<OsString>| name.is_none() || *name == event.name;
                    changed.extend(files.iter().filter(|f| ours(&f.1)).map(|f| f.0.clone()));
                }
            }
        }
        if any {
            self.rearm();
        }
        // A file reported by several events (a link and its target) is read once.
        changed.sort();
        changed.dedup();
        changed
    }
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
        // Now the link leads to Other: a new Other is seen through it, and Zone is still
        // watched for itself.
        let new = dir.path().join("Other.new");
        std::fs::write(&new, "three").unwrap();
        std::fs::rename(&new, &other).unwrap();
        assert_eq!(wait_for(&mut w), vec![link.clone()]);
        // Written in place (a copied /etc/localtime): reported when closed.
        std::fs::write(&zone, "four").unwrap();
        assert_eq!(wait_for(&mut w), vec![zone.clone()]);
        // Putting the watches back tells nothing by itself.
        std::thread::sleep(Duration::from_millis(50));
        assert!(w.drain().is_empty());
    }
}
