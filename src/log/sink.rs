//! The writers behind the log's targets: RFC 3164 datagrams to a syslog socket ([`Syslog`])
//! and lines to stderr or stdout ([`Stream`]). They take finished lines and know nothing of
//! events; what they own is the rule that logging never stops the daemon. A missing,
//! vanished or full syslog socket and a stuck stream cost at most a few milliseconds and
//! some dropped lines, which are counted and reported once things work again.

use std::fmt::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::event::Level;

/// The syslog identity.
const IDENT: &str = "cronwrightd";

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

/// One syslog socket path and what we know about it.
pub(super) struct Syslog {
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
    pub(super) fn new(path: PathBuf) -> Syslog {
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

    pub(super) fn send(&mut self, level: Level, msg: &str, notices: &mut Stream) {
        if self.dropped_full > 0 {
            let report = format!(
                "INFO syslog socket {} was full; {} dropped",
                self.path.display(),
                lines_were(self.dropped_full)
            );
            if let Outcome::Sent = self.try_send(Level::Warning, &report, notices) {
                self.dropped_full = 0;
            }
        }
        match self.try_send(level, msg, notices) {
            Outcome::Sent => {}
            Outcome::Full => self.dropped_full += 1,
            Outcome::Down => self.dropped_down += 1,
        }
    }

    fn try_send(&mut self, level: Level, msg: &str, notices: &mut Stream) -> Outcome {
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
        let outcome = self.send_on(&sock, level, msg, notices);
        self.sock = Some(sock);
        outcome
    }

    fn send_on(
        &mut self,
        sock: &UnixDatagram,
        level: Level,
        msg: &str,
        notices: &mut Stream,
    ) -> Outcome {
        let header = format!(
            "<{}>{} {IDENT}[{}]: ",
            level.pri(),
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
            "{IDENT}: syslog socket {} is back ({} not sent while it was unavailable)",
            self.path.display(),
            lines_were(self.dropped_down)
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

/// `1 log line was` or `2 log lines were`: how the writers' reports count lost lines.
fn lines_were(n: u64) -> String {
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

pub(super) enum StreamFd {
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
pub(super) struct Stream {
    fd: StreamFd,
    /// Lines lost because the stream was not writable; reported on it once it is again.
    dropped: u64,
    /// A previous line was cut off part-way; the next write starts with a newline.
    mid_line: bool,
    /// The last write ran out of time or failed: do not wait again until one succeeds.
    stalled: bool,
}

impl Stream {
    pub(super) fn new(fd: StreamFd) -> Stream {
        Stream {
            fd,
            dropped: 0,
            mid_line: false,
            stalled: false,
        }
    }

    pub(super) fn write_line(&mut self, line: &str) {
        let mut buf = String::with_capacity(line.len() + 1);
        if self.mid_line {
            buf.push('\n');
        }
        if self.dropped > 0 {
            let _ = writeln!(
                buf,
                "{IDENT}: {} dropped here because this output was not writable",
                lines_were(self.dropped)
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
pub(super) mod tests {
    use super::*;

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
        syslog.send(Level::Info, line, notices);
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
        let mut syslog = Syslog::new(path.clone());

        // Not there yet at start.
        info(&mut syslog, "INFO lost 1", notices);
        let r = receiver(&path);
        info(&mut syslog, "INFO one", notices);
        assert!(recv(&r).ends_with("INFO one"));

        // Goes away: the old receiver is still open but unlinked, as when syslogd restarts.
        std::fs::remove_file(&path).unwrap();
        info(&mut syslog, "INFO lost 2", notices);
        info(&mut syslog, "INFO lost 3", notices);
        assert_eq!(try_recv(&r), None);

        // A new socket at the same path gets every later line.
        let r2 = receiver(&path);
        for i in 0..5 {
            info(&mut syslog, &format!("INFO back {i}"), notices);
        }
        for i in 0..5 {
            assert!(recv(&r2).ends_with(&format!("INFO back {i}")));
        }
        assert_eq!(try_recv(&r), None);

        let text = std::fs::read_to_string(file.path()).unwrap();
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
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut syslog = Syslog::new(path);
        info(&mut syslog, "INFO x", &mut stream_to(file.as_file()));
        let text = std::fs::read_to_string(file.path()).unwrap();
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
        let notices = &mut stream_to(&tempfile::tempfile().unwrap());
        let mut syslog = Syslog::new(path);
        let big = "é".repeat(400_000);
        let out = format!("(alice) OUT (c) pid=1 | {big}");
        info(&mut syslog, &out, notices);
        let d = recv(&r);
        assert!(d.len() < big.len());
        assert!(d.ends_with('…'));
        let (pri, _, msg) = parse_datagram(&d);
        assert_eq!(pri, 78);
        assert!(msg.starts_with("(alice) OUT (c) pid=1 | éé"));
        // The next big one is cut up front to the size that worked, and a small one is whole.
        info(&mut syslog, &out, notices);
        assert_eq!(recv(&r).len(), d.len());
        info(&mut syslog, "INFO small", notices);
        assert!(recv(&r).ends_with("INFO small"));
    }

    #[test]
    fn full_receiver_drops_lines_and_reports_how_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let r = receiver(&path);
        let notices = &mut stream_to(&tempfile::tempfile().unwrap());
        let mut syslog = Syslog::new(path);
        // The kernel queues a bounded number of datagrams (net.unix.max_dgram_qlen).
        let mut sent = 0;
        while syslog.dropped_full == 0 && sent < 100_000 {
            info(&mut syslog, "INFO fill", notices);
            sent += 1;
        }
        let dropped = syslog.dropped_full;
        assert!(dropped > 0);
        info(&mut syslog, "INFO also lost", notices);
        let dropped = syslog.dropped_full;
        while try_recv(&r).is_some() {}
        info(&mut syslog, "INFO after", notices);
        let (pri, _, report) = parse_datagram(&recv(&r));
        assert_eq!(pri, 76);
        assert!(
            report.ends_with(&format!("was full; {dropped} log lines were dropped")),
            "{report}"
        );
        assert!(recv(&r).ends_with("INFO after"));
        assert_eq!(syslog.dropped_full, 0);
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
        let mut stderr = Stream::new(StreamFd::Owned(wr));
        stderr.write_line("INFO lost a");
        stderr.write_line("INFO lost b");
        assert_eq!(stderr.dropped, 2);

        // Drain, then the next line reports the loss first.
        let mut drained = 0;
        let mut buf = [0u8; 4096];
        while drained < filled {
            drained += nix::unistd::read(&rd, &mut buf).unwrap();
        }
        stderr.write_line("INFO kept");
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
        let mut stderr = Stream::new(StreamFd::Owned(wr));
        stderr.write_line("INFO nobody reads");
        assert_eq!(stderr.dropped, 1);
    }
}
