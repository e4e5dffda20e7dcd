//! Noticing crontab changes within milliseconds, for a single-threaded poll(2) loop.
//!
//! `notify` (inotify on Linux) delivers events on its own thread; the callback keeps only the
//! events that can change a crontab, queues their paths and makes an eventfd readable. The
//! loop polls [`Watcher::wake_fd`] and calls [`Watcher::drain`], which also re-arms watches on
//! the loop's thread (the callback cannot: `notify` would deadlock).
//!
//! # What is watched
//!
//! Each configured path (a file such as `/etc/crontab`, or a directory such as `/etc/cron.d`
//! or the spool) is watched itself when it exists, and otherwise through its nearest existing
//! ancestor until it appears. Files are watched themselves rather than through their parent
//! because `notify` also reports every open of every file in a watched directory, and `/etc` is
//! opened by every program started on the machine. A watch on a file follows its inode, so any
//! event on it (a save by rename, a deletion) re-arms it on the path; the path is reported, so
//! the caller reads the new file after the new watch is in place and nothing is missed.
//!
//! Reads (`IN_OPEN`, `IN_CLOSE_NOWRITE`) are dropped, so loading a crontab never wakes the loop.
//! A write (`IN_MODIFY`) is not reported by itself: the close after writing is, so a file is
//! not read halfway through a save. A file written and never closed (`truncate(2)` on its
//! path, a writer that keeps it open) is reported once it has been quiet for [`SETTLE`]
//! ([`Watcher::settled`]).
//!
//! # What [`Watcher::drain`] returns
//!
//! Paths in the configuration's spelling: a file in a watched directory (created, written,
//! renamed, deleted, chmod), a configured file, or a configured directory. A directory means
//! "anything in it may have changed" (it appeared, vanished, or its watch was re-armed, or the
//! kernel queue overflowed): rescan it.
//!
//! # Fallback
//!
//! When inotify cannot be used (no inotify instance, the watch limit reached, a directory that
//! cannot be read), the affected paths are checked every [`FALLBACK_INTERVAL`] by comparing
//! stamps, as cron does, and [`Watcher::fallback`] says why. Polled paths are retried with
//! inotify at each poll, so a raised limit takes effect without a restart.
//!
//! Limits: the target of a symbolic link inside a watched directory is not watched, nor is a
//! configured file's link retargeted elsewhere; SIGHUP reloads those.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::sources::{SourcesConfig, Stamp};

/// How often paths that cannot be watched are checked: once a minute, as cron does.
pub const FALLBACK_INTERVAL: Duration = Duration::from_secs(60);

/// Queued paths beyond which a full rescan is asked for instead.
const MAX_QUEUED: usize = 4096;

/// How long a file written without being closed (`truncate(2)` on its path, a writer that
/// keeps it open) must stay unchanged before it is read: long enough not to read it between
/// two writes of one save, short enough that such a change takes effect within seconds.
pub const SETTLE: Duration = Duration::from_secs(1);

/// What to watch: configured files and configured directories.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchPaths {
    pub files: Vec<PathBuf>,
    pub dirs: Vec<PathBuf>,
}

impl WatchPaths {
    /// The system crontab and extra files; the system directories and the spool.
    pub fn from_sources(cfg: &SourcesConfig) -> WatchPaths {
        WatchPaths {
            files: cfg
                .system_crontab
                .iter()
                .chain(&cfg.extra_user_crontabs)
                // Standard input was read once; there is nothing to watch.
                .filter(|p| p.as_os_str() != crate::sources::STDIN)
                .cloned()
                .collect(),
            dirs: cfg
                .system_dirs
                .iter()
                .chain(&cfg.user_spool)
                .cloned()
                .collect(),
        }
    }
}

/// The stamps a polled path is compared by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Snapshot {
    own: Option<Stamp>,
    entries: BTreeMap<OsString, Stamp>,
}

impl Snapshot {
    fn take(path: &Path, dir: bool) -> Snapshot {
        let own = fs::metadata(path).ok();
        let mut entries = BTreeMap::new();
        if dir && own.as_ref().is_some_and(fs::Metadata::is_dir) {
            for entry in fs::read_dir(path).into_iter().flatten().flatten() {
                let p = entry.path();
                // Follows links, as loading does; a dangling link is stamped by itself.
                if let Ok(meta) = fs::metadata(&p).or_else(|_| fs::symlink_metadata(&p)) {
                    entries.insert(entry.file_name(), Stamp::of(&meta));
                }
            }
        }
        Snapshot {
            own: own.as_ref().map(Stamp::of),
            entries,
        }
    }
}

/// One configured path.
struct Target {
    /// As configured: what `drain` reports.
    given: PathBuf,
    /// Absolute: what `notify` is given and reports.
    abs: PathBuf,
    dir: bool,
    /// What inotify watches for it: itself, or its nearest existing ancestor while missing.
    watched: Option<PathBuf>,
    /// Set while it is polled instead, with why.
    polled: Option<(Snapshot, String)>,
}

/// The callback's relevance test needs only these, which never change.
struct Interest {
    abs: PathBuf,
    dir: bool,
}

impl Interest {
    /// The path itself, an entry of a watched directory, or a directory on the way to it.
    fn covers(&self, p: &Path) -> bool {
        self.abs.starts_with(p) || (self.dir && p.parent() == Some(self.abs.as_path()))
    }
}

#[derive(Default)]
struct Pending {
    paths: Vec<PathBuf>,
    rescan: bool,
    failure: Option<String>,
    /// Paths written without a close since, with when they last were: reported once they
    /// have been quiet for [`SETTLE`] (a close reports them at once instead).
    written: BTreeMap<PathBuf, Instant>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.rescan && self.failure.is_none()
    }
}

/// Filled by `notify`'s thread, emptied by the loop. The eventfd is non-zero exactly when
/// `pending` is not empty: both change under the lock.
struct Shared {
    pending: Mutex<Pending>,
    wake: Option<EventFd>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic elsewhere while holding the lock leaves a queue of paths that is still valid.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether an event can change what a crontab says or whether it may be loaded, and whether
/// it is a write that is only worth reporting once the file has settled.
fn matters(kind: &EventKind) -> Option<bool> {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(false),
        EventKind::Access(_) => None,
        EventKind::Modify(ModifyKind::Data(_)) => Some(true),
        _ => Some(false),
    }
}

/// Watches the crontab files and directories; see the module comment.
pub struct Watcher {
    targets: Vec<Target>,
    shared: Arc<Shared>,
    inotify: Option<RecommendedWatcher>,
    /// Why some paths are polled, for `fallback`.
    why: Option<String>,
}

impl Watcher {
    /// Starts watching. Never fails: what inotify cannot watch is polled, and
    /// [`Watcher::fallback`] says why.
    pub fn new(paths: &WatchPaths) -> Watcher {
        Watcher::start(paths, None)
    }

    fn start(paths: &WatchPaths, force_polling: Option<&str>) -> Watcher {
        let mut seen = BTreeSet::new();
        let mut targets = Vec::new();
        let listed = paths.files.iter().map(|p| (p, false));
        for (given, dir) in listed.chain(paths.dirs.iter().map(|p| (p, true))) {
            let abs = std::path::absolute(given).unwrap_or_else(|_| given.clone());
            if seen.insert(abs.clone()) {
                targets.push(Target {
                    given: given.clone(),
                    abs,
                    dir,
                    watched: None,
                    polled: None,
                });
            }
        }
        let wake = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC);
        let wake_error = wake
            .as_ref()
            .err()
            .map(|e| format!("cannot create an eventfd: {e}"));
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: wake.ok(),
        });
        let mut watcher = Watcher {
            targets,
            shared,
            inotify: None,
            why: None,
        };

        let no_inotify = match (force_polling, wake_error) {
            (Some(why), _) => Some(why.to_string()),
            (None, Some(why)) => Some(why),
            (None, None) => match watcher.start_inotify() {
                Ok(inotify) => {
                    watcher.inotify = Some(inotify);
                    None
                }
                Err(e) => Some(format!("inotify is not available: {e}")),
            },
        };
        match no_inotify {
            Some(why) => {
                for i in 0..watcher.targets.len() {
                    watcher.poll_target(i, why.clone());
                }
            }
            None => {
                for i in 0..watcher.targets.len() {
                    if let Err(why) = watcher.arm(i) {
                        watcher.poll_target(i, why);
                    }
                }
            }
        }
        watcher.update_why();
        watcher
    }

    fn start_inotify(&self) -> notify::Result<RecommendedWatcher> {
        let shared = Arc::clone(&self.shared);
        let interest: Vec<Interest> = self
            .targets
            .iter()
            .map(|t| Interest {
                abs: t.abs.clone(),
                dir: t.dir,
            })
            .collect();
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let mut pending = shared.lock();
            let before = pending.is_empty();
            match event {
                Ok(event) => {
                    if event.need_rescan() {
                        pending.rescan = true;
                    }
                    if let Some(settle) = matters(&event.kind) {
                        let relevant = event
                            .paths
                            .into_iter()
                            .filter(|p| interest.iter().any(|i| i.covers(p)));
                        if settle {
                            // Each write of a save would wake the loop: only the first one
                            // after a quiet spell does, so that it can time the settling.
                            let first = pending.written.is_empty();
                            let now = Instant::now();
                            pending.written.extend(relevant.map(|p| (p, now)));
                            if first
                                && !pending.written.is_empty()
                                && let Some(wake) = &shared.wake
                            {
                                let _ = wake.write(1);
                            }
                            return;
                        }
                        let relevant: Vec<PathBuf> = relevant.collect();
                        for p in &relevant {
                            // Closed after writing: reported now, not once settled.
                            pending.written.remove(p);
                        }
                        pending.paths.extend(relevant);
                        // A storm of changes while the loop is busy: a rescan covers them all
                        // and keeps the queue small.
                        if pending.paths.len() > MAX_QUEUED {
                            pending.paths.clear();
                            pending.rescan = true;
                        }
                    }
                }
                Err(e) => pending.failure = Some(e.to_string()),
            }
            if before
                && !pending.is_empty()
                && let Some(wake) = &shared.wake
            {
                // Cannot fail short of 2^64 - 1 unread wakes.
                let _ = wake.write(1);
            }
        })
    }

    /// Readable when changes are queued; then call [`Watcher::drain`]. `None` only when the
    /// process could not create an eventfd (out of descriptors): then every path is polled.
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.shared.wake.as_ref().map(AsFd::as_fd)
    }

    /// The changed paths since the last call, deduplicated (see the module comment for what a
    /// directory means); makes the wake fd unreadable until the next change.
    pub fn drain(&mut self) -> Vec<PathBuf> {
        let pending = {
            let mut guard = self.shared.lock();
            if let Some(wake) = &self.shared.wake {
                // EAGAIN when nothing was queued: a spurious call is harmless.
                let _ = wake.read();
            }
            // Files still being written stay until they settle (see `settled`).
            let written = std::mem::take(&mut guard.written);
            let taken = std::mem::take(&mut *guard);
            guard.written = written;
            taken
        };
        let mut out = Vec::new();
        let mut rearm = BTreeSet::new();
        if let Some(failure) = pending.failure {
            self.give_up_inotify(format!("inotify failed: {failure}"));
            out.extend(self.targets.iter().map(|t| t.given.clone()));
        }
        if pending.rescan {
            rearm.extend(0..self.targets.len());
        }
        for p in &pending.paths {
            for (i, t) in self.targets.iter().enumerate() {
                if t.dir && p.parent() == Some(t.abs.as_path()) && p != &t.abs {
                    if let Some(name) = p.file_name() {
                        out.push(t.given.join(name));
                    }
                } else if t.abs.starts_with(p) {
                    rearm.insert(i);
                }
            }
        }
        for i in rearm {
            if self.targets[i].polled.is_some() {
                continue;
            }
            out.push(self.targets[i].given.clone());
            if let Err(why) = self.arm(i) {
                self.poll_target(i, why);
            }
        }
        self.update_why();
        dedup(out)
    }

    /// The files written without a close that have now been quiet for [`SETTLE`], as
    /// [`Watcher::drain`] reports paths; call it when [`Watcher::settle_in`] runs out.
    pub fn settled(&mut self) -> Vec<PathBuf> {
        {
            let mut guard = self.shared.lock();
            let now = Instant::now();
            let due: Vec<PathBuf> = guard
                .written
                .iter()
                .filter(|(_, at)| now.saturating_duration_since(**at) >= SETTLE)
                .map(|(p, _)| p.clone())
                .collect();
            if due.is_empty() {
                return Vec::new();
            }
            for p in &due {
                guard.written.remove(p);
            }
            guard.paths.extend(due);
        }
        self.drain()
    }

    /// How long until a file written without a close settles, while one is waiting to.
    pub fn settle_in(&self) -> Option<Duration> {
        let guard = self.shared.lock();
        let first = guard.written.values().min()?;
        Some((*first + SETTLE).saturating_duration_since(Instant::now()))
    }

    /// `Some((interval, why))` when some paths cannot be watched: call
    /// [`Watcher::poll_changes`] every `interval`.
    pub fn fallback(&self) -> Option<(Duration, &str)> {
        self.why.as_deref().map(|why| (FALLBACK_INTERVAL, why))
    }

    /// For the fallback: the polled paths whose stamps changed since the last call (a
    /// directory when it appeared or vanished, else its changed entries), plus any polled path
    /// that inotify could now watch (to be rescanned, as its changes were not followed).
    pub fn poll_changes(&mut self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for i in 0..self.targets.len() {
            let t = &mut self.targets[i];
            let Some((old, why)) = t.polled.take() else {
                continue;
            };
            let new = Snapshot::take(&t.abs, t.dir);
            let kind = |s: &Snapshot| s.own.map(|st| (st.dev, st.ino));
            if (!t.dir && old.own != new.own) || (t.dir && kind(&old) != kind(&new)) {
                out.push(t.given.clone());
            }
            let names: BTreeSet<&OsString> = old.entries.keys().chain(new.entries.keys()).collect();
            for name in names {
                if old.entries.get(name) != new.entries.get(name) {
                    out.push(t.given.join(name));
                }
            }
            t.polled = Some((new, why));
            if self.inotify.is_some() && self.arm(i).is_ok() {
                self.targets[i].polled = None;
                out.push(self.targets[i].given.clone());
            }
        }
        self.update_why();
        dedup(out)
    }

    /// Watches target `i` (itself, or its nearest existing ancestor), replacing its previous
    /// watch. `Err` says why it cannot be watched.
    fn arm(&mut self, i: usize) -> Result<(), String> {
        // A path that keeps appearing and vanishing: the last watch stands, and the caller
        // reports the target, so whatever it became is read.
        for _ in 0..8 {
            let abs = self.targets[i].abs.clone();
            let want = abs
                .ancestors()
                .find(|a| a.exists())
                .unwrap_or(Path::new("/"))
                .to_path_buf();
            self.release(i);
            let Some(inotify) = self.inotify.as_mut() else {
                return Err("inotify is not available".into());
            };
            match inotify.watch(&want, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.targets[i].watched = Some(want.clone());
                    // It appeared between the look and the watch: watch it instead.
                    if want != abs && abs.exists() {
                        continue;
                    }
                    return Ok(());
                }
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(format!("cannot watch {}: {e}", want.display())),
            }
        }
        Ok(())
    }

    /// Drops target `i`'s watch unless another target shares it.
    fn release(&mut self, i: usize) {
        let Some(prev) = self.targets[i].watched.take() else {
            return;
        };
        let shared = self
            .targets
            .iter()
            .any(|t| t.watched.as_ref() == Some(&prev));
        if !shared && let Some(inotify) = self.inotify.as_mut() {
            // Already gone when its inode was deleted; nothing to do then.
            let _ = inotify.unwatch(&prev);
        }
    }

    fn poll_target(&mut self, i: usize, why: String) {
        self.release(i);
        let t = &mut self.targets[i];
        t.polled = Some((Snapshot::take(&t.abs, t.dir), why));
    }

    fn give_up_inotify(&mut self, why: String) {
        for i in 0..self.targets.len() {
            if self.targets[i].polled.is_none() {
                self.poll_target(i, why.clone());
            }
        }
        self.inotify = None;
    }

    fn update_why(&mut self) {
        let whys: BTreeSet<&str> = self
            .targets
            .iter()
            .filter_map(|t| t.polled.as_ref().map(|(_, why)| why.as_str()))
            .collect();
        self.why = if whys.is_empty() {
            None
        } else {
            Some(whys.into_iter().collect::<Vec<_>>().join("; "))
        };
    }
}

fn vanished(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

fn dedup(mut paths: Vec<PathBuf>) -> Vec<PathBuf> {
    paths.sort();
    paths.dedup();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Watcher {
        /// Polls every path, never using inotify, as when inotify fails.
        fn polling(paths: &WatchPaths, why: &str) -> Watcher {
            Watcher::start(paths, Some(why))
        }
    }
    use std::time::Instant;

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    /// The test's upper bound for a change to show up; never a measurement.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// Waits on the wake fd as the daemon's loop does, draining until `want` is reported.
    /// Returns everything reported on the way.
    fn wait_for(w: &mut Watcher, want: &Path) -> Vec<PathBuf> {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        while !seen.iter().any(|p: &PathBuf| p == want) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{} never reported; saw {seen:?}",
                want.display()
            );
            let ready = {
                let fd = w.wake_fd().expect("wake fd");
                let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
                poll(
                    &mut fds,
                    PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
                )
                .expect("poll")
            };
            if ready > 0 {
                seen.extend(w.drain());
            }
        }
        seen
    }

    fn dirs(dirs: &[&Path]) -> WatchPaths {
        WatchPaths {
            files: Vec::new(),
            dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
        }
    }

    #[test]
    fn create_modify_rename_over_and_delete_in_a_directory_show_up() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("cron.d");
        fs::create_dir(&d).expect("mkdir");
        let mut w = Watcher::new(&dirs(&[&d]));
        assert_eq!(w.fallback(), None);
        let job = d.join("job");

        fs::write(&job, "* * * * * a\n").expect("create");
        wait_for(&mut w, &job);

        fs::write(&job, "* * * * * b\n").expect("modify in place");
        wait_for(&mut w, &job);

        let tmp_file = d.join(".job.swp");
        fs::write(&tmp_file, "* * * * * c\n").expect("write tmp");
        fs::rename(&tmp_file, &job).expect("rename over");
        wait_for(&mut w, &job);

        fs::remove_file(&job).expect("delete");
        wait_for(&mut w, &job);
    }

    #[test]
    fn a_configured_file_is_followed_across_rename_over_delete_and_recreate() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("crontab");
        fs::write(&file, "one\n").expect("write");
        let mut w = Watcher::new(&WatchPaths {
            files: vec![file.clone()],
            dirs: Vec::new(),
        });
        assert_eq!(w.fallback(), None);

        fs::write(&file, "two\n").expect("modify in place");
        wait_for(&mut w, &file);

        // Twice: the second edit proves the watch moved to the new inode.
        for text in ["three\n", "four\n"] {
            let side = tmp.path().join("crontab.new");
            fs::write(&side, text).expect("write tmp");
            fs::rename(&side, &file).expect("rename over");
            wait_for(&mut w, &file);
        }
        fs::write(&file, "five\n").expect("modify the renamed-in file");
        wait_for(&mut w, &file);

        fs::remove_file(&file).expect("delete");
        wait_for(&mut w, &file);
        fs::write(&file, "six\n").expect("recreate");
        wait_for(&mut w, &file);
        fs::write(&file, "seven\n").expect("modify the recreated file");
        wait_for(&mut w, &file);
    }

    #[test]
    fn spool_created_after_the_watcher_started_shows_up_and_is_watched() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let spool = tmp.path().join("spool/cron/crontabs");
        let mut w = Watcher::new(&dirs(&[&spool]));
        assert_eq!(w.fallback(), None);

        // Other files next to the missing spool are not reported.
        fs::write(tmp.path().join("unrelated"), "x").expect("write");
        fs::create_dir_all(&spool).expect("mkdir -p");
        let seen = wait_for(&mut w, &spool);
        assert!(
            seen.iter().all(|p| p.starts_with(tmp.path().join("spool"))),
            "{seen:?}"
        );

        let alice = spool.join("alice");
        fs::write(&alice, "* * * * * true\n").expect("create");
        wait_for(&mut w, &alice);

        // Deleted, then created again: still followed.
        fs::remove_file(&alice).expect("rm");
        fs::remove_dir(&spool).expect("rmdir");
        wait_for(&mut w, &spool);
        fs::create_dir(&spool).expect("mkdir");
        wait_for(&mut w, &spool);
        fs::write(&alice, "* * * * * true\n").expect("create");
        wait_for(&mut w, &alice);
    }

    #[test]
    fn reading_a_crontab_does_not_report_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().to_path_buf();
        let job = d.join("job");
        fs::write(&job, "* * * * * true\n").expect("write");
        let mut w = Watcher::new(&dirs(&[&d]));
        for _ in 0..3 {
            fs::read_to_string(&job).expect("read");
            fs::read_dir(&d).expect("readdir").for_each(drop);
        }
        // A later change is reported alone: the reads above queued nothing.
        let sentinel = d.join("sentinel");
        fs::write(&sentinel, "").expect("write");
        let seen = wait_for(&mut w, &sentinel);
        assert_eq!(seen, vec![sentinel]);
    }

    #[test]
    fn chmod_of_a_crontab_shows_up() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().to_path_buf();
        let job = d.join("job");
        fs::write(&job, "* * * * * true\n").expect("write");
        let mut w = Watcher::new(&dirs(&[&d]));
        fs::set_permissions(&job, fs::Permissions::from_mode(0o600)).expect("chmod");
        wait_for(&mut w, &job);
    }

    #[test]
    fn relative_paths_are_reported_as_configured() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cwd = std::env::current_dir().expect("cwd");
        let Ok(rel) = tmp.path().strip_prefix(&cwd).map(Path::to_path_buf) else {
            println!("skipped: the temporary directory is not under the current directory");
            return;
        };
        let mut w = Watcher::new(&dirs(&[&rel]));
        fs::write(tmp.path().join("job"), "").expect("write");
        wait_for(&mut w, &rel.join("job"));
    }

    #[test]
    fn polling_fallback_reports_changes_by_stamp() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("cron.d");
        let file = tmp.path().join("crontab");
        let mut w = Watcher::polling(
            &WatchPaths {
                files: vec![file.clone()],
                dirs: vec![d.clone()],
            },
            "told to poll",
        );
        assert_eq!(w.fallback(), Some((FALLBACK_INTERVAL, "told to poll")));
        assert!(w.poll_changes().is_empty());

        fs::create_dir(&d).expect("mkdir");
        assert_eq!(w.poll_changes(), vec![d.clone()]);
        let job = d.join("job");
        fs::write(&job, "a\n").expect("create");
        fs::write(&file, "a\n").expect("create");
        assert_eq!(w.poll_changes(), vec![d.join("job"), file.clone()]);
        assert!(w.poll_changes().is_empty());

        fs::write(&job, "longer\n").expect("modify");
        assert_eq!(w.poll_changes(), vec![job.clone()]);
        let side = d.join("job.tmp");
        fs::write(&side, "b\n").expect("write tmp");
        fs::rename(&side, &job).expect("rename over");
        assert_eq!(w.poll_changes(), vec![job.clone()]);
        fs::remove_file(&job).expect("delete");
        fs::remove_file(&file).expect("delete");
        assert_eq!(w.poll_changes(), vec![job, file]);
        assert_eq!(w.fallback(), Some((FALLBACK_INTERVAL, "told to poll")));
    }

    #[test]
    fn a_polled_path_goes_back_to_inotify_when_it_can_be_watched() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().to_path_buf();
        let mut w = Watcher::new(&dirs(&[&d]));
        // As if the watch limit had been reached when the watcher started.
        w.poll_target(0, "OS file watch limit reached.".into());
        w.update_why();
        assert_eq!(
            w.fallback(),
            Some((FALLBACK_INTERVAL, "OS file watch limit reached."))
        );

        // The next poll watches it again and asks for a rescan of what was polled.
        assert_eq!(w.poll_changes(), vec![d.clone()]);
        assert_eq!(w.fallback(), None);
        let job = d.join("job");
        fs::write(&job, "").expect("write");
        wait_for(&mut w, &job);
    }

    #[test]
    fn an_inotify_error_switches_everything_to_polling() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("cron.d");
        fs::create_dir(&d).expect("mkdir");
        let file = tmp.path().join("crontab");
        let mut w = Watcher::new(&WatchPaths {
            files: vec![file.clone()],
            dirs: vec![d.clone()],
        });
        {
            // What notify's thread does with an error it reads from inotify.
            let mut pending = w.shared.lock();
            pending.failure = Some("read failed".into());
            if let Some(wake) = &w.shared.wake {
                wake.write(1).expect("wake");
            }
        }
        assert_eq!(wait_for(&mut w, &d), vec![d.clone(), file.clone()]);
        assert_eq!(
            w.fallback(),
            Some((FALLBACK_INTERVAL, "inotify failed: read failed"))
        );
        fs::write(d.join("job"), "").expect("write");
        assert_eq!(w.poll_changes(), vec![d.join("job")]);
    }

    #[test]
    fn from_sources_watches_files_and_directories() {
        let cfg = SourcesConfig {
            system_crontab: Some("/etc/crontab".into()),
            system_dirs: vec!["/etc/cron.d".into()],
            user_spool: Some("/var/spool/cron/crontabs".into()),
            extra_user_crontabs: vec!["demo/a.cron".into()],
            as_root: true,
            own_user: "root".into(),
            own_uid: 0,
            stdin: None,
        };
        let paths = WatchPaths::from_sources(&cfg);
        assert_eq!(
            paths.files,
            [PathBuf::from("/etc/crontab"), "demo/a.cron".into()]
        );
        assert_eq!(
            paths.dirs,
            [
                PathBuf::from("/etc/cron.d"),
                "/var/spool/cron/crontabs".into()
            ]
        );
    }
}
