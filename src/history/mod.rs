//! The run history: every run's start, end or skip, kept in SQLite (`state_dir/history.db`)
//! so that "did it run, and why not?" has an answer after syslog has rotated.
//!
//! The daemon's loop never waits on the database. It numbers runs itself (from the largest
//! number in the database at start), so a start, its end and a skip are records it can
//! hand over without asking for a row id back, and it hands them to one writer thread
//! through a bounded queue ([`QUEUE`]): when the queue is full the record is dropped and
//! counted, never waited for. The writer runs the records queued at once as one short
//! transaction and prunes a few old rows of each job for each end or skip it got
//! (`store::prune_job`), so retention costs no long delete.
//!
//! The jobs run whatever the database does: a database that cannot be opened, or that is
//! not one, is renamed aside and started anew (one problem line); a write that fails (a full
//! disk) loses that record, is said once, and is said again only after a write succeeded.
//! `docs/HISTORY.md` documents the schema for administrators.

mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

/// Records queued for the writer before new ones are dropped: a burst of a thousand runs
/// (a start and an end each) fits twice.
const QUEUE: usize = 4096;

/// The most rows one query returns.
pub const MAX_ROWS: usize = 10_000;

const FILE_NAME: &str = "history.db";

/// Why a run happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// At its time.
    Schedule,
    /// Made up for one missed while the daemon was down (`CRON_CATCHUP`).
    Catchup,
    /// Asked for with `cronwright run`.
    Manual,
    /// `@reboot`.
    Reboot,
}

impl Trigger {
    /// Its name in the history: `schedule`, `catchup`, `manual`, `reboot` (a reference to a
    /// static, so that a statement can bind it without a temporary).
    pub fn as_str(&self) -> &'static &'static str {
        match self {
            Trigger::Schedule => &"schedule",
            Trigger::Catchup => &"catchup",
            Trigger::Manual => &"manual",
            Trigger::Reboot => &"reboot",
        }
    }
}

/// How a run ended, or why it did not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Exit(i32),
    Signal(i32),
    /// Stopped for its `CRON_TIMEOUT`.
    Timeout,
    /// Not run: PAM, or the user's account, refused it.
    Refused(String),
    /// Not started: `reason` is its kind (`overlap`, `merged`, `refused`, `stopping`),
    /// `detail` the words of its log line.
    Skipped {
        reason: String,
        detail: String,
    },
}

impl Outcome {
    /// `ok`, `exit 3`, `signal 9`, `timeout`, `refused: …`, `skipped: overlap`.
    pub fn text(&self) -> String {
        match self {
            Outcome::Exit(0) => "ok".into(),
            Outcome::Exit(code) => format!("exit {code}"),
            Outcome::Signal(sig) => format!("signal {sig}"),
            Outcome::Timeout => "timeout".into(),
            Outcome::Refused(why) => format!("refused: {why}"),
            Outcome::Skipped { reason, .. } => format!("skipped: {reason}"),
        }
    }

    /// A failure: anything but success and a skip (a skip is a policy at work).
    pub fn failed(&self) -> bool {
        !matches!(self, Outcome::Exit(0) | Outcome::Skipped { .. })
    }
}

/// Which job a run is of, and why it was due.
#[derive(Clone, Debug)]
pub struct RunOf {
    pub job_id: String,
    pub name: Option<String>,
    pub user: String,
    /// `file:line`.
    pub source: String,
    pub command: String,
    pub trigger: Trigger,
    pub due_ms: Option<i64>,
}

/// A run's process started.
#[derive(Clone, Debug)]
pub struct RunStart {
    pub run_id: i64,
    pub of: RunOf,
    pub started_ms: i64,
    pub late_secs: Option<u64>,
    pub pid: u32,
}

/// A run's output is complete (its process ended before).
#[derive(Clone, Debug)]
pub struct RunEnd {
    pub run_id: i64,
    pub ended_ms: i64,
    pub outcome: Outcome,
    pub duration_ms: u64,
    pub output_bytes: u64,
    /// The output the daemon kept; the history keeps its first and last [`store::HEAD_TAIL`] bytes.
    pub output: Vec<u8>,
}

/// A due run that did not start.
#[derive(Clone, Debug)]
pub struct Skip {
    pub run_id: i64,
    pub of: RunOf,
    pub at_ms: i64,
    pub reason: String,
    pub detail: String,
}

#[derive(Clone, Debug)]
pub enum Record {
    Start(RunStart),
    End(RunEnd),
    Skip(Skip),
}

/// How much history is kept.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Runs per job.
    pub keep_runs: u32,
    pub keep_days: u32,
}

/// One run as a query returns it (and as `cronwright history --json` prints it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: i64,
    pub job_id: String,
    pub name: Option<String>,
    pub user: String,
    pub source: String,
    pub command: String,
    pub trigger: String,
    pub due_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    /// When it started, or was skipped: every run has it.
    pub at_ms: i64,
    pub late_secs: Option<u64>,
    pub pid: Option<u32>,
    /// [`Outcome::text`], or `running`.
    pub result: String,
    pub failed: bool,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: Option<u64>,
    pub output_bytes: Option<u64>,
    pub skip_reason: Option<String>,
    pub skip_detail: Option<String>,
    /// The start of the output, as text: the first [`store::HEAD_TAIL`] bytes of it for one
    /// run, its first 256 bytes in a list.
    pub output_head: String,
}

/// Which runs a query wants; newest first, at most `limit`.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// A job's id or name.
    pub job: Option<String>,
    /// `None`: every user's.
    pub users: Option<Vec<String>>,
    /// Only runs whose `file:line` starts with this (a user's own crontab).
    pub source_prefix: Option<String>,
    pub since_ms: Option<i64>,
    pub failed_only: bool,
    pub limit: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("run history {}: {source}", .path.display())]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("run history {}: cannot start its writer: {source}", .path.display())]
    Thread {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the writer thread tells the loop.
#[derive(Default)]
struct Shared {
    problems: Vec<String>,
    /// The largest run number when the daemon started, once the loop has read it.
    base_id: Option<i64>,
}

/// The daemon's handle on the history: hands records to the writer thread.
pub struct History {
    /// Boxed: the queue's slots are allocated and touched when it is made, so a slot the
    /// size of a record would keep 4096 of them (0.85 MiB) resident for nothing.
    sender: Option<SyncSender<Box<Record>>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Mutex<Shared>>,
    path: PathBuf,
    /// The last run number given, once the database was asked for the largest (at the
    /// first run, not at start, which opens no database).
    next_id: Option<i64>,
    /// Drops since the last time they were said.
    dropped_untold: u64,
}

impl History {
    /// Starts the history of `state_dir/history.db`: only the writer thread, which opens or
    /// creates the database when the first record comes (which may wait on the disk) and
    /// closes it after [`IDLE_CLOSE`] without records. The loop reads the last run's number
    /// at its first run ([`History::next_run_id`]). What the writer meets (a database put
    /// aside, one that cannot be made) comes back through [`History::take_problems`]. `Err`
    /// only when the thread cannot be started.
    pub fn open(state_dir: &Path, retention: Retention) -> Result<History, HistoryError> {
        let path = state_dir.join(FILE_NAME);
        let (sender, receiver) = sync_channel(QUEUE);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let writer = Writer::new(path.clone(), retention, Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| HistoryError::Thread {
                path: path.clone(),
                source: e,
            })?;
        Ok(History {
            sender: Some(sender),
            thread: Some(thread),
            shared,
            path,
            next_id: None,
            dropped_untold: 0,
        })
    }

    /// The number of the next run. The first call reads the largest in the database (a
    /// database that does not exist yet, or cannot be read, starts from 0), and gives it to
    /// the writer, for which runs before it are an earlier daemon's.
    pub fn next_run_id(&mut self) -> i64 {
        let last = match self.next_id {
            Some(id) => id,
            None => {
                let base = store::open_reader(&self.path)
                    .and_then(|c| store::max_id(&c))
                    .unwrap_or(0);
                if let Ok(mut shared) = self.shared.lock() {
                    shared.base_id = Some(base);
                }
                base
            }
        };
        self.next_id = Some(last + 1);
        last + 1
    }

    /// Hands a record to the writer; never waits. When the queue is full it is dropped.
    pub fn record(&mut self, record: Record) {
        let Some(sender) = &self.sender else { return };
        match sender.try_send(Box::new(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped_untold += 1;
            }
        }
    }

    /// What went wrong since the last call, each a line naming the file.
    pub fn take_problems(&mut self) -> Vec<String> {
        let mut problems = match self.shared.lock() {
            Ok(mut s) => std::mem::take(&mut s.problems),
            Err(_) => Vec::new(),
        };
        if self.dropped_untold > 0 {
            problems.push(format!(
                "the run history's queue was full: {} records were not kept",
                std::mem::take(&mut self.dropped_untold)
            ));
        }
        problems
    }

    /// Lets the writer finish what is queued, and waits for it.
    pub fn close(mut self) {
        drop(self.sender.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for History {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Opens the database for writing, creating it owner-only.
fn open_new(path: &Path) -> rusqlite::Result<Connection> {
    if !path.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        // Made 0600 before SQLite opens it: runs' output and commands are not for others.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path);
    }
    store::open_writer(path)
}

/// Opens the database, or if it cannot be used, puts it aside and starts a new one; the
/// problem to tell, if there was one.
fn open_or_replace(path: &Path) -> Result<(Connection, Option<String>), String> {
    let e = match open_new(path) {
        Ok(conn) => return Ok((conn, None)),
        Err(e) => e,
    };
    let aside = put_aside(path);
    let conn = open_new(path).map_err(|again| {
        format!(
            "cannot keep the run history {}: {e}; a new one cannot be made either: {again}",
            path.display()
        )
    })?;
    let problem = match aside {
        Ok(to) => format!(
            "run history {} could not be used ({e}); it was moved to {} and a new one started",
            path.display(),
            to.display()
        ),
        Err(move_error) => format!(
            "run history {} could not be used ({e}) nor moved aside ({move_error})",
            path.display()
        ),
    };
    Ok((conn, Some(problem)))
}

/// Moves a database that cannot be used (and its WAL files) to `history.db.corrupt-SECS`.
fn put_aside(path: &Path) -> std::io::Result<PathBuf> {
    let secs = chrono::Utc::now().timestamp();
    let to = path.with_file_name(format!("{FILE_NAME}.corrupt-{secs}"));
    std::fs::rename(path, &to)?;
    for ext in ["-wal", "-shm"] {
        let side = path.with_file_name(format!("{FILE_NAME}{ext}"));
        let _ = std::fs::rename(
            &side,
            to.with_file_name(format!("{FILE_NAME}.corrupt-{secs}{ext}")),
        );
    }
    Ok(to)
}

/// Records written in one transaction at most: a burst's records share a commit, which
/// costs more than the rows.
const BATCH: usize = 256;

/// How long the writer keeps the database open after the last record.
const IDLE_CLOSE: Duration = Duration::from_secs(60);

/// The writer thread's state.
struct Writer {
    path: PathBuf,
    retention: Retention,
    shared: Arc<Mutex<Shared>>,
    /// The last write failed and that was said: the next failures are not.
    failing: bool,
    /// The largest run number when the daemon started: a row still `running` at or below it
    /// was left by an earlier daemon, whose end no one will record, so retention
    /// may take it; a later one is spared, since its end is still to come.
    stale: i64,
    /// The database was started anew for corruption and no write has succeeded since: if
    /// the new one fails the same way, the fault is not in the file (a failing disk), and
    /// putting one file after another aside would only litter the directory.
    replaced: bool,
}

impl Writer {
    fn new(path: PathBuf, retention: Retention, shared: Arc<Mutex<Shared>>) -> Writer {
        Writer {
            path,
            retention,
            shared,
            failing: false,
            stale: 0,
            replaced: false,
        }
    }

    /// Opens the database when records come, writes them, and closes it again once no record
    /// came for [`IDLE_CLOSE`]: an idle daemon keeps no connection, no page cache and none of
    /// SQLite's code in memory.
    fn run(mut self, records: Receiver<Box<Record>>) {
        let mut conn: Option<Connection> = None;
        loop {
            // Without a connection to close, nothing to wake up for.
            let next = match conn {
                Some(_) => records.recv_timeout(IDLE_CLOSE),
                None => records.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let first = match next {
                Ok(r) => r,
                Err(RecvTimeoutError::Timeout) => {
                    conn = None;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // What is queued while a transaction is written goes into the next one.
            let mut batch = vec![*first];
            while batch.len() < BATCH {
                match records.try_recv() {
                    Ok(r) => batch.push(*r),
                    Err(_) => break,
                }
            }
            if conn.is_none() {
                conn = self.open();
            }
            // Without a database the records are still taken, so that the loop's queue
            // never fills for nothing; losing it was said.
            if let Some(c) = conn.take() {
                conn = self.commit(c, &batch);
            }
        }
    }

    /// Opens (or replaces) the database; what went wrong is said.
    fn open(&mut self) -> Option<Connection> {
        if let Ok(shared) = self.shared.lock() {
            // Unread, no row counts as left behind: a row kept too long is better than a
            // live run's row taken.
            self.stale = shared.base_id.unwrap_or(0);
        }
        let conn = match open_or_replace(&self.path) {
            Ok((conn, problem)) => {
                if let Some(problem) = problem {
                    self.say(problem);
                }
                conn
            }
            Err(problem) => {
                self.say(problem);
                return None;
            }
        };
        Some(conn)
    }

    /// Writes `batch`, or tells why not; the connection to write the next batch with.
    fn commit(&mut self, conn: Connection, batch: &[Record]) -> Option<Connection> {
        match self.write(&conn, batch) {
            Ok(()) => {
                self.failing = false;
                self.replaced = false;
                Some(conn)
            }
            Err(e) => self.failed(conn, e),
        }
    }

    /// One transaction: the records, then a few of the oldest rows of each job that got a
    /// row (an end or a skip), and a few rows past `keep_days`.
    fn write(&self, conn: &Connection, batch: &[Record]) -> rusqlite::Result<()> {
        let tx = conn.unchecked_transaction()?;
        // Rows each job got: each may prune [`store::PRUNE_BATCH`] of the job's old ones,
        // so that a burst cannot outgrow the pruning, nor a job that is only ever skipped
        // (its user gone, its last run hung) grow past `keep_runs`.
        let mut added: BTreeMap<String, usize> = BTreeMap::new();
        for record in batch {
            let job = match record {
                Record::Start(s) => {
                    store::insert_start(&tx, s)?;
                    None
                }
                Record::Skip(s) => {
                    store::insert_skip(&tx, s)?;
                    Some(s.of.job_id.clone())
                }
                Record::End(e) => store::update_end(&tx, e)?,
            };
            if let Some(job) = job {
                *added.entry(job).or_default() += 1;
            }
        }
        for (job, rows) in &added {
            store::prune_job(&tx, job, self.retention.keep_runs, *rows, self.stale)?;
        }
        if !added.is_empty() {
            let days = i64::from(self.retention.keep_days) * 86_400_000;
            let before = chrono::Utc::now().timestamp_millis() - days;
            store::prune_old(&tx, before, self.stale)?;
        }
        tx.commit()
    }

    fn say(&self, problem: String) {
        if let Ok(mut s) = self.shared.lock() {
            s.problems.push(problem);
        }
    }

    /// A write failed: said once until a write succeeds. A database found corrupt is put
    /// aside and started anew, once until a write succeeds. The connection to write with
    /// next comes back, if there is one.
    fn failed(&mut self, conn: Connection, e: rusqlite::Error) -> Option<Connection> {
        let corrupt = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        );
        if !corrupt || self.replaced {
            if !self.failing {
                self.say(format!(
                    "cannot write the run history {}: {e}",
                    self.path.display()
                ));
            }
            self.failing = true;
            return Some(conn);
        }
        // Closed before the rename: closing a database in WAL mode removes its `-wal` and
        // `-shm` files by name, which after the rename would be the new database's.
        drop(conn);
        self.failing = true;
        self.replaced = true;
        match put_aside(&self.path) {
            Ok(to) => match open_new(&self.path) {
                Ok(new) => {
                    self.stale = 0;
                    self.say(format!(
                        "run history {} is corrupt ({e}); it was moved to {} and a new one \
                         started",
                        self.path.display(),
                        to.display()
                    ));
                    Some(new)
                }
                Err(again) => {
                    self.say(format!(
                        "run history {} is corrupt ({e}) and was moved to {}, but a new one \
                         cannot be made: {again}; runs are not recorded until the daemon \
                         restarts",
                        self.path.display(),
                        to.display()
                    ));
                    None
                }
            },
            Err(move_error) => {
                self.say(format!(
                    "run history {} is corrupt ({e}) and cannot be moved aside: {move_error}",
                    self.path.display()
                ));
                // Written on as it is: some of its pages may still take rows.
                open_new(&self.path).ok()
            }
        }
    }
}

/// Reads the history (the daemon's answers, and `cronwright history` without a daemon).
pub struct Reader {
    /// `None` while there is no database yet, or one still being made (the writer makes it
    /// at the first run): a history with no runs.
    conn: Option<Connection>,
    path: PathBuf,
}

impl Reader {
    /// Opens `state_dir/history.db` read-only. No database yet (no run since it was made
    /// or moved) is a history with no runs.
    pub fn open(state_dir: &Path) -> Result<Reader, HistoryError> {
        let path = state_dir.join(FILE_NAME);
        if !path.exists() {
            return Ok(Reader { conn: None, path });
        }
        let db = |source| HistoryError::Db {
            path: path.clone(),
            source,
        };
        let conn = store::open_reader(&path).map_err(db)?;
        let conn = store::has_runs(&conn).map_err(db)?.then_some(conn);
        Ok(Reader { conn, path })
    }

    fn err(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// The newest ended or skipped run of each job.
    pub fn last_per_job(&self) -> Result<Vec<RunRow>, HistoryError> {
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        store::last_per_job(conn).map_err(|e| self.err(e))
    }

    /// The runs `filter` asks for, newest first.
    pub fn runs(&self, filter: &Filter) -> Result<Vec<RunRow>, HistoryError> {
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        store::runs(conn, filter).map_err(|e| self.err(e))
    }

    /// One run and its kept output.
    pub fn run(&self, id: i64) -> Result<Option<(RunRow, Vec<u8>)>, HistoryError> {
        let Some(conn) = &self.conn else {
            return Ok(None);
        };
        store::run(conn, id).map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests;
