//! What reaches the daemon from outside its crontabs: signals, through a self-pipe that the
//! loop polls, and the supervisor (systemd's `Type=notify`), told of readiness and state.
//!
//! signal-hook's handlers only set a flag and write a byte to the pipe; all the work happens
//! in the loop, which swaps each flag back when the pipe wakes it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;

use crate::sd_notify;

/// The signals the loop acts on, each a flag set by its handler.
pub(crate) struct Signals {
    /// SIGHUP: reload the configuration and every crontab.
    hup: Arc<AtomicBool>,
    /// SIGTERM: stop.
    term: Arc<AtomicBool>,
    /// SIGINT: stop (Ctrl-C in the foreground).
    int: Arc<AtomicBool>,
    /// SIGCHLD: a job (or a process it left behind) exited.
    chld: Arc<AtomicBool>,
    /// The read end of the pipe the handlers write to; readable while a signal is unseen.
    pipe: OwnedFd,
}

/// A stop request, and which signal made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopSignal {
    Term,
    Int,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Term => "SIGTERM",
            StopSignal::Int => "SIGINT",
        }
    }

    /// The signal itself, which the jobs get when the grace period runs out: Ctrl-C on a
    /// daemon in a terminal interrupts its jobs, `docker stop` terminates them.
    pub fn signal(self) -> nix::sys::signal::Signal {
        match self {
            StopSignal::Term => nix::sys::signal::Signal::SIGTERM,
            StopSignal::Int => nix::sys::signal::Signal::SIGINT,
        }
    }
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> anyhow::Result<Signals> {
        let (read, write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .context("cannot create the signal pipe")?;
        let s = Signals {
            hup: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
            int: Arc::new(AtomicBool::new(false)),
            chld: Arc::new(AtomicBool::new(false)),
            pipe: read,
        };
        for (sig, flag) in [
            (libc::SIGHUP, &s.hup),
            (libc::SIGTERM, &s.term),
            (libc::SIGINT, &s.int),
            (libc::SIGCHLD, &s.chld),
        ] {
            signal_hook::flag::register(sig, Arc::clone(flag))
                .context("cannot install a signal handler")?;
            let w = write
                .try_clone()
                .context("cannot duplicate the signal pipe")?;
            signal_hook::low_level::pipe::register(sig, w)
                .context("cannot install a signal handler")?;
        }
        Ok(s)
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.pipe.as_fd()
    }

    /// Empties the pipe; the flags say which signals came.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while matches!(nix::unistd::read(&self.pipe, &mut buf), Ok(n) if n > 0) {}
    }

    /// A stop request since the last call (SIGTERM wins when both came).
    pub fn take_stop(&self) -> Option<StopSignal> {
        let term = self.term.swap(false, Ordering::Relaxed);
        let int = self.int.swap(false, Ordering::Relaxed);
        match (term, int) {
            (true, _) => Some(StopSignal::Term),
            (false, true) => Some(StopSignal::Int),
            _ => None,
        }
    }

    /// Whether SIGHUP came since the last call.
    pub fn take_hup(&self) -> bool {
        self.hup.swap(false, Ordering::Relaxed)
    }

    /// Whether SIGCHLD came since the last call.
    pub fn take_chld(&self) -> bool {
        self.chld.swap(false, Ordering::Relaxed)
    }
}

/// The supervisor, told through `NOTIFY_SOCKET` (nothing without it). A failure to tell it
/// changes nothing else and is reported once, not at every state change.
#[derive(Default)]
pub(crate) struct Supervisor {
    /// A failure was reported already.
    failed: bool,
}

impl Supervisor {
    /// `STOPPING=1`: waiting for the running jobs before exiting.
    pub fn stopping(&mut self) -> Option<std::io::Error> {
        self.first_failure(sd_notify::stopping())
    }

    /// `RELOADING=1` with the monotonic time systemd wants with it.
    pub fn reloading(&mut self) -> Option<std::io::Error> {
        self.first_failure(sd_notify::reloading())
    }

    /// READY with a status line naming what is loaded.
    /// Each call returns the error only the first time one happens.
    pub fn ready(&mut self, files: usize, jobs: usize) -> Option<std::io::Error> {
        self.first_failure(sd_notify::ready(&format!(
            "loaded {files} crontabs, {jobs} jobs"
        )))
    }

    fn first_failure(&mut self, sent: std::io::Result<bool>) -> Option<std::io::Error> {
        match sent {
            Err(e) if !self.failed => {
                self.failed = true;
                Some(e)
            }
            _ => None,
        }
    }
}
