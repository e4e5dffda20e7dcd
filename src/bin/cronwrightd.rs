//! `cronwrightd`: the cron daemon. Argument parsing here; everything else in
//! `cronwright::daemon`. It always runs in the foreground (systemd, or a container runtime
//! with `cronwrightd CRONTAB...`, keeps it running); `--foreground` is accepted for the
//! command lines of other crons.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use clap::{Parser, ValueEnum};
use cronwright::daemon::{Container, Daemon, Options, Target, check_config};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogTo {
    /// Only syslog (as the configuration says); the system daemon's default
    Syslog,
    /// Also one text line per event on stderr
    Stderr,
    /// One text line per event on stdout; the default with CRONTABs
    Text,
    /// One JSON object per event on stdout
    Json,
}

/// The cron daemon: runs the jobs of every crontab at their times, logging each run.
///
/// With CRONTAB arguments it runs in container mode: only those crontabs, as the daemon's own
/// user, with the daemon's environment, logging to stdout, reaping orphans as PID 1 must.
#[derive(Debug, Parser)]
#[command(name = "cronwrightd", version, about, long_about)]
struct Args {
    /// Container mode: run these user-format crontabs (- reads standard input once) as the
    /// daemon's user, and no others
    #[arg(value_name = "CRONTAB")]
    crontabs: Vec<PathBuf>,
    /// Stay in the foreground (the only mode: cronwrightd never forks into the background)
    #[arg(short = 'f', long, visible_short_alias = 'n')]
    foreground: bool,
    /// The configuration file [default: /etc/cronwright/cronwright.toml; none in container
    /// mode]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Where log lines go [default: syslog; text in container mode]
    #[arg(long, value_enum)]
    log: Option<LogTo>,
    /// Write the daemon's pid to this file (overrides the configuration's pid_file)
    #[arg(long, value_name = "PATH")]
    pid_file: Option<PathBuf>,
    /// Check the configuration file, print what is wrong, and exit (0 if it is valid)
    #[arg(long)]
    check_config: bool,
    /// Check the CRONTABs as `cronwright check --user` does and exit: 0 if none has an error
    #[arg(long, requires = "crontabs")]
    check: bool,
    /// Container mode: jobs get cron's clean environment and run in HOME, instead of the
    /// daemon's environment and directory
    #[arg(long, requires = "crontabs")]
    clean_env: bool,
    /// Every job's output lines go to stdout as they come (CRON_OUTPUT=passthrough for all)
    #[arg(long)]
    passthrough: bool,
    /// Write this file when the crontabs are loaded and after each reload; remove it on stop
    #[arg(long, value_name = "PATH")]
    health_file: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics (overrides `[metrics] listen`)
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Seconds running jobs get on stop before they are sent the stop signal [default: 3 in
    /// container mode, else `[jobs] grace_period`]
    #[arg(long, value_name = "SECS")]
    grace: Option<u64>,
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
    let container_mode = !args.crontabs.is_empty();
    if args.check {
        return match cronwright::cli::check_container_crontabs(
            &args.crontabs,
            args.config.as_deref(),
        ) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("cronwrightd: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    if args.check_config {
        let path = args
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/cronwright/cronwright.toml"));
        return match check_config(&path) {
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
        Some(LogTo::Syslog) => vec![],
        None if !container_mode => vec![],
        Some(LogTo::Stderr) => vec![Target::Stderr],
        Some(LogTo::Text) | None => vec![Target::Stdout],
        Some(LogTo::Json) => vec![Target::Json],
    };
    let container = if container_mode {
        match Container::new(&args.crontabs, args.clean_env) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("cronwrightd: {e:#}");
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let options = Options {
        config_path: args.config,
        log,
        pid_file: args.pid_file,
        container,
        grace: args.grace.map(Duration::from_secs),
        syslog: container_mode && matches!(args.log, Some(LogTo::Syslog)),
        metrics_listen: args.metrics_listen,
        passthrough: args.passthrough,
        health_file: args.health_file,
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
