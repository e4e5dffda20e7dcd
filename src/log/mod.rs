//! The daemon's log sink: one line per event, to syslog, to stderr as text, or to stdout as
//! JSON lines.
//!
//! This module owns the wording of every log line (the shapes in DESIGN.md "Logging"), the
//! RFC 3164 datagrams sent to the syslog socket, and the rule that logging never stops the
//! daemon: a missing, vanished or full syslog socket and a stuck stderr cost at most a few
//! milliseconds and some dropped lines, which are counted and reported once things work again.
//!
//! # Line shapes
//!
//! A line is a tag, then for job events the user in parentheses before the tag and the
//! command in parentheses after it (as cron writes them), then a `key=value` tail, and for
//! some events ` | ` and free text that runs to the end of the line:
//!
//! ```text
//! START version=0.1.0 pid=4242 zone=Europe/Berlin files=3 entries=12
//! START version=0.1.0 pid=4242 zone=UTC files=1 entries=2 runs_as=alice | not running as root: every job runs as alice
//! STOP pid=4242 reason=SIGTERM killed=0
//! (alice) CMD (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4243
//! (alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4243 status=0 duration=1.532s output=312B
//! (alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4243 status=signal:9 signal=SIGKILL duration=60.000s output=0B
//! (alice) END (yes) job=/var/spool/cron/crontabs/alice:4 pid=4244 status=0 duration=0.412s output=1048576B truncated=983040B
//! (alice) OUT (backup.sh --all) pid=4243 | copied 14 files
//! (alice) MAIL (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4243 to=alice | not sent: sendmail exited with status 75
//! ERROR /etc/cron.d/web:7:12: unknown month name 'jna' (expected 1-12 or jan-dec)
//! RELOAD /etc/cron.d/web entries=4 errors=1
//! REFUSED /var/spool/cron/crontabs/bob: owned by uid 1001, not bob (uid 1002); fix: chown bob /var/spool/cron/crontabs/bob
//! IGNORED /etc/cron.d/web.dpkg-old: name has characters other than letters, digits, '_' and '-'
//! INFO free text
//! ```
//!
//! - `status=` is the exit code, or `signal:N` for a job killed by signal N, always followed by
//!   `signal=NAME` (`SIGKILL`, `SIGRTMIN+3`, or `SIGn` when the number has no name).
//! - `duration=` has millisecond precision; `output=` counts every byte the job wrote, and
//!   `truncated=` (only present when nonzero) the part beyond the capture cap that was not kept.
//! - Commands are shown as the crontab has them but cut to [`COMMAND_LOG_CHARS`] characters
//!   plus `…`. In every field, control characters are escaped (`\n`, `\r`, `\t`, `\x1b`,
//!   `\u{85}`), so one event is always one line. A `key=value` value that contains spaces,
//!   `"`, `=` or `\` is written in double quotes with `"` and `\` escaped.
//!
//! # Severities (facility cron)
//!
//! `info` (`<78>`) for START, STOP, CMD, OUT, RELOAD, INFO and END with exit status 0;
//! `warning` (`<76>`) for END with a nonzero status or a signal, and for MAIL failures;
//! `notice` (`<77>`) for IGNORED; `err` (`<75>`) for ERROR and REFUSED.
//!
//! # Syslog
//!
//! Datagrams have glibc's local shape, `<PRI>Mmm dd hh:mm:ss cronwrightd[PID]: MSG`, with the
//! timestamp in the local zone. They are sent with `send_to(path)` from one unbound,
//! non-blocking socket, so a syslog daemon that restarts and binds a new socket at the same
//! path is picked up on the very next line. This is ~100 lines of our own rather than the
//! `syslog` crate: that crate connects once and has no non-blocking mode, no notion of a
//! socket that comes back, and no truncation on EMSGSIZE, which are exactly the parts needed.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::{Map, Value, json};

/// The syslog identity.
pub const IDENT: &str = "cronwrightd";

/// Syslog facility `cron` (9), already shifted: PRI = `FACILITY_CRON + severity`.
pub const FACILITY_CRON: u8 = 9 << 3;

/// How many characters of a command a log line shows before cutting it with `…`.
pub const COMMAND_LOG_CHARS: usize = 200;

/// How long one write to stderr/stdout may wait for a slow reader. After a write that ran
/// out of time, later writes do not wait at all until one goes through again.
const STREAM_WAIT: Duration = Duration::from_millis(50);

/// Waits between retries when the syslog receiver's queue is full (a burst of OUT lines
/// outruns syslogd easily; Linux queues only `net.unix.max_dgram_qlen` datagrams, often 10).
const FULL_RETRY_MS: [u64; 4] = [1, 2, 4, 8];

/// After a line was dropped because the receiver stayed full, later lines do not wait for it
/// for this long, so a stuck syslogd costs the event loop at most ~15 ms per second.
const FULL_HOLD: Duration = Duration::from_secs(1);

/// Writes to pipes of at most this size are atomic and do not block once poll says POLLOUT.
const PIPE_BUF: usize = 4096;

/// An exit status as waitpid reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Signaled(i32),
}

impl Status {
    /// The `status=` value: `0`, `1`, … or `signal:9`.
    pub fn text(&self) -> String {
        match self {
            Status::Exited(code) => code.to_string(),
            Status::Signaled(sig) => format!("signal:{sig}"),
        }
    }

    fn success(&self) -> bool {
        matches!(self, Status::Exited(0))
    }
}

/// A signal's name: `SIGKILL`, `SIGRTMIN+3`, or `SIG64` when the number has no name.
pub fn signal_name(sig: i32) -> String {
    if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
        return s.as_str().to_string();
    }
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if (min..=max).contains(&sig) {
        return format!("SIGRTMIN+{}", sig - min);
    }
    format!("SIG{sig}")
}

/// Syslog severities used by the daemon (RFC 5424 numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

impl Severity {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The syslog PRI with facility cron: `78` for info, `75` for err.
    pub fn pri(self) -> u8 {
        FACILITY_CRON + self.code()
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Err => "err",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
            Severity::Info => "info",
        }
    }
}

/// One thing worth a log line. Strings are borrowed from the caller; nothing is allocated
/// until a sink needs the text.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// The daemon started and loaded its crontabs. `runs_as` is `Some(user)` when the daemon
    /// is not root and so runs every job as that user.
    Start {
        version: &'a str,
        pid: u32,
        zone: &'a str,
        files: usize,
        entries: usize,
        runs_as: Option<&'a str>,
    },
    /// The daemon is exiting; `reason` is one word such as `SIGTERM`; `killed` counts the jobs
    /// whose process groups got SIGTERM after the grace period.
    Stop {
        pid: u32,
        reason: &'a str,
        killed: usize,
    },
    /// A job started; `job` is `path:line`.
    Cmd {
        user: &'a str,
        command: &'a str,
        job: &'a str,
        pid: u32,
    },
    /// A job ended. `output_bytes` counts everything it wrote, `dropped_bytes` the part
    /// beyond the capture cap that was not kept.
    End {
        user: &'a str,
        command: &'a str,
        job: &'a str,
        pid: u32,
        status: Status,
        duration: Duration,
        output_bytes: u64,
        dropped_bytes: u64,
    },
    /// One line of a job's output (without its newline).
    Out {
        user: &'a str,
        command: &'a str,
        pid: u32,
        line: &'a str,
    },
    /// A crontab error, already worded with `file:line:col: message`.
    Error { text: &'a str },
    /// A crontab file was (re)loaded.
    Reload {
        file: &'a str,
        entries: usize,
        errors: usize,
    },
    /// A crontab file was refused (owner, mode, symlink…), with the command that fixes it.
    Refused {
        path: &'a str,
        reason: &'a str,
        fix: Option<&'a str>,
    },
    /// A file was skipped on purpose (for example by the `/etc/cron.d` name rule).
    Ignored { path: &'a str, reason: &'a str },
    /// Anything else worth saying.
    Info { text: &'a str },
    /// A job's output could not be mailed; `to` is the recipient list as given, `pid` the
    /// job's pid.
    MailFailed {
        user: &'a str,
        command: &'a str,
        job: &'a str,
        pid: u32,
        to: &'a str,
        reason: &'a str,
    },
}

impl Event<'_> {
    /// The tag: `START`, `STOP`, `CMD`, `END`, `OUT`, `ERROR`, `RELOAD`, `REFUSED`, `IGNORED`,
    /// `INFO` or `MAIL`; the JSON `event` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Start { .. } => "START",
            Event::Stop { .. } => "STOP",
            Event::Cmd { .. } => "CMD",
            Event::End { .. } => "END",
            Event::Out { .. } => "OUT",
            Event::Error { .. } => "ERROR",
            Event::Reload { .. } => "RELOAD",
            Event::Refused { .. } => "REFUSED",
            Event::Ignored { .. } => "IGNORED",
            Event::Info { .. } => "INFO",
            Event::MailFailed { .. } => "MAIL",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Event::Error { .. } | Event::Refused { .. } => Severity::Err,
            Event::End { status, .. } if !status.success() => Severity::Warning,
            Event::MailFailed { .. } => Severity::Warning,
            Event::Ignored { .. } => Severity::Notice,
            _ => Severity::Info,
        }
    }

    /// The text line, without a newline and without the syslog header.
    pub fn line(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_line(&mut s);
        s
    }

    fn write_line(&self, s: &mut String) -> std::fmt::Result {
        let tag = self.kind();
        match *self {
            Event::Start {
                version,
                pid,
                zone,
                files,
                entries,
                runs_as,
            } => {
                write!(
                    s,
                    "{tag} version={} pid={pid} zone={} files={files} entries={entries}",
                    kv(version),
                    kv(zone)
                )?;
                if let Some(user) = runs_as {
                    write!(
                        s,
                        " runs_as={} | not running as root: every job runs as {}",
                        kv(user),
                        escape_controls(user)
                    )?;
                }
            }
            Event::Stop {
                pid,
                reason,
                killed,
            } => write!(s, "{tag} pid={pid} reason={} killed={killed}", kv(reason))?,
            Event::Cmd {
                user,
                command,
                job,
                pid,
            } => write!(
                s,
                "({}) {tag} ({}) job={} pid={pid}",
                escape_controls(user),
                command_for_log(command),
                kv(job)
            )?,
            Event::End {
                user,
                command,
                job,
                pid,
                status,
                duration,
                output_bytes,
                dropped_bytes,
            } => {
                write!(
                    s,
                    "({}) {tag} ({}) job={} pid={pid} status={}",
                    escape_controls(user),
                    command_for_log(command),
                    kv(job),
                    status.text()
                )?;
                if let Status::Signaled(sig) = status {
                    write!(s, " signal={}", signal_name(sig))?;
                }
                write!(
                    s,
                    " duration={}.{:03}s output={output_bytes}B",
                    duration.as_secs(),
                    duration.subsec_millis()
                )?;
                if dropped_bytes > 0 {
                    write!(s, " truncated={dropped_bytes}B")?;
                }
            }
            Event::Out {
                user,
                command,
                pid,
                line,
            } => write!(
                s,
                "({}) {tag} ({}) pid={pid} | {}",
                escape_controls(user),
                command_for_log(command),
                escape_controls(line)
            )?,
            Event::Error { text } | Event::Info { text } => {
                write!(s, "{tag} {}", escape_controls(text))?
            }
            Event::Reload {
                file,
                entries,
                errors,
            } => write!(
                s,
                "{tag} {} entries={entries} errors={errors}",
                escape_controls(file)
            )?,
            Event::Refused { path, reason, fix } => {
                write!(
                    s,
                    "{tag} {}: {}",
                    escape_controls(path),
                    escape_controls(reason)
                )?;
                if let Some(fix) = fix {
                    write!(s, "; fix: {}", escape_controls(fix))?;
                }
            }
            Event::Ignored { path, reason } => write!(
                s,
                "{tag} {}: {}",
                escape_controls(path),
                escape_controls(reason)
            )?,
            Event::MailFailed {
                user,
                command,
                job,
                pid,
                to,
                reason,
            } => write!(
                s,
                "({}) {tag} ({}) job={} pid={pid} to={} | not sent: {}",
                escape_controls(user),
                command_for_log(command),
                kv(job),
                kv(to),
                escape_controls(reason)
            )?,
        }
        Ok(())
    }

    /// One JSON object (no newline): `time` (RFC 3339, UTC, milliseconds), `event` (the tag),
    /// `severity`, then every field of the event. Commands are cut as in [`Event::line`];
    /// other strings are given whole (JSON escapes control characters itself).
    pub fn json(&self) -> String {
        self.json_at(chrono::Utc::now())
    }

    fn json_at(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let mut m = Map::new();
        m.insert(
            "time".into(),
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        m.insert("event".into(), self.kind().into());
        m.insert("severity".into(), self.severity().name().into());
        let fields = match *self {
            Event::Start {
                version,
                pid,
                zone,
                files,
                entries,
                runs_as,
            } => json!({"version": version, "pid": pid, "zone": zone, "files": files,
                        "entries": entries, "runs_as": runs_as}),
            Event::Stop {
                pid,
                reason,
                killed,
            } => json!({"pid": pid, "reason": reason, "killed": killed}),
            Event::Cmd {
                user,
                command,
                job,
                pid,
            } => json!({"user": user, "command": cap_command(command), "job": job, "pid": pid}),
            Event::End {
                user,
                command,
                job,
                pid,
                status,
                duration,
                output_bytes,
                dropped_bytes,
            } => {
                let mut v = json!({"user": user, "command": cap_command(command), "job": job,
                    "pid": pid, "status": status.text(),
                    "duration": duration.as_millis() as f64 / 1000.0,
                    "output_bytes": output_bytes, "dropped_bytes": dropped_bytes});
                if let Value::Object(o) = &mut v {
                    match status {
                        Status::Exited(code) => {
                            o.insert("exit_code".into(), code.into());
                        }
                        Status::Signaled(sig) => {
                            o.insert("signal".into(), sig.into());
                            o.insert("signal_name".into(), signal_name(sig).into());
                        }
                    }
                }
                v
            }
            Event::Out {
                user,
                command,
                pid,
                line,
            } => json!({"user": user, "command": cap_command(command), "pid": pid, "line": line}),
            Event::Error { text } | Event::Info { text } => json!({ "text": text }),
            Event::Reload {
                file,
                entries,
                errors,
            } => json!({"file": file, "entries": entries, "errors": errors}),
            Event::Refused { path, reason, fix } => {
                json!({"path": path, "reason": reason, "fix": fix})
            }
            Event::Ignored { path, reason } => json!({"path": path, "reason": reason}),
            Event::MailFailed {
                user,
                command,
                job,
                pid,
                to,
                reason,
            } => json!({"user": user, "command": cap_command(command), "job": job, "pid": pid,
                        "to": to, "reason": reason}),
        };
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        Value::Object(m).to_string()
    }
}

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
fn cap_command(command: &str) -> Cow<'_, str> {
    match command.char_indices().nth(COMMAND_LOG_CHARS) {
        Some((at, _)) => Cow::Owned(format!("{}…", &command[..at])),
        None => Cow::Borrowed(command),
    }
}

/// A command as log lines show it: cut, then escaped.
pub fn command_for_log(command: &str) -> String {
    escape_controls(&cap_command(command)).into_owned()
}

/// A `key=value` value: escaped, and quoted when a plain split on spaces and `=` would
/// misread it.
fn kv(value: &str) -> Cow<'_, str> {
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

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// RFC 3164 datagrams to the unix datagram socket at this path (normally `/dev/log`).
    Syslog(PathBuf),
    /// Text lines on stderr.
    Stderr,
    /// JSON lines on stdout.
    Json,
}

/// The log sink. Single-threaded; `log` does all its work inline and returns quickly.
pub struct Logger {
    sinks: Vec<Sink>,
    stderr: Stream,
    stdout: Stream,
}

enum Sink {
    Syslog(Syslog),
    Text,
    Json,
}

impl Logger {
    pub fn new(targets: Vec<Target>) -> Logger {
        Logger::with_streams(targets, StreamFd::Stderr, StreamFd::Stdout)
    }

    fn with_streams(targets: Vec<Target>, stderr: StreamFd, stdout: StreamFd) -> Logger {
        let sinks = targets
            .into_iter()
            .map(|t| match t {
                Target::Syslog(path) => Sink::Syslog(Syslog::new(path)),
                Target::Stderr => Sink::Text,
                Target::Json => Sink::Json,
            })
            .collect();
        Logger {
            sinks,
            stderr: Stream::new(stderr),
            stdout: Stream::new(stdout),
        }
    }

    /// Sends one event to every target. Never fails and never panics; it waits at most a
    /// few tens of milliseconds for a slow reader, and drops (and later reports) what a
    /// target cannot take.
    pub fn log(&mut self, event: &Event) {
        let Logger {
            sinks,
            stderr,
            stdout,
        } = self;
        let mut line: Option<String> = None;
        for sink in sinks.iter_mut() {
            match sink {
                Sink::Syslog(s) => {
                    let text = line.get_or_insert_with(|| event.line());
                    s.send(event.severity(), text, stderr);
                }
                Sink::Text => {
                    let text = line.get_or_insert_with(|| event.line());
                    stderr.write_line(text);
                }
                Sink::Json => stdout.write_line(&event.json()),
            }
        }
    }
}

/// One syslog socket path and what we know about it.
struct Syslog {
    path: PathBuf,
    sock: Option<UnixDatagram>,
    /// The last send failed with something other than "full" or "too big"; stderr was told.
    down: bool,
    /// Lines lost while down; told on stderr when the socket is back.
    dropped_down: u64,
    /// Lines lost because the receiver's queue stayed full; reported to syslog when a send
    /// works again.
    dropped_full: u64,
    /// No waiting on a full receiver before this instant.
    hold_until: Option<Instant>,
    /// The largest datagram known to fit after an EMSGSIZE; longer ones are cut up front.
    max_datagram: Option<usize>,
}

enum Outcome {
    Sent,
    Full,
    Down,
}

impl Syslog {
    fn new(path: PathBuf) -> Syslog {
        Syslog {
            path,
            sock: None,
            down: false,
            dropped_down: 0,
            dropped_full: 0,
            hold_until: None,
            max_datagram: None,
        }
    }

    fn send(&mut self, severity: Severity, msg: &str, notices: &mut Stream) {
        if self.dropped_full > 0 {
            let report = format!(
                "INFO syslog socket {} was full; {} log line{} dropped",
                self.path.display(),
                self.dropped_full,
                if self.dropped_full == 1 {
                    " was"
                } else {
                    "s were"
                }
            );
            if let Outcome::Sent = self.try_send(Severity::Warning, &report, notices) {
                self.dropped_full = 0;
            }
        }
        match self.try_send(severity, msg, notices) {
            Outcome::Sent => {}
            Outcome::Full => self.dropped_full += 1,
            Outcome::Down => self.dropped_down += 1,
        }
    }

    fn try_send(&mut self, severity: Severity, msg: &str, notices: &mut Stream) -> Outcome {
        let sock = match self.sock.take() {
            Some(s) => s,
            None => match UnixDatagram::unbound().and_then(|s| s.set_nonblocking(true).map(|()| s))
            {
                Ok(s) => s,
                Err(e) => {
                    self.went_down(&e, notices);
                    return Outcome::Down;
                }
            },
        };
        let outcome = self.send_on(&sock, severity, msg, notices);
        self.sock = Some(sock);
        outcome
    }

    fn send_on(
        &mut self,
        sock: &UnixDatagram,
        severity: Severity,
        msg: &str,
        notices: &mut Stream,
    ) -> Outcome {
        let header = format!(
            "<{}>{} {IDENT}[{}]: ",
            severity.pri(),
            chrono::Local::now().format("%b %e %H:%M:%S"),
            std::process::id()
        );
        let mut data = header.clone() + msg;
        if let Some(max) = self.max_datagram.filter(|&m| data.len() > m) {
            data = truncated(&header, msg, max);
        }
        let holding = self.hold_until.is_some_and(|t| Instant::now() < t);
        let mut waits = if holding { &[][..] } else { &FULL_RETRY_MS[..] }.iter();
        // Bounds the loop even if the kernel kept answering EINTR or EMSGSIZE.
        for _ in 0..64 {
            let err = match sock.send_to(data.as_bytes(), &self.path) {
                Ok(_) => {
                    if self.down {
                        self.came_back(notices);
                    }
                    if data.len() < header.len() + msg.len() {
                        self.max_datagram = Some(data.len());
                    }
                    return Outcome::Sent;
                }
                Err(e) => e,
            };
            match err.raw_os_error().map(Errno::from_raw) {
                Some(Errno::EMSGSIZE) => {
                    let target = data.len() / 2;
                    if target <= header.len() + 64 {
                        return Outcome::Full;
                    }
                    data = truncated(&header, msg, target);
                }
                Some(Errno::EINTR) => {}
                Some(Errno::EAGAIN | Errno::ENOBUFS) => match waits.next() {
                    Some(&ms) => std::thread::sleep(Duration::from_millis(ms)),
                    None => {
                        self.hold_until = Some(Instant::now() + FULL_HOLD);
                        return Outcome::Full;
                    }
                },
                _ => {
                    self.went_down(&err, notices);
                    return Outcome::Down;
                }
            }
        }
        Outcome::Full
    }

    fn came_back(&mut self, notices: &mut Stream) {
        notices.write_line(&format!(
            "{IDENT}: syslog socket {} is back ({} log line{} not sent while it was unavailable)",
            self.path.display(),
            self.dropped_down,
            if self.dropped_down == 1 {
                " was"
            } else {
                "s were"
            }
        ));
        self.down = false;
        self.dropped_down = 0;
    }

    fn went_down(&mut self, err: &std::io::Error, notices: &mut Stream) {
        if self.down {
            return;
        }
        self.down = true;
        let why = match err.raw_os_error() {
            Some(n) => Errno::from_raw(n).desc().to_string(),
            None => err.to_string(),
        };
        notices.write_line(&format!(
            "{IDENT}: syslog socket {} unavailable ({why}); will retry",
            self.path.display()
        ));
    }
}

/// `header + msg` cut to at most `max` bytes (at a character boundary) and marked with `…`.
fn truncated(header: &str, msg: &str, max: usize) -> String {
    let budget = max.saturating_sub(header.len() + '…'.len_utf8());
    let mut end = budget.min(msg.len());
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{header}{}…", &msg[..end])
}

enum StreamFd {
    Stderr,
    Stdout,
    #[cfg_attr(not(test), allow(dead_code))]
    Owned(OwnedFd),
}

impl StreamFd {
    fn write_bounded(&self, data: &[u8], wait: Duration) -> usize {
        match self {
            StreamFd::Stderr => write_bounded(std::io::stderr().as_fd(), data, wait),
            StreamFd::Stdout => write_bounded(std::io::stdout().as_fd(), data, wait),
            StreamFd::Owned(fd) => write_bounded(fd.as_fd(), data, wait),
        }
    }
}

/// stderr or stdout, written with a bounded wait. Rust's `eprintln!` would panic on a
/// closed stream and block forever on a full pipe; neither is acceptable in the loop.
struct Stream {
    fd: StreamFd,
    /// Lines lost because the stream was not writable; reported on it once it is again.
    dropped: u64,
    /// A previous line was cut off part-way; the next write starts with a newline.
    mid_line: bool,
    /// The last write ran out of time or failed: do not wait again until one succeeds.
    stalled: bool,
}

impl Stream {
    fn new(fd: StreamFd) -> Stream {
        Stream {
            fd,
            dropped: 0,
            mid_line: false,
            stalled: false,
        }
    }

    fn write_line(&mut self, line: &str) {
        let mut buf = String::with_capacity(line.len() + 1);
        if self.mid_line {
            buf.push('\n');
        }
        if self.dropped > 0 {
            let _ = writeln!(
                buf,
                "{IDENT}: {} log line{} dropped here because this output was not writable",
                self.dropped,
                if self.dropped == 1 { " was" } else { "s were" }
            );
        }
        let report_end = buf.len();
        buf.push_str(line);
        buf.push('\n');
        let wait = if self.stalled {
            Duration::ZERO
        } else {
            STREAM_WAIT
        };
        let written = self.fd.write_bounded(buf.as_bytes(), wait);
        if written >= report_end {
            self.dropped = 0;
        }
        if written > 0 {
            self.mid_line = buf.as_bytes()[written - 1] != b'\n';
        }
        if written == buf.len() {
            self.stalled = false;
        } else {
            self.dropped += 1;
            self.stalled = true;
        }
    }
}

/// Writes as much of `data` as the fd takes within `wait`, in chunks of at most PIPE_BUF
/// after poll says the fd is writable. Returns how many bytes went out.
fn write_bounded(fd: BorrowedFd<'_>, data: &[u8], wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    let mut off = 0;
    // Bounds the loop even if poll and write kept disagreeing.
    let mut spins = 0;
    while off < data.len() && spins < 10_000 {
        spins += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::ZERO);
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
        match poll(&mut fds, timeout) {
            Ok(0) => break,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
        let end = data.len().min(off + PIPE_BUF);
        match nix::unistd::write(fd, &data[off..end]) {
            Ok(n) => off += n,
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) if !left.is_zero() => {}
            Err(_) => break,
        }
    }
    off
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    const JOB: &str = "/var/spool/cron/crontabs/alice:3";

    fn cmd<'a>(command: &'a str) -> Event<'a> {
        Event::Cmd {
            user: "alice",
            command,
            job: JOB,
            pid: 4242,
        }
    }

    fn end(status: Status, output: u64, dropped: u64) -> Event<'static> {
        Event::End {
            user: "alice",
            command: "backup.sh --all",
            job: JOB,
            pid: 4242,
            status,
            duration: Duration::from_millis(1532),
            output_bytes: output,
            dropped_bytes: dropped,
        }
    }

    #[test]
    fn design_document_line_shapes_are_exact() {
        assert_eq!(
            cmd("backup.sh --all").line(),
            "(alice) CMD (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242"
        );
        assert_eq!(
            end(Status::Exited(0), 312, 0).line(),
            "(alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             status=0 duration=1.532s output=312B"
        );
        let out = Event::Out {
            user: "alice",
            command: "backup.sh --all",
            pid: 4242,
            line: "copied 14 files",
        };
        assert_eq!(
            out.line(),
            "(alice) OUT (backup.sh --all) pid=4242 | copied 14 files"
        );
        let err = Event::Error {
            text: "/etc/cron.d/web:7:12: unknown month name 'jna' (expected 1-12 or jan-dec)",
        };
        assert_eq!(
            err.line(),
            "ERROR /etc/cron.d/web:7:12: unknown month name 'jna' (expected 1-12 or jan-dec)"
        );
        let reload = Event::Reload {
            file: "/etc/cron.d/web",
            entries: 4,
            errors: 1,
        };
        assert_eq!(reload.line(), "RELOAD /etc/cron.d/web entries=4 errors=1");
    }

    #[test]
    fn end_line_names_the_signal_and_the_truncated_output() {
        assert_eq!(
            end(Status::Signaled(9), 0, 0).line(),
            "(alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             status=signal:9 signal=SIGKILL duration=1.532s output=0B"
        );
        assert_eq!(
            end(Status::Exited(2), 1048576, 983040).line(),
            "(alice) END (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             status=2 duration=1.532s output=1048576B truncated=983040B"
        );
        assert_eq!(signal_name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
    }

    #[test]
    fn refused_ignored_mail_start_stop_and_info_lines() {
        let refused = Event::Refused {
            path: "/var/spool/cron/crontabs/bob",
            reason: "owned by uid 1001, not bob (uid 1002)",
            fix: Some("chown bob /var/spool/cron/crontabs/bob"),
        };
        assert_eq!(
            refused.line(),
            "REFUSED /var/spool/cron/crontabs/bob: owned by uid 1001, not bob (uid 1002); \
             fix: chown bob /var/spool/cron/crontabs/bob"
        );
        let no_fix = Event::Refused {
            path: "/etc/crontab",
            reason: "is a symlink",
            fix: None,
        };
        assert_eq!(no_fix.line(), "REFUSED /etc/crontab: is a symlink");
        let ignored = Event::Ignored {
            path: "/etc/cron.d/web.dpkg-old",
            reason: "name has characters other than letters, digits, '_' and '-'",
        };
        assert_eq!(
            ignored.line(),
            "IGNORED /etc/cron.d/web.dpkg-old: name has characters other than letters, \
             digits, '_' and '-'"
        );
        let mail = Event::MailFailed {
            user: "alice",
            command: "backup.sh --all",
            job: JOB,
            pid: 4242,
            to: "alice@example.com, ops@example.com",
            reason: "/usr/sbin/sendmail: No such file or directory",
        };
        assert_eq!(
            mail.line(),
            "(alice) MAIL (backup.sh --all) job=/var/spool/cron/crontabs/alice:3 pid=4242 \
             to=\"alice@example.com, ops@example.com\" | not sent: /usr/sbin/sendmail: No such \
             file or directory"
        );
        let start = Event::Start {
            version: "0.1.0",
            pid: 7,
            zone: "Europe/Berlin",
            files: 3,
            entries: 12,
            runs_as: None,
        };
        assert_eq!(
            start.line(),
            "START version=0.1.0 pid=7 zone=Europe/Berlin files=3 entries=12"
        );
        let start_user = Event::Start {
            version: "0.1.0",
            pid: 7,
            zone: "Europe/Berlin",
            files: 3,
            entries: 12,
            runs_as: Some("alice"),
        };
        assert_eq!(
            start_user.line(),
            "START version=0.1.0 pid=7 zone=Europe/Berlin files=3 entries=12 runs_as=alice \
             | not running as root: every job runs as alice"
        );
        let stop = Event::Stop {
            pid: 7,
            reason: "SIGTERM",
            killed: 1,
        };
        assert_eq!(stop.line(), "STOP pid=7 reason=SIGTERM killed=1");
        assert_eq!(
            Event::Info { text: "hello" }.line(),
            "INFO hello".to_string()
        );
    }

    #[test]
    fn severities_follow_the_documented_table() {
        assert_eq!(cmd("x").severity().pri(), 78);
        assert_eq!(end(Status::Exited(0), 0, 0).severity(), Severity::Info);
        assert_eq!(end(Status::Exited(1), 0, 0).severity().pri(), 76);
        assert_eq!(
            end(Status::Signaled(15), 0, 0).severity(),
            Severity::Warning
        );
        assert_eq!(Event::Error { text: "x" }.severity().pri(), 75);
        let refused = Event::Refused {
            path: "p",
            reason: "r",
            fix: None,
        };
        assert_eq!(refused.severity(), Severity::Err);
        let ignored = Event::Ignored {
            path: "p",
            reason: "r",
        };
        assert_eq!(ignored.severity().pri(), 77);
    }

    #[test]
    fn commands_are_capped_and_control_characters_escaped() {
        let long = "x".repeat(COMMAND_LOG_CHARS + 50);
        let line = cmd(&long).line();
        let shown = format!("({}…)", "x".repeat(COMMAND_LOG_CHARS));
        assert!(line.contains(&shown), "{line}");
        let exactly = "é".repeat(COMMAND_LOG_CHARS);
        assert!(cmd(&exactly).line().contains(&format!("({exactly})")));

        let nasty = "echo a\nb\r\tc\x1b[31m\u{85}d\u{2028} date +\\%Y";
        let line = cmd(nasty).line();
        assert_eq!(
            line,
            "(alice) CMD (echo a\\nb\\r\\tc\\x1b[31m\\u{85}d\\u{2028} date +\\%Y) \
             job=/var/spool/cron/crontabs/alice:3 pid=4242"
        );
        assert!(!line.chars().any(char::is_control));

        let out = Event::Out {
            user: "al\nice",
            command: "c",
            pid: 1,
            line: "a\0b",
        };
        assert_eq!(out.line(), "(al\\nice) OUT (c) pid=1 | a\\x00b");
    }

    #[test]
    fn key_values_with_spaces_or_quotes_are_quoted() {
        let e = Event::Cmd {
            user: "alice",
            command: "c",
            job: "/etc/cron d/x \"y\":3",
            pid: 1,
        };
        assert_eq!(
            e.line(),
            "(alice) CMD (c) job=\"/etc/cron d/x \\\"y\\\":3\" pid=1"
        );
    }

    #[test]
    fn json_lines_parse_and_carry_every_field() {
        let v: Value = serde_json::from_str(&end(Status::Signaled(9), 10, 4).json()).unwrap();
        assert_eq!(v["event"], "END");
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["user"], "alice");
        assert_eq!(v["command"], "backup.sh --all");
        assert_eq!(v["job"], JOB);
        assert_eq!(v["pid"], 4242);
        assert_eq!(v["status"], "signal:9");
        assert_eq!(v["signal"], 9);
        assert_eq!(v["signal_name"], "SIGKILL");
        assert_eq!(v["duration"], 1.532);
        assert_eq!(v["output_bytes"], 10);
        assert_eq!(v["dropped_bytes"], 4);
        let time = v["time"].as_str().unwrap();
        assert!(time.ends_with('Z'), "{time}");
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok());

        let v: Value = serde_json::from_str(&end(Status::Exited(0), 0, 0).json()).unwrap();
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["status"], "0");

        let nasty = "echo \"a\"\nb";
        let v: Value = serde_json::from_str(&cmd(nasty).json()).unwrap();
        assert_eq!(v["command"], nasty);

        let refused = Event::Refused {
            path: "p",
            reason: "r",
            fix: None,
        };
        let v: Value = serde_json::from_str(&refused.json()).unwrap();
        assert_eq!(v["fix"], Value::Null);
        assert_eq!(v["event"], "REFUSED");
        let start = Event::Start {
            version: "0.1.0",
            pid: 7,
            zone: "UTC",
            files: 1,
            entries: 2,
            runs_as: Some("alice"),
        };
        let v: Value = serde_json::from_str(&start.json()).unwrap();
        assert_eq!(v["runs_as"], "alice");
        assert_eq!(v["files"], 1);
    }

    /// A receiving syslog socket in a tempdir, as a test's own syslogd.
    fn receiver(path: &std::path::Path) -> UnixDatagram {
        let r = UnixDatagram::bind(path).unwrap();
        r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        r
    }

    fn recv(r: &UnixDatagram) -> String {
        let mut buf = vec![0u8; 1 << 20];
        let n = r.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn try_recv(r: &UnixDatagram) -> Option<String> {
        r.set_nonblocking(true).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let got = r
            .recv(&mut buf)
            .ok()
            .map(|n| String::from_utf8_lossy(&buf[..n]).into());
        r.set_nonblocking(false).unwrap();
        got
    }

    /// Splits `<PRI>Mmm dd hh:mm:ss ident[pid]: msg`.
    fn parse_datagram(d: &str) -> (u8, String, String) {
        let (pri, rest) = d[1..].split_once('>').unwrap();
        let (stamp, rest) = rest.split_at(15);
        chrono::NaiveTime::parse_from_str(&stamp[7..], "%H:%M:%S").unwrap();
        let (tag, msg) = rest[1..].split_once(": ").unwrap();
        (pri.parse().unwrap(), tag.to_string(), msg.to_string())
    }

    fn logger_with_notices(targets: Vec<Target>, notices: &std::fs::File) -> Logger {
        let fd = OwnedFd::from(notices.try_clone().unwrap());
        Logger::with_streams(targets, StreamFd::Owned(fd), StreamFd::Stdout)
    }

    #[test]
    fn syslog_datagrams_have_glibc_shape_and_cron_priorities() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let r = receiver(&path);
        let notices = tempfile::tempfile().unwrap();
        let mut logger = logger_with_notices(vec![Target::Syslog(path)], &notices);
        logger.log(&cmd("backup.sh --all"));
        logger.log(&Event::Error { text: "f:1:1: bad" });
        let (pri, tag, msg) = parse_datagram(&recv(&r));
        assert_eq!(pri, 78);
        assert_eq!(tag, format!("cronwrightd[{}]", std::process::id()));
        assert_eq!(msg, cmd("backup.sh --all").line());
        let (pri, _, msg) = parse_datagram(&recv(&r));
        assert_eq!(pri, 75);
        assert_eq!(msg, "ERROR f:1:1: bad");
    }

    #[test]
    fn vanished_syslog_socket_is_reported_once_and_resumed_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let notices = tempfile::NamedTempFile::new().unwrap();
        let mut logger = logger_with_notices(vec![Target::Syslog(path.clone())], notices.as_file());

        // Not there yet at start.
        logger.log(&Event::Info { text: "lost 1" });
        let r = receiver(&path);
        logger.log(&Event::Info { text: "one" });
        assert!(recv(&r).ends_with("INFO one"));

        // Goes away: the old receiver is still open but unlinked, as when syslogd restarts.
        std::fs::remove_file(&path).unwrap();
        logger.log(&Event::Info { text: "lost 2" });
        logger.log(&Event::Info { text: "lost 3" });
        assert_eq!(try_recv(&r), None);

        // A new socket at the same path gets every later line.
        let r2 = receiver(&path);
        for i in 0..5 {
            logger.log(&Event::Info {
                text: &format!("back {i}"),
            });
        }
        for i in 0..5 {
            assert!(recv(&r2).ends_with(&format!("INFO back {i}")));
        }
        assert_eq!(try_recv(&r), None);

        let text = std::fs::read_to_string(notices.path()).unwrap();
        let p = path.display();
        assert_eq!(
            text,
            format!(
                "cronwrightd: syslog socket {p} unavailable (No such file or directory); will retry\n\
                 cronwrightd: syslog socket {p} is back (1 log line was not sent while it was unavailable)\n\
                 cronwrightd: syslog socket {p} unavailable (No such file or directory); will retry\n\
                 cronwrightd: syslog socket {p} is back (2 log lines were not sent while it was unavailable)\n"
            )
        );
    }

    #[test]
    fn socket_without_a_reader_counts_as_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        drop(receiver(&path)); // leaves a socket file nobody listens on
        let notices = tempfile::NamedTempFile::new().unwrap();
        let mut logger = logger_with_notices(vec![Target::Syslog(path.clone())], notices.as_file());
        logger.log(&Event::Info { text: "x" });
        let text = std::fs::read_to_string(notices.path()).unwrap();
        assert!(
            text.contains("unavailable (Connection refused); will retry"),
            "{text}"
        );
    }

    #[test]
    fn oversized_message_is_truncated_and_still_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let r = receiver(&path);
        let notices = tempfile::tempfile().unwrap();
        let mut logger = logger_with_notices(vec![Target::Syslog(path)], &notices);
        let big = "é".repeat(400_000);
        let out = Event::Out {
            user: "alice",
            command: "c",
            pid: 1,
            line: &big,
        };
        logger.log(&out);
        let d = recv(&r);
        assert!(d.len() < big.len());
        assert!(d.ends_with('…'));
        let (pri, _, msg) = parse_datagram(&d);
        assert_eq!(pri, 78);
        assert!(msg.starts_with("(alice) OUT (c) pid=1 | éé"));
        // The next big one is cut up front to the size that worked, and a small one is whole.
        logger.log(&out);
        assert_eq!(recv(&r).len(), d.len());
        logger.log(&Event::Info { text: "small" });
        assert!(recv(&r).ends_with("INFO small"));
    }

    #[test]
    fn full_receiver_drops_lines_and_reports_how_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let r = receiver(&path);
        let notices = tempfile::tempfile().unwrap();
        let mut logger = logger_with_notices(vec![Target::Syslog(path)], &notices);
        // The kernel queues a bounded number of datagrams (net.unix.max_dgram_qlen).
        let mut sent = 0;
        while sink_dropped(&logger) == 0 && sent < 100_000 {
            logger.log(&Event::Info { text: "fill" });
            sent += 1;
        }
        let dropped = sink_dropped(&logger);
        assert!(dropped > 0);
        logger.log(&Event::Info { text: "also lost" });
        let dropped = sink_dropped(&logger);
        while try_recv(&r).is_some() {}
        logger.log(&Event::Info { text: "after" });
        let (pri, _, report) = parse_datagram(&recv(&r));
        assert_eq!(pri, 76);
        assert!(
            report.ends_with(&format!("was full; {dropped} log lines were dropped")),
            "{report}"
        );
        assert!(recv(&r).ends_with("INFO after"));
        assert_eq!(sink_dropped(&logger), 0);
    }

    fn sink_dropped(logger: &Logger) -> u64 {
        match &logger.sinks[0] {
            Sink::Syslog(s) => s.dropped_full,
            _ => 0,
        }
    }

    #[test]
    fn text_and_json_targets_write_one_line_per_event() {
        let text = tempfile::NamedTempFile::new().unwrap();
        let json = tempfile::NamedTempFile::new().unwrap();
        let mut logger = Logger::with_streams(
            vec![Target::Stderr, Target::Json],
            StreamFd::Owned(text.as_file().try_clone().unwrap().into()),
            StreamFd::Owned(json.as_file().try_clone().unwrap().into()),
        );
        logger.log(&cmd("a\nb"));
        logger.log(&Event::Info { text: "two" });
        let t = std::fs::read_to_string(text.path()).unwrap();
        assert_eq!(
            t,
            format!("{}\nINFO two\n", cmd("a\nb").line()),
            "text lines"
        );
        let j = std::fs::read_to_string(json.path()).unwrap();
        let lines: Vec<Value> = j
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["command"], "a\nb");
        assert_eq!(lines[1]["text"], "two");
    }

    #[test]
    fn full_stderr_pipe_drops_lines_without_blocking_and_reports_them() {
        let (rd, wr) = nix::unistd::pipe().unwrap();
        // Fill the pipe so nothing more fits.
        nix::fcntl::fcntl(
            &wr,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let chunk = [b'.'; 4096];
        let mut filled = 0;
        while let Ok(n) = nix::unistd::write(&wr, &chunk) {
            filled += n;
        }
        let mut logger =
            Logger::with_streams(vec![Target::Stderr], StreamFd::Owned(wr), StreamFd::Stdout);
        logger.log(&Event::Info { text: "lost a" });
        logger.log(&Event::Info { text: "lost b" });
        assert_eq!(logger.stderr.dropped, 2);

        // Drain, then the next line reports the loss first.
        let mut drained = 0;
        let mut buf = [0u8; 4096];
        while drained < filled {
            drained += nix::unistd::read(&rd, &mut buf).unwrap();
        }
        logger.log(&Event::Info { text: "kept" });
        let n = nix::unistd::read(&rd, &mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "cronwrightd: 2 log lines were dropped here because this output was not writable\n\
             INFO kept\n"
        );
    }

    #[test]
    fn closed_stderr_is_survived() {
        let (rd, wr) = nix::unistd::pipe().unwrap();
        drop(rd);
        let mut logger =
            Logger::with_streams(vec![Target::Stderr], StreamFd::Owned(wr), StreamFd::Stdout);
        logger.log(&Event::Info {
            text: "nobody reads",
        });
        assert_eq!(logger.stderr.dropped, 1);
    }
}
