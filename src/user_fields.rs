//! What the user names in crontab lines mean on this host, for `check` and `crontab`: a
//! system crontab line whose user field is no user here (most often a line with no user
//! field at all, its command's first word taken for one), and a user crontab line whose
//! command starts with a user name (a system crontab checked or installed as a user's).
//!
//! The parser cannot tell these apart from good lines: it reads no password database. The
//! daemon skips a system line of an unknown user with the same words (see `resolve.rs`), so
//! `check` says on this host what the daemon's load will say.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::unistd::User;

use crate::cron::{Diagnostic, Format, Parsed, Severity, not_a_user_message};

/// Words a shell runs itself: a line that puts one where its user belongs lacks the user.
const SHELL_WORDS: &[&str] = &[
    ".", ":", "[", "alias", "bash", "break", "case", "cd", "command", "continue", "echo", "eval",
    "exec", "exit", "export", "false", "for", "if", "nice", "nohup", "printf", "read", "set", "sh",
    "sleep", "source", "test", "time", "timeout", "true", "ulimit", "umask", "unset", "until",
    "wait", "while",
];

/// Where a command's first word is found on every system, whatever a crontab sets `PATH` to.
/// Only these fixed directories are searched: `crontab` is setgid, and a path a user chose
/// is never looked into on their behalf.
const SYSTEM_BIN: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Whether a user of this name exists, or why that could not be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Exists,
    Missing,
    Failed(String),
}

/// Looks `name` up in the password database (NSS included).
pub fn lookup(name: &str) -> Lookup {
    if name.contains('\0') {
        return Lookup::Missing;
    }
    match User::from_name(name) {
        Ok(Some(_)) => Lookup::Exists,
        Ok(None) => Lookup::Missing,
        Err(e) => Lookup::Failed(e.desc().to_string()),
    }
}

/// Whether `word` reads as the start of a command: a shell word, a program in the system's
/// directories, or text that no user name holds.
pub fn looks_like_command(word: &str) -> bool {
    SHELL_WORDS.contains(&word)
        || !could_be_user_name(word)
        || SYSTEM_BIN.iter().any(|dir| {
            Path::new(dir)
                .join(word)
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether `word` could be a user name at all: no path, assignment, quoting or shell syntax.
fn could_be_user_name(word: &str) -> bool {
    !word.is_empty()
        && !word.starts_with('-')
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '$' | '@'))
}

/// Adds what the user names of `parsed`'s entries mean on this host, at their lines:
///
/// - in a system crontab, a user field that is no user here: an error when the field reads
///   as a command (the line has no user field), else a warning (the file may be meant for
///   another host); either way the entry is not counted fine, since the daemon here skips it;
/// - in a user crontab, a command that starts with a user name and goes on: a warning, once
///   for the file when every entry reads that way.
pub fn check_user_fields(parsed: &mut Parsed, source: &str, format: Format) {
    let lines: Vec<&str> = source.split('\n').collect();
    let line_text = |n: u32| {
        let text = lines.get(n as usize - 1).copied().unwrap_or("");
        text.strip_suffix('\r').unwrap_or(text)
    };
    let mut known: HashMap<String, Lookup> = HashMap::new();
    let mut lookup_cached = |name: &str| {
        known
            .entry(name.to_string())
            .or_insert_with(|| lookup(name))
            .clone()
    };
    let mut found = Vec::new();
    match format {
        Format::System => {
            parsed.crontab.entries.retain(|entry| {
                let Some(user) = entry.user.as_deref() else {
                    return true;
                };
                let (severity, message) = match lookup_cached(user) {
                    Lookup::Exists => return true,
                    Lookup::Missing if looks_like_command(user) => {
                        (Severity::Error, not_a_user_message(user, true))
                    }
                    Lookup::Missing => (
                        Severity::Warning,
                        format!(
                            "{}; the daemon on this host skips the line",
                            not_a_user_message(user, true)
                        ),
                    ),
                    Lookup::Failed(why) => (
                        Severity::Warning,
                        format!("cannot look up user '{user}': {why}"),
                    ),
                };
                let text = line_text(entry.line);
                let start = entry.user_start as usize;
                found.push(Diagnostic::at(
                    severity,
                    entry.line,
                    text,
                    start,
                    user.len(),
                    message,
                ));
                false
            });
        }
        Format::User => {
            let mut system_like = Vec::new();
            for entry in &parsed.crontab.entries {
                let Some((word, rest)) = entry.command.split_once([' ', '\t']) else {
                    continue;
                };
                if rest.trim().is_empty() || looks_like_command(word) {
                    continue;
                }
                if lookup_cached(word) == Lookup::Exists {
                    system_like.push((entry.line, entry.command_start as usize, word));
                }
            }
            let whole_file =
                system_like.len() >= 2 && system_like.len() == parsed.crontab.entries.len();
            for (i, &(line, start, word)) in system_like.iter().enumerate() {
                let message = if whole_file && i == 0 {
                    format!(
                        "this file looks like a system crontab: the command of every entry \
                         starts with a user name ('{word}' here), but a user crontab has no user \
                         field, so cron runs that name as the command (for /etc/crontab or \
                         /etc/cron.d, check it with --system)"
                    )
                } else if whole_file {
                    continue;
                } else {
                    format!(
                        "looks like a system crontab line: '{word}' is a user name, but a user \
                         crontab has no user field, so cron runs '{word}' as the command (for \
                         /etc/crontab or /etc/cron.d, check it with --system)"
                    )
                };
                found.push(Diagnostic::at(
                    Severity::Warning,
                    line,
                    line_text(line),
                    start,
                    word.len(),
                    message,
                ));
            }
        }
    }
    parsed.diagnostics.extend(found);
    parsed.diagnostics.sort_by_key(|d| d.line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::parse_crontab;

    fn checked(source: &str, format: Format) -> Parsed {
        let mut parsed = parse_crontab(source, format);
        check_user_fields(&mut parsed, source, format);
        parsed
    }

    #[test]
    fn a_command_where_the_user_belongs_is_an_error() {
        let p = checked("*/5 * * * * cd /app && python worker.py\n", Format::System);
        assert!(p.crontab.entries.is_empty());
        assert_eq!(p.count(Severity::Error), 1);
        let d = &p.diagnostics[0];
        assert_eq!((d.column, d.width), (13, 2));
        assert_eq!(
            d.message,
            "'cd' is not a user on this host; system crontab lines need a user name between \
             the schedule and the command"
        );
    }

    #[test]
    fn an_unknown_name_is_a_warning_and_not_counted_fine() {
        let p = checked("25 6 * * * nosuchuser echo hi\n", Format::System);
        assert!(p.crontab.entries.is_empty());
        assert_eq!(p.count(Severity::Error), 0);
        assert_eq!(p.count(Severity::Warning), 1);
        assert!(
            p.diagnostics[0]
                .message
                .ends_with("the daemon on this host skips the line")
        );
    }

    #[test]
    fn a_user_crontab_in_system_format_is_told_once() {
        let p = checked(
            "17 * * * * root cd / && run-parts /etc/cron.hourly\n\
             25 6 * * * root test -x /usr/sbin/anacron\n",
            Format::User,
        );
        assert_eq!(p.crontab.entries.len(), 2);
        assert_eq!(p.diagnostics.len(), 1);
        assert!(
            p.diagnostics[0]
                .message
                .starts_with("this file looks like a system crontab")
        );
        // One such line among others is told at its line.
        let p = checked("0 1 * * * root true\n0 2 * * * echo hi\n", Format::User);
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].line, 1);
        assert!(
            p.diagnostics[0]
                .message
                .starts_with("looks like a system crontab line")
        );
    }

    #[test]
    fn a_user_name_alone_or_a_program_is_no_system_line() {
        // `root` alone runs a command named root; `sync` is a user on Debian and a program.
        let p = checked("0 1 * * * root\n0 2 * * * sync -f /\n", Format::User);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    }
}
