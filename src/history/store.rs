//! The history's SQLite side: the schema, and each statement the writer and the readers
//! run. `docs/HISTORY.md` documents the same schema for administrators.
//!
//! One table, `runs`: a row per run, inserted when it starts (status `running`) and
//! completed when it ends; a skipped run is one complete insert. Times are Unix
//! milliseconds. The output is kept as its first and last [`HEAD_TAIL`] bytes, with the
//! number of bytes left out between them.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql, params};

use super::{Filter, Outcome, RunEnd, RunOf, RunRow, RunStart, Skip};

/// Bytes kept of the start and of the end of a run's output.
pub const HEAD_TAIL: usize = 4096;

/// The schema's version (`PRAGMA user_version`); a database from a later version is not
/// ours to write.
pub const VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id           INTEGER PRIMARY KEY,
    job_id       TEXT NOT NULL,
    name         TEXT,
    user         TEXT NOT NULL,
    source       TEXT NOT NULL,
    command      TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    due_ms       INTEGER,
    started_ms   INTEGER,
    ended_ms     INTEGER,
    at_ms        INTEGER NOT NULL,
    late_secs    INTEGER,
    pid          INTEGER,
    status       TEXT NOT NULL,
    exit_code    INTEGER,
    signal       INTEGER,
    reason       TEXT,
    detail       TEXT,
    duration_ms  INTEGER,
    output_bytes INTEGER,
    output_head  BLOB,
    output_tail  BLOB,
    output_cut   INTEGER
);
CREATE INDEX IF NOT EXISTS runs_job ON runs (job_id, id);
CREATE INDEX IF NOT EXISTS runs_at ON runs (at_ms);
";

/// Opens (creating) the database for writing, in WAL mode, with the schema in place.
pub fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(500))?;
    // WAL: readers (`cronwright history`) never wait on the writer, nor it on them.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // A crash may lose the last runs' rows, never the database: fsync at checkpoints only.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Rows are appended and pruned, never searched by the writer: a small cache serves it,
    // and the daemon stays small at rest.
    conn.pragma_update(None, "cache_size", -256)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > VERSION {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
            Some(format!(
                "schema version {version} is newer than this daemon's {VERSION}"
            )),
        ));
    }
    conn.execute_batch(SCHEMA)?;
    conn.pragma_update(None, "user_version", VERSION)?;
    Ok(conn)
}

/// Opens the database read-only.
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_millis(200))?;
    Ok(conn)
}

/// Whether the database has its table of runs yet (the writer makes it at the first run).
pub fn has_runs(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// The highest run number in the database.
pub fn max_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM runs", [], |r| r.get(0))
}

/// The values of the columns every run has, `id` and its [`RunOf`], as `?1` to `?8`.
fn run_values<'a>(run_id: &'a i64, of: &'a RunOf) -> Vec<&'a dyn ToSql> {
    vec![
        run_id,
        &of.job_id,
        &of.name,
        &of.user,
        &of.source,
        &of.command,
        of.trigger.as_str(),
        &of.due_ms,
    ]
}

pub fn insert_start(conn: &Connection, s: &RunStart) -> rusqlite::Result<()> {
    let late = s.late_secs.map(|l| l as i64);
    let mut values = run_values(&s.run_id, &s.of);
    values.extend([&s.started_ms as &dyn ToSql, &late, &s.pid]);
    // Cached: a statement parsed once serves every run (parsing costs more than the insert).
    conn.prepare_cached(
        "INSERT OR REPLACE INTO runs (id, job_id, name, user, source, command, trigger, due_ms,
             started_ms, at_ms, late_secs, pid, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, 'running')",
    )?
    .execute(values.as_slice())?;
    Ok(())
}

/// The columns an outcome sets: status, exit code, signal, reason, detail.
fn outcome_columns(o: &Outcome) -> (&'static str, Option<i32>, Option<i32>, Option<&str>) {
    match o {
        Outcome::Exit(code) => ("exit", Some(*code), None, None),
        Outcome::Signal(sig) => ("signal", None, Some(*sig), None),
        Outcome::Timeout => ("timeout", None, None, None),
        Outcome::Refused(why) => ("refused", None, None, Some(why.as_str())),
        Outcome::Skipped { reason, .. } => ("skipped", None, None, Some(reason.as_str())),
    }
}

/// The first and last [`HEAD_TAIL`] bytes of `output`, and how many lie between them.
pub fn head_tail(output: &[u8]) -> (&[u8], &[u8], u64) {
    if output.len() <= 2 * HEAD_TAIL {
        return (output, &[], 0);
    }
    let cut = output.len() - 2 * HEAD_TAIL;
    (
        &output[..HEAD_TAIL],
        &output[output.len() - HEAD_TAIL..],
        cut as u64,
    )
}

/// Completes a run's row; a run whose start was not recorded (the queue was full) gets a
/// row with what its end knows. Returns the job's id, for pruning.
pub fn update_end(conn: &Connection, e: &RunEnd) -> rusqlite::Result<Option<String>> {
    let (status, code, signal, reason) = outcome_columns(&e.outcome);
    let (head, tail, cut) = head_tail(&e.output);
    let values = params![
        e.run_id,
        e.ended_ms,
        status,
        code,
        signal,
        reason,
        e.duration_ms as i64,
        e.output_bytes as i64,
        head,
        tail,
        cut as i64,
    ];
    let changed = conn
        .prepare_cached(
            "UPDATE runs SET ended_ms = ?2, at_ms = COALESCE(started_ms, ?2), status = ?3,
                 exit_code = ?4, signal = ?5, reason = ?6, duration_ms = ?7, output_bytes = ?8,
                 output_head = ?9, output_tail = ?10, output_cut = ?11
             WHERE id = ?1",
        )?
        .execute(values)?;
    if changed == 0 {
        conn.execute(
            "INSERT INTO runs (id, job_id, user, source, command, trigger, ended_ms, at_ms,
                 status, exit_code, signal, reason, duration_ms, output_bytes, output_head,
                 output_tail, output_cut)
             VALUES (?1, '', '', '', '', 'schedule', ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            values,
        )?;
    }
    conn.prepare_cached("SELECT job_id FROM runs WHERE id = ?1")?
        .query_row([e.run_id], |r| r.get(0))
        .optional()
}

pub fn insert_skip(conn: &Connection, s: &Skip) -> rusqlite::Result<()> {
    let mut values = run_values(&s.run_id, &s.of);
    values.extend([&s.at_ms as &dyn ToSql, &s.reason, &s.detail]);
    conn.prepare_cached(
        "INSERT OR REPLACE INTO runs (id, job_id, name, user, source, command, trigger, due_ms,
             at_ms, status, reason, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'skipped', ?10, ?11)",
    )?
    .execute(values.as_slice())?;
    Ok(())
}

/// Rows a job's pruning may delete for each row it got: pruning is spread over the runs,
/// never one long delete.
pub const PRUNE_BATCH: usize = 50;

/// Rows past `keep_days` deleted per transaction: the window slides a little at a time.
const PRUNE_OLD_BATCH: usize = 200;

/// Deletes up to `PRUNE_BATCH * added` of `job`'s rows beyond the `keep_runs` that ended
/// (or were skipped) last. Run for each row a job gets, it converges on the limit whatever
/// the table's size was. A run still running is neither counted nor taken unless it was
/// left by an earlier daemon (at or below `stale`), and a run counts from its end: a hung
/// job skipped every minute must not lose the row of the run it hangs in, while it hangs
/// nor when it ends. The sort is of one job's rows, about `keep_runs` of them.
pub fn prune_job(
    conn: &Connection,
    job: &str,
    keep_runs: u32,
    added: usize,
    stale: i64,
) -> rusqlite::Result<usize> {
    let limit = PRUNE_BATCH.saturating_mul(added) as i64;
    conn.prepare_cached(
        "DELETE FROM runs WHERE id IN (
             SELECT id FROM runs WHERE job_id = ?1 AND (status != 'running' OR id <= ?4)
             ORDER BY COALESCE(ended_ms, at_ms) DESC, id DESC LIMIT ?3 OFFSET ?2)",
    )?
    .execute(params![job, keep_runs, limit, stale])
}

/// Deletes a few rows of any job that started, or was skipped, and ended before
/// `before_ms`: a run of weeks that just ended stays its `keep_days` like any other. Of the
/// runs still running, only those an earlier daemon left (at or below `stale`) go, as in
/// [`prune_job`].
pub fn prune_old(conn: &Connection, before_ms: i64, stale: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM runs WHERE id IN (
             SELECT id FROM runs WHERE at_ms < ?1 AND (ended_ms IS NULL OR ended_ms < ?1)
                 AND (status != 'running' OR id <= ?3)
             LIMIT ?2)",
    )?
    .execute(params![before_ms, PRUNE_OLD_BATCH as i64, stale])
}

const COLUMNS: &str = "id, job_id, name, user, source, command, trigger, due_ms, started_ms,
    ended_ms, late_secs, pid, status, exit_code, signal, reason, detail, duration_ms,
    output_bytes, output_head, at_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let status: String = r.get(12)?;
    let exit_code: Option<i32> = r.get(13)?;
    let signal: Option<i32> = r.get(14)?;
    let reason: Option<String> = r.get(15)?;
    let detail: Option<String> = r.get(16)?;
    let outcome = match status.as_str() {
        "exit" => Some(Outcome::Exit(exit_code.unwrap_or(0))),
        "signal" => Some(Outcome::Signal(signal.unwrap_or(0))),
        "timeout" => Some(Outcome::Timeout),
        "refused" => Some(Outcome::Refused(reason.clone().unwrap_or_default())),
        "skipped" => Some(Outcome::Skipped {
            reason: reason.clone().unwrap_or_default(),
            detail: detail.clone().unwrap_or_default(),
        }),
        _ => None,
    };
    let head: Option<Vec<u8>> = r.get(19)?;
    let skipped = status == "skipped";
    Ok(RunRow {
        id: r.get(0)?,
        job_id: r.get(1)?,
        name: r.get(2)?,
        user: r.get(3)?,
        source: r.get(4)?,
        command: r.get(5)?,
        trigger: r.get(6)?,
        due_ms: r.get(7)?,
        started_ms: r.get(8)?,
        ended_ms: r.get(9)?,
        at_ms: r.get(20)?,
        late_secs: r.get::<_, Option<i64>>(10)?.map(|l| l.max(0) as u64),
        pid: r.get(11)?,
        result: outcome
            .as_ref()
            .map_or_else(|| status.clone(), Outcome::text),
        failed: outcome.as_ref().is_some_and(Outcome::failed),
        exit_code,
        signal,
        duration_ms: r.get::<_, Option<i64>>(17)?.map(|d| d.max(0) as u64),
        output_bytes: r.get::<_, Option<i64>>(18)?.map(|d| d.max(0) as u64),
        skip_reason: if skipped { reason } else { None },
        skip_detail: if skipped { detail } else { None },
        output_head: String::from_utf8_lossy(head.as_deref().unwrap_or_default()).into_owned(),
    })
}

/// The newest ended or skipped run of each job.
pub fn last_per_job(conn: &Connection) -> rusqlite::Result<Vec<RunRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM runs WHERE id IN (
             SELECT MAX(id) FROM runs WHERE status != 'running' GROUP BY job_id)"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

/// The output shown per run in a list: the start of it (`run` gives all that was kept).
const LIST_HEAD: usize = 256;

pub fn runs(conn: &Connection, f: &Filter) -> rusqlite::Result<Vec<RunRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM runs WHERE 1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(job) = &f.job {
        args.push(job.clone().into());
        sql.push_str(&format!(" AND (job_id = ?{0} OR name = ?{0})", args.len()));
    }
    if let Some(users) = &f.users {
        let mut marks = Vec::new();
        for u in users {
            args.push(u.clone().into());
            marks.push(format!("?{}", args.len()));
        }
        if marks.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND user IN ({})", marks.join(",")));
    }
    if let Some(prefix) = &f.source_prefix {
        args.push(prefix.clone().into());
        // substr rather than LIKE, so that `%` and `_` in a path mean themselves.
        sql.push_str(&format!(
            " AND substr(source, 1, length(?{0})) = ?{0}",
            args.len()
        ));
    }
    if let Some(since) = f.since_ms {
        args.push(since.into());
        sql.push_str(&format!(" AND at_ms >= ?{}", args.len()));
    }
    if f.failed_only {
        sql.push_str(
            " AND (status IN ('signal', 'timeout', 'refused') OR (status = 'exit' AND exit_code != 0))",
        );
    }
    args.push((f.limit.min(super::MAX_ROWS) as i64).into());
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        let mut found = row(r)?;
        if found.output_head.len() > LIST_HEAD {
            let mut end = LIST_HEAD;
            while !found.output_head.is_char_boundary(end) {
                end -= 1;
            }
            found.output_head.truncate(end);
        }
        Ok(found)
    })?;
    rows.collect()
}

/// One run, with its kept output: the head, a line saying how much was left out, the tail.
pub fn run(conn: &Connection, id: i64) -> rusqlite::Result<Option<(RunRow, Vec<u8>)>> {
    let sql = format!("SELECT {COLUMNS}, output_tail, output_cut FROM runs WHERE id = ?1");
    // output_tail and output_cut follow the 21 columns of COLUMNS.
    conn.query_row(&sql, [id], |r| {
        let found = row(r)?;
        let mut output: Vec<u8> = r.get::<_, Option<Vec<u8>>>(19)?.unwrap_or_default();
        let tail: Option<Vec<u8>> = r.get(21)?;
        let cut: Option<i64> = r.get(22)?;
        if let Some(cut) = cut.filter(|&c| c > 0) {
            if !output.ends_with(b"\n") {
                output.push(b'\n');
            }
            output.extend_from_slice(format!("[… {cut} bytes not kept …]\n").as_bytes());
        }
        output.extend_from_slice(tail.as_deref().unwrap_or_default());
        Ok((found, output))
    })
    .optional()
}
