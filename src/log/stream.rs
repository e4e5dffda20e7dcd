//! Lines to stderr or stdout ([`Stream`]), for the log's text and JSON targets and the
//! output of jobs passed through. Logging never stops the daemon: a stuck stream costs at
//! most a few milliseconds a line, and the lines it does not take, counted and reported once
//! it takes lines again. Passed-through output is the exception that is never dropped: it
//! waits in a queue the loop drains as the stream takes it (the loop stops reading the
//! jobs whose lines wait, so the queue stays small).

use std::fmt::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::sink::{IDENT, lines_were};

/// How long one write to stderr/stdout may wait for a slow reader. After a write that ran
/// out of time, later writes do not wait at all until one goes through again.
const STREAM_WAIT: Duration = Duration::from_millis(50);

/// Writes to pipes of at most this size are atomic and do not block once poll says POLLOUT.
const PIPE_BUF: usize = 4096;

pub(super) enum StreamFd {
    Stderr(std::io::Stderr),
    Stdout(std::io::Stdout),
    #[cfg_attr(not(test), allow(dead_code))]
    Owned(OwnedFd),
}

impl StreamFd {
    pub(super) fn stderr() -> StreamFd {
        StreamFd::Stderr(std::io::stderr())
    }

    pub(super) fn stdout() -> StreamFd {
        StreamFd::Stdout(std::io::stdout())
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            StreamFd::Stderr(s) => s.as_fd(),
            StreamFd::Stdout(s) => s.as_fd(),
            StreamFd::Owned(fd) => fd.as_fd(),
        }
    }

    fn write_bounded(&self, data: &[u8], wait: Duration) -> usize {
        write_bounded(self.fd(), data, wait)
    }
}

/// The most a stream holds for lines that wait ([`Stream::write_queued`], and the lines
/// that must follow them): past it, lines are dropped and counted, as from a stalled stream.
pub(super) const STREAM_QUEUE: usize = 1 << 20;

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
    /// Bytes of whole lines that wait for the stream to take them, in order: lines written
    /// with [`Stream::write_queued`] (a job's output, which must not be lost) and any line
    /// after them. While it holds anything, every line goes behind it.
    queue: Vec<u8>,
    /// A write failed for good (the reader is gone): nothing is queued any more.
    broken: bool,
}

impl Stream {
    pub(super) fn new(fd: StreamFd) -> Stream {
        Stream {
            fd,
            dropped: 0,
            mid_line: false,
            stalled: false,
            queue: Vec::new(),
            broken: false,
        }
    }

    /// Writes `line` whole, after what waits, or queues what the stream does not take now;
    /// never waits. The caller holds back more such lines while [`Stream::backlog`] is
    /// large (a job's output stays in its pipe, and the job waits), so nothing is dropped
    /// unless the queue passes [`STREAM_QUEUE`] or the reader is gone.
    pub(super) fn write_queued(&mut self, line: &str) {
        self.flush();
        if self.broken || self.queue.len() + line.len() >= STREAM_QUEUE {
            self.dropped += 1;
            return;
        }
        self.queue.reserve(line.len() + 1);
        self.queue.extend_from_slice(line.as_bytes());
        self.queue.push(b'\n');
        self.flush();
    }

    /// Sends what the queue holds and the stream takes now; never waits.
    pub(super) fn flush(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        match write_now(self.fd.fd(), &self.queue) {
            Ok(n) => {
                self.queue.drain(..n);
            }
            Err(_) => {
                self.dropped += self.queue.iter().filter(|&&b| b == b'\n').count() as u64;
                self.queue = Vec::new();
                self.broken = true;
            }
        }
    }

    /// Bytes waiting in the queue.
    pub(super) fn backlog(&self) -> usize {
        self.queue.len()
    }

    /// The descriptor to poll for `POLLOUT` while the queue holds anything.
    pub(super) fn pending_fd(&self) -> Option<BorrowedFd<'_>> {
        (!self.queue.is_empty()).then(|| self.fd.fd())
    }

    /// At exit: waits at most until `deadline` for the queue to go out.
    pub(super) fn finish(&mut self, deadline: Instant) {
        while !self.queue.is_empty() && !self.broken {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = self.fd.write_bounded(&self.queue, left);
            self.queue.drain(..n);
            if n == 0 {
                break;
            }
        }
    }

    pub(super) fn write_line(&mut self, line: &str) {
        if !self.queue.is_empty() {
            // Behind the lines that wait, so that none is cut by this one.
            self.flush();
            if !self.queue.is_empty() {
                if self.queue.len() + line.len() < STREAM_QUEUE {
                    self.queue.extend_from_slice(line.as_bytes());
                    self.queue.push(b'\n');
                } else {
                    self.dropped += 1;
                }
                return;
            }
        }
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

/// Writes as much of `data` as the fd takes now, without waiting: `Err` when the fd is of
/// no more use (its reader closed it, or it is invalid).
fn write_now(fd: BorrowedFd<'_>, data: &[u8]) -> Result<usize, Errno> {
    let mut off = 0;
    while off < data.len() {
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => break,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
        let revents = fds[0].revents().unwrap_or(PollFlags::empty());
        if revents.intersects(PollFlags::POLLERR | PollFlags::POLLNVAL) {
            return Err(Errno::EPIPE);
        }
        let end = data.len().min(off + PIPE_BUF);
        match nix::unistd::write(fd, &data[off..end]) {
            Ok(n) => off += n,
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(off)
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

    /// A pipe whose non-blocking write end is full, and how many bytes fill it.
    fn full_pipe() -> (OwnedFd, OwnedFd, usize) {
        let (rd, wr) = nix::unistd::pipe().unwrap();
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
        (rd, wr, filled)
    }

    /// Reads `bytes` from `rd`.
    fn drain(rd: &OwnedFd, bytes: usize) {
        let mut buf = [0u8; 4096];
        let mut drained = 0;
        while drained < bytes {
            drained += nix::unistd::read(rd, &mut buf[..(bytes - drained).min(4096)]).unwrap();
        }
    }

    #[test]
    fn full_stderr_pipe_drops_lines_without_blocking_and_reports_them() {
        let (rd, wr, filled) = full_pipe();
        let mut stderr = Stream::new(StreamFd::Owned(wr));
        stderr.write_line("INFO lost a");
        stderr.write_line("INFO lost b");
        assert_eq!(stderr.dropped, 2);

        // Drain, then the next line reports the loss first.
        drain(&rd, filled);
        let mut buf = [0u8; 4096];
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

    #[test]
    fn queued_lines_wait_whole_for_a_full_pipe_and_follow_in_order() {
        let (rd, wr, filled) = full_pipe();
        let mut out = Stream::new(StreamFd::Owned(wr));
        out.write_queued("[job] one");
        out.write_line("END after one");
        out.write_queued("[job] two");
        assert_eq!(out.backlog(), "[job] one\nEND after one\n[job] two\n".len());
        assert!(out.pending_fd().is_some());
        drain(&rd, filled);
        out.flush();
        let mut buf = [0u8; 4096];
        assert_eq!(out.backlog(), 0);
        let n = nix::unistd::read(&rd, &mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "[job] one\nEND after one\n[job] two\n"
        );
        assert_eq!(out.dropped, 0);
    }
}
