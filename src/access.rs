//! Who may have a crontab: cronie's `cron.allow` / `cron.deny` rule, read from the files the
//! configuration's `[crontab]` table names. `crontab` applies it before touching the spool,
//! and the daemon again when it loads a spool file, so a crontab that reached the spool some
//! other way does not run for a user the rule refuses.

use std::io;
use std::path::{Path, PathBuf};

use crate::config::CrontabCommand;

/// An allow or deny file that exists but cannot be read: the rule cannot be applied, so the
/// answer is no (cronie fails closed too).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", .path.display())]
pub(crate) struct Unreadable {
    pub path: PathBuf,
    pub source: io::Error,
}

/// cronie's rule, given the contents of the allow and deny files (`None`: the file does not
/// exist): the allow file wins; then the deny file; with neither, `allow_everyone`. Root is
/// always allowed, which the caller decides. A file lists one user name a line.
pub(crate) fn allowed_by(
    user: &str,
    allow: Option<&str>,
    deny: Option<&str>,
    everyone: bool,
) -> bool {
    let listed = |text: &str| text.lines().map(str::trim).any(|name| name == user);
    match (allow, deny) {
        (Some(allow), _) => listed(allow),
        (None, Some(deny)) => !listed(deny),
        (None, None) => everyone,
    }
}

/// Reads an allow or deny file: `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, Unreadable> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Unreadable {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether `user` (not root: root is always allowed) may have a crontab under `rules`.
pub(crate) fn allowed(user: &str, rules: &CrontabCommand) -> Result<bool, Unreadable> {
    let allow = read(&rules.allow_file)?;
    let deny = match allow {
        Some(_) => None,
        None => read(&rules.deny_file)?,
    };
    Ok(allowed_by(
        user,
        allow.as_deref(),
        deny.as_deref(),
        rules.allow_everyone,
    ))
}

/// Why `user` (not root) may not have a crontab under `rules`, in words for a log line, or
/// `None` when they may.
pub(crate) fn denial(user: &str, rules: &CrontabCommand) -> Option<String> {
    let unreadable = |e: Unreadable| Some(format!("{e}, so nobody but root may"));
    let allow = match read(&rules.allow_file) {
        Ok(allow) => allow,
        Err(e) => return unreadable(e),
    };
    if allow.is_some() {
        return (!allowed_by(user, allow.as_deref(), None, false))
            .then(|| format!("not listed in {}", rules.allow_file.display()));
    }
    match read(&rules.deny_file) {
        Err(e) => unreadable(e),
        Ok(Some(deny)) => (!allowed_by(user, None, Some(&deny), true))
            .then(|| format!("listed in {}", rules.deny_file.display())),
        Ok(None) => (!rules.allow_everyone).then(|| {
            format!(
                "neither {} nor {} exists, and allow_everyone is false",
                rules.allow_file.display(),
                rules.deny_file.display()
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_file_wins_then_deny_file_then_the_default() {
        let allow = Some("alice\n  bob  \n");
        assert!(allowed_by("alice", allow, Some("alice\n"), false));
        assert!(allowed_by("bob", allow, None, false));
        assert!(!allowed_by("carol", allow, None, true));
        assert!(!allowed_by("carol", Some(""), None, true));
        assert!(!allowed_by("carol", None, Some("carol\n"), true));
        assert!(allowed_by("dave", None, Some("carol\n"), false));
        assert!(allowed_by("dave", None, None, true));
        assert!(!allowed_by("dave", None, None, false));
        // A name is a whole line, not a prefix.
        assert!(!allowed_by("al", Some("alice\n"), None, true));
    }

    #[test]
    fn files_are_read_allow_first_and_a_missing_file_is_no_rule() {
        let dir = tempfile::tempdir().unwrap();
        let rules = CrontabCommand {
            allow_everyone: false,
            allow_file: dir.path().join("allow"),
            deny_file: dir.path().join("deny"),
        };
        let (allow, deny) = (rules.allow_file.display(), rules.deny_file.display());
        assert!(!allowed("alice", &rules).unwrap());
        assert_eq!(
            denial("alice", &rules).unwrap(),
            format!("neither {allow} nor {deny} exists, and allow_everyone is false")
        );
        std::fs::write(&rules.deny_file, "bob\n").unwrap();
        assert!(allowed("alice", &rules).unwrap());
        assert_eq!(denial("alice", &rules), None);
        assert!(!allowed("bob", &rules).unwrap());
        assert_eq!(denial("bob", &rules).unwrap(), format!("listed in {deny}"));
        std::fs::write(&rules.allow_file, "bob\n").unwrap();
        assert!(!allowed("alice", &rules).unwrap());
        assert_eq!(
            denial("alice", &rules).unwrap(),
            format!("not listed in {allow}")
        );
        assert!(allowed("bob", &rules).unwrap());
        assert_eq!(denial("bob", &rules), None);
        // A directory where the file should be cannot be read: no answer but no.
        std::fs::remove_file(&rules.allow_file).unwrap();
        std::fs::create_dir(&rules.allow_file).unwrap();
        assert!(allowed("bob", &rules).is_err());
        assert!(
            denial("bob", &rules)
                .unwrap()
                .ends_with("so nobody but root may")
        );
    }
}
