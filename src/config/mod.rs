//! The daemon's configuration: `/etc/cronwright/cronwright.toml` read into a validated [`Config`].
//! The `crontab` command reads the same file for the spool and its `[crontab]` access rules.
//!
//! The file is deserialized into raw structs that mirror it exactly (every table denies unknown
//! keys, every key is optional), then checked and resolved into `Config`, whose values are final:
//! defaults filled in, paths absolute, the zone looked up. Errors read like compiler messages,
//! `file:line:column: what`, pointing at the offending key or value. A relative path in the file
//! resolves against the directory holding the file, so a checked-in configuration (the demo's)
//! can name files next to it. Nothing here keeps state: a reload is a fresh
//! [`Config::load_or_defaults`], and the caller keeps the old `Config` when it fails.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::cron::{
    Catchup, MailWhen, Overlap, ZoneRule, parse_catchup, parse_duration, parse_mail, parse_overlap,
};
use serde::Deserialize;
use toml::Spanned;

use crate::system_zone::{self, ZoneError};
use crate::{log, runner};

mod check;
use check::Checker;

/// Where the daemon looks without `--config`.
pub const DEFAULT_PATH: &str = "/etc/cronwright/cronwright.toml";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub sources: Sources,
    pub log: Log,
    pub mail: Mail,
    pub jobs: Jobs,
    pub daemon: DaemonSettings,
    pub crontab: CrontabCommand,
    pub history: History,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sources {
    /// The system crontab (system format); `None` when set to `""`.
    pub system_crontab: Option<PathBuf>,
    /// Directories of system-format drop-in crontabs.
    pub system_dirs: Vec<PathBuf>,
    /// One user-format crontab per user, named after the user; `None` when set to `""`.
    pub user_spool: Option<PathBuf>,
    /// User-format crontabs run as the daemon's own user: cronwright without root, and tests.
    pub extra_user_crontabs: Vec<PathBuf>,
    /// Whether the file names the system crontabs itself (`system_crontab` or `system_dirs`):
    /// only then does a daemon that is not root load them, running their jobs as itself.
    pub system_named: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub syslog: bool,
    pub syslog_socket: PathBuf,
    /// Syslog lines kept while the socket does not take them; beyond it the least useful
    /// (job output first) are dropped and counted.
    pub syslog_queue: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub enabled: bool,
    pub sendmail: PathBuf,
    /// Sender when a crontab sets no `MAILFROM`; `None` leaves it to sendmail.
    pub from: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Jobs {
    /// `SHELL` when a crontab sets none.
    pub shell: String,
    /// `PATH` when a crontab sets none.
    pub path: String,
    /// Bytes of a job's output kept; the rest is only counted.
    pub output_limit: usize,
    /// Longer commands are refused.
    pub max_command_length: usize,
    /// How long running jobs get on stop before their process groups get SIGTERM.
    pub grace_period: Duration,
    /// How long a run stopped for its `CRON_TIMEOUT` gets after SIGTERM before SIGKILL.
    pub kill_grace: Duration,
    /// How long after a job's exit its output is still logged and mailed while a process it
    /// left in the background holds the output pipe; the pipe is read (and what comes later
    /// discarded) until it closes, so such a process is never killed by a closed pipe.
    pub output_wait: Duration,
    /// Runs (jobs and sendmail) in flight at most; a start beyond is skipped and logged.
    pub max_running: usize,
    /// Runs of one user in flight at most, so that one user's stuck jobs cannot take what
    /// every other user's need (processes, descriptors).
    pub max_running_per_user: usize,
    /// Whether jobs run in a PAM session of the `cron` service; `None`: where its
    /// configuration file exists (see [`Jobs::pam_enabled`]).
    pub pam: Option<bool>,
    /// `CRON_OVERLAP`, `CRON_TIMEOUT` (seconds; 0: none), `CRON_CATCHUP` and `CRON_MAIL` for
    /// entries that set none.
    pub overlap: Overlap,
    pub timeout_secs: u32,
    pub catchup: Catchup,
    pub mail: MailWhen,
}

impl Jobs {
    /// Whether jobs run in PAM sessions: as the key says, or where `service_file` exists.
    /// Only a daemon running as root can open one, and the caller checks that.
    pub fn pam_enabled(&self, service_file: &Path) -> bool {
        self.pam.unwrap_or_else(|| service_file.exists())
    }
}

/// The `[daemon]` table (named apart from `crate::daemon::Daemon`, the running daemon).
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    pub timezone: ZoneRule,
    pub pid_file: Option<PathBuf>,
    /// Absent means this is the first start since boot (`@reboot` jobs run).
    pub reboot_marker: PathBuf,
    /// Where the daemon keeps what must outlive it: the journal of runs in flight.
    pub state_dir: PathBuf,
    /// Where `cronwright status`, `history` and `run` reach the daemon; `None`: nowhere.
    pub control_socket: Option<PathBuf>,
}

/// The `[history]` table: the record of every run (`state_dir/history.db`).
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub enabled: bool,
    /// Runs kept per job.
    pub keep_runs: u32,
    /// Runs older than this many days go.
    pub keep_days: u32,
}

/// The `[metrics]` table: Prometheus metrics, off unless asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Where to serve `/metrics` over HTTP.
    pub listen: Option<std::net::SocketAddr>,
    /// node_exporter's textfile collector: the file rewritten after each run.
    pub textfile: Option<PathBuf>,
}

/// Who may use the `crontab` command (cronie's `cron.allow` / `cron.deny` rules).
#[derive(Debug, Clone, PartialEq)]
pub struct CrontabCommand {
    /// Without either file: everyone (Debian) when true, only root (cronie's default) when false.
    pub allow_everyone: bool,
    /// If it exists, only the users listed in it (and root) may use `crontab`.
    pub allow_file: PathBuf,
    /// If it exists and `allow_file` does not, the users listed in it may not.
    pub deny_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist: the caller decides whether that means "use the defaults".
    #[error("configuration file {} does not exist", .path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file failed the caller's ownership and mode check (a set-group-ID `crontab`).
    #[error(
        "{}: a set-group-ID crontab reads only a configuration owned by root and not writable by group or others",
        .path.display()
    )]
    Untrusted { path: PathBuf },
    #[error("{}: larger than {MAX_CONFIG_BYTES} bytes; not a cronwright configuration", .path.display())]
    TooLarge { path: PathBuf },
    /// Bad TOML, an unknown key, a wrong type or a bad value, at `line:column` of `path`.
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// No `timezone` is set and the system's zone cannot be told.
    #[error("{source} (or set [daemon] timezone in {})", .path.display())]
    SystemZone { path: PathBuf, source: ZoneError },
}

// The raw file. Integers are read as i64 (TOML's own range) so that a negative or zero value
// gets our message rather than serde's "expected usize".
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    sources: Table<RawSources>,
    log: Table<RawLog>,
    mail: Table<RawMail>,
    jobs: Table<RawJobs>,
    daemon: Table<RawDaemon>,
    crontab: Table<RawCrontab>,
    history: Table<RawHistory>,
    metrics: Table<RawMetrics>,
}

type Text = Option<Spanned<String>>;
type Paths = Option<Vec<Spanned<String>>>;
type Number = Option<Spanned<i64>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawSources {
    system_crontab: Text,
    system_dirs: Paths,
    user_spool: Text,
    extra_user_crontabs: Paths,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    syslog: Option<bool>,
    syslog_socket: Text,
    syslog_queue: Number,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawMail {
    enabled: Option<bool>,
    sendmail: Text,
    from: Text,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawJobs {
    shell: Text,
    path: Option<String>,
    output_limit: Number,
    max_command_length: Number,
    grace_period: Number,
    kill_grace: Number,
    output_wait: Number,
    max_running: Number,
    max_running_per_user: Number,
    pam: Option<bool>,
    overlap: Text,
    timeout: Text,
    catchup: Text,
    mail: Text,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawDaemon {
    timezone: Text,
    pid_file: Text,
    reboot_marker: Text,
    state_dir: Text,
    control_socket: Text,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawHistory {
    enabled: Option<bool>,
    keep_runs: Number,
    keep_days: Number,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    listen: Text,
    textfile: Text,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawCrontab {
    allow_everyone: Option<bool>,
    allow_file: Text,
    deny_file: Text,
}

/// A table of the file. TOML tables reach serde as maps, but a derived struct also accepts a
/// sequence (`log = [true]` would fill fields by position); this takes maps only.
#[derive(Default)]
struct Table<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
            .map(Table)
    }
}

/// A configuration larger than this is refused unread: the real one is a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Reads and validates the file at `path`. A missing file at [`DEFAULT_PATH`] means every
    /// key at its default: a machine may run cronwright without writing a configuration, but
    /// a file named on purpose must exist ([`ConfigError::NotFound`]).
    pub fn load_or_defaults(path: &Path) -> Result<Config, ConfigError> {
        Config::load_checked(path, |_| true)
    }

    /// As [`Config::load_or_defaults`], for a program running with privileges the user does
    /// not have: `trusted` judges the file's metadata, taken from the descriptor that is then
    /// read, so the file cannot be swapped between the check and the read.
    pub fn load_or_defaults_if(
        path: &Path,
        trusted: impl FnOnce(&std::fs::Metadata) -> bool,
    ) -> Result<Config, ConfigError> {
        Config::load_checked(path, trusted)
    }

    /// As [`Config::load_or_defaults`], with the text read (`None` for the defaults), for a
    /// caller that must know which keys the file sets.
    pub fn load_with_text(path: &Path) -> Result<(Config, Option<String>), ConfigError> {
        Config::load_text(path, |_| true)
    }

    fn load_checked(
        path: &Path,
        trusted: impl FnOnce(&std::fs::Metadata) -> bool,
    ) -> Result<Config, ConfigError> {
        Config::load_text(path, trusted).map(|(config, _)| config)
    }

    fn load_text(
        path: &Path,
        trusted: impl FnOnce(&std::fs::Metadata) -> bool,
    ) -> Result<(Config, Option<String>), ConfigError> {
        use std::io::Read;
        let read_error = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if path == Path::new(DEFAULT_PATH) {
                    return Ok((Config::defaults()?, None));
                }
                return Err(ConfigError::NotFound {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(read_error(e)),
        };
        if !trusted(&file.metadata().map_err(read_error)?) {
            return Err(ConfigError::Untrusted {
                path: path.to_path_buf(),
            });
        }
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let config = Config::parse(&text, path)?;
        Ok((config, Some(text)))
    }

    /// Validates `text`; `origin` names the file in messages and anchors relative paths.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let c = Checker {
            text,
            origin,
            retry: false,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| c.toml_error(&e))?;
        let (Table(s), Table(l), Table(m)) = (raw.sources, raw.log, raw.mail);
        let (Table(j), Table(d), Table(t)) = (raw.jobs, raw.daemon, raw.crontab);
        let (Table(h), Table(x)) = (raw.history, raw.metrics);
        let timezone = match d.timezone.filter(|v| !v.get_ref().trim().is_empty()) {
            None => system_zone::system_zone().map_err(|source| ConfigError::SystemZone {
                path: origin.to_path_buf(),
                source,
            })?,
            Some(v) => system_zone::parse_zone(v.get_ref(), "timezone").map_err(|_| {
                let msg = format!("unknown time zone '{}' for 'timezone'", v.get_ref());
                c.error(v.span(), msg)
            })?,
        };
        Ok(Config {
            sources: Sources {
                system_named: s.system_crontab.is_some() || s.system_dirs.is_some(),
                system_crontab: c.optional("system_crontab", s.system_crontab, "/etc/crontab")?,
                system_dirs: c.paths("system_dirs", s.system_dirs, &["/etc/cron.d"])?,
                user_spool: c.optional("user_spool", s.user_spool, "/var/spool/cron/crontabs")?,
                extra_user_crontabs: c.paths("extra_user_crontabs", s.extra_user_crontabs, &[])?,
            },
            log: Log {
                syslog: l.syslog.unwrap_or(true),
                syslog_socket: c.path("syslog_socket", l.syslog_socket, "/dev/log")?,
                syslog_queue: c.number(
                    "syslog_queue",
                    l.syslog_queue,
                    log::DEFAULT_SYSLOG_QUEUE,
                    1,
                )?,
            },
            mail: Mail {
                enabled: m.enabled.unwrap_or(true),
                sendmail: c.path("sendmail", m.sendmail, "/usr/sbin/sendmail")?,
                from: match m.from {
                    Some(v) if v.get_ref().chars().any(char::is_control) => {
                        let msg = "'from' must not contain control characters".to_string();
                        return Err(c.error(v.span(), msg));
                    }
                    Some(v) if !v.get_ref().is_empty() => Some(v.into_inner()),
                    _ => None,
                },
            },
            jobs: Jobs {
                shell: match j.shell {
                    None => "/bin/sh".to_string(),
                    Some(v) if v.get_ref().starts_with('/') => v.into_inner(),
                    Some(v) => {
                        let msg =
                            format!("'shell' must be an absolute path, found '{}'", v.get_ref());
                        return Err(c.error(v.span(), msg));
                    }
                },
                path: j.path.unwrap_or_else(|| "/usr/bin:/bin".to_string()),
                output_limit: c.number(
                    "output_limit",
                    j.output_limit,
                    runner::DEFAULT_OUTPUT_LIMIT,
                    1,
                )?,
                max_command_length: c.number(
                    "max_command_length",
                    j.max_command_length,
                    65536,
                    1,
                )?,
                grace_period: Duration::from_secs(c.number(
                    "grace_period",
                    j.grace_period,
                    30,
                    0,
                )?),
                kill_grace: Duration::from_secs(c.number("kill_grace", j.kill_grace, 10, 0)?),
                output_wait: Duration::from_secs(c.number(
                    "output_wait",
                    j.output_wait,
                    3600,
                    0,
                )?),
                max_running: c.number("max_running", j.max_running, 4096, 1)?,
                max_running_per_user: c.number(
                    "max_running_per_user",
                    j.max_running_per_user,
                    64,
                    1,
                )?,
                pam: j.pam,
                overlap: c.policy("overlap", j.overlap, Overlap::Allow, parse_overlap)?,
                timeout_secs: c.policy("timeout", j.timeout, 0, |key, v| {
                    parse_duration(key, v, true)
                })?,
                catchup: c.policy("catchup", j.catchup, Catchup::Off, parse_catchup)?,
                mail: c.policy("mail", j.mail, MailWhen::Output, parse_mail)?,
            },
            daemon: DaemonSettings {
                timezone,
                pid_file: c.optional("pid_file", d.pid_file, "")?,
                reboot_marker: c.path(
                    "reboot_marker",
                    d.reboot_marker,
                    "/run/cronwrightd.reboot",
                )?,
                state_dir: c.path("state_dir", d.state_dir, "/var/lib/cronwright")?,
                control_socket: c.optional(
                    "control_socket",
                    d.control_socket,
                    crate::control::DEFAULT_SOCKET,
                )?,
            },
            crontab: CrontabCommand {
                allow_everyone: t.allow_everyone.unwrap_or(true),
                allow_file: c.path("allow_file", t.allow_file, "/etc/cron.allow")?,
                deny_file: c.path("deny_file", t.deny_file, "/etc/cron.deny")?,
            },
            history: History {
                enabled: h.enabled.unwrap_or(true),
                keep_runs: c.number("keep_runs", h.keep_runs, 100, 1)?,
                keep_days: c.number("keep_days", h.keep_days, 30, 1)?,
            },
            metrics: Metrics {
                listen: match x.listen.filter(|v| !v.get_ref().trim().is_empty()) {
                    None => None,
                    Some(v) => Some(v.get_ref().trim().parse().map_err(|_| {
                        let msg = format!(
                            "'listen' takes an address and a port, such as \"127.0.0.1:9464\" \
                             or \"[::1]:9464\", found '{}'",
                            v.get_ref()
                        );
                        c.error(v.span(), msg)
                    })?),
                },
                textfile: c.optional("textfile", x.textfile, "")?,
            },
        })
    }

    /// Every key at its default, as an empty file gives (the system zone may fail).
    pub fn defaults() -> Result<Config, ConfigError> {
        Config::parse("", Path::new(DEFAULT_PATH))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new(DEFAULT_PATH)).map_err(|e| e.to_string())
    }

    fn utc_defaults() -> Config {
        Config {
            sources: Sources {
                system_crontab: Some("/etc/crontab".into()),
                system_dirs: vec!["/etc/cron.d".into()],
                user_spool: Some("/var/spool/cron/crontabs".into()),
                extra_user_crontabs: vec![],
                system_named: false,
            },
            log: Log {
                syslog: true,
                syslog_socket: "/dev/log".into(),
                syslog_queue: 10_000,
            },
            mail: Mail {
                enabled: true,
                sendmail: "/usr/sbin/sendmail".into(),
                from: None,
            },
            jobs: Jobs {
                shell: "/bin/sh".into(),
                path: "/usr/bin:/bin".into(),
                output_limit: 65536,
                max_command_length: 65536,
                grace_period: Duration::from_secs(30),
                kill_grace: Duration::from_secs(10),
                output_wait: Duration::from_secs(3600),
                max_running: 4096,
                max_running_per_user: 64,
                pam: None,
                overlap: Overlap::Allow,
                timeout_secs: 0,
                catchup: Catchup::Off,
                mail: MailWhen::Output,
            },
            daemon: DaemonSettings {
                timezone: crate::cron::zone_named("UTC").unwrap(),
                pid_file: None,
                reboot_marker: "/run/cronwrightd.reboot".into(),
                state_dir: "/var/lib/cronwright".into(),
                control_socket: Some("/run/cronwright/control.sock".into()),
            },
            crontab: CrontabCommand {
                allow_everyone: true,
                allow_file: "/etc/cron.allow".into(),
                deny_file: "/etc/cron.deny".into(),
            },
            history: History {
                enabled: true,
                keep_runs: 100,
                keep_days: 30,
            },
            metrics: Metrics {
                listen: None,
                textfile: None,
            },
        }
    }

    #[test]
    fn pam_follows_the_key_else_whether_the_service_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        let there = dir.path().join("cron");
        std::fs::write(&there, "").unwrap();
        let missing = dir.path().join("missing");
        let jobs = |text: &str| Config::parse(text, Path::new("t.toml")).unwrap().jobs;
        assert!(jobs("").pam_enabled(&there));
        assert!(!jobs("").pam_enabled(&missing));
        assert!(!jobs("[jobs]\npam = false\n").pam_enabled(&there));
        assert!(jobs("[jobs]\npam = true\n").pam_enabled(&missing));
    }

    #[test]
    fn every_key_has_its_documented_default() {
        assert_eq!(parse("[daemon]\ntimezone = \"UTC\"\n"), Ok(utc_defaults()));
        // Without a zone the system's is used, and `defaults` is exactly an empty file.
        let defaults = Config::defaults().map_err(|e| e.to_string());
        assert_eq!(defaults, parse(""));
        if let (Ok(config), Ok(zone)) = (defaults, system_zone::system_zone()) {
            assert_eq!(config.daemon.timezone, zone);
        }
    }

    #[test]
    fn full_file_sets_every_key() {
        let text = r#"
            [sources]
            system_crontab = ""
            system_dirs = ["/etc/cron.d", "/opt/cron.d"]
            user_spool = ""
            extra_user_crontabs = ["/home/alice/jobs"]
            [log]
            syslog = false
            syslog_socket = "/run/systemd/journal/dev-log"
            syslog_queue = 500
            [mail]
            enabled = false
            sendmail = "/usr/lib/sendmail"
            from = "cron@example.org"
            [jobs]
            shell = "/bin/bash"
            path = "/usr/local/bin:/usr/bin:/bin"
            output_limit = 1
            max_command_length = 4096
            grace_period = 0
            kill_grace = 3
            pam = false
            overlap = "queue"
            timeout = "1d"
            catchup = "once"
            mail = "failure"
            [daemon]
            timezone = "Europe/Berlin"
            pid_file = "/run/cronwrightd.pid"
            reboot_marker = "/run/cw.reboot"
            state_dir = "/var/lib/cw"
            control_socket = "/run/cw.sock"
            [crontab]
            allow_everyone = false
            allow_file = "/etc/cronwright/allow"
            deny_file = "/etc/cronwright/deny"
            [history]
            enabled = false
            keep_runs = 7
            keep_days = 2
            [metrics]
            listen = "[::1]:9464"
            textfile = "/var/lib/node/cw.prom"
        "#;
        let expected = Config {
            sources: Sources {
                system_crontab: None,
                system_dirs: vec!["/etc/cron.d".into(), "/opt/cron.d".into()],
                user_spool: None,
                extra_user_crontabs: vec!["/home/alice/jobs".into()],
                system_named: true,
            },
            log: Log {
                syslog: false,
                syslog_socket: "/run/systemd/journal/dev-log".into(),
                syslog_queue: 500,
            },
            mail: Mail {
                enabled: false,
                sendmail: "/usr/lib/sendmail".into(),
                from: Some("cron@example.org".into()),
            },
            jobs: Jobs {
                shell: "/bin/bash".into(),
                path: "/usr/local/bin:/usr/bin:/bin".into(),
                output_limit: 1,
                max_command_length: 4096,
                grace_period: Duration::ZERO,
                kill_grace: Duration::from_secs(3),
                output_wait: Duration::from_secs(3600),
                max_running: 4096,
                max_running_per_user: 64,
                pam: Some(false),
                overlap: Overlap::Queue,
                timeout_secs: 86_400,
                catchup: Catchup::Once,
                mail: MailWhen::Failure,
            },
            daemon: DaemonSettings {
                timezone: crate::cron::zone_named("Europe/Berlin").unwrap(),
                pid_file: Some("/run/cronwrightd.pid".into()),
                reboot_marker: "/run/cw.reboot".into(),
                state_dir: "/var/lib/cw".into(),
                control_socket: Some("/run/cw.sock".into()),
            },
            crontab: CrontabCommand {
                allow_everyone: false,
                allow_file: "/etc/cronwright/allow".into(),
                deny_file: "/etc/cronwright/deny".into(),
            },
            history: History {
                enabled: false,
                keep_runs: 7,
                keep_days: 2,
            },
            metrics: Metrics {
                listen: Some("[::1]:9464".parse().unwrap()),
                textfile: Some("/var/lib/node/cw.prom".into()),
            },
        };
        assert_eq!(parse(text), Ok(expected));
    }

    /// One case a line: the file (`\n` for a line break), ` => `, the message after the path.
    const ERROR_CASES: &str = r#"
[jobs]\novelap = "skip" => 2:1: unknown key 'ovelap' in [jobs] (expected one of shell, path, output_limit, max_command_length, grace_period, kill_grace, output_wait, max_running, max_running_per_user, pam, overlap, timeout, catchup, mail); did you mean 'overlap'?
[jobs]\noverlap = "skp" => 2:11: 'overlap' must be one of allow, skip, queue, replace, found 'skp'; did you mean 'skip'?
[jobs]\ntimeout = "5" => 2:11: 'timeout' needs a unit: '5' could be seconds or minutes (RANDOM_DELAY counts minutes); write 5s or 5m
[log]\nsyslog = no => 2:10: 'syslog' takes a boolean: write true or false, not no
[log]\n  syslog=yes\nx=y => 2:10: 'syslog' takes a boolean: write true or false, not yes
[jobs]\nmax_running = many # all => 2:15: 'max_running' takes an integer, not many
[daemon]\ntimezone = UTC => 2:12: a string is quoted in TOML: write timezone = "UTC"
[log]\nsylog = no => 2:1: unknown key 'sylog' in [log] (expected one of syslog, syslog_socket, syslog_queue); did you mean 'syslog'?
[source] => 1:2: unknown key 'source' (expected one of sources, log, mail, jobs, daemon, crontab, history, metrics); did you mean 'sources'?
# cronwright\n[sources]\nsystem_crontab = "/etc/crontab"\nsytem_dirs = [] => 4:1: unknown key 'sytem_dirs' in [sources] (expected one of system_crontab, system_dirs, user_spool, extra_user_crontabs); did you mean 'system_dirs'?
[srcs] => 1:2: unknown key 'srcs' (expected one of sources, log, mail, jobs, daemon, crontab, history, metrics)
mail = { from = "é", x = 1 } => 1:22: unknown key 'x' in [mail] (expected one of enabled, sendmail, from)
[log]\n\n\n\n\n\nsyslog = "yes" => 7:10: wrong type for 'syslog': expected a boolean, found a string
log.syslog = 1 => 1:14: wrong type for 'syslog': expected a boolean, found an integer
[sources]\nsystem_dirs = "/etc/cron.d" => 2:15: wrong type for 'system_dirs': expected an array, found a string
[sources]\nsystem_dirs = ["/a", 2] => 2:22: wrong type for 'system_dirs': expected a string, found an integer
[jobs]\noutput_limit = 1.5 => 2:16: wrong type for 'output_limit': expected an integer, found a float
[daemon]\ntimezone = 2026-01-01 => 2:12: wrong type for 'timezone': expected a string, found a date-time
log = 5 => 1:7: wrong type for 'log': expected a table, found an integer
log = [true] => 1:7: wrong type for 'log': expected a table, found an array
[[log]]\nsyslog = true => 1:1: wrong type for 'log': expected a table, found an array
[jobs.path] => 1:1: wrong type for 'path': expected a string, found a table
[daemon]\n\n\n\n\n\n\n\n\n\n\ntimezone = "Europe/Berln" => 12:12: unknown time zone 'Europe/Berln' for 'timezone'
[jobs]\noutput_limit = 0 => 2:16: 'output_limit' must be at least 1, found 0
[jobs]\nmax_command_length = -4 => 2:22: 'max_command_length' must be at least 1, found -4
[jobs]\ngrace_period = -1 => 2:16: 'grace_period' must be at least 0, found -1
[jobs]\nshell = "bash" => 2:9: 'shell' must be an absolute path, found 'bash'
[mail]\nfrom = "a\u000ABcc: b" => 2:8: 'from' must not contain control characters
[log]\nsyslog_socket = "" => 2:17: empty path for 'syslog_socket'
[log]\nsyslog_queue = 0 => 2:16: 'syslog_queue' must be at least 1, found 0
[log]\nsyslog_queue = "many" => 2:16: wrong type for 'syslog_queue': expected an integer, found a string
[sources]\nsystem_dirs = ["/a", ""] => 2:22: empty path for 'system_dirs'
[log]\nsyslog = true\nsyslog = false => 3:1: duplicate key 'syslog'
[log => 1:5: invalid TOML: unclosed table, expected `]`
"#;

    #[test]
    fn errors_name_the_file_line_column_and_key() {
        for case in ERROR_CASES.lines().filter(|l| !l.is_empty()) {
            let (text, expected) = case.split_once(" => ").unwrap();
            let text = text.replace("\\n", "\n");
            assert_eq!(
                parse(&text),
                Err(format!("{DEFAULT_PATH}:{expected}")),
                "{text:?}"
            );
        }
    }

    #[test]
    fn relative_paths_resolve_against_the_config_directory() {
        let text = r#"
            [sources]
            user_spool = "spool"
            extra_user_crontabs = ["./demo", "../shared/jobs"]
            [mail]
            sendmail = "bin/fake-sendmail"
            [daemon]
            timezone = "UTC"
            pid_file = "cw.pid"
        "#;
        let config = Config::parse(text, Path::new("/srv/cw/cronwright.toml")).unwrap();
        assert_eq!(config.sources.user_spool, Some("/srv/cw/spool".into()));
        let extra: Vec<PathBuf> = vec!["/srv/cw/demo".into(), "/srv/cw/../shared/jobs".into()];
        assert_eq!(config.sources.extra_user_crontabs, extra);
        assert_eq!(
            config.mail.sendmail,
            PathBuf::from("/srv/cw/bin/fake-sendmail")
        );
        assert_eq!(config.daemon.pid_file, Some("/srv/cw/cw.pid".into()));
        // A relative config path is made absolute now: the daemon may change directory later.
        let cwd = std::env::current_dir().unwrap();
        let config = Config::parse(text, Path::new("cronwright.toml")).unwrap();
        assert_eq!(config.sources.user_spool, Some(cwd.join("spool")));
        let config = Config::parse(text, Path::new("conf/cronwright.toml")).unwrap();
        assert_eq!(config.sources.user_spool, Some(cwd.join("conf/spool")));
    }

    #[test]
    fn load_reads_the_file_and_tells_a_missing_one_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronwright.toml");
        std::fs::write(
            &path,
            "[daemon]\ntimezone = \"UTC\"\n[sources]\nuser_spool = \"spool\"\n",
        )
        .unwrap();
        let config = Config::load_or_defaults(&path).unwrap();
        assert_eq!(config.sources.user_spool, Some(dir.path().join("spool")));

        let missing = dir.path().join("missing.toml");
        assert!(
            matches!(Config::load_or_defaults(&missing), Err(ConfigError::NotFound { path }) if path == missing)
        );
        let err = Config::load_or_defaults(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read {}: ", dir.path().display()))
        );

        std::fs::write(&path, "[log]\nsyslog = 3\n").unwrap();
        let err = Config::load_or_defaults(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:2:10: wrong type for 'syslog': expected a boolean, found an integer",
                path.display()
            )
        );
    }

    #[test]
    fn packaged_example_shows_every_key_at_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/cronwright.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let as_is = Config::parse(&text, &path).map_err(|e| e.to_string());
        assert_eq!(as_is, Config::parse("", &path).map_err(|e| e.to_string()));
        // Uncommenting every `# key = value` line must change nothing and use every key.
        let is_key = |rest: &&str| {
            rest.split_once(" = ")
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        };
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# ").filter(is_key))
            .collect();
        assert_eq!(keys.len(), 36, "{keys:?}");
        let uncommented: String = text
            .lines()
            .map(|l| l.strip_prefix("# ").filter(is_key).unwrap_or(l).to_string() + "\n")
            .collect();
        // Except that naming the system crontabs is asking for them (see `system_named`).
        let named = as_is.map(|mut c| {
            c.sources.system_named = true;
            c
        });
        assert_eq!(
            Config::parse(&uncommented, &path).map_err(|e| e.to_string()),
            named
        );
    }

    #[test]
    fn demo_config_runs_the_demo_crontab_without_root() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crontabs/demo");
        let text = std::fs::read_to_string(dir.join("cronwright.toml")).unwrap();
        // The zone is the system's; pin it (the file ends in [daemon]) to not depend on the machine.
        let text = text + "timezone = \"UTC\"\n";
        let config = Config::parse(&text, &dir.join("cronwright.toml")).unwrap();
        let sources = &config.sources;
        assert_eq!(
            (&sources.system_crontab, &sources.user_spool),
            (&None, &None)
        );
        assert!(sources.system_dirs.is_empty());
        assert_eq!(sources.extra_user_crontabs, vec![dir.join("demo")]);
        assert!(sources.extra_user_crontabs[0].is_file());
        assert!(!config.log.syslog);
        assert!(config.daemon.reboot_marker.starts_with("/tmp"));
    }
}
