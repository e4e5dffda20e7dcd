//! The `cronwright` command: argument parsing and the subcommands.
//!
//! Exit codes: 0 when all is well, 1 for invalid input (a crontab with errors, a bad
//! expression, an unknown zone, an unreadable file), 2 for a usage error (clap's own code).

mod check;
mod next;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cronwright", version, about = "Check crontabs and compute cron fire times", long_about = None)]
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
}

/// What a subcommand concluded, before it becomes an exit code.
pub enum Outcome {
    Ok,
    Invalid,
}

/// Runs the `cronwright` command with the process's arguments.
pub fn main() -> ExitCode {
    // The version line names the compiled-in tz database: fire times depend on it.
    let version = format!(
        "{} (tz database {})",
        env!("CARGO_PKG_VERSION"),
        chrono_tz::IANA_TZDB_VERSION
    );
    let parsed = Cli::command()
        .version(version)
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
