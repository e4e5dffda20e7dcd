//! The daemon's log sink: one line per event, to syslog, to stderr as text, or to stdout as
//! JSON lines.
//!
//! This module owns the wording of every log line (the shapes in DESIGN.md "Logging"), the
//! RFC 3164 datagrams sent to the syslog socket, and the rule that logging never stops the
//! daemon: a missing, vanished or full syslog socket and a stuck stderr cost at most a few
//! milliseconds and some dropped lines, which are counted and reported once things work again.
//!
//! Here are the targets ([`Target`]) and the fan-out to them ([`Logger`]). What each event
//! says is in `event.rs`, how that becomes a text line and a JSON object in `shape.rs`, the
//! escaping in `escape.rs`, and the writers (syslog socket, stderr, stdout) in `sink.rs`.
//!
//! # Line shapes
//!
//! A line is a tag, with for job events the user in parentheses before it and the command in
//! parentheses after it (as cron writes them); then for some events free text (a path, or
//! the whole message of an INFO or ERROR line), then `key=value` pairs, and for some events
//! ` | ` and free text that runs to the end of the line:
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
//! INFO the clock moved forward by 3600s
//! ERROR /etc/crontab:4: unknown user 'bob' (no such user); line skipped
//! ```
//!
//! - `status=` is the exit code, or `signal:N` for a job killed by signal N, always followed by
//!   `signal=NAME` (`SIGKILL`, `SIGRTMIN+3`, or `SIGn` when the number has no name).
//! - `duration=` has millisecond precision; `output=` counts every byte the job wrote, and
//!   `truncated=` (only present when nonzero) the part beyond the capture cap that was not kept.
//! - Commands are shown as the crontab has them but cut to 200 characters
//!   plus `…`. In every field, control characters are escaped (`\n`, `\r`, `\t`, `\x1b`,
//!   `\u{85}`), so one event is always one line. A `key=value` value that contains spaces,
//!   `"`, `=` or `\` is written in double quotes with `"` and `\` escaped.
//!
//! # JSON lines
//!
//! One object per event: `time` (RFC 3339, UTC, milliseconds), `event` (the tag), `severity`
//! (the name below), then the event's values under their own keys (`user`, `command`, `job`,
//! `pid`, `status`, …). An INFO or ERROR line also carries its message whole as `text`.
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
//! path is picked up on the very next line. This is ~170 lines of our own rather than the
//! `syslog` crate: that crate connects once and has no non-blocking mode, no notion of a
//! socket that comes back, and no truncation on EMSGSIZE, which are exactly the parts needed.

mod escape;
mod event;
mod shape;
mod sink;

use std::path::PathBuf;

pub use escape::escape_controls;
pub use event::Event;
pub(crate) use event::status_text;
use sink::{Stream, StreamFd, Syslog};

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

#[cfg(test)]
mod tests {
    use super::sink::tests::{parse_datagram, receiver, recv};
    use super::*;
    use serde_json::Value;
    use std::os::fd::OwnedFd;

    fn cmd(command: &str) -> Event<'_> {
        Event::Cmd {
            user: "alice",
            command,
            job: "/var/spool/cron/crontabs/alice:3",
            pid: 4242,
        }
    }

    #[test]
    fn syslog_datagrams_have_glibc_shape_and_cron_priorities() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let r = receiver(&path);
        let notices = tempfile::tempfile().unwrap();
        let mut logger = Logger::with_streams(
            vec![Target::Syslog(path)],
            StreamFd::Owned(OwnedFd::from(notices)),
            StreamFd::Stdout,
        );
        logger.log(&cmd("backup.sh --all"));
        logger.log(&Event::CrontabError {
            file: "f",
            line: 1,
            column: 1,
            message: "bad",
        });
        let (pri, tag, msg) = parse_datagram(&recv(&r));
        assert_eq!(pri, 78);
        assert_eq!(tag, format!("cronwrightd[{}]", std::process::id()));
        assert_eq!(msg, cmd("backup.sh --all").line());
        let (pri, _, msg) = parse_datagram(&recv(&r));
        assert_eq!(pri, 75);
        assert_eq!(msg, "ERROR f:1:1: bad");
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
        logger.log(&Event::EntryNote {
            file: "f",
            line: 2,
            note: "two",
        });
        let t = std::fs::read_to_string(text.path()).unwrap();
        assert_eq!(
            t,
            format!("{}\nINFO f:2: two\n", cmd("a\nb").line()),
            "text lines"
        );
        let j = std::fs::read_to_string(json.path()).unwrap();
        let lines: Vec<Value> = j
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["command"], "a\nb");
        assert_eq!(lines[1]["text"], "f:2: two");
    }
}
