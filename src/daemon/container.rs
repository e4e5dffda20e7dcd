//! Container mode: `cronwrightd CRONTAB...`, the daemon as a container's main process. It
//! owns what differs from the system daemon, and nothing else: the configuration it starts
//! from (no system sources, no syslog, no mail, a short grace period), the environment and
//! directory jobs inherit, the crontab read from standard input, and the health file.
//!
//! Everything else (the parser, the table, policies, history, reloads) is the system daemon's
//! own code, so a crontab means the same in both.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::sources::MAX_CRONTAB_BYTES;

use crate::sources::STDIN;

/// The grace period on stop unless `--grace` or `[jobs] grace_period` says otherwise: the
/// jobs' groups get the stop signal after it and SIGKILL 5 s later, before `docker stop`'s
/// own SIGKILL at 10 s.
pub const GRACE: Duration = Duration::from_secs(3);

/// Variables of the daemon's own supervisor, which would mislead a job that inherited them
/// (a job that sends `READY=1` to systemd's socket speaks for the daemon).
const SUPERVISOR_VARS: [&str; 4] = [
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

/// How the daemon runs in a container, from its command line.
#[derive(Clone, Debug)]
pub struct Container {
    /// User-format crontabs run as the daemon's own user: absolute paths, or `-` (standard input).
    pub crontabs: Vec<PathBuf>,
    /// What standard input held at start, when `-` is one of the crontabs.
    pub stdin: Option<Arc<str>>,
    /// What jobs inherit: `None` with `--clean-env` (cron's clean environment, jobs in HOME).
    pub inherit: Option<Inherit>,
}

/// The daemon's environment and directory at start, which jobs start from.
#[derive(Clone, Debug)]
pub struct Inherit {
    pub env: Arc<[(String, String)]>,
    pub dir: PathBuf,
}

impl Container {
    /// Container mode for `crontabs` as named on the command line: relative paths are made
    /// absolute against the current directory (the daemon never changes it, but log lines
    /// and `status` should name a file unambiguously), and `-` is read from standard input
    /// now, once. `clean_env`: jobs get cron's environment rather than the daemon's.
    pub fn new(crontabs: &[PathBuf], clean_env: bool) -> anyhow::Result<Container> {
        use anyhow::Context;
        let mut paths = Vec::with_capacity(crontabs.len());
        let mut stdin = None;
        for path in crontabs {
            if path.as_os_str() == STDIN {
                if stdin.is_none() {
                    stdin =
                        Some(read_stdin().context("cannot read the crontab on standard input")?);
                    paths.push(PathBuf::from(STDIN));
                }
                continue;
            }
            let abs = std::path::absolute(path)
                .with_context(|| format!("cannot make {} absolute", path.display()))?;
            if !paths.contains(&abs) {
                paths.push(abs);
            }
        }
        let inherit = if clean_env {
            None
        } else {
            Some(Inherit {
                env: inherited_env().into(),
                dir: std::env::current_dir()
                    .context("cannot read the current directory, which jobs run in")?,
            })
        };
        Ok(Container {
            crontabs: paths,
            stdin,
            inherit,
        })
    }

    /// The configuration in container mode: `file` (`--config`) or the built-in defaults,
    /// with the command line's crontabs as the only sources. Syslog and mail stay off and the
    /// grace period is `GRACE` unless the file sets them. A daemon that is not root cannot
    /// use the system's state directory and control socket: unless the file names its own,
    /// it keeps no state (no journal, catch-up state or history; see `stateless`)
    /// and opens no control socket, rather than failing to at every start and every run.
    pub fn config(&self, file: Option<&Path>, as_root: bool) -> Result<Config, ConfigError> {
        let (mut config, set) = match file {
            Some(path) => {
                let (config, text) = Config::load_with_text(path)?;
                (config, keys_set(text.as_deref().unwrap_or("")))
            }
            None => (Config::defaults()?, Vec::new()),
        };
        let is_set = |table: &str, key: &str| set.iter().any(|(t, k)| t == table && k == key);
        if !is_set("log", "syslog") {
            config.log.syslog = false;
        }
        if !is_set("mail", "enabled") {
            config.mail.enabled = false;
        }
        if !is_set("jobs", "grace_period") {
            config.jobs.grace_period = GRACE;
        }
        // A container's start is its boot: `@reboot` jobs run at every start of the daemon,
        // which no marker under /run (kept across `docker restart`, and root's) would allow.
        if !is_set("daemon", "reboot_marker") {
            config.daemon.reboot_marker = PathBuf::new();
        }
        if !as_root && !is_set("daemon", "state_dir") {
            config.daemon.state_dir = PathBuf::new();
            config.history.enabled = false;
        }
        if !as_root && !is_set("daemon", "control_socket") {
            config.daemon.control_socket = None;
        }
        let sources = &mut config.sources;
        sources.system_crontab = None;
        sources.system_dirs.clear();
        sources.user_spool = None;
        sources.extra_user_crontabs = self.crontabs.clone();
        sources.system_named = false;
        Ok(config)
    }
}

/// Whether `config` keeps no state (see [`Container::config`]).
pub fn stateless(config: &Config) -> bool {
    config.daemon.state_dir.as_os_str().is_empty()
}

/// `(table, key)` of every key the file sets; nothing for text that is not TOML (the
/// configuration's own parser has reported that by then).
fn keys_set(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    doc.iter()
        .filter_map(|(table, v)| Some((table, v.as_table()?)))
        .flat_map(|(table, keys)| keys.keys().map(move |k| (table.clone(), k.clone())))
        .collect()
}

fn read_stdin() -> io::Result<Arc<str>> {
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_CRONTAB_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CRONTAB_BYTES {
        return Err(io::Error::other(format!(
            "more than {MAX_CRONTAB_BYTES} bytes, the largest crontab read"
        )));
    }
    Ok(String::from_utf8_lossy(&bytes).into())
}

/// The daemon's environment as jobs inherit it: without the supervisor's variables, and
/// without what is not UTF-8 (a job's environment is text in cronwright, as in a crontab).
fn inherited_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !SUPERVISOR_VARS.contains(&k.as_str()))
        .collect()
}

/// Writes the health file: one line with what is loaded, through a new file renamed over
/// the old, so that a health check never reads half of it. The new file is created
/// exclusively and never through a link, whatever was planted beside it.
pub fn write_health(path: &Path, files: usize, jobs: usize, errors: usize) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| {
            writeln!(f, "files={files} jobs={jobs} errors={errors} at={now}")?;
            f.sync_data()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

impl super::Daemon {
    /// In container mode a crontab named on the command line that cannot be read at start
    /// is a fatal error: a container that runs none of its jobs must not look healthy. Later,
    /// a file that goes away is only logged, and its jobs stop.
    pub(super) fn container_crontabs_loaded(&mut self) -> anyhow::Result<()> {
        let Some(container) = &self.options.container else {
            return Ok(());
        };
        for path in &container.crontabs {
            if !self.table.is_loaded(path) {
                let why = self
                    .problems
                    .get(path)
                    .and_then(|p| p.first())
                    .cloned()
                    .unwrap_or_else(|| format!("{}: does not exist", path.display()));
                if let Some(p) = &self.options.health_file {
                    let _ = std::fs::remove_file(p);
                }
                anyhow::bail!("cannot run the crontab {why}");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Container mode for `/app/crontab`, with cron's environment.
    fn app() -> Container {
        Container {
            crontabs: vec!["/app/crontab".into()],
            stdin: None,
            inherit: None,
        }
    }

    #[test]
    fn keys_set_names_table_and_key() {
        let keys = keys_set("[log]\nsyslog = true\n[jobs]\nshell = \"/bin/sh\"\n");
        assert!(keys.contains(&("log".into(), "syslog".into())));
        assert!(keys.contains(&("jobs".into(), "shell".into())));
        assert!(!keys.iter().any(|(t, _)| t == "mail"));
        assert!(keys_set("not toml [").is_empty());
    }

    #[test]
    fn container_config_has_no_system_sources_syslog_or_mail() {
        let c = app();
        let config = c.config(None, true).unwrap();
        assert!(!config.log.syslog);
        assert!(!config.mail.enabled);
        assert_eq!(config.jobs.grace_period, GRACE);
        assert_eq!(config.daemon.reboot_marker, PathBuf::new());
        assert_eq!(config.sources.system_crontab, None);
        assert!(config.sources.system_dirs.is_empty());
        assert_eq!(config.sources.user_spool, None);
        assert_eq!(
            config.sources.extra_user_crontabs,
            vec![PathBuf::from("/app/crontab")]
        );
    }

    #[test]
    fn a_config_file_may_turn_syslog_and_mail_back_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[log]\nsyslog = true\n[mail]\nenabled = true\n[jobs]\ngrace_period = 7\n\
             [sources]\nsystem_dirs = [\"/etc/cron.d\"]\n",
        )
        .unwrap();
        let c = app();
        let config = c.config(Some(&path), true).unwrap();
        assert!(config.log.syslog);
        assert!(config.mail.enabled);
        assert_eq!(config.jobs.grace_period, Duration::from_secs(7));
        assert!(config.sources.system_dirs.is_empty());
    }

    #[test]
    fn a_daemon_that_is_not_root_keeps_state_only_where_the_file_says() {
        let c = app();
        let config = c.config(None, false).unwrap();
        assert!(stateless(&config));
        assert!(!config.history.enabled);
        assert_eq!(config.daemon.control_socket, None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[daemon]\nstate_dir = \"/srv/state\"\ncontrol_socket = \"/srv/cron.sock\"\n",
        )
        .unwrap();
        let config = c.config(Some(&path), false).unwrap();
        assert!(!stateless(&config));
        assert!(config.history.enabled);
        assert_eq!(
            config.daemon.control_socket,
            Some(PathBuf::from("/srv/cron.sock"))
        );
    }

    #[test]
    fn the_health_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("healthy");
        write_health(&path, 1, 3, 0).unwrap();
        write_health(&path, 1, 4, 1).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("files=1 jobs=4 errors=1 at="), "{text}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
