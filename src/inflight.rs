//! The runs in flight, on disk, so that a daemon killed outright (SIGKILL, the OOM killer, a
//! crash) can be followed by one that says what became of them. The jobs of a killed daemon
//! live on as orphans: nothing reads their output any more, and nobody logs their end. The
//! next daemon reads what was left open and reports each run: still running (its pid and
//! job), or ended while no daemon was there (its status lost).
//!
//! The journal is one append-only file in the state directory: a header naming the boot it
//! was written in, then a line per start (`S pid start_ms user job`) and per end (`E pid`).
//! It is written without fsync, since the page cache outlives the daemon, and a crash of the
//! machine ends its jobs too (the boot id says so). It never grows past a few times the runs
//! in flight: once the lines written outnumber them well, the live ones are written to a new
//! file that replaces it (a rename, so a reader sees one or the other whole).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The journal's name in the state directory.
const FILE_NAME: &str = "inflight";

/// The first word of the header; the format may change with its number.
const MAGIC: &str = "cronwright-inflight-1";

/// Ends and starts written before the file is rewritten with only the live runs, at least.
const COMPACT_AFTER: usize = 4096;

/// A run the journal had open: started, with no end written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenRun {
    pub pid: u32,
    /// Unix milliseconds when it started.
    pub started_ms: i64,
    pub user: String,
    pub job: String,
}

/// What became of a run the last daemon left open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Its process is still there: an orphan nobody follows.
    Running,
    /// Its process is gone; how it ended is not known.
    Ended,
}

/// What the last daemon left: the runs still open, each with its fate, or how many runs a
/// reboot ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Leftover {
    pub runs: Vec<(OpenRun, Fate)>,
    /// Runs left open in an earlier boot of the machine: they ended with it.
    pub ended_by_reboot: usize,
}

/// The open journal of this daemon.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    boot: String,
    /// The start line of each run in flight, by pid.
    live: HashMap<u32, String>,
    /// Lines written since the file was last rewritten.
    written: usize,
}

impl Journal {
    /// Reads what the last daemon left in `state_dir` (creating the directory, 0700, if it is
    /// missing) and starts a new journal there. `alive` tells whether a pid runs now and
    /// when it started (Unix seconds), as [`process_start`] reads it.
    pub fn open(
        state_dir: &Path,
        alive: impl Fn(u32) -> Option<i64>,
    ) -> io::Result<(Journal, Leftover)> {
        if !state_dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(state_dir)?;
        }
        let path = state_dir.join(FILE_NAME);
        let boot = boot_id();
        let leftover = match std::fs::read_to_string(&path) {
            Ok(text) => leftover(&text, &boot, alive),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Leftover::default(),
            Err(e) => return Err(e),
        };
        let live = HashMap::new();
        let file = rewrite(&path, &boot, &live)?;
        let journal = Journal {
            path,
            file,
            boot,
            live,
            written: 0,
        };
        Ok((journal, leftover))
    }

    /// Notes a run's start.
    pub fn started(&mut self, pid: u32, started_ms: i64, user: &str, job: &str) {
        // One line per run: a job reference holds no newline, a user name no space.
        let line = format!("S {pid} {started_ms} {user} {}\n", job.replace('\n', " "));
        self.append(&line);
        self.live.insert(pid, line);
    }

    /// Notes a run's end (its process exited).
    pub fn ended(&mut self, pid: u32) {
        if self.live.remove(&pid).is_some() {
            self.append(&format!("E {pid}\n"));
        }
    }

    /// The daemon stops with no run in flight it started: nothing is left to report.
    pub fn close(self) {
        if self.live.is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn append(&mut self, line: &str) {
        // A failed write loses only what a later restart could report; the run goes on.
        let _ = self.file.write_all(line.as_bytes());
        self.written += 1;
        if self.written >= COMPACT_AFTER && self.written > 4 * self.live.len() {
            if let Ok(file) = rewrite(&self.path, &self.boot, &self.live) {
                self.file = file;
                self.written = 0;
            }
        }
    }
}

/// Writes a journal holding the header and the `live` runs beside `path` and renames it over
/// `path`; returns it, open for appending.
fn rewrite(path: &Path, boot: &str, live: &HashMap<u32, String>) -> io::Result<File> {
    let new = path.with_extension("new");
    let mut file = create(&new)?;
    let mut text = format!("{MAGIC} {boot}\n");
    for line in live.values() {
        text.push_str(line);
    }
    file.write_all(text.as_bytes())?;
    std::fs::rename(&new, path)?;
    Ok(file)
}

/// A new file at `path` for writing, mode 0600, never through a symbolic link (also for
/// the other files of the state directory).
pub(crate) fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Replaces the file at `path` whole with `data` (mode `mode`): written beside it, fsynced,
/// renamed over it, and the directory fsynced, so a reader or a crash sees the old file or
/// the new one, never half of one.
pub(crate) fn replace_whole(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    let new = path.with_file_name(name);
    let mut file = create(&new)?;
    file.write_all(data)?;
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    file.sync_all()?;
    std::fs::rename(&new, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The runs `text` (a journal) has open, with their fates. A run counts as still running
/// only if a process has its pid and started within two seconds of it (`/proc` counts in
/// clock ticks from a boot time in whole seconds), so a pid used again is not taken for it.
fn leftover(text: &str, boot: &str, alive: impl Fn(u32) -> Option<i64>) -> Leftover {
    let mut lines = text.lines();
    let same_boot = lines
        .next()
        .and_then(|h| h.strip_prefix(MAGIC))
        .is_some_and(|id| id.trim() == boot);
    let mut open: Vec<OpenRun> = Vec::new();
    for line in lines {
        let mut words = line.splitn(5, ' ');
        match (
            words.next(),
            words.next().and_then(|p| p.parse::<u32>().ok()),
        ) {
            (Some("S"), Some(pid)) => {
                let started_ms = words.next().and_then(|t| t.parse().ok());
                let user = words.next();
                let job = words.next();
                if let (Some(started_ms), Some(user), Some(job)) = (started_ms, user, job) {
                    open.retain(|r| r.pid != pid);
                    open.push(OpenRun {
                        pid,
                        started_ms,
                        user: user.to_owned(),
                        job: job.to_owned(),
                    });
                }
            }
            (Some("E"), Some(pid)) => open.retain(|r| r.pid != pid),
            // A line cut short by the kill: nothing to learn from it.
            _ => {}
        }
    }
    if !same_boot {
        return Leftover {
            runs: Vec::new(),
            ended_by_reboot: open.len(),
        };
    }
    let runs = open
        .into_iter()
        .map(|run| {
            let fate = match alive(run.pid) {
                Some(at) if (at - run.started_ms.div_euclid(1000)).abs() <= 2 => Fate::Running,
                _ => Fate::Ended,
            };
            (run, fate)
        })
        .collect();
    Leftover {
        runs,
        ended_by_reboot: 0,
    }
}

/// This boot of the machine, as the kernel names it.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// When process `pid` started (Unix seconds), if it runs: `/proc/PID/stat`'s start time
/// (clock ticks since boot) after `/proc/stat`'s boot time. A zombie has ended: it only
/// waits for its new parent to reap it.
pub(crate) fn process_start(pid: u32) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may hold spaces: fields are counted after its end.
    let mut fields = stat[stat.rfind(')')? + 2..].split(' ');
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    // Field 22 of the whole line is the 19th after the state.
    let ticks: i64 = fields.nth(18)?.parse().ok()?;
    let boot: i64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())?;
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&t| t > 0)
        .unwrap_or(100);
    Some(boot + ticks / per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "5c6f3b1e-0000-4000-8000-000000000001";

    fn journal(lines: &str) -> String {
        format!("{MAGIC} {BOOT}\n{lines}")
    }

    fn run(pid: u32, started_ms: i64) -> OpenRun {
        OpenRun {
            pid,
            started_ms,
            user: "alice".into(),
            job: "/var/spool/cron/crontabs/alice:3".into(),
        }
    }

    #[test]
    fn runs_started_and_not_ended_are_left_over_with_their_fate() {
        let text = journal(
            "S 10 1000000 alice /var/spool/cron/crontabs/alice:3\n\
             S 11 1000000 alice /var/spool/cron/crontabs/alice:3\n\
             E 10\n\
             S 12 1000000 alice /var/spool/cron/crontabs/alice:3\n\
             S 13 1000000 alice /var/spool/cron/crontabs/alice:3\n\
             S 14 10",
        );
        // 11 runs since 1000 s; 12 is gone; 13's pid now belongs to a later process; 14's
        // line was cut short by the kill.
        let alive = |pid| match pid {
            11 => Some(1001),
            13 => Some(5000),
            _ => None,
        };
        let left = leftover(&text, BOOT, alive);
        assert_eq!(
            left.runs,
            vec![
                (run(11, 1_000_000), Fate::Running),
                (run(12, 1_000_000), Fate::Ended),
                (run(13, 1_000_000), Fate::Ended),
            ]
        );
        assert_eq!(left.ended_by_reboot, 0);
    }

    #[test]
    fn runs_of_an_earlier_boot_ended_with_it() {
        let text = journal("S 11 1000000 alice /var/spool/cron/crontabs/alice:3\n");
        let left = leftover(&text, "another-boot", |_| Some(1000));
        assert_eq!(
            left,
            Leftover {
                runs: vec![],
                ended_by_reboot: 1
            }
        );
    }

    #[test]
    fn the_journal_keeps_what_is_open_across_a_kill_and_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let (mut j, left) = Journal::open(&state, |_| None).unwrap();
        assert_eq!(left, Leftover::default());
        for pid in 1..=10_000 {
            j.started(pid, 1_000_000, "alice", "/etc/cron.d/x:1");
            if pid != 7 {
                j.ended(pid);
            }
        }
        let size = std::fs::metadata(state.join(FILE_NAME)).unwrap().len();
        assert!(size < 200_000, "the journal grew to {size} bytes");
        // Killed here: dropped without close. The next daemon finds run 7 open.
        drop(j);
        let (j, left) = Journal::open(&state, |pid| (pid == 7).then_some(1000)).unwrap();
        let open: Vec<_> = left.runs.iter().map(|(r, f)| (r.pid, f.clone())).collect();
        assert_eq!(open, vec![(7, Fate::Running)]);
        // A clean stop with nothing in flight leaves nothing to report.
        j.close();
        let (_, left) = Journal::open(&state, |_| Some(1000)).unwrap();
        assert_eq!(left, Leftover::default());
    }

    #[test]
    fn a_process_start_is_read_from_proc() {
        let me = std::process::id();
        let now = chrono::Utc::now().timestamp();
        let started = process_start(me).expect("this process exists");
        // The test binary started before now, and not days ago.
        assert!(
            started <= now + 1 && started > now - 86_400,
            "{started} vs {now}"
        );
        assert_eq!(process_start(u32::MAX), None);
    }

    #[test]
    fn a_zombie_is_not_running() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let stat = format!("/proc/{}/stat", child.id());
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !std::fs::read_to_string(&stat).unwrap().contains(") Z ") {
            assert!(
                std::time::Instant::now() < give_up,
                "the child never exited"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(process_start(child.id()), None);
        child.wait().unwrap();
    }
}
