//! The loaded table: every crontab file the daemon knows, its jobs in the scheduler, and how a
//! file is loaded, refused, forgotten or reloaded.
//!
//! Reloads are per file and atomic: a file is read and parsed in full, then its old jobs are
//! replaced by the new ones. Running jobs are never touched by a reload (they hold their own
//! [`JobInfo`]). Nothing here logs: every operation returns what happened as [`Change`]s, in
//! order, and the loop words them. So the table is tested by loading real files from a
//! temporary directory, with no daemon running.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::cron::{
    Catchup, Diagnostic, Env, Policy, Schedule, Times, Zone, ZoneRule, parse_crontab_each,
};
use crate::job_id::{entry_id, jitter_offset};
use crate::resolve::{Note, Resolver, RunAs, Skip, load_source, parse_for_daemon};
use crate::scheduler::{ClockStep, JobKey, Scheduled, Scheduler};
use crate::sources::{self, Loaded, Refusal, Source, SourcesConfig, Stamp, Verdict};

/// One loaded crontab's commands and standard inputs, end to end, shared by its jobs: they
/// name their text by offsets, so a file of 100,000 entries keeps one allocation for its text
/// instead of one per command. The text is set once the whole file is parsed; the jobs are
/// made (and scheduled) while it is parsed.
pub(crate) struct FileText {
    path: PathBuf,
    text: OnceLock<String>,
}

impl FileText {
    fn get(&self, start: usize, len: usize) -> &str {
        self.text
            .get()
            .and_then(|t| t.get(start..start + len))
            .unwrap_or_default()
    }
}

/// What the loop knows of one scheduled entry: 40 bytes, plus its text in the file's
/// [`FileText`]; the user and the environment are shared with the file's other entries.
#[derive(Clone)]
pub(crate) struct JobInfo {
    file: Arc<FileText>,
    entry: JobEntry,
}

/// A job apart from its file (what loading collects until the file's text is complete).
/// Offsets, lengths and line numbers fit in 24 bits (a crontab is at most
/// [`sources::MAX_CRONTAB_BYTES`]), which leaves room for the flag in `line`.
#[derive(Clone)]
struct JobEntry {
    run_as: Arc<RunAs>,
    /// The environment and policies in force at the entry's line, shared with the entries
    /// around it that have the same (one pointer, to keep an entry at 40 bytes).
    lines: Arc<Lines>,
    /// The command is `file.text[start..start + command_len]`; unless `stdin_len` is
    /// [`NO_STDIN`], the next `stdin_len` bytes are its standard input.
    start: u32,
    command_len: u32,
    stdin_len: u32,
    /// The line number, with [`NO_LOG`] set for entries that asked not to be logged.
    line: u32,
}

/// The environment and the policy lines above an entry.
struct Lines {
    env: Arc<Env>,
    policy: Arc<Policy>,
}

const NO_STDIN: u32 = u32::MAX;
const NO_LOG: u32 = 1 << 31;

// The per-entry memory budget (at most 150 bytes an entry, all told) rests on this size.
const _: () = assert!(std::mem::size_of::<JobInfo>() == 40);

impl JobInfo {
    /// `path:line`, as log lines name a job.
    pub(crate) fn job_ref(&self) -> String {
        format!("{}:{}", self.file.path.display(), self.entry.line & !NO_LOG)
    }

    /// Whether CMD, END (on success) and OUT lines are logged (no leading `-`).
    pub(crate) fn log(&self) -> bool {
        self.entry.line & NO_LOG == 0
    }

    pub(crate) fn command(&self) -> &str {
        self.file
            .get(self.entry.start as usize, self.entry.command_len as usize)
    }

    /// The text after the command's first unescaped `%`, already converted.
    pub(crate) fn stdin(&self) -> Option<&str> {
        let e = &self.entry;
        let start = e.start as usize + e.command_len as usize;
        (e.stdin_len != NO_STDIN).then(|| self.file.get(start, e.stdin_len as usize))
    }

    pub(crate) fn user(&self) -> &str {
        &self.entry.run_as.user
    }

    /// The uid the user had when a root daemon loaded this spool crontab (see [`RunAs::uid`]).
    pub(crate) fn uid_at_load(&self) -> Option<u32> {
        self.entry.run_as.uid
    }

    /// The crontab's variables in force at the entry's line.
    pub(crate) fn env(&self) -> &Env {
        &self.entry.lines.env
    }

    /// Whether `other` is a run of the same job, for `CRON_OVERLAP`: the same `CRON_NAME` of
    /// the same user, or else the same file, user, command and input. Entries are compared by
    /// what they are rather than by their place in the table, which a reload renews while a
    /// run goes on.
    pub(crate) fn same_job(&self, other: &JobInfo) -> bool {
        if self.user() != other.user() {
            return false;
        }
        match (&self.policy().name, &other.policy().name) {
            (Some(a), Some(b)) => a == b,
            (None, None) => {
                self.file.path == other.file.path
                    && self.command() == other.command()
                    && self.stdin() == other.stdin()
            }
            _ => false,
        }
    }

    /// The job's id (see `job_id`), given its schedule, which the table keeps beside it.
    pub(crate) fn id(&self, schedule: &Schedule) -> String {
        crate::job_id::job_id(
            self.policy().name.as_deref(),
            &self.file.path,
            self.user(),
            schedule,
            self.command(),
        )
    }

    /// The policies in force for the entry (`CRON_TIMEOUT`…; `None`s are the daemon's).
    pub(crate) fn policy(&self) -> &Policy {
        &self.entry.lines.policy
    }
}

/// What the table knows of one crontab file.
#[derive(Default)]
struct FileState {
    /// The file as it was at the last load; `None` while it is refused, so any change retries.
    stamp: Option<Stamp>,
    jobs: Vec<JobKey>,
    /// The last refusal reported for this file, so it is reported once, not on every look.
    refused: Option<String>,
}

/// Something that happened to the table, for the loop to log, in the order it happened.
#[derive(Debug)]
pub(crate) enum Change {
    /// A file in a crontab directory that is not a crontab by its name (reported once).
    Ignored { path: PathBuf, reason: String },
    /// A file was (re)loaded.
    Loaded(LoadReport),
    /// A file may not be loaded. `new_reason`: this reason was not reported for it before;
    /// `stopped`: it had jobs, which are now removed.
    Refused {
        path: PathBuf,
        refusal: Refusal,
        new_reason: bool,
        stopped: bool,
    },
    /// A file that is gone or no longer a crontab: its jobs were removed.
    Forgotten { path: PathBuf },
    /// A temporary file that a killed `crontab` left in the spool, removed.
    Swept { path: PathBuf },
    /// A file changed, but with errors (in `report`), and the load keeps its `jobs` loaded
    /// before ([`LoadContext::keep_on_error`]).
    Kept { report: LoadReport, jobs: usize },
}

/// One file's load.
#[derive(Debug)]
pub(crate) struct LoadReport {
    pub path: PathBuf,
    /// Entries loaded, `@reboot` ones included.
    pub entries: usize,
    /// Parser errors first, then what the daemon's rules said of each entry, in line order.
    pub notes: Vec<LoadNote>,
}

impl LoadReport {
    /// Lines that are not loaded.
    pub fn errors(&self) -> usize {
        self.notes
            .iter()
            .filter(|n| !matches!(n, LoadNote::Note { .. }))
            .count()
    }
}

/// What a load says about one line.
#[derive(Debug, PartialEq)]
pub(crate) enum LoadNote {
    /// The parser's error (warnings are `cronwright check`'s business, not the log's).
    Invalid(Diagnostic),
    /// A line that parsed but that the daemon's rules skip.
    Skipped { line: u32, skip: Skip },
    /// A line that runs, with something worth telling.
    Note { line: u32, note: Note },
}

/// Every crontab the daemon has loaded and the jobs they scheduled.
pub(crate) struct Table {
    /// Every file known, by path.
    files: HashMap<PathBuf, FileState>,
    /// Every job with its next deadline; the payload is what the loop needs to start it.
    scheduler: Scheduler<JobInfo>,
    /// One prepared zone per zone in use, shared by its jobs: preparing one reads the zone's
    /// offset changes into a table.
    zones: HashMap<ZoneRule, Arc<Zone>>,
    /// RANDOM_DELAY's generator (xorshift64; never zero).
    rng: u64,
    /// This host's machine-id, which spreads `CRON_JITTER` delays across a fleet.
    machine: String,
    /// The id of each job with `CRON_CATCHUP=once`, by its place.
    catchup: HashMap<JobKey, String>,
    /// Paths already reported as ignored, so a rescan does not report them again.
    ignored: HashSet<PathBuf>,
    /// `@reboot` entries found while loading at start; `None` once they have been taken, so
    /// later loads do not collect them.
    reboot_pending: Option<Vec<JobInfo>>,
}

/// What a load needs besides the file: the configuration and where the sources are.
pub(crate) struct LoadContext<'a> {
    pub config: &'a Config,
    pub sources: &'a SourcesConfig,
    /// Unix seconds: jobs are scheduled from here.
    pub now: i64,
    /// A file that loaded before and now has errors keeps its old jobs (container mode)
    /// rather than losing the lines in error.
    pub keep_on_error: bool,
}

impl Table {
    /// An empty table; `seed` starts RANDOM_DELAY's draws.
    pub fn new(seed: u64) -> Table {
        Table {
            files: HashMap::new(),
            scheduler: Scheduler::new(),
            zones: HashMap::new(),
            rng: seed | 1,
            machine: crate::job_id::machine_id(),
            catchup: HashMap::new(),
            ignored: HashSet::new(),
            reboot_pending: Some(Vec::new()),
        }
    }

    /// Removes a job from the schedule and from the catch-up jobs.
    fn remove_job(&mut self, key: JobKey) {
        self.scheduler.remove(key);
        self.catchup.remove(&key);
    }

    /// The jobs with `CRON_CATCHUP=once`: their place, id, schedule and zone.
    pub fn catchup_jobs(&self) -> Vec<(JobKey, &str, &Times, &Zone)> {
        self.catchup
            .iter()
            .filter_map(|(key, id)| {
                let (times, zone) = self.scheduler.schedule(*key)?;
                Some((*key, id.as_str(), times, zone))
            })
            .collect()
    }

    /// The id of a catch-up job, if `key` is one.
    pub fn catchup_id(&self, key: JobKey) -> Option<&str> {
        self.catchup.get(&key).map(String::as_str)
    }

    /// The job at `key`, if it is still in the table.
    pub fn job(&self, key: JobKey) -> Option<JobInfo> {
        self.scheduler.get(key).cloned()
    }

    /// How many files are known (loaded or refused).
    pub fn files(&self) -> usize {
        self.files.len()
    }

    /// How many jobs are scheduled (`@reboot` entries are not).
    pub fn jobs(&self) -> usize {
        self.scheduler.len()
    }

    /// The earliest deadline, Unix seconds.
    pub fn next_wake(&mut self) -> Option<i64> {
        self.scheduler.next_wake()
    }

    /// The jobs due at `now`, given how the clock moved, with the time each was due; each
    /// is rescheduled already.
    pub fn due(&mut self, now: i64, step: ClockStep) -> Vec<(JobKey, JobInfo, i64)> {
        let due = self.scheduler.tick(now, step);
        due.iter()
            .filter_map(|d| Some((d.key, self.scheduler.get(d.key).cloned()?, d.scheduled)))
            .collect()
    }

    /// The runs the last clock step passed over, with the time each was due.
    pub fn passed_over(&mut self) -> Vec<(JobKey, JobInfo, i64)> {
        self.scheduler
            .take_skipped()
            .iter()
            .filter_map(|d| Some((d.key, self.scheduler.get(d.key).cloned()?, d.scheduled)))
            .collect()
    }

    /// The id of the job at `key`, if it is still in the table.
    pub fn id_of(&self, key: JobKey) -> Option<String> {
        let (times, _) = self.scheduler.schedule(key)?;
        Some(self.scheduler.get(key)?.id(&Schedule::Times(*times)))
    }

    /// Every scheduled job, in table order.
    pub fn scheduled(&self) -> impl Iterator<Item = Scheduled<'_, JobInfo>> {
        self.scheduler.iter()
    }

    /// The files the zones in use were read from, to watch.
    pub fn zone_files(&self) -> impl Iterator<Item = &Path> {
        self.zones.keys().filter_map(ZoneRule::file)
    }

    /// The zones in use that were read from `file`.
    pub fn zones_from(&self, file: &Path) -> Vec<ZoneRule> {
        self.zones
            .keys()
            .filter(|z| z.file() == Some(file))
            .cloned()
            .collect()
    }

    /// How many jobs are scheduled in `zone`.
    pub fn jobs_in(&self, zone: &ZoneRule) -> usize {
        self.scheduler
            .iter()
            .filter(|j| j.zone.rule() == zone)
            .count()
    }

    /// Gives the jobs of the zone `old` the rules `new`, read again from its changed file, and
    /// reschedules them from `now`: how many jobs it has and how many got a new next time.
    /// `None` when nothing changes: the same name with the same offsets.
    pub fn rezone(&mut self, old: &ZoneRule, new: ZoneRule, now: i64) -> Option<(usize, usize)> {
        let old_zone = self.zones.remove(old)?;
        let new_zone = Arc::new(Zone::new(new.clone()));
        if old.name() == new.name() && old_zone.same_offsets(&new_zone) {
            self.zones.insert(old.clone(), old_zone);
            return None;
        }
        let counts = self.scheduler.rezone(&old_zone, &new_zone, now);
        self.zones.insert(new, new_zone);
        Some(counts)
    }

    /// The `@reboot` entries collected so far; later loads collect none.
    pub fn take_reboot_jobs(&mut self) -> Vec<JobInfo> {
        self.reboot_pending.take().unwrap_or_default()
    }

    /// Scans every source and loads every crontab; forgets files that are gone; sweeps the
    /// spool of crontab(1)'s stale temporary files (see [`sources::sweep_spool`]). `force`
    /// reloads files whose stamp did not change too (SIGHUP); otherwise only changed or new
    /// files are read again.
    pub fn load_all(&mut self, cx: &LoadContext<'_>, force: bool) -> Vec<Change> {
        let mut changes = Vec::new();
        // Every file is read again, and every zone with it: a SIGHUP after a `tzdata` update
        // must not keep the old rules.
        if force {
            self.zones.clear();
        }
        for path in sources::sweep_spool(cx.sources, cx.now) {
            changes.push(Change::Swept { path });
        }
        let scan = sources::scan(cx.sources);
        for (path, reason) in scan.ignored {
            self.ignore(path, reason, &mut changes);
        }
        let gone: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|p| !scan.sources.iter().any(|s| &s.path == *p))
            .cloned()
            .collect();
        for path in gone {
            self.forget(&path, &mut changes);
        }
        for source in scan.sources {
            self.load(&source, cx, !force, &mut changes);
        }
        changes
    }

    /// Reloads what changed: a path that is one of our crontabs is (re)loaded, a path that
    /// was one and is gone has its jobs removed, a directory means "scan again"; a change in
    /// the spool sweeps it as `load_all` does.
    pub fn reload_paths(&mut self, changed: Vec<PathBuf>, cx: &LoadContext<'_>) -> Vec<Change> {
        let mut changes = Vec::new();
        let cfg = cx.sources;
        let configured_dir = |p: &Path| {
            cfg.system_dirs.iter().any(|d| d == p) || cfg.user_spool.as_deref() == Some(p)
        };
        let mut rescan = false;
        // Every install changes the spool, so a file left by one that was killed goes at the
        // next install after it is stale, not only at the next full scan.
        let spool_changed = changed.iter().any(|p| {
            p.parent()
                .is_some_and(|d| cfg.user_spool.as_deref() == Some(d))
        });
        for path in changed {
            if configured_dir(&path) {
                rescan = true;
                continue;
            }
            match sources::judge(&path, cfg) {
                Verdict::Source(source) => self.load(&source, cx, false, &mut changes),
                Verdict::Ignored(reason) => {
                    self.forget(&path, &mut changes);
                    self.ignore(path, reason, &mut changes);
                }
                Verdict::NotOurs => self.forget(&path, &mut changes),
            }
        }
        if rescan {
            changes.extend(self.load_all(cx, false));
        } else if spool_changed {
            for path in sources::sweep_spool(cfg, cx.now) {
                changes.push(Change::Swept { path });
            }
        }
        changes
    }

    fn ignore(&mut self, path: PathBuf, reason: String, changes: &mut Vec<Change>) {
        if self.ignored.insert(path.clone()) {
            changes.push(Change::Ignored { path, reason });
        }
    }

    fn forget(&mut self, path: &Path, changes: &mut Vec<Change>) {
        if let Some(state) = self.files.remove(path) {
            for key in state.jobs {
                self.remove_job(key);
            }
            changes.push(Change::Forgotten {
                path: path.to_path_buf(),
            });
        }
    }

    /// A file that may not be loaded (or is gone): its jobs stop; a new reason is reported
    /// once, and the file is retried when it changes.
    fn refuse(&mut self, path: &Path, refusal: Refusal, changes: &mut Vec<Change>) {
        if matches!(refusal, Refusal::NotFound) {
            self.forget(path, changes);
            return;
        }
        let reason = refusal.to_string();
        let state = self.files.entry(path.to_path_buf()).or_default();
        let new_reason = state.refused.as_deref() != Some(reason.as_str());
        state.refused = Some(reason);
        state.stamp = None;
        let jobs = std::mem::take(&mut state.jobs);
        let stopped = !jobs.is_empty();
        for key in jobs {
            self.remove_job(key);
        }
        if new_reason || stopped {
            changes.push(Change::Refused {
                path: path.to_path_buf(),
                refusal,
                new_reason,
                stopped,
            });
        }
    }

    /// Loads one crontab: checks it, parses it in full, then replaces its jobs. `quiet_if_same`
    /// skips files whose stamp has not changed since the last load (a full rescan).
    fn load(
        &mut self,
        source: &Source,
        cx: &LoadContext<'_>,
        quiet_if_same: bool,
        changes: &mut Vec<Change>,
    ) {
        let loaded = match load_source(source, cx.sources, cx.config) {
            Ok(l) => l,
            Err(refusal) => return self.refuse(&source.path, refusal, changes),
        };
        if quiet_if_same
            && self
                .files
                .get(&source.path)
                .is_some_and(|s| s.stamp == Some(loaded.stamp))
        {
            return;
        }
        if cx.keep_on_error && self.keep(source, &loaded, cx, changes) {
            return;
        }
        // Entries become compact jobs as they are parsed, straight into the scheduler: the
        // parser's `Entry` (a `String` per command) never piles up, and the commands land in
        // one text per file, set when the file is parsed in full.
        // The old jobs go before the new ones come: the file is read in full already and a
        // parse never fails as a whole, and the new jobs then take the lowest free places of
        // the table, so a file that shrinks lets the table shrink too.
        if let Some(state) = self.files.get_mut(&source.path) {
            for key in std::mem::take(&mut state.jobs) {
                self.remove_job(key);
            }
        }
        let resolver = Resolver::new(cx.config, cx.sources.as_root, &cx.sources.own_user);
        let mut diagnostics = Vec::new();
        // The commands are part of the file, so its length is about theirs (`%` input gains
        // at most a final newline): one allocation, almost always.
        let mut text = String::with_capacity(loaded.text.len());
        let mut notes = Vec::new();
        let file = Arc::new(FileText {
            path: source.path.clone(),
            text: OnceLock::new(),
        });
        let mut jobs = Vec::new();
        let mut reboot = Vec::new();
        // Nearly every entry of a file has the zone of the one before it.
        let mut last_zone: Option<(ZoneRule, Arc<Zone>)> = None;
        let mut last_lines: Option<Arc<Lines>> = None;
        let Table {
            zones,
            scheduler,
            rng,
            machine,
            catchup,
            ..
        } = self;
        parse_crontab_each(&loaded.text, source.format, &mut diagnostics, |entry| {
            let resolved = match resolver.resolve(source, &entry) {
                Ok(r) => r,
                Err(skip) => {
                    notes.push(LoadNote::Skipped {
                        line: entry.line,
                        skip,
                    });
                    return;
                }
            };
            if let Some(note) = resolved.note {
                notes.push(LoadNote::Note {
                    line: entry.line,
                    note,
                });
            }
            // The job's id, for the policies that need one: CRON_JITTER's delay is drawn
            // from it, and CRON_CATCHUP's state is kept by it.
            let catches_up =
                entry.policy.catchup.unwrap_or(cx.config.jobs.catchup) == Catchup::Once;
            let id = (entry.policy.jitter_secs > 0 || catches_up)
                .then(|| entry_id(&source.path, &resolved.run_as.user, &entry));
            let jitter = id
                .as_deref()
                .map_or(0, |id| jitter_offset(machine, id, entry.policy.jitter_secs));
            // The file is at most MAX_CRONTAB_BYTES, so its commands fit u32 offsets.
            let start = text.len() as u32;
            text.push_str(&entry.command);
            if let Some(stdin) = &entry.stdin {
                text.push_str(stdin);
            }
            let info = JobInfo {
                file: Arc::clone(&file),
                entry: JobEntry {
                    run_as: resolved.run_as,
                    lines: match &last_lines {
                        Some(l)
                            if Arc::ptr_eq(&l.env, &entry.env)
                                && Arc::ptr_eq(&l.policy, &entry.policy) =>
                        {
                            Arc::clone(l)
                        }
                        _ => {
                            let l = Arc::new(Lines {
                                env: entry.env,
                                policy: entry.policy,
                            });
                            last_lines = Some(Arc::clone(&l));
                            l
                        }
                    },
                    start,
                    command_len: entry.command.len() as u32,
                    stdin_len: entry.stdin.as_ref().map_or(NO_STDIN, |s| s.len() as u32),
                    line: entry.line | if entry.log { 0 } else { NO_LOG },
                },
            };
            match entry.schedule {
                Schedule::Reboot => reboot.push(info),
                Schedule::Times(times) => {
                    let tz = resolved.zone;
                    let zone = match &last_zone {
                        Some((t, z)) if *t == tz => Arc::clone(z),
                        _ => {
                            let z = Arc::clone(
                                zones
                                    .entry(tz.clone())
                                    .or_insert_with(|| Arc::new(Zone::new(tz.clone()))),
                            );
                            last_zone = Some((tz, Arc::clone(&z)));
                            z
                        }
                    };
                    let delay = random_delay(rng, entry.random_delay_minutes) + jitter;
                    let key = scheduler.insert(times, zone, delay, info, cx.now);
                    if let (true, Some(id)) = (catches_up, id) {
                        catchup.insert(key, id);
                    }
                    jobs.push(key);
                }
            }
        });
        text.shrink_to_fit();
        // A new `FileText` for every load, so this is its first and only text.
        let _ = file.text.set(text);
        let invalid = diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .map(LoadNote::Invalid);
        let notes: Vec<LoadNote> = invalid.chain(notes).collect();
        let entries = jobs.len() + reboot.len();
        let state = self.files.entry(source.path.clone()).or_default();
        state.jobs = jobs;
        state.stamp = Some(loaded.stamp);
        state.refused = None;
        if let Some(pending) = self.reboot_pending.as_mut() {
            pending.extend(reboot);
        }
        changes.push(Change::Loaded(LoadReport {
            path: source.path.clone(),
            entries,
            notes,
        }));
    }
}

impl Table {
    /// Whether the file at `path` is loaded (read and parsed, not refused).
    pub fn is_loaded(&self, path: &Path) -> bool {
        self.files.get(path).is_some_and(|s| s.stamp.is_some())
    }

    /// Whether a file loaded before, now with errors, keeps its jobs: the errors are
    /// reported, the new text is not applied, and a later change is looked at again.
    fn keep(
        &mut self,
        source: &Source,
        loaded: &Loaded,
        cx: &LoadContext<'_>,
        changes: &mut Vec<Change>,
    ) -> bool {
        let Some(state) = self.files.get_mut(&source.path) else {
            return false;
        };
        if state.stamp.is_none() {
            return false;
        }
        let parsed = parse_for_daemon(&loaded.text, source.format, Some(cx.config));
        if !parsed.has_errors() {
            return false;
        }
        state.stamp = Some(loaded.stamp);
        let notes = parsed
            .diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .map(LoadNote::Invalid)
            .collect();
        changes.push(Change::Kept {
            report: LoadReport {
                path: source.path.clone(),
                entries: 0,
                notes,
            },
            jobs: state.jobs.len(),
        });
        true
    }
}

/// A draw of cronie's RANDOM_DELAY: seconds in `[0, minutes * 60)`.
fn random_delay(rng: &mut u64, minutes: u32) -> u32 {
    if minutes == 0 {
        return 0;
    }
    // xorshift64: a fair spread over the window is all RANDOM_DELAY needs.
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    (*rng % (u64::from(minutes) * 60)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    use crate::resolve::sources_config;

    /// A directory holding one extra user crontab (run as the test's own user), and what
    /// loading it needs.
    struct Fixture {
        dir: tempfile::TempDir,
        config: Config,
        sources: SourcesConfig,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let toml = format!(
                "[daemon]\ntimezone = \"UTC\"\n[sources]\nsystem_crontab = \"\"\nsystem_dirs = []\n\
                 user_spool = \"\"\nextra_user_crontabs = [\"{}\"]\n",
                dir.path().join("tab").display()
            );
            let config = Config::parse(&toml, &dir.path().join("cronwright.toml")).unwrap();
            let (user, uid) = sources::effective_user();
            // As a daemon that is not root: no user lookups, whoever runs the test.
            let sources = sources_config(&config, false, &user, uid);
            Fixture {
                dir,
                config,
                sources,
            }
        }

        fn tab(&self) -> PathBuf {
            self.dir.path().join("tab")
        }

        fn write(&self, text: &str) {
            std::fs::write(self.tab(), text).unwrap();
        }

        fn cx(&self) -> LoadContext<'_> {
            LoadContext {
                config: &self.config,
                sources: &self.sources,
                // 2026-01-01T00:00:00Z
                now: 1_767_225_600,
                keep_on_error: false,
            }
        }
    }

    fn loaded(changes: &[Change]) -> &LoadReport {
        match changes {
            [Change::Loaded(report)] => report,
            other => panic!("expected one load, got {other:?}"),
        }
    }

    #[test]
    fn a_load_schedules_the_good_lines_and_reports_the_bad_ones_in_line_order() {
        let f = Fixture::new();
        f.write("0 0 1 jna * bad\n*/5 * * * * poll\n@reboot boot\n-0 1 * * * quiet %in%put\n");
        let mut table = Table::new(1);
        let changes = table.load_all(&f.cx(), true);
        let report = loaded(&changes);
        assert_eq!(report.path, f.tab());
        assert_eq!((report.entries, report.errors()), (3, 1));
        match &report.notes[..] {
            [LoadNote::Invalid(d)] => {
                assert_eq!((d.line, d.column), (1, 7));
                assert_eq!(
                    d.message,
                    "unknown month name 'jna' (expected 1-12 or jan-dec); did you mean 'jan'?"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((table.files(), table.jobs()), (1, 2));
        let reboot = table.take_reboot_jobs();
        assert_eq!(reboot.len(), 1);
        assert_eq!(reboot[0].command(), "boot");
        // Later loads collect no @reboot entries.
        table.load_all(&f.cx(), true);
        assert!(table.take_reboot_jobs().is_empty());
    }

    #[test]
    fn jobs_unpack_their_command_input_line_and_log_flag_from_the_file_text() {
        let f = Fixture::new();
        f.write("A=1\n*/5 * * * * poll\n-0 1 * * * quiet %in%put\n");
        let mut table = Table::new(1);
        table.load_all(&f.cx(), true);
        // 00:05 is poll's first time; 01:00 quiet's.
        let poll: Vec<JobInfo> = table
            .due(f.cx().now + 300, ClockStep::None)
            .into_iter()
            .map(|(_, info, _)| info)
            .collect();
        assert_eq!(poll.len(), 1);
        assert_eq!(poll[0].command(), "poll");
        assert_eq!(poll[0].stdin(), None);
        assert!(poll[0].log());
        assert_eq!(poll[0].job_ref(), format!("{}:2", f.tab().display()));
        assert_eq!(poll[0].env().get("A"), Some("1"));
        let quiet = table.due(f.cx().now + 3600, ClockStep::None);
        let (_, quiet, _) = quiet
            .iter()
            .find(|(_, j, _)| j.command() == "quiet ")
            .unwrap();
        assert_eq!(quiet.stdin(), Some("in\nput\n"));
        assert!(!quiet.log());
        assert_eq!(quiet.job_ref(), format!("{}:3", f.tab().display()));
    }

    #[test]
    fn an_unchanged_file_is_read_again_only_when_forced() {
        let f = Fixture::new();
        f.write("* * * * * a\n");
        let mut table = Table::new(1);
        loaded(&table.load_all(&f.cx(), true));
        assert!(table.load_all(&f.cx(), false).is_empty());
        let again = table.load_all(&f.cx(), true);
        assert_eq!(loaded(&again).entries, 1);
        // The old jobs were replaced, not added to.
        assert_eq!(table.jobs(), 1);
    }

    #[test]
    fn a_refused_file_stops_its_jobs_says_why_once_and_loads_again_when_fixed() {
        let f = Fixture::new();
        f.write("* * * * * a\n");
        let mut table = Table::new(1);
        table.load_all(&f.cx(), true);
        std::fs::set_permissions(f.tab(), std::fs::Permissions::from_mode(0o666)).unwrap();
        let changes = table.reload_paths(vec![f.tab()], &f.cx());
        match &changes[..] {
            [
                Change::Refused {
                    refusal: Refusal::Writable { .. },
                    new_reason: true,
                    stopped: true,
                    ..
                },
            ] => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(table.jobs(), 0);
        // The same reason again is not news.
        assert!(table.reload_paths(vec![f.tab()], &f.cx()).is_empty());
        std::fs::set_permissions(f.tab(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            loaded(&table.reload_paths(vec![f.tab()], &f.cx())).entries,
            1
        );
        assert_eq!(table.jobs(), 1);
    }

    #[test]
    fn a_deleted_file_is_forgotten_with_its_jobs() {
        let f = Fixture::new();
        f.write("* * * * * a\n");
        let mut table = Table::new(1);
        table.load_all(&f.cx(), true);
        std::fs::remove_file(f.tab()).unwrap();
        let changes = table.reload_paths(vec![f.tab()], &f.cx());
        assert!(matches!(&changes[..], [Change::Forgotten { path }] if *path == f.tab()));
        assert_eq!((table.files(), table.jobs()), (0, 0));
        // Forgetting twice says nothing.
        assert!(table.reload_paths(vec![f.tab()], &f.cx()).is_empty());
    }

    #[test]
    fn an_entry_the_rules_skip_is_an_error_of_the_load() {
        let f = Fixture::new();
        let mut config = f.config.clone();
        config.jobs.max_command_length = 3;
        f.write("* * * * * long command\n* * * * * ok\n");
        let cx = LoadContext {
            config: &config,
            ..f.cx()
        };
        let mut table = Table::new(1);
        let changes = table.load_all(&cx, true);
        let report = loaded(&changes);
        assert_eq!((report.entries, report.errors()), (1, 1));
        assert_eq!(
            report.notes,
            vec![LoadNote::Skipped {
                line: 1,
                skip: Skip::CommandTooLong { len: 12, max: 3 }
            }]
        );
    }

    #[test]
    fn loads_sweep_the_spool_of_stale_temporary_files() {
        let f = Fixture::new();
        let spool = f.dir.path().join("spool");
        std::fs::create_dir(&spool).unwrap();
        let toml = format!(
            "[daemon]\ntimezone = \"UTC\"\n[sources]\nsystem_crontab = \"\"\nsystem_dirs = []\n\
             user_spool = \"{}\"\n",
            spool.display()
        );
        let config = Config::parse(&toml, &f.dir.path().join("cronwright.toml")).unwrap();
        let (user, uid) = sources::effective_user();
        let sources = sources_config(&config, false, &user, uid);
        let cx = LoadContext {
            config: &config,
            sources: &sources,
            ..f.cx()
        };
        // Written at `now` minus `age` seconds.
        let temporary = |name: &str, age: i64| {
            let path = spool.join(name);
            let file = std::fs::File::create(&path).unwrap();
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs((cx.now - age) as u64);
            file.set_modified(at).unwrap();
            path
        };
        let mut table = Table::new(1);
        let old = temporary("tmp.old", 3600);
        let new = temporary("tmp.new", 60);
        let swept = |changes: Vec<Change>| -> Vec<PathBuf> {
            changes
                .into_iter()
                .filter_map(|c| match c {
                    Change::Swept { path } => Some(path),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(swept(table.load_all(&cx, true)), vec![old.clone()]);
        assert!(!old.exists() && new.exists());
        assert!(swept(table.load_all(&cx, false)).is_empty());

        // A change in the spool sweeps it again.
        let other = temporary("tmp.other", 3600);
        assert_eq!(
            swept(table.reload_paths(vec![spool.join(&user)], &cx)),
            vec![other]
        );
    }

    #[test]
    fn random_delay_draws_whole_seconds_inside_the_window() {
        let mut rng = 12345 | 1;
        assert_eq!(random_delay(&mut rng, 0), 0);
        let draws: Vec<u32> = (0..1000).map(|_| random_delay(&mut rng, 2)).collect();
        assert!(draws.iter().all(|&d| d < 120));
        // A spread, not a constant: both halves of the window are drawn.
        assert!(draws.iter().any(|&d| d < 60) && draws.iter().any(|&d| d >= 60));
    }

    #[test]
    fn a_file_with_errors_keeps_its_old_jobs_when_asked_and_loses_the_bad_lines_otherwise() {
        let f = Fixture::new();
        let keep = LoadContext {
            keep_on_error: true,
            ..f.cx()
        };
        let mut table = Table::new(1);
        f.write("* * * * * a\n* * * * * b\n");
        table.load_all(&keep, true);
        assert_eq!(table.jobs(), 2);
        // A typo in one line: nothing of the new text is applied, and the errors are told.
        f.write("* * * * * a\n* * * * * b\n61 * * * * c\n");
        let changes = table.reload_paths(vec![f.tab()], &keep);
        match &changes[..] {
            [Change::Kept { report, jobs: 2 }] => assert_eq!(report.errors(), 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(table.jobs(), 2);
        // Fixed: the new text loads.
        f.write("* * * * * a\n* * * * * c\n* * * * * d\n");
        table.reload_paths(vec![f.tab()], &keep);
        assert_eq!(table.jobs(), 3);
        // Without keep_on_error the good lines load and the bad one is dropped.
        f.write("* * * * * a\n61 * * * * c\n");
        let changes = table.reload_paths(vec![f.tab()], &f.cx());
        assert_eq!(loaded(&changes).errors(), 1);
        assert_eq!(table.jobs(), 1);
    }
}
