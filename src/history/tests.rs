//! The history through its writer thread and its reader, on a real SQLite file.

use super::store::HEAD_TAIL;
use super::*;

const RETAIN: Retention = Retention {
    keep_runs: 100,
    keep_days: 30,
};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn start(h: &mut History, job: &str, user: &str, at_ms: i64) -> i64 {
    let run_id = h.next_run_id();
    h.record(Record::Start(RunStart {
        run_id,
        of: RunOf {
            job_id: job.into(),
            name: None,
            user: user.into(),
            source: format!("/spool/{user}:3"),
            command: "backup".into(),
            trigger: Trigger::Schedule,
            due_ms: Some(at_ms),
        },
        started_ms: at_ms,
        late_secs: None,
        pid: 42,
    }));
    run_id
}

fn end(h: &mut History, run_id: i64, outcome: Outcome, output: &[u8]) {
    h.record(Record::End(RunEnd {
        run_id,
        ended_ms: now_ms(),
        outcome,
        duration_ms: 1500,
        output_bytes: output.len() as u64,
        output: output.to_vec(),
    }));
}

fn all(dir: &Path) -> Vec<RunRow> {
    let filter = Filter {
        limit: 10_000,
        ..Filter::default()
    };
    Reader::open(dir).unwrap().runs(&filter).unwrap()
}

#[test]
fn a_run_is_recorded_from_start_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let at = now_ms();
    let ok = start(&mut h, "a1", "alice", at);
    end(&mut h, ok, Outcome::Exit(0), b"done\n");
    let bad = start(&mut h, "b2", "bob", at);
    end(&mut h, bad, Outcome::Exit(3), b"oops\n");
    h.close();
    let rows = all(dir.path());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].id, bad, "newest first");
    assert_eq!(rows[0].result, "exit 3");
    assert!(rows[0].failed);
    assert_eq!(rows[0].exit_code, Some(3));
    assert_eq!(rows[1].result, "ok");
    assert!(!rows[1].failed);
    assert_eq!(rows[1].output_head, "done\n");
    assert_eq!(rows[1].duration_ms, Some(1500));
    assert_eq!(rows[1].started_ms, Some(at));
    assert_eq!(rows[1].trigger, "schedule");
}

#[test]
fn an_idle_history_opens_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(FILE_NAME);
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    // Nothing to write: no file, no connection, no SQLite in memory; no runs to read.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!db.exists());
    assert!(all(dir.path()).is_empty());
    // Made but without its table yet (the writer is making it): still no runs.
    std::fs::write(&db, b"").unwrap();
    assert!(all(dir.path()).is_empty());
    std::fs::remove_file(&db).unwrap();
    start(&mut h, "a1", "alice", now_ms());
    h.close();
    assert!(db.exists());
    assert_eq!(all(dir.path()).len(), 1);
}

#[test]
fn skips_are_recorded_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let run_id = h.next_run_id();
    h.record(Record::Skip(Skip {
        run_id,
        of: RunOf {
            job_id: "j".into(),
            name: Some("nightly".into()),
            user: "alice".into(),
            source: "/spool/alice:1".into(),
            command: "sleep 9".into(),
            trigger: Trigger::Schedule,
            due_ms: Some(1),
        },
        at_ms: now_ms(),
        reason: "overlap".into(),
        detail: "overlap=skip: the last run still runs".into(),
    }));
    h.close();
    let rows = all(dir.path());
    assert_eq!(rows[0].result, "skipped: overlap");
    assert!(!rows[0].failed);
    assert_eq!(rows[0].skip_reason.as_deref(), Some("overlap"));
    // A skip has no start or end, but its time.
    assert_eq!(rows[0].started_ms, None);
    assert!(rows[0].at_ms > 1_700_000_000_000, "{}", rows[0].at_ms);
    let filter = Filter {
        job: Some("nightly".into()),
        limit: 5,
        ..Filter::default()
    };
    let by_name = Reader::open(dir.path()).unwrap().runs(&filter).unwrap();
    assert_eq!(by_name.len(), 1);
}

#[test]
fn run_numbers_go_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let first = start(&mut h, "a", "alice", now_ms());
    h.close();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    assert_eq!(h.next_run_id(), first + 1);
}

#[test]
fn long_output_keeps_its_head_and_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let mut output = vec![b'a'; HEAD_TAIL];
    output.extend(vec![b'b'; 12 * 1024]);
    output.extend(vec![b'c'; HEAD_TAIL]);
    let run = start(&mut h, "a", "alice", now_ms());
    end(&mut h, run, Outcome::Exit(0), &output);
    h.close();
    let (row, kept) = Reader::open(dir.path()).unwrap().run(run).unwrap().unwrap();
    assert_eq!(row.output_bytes, Some(output.len() as u64));
    let kept = String::from_utf8(kept).unwrap();
    assert!(kept.starts_with(&"a".repeat(HEAD_TAIL)));
    assert!(
        kept.contains("[… 12288 bytes not kept …]"),
        "{}",
        &kept[4000..4200]
    );
    assert!(kept.ends_with(&"c".repeat(HEAD_TAIL)));
    assert!(!kept.contains("bb"));
}

#[test]
fn each_job_keeps_its_newest_runs() {
    let dir = tempfile::tempdir().unwrap();
    let retain = Retention {
        keep_runs: 10,
        keep_days: 30,
    };
    let mut h = History::open(dir.path(), retain).unwrap();
    for _ in 0..40 {
        let r = start(&mut h, "often", "alice", now_ms());
        end(&mut h, r, Outcome::Exit(0), b"");
    }
    let other = start(&mut h, "rare", "alice", now_ms());
    end(&mut h, other, Outcome::Exit(0), b"");
    h.close();
    let rows = all(dir.path());
    assert_eq!(rows.iter().filter(|r| r.job_id == "often").count(), 10);
    assert_eq!(rows.iter().filter(|r| r.job_id == "rare").count(), 1);
    // The newest are the ones kept.
    assert_eq!(rows[1].job_id, "often");
    assert_eq!(rows[1].id, other - 1);
}

#[test]
fn runs_older_than_the_window_go() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let long_ago = now_ms() - 40 * 86_400_000;
    let old = start(&mut h, "a", "alice", long_ago);
    h.record(Record::End(RunEnd {
        run_id: old,
        ended_ms: long_ago + 1500,
        outcome: Outcome::Exit(0),
        duration_ms: 1500,
        output_bytes: 0,
        output: Vec::new(),
    }));
    let new = start(&mut h, "b", "alice", now_ms());
    end(&mut h, new, Outcome::Exit(0), b"");
    h.close();
    let ids: Vec<i64> = all(dir.path()).iter().map(|r| r.id).collect();
    assert_eq!(ids, [new]);
}

#[test]
fn filters_pick_failures_users_sources_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let t = now_ms();
    let a = start(&mut h, "a", "alice", t - 3_600_000);
    end(&mut h, a, Outcome::Timeout, b"");
    let b = start(&mut h, "b", "bob", t);
    end(&mut h, b, Outcome::Exit(0), b"");
    let c = start(&mut h, "c", "bob", t);
    end(&mut h, c, Outcome::Signal(9), b"");
    h.close();
    let reader = Reader::open(dir.path()).unwrap();
    let ids = |f: Filter| -> Vec<i64> {
        reader
            .runs(&Filter { limit: 100, ..f })
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(
        ids(Filter {
            failed_only: true,
            ..Filter::default()
        }),
        [c, a]
    );
    assert_eq!(
        ids(Filter {
            users: Some(vec!["bob".into()]),
            ..Filter::default()
        }),
        [c, b]
    );
    assert_eq!(
        ids(Filter {
            source_prefix: Some("/spool/alice:".into()),
            ..Filter::default()
        }),
        [a]
    );
    assert_eq!(
        ids(Filter {
            since_ms: Some(t - 60_000),
            ..Filter::default()
        }),
        [c, b]
    );
    let last = reader.last_per_job().unwrap();
    assert_eq!(last.len(), 3);
}

#[test]
fn a_file_that_is_not_a_database_is_put_aside() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("history.db"), vec![0x5a; 8192]).unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let run = start(&mut h, "a", "alice", now_ms());
    end(&mut h, run, Outcome::Exit(0), b"");
    let shared = Arc::clone(&h.shared);
    h.close();
    let problems = std::mem::take(&mut shared.lock().unwrap().problems);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("history.db.corrupt-"), "{problems:?}");
    assert_eq!(all(dir.path()).len(), 1);
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("history.db.corrupt-")
        })
        .count();
    assert_eq!(aside, 1);
}

#[test]
fn a_full_queue_drops_records_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    // The writer is slower than this loop: far more records than the queue holds.
    for _ in 0..(QUEUE * 4) {
        start(&mut h, "a", "alice", now_ms());
    }
    let problems = h.take_problems();
    assert!(
        problems.iter().any(|p| p.contains("queue was full")),
        "{problems:?}"
    );
    h.close();
}

fn skip(h: &mut History, job: &str, at_ms: i64) -> i64 {
    let run_id = h.next_run_id();
    h.record(Record::Skip(Skip {
        run_id,
        of: RunOf {
            job_id: job.into(),
            name: None,
            user: "alice".into(),
            source: "/spool/alice:1".into(),
            command: "sleep 9".into(),
            trigger: Trigger::Schedule,
            due_ms: Some(at_ms),
        },
        at_ms,
        reason: "overlap".into(),
        detail: "overlap=skip: the last run still runs".into(),
    }));
    run_id
}

fn count(dir: &Path, job: &str) -> usize {
    all(dir).iter().filter(|r| r.job_id == job).count()
}

#[test]
fn a_burst_and_a_backlog_both_come_down_to_keep_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    for _ in 0..150 {
        let r = start(&mut h, "often", "alice", now_ms());
        end(&mut h, r, Outcome::Exit(0), b"");
    }
    h.close();
    assert_eq!(count(dir.path(), "often"), 100);

    // A backlog (a smaller keep_runs than the last daemon's) goes a few rows per run.
    let wide = Retention {
        keep_runs: 1000,
        keep_days: 30,
    };
    let mut h = History::open(dir.path(), wide).unwrap();
    for _ in 0..200 {
        let r = start(&mut h, "often", "alice", now_ms());
        end(&mut h, r, Outcome::Exit(0), b"");
    }
    h.close();
    assert_eq!(count(dir.path(), "often"), 300);
    let mut counts = Vec::new();
    for _ in 0..5 {
        let mut h = History::open(dir.path(), RETAIN).unwrap();
        let r = start(&mut h, "often", "alice", now_ms());
        end(&mut h, r, Outcome::Exit(0), b"");
        h.close();
        counts.push(count(dir.path(), "often"));
    }
    assert_eq!(counts, [251, 202, 153, 104, 100]);
}

#[test]
fn a_job_that_is_only_ever_skipped_keeps_keep_runs() {
    let dir = tempfile::tempdir().unwrap();
    let retain = Retention {
        keep_runs: 10,
        keep_days: 30,
    };
    let mut h = History::open(dir.path(), retain).unwrap();
    for _ in 0..40 {
        skip(&mut h, "orphan", now_ms());
    }
    h.close();
    assert_eq!(count(dir.path(), "orphan"), 10);
}

#[test]
fn runs_an_earlier_daemon_left_running_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let left = start(&mut h, "a", "alice", now_ms());
    let old = start(&mut h, "b", "alice", now_ms() - 40 * 86_400_000);
    h.close();
    let retain = Retention {
        keep_runs: 2,
        keep_days: 30,
    };
    let mut h = History::open(dir.path(), retain).unwrap();
    for _ in 0..2 {
        let r = start(&mut h, "a", "alice", now_ms());
        end(&mut h, r, Outcome::Exit(0), b"");
    }
    h.close();
    let ids: Vec<i64> = all(dir.path()).iter().map(|r| r.id).collect();
    assert!(!ids.contains(&left), "beyond keep_runs: {ids:?}");
    assert!(!ids.contains(&old), "beyond keep_days: {ids:?}");
    assert_eq!(ids.len(), 2);
}

#[test]
fn an_end_whose_start_was_lost_still_leaves_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let run = h.next_run_id();
    end(&mut h, run, Outcome::Exit(2), b"no start\n");
    h.close();
    let (row, output) = Reader::open(dir.path()).unwrap().run(run).unwrap().unwrap();
    assert_eq!(row.result, "exit 2");
    assert!(row.failed);
    assert_eq!(row.duration_ms, Some(1500));
    assert_eq!(output, b"no start\n");
}

#[test]
fn the_last_run_of_each_job_is_its_newest_ended_or_skipped_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let t = now_ms();
    let a1 = start(&mut h, "a", "alice", t);
    end(&mut h, a1, Outcome::Exit(0), b"");
    let a2 = start(&mut h, "a", "alice", t);
    end(&mut h, a2, Outcome::Exit(3), b"");
    let b1 = start(&mut h, "b", "bob", t);
    end(&mut h, b1, Outcome::Exit(0), b"");
    let b2 = skip(&mut h, "b", t);
    let c1 = start(&mut h, "c", "carol", t);
    end(&mut h, c1, Outcome::Signal(9), b"");
    start(&mut h, "c", "carol", t);
    h.close();
    let mut last: Vec<(String, i64, String)> = Reader::open(dir.path())
        .unwrap()
        .last_per_job()
        .unwrap()
        .into_iter()
        .map(|r| (r.job_id, r.id, r.result))
        .collect();
    last.sort();
    assert_eq!(
        last,
        [
            ("a".to_string(), a2, "exit 3".to_string()),
            ("b".to_string(), b2, "skipped: overlap".to_string()),
            ("c".to_string(), c1, "signal 9".to_string()),
        ]
    );
}

/// A writer on the database of `dir`, driven batch by batch as its thread would.
fn writer(dir: &Path, retain: Retention) -> (Writer, Connection, Arc<Mutex<Shared>>) {
    let path = dir.join(FILE_NAME);
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (conn, problem) = open_or_replace(&path).unwrap();
    assert_eq!(problem, None);
    (Writer::new(path, retain, Arc::clone(&shared)), conn, shared)
}

fn problems(shared: &Mutex<Shared>) -> Vec<String> {
    std::mem::take(&mut shared.lock().unwrap().problems)
}

fn of(job: &str) -> RunOf {
    RunOf {
        job_id: job.into(),
        name: None,
        user: "alice".into(),
        source: "/spool/alice:1".into(),
        command: "backup".into(),
        trigger: Trigger::Schedule,
        due_ms: None,
    }
}

fn a_run(run_id: i64, output: usize) -> Vec<Record> {
    vec![
        Record::Start(RunStart {
            run_id,
            of: of("a"),
            started_ms: now_ms(),
            late_secs: None,
            pid: 1,
        }),
        Record::End(RunEnd {
            run_id,
            ended_ms: now_ms(),
            outcome: Outcome::Exit(0),
            duration_ms: 1,
            output_bytes: output as u64,
            output: vec![b'x'; output],
        }),
    ]
}

#[test]
fn a_full_disk_is_said_once_until_a_write_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, conn, shared) = writer(dir.path(), RETAIN);
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // As full as a disk can be: no page beyond those it has.
    conn.pragma_update(None, "max_page_count", pages).unwrap();
    let mut conn = w.commit(conn, &a_run(1, 8192)).unwrap();
    conn = w.commit(conn, &a_run(2, 8192)).unwrap();
    let said = problems(&shared);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("history.db"), "{said:?}");
    assert!(said[0].contains("full"), "{said:?}");

    conn.pragma_update(None, "max_page_count", 1_000_000)
        .unwrap();
    conn = w.commit(conn, &a_run(3, 10)).unwrap();
    assert_eq!(problems(&shared), Vec::<String>::new());
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    conn.pragma_update(None, "max_page_count", pages).unwrap();
    conn = w.commit(conn, &a_run(4, 8192)).unwrap();
    assert_eq!(problems(&shared).len(), 1, "said again after a success");
    drop(conn);
    let ids: Vec<i64> = all(dir.path()).iter().map(|r| r.id).collect();
    assert_eq!(ids, [3]);
}

#[test]
fn a_database_found_corrupt_on_a_write_is_put_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let (mut w, conn, shared) = writer(dir.path(), RETAIN);
    let conn = w.commit(conn, &a_run(1, 10)).unwrap();
    drop(conn);
    // The header and the schema (page 1) intact, the table's pages garbage: it opens, and
    // fails at the first write.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4096, "{}", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0xa5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let (mut w, conn, shared2) = writer(dir.path(), RETAIN);
    let conn = w.commit(conn, &a_run(2, 10)).unwrap();
    let said = problems(&shared2);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("history.db.corrupt-"), "{said:?}");
    let conn = w.commit(conn, &a_run(3, 10)).unwrap();
    drop(conn);
    assert_eq!(problems(&shared2), Vec::<String>::new());
    assert_eq!(problems(&shared), Vec::<String>::new());
    let ids: Vec<i64> = all(dir.path()).iter().map(|r| r.id).collect();
    assert_eq!(ids, [3]);
    let aside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("history.db.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
}

#[test]
fn a_hung_run_keeps_its_row_while_its_skips_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let retain = Retention {
        keep_runs: 5,
        keep_days: 30,
    };
    let (mut w, conn, shared) = writer(dir.path(), retain);
    let mut batch = vec![Record::Start(RunStart {
        run_id: 1,
        of: of("slow"),
        started_ms: now_ms() - 40 * 86_400_000,
        late_secs: None,
        pid: 7,
    })];
    for run_id in 2..22 {
        batch.push(Record::Skip(Skip {
            run_id,
            of: of("slow"),
            at_ms: now_ms() - 60_000,
            reason: "overlap".into(),
            detail: "its last run still runs".into(),
        }));
    }
    // Another job's end prunes past keep_days, which the hung run started before.
    batch.extend(a_run(22, 0));
    let conn = w.commit(conn, &batch).unwrap();
    let rows = all(dir.path());
    assert_eq!(rows.iter().filter(|r| r.job_id == "slow").count(), 6);
    assert_eq!(rows.last().map(|r| r.result.as_str()), Some("running"));

    let end = Record::End(RunEnd {
        run_id: 1,
        ended_ms: now_ms(),
        outcome: Outcome::Timeout,
        duration_ms: 40 * 86_400_000,
        output_bytes: 5,
        output: b"late\n".to_vec(),
    });
    drop(w.commit(conn, &[end]).unwrap());
    assert_eq!(problems(&shared), Vec::<String>::new());
    // Kept keep_days after its end, not its start.
    let (row, output) = Reader::open(dir.path()).unwrap().run(1).unwrap().unwrap();
    assert_eq!(row.result, "timeout");
    assert_eq!(row.command, "backup", "the row of its start, completed");
    assert_eq!(output, b"late\n");
    assert_eq!(count(dir.path(), "slow"), 5);
}

/// Records of `n` runs (a start and an end each) over `jobs` jobs, each with `output`
/// bytes of output, numbered from `h`.
fn runs_of(h: &mut History, n: usize, jobs: usize, output: usize) -> Vec<Record> {
    let mut records = Vec::with_capacity(2 * n);
    for i in 0..n {
        let run_id = h.next_run_id();
        let t = now_ms();
        records.push(Record::Start(RunStart {
            run_id,
            of: RunOf {
                due_ms: Some(t),
                ..of(&format!("job{}", i % jobs))
            },
            started_ms: t,
            late_secs: None,
            pid: 4242,
        }));
        records.push(Record::End(RunEnd {
            run_id,
            ended_ms: t + 1,
            outcome: Outcome::Exit(0),
            duration_ms: 1,
            output_bytes: output as u64,
            output: vec![b'x'; output],
        }));
    }
    records
}

/// The loop's cost of `record()`, and the writer's pace, for a burst of 1,000 runs into
/// an empty database and into one whose jobs are at `keep_runs` (each end prunes): run with
/// `cargo test --release --lib history -- --ignored --nocapture`.
#[test]
#[ignore]
fn record_cost() {
    let n = 1000;
    for (what, jobs, output, prefill) in [
        ("new jobs, 12 B output", n, 12, false),
        ("new jobs, 20 KiB output", n, 20 * 1024, false),
        ("10 jobs at keep_runs, 12 B output", 10, 12, true),
        ("10 jobs at keep_runs, 20 KiB output", 10, 20 * 1024, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        if prefill {
            let mut h = History::open(dir.path(), RETAIN).unwrap();
            for record in runs_of(&mut h, 1000, 10, output) {
                h.record(record);
            }
            h.close();
        }
        let mut h = History::open(dir.path(), RETAIN).unwrap();
        let records = runs_of(&mut h, n, jobs, output);
        let count = records.len();
        let began = std::time::Instant::now();
        for record in records {
            h.record(record);
        }
        let handed = began.elapsed();
        let dropped = h.dropped_untold;
        h.close();
        let total = began.elapsed();
        println!(
            "{what}: record() {:.2} us each ({count} records); writer done after {:.1} ms: \
             {:.1} us per run, {:.0} runs/s; dropped {dropped}",
            handed.as_secs_f64() * 1e6 / count as f64,
            total.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e6 / n as f64,
            n as f64 / total.as_secs_f64(),
        );
        if prefill {
            assert_eq!(all(dir.path()).len(), 1000, "10 jobs at keep_runs 100");
        }
    }
}
