//! Escaping that keeps one value on one line: control characters become visible escapes
//! (also in mail headers, which is why [`escape_controls`] is public), commands are cut to a
//! bounded length, and a `key=value` value that a split on spaces or `=` would misread is
//! quoted.

use std::borrow::Cow;
use std::fmt::Write as _;

/// How many characters of a command a log line shows before cutting it with `…`.
pub(super) const COMMAND_LOG_CHARS: usize = 200;

/// Escapes control characters (C0, DEL, C1, and the Unicode line and paragraph separators)
/// so a value can never break a log line or a mail header. Backslashes are left alone so
/// commands read as the crontab has them.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    let needs = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The first [`COMMAND_LOG_CHARS`] characters of a command, plus `…` when it was longer.
pub(super) fn cap_command(command: &str) -> Cow<'_, str> {
    match command.char_indices().nth(COMMAND_LOG_CHARS) {
        Some((at, _)) => Cow::Owned(format!("{}…", &command[..at])),
        None => Cow::Borrowed(command),
    }
}

/// A command as log lines show it: cut, then escaped.
pub(super) fn command_for_log(command: &str) -> String {
    escape_controls(&cap_command(command)).into_owned()
}

/// A `key=value` value: escaped, and quoted when a plain split on spaces and `=` would
/// misread it.
pub(super) fn kv(value: &str) -> Cow<'_, str> {
    let v = escape_controls(value);
    let plain = !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '=' || c == '\\');
    if plain {
        return v;
    }
    let mut q = String::with_capacity(v.len() + 2);
    q.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    Cow::Owned(q)
}
