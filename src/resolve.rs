//! The daemon's rules for one parsed entry, shared by `cronwrightd` and `cronwright list` so
//! that the list shows exactly what the daemon runs: where the daemon looks for crontabs
//! given its configuration and identity ([`sources_config`]), and for each entry the user it
//! runs as, that user's credentials, its zone, and why an entry is skipped ([`Resolver`]);
//! whether a file may be loaded at all ([`load_source`]); and the limits `check` and
//! `crontab` apply as the daemon would.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::access;
use crate::config::Config;
use crate::cron::{
    Diagnostic, Entry, Format, Parsed, Severity, ZoneRule, not_a_user_message, parse_crontab,
};
use crate::runner::{self, RunnerError};
use crate::sources::{self, Kind, Loaded, Refusal, Source, SourcesConfig};
use crate::user_fields;

/// Where the daemon looks for crontabs, for a daemon running as `own_user`. A daemon that is
/// not root loads the system crontabs only where its configuration names them: their lines
/// name the users to run as, and such a daemon could only run root's jobs as itself.
pub fn sources_config(
    config: &Config,
    as_root: bool,
    own_user: &str,
    own_uid: u32,
) -> SourcesConfig {
    let system = !system_crontabs_left_out(config, as_root);
    SourcesConfig {
        system_crontab: config.sources.system_crontab.clone().filter(|_| system),
        system_dirs: if system {
            config.sources.system_dirs.clone()
        } else {
            Vec::new()
        },
        user_spool: config.sources.user_spool.clone(),
        extra_user_crontabs: config.sources.extra_user_crontabs.clone(),
        as_root,
        own_user: own_user.to_string(),
        own_uid,
        stdin: None,
    }
}

/// Whether a daemon (or `list`) of this identity leaves out the system crontabs the
/// configuration has by default: it is not root, and the file does not name them.
pub fn system_crontabs_left_out(config: &Config, as_root: bool) -> bool {
    let sources = &config.sources;
    !as_root
        && !sources.system_named
        && (sources.system_crontab.is_some() || !sources.system_dirs.is_empty())
}

/// Who a job runs as: one per user and load, shared by that user's entries. Only the name:
/// a daemon running as root looks the user and their groups up again at each start, so what
/// changed since the load (a group, a deleted account) is what the job gets.
#[derive(Debug)]
pub struct RunAs {
    pub user: String,
    /// For a spool crontab loaded by a root daemon: the uid its user had, which owned the
    /// file. A start that finds another uid for the name is refused: the account was deleted
    /// and made again, and the crontab belongs to the old one.
    pub uid: Option<u32>,
}

/// Who one entry runs as, in which zone, per the daemon's rules.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub run_as: Arc<RunAs>,
    pub zone: ZoneRule,
    /// Something to tell without skipping the entry.
    pub note: Option<Note>,
}

/// Why the daemon skips an entry that parsed fine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("command of {len} bytes is longer than max_command_length ({max}); line skipped")]
    CommandTooLong { len: usize, max: usize },
    /// No such user here; for a system crontab line, most often a line without its user
    /// field. In the words `check` uses for the same line.
    #[error("{}; line skipped", not_a_user_message(.user, *.system_line))]
    UnknownUser { user: String, system_line: bool },
    /// The password database could not be read (NSS trouble).
    #[error("cannot look up user '{user}': {reason}; line skipped")]
    UserLookup { user: String, reason: String },
}

/// What the daemon tells about an entry it runs anyway.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Note {
    /// A system crontab line naming another user, for a daemon that is not root: it can only
    /// run jobs as itself.
    #[error("runs as {user}, but the daemon is not root; running it as {own}")]
    RunsAsDaemon { user: String, own: String },
}

/// Checks a source and reads it as the daemon does: [`sources::load`]'s checks of the file,
/// then, for a spool crontab, the `cron.allow` / `cron.deny` rule, which cronie applies at
/// load too, so that a file that reached the spool without `crontab` does not run for a user
/// the rule refuses.
pub(crate) fn load_source(
    source: &Source,
    sources_config: &SourcesConfig,
    config: &Config,
) -> Result<Loaded, Refusal> {
    let loaded = sources::load(source, sources_config)?;
    if let (Kind::UserSpool, Some(user)) = (source.kind, &source.user) {
        if user != "root" {
            if let Some(why) = access::denial(user, &config.crontab) {
                let user = user.clone();
                return Err(Refusal::NotAllowed { user, why });
            }
        }
    }
    Ok(loaded)
}

/// Parses a crontab as `check` and `crontab` judge it, so that what they call fine is what
/// the daemon runs: the language, then the daemon's command length limit (when its
/// configuration could be read), then what the lines' user names mean on this host.
pub(crate) fn parse_for_daemon(source: &str, format: Format, config: Option<&Config>) -> Parsed {
    let mut parsed = parse_crontab(source, format);
    if let Some(config) = config {
        refuse_long_commands(&mut parsed, source, config);
    }
    user_fields::check_user_fields(&mut parsed, source, format);
    parsed
}

/// Applies the daemon's command length limit to a parsed file, as `check` and `crontab` must
/// before they call it fine: each entry the daemon would skip becomes an error at its line,
/// in the daemon's words, and leaves the entries.
fn refuse_long_commands(parsed: &mut Parsed, source: &str, config: &Config) {
    let max = config.jobs.max_command_length;
    let lines: Vec<&str> = source.split('\n').collect();
    let mut refused = Vec::new();
    parsed.crontab.entries.retain(|entry| {
        if entry.command.len() <= max {
            return true;
        }
        let skip = Skip::CommandTooLong {
            len: entry.command.len(),
            max,
        };
        let text = lines.get(entry.line as usize - 1).copied().unwrap_or("");
        let text = text.strip_suffix('\r').unwrap_or(text);
        refused.push(Diagnostic::at(
            Severity::Error,
            entry.line,
            text,
            0,
            text.len(),
            skip.to_string(),
        ));
        false
    });
    parsed.diagnostics.extend(refused);
    parsed.diagnostics.sort_by_key(|d| d.line);
}

/// The daemon's identity and configuration, and the users looked up so far: what resolving
/// an entry needs. Made anew for each load, so a changed passwd file is seen at the next one.
pub struct Resolver<'a> {
    config: &'a Config,
    as_root: bool,
    own_user: &'a str,
    /// A crontab of 100,000 lines for one user costs one getpwnam and getgrouplist (each
    /// reads /etc/passwd or /etc/group), not 100,000, and its jobs share one [`RunAs`].
    users: RefCell<HashMap<String, Result<Arc<RunAs>, Skip>>>,
    /// The user found last: a file's entries nearly all run as one user, and comparing a
    /// name costs less than hashing it for every entry.
    last: RefCell<Option<Arc<RunAs>>>,
}

impl<'a> Resolver<'a> {
    pub fn new(config: &'a Config, as_root: bool, own_user: &'a str) -> Resolver<'a> {
        Resolver {
            config,
            as_root,
            own_user,
            users: RefCell::default(),
            last: RefCell::default(),
        }
    }

    /// The command length limit, the user a line runs as (the spool file's user, the system
    /// line's user field, or the daemon's own), that user's lookup when the daemon is root,
    /// and the zone.
    pub fn resolve(&self, source: &Source, entry: &Entry) -> Result<Resolved, Skip> {
        let max = self.config.jobs.max_command_length;
        if entry.command.len() > max {
            return Err(Skip::CommandTooLong {
                len: entry.command.len(),
                max,
            });
        }
        let user: &str = match (&source.kind, &entry.user) {
            (Kind::UserSpool | Kind::Extra, _) => source.user.as_deref().unwrap_or(self.own_user),
            (_, Some(u)) => u,
            (_, None) => self.own_user,
        };
        let zone = entry
            .zone
            .clone()
            .unwrap_or_else(|| self.config.daemon.timezone.clone());
        let note = (!self.as_root
            && user != self.own_user
            && matches!(source.kind, Kind::SystemCrontab | Kind::SystemDir))
        .then(|| Note::RunsAsDaemon {
            user: user.to_string(),
            own: self.own_user.to_string(),
        });
        let run_as = self.run_as(user, source.kind == Kind::UserSpool)?;
        Ok(Resolved { run_as, zone, note })
    }

    /// `user` as a job's identity: when the daemon is root, a user who exists now (so that a
    /// typo is reported at load), with their uid kept when `pin_uid` (a spool crontab);
    /// otherwise a name for the daemon's own identity. One resolver serves one file, so
    /// `pin_uid` is the same for all its lookups.
    fn run_as(&self, user: &str, pin_uid: bool) -> Result<Arc<RunAs>, Skip> {
        if let Some(last) = self.last.borrow().as_ref().filter(|r| r.user == user) {
            return Ok(Arc::clone(last));
        }
        if let Some(known) = self.users.borrow().get(user) {
            if let Ok(run_as) = known {
                *self.last.borrow_mut() = Some(Arc::clone(run_as));
            }
            return known.clone();
        }
        let uid = if self.as_root {
            runner::lookup_user(user)
                .map(|c| pin_uid.then_some(c.uid.as_raw()))
                .map_err(|e| match e {
                    RunnerError::UnknownUser { .. } => Skip::UnknownUser {
                        user: user.to_string(),
                        system_line: !pin_uid,
                    },
                    other => Skip::UserLookup {
                        user: user.to_string(),
                        reason: match other {
                            RunnerError::UserLookup { source, .. } => source.desc().to_string(),
                            other => other.to_string(),
                        },
                    },
                })
        } else {
            Ok(None)
        };
        let made = uid.map(|uid| {
            Arc::new(RunAs {
                user: user.to_string(),
                uid,
            })
        });
        if let Ok(run_as) = &made {
            *self.last.borrow_mut() = Some(Arc::clone(run_as));
        }
        self.users
            .borrow_mut()
            .insert(user.to_string(), made.clone());
        made
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn entry(line: &str, format: Format) -> Entry {
        let parsed = parse_crontab(&format!("{line}\n"), format);
        assert!(!parsed.has_errors(), "{line}: {:?}", parsed.diagnostics);
        parsed.crontab.entries[0].clone()
    }

    fn source(kind: Kind, user: Option<&str>) -> Source {
        Source {
            path: PathBuf::from("/x"),
            kind,
            format: match kind {
                Kind::SystemCrontab | Kind::SystemDir => Format::System,
                _ => Format::User,
            },
            user: user.map(str::to_string),
        }
    }

    fn config(extra: &str) -> Config {
        Config::parse(
            &format!("[daemon]\ntimezone = \"UTC\"\n{extra}"),
            std::path::Path::new("/etc/cronwright/cronwright.toml"),
        )
        .unwrap()
    }

    #[test]
    fn a_long_command_is_skipped_with_the_limit_named() {
        let config = config("[jobs]\nmax_command_length = 4\n");
        let r = Resolver::new(&config, false, "me");
        let e = entry("* * * * * echo hi", Format::User);
        let skip = r.resolve(&source(Kind::Extra, None), &e).unwrap_err();
        assert_eq!(
            skip.to_string(),
            "command of 7 bytes is longer than max_command_length (4); line skipped"
        );
    }

    #[test]
    fn without_root_every_entry_runs_as_the_daemon_and_system_lines_say_so() {
        let config = config("");
        let r = Resolver::new(&config, false, "me");
        let e = entry("* * * * * alice true", Format::System);
        let got = r.resolve(&source(Kind::SystemDir, None), &e).unwrap();
        assert_eq!(got.run_as.user, "alice");
        assert_eq!(
            got.note.unwrap().to_string(),
            "runs as alice, but the daemon is not root; running it as me"
        );
        // A spool file runs as its owner, whatever the line says; no note.
        let e = entry("* * * * * true", Format::User);
        let got = r
            .resolve(&source(Kind::UserSpool, Some("bob")), &e)
            .unwrap();
        assert_eq!(got.run_as.user, "bob");
        assert!(got.note.is_none());
    }

    #[test]
    fn without_root_the_system_crontabs_load_only_when_the_config_names_them() {
        let defaults = config("");
        let cfg = sources_config(&defaults, false, "me", 1000);
        assert!(cfg.system_crontab.is_none() && cfg.system_dirs.is_empty());
        assert!(system_crontabs_left_out(&defaults, false));
        let cfg = sources_config(&defaults, true, "root", 0);
        assert!(cfg.system_crontab.is_some() && !cfg.system_dirs.is_empty());
        assert!(!system_crontabs_left_out(&defaults, true));
        let named = config("[sources]\nsystem_dirs = [\"/etc/cron.d\"]\n");
        let cfg = sources_config(&named, false, "me", 1000);
        assert_eq!(
            cfg.system_crontab.as_deref(),
            Some(Path::new("/etc/crontab"))
        );
        assert!(!system_crontabs_left_out(&named, false));
    }

    #[test]
    fn an_unknown_user_is_skipped_when_root_looks_users_up() {
        let config = config("");
        let r = Resolver::new(&config, true, "root");
        let e = entry("* * * * * no-such-user-cronwright true", Format::System);
        let skip = r.resolve(&source(Kind::SystemDir, None), &e).unwrap_err();
        assert_eq!(
            skip.to_string(),
            "'no-such-user-cronwright' is not a user on this host; system crontab lines need a \
             user name between the schedule and the command; line skipped"
        );
        // Looked up once per load: the same answer, shared.
        let root = r.run_as("root", true).unwrap();
        assert!(Arc::ptr_eq(&root, &r.run_as("root", true).unwrap()));
        assert_eq!(root.uid, Some(0));
    }

    #[test]
    fn cron_tz_wins_over_the_daemon_zone() {
        let config = config("");
        let r = Resolver::new(&config, false, "me");
        let parsed = parse_crontab("CRON_TZ=:Asia/Tokyo\n0 9 * * * true\n", Format::User);
        let e = &parsed.crontab.entries[0];
        let got = r.resolve(&source(Kind::Extra, None), e).unwrap();
        assert_eq!(got.zone, crate::cron::zone_named("Asia/Tokyo").unwrap());
    }
}
