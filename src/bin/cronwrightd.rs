//! `cronwrightd`: the cron daemon. Argument parsing here; everything else in
//! `cronwright::daemon`. It always runs in the foreground (systemd or another supervisor
//! keeps it running); `--foreground` is accepted for the command lines of other crons.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use clap::{Parser, ValueEnum};
use cronwright::daemon::{Daemon, Options, Target, check_config};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogTo {
    /// Only syslog (as the configuration says)
    Syslog,
    /// Also one text line per event on stderr
    Stderr,
    /// Also one JSON object per event on stdout
    Json,
}

/// The cron daemon: runs the jobs of every crontab at their times, logging each run.
#[derive(Debug, Parser)]
#[command(name = "cronwrightd", version, about, long_about = None)]
struct Args {
    /// Stay in the foreground (the only mode: cronwrightd never forks into the background)
    #[arg(short = 'f', long, visible_short_alias = 'n')]
    foreground: bool,
    /// The configuration file
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/etc/cronwright/cronwright.toml"
    )]
    config: PathBuf,
    /// Where log lines go besides syslog
    #[arg(long, value_enum, default_value = "syslog")]
    log: LogTo,
    /// Write the daemon's pid to this file (overrides the configuration's pid_file)
    #[arg(long, value_name = "PATH")]
    pid_file: Option<PathBuf>,
    /// Check the configuration file, print what is wrong, and exit (0 if it is valid)
    #[arg(long)]
    check_config: bool,
    /// Debug builds only, for tests: the loop's clock is the system's plus the seconds
    /// this file holds, so a test can step it
    #[cfg(debug_assertions)]
    #[arg(long, hide = true, value_name = "PATH")]
    clock_offset_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = match Args::command()
        .version(cronwright::version())
        .try_get_matches()
        .and_then(|m| Args::from_arg_matches(&m))
    {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let _ = args.foreground;
    if args.check_config {
        return match check_config(&args.config) {
            Ok(verdict) => {
                println!("{verdict}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cronwrightd: {e}");
                ExitCode::from(1)
            }
        };
    }
    let log = match args.log {
        LogTo::Syslog => vec![],
        LogTo::Stderr => vec![Target::Stderr],
        LogTo::Json => vec![Target::Json],
    };
    let options = Options {
        config_path: args.config,
        log,
        pid_file: args.pid_file,
        #[cfg(debug_assertions)]
        clock_offset_file: args.clock_offset_file,
        #[cfg(not(debug_assertions))]
        clock_offset_file: None,
    };
    match Daemon::new(options).and_then(Daemon::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cronwrightd: {e:#}");
            ExitCode::from(1)
        }
    }
}
