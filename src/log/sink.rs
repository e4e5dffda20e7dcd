//! The writer behind the log's syslog target: RFC 3164 datagrams to a syslog socket
//! ([`Syslog`]), with the severities they carry ([`Level`]); lines to stderr and stdout are
//! `stream.rs`'s. It takes finished lines and knows nothing of events but their tag; what it
//! owns is the rule that logging never stops the daemon. A syslog socket that is full,
//! missing or vanished never makes the loop wait: its lines wait in a bounded queue, in
//! order, until it takes them; when the queue overflows the least useful lines go first (job
//! output, then CMD), counted and reported once things work again.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::stream::Stream;

/// Syslog facility `cron` (9), already shifted: PRI = `FACILITY_CRON + severity`.
const FACILITY_CRON: u8 = 9 << 3;

/// The syslog severity of a line, as RFC 5424 numbers it. (Not to be confused with
/// `cron::Severity`, which says whether a crontab diagnostic is a warning or an error.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

impl Level {
    /// The syslog PRI with facility cron: `78` for info, `75` for err.
    pub(crate) fn pri(self) -> u8 {
        FACILITY_CRON + self as u8
    }

    /// The name JSON lines give it, as syslog calls it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Level::Err => "err",
            Level::Warning => "warning",
            Level::Notice => "notice",
            Level::Info => "info",
        }
    }
}

/// The syslog identity.
pub(super) const IDENT: &str = "cronwrightd";

/// Lines a syslog socket may have waiting when the configuration says nothing (`[log]
/// syslog_queue`). A CMD, OUT or END line is 100 to 300 bytes, so ~3 MB at most in practice,
/// and room for a burst of 3,000 jobs starting in the same second.
pub(crate) const DEFAULT_SYSLOG_QUEUE: usize = 10_000;

/// While waiting for room on a full receiver, try again after this long anyway: the path may
/// now name another socket (a syslogd that rebound it while its old socket stays open and
/// stalled), which polling the old one would never show.
const FULL_RECHECK: Duration = Duration::from_secs(1);

/// While the socket is unavailable, the next try comes after as long as it has been down so
/// far, within these bounds: a syslogd restarting is found again within about as long as it
/// took, and one that is gone for good costs one try every 30 s. Every new line tries too.
const DOWN_RETRY_MIN: Duration = Duration::from_millis(250);
const DOWN_RETRY_MAX: Duration = Duration::from_secs(30);

/// Which lines go first when the syslog queue overflows: the lowest rank, oldest first. Job
/// output (OUT) is the bulk of a burst and is also kept in the job's mail; a CMD line says
/// nothing its END does not (user, command, job, pid; the start is the END's time minus its
/// duration), except for jobs still running. Every other line (END, ERROR, REFUSED, START,
/// STOP, MAIL, ...) is dropped only when the queue holds nothing else, and the report names
/// each tag dropped, so that loss is never silent.
fn drop_rank(tag: &str) -> usize {
    match tag {
        "OUT" => 0,
        "CMD" => 1,
        _ => 2,
    }
}

/// How many drop ranks there are (see [`drop_rank`]).
const RANKS: usize = 3;

/// One datagram waiting to be sent, formatted when it was logged so that its timestamp is
/// the event's, not the delivery's.
struct Queued {
    /// Logging order, to merge the ranks back into it.
    seq: u64,
    tag: &'static str,
    /// `<PRI>Mmm dd hh:mm:ss cronwrightd[PID]: `, the part truncation keeps whole.
    header_len: usize,
    data: String,
}

/// The lines a syslog socket has not taken yet, at most `cap`, in logging order. Kept as one
/// deque per drop rank, so that both the oldest line (to send) and the oldest line of the
/// lowest rank (to drop) are at a front: an overflowing 10,000-line queue never scans.
struct Queue {
    ranks: [VecDeque<Queued>; RANKS],
    next_seq: u64,
    cap: usize,
}

impl Queue {
    fn new(cap: usize) -> Queue {
        Queue {
            ranks: Default::default(),
            next_seq: 0,
            cap: cap.max(1),
        }
    }

    fn len(&self) -> usize {
        self.ranks.iter().map(VecDeque::len).sum()
    }

    fn is_empty(&self) -> bool {
        self.ranks.iter().all(VecDeque::is_empty)
    }

    /// The rank whose front is the oldest line.
    fn oldest_rank(&self) -> Option<usize> {
        (0..RANKS)
            .filter_map(|r| self.ranks[r].front().map(|q| (q.seq, r)))
            .min()
            .map(|(_, r)| r)
    }

    fn pop_front(&mut self) -> Option<Queued> {
        self.oldest_rank().and_then(|r| self.ranks[r].pop_front())
    }

    /// Puts back a line taken with `pop_front` that the socket did not take.
    fn push_front(&mut self, q: Queued) {
        self.ranks[drop_rank(q.tag)].push_front(q);
    }

    /// Appends a line behind every queued one; returns the tags of the lines dropped to stay
    /// within `cap` (the new line itself, if it is the least useful).
    fn push(&mut self, tag: &'static str, header_len: usize, data: String) -> Vec<&'static str> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.ranks[drop_rank(tag)].push_back(Queued {
            seq,
            tag,
            header_len,
            data,
        });
        self.shrink_to(self.cap)
    }

    /// Drops lines, lowest rank and oldest first, until at most `cap` are left.
    fn shrink_to(&mut self, cap: usize) -> Vec<&'static str> {
        let mut dropped = Vec::new();
        while self.len() > cap {
            let Some(q) = self.ranks.iter_mut().find_map(VecDeque::pop_front) else {
                break;
            };
            dropped.push(q.tag);
        }
        dropped
    }
}

/// Lines dropped from the queue and not yet reported, by tag in the order first dropped.
#[derive(Default)]
struct Tally {
    total: u64,
    by_tag: Vec<(&'static str, u64)>,
}

impl Tally {
    fn add(&mut self, tag: &'static str) {
        self.total += 1;
        match self.by_tag.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, n)) => *n += 1,
            None => self.by_tag.push((tag, 1)),
        }
    }

    fn merge(&mut self, other: Tally) {
        self.total += other.total;
        for (tag, n) in other.by_tag {
            match self.by_tag.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, m)) => *m += n,
                None => self.by_tag.push((tag, n)),
            }
        }
    }

    /// `42 log lines were dropped (40 OUT, 2 CMD)`.
    fn dropped(&self) -> String {
        let tags: Vec<String> = self
            .by_tag
            .iter()
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        format!("{} dropped ({})", lines_were(self.total), tags.join(", "))
    }
}

/// What one send did.
enum Outcome {
    Sent,
    /// The receiver's queue or our socket's send buffer has no room now, which
    /// `poll(POLLOUT)` on a connected socket tells the end of; `pollable` is false for
    /// ENOBUFS (the kernel short of memory), which it does not.
    Full {
        pollable: bool,
    },
    /// No receiver: the path is missing, nobody reads it, or the socket cannot be made.
    Down,
    /// Too large even cut to its header and 64 bytes; given up.
    TooBig,
}

/// One syslog socket path, the lines it has not taken yet, and what we know about it.
///
/// Every datagram is sent with `send_to(path)`, so a syslog daemon that restarts and binds a
/// new socket at the path is picked up at the next try. When the receiver is full the socket
/// is also `connect`ed to the path, only so that `poll(POLLOUT)` on it tells when that
/// receiver has room (Linux's unix_dgram_poll checks the peer's queue for a connected socket
/// and not otherwise; `connected_datagram_socket_polls_writable_only_while_the_receiver_has_room`
/// pins it). Sending by path keeps working whatever that connection's peer becomes.
pub(super) struct Syslog {
    path: PathBuf,
    sock: Option<UnixDatagram>,
    queue: Queue,
    /// The last try found the receiver full and `sock` is connected to it: poll for POLLOUT.
    awaiting_room: bool,
    /// While something is queued: when to try again if nothing else wakes the loop first.
    retry_at: Option<Instant>,
    /// Since when the socket is unavailable (a send failed with something other than "full"
    /// or "too big"); stderr was told.
    down_since: Option<Instant>,
    /// Lines dropped from the queue while the receiver was there but full.
    dropped_full: Tally,
    /// Lines dropped from the queue while the socket was unavailable; told on stderr when it
    /// is back, and to syslog.
    dropped_down: Tally,
    /// The largest datagram known to fit after an EMSGSIZE; longer ones are cut up front.
    max_datagram: Option<usize>,
    /// Every line lost since the daemon started (the tallies are emptied once reported):
    /// the metrics' `cronwright_log_lines_dropped_total`.
    pub(super) lost_total: u64,
}

impl Syslog {
    pub(super) fn new(path: PathBuf, queue: usize) -> Syslog {
        Syslog {
            path,
            sock: None,
            queue: Queue::new(queue),
            awaiting_room: false,
            retry_at: None,
            down_since: None,
            dropped_full: Tally::default(),
            dropped_down: Tally::default(),
            max_datagram: None,
            lost_total: 0,
        }
    }

    /// Queues one line behind those waiting and sends what the socket takes now. Never waits.
    ///
    /// While the socket is unavailable its lines are queued too, up to the same bound, rather
    /// than counted as lost at once: for an administrator, a syslogd that restarts (or at boot
    /// starts after us) then costs no line, END and ERROR included, and the lines arrive late
    /// but stamped with their own time; one gone for good costs at most the queue's worth of
    /// memory and a try every 30 s. What the bound forces out is counted, and said on stderr
    /// when the socket is back as well as in syslog.
    pub(super) fn send(
        &mut self,
        level: Level,
        tag: &'static str,
        msg: &str,
        notices: &mut Stream,
    ) {
        let mut data = header(level);
        let header_len = data.len();
        data.push_str(msg);
        for dropped in self.queue.push(tag, header_len, data) {
            self.lost_total += 1;
            self.tally().add(dropped);
        }
        self.flush(notices);
    }

    /// The tally the queue's current losses go into.
    fn tally(&mut self) -> &mut Tally {
        if self.down_since.is_some() {
            &mut self.dropped_down
        } else {
            &mut self.dropped_full
        }
    }

    /// Sends the drop reports, then queued lines in order, until the socket takes no more or
    /// nothing is left. Never waits.
    pub(super) fn flush(&mut self, notices: &mut Stream) {
        self.awaiting_room = false;
        loop {
            let outcome = if let Some((down, report)) = self.next_report() {
                let mut data = header(Level::Warning);
                let header_len = data.len();
                data.push_str(&report);
                let outcome = self.send_now(&data, header_len, notices);
                if let Outcome::Sent | Outcome::TooBig = outcome {
                    let tally = match down {
                        true => &mut self.dropped_down,
                        false => &mut self.dropped_full,
                    };
                    *tally = Tally::default();
                }
                outcome
            } else if let Some(q) = self.queue.pop_front() {
                let outcome = self.send_now(&q.data, q.header_len, notices);
                match outcome {
                    Outcome::Sent => {}
                    Outcome::TooBig => {
                        self.lost_total += 1;
                        self.dropped_full.add(q.tag);
                    }
                    Outcome::Full { .. } | Outcome::Down => self.queue.push_front(q),
                }
                outcome
            } else {
                self.retry_at = None;
                return;
            };
            let now = Instant::now();
            match outcome {
                Outcome::Sent | Outcome::TooBig => {}
                Outcome::Full { pollable } => {
                    // Connected anew each time, so that the poll is on the socket that is full
                    // now, not one the path named before.
                    self.awaiting_room = pollable
                        && self
                            .sock
                            .as_ref()
                            .is_some_and(|s| s.connect(&self.path).is_ok());
                    self.retry_at = Some(now + FULL_RECHECK);
                    return;
                }
                Outcome::Down => {
                    let down_for = self
                        .down_since
                        .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                    self.retry_at = Some(now + down_for.clamp(DOWN_RETRY_MIN, DOWN_RETRY_MAX));
                    return;
                }
            }
        }
    }

    /// The next drop report owed to syslog (`true` for the one about an outage), worded as
    /// an INFO line at warning severity.
    fn next_report(&self) -> Option<(bool, String)> {
        let p = self.path.display();
        if self.dropped_down.total > 0 {
            let d = self.dropped_down.dropped();
            return Some((true, format!("INFO syslog socket {p} was unavailable; {d}")));
        }
        if self.dropped_full.total > 0 {
            let d = self.dropped_full.dropped();
            return Some((false, format!("INFO syslog socket {p} was full; {d}")));
        }
        None
    }

    /// Lines queued and not yet sent.
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Some while lines are queued and the receiver is full: poll it for POLLOUT, then
    /// [`Syslog::flush`].
    /// Whether the last try found the socket unavailable (not merely full).
    pub(super) fn is_down(&self) -> bool {
        self.down_since.is_some()
    }

    pub(super) fn pending_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.sock {
            Some(s) if self.awaiting_room && !self.queue.is_empty() => Some(s.as_fd()),
            _ => None,
        }
    }

    /// Some while lines are queued: how long until [`Syslog::flush`] should try again if
    /// nothing else (the pending fd, another line) comes first.
    pub(super) fn retry_in(&self) -> Option<Duration> {
        self.retry_at
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// Sets the queue's bound, dropping (and counting) what no longer fits.
    pub(super) fn set_queue(&mut self, cap: usize) {
        self.queue.cap = cap.max(1);
        for dropped in self.queue.shrink_to(self.queue.cap) {
            self.lost_total += 1;
            self.tally().add(dropped);
        }
    }

    /// A reload made a new syslog target: it takes over the lines and counts of the old one,
    /// and everything else too when the path is the same (the outage it is in, the size that
    /// fits). Lines queued for another path go to the new one, which is where syslog is now.
    pub(super) fn take_over(&mut self, old: Syslog) {
        let cap = self.queue.cap;
        if old.path == self.path {
            *self = old;
        } else {
            let mut old = old;
            self.queue = std::mem::replace(&mut old.queue, Queue::new(1));
            self.dropped_full.merge(old.dropped_full);
            self.dropped_down.merge(old.dropped_down);
            self.lost_total += old.lost_total;
        }
        self.set_queue(cap);
        if !self.queue.is_empty() || self.next_report().is_some() {
            self.retry_at = Some(Instant::now());
        }
    }

    /// The daemon is exiting, or a reload turned syslog off: waits until `deadline` at most
    /// for the socket to take what is queued (not at all if it is unavailable), then says on
    /// stderr how many lines it did not get, counting those dropped and not yet reported.
    pub(super) fn finish(&mut self, deadline: Instant, why: &str, notices: &mut Stream) {
        // Bounds the loop even if poll kept returning at once without room.
        for _ in 0..100_000 {
            self.flush(notices);
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(retry) = self.retry_in() else {
                break;
            };
            if left.is_zero() {
                break;
            }
            let wait = PollTimeout::try_from(left.min(retry)).unwrap_or(PollTimeout::ZERO);
            match self.pending_fd() {
                Some(fd) => {
                    let _ = poll(&mut [PollFd::new(fd, PollFlags::POLLOUT)], wait);
                }
                // Unavailable now, it is unlikely to be back within the moments an exit can
                // spare (at shutdown it is more likely stopped for good).
                None if self.down_since.is_some() => break,
                None => std::thread::sleep(left.min(retry)),
            }
        }
        let lost = self.queue.len() as u64 + self.dropped_full.total + self.dropped_down.total;
        if lost > 0 {
            notices.write_line(&format!(
                "{IDENT}: {} not sent to syslog socket {} {why}",
                lines_were(lost),
                self.path.display()
            ));
        }
    }

    /// Sends one datagram now, never waiting. Cuts it to the size known to fit, and on
    /// EMSGSIZE halves it until it fits.
    fn send_now(&mut self, data: &str, header_len: usize, notices: &mut Stream) -> Outcome {
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
        let outcome = self.send_on(&sock, data, header_len, notices);
        self.sock = Some(sock);
        outcome
    }

    fn send_on(
        &mut self,
        sock: &UnixDatagram,
        whole: &str,
        header_len: usize,
        notices: &mut Stream,
    ) -> Outcome {
        let (header, msg) = whole.split_at(header_len);
        let mut cut = None;
        if let Some(max) = self.max_datagram.filter(|&m| whole.len() > m) {
            cut = Some(truncated(header, msg, max));
        }
        // Bounds the loop even if the kernel kept answering EINTR or EMSGSIZE.
        for _ in 0..64 {
            let data = cut.as_deref().unwrap_or(whole);
            let err = match sock.send_to(data.as_bytes(), &self.path) {
                Ok(_) => {
                    if self.down_since.is_some() {
                        self.came_back(notices);
                    }
                    if data.len() < whole.len() {
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
                        return Outcome::TooBig;
                    }
                    cut = Some(truncated(header, msg, target));
                }
                Some(Errno::EINTR) => {}
                Some(Errno::EAGAIN) => return Outcome::Full { pollable: true },
                Some(Errno::ENOBUFS) => return Outcome::Full { pollable: false },
                _ => {
                    self.went_down(&err, notices);
                    return Outcome::Down;
                }
            }
        }
        Outcome::Full { pollable: false }
    }

    fn came_back(&mut self, notices: &mut Stream) {
        let lost = match self.dropped_down.total {
            0 => "no log line was lost".to_string(),
            n => format!("{} not sent", lines_were(n)),
        };
        notices.write_line(&format!(
            "{IDENT}: syslog socket {} is back ({lost} while it was unavailable)",
            self.path.display(),
        ));
        self.down_since = None;
    }

    fn went_down(&mut self, err: &std::io::Error, notices: &mut Stream) {
        if self.down_since.is_some() {
            return;
        }
        self.down_since = Some(Instant::now());
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

/// `<PRI>Mmm dd hh:mm:ss cronwrightd[PID]: `, glibc's local shape, stamped now.
fn header(level: Level) -> String {
    format!(
        "<{}>{} {IDENT}[{}]: ",
        level.pri(),
        chrono::Local::now().format("%b %e %H:%M:%S"),
        std::process::id()
    )
}

/// `1 log line was` or `2 log lines were`: how the writers' reports count lost lines.
pub(super) fn lines_were(n: u64) -> String {
    if n == 1 {
        "1 log line was".to_string()
    } else {
        format!("{n} log lines were")
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::log::stream::StreamFd;
    use std::os::fd::OwnedFd;

    /// A receiving syslog socket in a tempdir, as a test's own syslogd.
    pub(in crate::log) fn receiver(path: &std::path::Path) -> UnixDatagram {
        let r = UnixDatagram::bind(path).unwrap();
        r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        r
    }

    pub(in crate::log) fn recv(r: &UnixDatagram) -> String {
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
    pub(in crate::log) fn parse_datagram(d: &str) -> (u8, String, String) {
        let (pri, rest) = d[1..].split_once('>').unwrap();
        let (stamp, rest) = rest.split_at(15);
        chrono::NaiveTime::parse_from_str(&stamp[7..], "%H:%M:%S").unwrap();
        let (tag, msg) = rest[1..].split_once(": ").unwrap();
        (pri.parse().unwrap(), tag.to_string(), msg.to_string())
    }

    /// A stream writing to `file`, where a syslog writer's notices go in these tests.
    fn stream_to(file: &std::fs::File) -> Stream {
        Stream::new(StreamFd::Owned(OwnedFd::from(file.try_clone().unwrap())))
    }

    /// Sends an info line, as the logger does for an INFO event.
    fn info(syslog: &mut Syslog, line: &str, notices: &mut Stream) {
        syslog.send(Level::Info, "INFO", line, notices);
    }

    /// Fills the receiver at `path` from a socket of its own until it takes no more, as a
    /// busy syslogd's backlog; returns how many `filler` datagrams that took.
    pub(in crate::log) fn fill(path: &std::path::Path) -> usize {
        let s = UnixDatagram::unbound().unwrap();
        s.set_nonblocking(true).unwrap();
        let mut n = 0;
        while s.send_to(b"filler", path).is_ok() {
            n += 1;
        }
        n
    }

    /// A syslogd that reads nothing until [`StalledReader::release`], then reads everything
    /// with a pause now and then, on a thread of its own; it keeps all but [`fill`]'s filler.
    pub(in crate::log) struct StalledReader {
        go: std::sync::mpsc::Sender<()>,
        thread: std::thread::JoinHandle<Vec<String>>,
    }

    impl StalledReader {
        /// Binds `path`; once released, reads until `want` datagrams besides the filler came
        /// or none came for 5 s (which only a failing test waits for).
        pub(in crate::log) fn bind(path: &std::path::Path, want: usize) -> StalledReader {
            let r = receiver(path);
            let (go, wait) = std::sync::mpsc::channel();
            let thread = std::thread::spawn(move || {
                let _ = wait.recv();
                let mut got = Vec::new();
                let mut buf = vec![0u8; 1 << 20];
                while got.len() < want {
                    let Ok(n) = r.recv(&mut buf) else { break };
                    if &buf[..n] != b"filler" {
                        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    }
                    if got.len() % 16 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                got
            });
            StalledReader { go, thread }
        }

        pub(in crate::log) fn release(&self) {
            self.go.send(()).unwrap();
        }

        /// Every datagram read but the filler.
        pub(in crate::log) fn join(self) -> Vec<String> {
            let _ = self.go.send(());
            self.thread.join().unwrap()
        }
    }

    /// Whether `poll(POLLOUT)` on a datagram socket says "the receiver has room". The queue's
    /// wait rests on this: on a socket `connect`ed to the path it does (the kernel checks the
    /// peer's queue, unix_dgram_poll), on an unconnected one it does not.
    #[test]
    fn connected_datagram_socket_polls_writable_only_while_the_receiver_has_room() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let r = receiver(&path);
        let writable = |s: &UnixDatagram| {
            let mut fds = [PollFd::new(s.as_fd(), PollFlags::POLLOUT)];
            poll(&mut fds, PollTimeout::ZERO).unwrap();
            fds[0].revents().unwrap().contains(PollFlags::POLLOUT)
        };
        let connected = UnixDatagram::unbound().unwrap();
        connected.set_nonblocking(true).unwrap();
        connected.connect(&path).unwrap();
        let unconnected = UnixDatagram::unbound().unwrap();
        unconnected.set_nonblocking(true).unwrap();
        assert!(writable(&connected));
        let mut queued = 0;
        while connected.send_to(b"x", &path).is_ok() {
            queued += 1;
        }
        assert!(queued > 0);
        assert!(!writable(&connected), "full receiver, connected socket");
        assert!(writable(&unconnected), "full receiver, unconnected socket");
        recv(&r);
        assert!(writable(&connected), "room again");
        assert!(connected.send_to(b"x", &path).is_ok());
        assert!(!writable(&connected), "full again");
        // The receiver closes (a syslogd restarting): writable, and the send says why.
        drop(r);
        assert!(writable(&connected));
        let err = connected.send_to(b"x", &path).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED), "{err}");
    }

    #[test]
    fn vanished_syslog_socket_is_reported_once_and_resumed_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let file = tempfile::NamedTempFile::new().unwrap();
        let notices = &mut stream_to(file.as_file());
        let mut syslog = Syslog::new(path.clone(), DEFAULT_SYSLOG_QUEUE);

        // Not there yet at start: the line waits, and goes first once the socket is there.
        info(&mut syslog, "INFO early", notices);
        assert!(syslog.retry_in().is_some());
        assert!(syslog.pending_fd().is_none(), "nothing to poll while down");
        let r = receiver(&path);
        info(&mut syslog, "INFO one", notices);
        assert!(recv(&r).ends_with("INFO early"));
        assert!(recv(&r).ends_with("INFO one"));
        assert_eq!(syslog.retry_in(), None);

        // Goes away: the old receiver is still open but unlinked, as when syslogd restarts.
        std::fs::remove_file(&path).unwrap();
        info(&mut syslog, "INFO while away 1", notices);
        info(&mut syslog, "INFO while away 2", notices);
        assert_eq!(try_recv(&r), None);
        assert_eq!(syslog.queued(), 2);

        // A new socket at the same path gets the queued lines, then every later one.
        let r2 = receiver(&path);
        syslog.flush(notices);
        for i in 0..5 {
            info(&mut syslog, &format!("INFO back {i}"), notices);
        }
        assert!(recv(&r2).ends_with("INFO while away 1"));
        assert!(recv(&r2).ends_with("INFO while away 2"));
        for i in 0..5 {
            assert!(recv(&r2).ends_with(&format!("INFO back {i}")));
        }
        assert_eq!(try_recv(&r), None);
        assert_eq!(syslog.queued(), 0);

        let text = std::fs::read_to_string(file.path()).unwrap();
        let p = path.display();
        assert_eq!(
            text,
            format!(
                "cronwrightd: syslog socket {p} unavailable (No such file or directory); will retry\n\
                 cronwrightd: syslog socket {p} is back (no log line was lost while it was unavailable)\n\
                 cronwrightd: syslog socket {p} unavailable (No such file or directory); will retry\n\
                 cronwrightd: syslog socket {p} is back (no log line was lost while it was unavailable)\n"
            )
        );
    }

    #[test]
    fn socket_without_a_reader_counts_as_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        drop(receiver(&path)); // leaves a socket file nobody listens on
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut syslog = Syslog::new(path, DEFAULT_SYSLOG_QUEUE);
        info(&mut syslog, "INFO x", &mut stream_to(file.as_file()));
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(
            text.contains("unavailable (Connection refused); will retry"),
            "{text}"
        );
    }

    /// Lines beyond the queue's bound while syslog is away are the only ones lost, the least
    /// useful first; stderr says how many when it is back, and syslog gets the breakdown.
    #[test]
    fn lines_beyond_the_queue_while_unavailable_are_counted_on_stderr_and_in_syslog() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let file = tempfile::NamedTempFile::new().unwrap();
        let notices = &mut stream_to(file.as_file());
        let mut syslog = Syslog::new(path.clone(), 3);
        for (tag, line) in [("CMD", "a"), ("OUT", "b"), ("END", "c"), ("OUT", "d")] {
            syslog.send(Level::Info, tag, &format!("{tag} {line}"), notices);
        }
        let r = receiver(&path);
        syslog.send(Level::Info, "END", "END e", notices);
        let (pri, _, report) = parse_datagram(&recv(&r));
        assert_eq!(pri, 76);
        assert_eq!(
            report,
            format!(
                "INFO syslog socket {} was unavailable; 2 log lines were dropped (2 OUT)",
                path.display()
            )
        );
        for kept in ["CMD a", "END c", "END e"] {
            assert_eq!(parse_datagram(&recv(&r)).2, kept);
        }
        assert_eq!(try_recv(&r), None);
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(
            text.ends_with(&format!(
                "syslog socket {} is back (2 log lines were not sent while it was unavailable)\n",
                path.display()
            )),
            "{text}"
        );
    }

    #[test]
    fn oversized_message_is_truncated_and_still_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let r = receiver(&path);
        let notices = &mut stream_to(&tempfile::tempfile().unwrap());
        let mut syslog = Syslog::new(path, DEFAULT_SYSLOG_QUEUE);
        let big = "é".repeat(400_000);
        let out = format!("(alice) OUT (c) pid=1 | {big}");
        syslog.send(Level::Info, "OUT", &out, notices);
        let d = recv(&r);
        assert!(d.len() < big.len());
        assert!(d.ends_with('…'));
        let (pri, _, msg) = parse_datagram(&d);
        assert_eq!(pri, 78);
        assert!(msg.starts_with("(alice) OUT (c) pid=1 | éé"));
        // The next big one is cut up front to the size that worked, and a small one is whole.
        syslog.send(Level::Info, "OUT", &out, notices);
        assert_eq!(recv(&r).len(), d.len());
        info(&mut syslog, "INFO small", notices);
        assert!(recv(&r).ends_with("INFO small"));
        assert_eq!(syslog.queued(), 0);
    }

    /// The tags of what a queue of `cap` keeps after `pushed`, and of what it dropped.
    fn overflow(cap: usize, pushed: &[&'static str]) -> (Vec<String>, Vec<&'static str>) {
        let mut q = Queue::new(cap);
        let mut dropped = Vec::new();
        for (i, tag) in pushed.iter().enumerate() {
            dropped.extend(q.push(tag, 0, format!("{tag}{i}")));
        }
        let kept = std::iter::from_fn(|| q.pop_front().map(|l| l.data)).collect();
        (kept, dropped)
    }

    #[test]
    fn overflowing_queue_drops_out_then_cmd_then_only_the_oldest_of_the_rest() {
        // OUT goes first, oldest first, whatever came after it.
        let (kept, dropped) = overflow(3, &["END", "OUT", "CMD", "OUT", "ERROR"]);
        assert_eq!(kept, ["END0", "CMD2", "ERROR4"]);
        assert_eq!(dropped, ["OUT", "OUT"]);
        // Then CMD, oldest first; a new OUT line is dropped at once.
        let (kept, dropped) = overflow(2, &["CMD", "END", "CMD", "START", "OUT"]);
        assert_eq!(kept, ["END1", "START3"]);
        assert_eq!(dropped, ["CMD", "CMD", "OUT"]);
        // Only when nothing else is left, the oldest END or ERROR.
        let (kept, dropped) = overflow(2, &["END", "ERROR", "END"]);
        assert_eq!(kept, ["ERROR1", "END2"]);
        assert_eq!(dropped, ["END"]);
        // And the report names every tag it dropped.
        let mut t = Tally::default();
        for tag in ["OUT", "CMD", "OUT", "END"] {
            t.add(tag);
        }
        assert_eq!(
            t.dropped(),
            "4 log lines were dropped (2 OUT, 1 CMD, 1 END)"
        );
    }

    #[test]
    fn finish_waits_for_the_reader_then_counts_what_it_did_not_take() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let file = tempfile::NamedTempFile::new().unwrap();
        let notices = &mut stream_to(file.as_file());

        // A reader that reads: everything gets there before `finish` returns.
        let reader = StalledReader::bind(&path, 3);
        fill(&path);
        let mut syslog = Syslog::new(path.clone(), DEFAULT_SYSLOG_QUEUE);
        for i in 0..3 {
            info(&mut syslog, &format!("INFO {i}"), notices);
        }
        assert_eq!(syslog.queued(), 3);
        reader.release();
        syslog.finish(
            Instant::now() + Duration::from_secs(20),
            "before exit",
            notices,
        );
        assert_eq!(syslog.queued(), 0);
        let got = reader.join();
        assert_eq!(got.len(), 3);
        assert!(got[2].ends_with("INFO 2"));
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "");

        // One that does not: no wait at all here, and stderr says what was not sent.
        std::fs::remove_file(&path).unwrap();
        let _stuck = receiver(&path);
        fill(&path);
        for i in 0..3 {
            info(&mut syslog, &format!("INFO {i}"), notices);
        }
        syslog.finish(Instant::now(), "before exit", notices);
        assert_eq!(
            std::fs::read_to_string(file.path()).unwrap(),
            format!(
                "cronwrightd: 3 log lines were not sent to syslog socket {} before exit\n",
                path.display()
            )
        );
    }
}
