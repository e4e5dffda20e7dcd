//! A whole crontab file: entries, environment lines and diagnostics.
//!
//! Lines are parsed in order; an environment line changes the environment for the entries
//! after it (cronie's rule), so each entry keeps a shared snapshot of the environment in force
//! at its line. `CRON_TZ` and `RANDOM_DELAY` are read into each entry's zone and delay. One bad
//! line yields diagnostics and is skipped; every other line still loads.

use std::sync::Arc;

use super::diag::{Diagnostic, Severity};
use super::line::{Format, Line, Sink, parse_line};
use super::policy::{self, MailWhen, Overlap, Policy};
use super::rule::{ZoneRule, zone_named};
use super::schedule::Schedule;

/// Environment assignments in force at some line: each name once, in order of first
/// assignment, with its latest value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    /// The value of `name`, from its latest assignment.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Each name once, with its latest value, in order of first assignment.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Keeping one value per name bounds the copy that each environment line after an entry
    /// costs (the entries above share the old snapshot) by the number of distinct names.
    fn set(&mut self, name: String, value: String) {
        match self.vars.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
    }
}

/// One job line of a crontab.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// 1-based line number in the file.
    pub line: u32,
    pub schedule: Schedule,
    /// The user field of a system crontab line; `None` in user crontabs.
    pub user: Option<String>,
    /// Where the user field starts in the line, in bytes (in a user crontab, where the
    /// command starts), and where the command starts: for messages about them.
    pub user_start: u32,
    pub command_start: u32,
    /// The shell command, up to the first unescaped `%`, with `\%` turned into `%`.
    pub command: String,
    /// Standard input from the text after the first unescaped `%`.
    pub stdin: Option<String>,
    /// `false` when the line asked not to be logged (a leading `-`).
    pub log: bool,
    /// The environment lines above this entry.
    pub env: Arc<Env>,
    /// `CRON_TZ` in force, if any; otherwise the daemon's zone applies.
    pub zone: Option<ZoneRule>,
    /// `RANDOM_DELAY` in force, in minutes (cronie's meaning: each run starts after a random
    /// delay up to this many minutes).
    pub random_delay_minutes: u32,
    /// The policy lines above this entry (`CRON_OVERLAP`…) and its OpenBSD flags.
    pub policy: Arc<Policy>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Crontab {
    pub entries: Vec<Entry>,
    /// The environment after the last line.
    pub env: Env,
}

/// A crontab with what was found wrong in it. Entries with errors are not in `crontab`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    pub crontab: Crontab,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// The zone state that `CRON_TZ` lines set for the entries below them.
enum ZoneState {
    Default,
    Named(ZoneRule),
    /// An unknown zone name at this line: entries under it are not loaded, since running
    /// them in some other zone would run them at the wrong time.
    Unknown(u32),
}

/// Parses a whole crontab. Never fails: problems are diagnostics.
pub fn parse_crontab(source: &str, format: Format) -> Parsed {
    let mut out = Parsed::default();
    let mut entries = Vec::new();
    out.crontab.env = parse_crontab_each(source, format, &mut out.diagnostics, |e| entries.push(e));
    out.crontab.entries = entries;
    out
}

/// Parses a whole crontab, handing each entry to `on_entry` as soon as its line is read, so a
/// caller that keeps entries in a form of its own (the daemon) never holds a file's entries
/// twice. Diagnostics are appended to `diagnostics`; the environment after the last line is
/// returned.
pub fn parse_crontab_each(
    source: &str,
    format: Format,
    diagnostics: &mut Vec<Diagnostic>,
    mut on_entry: impl FnMut(Entry),
) -> Env {
    let mut final_env = Env::default();
    let mut env = Arc::new(Env::default());
    let mut zone = ZoneState::Default;
    let mut delay = 0u32;
    let mut policies = Arc::new(Policy::default());
    // `CRON_NAME` names the one entry below it.
    let mut entry_name: Option<String> = None;
    // One search of the whole file instead of two of every line.
    let bad_bytes = source.as_bytes().contains(&0) || source.contains('\u{FFFD}');
    // `source.split('\n')`, and whether each piece is the last (the one after the last line
    // end), found by one search of the file rather than one call per line.
    let mut newlines = memchr::memchr_iter(b'\n', source.as_bytes());
    let mut from = Some(0);
    let lines = std::iter::from_fn(|| {
        let start = from?;
        Some(match newlines.next() {
            Some(end) => {
                from = Some(end + 1);
                (&source[start..end], false)
            }
            None => {
                from = None;
                (&source[start..], true)
            }
        })
    });
    let mut line_no = 0u32;
    let mut crlf_told = false;
    for (raw, last) in lines {
        line_no += 1;
        if last && raw.is_empty() {
            break;
        }
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        let mut sink = Sink {
            line_no,
            text,
            out: diagnostics,
        };
        if text.len() != raw.len() && !crlf_told {
            crlf_told = true;
            sink.warn(
                text.len(),
                1,
                "Windows line endings (CR LF): cronwright reads each line without its CR, but \
                 Debian's cron and cronie keep the CR at the end of every command (and refuse a \
                 line that holds only a CR); convert the file (dos2unix) so every cron reads it \
                 alike",
            );
        }
        let parsed = parse_line(&mut sink, format, bad_bytes);
        if last && !matches!(parsed, Some(Line::Nothing)) {
            if format == Format::System {
                // A file in /etc/cron.d written in two steps (an editor, a package script)
                // looks just like this while it is being written: the line may be cut short.
                sink.warn(
                    text.len(),
                    1,
                    "no newline at the end of the file: this last line is not loaded, as \
                     vixie cron and cronie do not load it (in a system crontab it may be a \
                     line still being written)",
                );
                continue;
            }
            sink.warn(
                text.len(),
                1,
                "no newline at the end of the file: vixie cron and cronie ignore such a last \
                 line (cronwright runs it)",
            );
        }
        match parsed {
            None | Some(Line::Nothing) => {}
            Some(Line::Env {
                name,
                value,
                value_span,
            }) => {
                match name.as_str() {
                    "CRON_TZ" if value.is_empty() => zone = ZoneState::Default,
                    "CRON_TZ" => match zone_named(&value) {
                        Some(tz) => zone = ZoneState::Named(tz),
                        None => {
                            zone = ZoneState::Unknown(line_no);
                            sink.error(
                                value_span.start,
                                value_span.end - value_span.start,
                                format!(
                                    "unknown time zone '{value}' (expected an IANA name such as \
                                     Europe/Berlin, or a POSIX TZ rule such as JST-9); the entries below it are not loaded until the next CRON_TZ line"
                                ),
                            );
                        }
                    },
                    n if n.starts_with("CRON_") && n != "CRON_TZ" => {
                        let mut next = (*policies).clone();
                        match policy::set(&mut next, n, &value) {
                            Ok(true) if n == "CRON_NAME" => entry_name = next.name.take(),
                            Ok(true) => policies = Arc::new(next),
                            Ok(false) => {
                                let known = policy::POLICY_NAMES
                                    .iter()
                                    .chain(&policy::OTHER_CRON_NAMES)
                                    .copied();
                                if let Some(meant) = crate::suggest::closest(n, known) {
                                    let lead = text.len() - text.trim_start().len();
                                    let quoted = text[lead..].starts_with(['"', '\'']);
                                    sink.warn(
                                        lead + usize::from(quoted),
                                        n.len(),
                                        format!(
                                            "{n} is no variable cron reads, so it only reaches \
                                             the job's environment; did you mean '{meant}'?"
                                        ),
                                    );
                                }
                            }
                            Err(message) => sink.error(
                                value_span.start,
                                (value_span.end - value_span.start).max(1),
                                message,
                            ),
                        }
                    }
                    "RANDOM_DELAY" => {
                        // cronie reads it with atoi: the number it starts with, else 0.
                        let digits: String =
                            value.chars().take_while(|c| c.is_ascii_digit()).collect();
                        delay = match digits.len() {
                            0 => 0,
                            _ => digits.parse().unwrap_or(u32::MAX),
                        };
                        if digits.len() != value.len() {
                            sink.warn(
                                value_span.start,
                                (value_span.end - value_span.start).max(1),
                                format!(
                                    "RANDOM_DELAY is a whole number of minutes: '{value}' is \
                                     read as {delay}, as cronie reads it; write \
                                     RANDOM_DELAY={delay}"
                                ),
                            );
                        }
                    }
                    _ => {}
                }
                Arc::make_mut(&mut env).set(name.clone(), value.clone());
                final_env.set(name, value);
            }
            Some(Line::Entry(job)) => {
                let zone = match &zone {
                    ZoneState::Default => None,
                    ZoneState::Named(tz) => Some(tz.clone()),
                    ZoneState::Unknown(at) => {
                        sink.error(
                            0,
                            text.len(),
                            format!("entry not loaded: CRON_TZ on line {at} names an unknown zone"),
                        );
                        continue;
                    }
                };
                let policy = if entry_name.is_none() && !job.quiet_success && !job.single {
                    // Nearly every entry: nothing of its own, so no copy to make and compare.
                    Arc::clone(&policies)
                } else {
                    let mut own = Policy {
                        name: entry_name.take(),
                        ..(*policies).clone()
                    };
                    // The entry's own flags are more particular than the lines above it.
                    if job.quiet_success {
                        own.mail = Some(MailWhen::OutputUnlessSuccess);
                    }
                    if job.single {
                        own.overlap = Some(Overlap::Skip);
                    }
                    if own == *policies {
                        Arc::clone(&policies)
                    } else {
                        Arc::new(own)
                    }
                };
                on_entry(Entry {
                    line: line_no,
                    schedule: job.schedule,
                    user: job.user.map(str::to_string),
                    // A line is at most a file, and a file is far below 4 GiB.
                    user_start: job.user_start as u32,
                    command_start: job.command_start as u32,
                    command: job.command,
                    stdin: job.stdin,
                    log: job.log,
                    env: Arc::clone(&env),
                    zone,
                    random_delay_minutes: delay,
                    policy,
                });
            }
        }
    }
    final_env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_applies_to_entries_below_it() {
        let p = parse_crontab(
            "A=1\n* * * * * one\nA = \"2 two\"\nCRON_TZ=Asia/Kolkata\n0 0 * * * two\n",
            Format::User,
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let e = &p.crontab.entries;
        assert_eq!(e[0].env.get("A"), Some("1"));
        assert_eq!(e[0].zone, None);
        assert_eq!(e[1].env.get("A"), Some("2 two"));
        assert_eq!(e[1].zone, zone_named("Asia/Kolkata"));
        assert_eq!(e[1].line, 5);
    }

    #[test]
    fn one_bad_line_leaves_the_others_loaded() {
        let p = parse_crontab("* * * * * a\n0 0 1 jna * b\n5 * * * * c\n", Format::User);
        assert_eq!(p.crontab.entries.len(), 2);
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!((p.diagnostics[0].line, p.diagnostics[0].column), (2, 7));
    }

    #[test]
    fn unknown_cron_tz_skips_its_entries_with_an_error_each() {
        let p = parse_crontab(
            "CRON_TZ=Mars/Olympus\n0 1 * * * a\nCRON_TZ=UTC\n0 2 * * * b\n",
            Format::User,
        );
        assert_eq!(p.crontab.entries.len(), 1);
        assert_eq!(p.count(Severity::Error), 2);
    }

    #[test]
    fn crlf_and_missing_final_newline_are_accepted() {
        let p = parse_crontab("* * * * * a\r\n0 * * * * b", Format::User);
        assert_eq!(p.crontab.entries.len(), 2);
        assert_eq!(p.crontab.entries[0].command, "a");
        // One for the line endings (once per file), one for the last line.
        assert_eq!(p.count(Severity::Warning), 2);
        assert_eq!(p.count(Severity::Error), 0);
    }

    #[test]
    fn days_missing_from_named_months_warn_which_months_are_skipped() {
        let p = parse_crontab("0 0 31 * * a\n0 0 29-31 * * b\n", Format::User);
        assert_eq!(p.crontab.entries.len(), 2);
        assert_eq!(p.diagnostics.len(), 1);
        assert_eq!(p.diagnostics[0].line, 1);
        assert!(p.diagnostics[0].message.contains("feb, apr, jun, sep, nov"));
    }

    #[test]
    fn policies_apply_below_their_line_and_a_name_to_one_entry() {
        let p = parse_crontab(
            "0 0 * * * plain\n\
             CRON_OVERLAP=skip\nCRON_NAME=first\n0 1 * * * named\n0 2 * * * -n -q unnamed\n\
             CRON_OVERLAP=\n0 3 * * * -s back\nCRON_TIMOUT=5m\n0 4 * * * typo\n0 5 * * * also\n",
            Format::User,
        );
        assert_eq!(p.count(Severity::Error), 0, "{:?}", p.diagnostics);
        let e = &p.crontab.entries;
        assert!(e[0].policy.is_default());
        assert_eq!(policy::describe(&e[1].policy), "name=first overlap=skip");
        // OpenBSD's flags: -n mails only what failed, -q keeps the run out of the log.
        assert_eq!(
            policy::describe(&e[2].policy),
            "overlap=skip mail=output-unless-success"
        );
        assert_eq!((e[2].command.as_str(), e[2].log), ("unnamed", false));
        assert_eq!(policy::describe(&e[3].policy), "overlap=skip");
        assert_eq!(e[3].command, "back");
        // Entries under the same lines share one policy.
        assert!(Arc::ptr_eq(&e[4].policy, &e[5].policy));
        assert!(e[4].policy.is_default());
        assert_eq!(p.count(Severity::Warning), 1);
        assert!(
            p.diagnostics[0]
                .message
                .contains("did you mean 'CRON_TIMEOUT'?")
        );
    }

    #[test]
    fn system_format_takes_a_user_field() {
        let p = parse_crontab(
            "17 * * * * root cd / && run-parts /etc/cron.hourly\n",
            Format::System,
        );
        let e = &p.crontab.entries[0];
        assert_eq!(e.user.as_deref(), Some("root"));
        assert_eq!(e.command, "cd / && run-parts /etc/cron.hourly");
    }
}
