//! `cronwright history`: past runs, newest first, with how each ended and the start of its
//! output; `--output RUN` prints what was kept of one run's output.
//!
//! Asked of the daemon, which shows a user only the runs of their own crontab. Without a
//! daemon, the database is read directly, which only root (who owns the state directory)
//! may do.

use std::io::Write;
use std::path::PathBuf;

use super::Outcome;
use super::ask::{self, Paint};
use crate::control::{Reply, Request};
use crate::history::{Filter, Reader, RunRow};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Only this job (its CRON_NAME or id, as `cronwright status` shows)
    job: Option<String>,
    /// Only runs in this past span: 90s, 30m, 12h, 2d
    #[arg(long, value_name = "SPAN")]
    since: Option<String>,
    /// Only runs that failed (an exit status other than 0, a signal, a timeout, a refusal)
    #[arg(long)]
    failed: bool,
    /// Only this user's runs (root's question)
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// At most this many runs
    #[arg(long, short = 'n', default_value_t = 50, value_name = "N")]
    limit: usize,
    /// Print the output kept of run RUN (its number in the first column)
    #[arg(long, value_name = "RUN", conflicts_with_all = ["since", "failed", "user"])]
    output: Option<i64>,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
    /// The daemon's configuration file [default: $CRONWRIGHT_CONFIG, then /etc/cronwright/cronwright.toml]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

pub fn run(args: HistoryArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let config = ask::config(args.config.clone())?;
    let since_ms = match &args.since {
        None => None,
        Some(s) => {
            let secs = crate::cron::parse_duration("--since", s, false)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(chrono::Utc::now().timestamp_millis() - i64::from(secs) * 1000)
        }
    };
    let request = match args.output {
        Some(run) => Request::Output { run },
        None => Request::History {
            job: args.job.clone(),
            user: args.user.clone(),
            since_ms,
            failed: args.failed,
            limit: args.limit,
        },
    };
    let reply = match ask::connect(&config, false)? {
        Some(mut conn) => conn.ask(&request)?,
        None => read_directly(&config, &request)?,
    };
    match reply {
        Reply::History(rows) => {
            if args.json {
                serde_json::to_writer_pretty(&mut *out, &rows)?;
                writeln!(out)?;
            } else if rows.is_empty() {
                writeln!(out, "no runs")?;
            } else {
                write!(out, "{}", render(&rows, &Paint::stdout()))?;
            }
            Ok(Outcome::Ok)
        }
        Reply::Output { run, output } => {
            if args.json {
                let value = serde_json::json!({ "run": run, "output": output });
                serde_json::to_writer_pretty(&mut *out, &value)?;
                writeln!(out)?;
            } else {
                out.write_all(output.as_bytes())?;
            }
            Ok(Outcome::Ok)
        }
        Reply::Error(e) => anyhow::bail!("{e}"),
        other => anyhow::bail!("unexpected reply from the daemon: {other:?}"),
    }
}

/// The answer without a daemon, from the database if this user may read it.
fn read_directly(config: &crate::config::Config, request: &Request) -> anyhow::Result<Reply> {
    let db = ask::history_db(config);
    if !ask::may_read(&config.daemon.state_dir) {
        anyhow::bail!(
            "the daemon is not running (nothing listens on {}), and {} is root's to read",
            ask::socket_name(config),
            db.display()
        );
    }
    let reader = Reader::open(&config.daemon.state_dir)?;
    Ok(match request {
        Request::Output { run } => match reader.run(*run)? {
            Some((row, output)) => Reply::Output {
                run: Box::new(row),
                output: String::from_utf8_lossy(&output).into_owned(),
            },
            None => Reply::Error(format!("no run {run} in {}", db.display())),
        },
        Request::History {
            job,
            user,
            since_ms,
            failed,
            limit,
        } => Reply::History(reader.runs(&Filter {
            job: job.clone(),
            users: user.clone().map(|u| vec![u]),
            since_ms: *since_ms,
            failed_only: *failed,
            limit: *limit,
            source_prefix: None,
        })?),
        _ => Reply::Error("not a history request".into()),
    })
}

/// The runs, text: one line each, with the first line of its output.
fn render(rows: &[RunRow], paint: &Paint) -> String {
    let header = [
        "RUN", "JOB", "USER", "STARTED", "TRIGGER", "TOOK", "RESULT", "OUTPUT",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let at = r.at_ms;
            let started = chrono::DateTime::from_timestamp_millis(at)
                .map(|t| {
                    t.with_timezone(&chrono::Local)
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default();
            let result = match (&r.skip_detail, r.result.starts_with("skipped")) {
                (Some(detail), true) => format!("{} ({detail})", r.result),
                _ => r.result.clone(),
            };
            let first = r.output_head.lines().next().unwrap_or("").trim();
            let mut shown: String = first.chars().take(60).collect();
            if shown.len() < first.len() || r.output_head.lines().nth(1).is_some() {
                shown.push('…');
            }
            vec![
                r.id.to_string(),
                r.name.clone().unwrap_or_else(|| r.job_id.clone()),
                r.user.clone(),
                started,
                r.trigger.clone(),
                r.duration_ms.map_or("-".into(), ask::duration),
                result,
                shown,
            ]
        })
        .collect();
    ask::table(&header, &cells, &|row, col, cell| {
        if col == 6 {
            paint.result(cell, rows[row].failed)
        } else {
            cell
        }
    })
}
