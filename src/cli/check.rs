//! `cronwright check`: parse crontab files and report every problem like a compiler, then a
//! summary per file that also names the lines that are fine. The daemon's configuration
//! supplies the limits it applies at load (the command length), so that what `check` calls
//! fine is what the daemon runs.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Outcome;
use crate::config::Config;
use crate::cron::{Format, report};
use crate::resolve::parse_for_daemon;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Read every file as a system crontab (a user name after the schedule)
    #[arg(long, conflicts_with = "user")]
    system: bool,
    /// Read every file as a user crontab (no user field)
    #[arg(long)]
    user: bool,
    /// Crontab files to check; - reads standard input. /etc/crontab and files in /etc/cron.d
    /// are system crontabs unless --user is given; others are user crontabs.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// The daemon's configuration, for its limits [default: $CRONWRIGHT_CONFIG, then /etc/cronwright/cronwright.toml]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

/// System crontabs are `/etc/crontab` and the files of `/etc/cron.d`.
pub fn default_format(path: &Path) -> Format {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let system = [path, abs.as_path()]
        .iter()
        .any(|p| *p == Path::new("/etc/crontab") || p.parent() == Some(Path::new("/etc/cron.d")));
    if system { Format::System } else { Format::User }
}

pub fn run(args: CheckArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    // A configuration the daemon could not start with either is no reason not to check
    // the language: say so, and leave its limits out.
    let config = match Config::load_or_defaults(&super::config_path(args.config.clone())) {
        Ok(config) => Some(config),
        Err(e) => {
            eprintln!("cronwright: {e}; the daemon's limits are not checked");
            None
        }
    };
    let format = match (args.system, args.user) {
        (true, _) => Some(Format::System),
        (_, true) => Some(Format::User),
        _ => None,
    };
    check_files("cronwright", &args.files, format, config.as_ref(), out)
}

/// `cronwrightd --check CRONTAB...`: the container's crontabs, checked as user crontabs with
/// the limits of the configuration `config` names (the built-in defaults without one); the
/// report goes to stdout. `Ok(true)` when no file has an error.
pub fn check_container_crontabs(files: &[PathBuf], config: Option<&Path>) -> anyhow::Result<bool> {
    let config = match config {
        Some(path) => Config::load_or_defaults(path)?,
        None => Config::defaults()?,
    };
    let mut out = std::io::stdout().lock();
    let outcome = check_files(
        "cronwrightd",
        files,
        Some(Format::User),
        Some(&config),
        &mut out,
    )?;
    Ok(matches!(outcome, Outcome::Ok))
}

/// Checks each file (`-` is standard input) in `format`, or else the one its place implies;
/// `program` names the command in messages.
fn check_files(
    program: &str,
    files: &[PathBuf],
    format: Option<Format>,
    config: Option<&Config>,
    out: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::Ok;
    for path in files {
        let stdin = path.as_os_str() == "-";
        let (name, source) = if stdin {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            (
                "<stdin>".to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        } else {
            let name = path.display().to_string();
            match std::fs::read(path) {
                Ok(bytes) => (name, String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) => {
                    eprintln!("{program}: cannot read {name}: {e}");
                    outcome = Outcome::Invalid;
                    continue;
                }
            }
        };
        let format = match format {
            Some(f) => f,
            None if stdin => Format::User,
            None => default_format(path),
        };
        let parsed = parse_for_daemon(&source, format, config);
        report(&name, &source, &parsed, out)?;
        if parsed.has_errors() {
            outcome = Outcome::Invalid;
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_files_are_system_format() {
        assert_eq!(default_format(Path::new("/etc/crontab")), Format::System);
        assert_eq!(default_format(Path::new("/etc/cron.d/web")), Format::System);
        assert_eq!(default_format(Path::new("crontabs/alice")), Format::User);
    }
}
