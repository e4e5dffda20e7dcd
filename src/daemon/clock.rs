//! The daemon's clocks: a timerfd that wakes the loop at the earliest deadline, and the wall
//! clock measured against the monotonic one, so that a step of the system clock is told apart
//! from time passing.
//!
//! The timer is on `CLOCK_REALTIME`, armed with an absolute time and
//! `TFD_TIMER_CANCEL_ON_SET`, so a clock step or a resume from suspend wakes the loop at once
//! instead of leaving it asleep until a deadline computed for the old time.
//!
//! The loop reads the wall clock through a [`WallSource`]: the system's, or in debug builds
//! the system's plus an offset a file holds, so that tests step the clock the real loop sees
//! without stepping the machine's (`CLOCK_REALTIME` has no namespace, and setting it would
//! move every process's clock). Such a step wakes the loop at its next deadline rather than
//! at once; the tests keep a job due every second.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use crate::scheduler::ClockStep;

/// Unix seconds now, by the system's clock.
pub(crate) fn wall_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Where the loop's wall clock comes from.
#[derive(Debug, Clone, Default)]
pub(crate) struct WallSource {
    /// Debug builds: a file holding seconds added to the system's clock.
    offset_file: Option<PathBuf>,
}

impl WallSource {
    /// The system's clock, shifted by the seconds in `offset_file` when there is one.
    pub fn new(offset_file: Option<PathBuf>) -> WallSource {
        WallSource { offset_file }
    }

    /// Seconds this clock is ahead of the system's (read afresh: a test changes it at will).
    fn offset(&self) -> i64 {
        self.offset_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// The deadline timer.
pub(crate) struct Timer {
    fd: TimerFd,
}

impl Timer {
    pub fn new() -> anyhow::Result<Timer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_REALTIME,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .context("cannot create the timer")?;
        Ok(Timer { fd })
    }

    /// The descriptor to poll; readable once the deadline passed or the clock was set.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Wakes the loop at `deadline` (Unix seconds by `clock`), or never for `None`.
    pub fn arm(&self, deadline: Option<i64>, clock: &WallClock) -> nix::Result<()> {
        match deadline.map(|d| d - clock.source.offset()) {
            Some(deadline) => {
                let flags = TimerSetTimeFlags::TFD_TIMER_ABSTIME
                    | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET;
                self.fd
                    .set(Expiration::OneShot(TimeSpec::new(deadline, 0)), flags)
            }
            None => self.fd.unset(),
        }
    }

    /// Takes the expiry so the descriptor is quiet until the next one.
    pub fn clear(&self) {
        // A read fails with ECANCELED when the clock was set: either way, the loop looks again.
        let mut buf = [0u8; 8];
        let _ = nix::unistd::read(&self.fd, &mut buf);
    }
}

/// The wall clock at the last look, and the monotonic instant of that look.
pub(crate) struct WallClock {
    source: WallSource,
    last_wall: i64,
    last_mono: Instant,
}

impl WallClock {
    pub fn new(source: WallSource) -> WallClock {
        WallClock {
            last_wall: wall_now() + source.offset(),
            last_mono: Instant::now(),
            source,
        }
    }

    /// Unix seconds now by this clock.
    pub fn now(&self) -> i64 {
        wall_now() + self.source.offset()
    }

    /// The wall clock now, and how it moved beyond the real time that passed since the last
    /// call.
    pub fn advance(&mut self) -> (i64, ClockStep) {
        let now = self.now();
        let mono = self.last_mono.elapsed().as_secs() as i64;
        let step = ClockStep::classify(now - self.last_wall, mono);
        // Keep sub-second progress in the monotonic base so steps are measured fairly.
        self.last_wall = now;
        self.last_mono = Instant::now();
        (now, step)
    }
}
