//! The `cronwright` command: argument parsing and the subcommands.
//!
//! Exit codes: 0 when all is well, 1 for invalid input (a crontab with errors, a bad
//! expression, an unknown zone, an unreadable file), 2 for a usage error (clap's own code).
//!
//! `cronwright crontab ...`, and the binary run under the name `crontab` (a symbolic link),
//! are the `crontab` command (`cli/crontab/`) with cronie's exit codes. Since the binary is
//! installed set-group-ID for that command, every other subcommand gives the group up first.

mod ask;
mod check;
mod crontab;
mod history;
mod list;
mod next;
mod run;
mod status;

pub use check::check_container_crontabs;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::DEFAULT_PATH;

#[derive(Debug, Parser)]
#[command(name = "cronwright", version, about = "Check crontabs, compute fire times, and ask the daemon what its jobs did", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the next fire times of a cron expression
    Next(next::NextArgs),
    /// Check crontab files and report every problem with its line and column
    Check(check::CheckArgs),
    /// List every job the daemon would load: source, user, schedule, zone, next fire time
    List(list::ListArgs),
    /// Install, list, edit or remove a user's crontab: the `crontab` command
    Crontab(crontab::CrontabArgs),
    /// Every job with its next run and how its last run went, failing jobs first
    Status(status::StatusArgs),
    /// Past runs, newest first, with how each ended and its output
    History(history::HistoryArgs),
    /// Run a job now through the daemon, exactly as at its scheduled time
    Run(run::RunArgs),
}

/// What a subcommand concluded, before it becomes an exit code.
pub(crate) enum Outcome {
    Ok,
    Invalid,
}

/// Runs the `cronwright` command with the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = args.first().and_then(|a| Path::new(a).file_name());
    if invoked_as.is_some_and(|name| name == "crontab") {
        return crontab::main(args);
    }
    if args.get(1).is_some_and(|a| a == "crontab") {
        return crontab::main(args.into_iter().skip(1).collect());
    }
    if let Err(e) = crontab::drop_set_group_id() {
        eprintln!("cronwright: {e}");
        return ExitCode::from(1);
    }
    let parsed = Cli::command()
        .version(crate::version())
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Next(args) => next::run(args, &mut out),
        Command::Check(args) => check::run(args, &mut out),
        Command::List(args) => list::run(args, &mut out),
        Command::Status(args) => status::run(args, &mut out),
        Command::History(args) => history::run(args, &mut out),
        Command::Run(args) => match run::run(args, &mut out) {
            Ok(run::RunOutcome::Exit(code)) => {
                let _ = out.flush();
                return ExitCode::from(code.clamp(0, 255) as u8);
            }
            Ok(run::RunOutcome::Done(o)) => Ok(o),
            Err(e) => Err(e),
        },
        // Handled before parsing, so that it keeps its group and cronie's exit codes.
        Command::Crontab(args) => return crontab::run(args),
    };
    let _ = out.flush();
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(1),
        // A closed pipe (`cronwright next ... | head -1`) is not a failure of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cronwright: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// The environment variable naming the configuration when `--config` is not given.
const CONFIG_ENV: &str = "CRONWRIGHT_CONFIG";

/// The configuration path: `--config`, then `$CRONWRIGHT_CONFIG`, then the default.
fn config_path(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| {
        std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}
