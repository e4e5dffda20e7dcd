//! `cronwright run JOB`: the daemon runs the job now, exactly as at its scheduled time (its
//! user, environment, shell, directory, PAM session and policies), logged and recorded with
//! `trigger=manual`. With `--wait` its output streams here and the command exits with the
//! job's status: the answer to "it works in my shell but not in cron".
//!
//! Only the daemon can run a job as cron would, so without one this refuses rather than
//! running it some other way.

use std::io::Write;
use std::path::PathBuf;

use super::Outcome;
use super::ask;
use crate::control::{Reply, Request};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The job: its CRON_NAME or its id, as `cronwright status` shows them
    job: String,
    /// Follow the run: print its output as it comes, and exit with its status
    #[arg(long)]
    wait: bool,
    /// The daemon's configuration file [default: $CRONWRIGHT_CONFIG, then /etc/cronwright/cronwright.toml]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

/// What the command ends with: a status of its own when it followed the run.
pub enum RunOutcome {
    Done(Outcome),
    /// The job's exit code (or 128 + signal, 124 for a timeout, 75 for a run not started).
    Exit(i32),
}

pub fn run(args: RunArgs, out: &mut impl Write) -> anyhow::Result<RunOutcome> {
    let config = ask::config(args.config)?;
    let Some(mut conn) = ask::connect(&config, args.wait)? else {
        anyhow::bail!(
            "the daemon is not running (nothing listens on {}): only the daemon runs a job as \
             cron would",
            ask::socket_name(&config)
        );
    };
    conn.send(&Request::Run {
        job: args.job.clone(),
        wait: args.wait,
    })?;
    loop {
        let Some(reply) = conn.next()? else {
            anyhow::bail!("the daemon closed the connection before the run ended");
        };
        match reply {
            Reply::Started { run, pid, job } => {
                if args.wait {
                    eprintln!("cronwright: run {run} of {job} started, pid {pid}");
                } else {
                    writeln!(out, "run {run} of {job} started, pid {pid}")?;
                    return Ok(RunOutcome::Done(Outcome::Ok));
                }
            }
            Reply::Chunk(text) => {
                out.write_all(text.as_bytes())?;
                out.flush()?;
            }
            Reply::End(ended) => {
                if !args.wait || ended.failed {
                    eprintln!(
                        "cronwright: {}: {} after {}",
                        args.job,
                        ended.result,
                        ask::duration(ended.duration_ms)
                    );
                }
                return Ok(RunOutcome::Exit(ended.code));
            }
            Reply::Error(e) => anyhow::bail!("{e}"),
            other => anyhow::bail!("unexpected reply from the daemon: {other:?}"),
        }
    }
}
