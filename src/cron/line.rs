//! One crontab line: an entry (schedule, optional user, command), an environment assignment,
//! or nothing (blank or comment). Every problem becomes a `Diagnostic` with its column;
//! nothing here allocates per line beyond the strings an entry keeps.
//!
//! The five-or-six-field rule (DESIGN.md "The cron language"): a line has a leading seconds
//! field only when its sixth token is a valid day-of-week field and either starts with a
//! digit or `*`, or the line does not parse with five fields. So `0 5 * * * mon --check`
//! stays a five-field line running `mon --check`, as every other cron reads it.

use super::diag::{Diagnostic, Severity};
use super::field::{Field, FieldKind, FieldWarning, MONTH_NAMES, parse_field};
use super::schedule::{MACROS, Schedule, Times};

/// User crontabs have no user field; system crontabs (`/etc/crontab`, `/etc/cron.d/*`)
/// name the user after the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    User,
    System,
}

/// A byte range of the line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    fn text(self, line: &str) -> &str {
        &line[self.start..self.end]
    }
}

/// What a line holds, borrowing from the line's text where it can.
pub(crate) enum Line<'a> {
    Nothing,
    Env {
        name: String,
        value: String,
        value_span: Span,
    },
    Entry(EntryLine<'a>),
}

/// A job line as written: what the rest of the file (environment, `CRON_TZ`) does not decide.
pub(crate) struct EntryLine<'a> {
    pub schedule: Schedule,
    /// The user field of a system crontab line.
    pub user: Option<&'a str>,
    /// Where the user field starts, in bytes (where the command starts when there is none).
    pub user_start: usize,
    pub command: String,
    /// Where the command starts, in bytes.
    pub command_start: usize,
    pub stdin: Option<String>,
    /// `false` for a leading `-`, or OpenBSD's `-q`.
    pub log: bool,
    /// OpenBSD's `-n`: no mail after a successful run.
    pub quiet_success: bool,
    /// OpenBSD's `-s`: a single instance at a time.
    pub single: bool,
}

/// Collects diagnostics for one line, which knows its number and text.
pub(crate) struct Sink<'d, 'l> {
    pub line_no: u32,
    pub text: &'l str,
    pub out: &'d mut Vec<Diagnostic>,
}

impl Sink<'_, '_> {
    pub fn push(&mut self, severity: Severity, start: usize, len: usize, msg: impl Into<String>) {
        self.out.push(Diagnostic::at(
            severity,
            self.line_no,
            self.text,
            start,
            len,
            msg,
        ));
    }

    pub fn error(&mut self, start: usize, len: usize, msg: impl Into<String>) {
        self.push(Severity::Error, start, len, msg);
    }

    pub fn warn(&mut self, start: usize, len: usize, msg: impl Into<String>) {
        self.push(Severity::Warning, start, len, msg);
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The next whitespace-separated token at or after `pos`.
fn next_token(line: &str, pos: usize) -> Option<Span> {
    let b = line.as_bytes();
    let start = pos + b.get(pos..)?.iter().position(|&c| !is_blank(c))?;
    let end = start
        + b[start..]
            .iter()
            .position(|&c| is_blank(c))
            .unwrap_or(b.len() - start);
    Some(Span { start, end })
}

/// Up to `N` tokens from `pos`, and how many there were.
fn tokens<const N: usize>(line: &str, mut pos: usize) -> ([Span; N], usize) {
    let mut out = [Span::default(); N];
    let mut n = 0;
    while n < N {
        match next_token(line, pos) {
            Some(s) => {
                out[n] = s;
                pos = s.end;
                n += 1;
            }
            None => break,
        }
    }
    (out, n)
}

const FIVE: [FieldKind; 5] = [
    FieldKind::Minute,
    FieldKind::Hour,
    FieldKind::DayOfMonth,
    FieldKind::Month,
    FieldKind::DayOfWeek,
];
const SIX: [FieldKind; 6] = [
    FieldKind::Second,
    FieldKind::Minute,
    FieldKind::Hour,
    FieldKind::DayOfMonth,
    FieldKind::Month,
    FieldKind::DayOfWeek,
];

fn field_ok(text: &str, kind: FieldKind) -> bool {
    // Most sixth tokens are a command's first word, like `/usr/bin/backup`: reject anything
    // that no field can start with or hold before paying for a full parse and its error.
    text.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '*')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b',' | b'-' | b'/'))
        && parse_field(text, kind, &mut Vec::new()).is_ok()
}

fn all_ok(line: &str, toks: &[Span], kinds: &[FieldKind]) -> bool {
    toks.iter()
        .zip(kinds)
        .all(|(t, &k)| field_ok(t.text(line), k))
}

/// How many time fields a crontab line has (see the module comment).
fn crontab_field_count(line: &str, toks: &[Span]) -> usize {
    if toks.len() < 6 {
        return 5;
    }
    let sixth = toks[5].text(line);
    if !field_ok(sixth, FieldKind::DayOfWeek) {
        return 5;
    }
    if sixth.starts_with(|c: char| c.is_ascii_digit() || c == '*') {
        return 6;
    }
    if all_ok(line, &toks[..5], &FIVE) || !all_ok(line, &toks[..6], &SIX) {
        5
    } else {
        6
    }
}

/// Parses time-field tokens (5 or 6 of them) into `Times`, reporting every bad field.
fn parse_times(toks: &[Span], sink: &mut Sink) -> Option<Times> {
    let kinds: &[FieldKind] = if toks.len() == 6 { &SIX } else { &FIVE };
    let mut fields = [None::<Field>; 6];
    let mut warnings: Vec<FieldWarning> = Vec::new();
    let mut failed = false;
    for (i, (tok, &kind)) in toks.iter().zip(kinds).enumerate() {
        let before = warnings.len();
        match parse_field(tok.text(sink.text), kind, &mut warnings) {
            Ok(f) => fields[i] = Some(f),
            Err(e) if toks.len() == 6 => {
                failed = true;
                sink.error(
                    tok.start + e.offset,
                    e.len,
                    format!(
                        "{e}; with six time fields the first is read as seconds, so this is \
                         the {} field",
                        kind.label()
                    ),
                );
            }
            Err(e) => {
                failed = true;
                sink.error(tok.start + e.offset, e.len, e.to_string());
            }
        }
        for w in warnings.drain(before..) {
            sink.warn(tok.start + w.offset, w.len, w.message);
        }
    }
    if failed {
        return None;
    }
    // Every field parsed (none failed), so the first `toks.len()` are all `Some`.
    let field = |i: usize| fields[i].unwrap_or_default();
    let (second, at) = if toks.len() == 6 {
        (fields[0], 1)
    } else {
        (None, 0)
    };
    let times = Times::from_fields(
        second,
        field(at),
        field(at + 1),
        field(at + 2),
        field(at + 3),
        field(at + 4),
    );
    let dom = toks[toks.len() - 3];
    let month = toks[toks.len() - 2];
    let dow = toks[toks.len() - 1];
    let (minute, hour) = (toks[at], toks[at + 1]);
    // `* 4 * * 0`: a fixed hour with every minute of it is nearly always `0 4 * * 0` meant.
    // A deliberate range or step in the minute field says otherwise.
    if toks.len() == 5 && minute.text(sink.text) == "*" && !field(at + 1).star {
        let rest = &sink.text[hour.start..dow.end];
        let runs = match hour.text(sink.text).parse::<u32>() {
            Ok(h) => format!("every minute from {h:02}:00 to {h:02}:59 (60 runs)"),
            Err(_) => "every minute of each hour it names (60 runs an hour)".to_string(),
        };
        sink.warn(
            minute.start,
            1,
            format!("this runs {runs}; did you mean `0 {rest}`?"),
        );
    }
    if !times.can_fire() {
        sink.warn(
            dom.start,
            month.end - dom.start,
            "this schedule never fires: none of the months it names has the days it names",
        );
    } else if !times.days_are_ored() && times.months_without_their_days() != 0 {
        let skipped = times.months_without_their_days();
        let names: Vec<&str> = MONTH_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| skipped & (1 << (i + 1)) != 0)
            .map(|(_, n)| *n)
            .collect();
        sink.warn(
            dom.start,
            dom.end - dom.start,
            format!(
                "no day this names exists in {}: the job does not run in those months",
                names.join(", ")
            ),
        );
    } else if times.days_are_ored() {
        sink.warn(
            dom.start,
            dow.end - dom.start,
            "day of month and day of week are both restricted, so this runs on days matching \
             either one, not only on days matching both (cron's OR rule)",
        );
    }
    Some(times)
}

/// A line read with a leading seconds field, which only cronwright has: says how the other
/// crons, reading five fields and then the command, take the same line.
fn seconds_note(sink: &mut Sink, toks: &[Span]) {
    let text = sink.text;
    let sixth = toks[5];
    let theirs = if sixth.text(text).starts_with('*') || !all_ok(text, &toks[..5], &FIVE) {
        "refuse this line".to_string()
    } else {
        format!(
            "run '{}' as its command",
            text[sixth.start..].trim_end_matches([' ', '\t'])
        )
    };
    sink.warn(
        toks[0].start,
        sixth.end - toks[0].start,
        format!(
            "six time fields: cronwright reads the first as seconds, a field only it has; \
             Debian's cron and cronie read five fields and {theirs}"
        ),
    );
}

/// Parses `@name` into its schedule.
fn parse_macro(tok: Span, sink: &mut Sink) -> Option<Schedule> {
    let text = tok.text(sink.text);
    let Some((_, expansion)) = MACROS.iter().find(|(name, _)| *name == text) else {
        let names: Vec<&str> = MACROS.iter().map(|(n, _)| *n).collect();
        sink.error(
            tok.start,
            tok.end - tok.start,
            format!(
                "unknown macro '{text}' (expected one of {}){}",
                names.join(" "),
                crate::suggest::did_you_mean(text, names.iter().copied())
            ),
        );
        return None;
    };
    if expansion.is_empty() {
        return Some(Schedule::Reboot);
    }
    let mut scratch = Vec::new();
    let mut inner = Sink {
        line_no: 0,
        text: expansion,
        out: &mut scratch,
    };
    let (toks, n) = tokens::<5>(expansion, 0);
    parse_times(&toks[..n], &mut inner).map(Schedule::Times)
}

/// Parses a standalone expression, as `cronwright next` takes it: 5 or 6 fields, or a macro.
pub(crate) fn parse_expr_line(sink: &mut Sink) -> Option<Schedule> {
    let (toks, n) = tokens::<7>(sink.text, 0);
    if n == 0 {
        sink.error(
            0,
            1,
            "empty expression (expected 5 or 6 time fields, or a macro such as @daily)",
        );
        return None;
    }
    if sink.text[toks[0].start..].starts_with('@') {
        if n > 1 {
            sink.error(
                toks[1].start,
                sink.text.len() - toks[1].start,
                "unexpected text after the macro",
            );
            return None;
        }
        return parse_macro(toks[0], sink);
    }
    // A crontab line pasted whole: its command is no time field.
    let command = toks[..n].iter().skip(5).find(|t| {
        !t.text(sink.text)
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b',' | b'-' | b'/'))
            || t.text(sink.text).starts_with('/')
    });
    if let Some(cmd) = command {
        sink.error(
            cmd.start,
            sink.text.len() - cmd.start,
            format!(
                "'{}' looks like a command, not a time field: an expression is the schedule \
                 alone (5 time fields, 6 with seconds first, or a macro), not a whole crontab \
                 line",
                &sink.text[cmd.start..]
            ),
        );
        return None;
    }
    if n != 5 && n != 6 {
        let at = if n > 6 {
            toks[6].start
        } else {
            sink.text.len()
        };
        sink.error(
            at,
            1,
            format!(
                "expected 5 or 6 time fields, found {}",
                if n > 6 {
                    "more than 6".to_string()
                } else {
                    n.to_string()
                }
            ),
        );
        return None;
    }
    parse_times(&toks[..n], sink).map(Schedule::Times)
}

/// Turns the command text into the command and its standard input: an unescaped `%` ends
/// the command, and each later `%` becomes a newline; `\%` is a literal `%` in both parts;
/// input that does not end with a newline gets one, as cronie writes it.
/// Returns the byte offset of the first unescaped `%`, for the warning.
fn split_command(cmd: &str) -> (String, Option<String>, Option<usize>) {
    if memchr::memchr(b'%', cmd.as_bytes()).is_none() {
        return (cmd.to_string(), None, None);
    }
    let mut command = String::with_capacity(cmd.len());
    let mut input = String::new();
    let mut first_pct = None;
    let mut chars = cmd.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let out = if first_pct.is_some() {
            &mut input
        } else {
            &mut command
        };
        match c {
            '\\' if chars.peek().is_some_and(|&(_, n)| n == '%') => {
                out.push('%');
                chars.next();
            }
            '%' if first_pct.is_none() => first_pct = Some(i),
            '%' => out.push('\n'),
            _ => out.push(c),
        }
    }
    // cronie ends the input with a newline when it does not end with one already.
    if first_pct.is_some() && !input.is_empty() && !input.ends_with('\n') {
        input.push('\n');
    }
    (command, first_pct.map(|_| input), first_pct)
}

/// Parses an environment assignment `NAME = value` (either side may be quoted, as cronie's
/// `load_env`). `start` is where the line's first non-blank byte is.
fn parse_env<'a>(sink: &mut Sink, start: usize) -> Option<Line<'a>> {
    let text = sink.text;
    let b = text.as_bytes();
    let (name, after_name) = match b[start] {
        q @ (b'"' | b'\'') => match text[start + 1..].find(q as char) {
            Some(len) => (&text[start + 1..start + 1 + len], start + len + 2),
            None => {
                sink.error(
                    start,
                    text.len() - start,
                    "unterminated quote in the variable name",
                );
                return None;
            }
        },
        _ => {
            let len = b[start..]
                .iter()
                .position(|&c| c == b'=' || is_blank(c))
                .unwrap_or(b.len() - start);
            (&text[start..start + len], start + len)
        }
    };
    let eq = after_name + b[after_name..].iter().take_while(|&&c| is_blank(c)).count();
    if b.get(eq) != Some(&b'=') || name.is_empty() {
        let word_end = next_token(text, start).map_or(text.len(), |s| s.end);
        sink.error(
            start,
            word_end - start,
            format!(
                "expected a schedule (5 or 6 time fields, or a macro such as @daily) or an \
                 environment line NAME=value, found '{}'",
                &text[start..word_end]
            ),
        );
        return None;
    }
    let vstart = eq + 1 + b[eq + 1..].iter().take_while(|&&c| is_blank(c)).count();
    let raw = text[vstart..].trim_end_matches([' ', '\t']);
    let vend = vstart + raw.len();
    let quoted = raw.len() >= 2
        && matches!(raw.as_bytes()[0], b'"' | b'\'')
        && raw.as_bytes()[0] == raw.as_bytes()[raw.len() - 1];
    let (value, value_span) = if quoted {
        (
            &raw[1..raw.len() - 1],
            Span {
                start: vstart + 1,
                end: vend - 1,
            },
        )
    } else {
        if raw.starts_with(['"', '\'']) {
            sink.warn(vstart, raw.len(), "the value's opening quote has no matching closing quote, so the quote is part of the value");
        }
        (
            raw,
            Span {
                start: vstart,
                end: vend,
            },
        )
    };
    Some(Line::Env {
        name: name.to_string(),
        value: value.to_string(),
        value_span,
    })
}

/// Parses one line of a crontab (without its line ending). `bad_bytes`: whether the file
/// holds a NUL or a U+FFFD anywhere; when it does not, no line is searched for them.
pub(crate) fn parse_line<'a>(
    sink: &mut Sink<'_, 'a>,
    format: Format,
    bad_bytes: bool,
) -> Option<Line<'a>> {
    let text: &'a str = sink.text;
    let Some(first) = next_token(text, 0) else {
        return Some(Line::Nothing);
    };
    let b = text.as_bytes();
    if b[first.start] == b'#' {
        return Some(Line::Nothing);
    }
    // The daemon would refuse such a line only when it ran (a NUL cannot reach exec) or
    // would run other bytes than the file holds (the text is read as UTF-8, invalid bytes
    // replaced): refusing it here tells `check`, `crontab` and the daemon's load alike.
    if let Some(at) = bad_bytes.then(|| text.find('\0')).flatten() {
        sink.error(
            at,
            1,
            "a NUL byte: no command or variable can hold one; line not loaded",
        );
        return None;
    }
    if let Some(at) = bad_bytes.then(|| text.find('\u{FFFD}')).flatten() {
        sink.error(
            at,
            1,
            "bytes that are not UTF-8 (shown as \u{FFFD}): cronwright runs only what it reads \
             exactly, so the line is not loaded (a real U+FFFD character is refused too)",
        );
        return None;
    }
    match b[first.start] {
        b'0'..=b'9' | b'*' | b'@' | b'-' => {}
        _ => return parse_env(sink, first.start),
    }
    // cronie: a '-' before the schedule means "do not log this job's runs to syslog".
    let mut log = true;
    let mut pos = first.start;
    if b[pos] == b'-' {
        log = false;
        pos += 1;
        if next_token(text, pos).is_none_or(|t| t.start != pos) {
            sink.error(
                first.start,
                1,
                "expected a schedule right after '-' (which turns off logging for the entry)",
            );
            return None;
        }
    }
    // Six tokens decide everything below: the command is read from the text after them.
    let (toks, n) = tokens::<6>(text, pos);
    let (schedule, used) = if b[pos] == b'@' {
        (parse_macro(toks[0], sink), 1)
    } else {
        let count = crontab_field_count(text, &toks[..n]);
        if n < count {
            sink.error(
                text.len(),
                1,
                format!("expected 5 time fields and a command, found only {n} fields"),
            );
            return None;
        }
        let times = parse_times(&toks[..count], sink);
        if count == 6 && times.is_some() {
            seconds_note(sink, &toks[..6]);
        }
        (times.map(Schedule::Times), count)
    };
    let mut rest = toks[used - 1].end;
    let mut user_start = rest;
    let user = match format {
        Format::User => None,
        Format::System => match next_token(text, rest) {
            // A path is never a user name: the line has a command where its user belongs,
            // which Debian's cron and cronie refuse as a bad user name.
            Some(t) if t.text(text).contains('/') => {
                sink.error(
                    t.start,
                    t.end - t.start,
                    not_a_user_message(t.text(text), true),
                );
                return None;
            }
            Some(t) => {
                rest = t.end;
                user_start = t.start;
                Some(t.text(text))
            }
            None => {
                sink.error(
                    text.len(),
                    1,
                    "expected a user name after the schedule (lines of /etc/crontab and /etc/cron.d name the user that runs them)",
                );
                return None;
            }
        },
    };
    let Some(cmd) = next_token(text, rest) else {
        let msg = match user {
            Some(user) => format!(
                "expected a command after the user name '{user}' (lines of /etc/crontab and \
                 /etc/cron.d name the user between the schedule and the command)"
            ),
            None => "expected a command after the schedule".to_string(),
        };
        sink.error(text.len(), 1, msg);
        return None;
    };
    let schedule = schedule?;
    if user.is_none() {
        user_start = cmd.start;
    }
    let mut cmd_text = &text[cmd.start..];
    let mut cmd_start = cmd.start;
    if cmd_text.starts_with('*') {
        sink.error(
            cmd.start,
            cmd.end - cmd.start,
            "the command starts with '*': cron reads this as a mistyped schedule (a missing or extra time field?)",
        );
        return None;
    }
    let word = cmd.text(text);
    if user.is_none()
        && word.bytes().any(|b| b.is_ascii_digit())
        && word
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b',' | b'-' | b'/'))
    {
        sink.warn(
            cmd.start,
            cmd.end - cmd.start,
            format!(
                "the command starts with '{word}', which looks like one more time field (a \
                 year?): cron has no such field, so this runs '{}' as the command",
                cmd_text.trim_end_matches([' ', '\t'])
            ),
        );
    }
    // OpenBSD's flags before the command, each a letter and a blank: `-n -q cmd`.
    let (mut quiet_success, mut single) = (false, false);
    loop {
        let b = cmd_text.as_bytes();
        if b.len() < 3 || b[0] != b'-' || !is_blank(b[2]) {
            break;
        }
        match b[1] {
            b'n' => quiet_success = true,
            b'q' => log = false,
            b's' => single = true,
            _ => break,
        }
        let rest = cmd_text[2..].trim_start_matches([' ', '\t']);
        cmd_start += cmd_text.len() - rest.len();
        cmd_text = rest;
    }
    if let Some(stripped) = cmd_text.strip_prefix('-') {
        log = false;
        cmd_text = stripped;
        cmd_start += 1;
    }
    let (command, stdin, pct) = split_command(cmd_text);
    if let Some(p) = pct {
        sink.warn(
            cmd_start + p,
            1,
            "unescaped '%' ends the command here: the rest becomes the job's standard input \
             (write \\% for a literal percent sign)",
        );
    }
    if command.trim().is_empty() {
        sink.error(cmd_start, 1, "the command is empty");
        return None;
    }
    Some(Line::Entry(EntryLine {
        schedule,
        user,
        user_start,
        command,
        command_start: cmd_start,
        stdin,
        log,
        quiet_success,
        single,
    }))
}

/// What `check`, `crontab` and the daemon say about a user field (or a spool crontab's user)
/// that is not a user on this host. For a system crontab line the likely cause is a missing
/// user field, so the message says where the user name goes.
pub fn not_a_user_message(user: &str, system_line: bool) -> String {
    if system_line {
        format!(
            "'{user}' is not a user on this host; system crontab lines need a user name \
             between the schedule and the command"
        )
    } else {
        format!("'{user}' is not a user on this host")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_splits_command_and_stdin_with_escapes() {
        let (c, s, p) = split_command(r"mail -s 50\% bob%Hi%there\%");
        assert_eq!(c, "mail -s 50% bob");
        assert_eq!(s.as_deref(), Some("Hi\nthere%\n"));
        assert_eq!(p, Some(16));
        assert_eq!(split_command("date +%s").1.as_deref(), Some("s\n"));
        assert_eq!(split_command("cat%").1.as_deref(), Some(""));
        assert_eq!(split_command(r"date +\%s"), ("date +%s".into(), None, None));
    }

    #[test]
    fn sixth_token_decides_seconds_without_guessing() {
        let count = |l: &str| {
            let (t, n) = tokens::<8>(l, 0);
            crontab_field_count(l, &t[..n.min(6)])
        };
        assert_eq!(count("0 5 * * * mon --check"), 5);
        assert_eq!(count("*/10 * * * * * cmd"), 6);
        assert_eq!(count("0 30 8 * jan mon cmd"), 6);
        assert_eq!(count("0 5 * * * 7z a x.7z"), 5);
        assert_eq!(count("0 5 * * * 2 cmd"), 6);
    }
}
