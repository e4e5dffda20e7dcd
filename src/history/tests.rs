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
    let old = start(&mut h, "a", "alice", now_ms() - 40 * 86_400_000);
    end(&mut h, old, Outcome::Exit(0), b"");
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

/// The loop's cost of recording a run (start and end), and the writer's pace: run with
/// `cargo test --release --lib history -- --ignored --nocapture`.
#[test]
#[ignore]
fn record_cost() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = History::open(dir.path(), RETAIN).unwrap();
    let began = std::time::Instant::now();
    let n = 1000;
    for i in 0..n {
        let r = start(&mut h, &format!("job{i}"), "alice", now_ms());
        end(&mut h, r, Outcome::Exit(0), b"some output\n");
    }
    let loop_cost = began.elapsed();
    h.close();
    let total = began.elapsed();
    println!(
        "{n} runs: {:.1} us of the loop per run (start + end); the writer done after {:.0} ms \
         ({:.0} us per run); dropped {}",
        loop_cost.as_secs_f64() * 1e6 / n as f64,
        total.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e6 / n as f64,
        0
    );
}
