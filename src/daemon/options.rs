//! How the daemon was asked to run: the command line's [`Options`], and the configuration
//! and crontab sources they give, at start and on every SIGHUP.

use std::path::PathBuf;
use std::time::Duration;

use super::Target;
use super::container::Container;
use crate::config::Config;
use crate::resolve::sources_config;
use crate::runner::Credentials;
use crate::sources::SourcesConfig;

/// How the daemon was asked to run (from the command line).
#[derive(Clone, Debug)]
pub struct Options {
    /// The configuration file; in container mode, `None` reads none.
    pub config_path: Option<PathBuf>,
    /// Where log lines go besides syslog (which the config turns on or off).
    pub log: Vec<Target>,
    /// Overrides the config's pid file.
    pub pid_file: Option<PathBuf>,
    /// Container mode (`cronwrightd CRONTAB...`): see `container.rs`.
    pub container: Option<Container>,
    /// Overrides `[jobs] grace_period`.
    pub grace: Option<Duration>,
    /// `--log syslog` in container mode, where syslog is otherwise off: turns it on.
    pub syslog: bool,
    /// Overrides `[metrics] listen`.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Every job's output goes to stdout as it comes, as `CRON_OUTPUT=passthrough` does.
    pub passthrough: bool,
    /// Written when the crontabs are loaded and after each reload, removed on stop.
    pub health_file: Option<PathBuf>,
    /// Debug builds only, for tests: the loop's wall clock is the system's plus the seconds
    /// this file holds (see `clock.rs`). A release build refuses it.
    pub clock_offset_file: Option<PathBuf>,
}

impl Options {
    /// The configuration as the command line has it: the file (or, in container mode, the
    /// container's defaults), then what the options override. At start and on SIGHUP.
    pub(super) fn load_config(&self) -> Result<Config, crate::config::ConfigError> {
        let mut config = match &self.container {
            Some(container) => container.config(
                self.config_path.as_deref(),
                nix::unistd::geteuid().is_root(),
            )?,
            None => Config::load_or_defaults(
                self.config_path
                    .as_deref()
                    .unwrap_or(std::path::Path::new(crate::config::DEFAULT_PATH)),
            )?,
        };
        if let Some(grace) = self.grace {
            config.jobs.grace_period = grace;
        }
        if self.syslog {
            config.log.syslog = true;
        }
        if let Some(listen) = self.metrics_listen {
            config.metrics.listen = Some(listen);
        }
        Ok(config)
    }
}

/// Where the crontabs are, for this configuration and command line.
pub(super) fn sources_for(
    config: &Config,
    options: &Options,
    as_root: bool,
    own: &Credentials,
) -> SourcesConfig {
    let mut sources = sources_config(config, as_root, &own.user, own.uid.as_raw());
    sources.stdin = options.container.as_ref().and_then(|c| c.stdin.clone());
    sources
}
