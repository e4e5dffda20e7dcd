//! `cronwright status`: every job the asker may see, with its next run and how its last run
//! went, failing jobs first, as `systemctl list-timers` shows timers.
//!
//! The daemon answers over its control socket. When it is not running, the jobs are read
//! from the files (as `cronwright list` reads them) and the last runs from the history
//! database, where this user may read it, and the header says the daemon is not running.

use std::io::Write;
use std::path::PathBuf;

use super::Outcome;
use super::ask::{self, Paint};
use super::list::{Listed, list_jobs};
use crate::control::{JobStatus, LastRun, Reply, Request, Status};
use crate::history::Reader;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only this user's jobs (users other than root see only their own anyway)
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    /// The daemon's configuration file [default: $CRONWRIGHT_CONFIG, then /etc/cronwright/cronwright.toml]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

pub fn run(args: StatusArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let config = ask::config(args.config)?;
    let (status, running) = match ask::connect(&config, false)? {
        Some(mut conn) => match conn.ask(&Request::Status { user: args.user })? {
            Reply::Status(status) => (status, true),
            Reply::Error(e) => anyhow::bail!("the daemon says: {e}"),
            other => anyhow::bail!("unexpected reply from the daemon: {other:?}"),
        },
        None => (from_files(&config, args.user.as_deref()), false),
    };
    let mut jobs = status.jobs.clone();
    // Failing jobs first, then by their next run.
    jobs.sort_by_key(|j| {
        let failing = j.last.as_ref().is_some_and(|l| l.failed);
        (!failing, j.next.unwrap_or(i64::MAX))
    });
    if args.json {
        let value = serde_json::json!({
            "daemon": running.then_some(&status.daemon),
            "jobs": jobs,
            "problems": status.daemon.problems,
        });
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    let d = &status.daemon;
    if running {
        let problems = match d.problems.len() {
            0 => String::new(),
            1 => ", 1 line or file not loaded".into(),
            n => format!(", {n} lines or files not loaded"),
        };
        let history = if d.history { "" } else { "; no run history" };
        writeln!(
            out,
            "cronwrightd pid {}, up {}: {} files, {} jobs{problems}{history}",
            d.pid,
            ask::span(d.now - d.started),
            d.files,
            d.jobs,
        )?;
    } else {
        writeln!(
            out,
            "the daemon is not running (nothing listens on {}); jobs as the files say",
            ask::socket_name(&config)
        )?;
    }
    write!(out, "{}", render(&jobs, d.now, &Paint::stdout()))?;
    if !d.problems.is_empty() {
        writeln!(out, "\nnot loaded:")?;
        for p in &d.problems {
            writeln!(out, "  {p}")?;
        }
    }
    Ok(Outcome::Ok)
}

/// The job table, text.
fn render(jobs: &[JobStatus], now: i64, paint: &Paint) -> String {
    if jobs.is_empty() {
        return "no jobs\n".into();
    }
    let header = [
        "JOB", "USER", "SCHEDULE", "NEXT", "LEFT", "LAST", "RESULT", "TOOK", "LATE", "COMMAND",
    ];
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let last = j.last.as_ref();
            let result = match (j.running, last) {
                (Some(pid), _) => format!("running (pid {pid})"),
                (None, Some(l)) => l.result.clone(),
                (None, None) => "-".into(),
            };
            vec![
                j.job.clone(),
                j.user.clone(),
                j.schedule.clone(),
                j.next_local.clone().unwrap_or_else(|| "never".into()),
                j.next.map_or("-".into(), |t| ask::relative(t, now)),
                last.map_or("-".into(), |l| ask::relative(l.at_ms / 1000, now)),
                result,
                last.and_then(|l| l.duration_ms)
                    .map_or("-".into(), ask::duration),
                last.and_then(|l| l.late_secs)
                    .map_or("-".into(), |s| ask::span(s as i64)),
                j.command.clone(),
            ]
        })
        .collect();
    ask::table(&header, &rows, &|r, col, cell| {
        if col == 6 {
            let failed =
                jobs[r].last.as_ref().is_some_and(|l| l.failed) && jobs[r].running.is_none();
            paint.result(cell, failed)
        } else {
            cell
        }
    })
}

/// The status without a daemon: the jobs from the files, the last runs from the history if
/// this user may read it.
fn from_files(config: &crate::config::Config, user: Option<&str>) -> Status {
    let now = chrono::Utc::now();
    let mut last = std::collections::HashMap::new();
    if ask::may_read(&config.daemon.state_dir) {
        if let Ok(rows) = Reader::open(&config.daemon.state_dir).and_then(|r| r.last_per_job()) {
            for row in rows {
                last.insert(row.job_id.clone(), LastRun::from(row));
            }
        }
    }
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    let mut files = std::collections::BTreeSet::new();
    for row in list_jobs(config, now) {
        match row {
            Listed::Job {
                id,
                source,
                user: job_user,
                schedule,
                zone,
                next,
                policy,
                command,
            } => {
                if user.is_some_and(|u| u != job_user) {
                    continue;
                }
                files.insert(
                    source
                        .rsplit_once(':')
                        .map_or(source.clone(), |(f, _)| f.into()),
                );
                let next_at = next
                    .as_deref()
                    .and_then(|n| chrono::DateTime::parse_from_rfc3339(n).ok());
                jobs.push(JobStatus {
                    job: id.clone(),
                    name: None,
                    user: job_user,
                    source,
                    schedule,
                    zone,
                    next: next_at.map(|t| t.timestamp()),
                    next_local: next_at.map(|t| t.format("%Y-%m-%d %H:%M:%S %z").to_string()),
                    command,
                    policy,
                    running: None,
                    last: last.remove(&id),
                    id,
                });
            }
            Listed::Error { source, message } => problems.push(format!("{source}: {message}")),
            Listed::Refused { file, reason } => problems.push(format!("{file}: {reason}")),
            Listed::Ignored { .. } => {}
        }
    }
    Status {
        daemon: crate::control::DaemonInfo {
            pid: 0,
            started: 0,
            now: now.timestamp(),
            files: files.len(),
            jobs: jobs.len(),
            problems,
            history: false,
        },
        jobs,
    }
}
