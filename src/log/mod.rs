//! The daemon's log sink: one line per event, to syslog, to stderr or stdout as text, or to
//! stdout as JSON lines; and the lines of job output passed through to stdout.
//!
//! This module owns the wording of every log line (the shapes in DESIGN.md "Logging"), the
//! RFC 3164 datagrams sent to the syslog socket, and the rule that logging never stops the
//! daemon: a missing, vanished or full syslog socket costs no wait, only a bounded queue of
//! lines that the loop sends as the socket takes them (and, past the bound, the least useful
//! lines, counted and reported); a stuck stderr costs a few milliseconds a line and the lines
//! it does not take, also counted and reported once things work again.
//!
//! Here are the targets ([`Target`]) and the fan-out to them ([`Logger`]). What each event
//! says is in `event.rs`, how that becomes a text line and a JSON object in `shape.rs`, the
//! escaping in `escape.rs`, the syslog socket's writer in `sink.rs`, and stderr's and
//! stdout's in `stream.rs`.
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
//! `info` (`<78>`) for START, STOP, CMD, OUT, OUTPUT, RELOAD, INFO, REAPED and END with exit
//! status 0; `warning` (`<76>`) for END with a nonzero status or a signal, for MAIL failures
//! and for KEPT;
//! `notice` (`<77>`) for IGNORED; `err` (`<75>`) for ERROR and REFUSED.
//!
//! # Syslog
//!
//! Datagrams have glibc's local shape, `<PRI>Mmm dd hh:mm:ss cronwrightd[PID]: MSG`, with the
//! timestamp in the local zone: the time of the event, also for a line that waited in the
//! queue. They are sent with `send_to(path)` from one non-blocking socket, so a syslog
//! daemon that restarts and binds a new socket at the same path is picked up on the very
//! next try; the socket is `connect`ed to the path only to learn, by `poll(POLLOUT)`, when a
//! full receiver has room again. A line the socket does not take now waits in a queue of at
//! most `[log] syslog_queue` lines, also while the socket is unavailable; past that bound
//! OUT lines go first, then CMD lines, and anything else only when nothing else is queued
//! (see `sink.rs`). This is our own code rather than the `syslog` crate: that crate connects
//! once and has no non-blocking mode, no notion of a socket that comes back, no queue and no
//! truncation on EMSGSIZE, which are exactly the parts needed.

mod escape;
mod event;
mod shape;
mod sink;
mod stream;

use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use escape::escape_controls;
pub use event::Event;
pub(crate) use event::status_text;
pub(crate) use sink::DEFAULT_SYSLOG_QUEUE;
use sink::Syslog;
use stream::{Stream, StreamFd};

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// RFC 3164 datagrams to the unix datagram socket at this path (normally `/dev/log`).
    Syslog(PathBuf),
    /// Text lines on stderr.
    Stderr,
    /// Text lines on stdout (container mode's default).
    Stdout,
    /// JSON lines on stdout.
    Json,
}

/// The log sink. Single-threaded; `log` does all its work inline and returns quickly.
///
/// Syslog lines the socket does not take at once wait in a bounded queue. The event loop
/// drains it: before each poll it calls [`Logger::flush`], adds [`Logger::pending_fd`] (when
/// Some) to the poll set for `POLLOUT`, and lets [`Logger::retry_in`] (when Some) shorten the
/// poll's timeout. On exit it calls [`Logger::finish`].
pub struct Logger {
    sinks: Vec<Sink>,
    stderr: Stream,
    stdout: Stream,
    /// Syslog is the only target: while its socket is unavailable, lines go to stderr too,
    /// so that a daemon started by hand on a machine without syslog is not silent.
    mirror_while_down: bool,
    /// Lines are being mirrored now (stderr was told).
    mirroring: bool,
}

enum Sink {
    /// Boxed: its queue makes it ~300 bytes, where the other targets are none.
    Syslog(Box<Syslog>),
    Text,
    TextOut,
    Json,
}

impl Logger {
    /// A logger whose syslog target queues up to [`DEFAULT_SYSLOG_QUEUE`] lines.
    pub fn new(targets: Vec<Target>) -> Logger {
        Logger::with_streams(targets, StreamFd::stderr(), StreamFd::stdout())
    }

    fn with_streams(targets: Vec<Target>, stderr: StreamFd, stdout: StreamFd) -> Logger {
        let sinks = targets
            .into_iter()
            .map(|t| match t {
                Target::Syslog(path) => {
                    Sink::Syslog(Box::new(Syslog::new(path, DEFAULT_SYSLOG_QUEUE)))
                }
                Target::Stderr => Sink::Text,
                Target::Stdout => Sink::TextOut,
                Target::Json => Sink::Json,
            })
            .collect();
        Logger {
            sinks,
            stderr: Stream::new(stderr),
            stdout: Stream::new(stdout),
            mirror_while_down: false,
            mirroring: false,
        }
    }

    /// The same logger, writing its lines to stderr as well while the syslog socket is
    /// unavailable, for a daemon whose only target is syslog.
    pub fn with_stderr_while_syslog_down(mut self) -> Logger {
        self.mirror_while_down = true;
        self
    }

    /// The same logger with room for `lines` (at least 1) syslog lines the socket has not
    /// taken yet (`[log] syslog_queue`).
    pub fn with_syslog_queue(mut self, lines: usize) -> Logger {
        for s in self.syslogs() {
            s.set_queue(lines);
        }
        self
    }

    /// Becomes `next` (a reload's new targets), keeping the syslog lines still queued: they
    /// go to `next`'s syslog target, within its bound. If `next` has none they are sent if
    /// the socket takes them now, and the rest are counted on stderr.
    pub fn switch_to(&mut self, next: Logger) {
        let old = std::mem::replace(self, next);
        let Logger { sinks, stderr, .. } = self;
        for sink in old.sinks {
            let Sink::Syslog(mut old) = sink else {
                continue;
            };
            let new = sinks.iter_mut().find_map(|s| match s {
                Sink::Syslog(s) => Some(&mut **s),
                _ => None,
            });
            match new {
                Some(new) => new.take_over(*old),
                None => old.finish(Instant::now(), "since syslog is now off", stderr),
            }
        }
    }

    /// Sends one event to every target. Never fails, never panics, and never waits for
    /// syslog: a line its socket does not take now is queued (see [`Logger::flush`]). A slow
    /// stderr or stdout is waited for a few tens of milliseconds at most; what they cannot
    /// take is dropped and later reported.
    pub fn log(&mut self, event: &Event) {
        let Logger {
            sinks,
            stderr,
            stdout,
            mirror_while_down,
            mirroring,
        } = self;
        let mut line: Option<String> = None;
        for sink in sinks.iter_mut() {
            match sink {
                Sink::Syslog(s) => {
                    let text = line.get_or_insert_with(|| event.line());
                    s.send(event.severity(), event.kind(), text, stderr);
                    let down = *mirror_while_down && s.is_down();
                    if down && !*mirroring {
                        stderr.write_line(&format!(
                            "{}: until syslog is back, log lines go to stderr too",
                            sink::IDENT
                        ));
                    }
                    *mirroring = down;
                    if down {
                        stderr.write_line(text);
                    }
                }
                Sink::Text => {
                    let text = line.get_or_insert_with(|| event.line());
                    stderr.write_line(text);
                }
                Sink::TextOut => {
                    let text = line.get_or_insert_with(|| event.line());
                    stdout.write_line(text);
                }
                Sink::Json => stdout.write_line(&event.json()),
            }
        }
    }

    /// One line of a job's output (an [`Event::Output`]) on stdout, written whole: the JSON
    /// object when stdout has JSON lines, else `[label] line`. Never to syslog, whose lines
    /// would drown: passthrough is for a daemon whose stdout is collected (a container, the
    /// journal).
    pub fn pass_through(&mut self, label: &str, event: &Event) {
        let json = self.sinks.iter().any(|s| matches!(s, Sink::Json));
        if json {
            self.stdout.write_queued(&event.json());
        } else if let Event::Output { line, .. } = event {
            self.stdout.write_queued(&format!("[{label}] {line}"));
        }
    }

    /// Bytes of passed-through lines (and the lines after them) that stdout has not taken
    /// yet. While it is large the loop stops reading the jobs whose output passes through,
    /// so that they wait rather than lose lines.
    pub fn stdout_backlog(&self) -> usize {
        self.stdout.backlog()
    }

    /// Some while stdout holds lines back (see [`Logger::stdout_backlog`]): poll it for
    /// `POLLOUT`, then call [`Logger::flush`].
    pub fn stdout_pending_fd(&self) -> Option<BorrowedFd<'_>> {
        self.stdout.pending_fd()
    }

    /// Lines syslog never got, since the start.
    pub fn lines_dropped(&self) -> u64 {
        self.sinks
            .iter()
            .map(|s| match s {
                Sink::Syslog(s) => s.lost_total,
                _ => 0,
            })
            .sum()
    }

    /// Sends the queued syslog lines the socket takes now, in order; never waits. Call it on
    /// every turn of the loop (it costs nothing when nothing is queued), and in particular
    /// when [`Logger::pending_fd`] polled writable or [`Logger::retry_in`] ran out.
    pub fn flush(&mut self) {
        self.stdout.flush();
        let Logger { sinks, stderr, .. } = self;
        for sink in sinks.iter_mut() {
            if let Sink::Syslog(s) = sink {
                s.flush(stderr);
            }
        }
    }

    /// Some only while syslog lines are queued because the receiver is full: poll this fd
    /// for `POLLOUT`, which comes when the receiver has room (or goes away), then call
    /// [`Logger::flush`].
    pub fn pending_fd(&self) -> Option<BorrowedFd<'_>> {
        self.sinks.iter().find_map(|s| match s {
            Sink::Syslog(s) => s.pending_fd(),
            _ => None,
        })
    }

    /// Some only while syslog lines are queued: call [`Logger::flush`] after this long at the
    /// latest, even if [`Logger::pending_fd`] stays quiet. At most 1 s while the receiver is
    /// full, up to 30 s while the socket is unavailable.
    pub fn retry_in(&self) -> Option<Duration> {
        self.sinks
            .iter()
            .filter_map(|s| match s {
                Sink::Syslog(s) => s.retry_in(),
                _ => None,
            })
            .min()
    }

    /// Before the daemon exits (after its STOP line): waits at most `limit` for syslog to
    /// take the lines still queued, then says on stderr how many it did not.
    pub fn finish(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        self.stdout.finish(deadline);
        let Logger { sinks, stderr, .. } = self;
        for sink in sinks.iter_mut() {
            if let Sink::Syslog(s) = sink {
                s.finish(deadline, "before exit", stderr);
            }
        }
    }

    fn syslogs(&mut self) -> impl Iterator<Item = &mut Syslog> {
        self.sinks.iter_mut().filter_map(|s| match s {
            Sink::Syslog(s) => Some(&mut **s),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::sink::tests::{StalledReader, fill, parse_datagram, receiver, recv};
    use super::*;
    use crate::runner::ExitStatus;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use serde_json::Value;
    use std::os::fd::OwnedFd;

    fn cmd(command: &str) -> Event<'_> {
        Event::Cmd {
            user: "alice",
            command,
            job: "/var/spool/cron/crontabs/alice:3",
            pid: 4242,
            late: None,
            manual: false,
        }
    }

    fn out(pid: u32) -> Event<'static> {
        Event::Out {
            user: "alice",
            command: "job",
            pid,
            line: "some output",
        }
    }

    fn end(pid: u32) -> Event<'static> {
        Event::End {
            user: "alice",
            command: "job",
            job: "/var/spool/cron/crontabs/alice:3",
            pid,
            status: ExitStatus::Exited(0),
            duration: Duration::from_millis(5),
            output_bytes: 12,
            dropped_bytes: 0,
            timed_out: false,
            hint: None,
        }
    }

    /// `jobs` jobs starting in the same second: each one's CMD, OUT and END, interleaved.
    fn burst(jobs: u32) -> Vec<Event<'static>> {
        (0..jobs)
            .flat_map(|pid| {
                let cmd = Event::Cmd {
                    user: "alice",
                    command: "job",
                    job: "/var/spool/cron/crontabs/alice:3",
                    pid,
                    late: None,
                    manual: false,
                };
                [cmd, out(pid), end(pid)]
            })
            .collect()
    }

    /// A logger to the syslog socket at `path` with room for `queue` lines, its notices to
    /// `notices`.
    fn syslog_logger(path: &std::path::Path, queue: usize, notices: &std::fs::File) -> Logger {
        Logger::with_streams(
            vec![Target::Syslog(path.to_path_buf())],
            StreamFd::Owned(OwnedFd::from(notices.try_clone().unwrap())),
            StreamFd::stdout(),
        )
        .with_syslog_queue(queue)
    }

    /// Lines queued in the logger's syslog target.
    fn queued(logger: &Logger) -> usize {
        logger
            .sinks
            .iter()
            .map(|s| match s {
                Sink::Syslog(s) => s.queued(),
                _ => 0,
            })
            .sum()
    }

    /// Drains the syslog queue as the daemon's loop does: flush, then poll the pending fd for
    /// POLLOUT (or just wait) at most `retry_in`, until nothing is left to retry.
    fn drain(logger: &mut Logger) {
        for _ in 0..100_000 {
            logger.flush();
            let Some(retry) = logger.retry_in() else {
                return;
            };
            let timeout = PollTimeout::try_from(retry).unwrap_or(PollTimeout::MAX);
            match logger.pending_fd() {
                Some(fd) => {
                    poll(&mut [PollFd::new(fd, PollFlags::POLLOUT)], timeout).unwrap();
                }
                None => std::thread::sleep(retry),
            }
        }
        panic!("the syslog queue never drained");
    }

    /// 100 jobs starting in one second against a syslogd that read slowly used to deliver 12
    /// of their 300 lines: each line the receiver had no room for was retried for 15 ms and
    /// dropped, END lines too. Here the reader reads nothing until the burst is over, then
    /// slowly; the lines wait and all arrive, in order. (End to end this needs the daemon's
    /// loop to call `flush` when `pending_fd` polls writable, so it is driven here as the
    /// loop does, on a real socket.)
    #[test]
    fn end_lines_survive_a_syslog_burst() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let events = burst(100);
        let reader = StalledReader::bind(&path, events.len());
        let notices = tempfile::NamedTempFile::new().unwrap();
        let mut logger = syslog_logger(&path, 1000, notices.as_file());
        for e in &events {
            logger.log(e);
        }
        assert!(
            logger.pending_fd().is_some(),
            "the receiver took everything"
        );
        reader.release();
        drain(&mut logger);
        let got: Vec<String> = reader.join().iter().map(|d| parse_datagram(d).2).collect();
        let want: Vec<String> = events.iter().map(Event::line).collect();
        assert_eq!(got, want);
        assert_eq!(std::fs::read_to_string(notices.path()).unwrap(), "");
    }

    #[test]
    fn logging_to_a_full_syslog_queues_lines_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let events = burst(100);
        let reader = StalledReader::bind(&path, events.len());
        fill(&path);
        let notices = tempfile::NamedTempFile::new().unwrap();
        let mut logger = syslog_logger(&path, 1000, notices.as_file());
        // The reader takes nothing until after this: had `log` waited for it, it would still
        // be waiting; instead every line is queued, none sent and none dropped.
        for e in &events {
            logger.log(e);
        }
        assert_eq!(queued(&logger), 300);
        assert!(logger.pending_fd().is_some());
        assert!(logger.retry_in().is_some());
        logger.flush();
        assert_eq!(queued(&logger), 300, "flush does not wait either");
        reader.release();
        drain(&mut logger);
        assert_eq!(queued(&logger), 0);
        assert!(logger.pending_fd().is_none());
        assert_eq!(reader.join().len(), 300);
    }

    #[test]
    fn overflowing_syslog_queue_drops_out_lines_first_and_reports_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let events = burst(40);
        // 120 lines for 50 places: the 40 OUT go, then the 30 oldest CMD.
        let reader = StalledReader::bind(&path, 1 + 50);
        fill(&path);
        let notices = tempfile::NamedTempFile::new().unwrap();
        let mut logger = syslog_logger(&path, 50, notices.as_file());
        for e in &events {
            logger.log(e);
        }
        reader.release();
        drain(&mut logger);
        let got = reader.join();
        let (pri, _, report) = parse_datagram(&got[0]);
        assert_eq!(pri, 76);
        assert_eq!(
            report,
            format!(
                "INFO syslog socket {} was full; 70 log lines were dropped (40 OUT, 30 CMD)",
                path.display()
            )
        );
        let got: Vec<String> = got[1..].iter().map(|d| parse_datagram(d).2).collect();
        let kept: Vec<String> = events
            .iter()
            .filter(|e| match e {
                Event::End { .. } => true,
                Event::Cmd { pid, .. } => *pid >= 30,
                _ => false,
            })
            .map(Event::line)
            .collect();
        assert_eq!(got, kept, "every END, in order");
    }

    #[test]
    fn reload_keeps_the_queued_syslog_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let events = burst(2);
        let reader = StalledReader::bind(&path, events.len());
        fill(&path);
        let notices = tempfile::NamedTempFile::new().unwrap();
        let mut logger = syslog_logger(&path, 1000, notices.as_file());
        for e in &events[..3] {
            logger.log(e);
        }
        logger.switch_to(syslog_logger(&path, 1000, notices.as_file()));
        assert_eq!(queued(&logger), 3);
        for e in &events[3..] {
            logger.log(e);
        }
        // As at exit, after the STOP line: the loop is over, the logger waits for the reader.
        reader.release();
        logger.finish(Duration::from_secs(20));
        assert_eq!(queued(&logger), 0);
        let got: Vec<String> = reader.join().iter().map(|d| parse_datagram(d).2).collect();
        assert_eq!(got, events.iter().map(Event::line).collect::<Vec<_>>());

        // A reload that turns syslog off says on stderr what it could not send.
        let other = dir.path().join("log2");
        let _stuck = receiver(&other);
        fill(&other);
        let mut logger = syslog_logger(&other, 1000, notices.as_file());
        logger.log(&events[0]);
        logger.switch_to(Logger::with_streams(
            vec![],
            StreamFd::Owned(OwnedFd::from(notices.as_file().try_clone().unwrap())),
            StreamFd::stdout(),
        ));
        assert!(logger.pending_fd().is_none());
        assert_eq!(
            std::fs::read_to_string(notices.path()).unwrap(),
            format!(
                "cronwrightd: 1 log line was not sent to syslog socket {} since syslog is now off\n",
                other.display()
            )
        );
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
            StreamFd::stdout(),
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
