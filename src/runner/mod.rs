//! The job runner: starts `$SHELL -c command` as a crontab's owner and hands the daemon's
//! single poll(2) loop what it needs to follow the job without ever blocking on it. It owns
//! user and group lookup, clone/exec, the job's standard streams, output capture with a cap,
//! process groups, signals to a job and reaping. Everything between clone and exec is in
//! `child.rs`; it says why a job is not started with `std::process::Command` or `fork`, and
//! what the child may and may not do. A job with a PAM session ([`Spec::pam`]) is started
//! through a session helper (`session.rs`), which talks to libpam through `pam.rs`. Those
//! two files, `child.rs` and `pam.rs`, are the only ones of cronwright with code the
//! compiler cannot check for memory safety.
//!
//! # What a job gets
//!
//! - `argv` = `[shell, "-c", command]` (cronie passes the shell's full path as `argv[0]`).
//! - Exactly the environment in [`Spec::env`], nothing inherited from the daemon. The caller
//!   builds it as cronie does: `HOME`, `LOGNAME`, `USER`, `SHELL`, `PATH`, then the crontab's
//!   own variables. When a name repeats, the last value wins (a crontab line overrides a
//!   default) and the variable keeps the position of its first appearance.
//! - A new session and process group of its own (`setsid`), so [`Job::signal_group`] reaches
//!   everything it started except what left the group itself.
//! - With [`Spec::credentials`]: the supplementary groups, gid and uid of that user, set in
//!   that order, each failure fatal for the job (it never runs with the daemon's privileges).
//!   When the daemon is not root it can only run jobs as itself: credentials naming the
//!   daemon's own uid are accepted and change nothing, any other uid is
//!   [`RunnerError::NotRoot`].
//! - cwd = [`Spec::cwd`], entered after the switch to the user, so the user's own rights
//!   decide. If that fails, the job runs in `/` and its output starts with the line
//!   `cronwrightd: cannot change directory to DIR: REASON; running in /`. cronie refuses the
//!   job in that case and Debian's cron runs it silently wherever the daemon is; running it
//!   and saying so keeps Debian crontabs working (`nobody` has `HOME=/nonexistent`) while the
//!   reason reaches the log and the mail.
//! - stdin = [`Spec::stdin`] through a sealed memfd (never a pipe: the daemon never writes to a
//!   job, so it can never block on one, whatever the size), or `/dev/null` when `None`.
//! - stdout and stderr = the write end of one pipe, so their lines interleave as written.
//! - Descriptors 0, 1 and 2 only: every other descriptor is closed in the child, whether or
//!   not it was close-on-exec.
//! - An empty signal mask and every signal at its default action (Rust ignores `SIGPIPE`, and
//!   an ignored signal survives `execve`).
//!
//! If anything between clone and exec fails, the child writes one line starting with
//! `cronwrightd: ` to the output pipe and exits with [`SETUP_FAILED_EXIT`] (127, the shell's
//! "command not found"); a missing shell is reported the same way.
//!
//! # Using a job from the event loop
//!
//! - Poll [`Job::output_fd`] for `POLLIN` (`POLLHUP` arrives at EOF) and call
//!   [`Job::read_output`] when it is ready; it reads at most 256 KiB per
//!   call so that one chatty job cannot starve the loop (poll reports it again). Once it
//!   returns `Ok(false)` the pipe is at EOF: stop polling it (a pipe at EOF is always
//!   readable).
//! - On `SIGCHLD` call [`Job::try_wait`] on every running job. Never call `waitpid(-1)`
//!   elsewhere in the daemon: it would take the status of a job the loop still tracks.
//! - A job is finished when its status is known and its pipe is at EOF. Something the job
//!   started in the background can hold the pipe open long after the job exited; dropping the
//!   job closes the read end, and a background process that writes to the pipe afterwards
//!   gets `SIGPIPE`, as from any closed reader. So keep reading a job until EOF, however long
//!   after its exit that comes: the cap keeps memory bounded, and [`Job::output_capped`] says
//!   when what is kept can no longer change.
//! - The job keeps what the loop has seen of it: [`Job::status`], [`Job::exited_at`] and
//!   [`Job::output_eof`] answer from the last [`Job::try_wait`] and [`Job::read_output`], so
//!   the loop needs no state of its own beside the job.
//! - Dropping a job whose status is not yet known hands its pid to [`reap_unknown`], which
//!   the loop calls on `SIGCHLD`, so nothing is left a zombie.

mod child;
mod pam;
pub mod session;

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Gid, Pid, Uid, User, geteuid, getgrouplist, getgroups, pipe2};

use child::{Passed, Prepared, above_stdio};

/// The exit status of a job that never reached its command: exec failed (no such shell) or
/// the child could not take the user's identity. Its output says which step failed and why.
pub const SETUP_FAILED_EXIT: i32 = 127;

/// The output cap DESIGN.md asks for by default.
pub const DEFAULT_OUTPUT_LIMIT: usize = 64 * 1024;

const READ_CHUNK: usize = 16 * 1024;
const READS_PER_CALL: usize = 16;

/// Whose identity a job takes. Built by [`lookup_user`] or [`current_user`] before any clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Uid,
    pub gid: Gid,
    /// Every group of the user, the primary one included (`getgrouplist`).
    pub groups: Vec<Gid>,
    pub user: String,
    /// From the password database. cronie uses the crontab's `HOME` when it sets one.
    pub home: PathBuf,
    /// The login shell from the password database. cronie does not use it for jobs: they run
    /// under the crontab's `SHELL`, or `/bin/sh`.
    pub shell: PathBuf,
}

/// Everything needed to start one job.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Run as `shell -c command`; an absolute path (a relative one is resolved in `cwd`, which
    /// is what cronie's `execle` does too).
    pub shell: PathBuf,
    pub command: String,
    /// The job's complete environment; see the module documentation.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// The text after the command's first unescaped `%`, already converted; `None` is
    /// `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// `None`: run with the daemon's own identity.
    pub credentials: Option<Credentials>,
    /// The soft descriptor limit the job gets (the hard one stays); `None` keeps the
    /// daemon's. The daemon raises its own (see [`raise_descriptor_limit`]), which jobs must
    /// not inherit: a program that uses `select(2)` breaks on descriptors past 1024.
    pub descriptor_limit: Option<u64>,
    /// Run the job in a PAM session of the `cron` service, through this session helper
    /// (`cronwright-session`; see `session.rs`). Only for a daemon running as root, with
    /// [`Spec::credentials`].
    pub session_helper: Option<PathBuf>,
}

/// Raises this process's soft descriptor limit to the hard one, so that jobs holding pipes
/// cannot run the daemon out of descriptors. Returns the soft limit it had (for the jobs)
/// and the one it has now.
pub fn raise_descriptor_limit() -> nix::Result<(u64, u64)> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok((soft, hard.max(soft)))
}

/// Why a user could not be looked up or a job could not be started. No job process exists
/// after any of these.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// No password entry: skip the crontab (or line) of that user.
    #[error("unknown user '{user}'")]
    UnknownUser { user: String },
    /// The password or group database could not be read (NSS trouble); may pass.
    #[error("cannot look up user '{user}': {source}")]
    UserLookup { user: String, source: Errno },
    /// The daemon's own uid has no password entry ([`current_user`]).
    #[error("the daemon's own uid {uid} has no entry in the password database")]
    UnknownUid { uid: Uid },
    /// A string that must become a C string contains a NUL byte.
    #[error("{what} contains a NUL byte")]
    Nul { what: String },
    /// An environment variable name that is empty or contains `=`.
    #[error("invalid environment variable name {name:?}")]
    EnvName { name: String },
    /// The daemon is not root and was asked to run a job as someone else.
    #[error("cannot run a job as '{user}': the daemon is not running as root")]
    NotRoot { user: String },
    /// A system call of the daemon failed (out of descriptors, processes or memory); may pass.
    #[error("cannot start a job: {what}: {source}")]
    Os { what: &'static str, source: Errno },
    /// The job's input could not be written to its memfd (out of memory).
    #[error("cannot prepare the job's standard input: {0}")]
    Stdin(#[source] io::Error),
}

/// How a job's process ended. No `Display`: the log is the one place that words a status, so
/// that a signal is named the same way in every line that mentions it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(n)`.
    Exited(i32),
    /// Killed by this signal number.
    Signaled(i32),
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

/// Looks up `name` in the password database and its groups (`getpwnam_r`, `getgrouplist`).
/// Call it before spawning: it may block on NSS and it allocates.
pub fn lookup_user(name: &str) -> Result<Credentials, RunnerError> {
    let lookup_error = |source| RunnerError::UserLookup {
        user: name.to_owned(),
        source,
    };
    let user = User::from_name(name)
        .map_err(lookup_error)?
        .ok_or_else(|| RunnerError::UnknownUser {
            user: name.to_owned(),
        })?;
    let c_name = CString::new(name).map_err(|_| RunnerError::UnknownUser {
        user: name.to_owned(),
    })?;
    let groups = getgrouplist(&c_name, user.gid).map_err(lookup_error)?;
    Ok(Credentials {
        uid: user.uid,
        gid: user.gid,
        groups,
        user: user.name,
        home: user.dir,
        shell: user.shell,
    })
}

/// The daemon's own user (effective uid), with the groups the daemon has now. Jobs of a
/// daemon that is not root run with these.
pub fn current_user() -> Result<Credentials, RunnerError> {
    let uid = geteuid();
    let user = User::from_uid(uid)
        .map_err(|source| RunnerError::UserLookup {
            user: uid.to_string(),
            source,
        })?
        .ok_or(RunnerError::UnknownUid { uid })?;
    let mut groups = getgroups().map_err(|source| RunnerError::UserLookup {
        user: user.name.clone(),
        source,
    })?;
    if !groups.contains(&user.gid) {
        groups.insert(0, user.gid);
    }
    Ok(Credentials {
        uid,
        gid: user.gid,
        groups,
        user: user.name,
        home: user.dir,
        shell: user.shell,
    })
}

/// Orphans: pids of jobs dropped before their status was known, for [`reap_unknown`].
static UNREAPED: Mutex<Vec<Pid>> = Mutex::new(Vec::new());

/// Reaps the jobs that were dropped while still running, returning those that have exited
/// since. Call it on `SIGCHLD` (cheap when there are none). It waits only for those pids,
/// never for `-1`, so it cannot take the status of a job that is still tracked.
pub fn reap_unknown() -> Vec<(Pid, ExitStatus)> {
    let mut unreaped = UNREAPED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut reaped = Vec::new();
    unreaped.retain(|&pid| match wait_nohang(pid) {
        Ok(Some(status)) => {
            reaped.push((pid, status));
            false
        }
        Ok(None) => true,
        // ECHILD: someone else reaped it; nothing is left to do for it.
        Err(_) => false,
    });
    reaped
}

/// Makes the daemon the reaper of what its jobs leave behind (`PR_SET_CHILD_SUBREAPER`):
/// a process whose parent exits is re-parented to the daemon instead of to PID 1, which in a
/// container may be the daemon anyway. Such orphans must then be reaped with
/// [`reap_orphans`], or they stay zombies.
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Reaps every exited child that is not a job: orphans re-parented to a subreaper or to
/// PID 1. `tracked` says whether a pid is a job the loop follows; a job's status must reach
/// its [`Job::try_wait`], so each exited child is looked at without being reaped
/// (`waitid(P_ALL, WNOWAIT)`), and reaped only when it is nobody's. Stops at the first
/// exited child that is a job (its own `SIGCHLD` brings the loop back to take it, and the
/// orphans after it then). Returns the orphans reaped, with how they ended.
pub fn reap_orphans(tracked: impl Fn(Pid) -> bool) -> Vec<(Pid, ExitStatus)> {
    use nix::sys::wait::{Id, waitid};
    let mut reaped = Vec::new();
    loop {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        let pid = match waitid(Id::All, flags) {
            Ok(status) => match status.pid() {
                Some(pid) => pid,
                None => break,
            },
            Err(Errno::EINTR) => continue,
            // ECHILD: no children at all.
            Err(_) => break,
        };
        let dropped = UNREAPED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(&pid);
        if tracked(pid) || dropped {
            break;
        }
        match wait_nohang(pid) {
            Ok(Some(status)) => reaped.push((pid, status)),
            _ => break,
        }
    }
    reaped
}

/// A running (or finished, not yet dropped) job.
#[derive(Debug)]
pub struct Job {
    pid: Pid,
    output_fd: OwnedFd,
    eof: bool,
    output: Vec<u8>,
    limit: usize,
    total: u64,
    started: Instant,
    status: Option<ExitStatus>,
    exited_at: Option<Instant>,
    /// The read end of a session helper's report, until the helper's exit.
    report: Option<OwnedFd>,
    /// What the session helper reported: PAM refused the job, which never ran.
    refusal: Option<String>,
    /// Every byte read, kept or not, until taken as lines ([`Job::tap`]).
    tap: Option<Tap>,
}

/// A job's output as it comes, until taken line by line: `bytes[start..]` is what is left.
/// Taking a line moves `start`; the taken bytes are dropped once they are half the buffer,
/// so taking every line of a read costs time in proportion to its size.
#[derive(Debug, Default)]
struct Tap {
    bytes: Vec<u8>,
    start: usize,
}

/// The longest line [`Job::tapped_line`] gives whole; a longer one comes in pieces of this
/// size, so that a job that never writes a newline cannot make the daemon hold its output.
pub const MAX_TAPPED_LINE: usize = 64 * 1024;

impl Job {
    /// The job's pid, which is also its process group and session id. With a PAM session it
    /// is the session helper's, whose child runs the command.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The read end of the output pipe: non-blocking and close-on-exec. Open until the job is
    /// dropped.
    pub fn output_fd(&self) -> BorrowedFd<'_> {
        self.output_fd.as_fd()
    }

    /// Reads what the pipe holds now, up to `READ_CHUNK * READS_PER_CALL` bytes (256 KiB), keeping the first
    /// `output_limit` bytes of the job's output and counting the rest. `Ok(true)`: the pipe
    /// is still open; `Ok(false)`: EOF (every holder of the write end has closed it), also on
    /// every later call. An error counts as EOF from then on. Never blocks.
    pub fn read_output(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let mut buf = [0u8; READ_CHUNK];
        let mut reads = 0;
        while reads < READS_PER_CALL {
            match nix::unistd::read(&self.output_fd, &mut buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    reads += 1;
                    self.keep(&buf[..n]);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return Ok(true),
                Err(e) => {
                    // The pipe is of no more use; a loop polling it would only spin.
                    self.eof = true;
                    return Err(e.into());
                }
            }
        }
        Ok(true)
    }

    /// Whether [`Job::tap`] was called.
    pub fn tapped(&self) -> bool {
        self.tap.is_some()
    }

    /// From now on, every byte read also goes to the tap, whatever the cap, for
    /// [`Job::tapped_line`] to give line by line.
    pub fn tap(&mut self) {
        self.tap = Some(Tap::default());
    }

    /// The next complete line read, without its newline; at `end`, what is left after the
    /// last newline too. A line longer than [`MAX_TAPPED_LINE`] comes in pieces of that
    /// size. The caller takes lines at its own pace: a job whose tap holds lines need not be
    /// read, so it waits on its full pipe, and the tap holds at most one read and one
    /// partial line.
    pub fn tapped_line(&mut self, end: bool) -> Option<Vec<u8>> {
        let tap = self.tap.as_mut()?;
        let rest = &tap.bytes[tap.start..];
        let (len, skip) = match memchr::memchr(b'\n', rest) {
            Some(nl) if nl <= MAX_TAPPED_LINE => (nl, 1),
            _ if rest.len() >= MAX_TAPPED_LINE => (MAX_TAPPED_LINE, 0),
            _ if end && !rest.is_empty() => (rest.len(), 0),
            _ => return None,
        };
        let line = rest[..len].to_vec();
        tap.start += len + skip;
        if tap.start * 2 >= tap.bytes.len() {
            tap.bytes.drain(..tap.start);
            tap.start = 0;
        }
        Some(line)
    }

    /// Whether [`Job::tapped_line`] has a whole line to give: until it is taken, the job
    /// need not be read (its pipe fills and it waits), which bounds what the tap holds.
    pub fn tap_has_line(&self) -> bool {
        self.tap.as_ref().is_some_and(|t| {
            let rest = &t.bytes[t.start..];
            rest.len() >= MAX_TAPPED_LINE || memchr::memchr(b'\n', rest).is_some()
        })
    }

    /// Whether the tap holds no byte (nothing left to give, whole line or not).
    pub fn tap_is_empty(&self) -> bool {
        self.tap.as_ref().is_none_or(|t| t.start == t.bytes.len())
    }

    fn keep(&mut self, bytes: &[u8]) {
        if let Some(tap) = &mut self.tap {
            tap.bytes.extend_from_slice(bytes);
        }
        let room = self.limit.saturating_sub(self.output.len());
        let kept = bytes.len().min(room);
        self.output.extend_from_slice(&bytes[..kept]);
        self.total += bytes.len() as u64;
    }

    /// The kept output: the first `output_limit` bytes, stdout and stderr as interleaved.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Every byte the job wrote, kept or not.
    pub fn output_bytes(&self) -> u64 {
        self.total
    }

    /// Bytes read beyond the cap and thrown away.
    pub fn dropped_bytes(&self) -> u64 {
        self.total - self.output.len() as u64
    }

    /// Whether the kept output is full: later output is only counted.
    pub fn output_capped(&self) -> bool {
        self.output.len() >= self.limit
    }

    /// Whether [`Job::read_output`] has seen EOF.
    pub fn output_eof(&self) -> bool {
        self.eof
    }

    /// When the job was started (just before the clone).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The status, once [`Job::try_wait`] has seen the job exit.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// When [`Job::try_wait`] first saw the job's exit; the job's duration ends here.
    pub fn exited_at(&self) -> Option<Instant> {
        self.exited_at
    }

    /// Sends `sig` to the job's process group: the job and everything it started that did
    /// not leave the group. `ESRCH` means the group is empty. Do not send after the job was
    /// reaped and its output reached EOF: the group may be gone and its number reused.
    pub fn signal_group(&self, sig: Signal) -> nix::Result<()> {
        match killpg(self.pid, sig) {
            // Just after the fork the child may not have called setsid yet, so its group does
            // not exist; it has started nothing yet either, so the pid alone is the job. The
            // child blocks signals until it has reset their actions, so the signal waits for
            // the default action rather than meeting a handler copied from the daemon.
            Err(Errno::ESRCH) if self.status.is_none() => {
                kill(self.pid, sig)?;
                // In case setsid and a first fork happened in between.
                let _ = killpg(self.pid, sig);
                Ok(())
            }
            other => other,
        }
    }

    /// Reaps the job if it has exited (`waitpid(pid, WNOHANG)`), without blocking. Once the
    /// status is known every later call returns it again. `ECHILD` means something else
    /// reaped the pid (a `waitpid(-1)` elsewhere): the job is over, its status lost.
    pub fn try_wait(&mut self) -> nix::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = wait_nohang(self.pid)?;
            if self.status.is_some() {
                self.exited_at = Some(Instant::now());
                self.refusal = self.report.take().and_then(session::read_report);
            }
        }
        Ok(self.status)
    }

    /// Why PAM refused the job, once [`Job::try_wait`] has seen its session helper exit: the
    /// command never ran. `None` for a job that ran, or that had no PAM session.
    pub fn refusal(&self) -> Option<&str> {
        self.refusal.as_deref()
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if self.status.is_none() {
            UNREAPED
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(self.pid);
        }
    }
}

fn wait_nohang(pid: Pid) -> nix::Result<Option<ExitStatus>> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Some(ExitStatus::Exited(code))),
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                return Ok(Some(ExitStatus::Signaled(sig as i32)));
            }
            // Stopped and continued children are only reported with WUNTRACED/WCONTINUED.
            Ok(_) => return Ok(None),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Starts a job. On success the process exists and must be waited for through the returned
/// [`Job`]; the call itself never waits for the child. `output_limit` is the number of output
/// bytes kept (see [`DEFAULT_OUTPUT_LIMIT`]).
pub fn spawn(spec: &Spec, output_limit: usize) -> Result<Job, RunnerError> {
    let session = match (&spec.credentials, &spec.session_helper) {
        (Some(credentials), Some(helper)) if geteuid().is_root() => {
            Some(session::Start::new(spec, credentials, helper)?)
        }
        _ => None,
    };
    let own;
    let (prepared, passed) = match &session {
        Some(start) => (&start.prepared, start.passed()),
        None => {
            own = Prepared::new(spec)?;
            (&own, Passed::default())
        }
    };
    let stdin = stdin_fd(spec.stdin.as_deref())?;
    let (out_read, out_write) = pipe2(OFlag::O_CLOEXEC).map_err(|source| RunnerError::Os {
        what: "pipe",
        source,
    })?;
    let out_read = above_stdio(out_read)?;
    let out_write = above_stdio(out_write)?;
    // Only the daemon's end is non-blocking: a job's stdout must block when the pipe is full.
    fcntl(&out_read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|source| RunnerError::Os {
        what: "fcntl O_NONBLOCK",
        source,
    })?;

    let started = Instant::now();
    let pid = child::clone_child(prepared, stdin.as_fd(), out_write.as_fd(), passed)?;
    // The child holds its own copies; ours must go so that EOF means the job is done, and
    // so that the report reads as complete once the helper exits.
    drop(out_write);
    drop(stdin);
    let report = session.map(|start| start.report);
    Ok(Job {
        pid,
        output_fd: out_read,
        eof: false,
        output: Vec::new(),
        limit: output_limit,
        total: 0,
        started,
        status: None,
        exited_at: None,
        report,
        refusal: None,
        tap: None,
    })
}

/// The job's stdin: a sealed memfd holding `input`, or `/dev/null`. Close-on-exec, >= 3.
fn stdin_fd(input: Option<&[u8]>) -> Result<OwnedFd, RunnerError> {
    let fd = match input {
        None => OwnedFd::from(File::open("/dev/null").map_err(RunnerError::Stdin)?),
        Some(bytes) => sealed_memfd(bytes, c"cronwright-stdin")?,
    };
    above_stdio(fd)
}

/// A close-on-exec memfd holding `bytes`, read from the start and sealed: whoever is handed
/// it reads it and nothing more, and cannot change or grow it.
fn sealed_memfd(bytes: &[u8], name: &std::ffi::CStr) -> Result<OwnedFd, RunnerError> {
    let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING).map_err(
        |source| RunnerError::Os {
            what: "memfd_create",
            source,
        },
    )?;
    let mut file = File::from(fd);
    file.write_all(bytes).map_err(RunnerError::Stdin)?;
    file.rewind().map_err(RunnerError::Stdin)?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    fcntl(&file, FcntlArg::F_ADD_SEALS(seals)).map_err(|source| RunnerError::Os {
        what: "memfd seals",
        source,
    })?;
    Ok(OwnedFd::from(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::unistd::{getpgid, getsid};
    use std::time::Duration;

    /// A guard against a hung test, not a measurement: generous and never asserted on.
    const HANG_GUARD: Duration = Duration::from_secs(120);

    /// `/bin/sh -c command` in `/` with only `PATH`: the baseline each test changes one thing
    /// of, here and in `child.rs`'s tests.
    pub(super) fn spec(command: &str) -> Spec {
        Spec {
            shell: PathBuf::from("/bin/sh"),
            command: command.to_owned(),
            env: vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())],
            cwd: PathBuf::from("/"),
            stdin: None,
            credentials: None,
            descriptor_limit: None,
            session_helper: None,
        }
    }

    /// Drives a job as the daemon's loop does (poll the pipe, try_wait) until it is finished.
    fn finish(job: &mut Job) -> ExitStatus {
        let give_up = Instant::now() + HANG_GUARD;
        loop {
            let open = job.read_output().expect("reading the job's output");
            let status = job.try_wait().expect("waiting for the job");
            if let (false, Some(status)) = (open, status) {
                return status;
            }
            assert!(Instant::now() < give_up, "job {} never finished", job.pid());
            if open {
                let mut fds = [PollFd::new(job.output_fd(), PollFlags::POLLIN)];
                poll(&mut fds, PollTimeout::from(20u8)).expect("poll");
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Spawns and finishes a job; its status and output. `child.rs`'s tests use it too.
    pub(super) fn run(spec: &Spec) -> (ExitStatus, String) {
        let mut job = spawn(spec, DEFAULT_OUTPUT_LIMIT).expect("spawn");
        let status = finish(&mut job);
        (status, String::from_utf8_lossy(job.output()).into_owned())
    }

    /// Reads until the output holds a complete first line.
    fn first_line(job: &mut Job) -> String {
        let give_up = Instant::now() + HANG_GUARD;
        while !job.output().contains(&b'\n') {
            assert!(job.read_output().expect("read"), "EOF before a full line");
            assert!(Instant::now() < give_up, "no line from job {}", job.pid());
            let mut fds = [PollFd::new(job.output_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(20u8)).expect("poll");
        }
        let text = String::from_utf8_lossy(job.output()).into_owned();
        text.lines().next().unwrap_or_default().to_owned()
    }

    #[test]
    fn stdout_and_stderr_arrive_in_one_stream_in_order() {
        let (status, output) = run(&spec("echo one; echo two >&2; echo three"));
        assert_eq!(status, ExitStatus::Exited(0));
        assert_eq!(output, "one\ntwo\nthree\n");
    }

    #[test]
    fn output_beyond_the_cap_is_counted_not_kept() {
        let mut job = spawn(&spec("head -c 1048576 /dev/zero"), 64 * 1024).expect("spawn");
        assert_eq!(finish(&mut job), ExitStatus::Exited(0));
        assert_eq!(job.output().len(), 65536);
        assert_eq!(job.output_bytes(), 1_048_576);
        assert_eq!(job.dropped_bytes(), 1_048_576 - 65536);
    }

    #[test]
    fn a_tap_gives_every_line_whole_past_the_cap_and_cuts_endless_ones() {
        let long = MAX_TAPPED_LINE + 10;
        let command = format!(
            "echo one; printf 'two\\nthr'; printf 'ee\\n'; head -c {long} /dev/zero | tr '\\0' x; echo; printf last"
        );
        let mut job = spawn(&spec(&command), 4).expect("spawn");
        job.tap();
        let mut lines = Vec::new();
        while job.try_wait().unwrap().is_none() || !job.output_eof() {
            let _ = job.read_output();
            lines.extend(std::iter::from_fn(|| job.tapped_line(false)));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        lines.extend(std::iter::from_fn(|| job.tapped_line(true)));
        assert!(job.tap_is_empty());
        let lines: Vec<String> = lines
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect();
        assert_eq!(lines[..3], ["one", "two", "three"]);
        assert_eq!(lines[3].len(), MAX_TAPPED_LINE);
        assert_eq!(lines[4], "x".repeat(10));
        assert_eq!(lines[5], "last");
        assert_eq!(lines.len(), 6);
        // The cap still applies to what is kept.
        assert_eq!(job.output(), b"one\n");
    }

    #[test]
    fn stdin_text_is_delivered() {
        let mut spec = spec("cat");
        spec.stdin = Some(b"first line\nsecond line\n".to_vec());
        assert_eq!(
            run(&spec),
            (
                ExitStatus::Exited(0),
                "first line\nsecond line\n".to_owned()
            )
        );
    }

    #[test]
    fn stdin_larger_than_a_pipe_buffer_is_delivered_whole() {
        let mut spec = spec("wc -c");
        spec.stdin = Some(vec![b'x'; 1 << 20]);
        let (status, output) = run(&spec);
        assert_eq!((status, output.trim()), (ExitStatus::Exited(0), "1048576"));
    }

    #[test]
    fn stdin_without_text_is_dev_null() {
        let (status, output) = run(&spec("readlink /proc/self/fd/0; cat; echo end"));
        assert_eq!(
            (status, output.as_str()),
            (ExitStatus::Exited(0), "/dev/null\nend\n")
        );
    }

    #[test]
    fn exit_codes_and_signals_are_reported() {
        assert_eq!(run(&spec("exit 3")).0, ExitStatus::Exited(3));
        assert_eq!(
            run(&spec("kill -USR1 $$")).0,
            ExitStatus::Signaled(libc::SIGUSR1)
        );
    }

    #[test]
    fn job_leads_its_own_group_and_signal_group_reaches_its_children() {
        let mut job = spawn(&spec("sleep 100 & echo $!; sleep 100"), 1024).expect("spawn");
        let background: i32 = first_line(&mut job).parse().expect("the background pid");
        assert_eq!(getpgid(Some(job.pid())), Ok(job.pid()));
        assert_eq!(getsid(Some(job.pid())), Ok(job.pid()));
        assert_eq!(getpgid(Some(Pid::from_raw(background))), Ok(job.pid()));

        job.signal_group(Signal::SIGTERM).expect("killpg");
        // EOF proves the background sleep died too: it held the pipe's write end.
        assert_eq!(finish(&mut job), ExitStatus::Signaled(libc::SIGTERM));
        assert!(job.output_eof());
    }

    #[test]
    fn reading_a_silent_job_does_not_block() {
        let mut job = spawn(&spec("sleep 100"), 1024).expect("spawn");
        assert!(job.read_output().expect("read"));
        assert_eq!(job.try_wait(), Ok(None));
        job.signal_group(Signal::SIGKILL).expect("killpg");
        assert_eq!(finish(&mut job), ExitStatus::Signaled(libc::SIGKILL));
    }

    #[test]
    fn signal_sent_right_after_spawn_ends_the_job() {
        // Often sent before the child's setsid, when its group does not exist yet.
        for _ in 0..20 {
            let mut job = spawn(&spec("sleep 100"), 1024).expect("spawn");
            job.signal_group(Signal::SIGTERM).expect("signal");
            assert_eq!(finish(&mut job), ExitStatus::Signaled(libc::SIGTERM));
        }
    }

    #[test]
    fn reaped_job_leaves_no_zombie() {
        let mut job = spawn(&spec("exit 0"), 1024).expect("spawn");
        assert_eq!(finish(&mut job), ExitStatus::Exited(0));
        assert_eq!(job.try_wait(), Ok(Some(ExitStatus::Exited(0))));
        assert!(job.exited_at().is_some());
        assert!(job.output_eof());
        assert_eq!(
            waitpid(job.pid(), Some(WaitPidFlag::WNOHANG)),
            Err(Errno::ECHILD)
        );
    }

    #[test]
    fn dropped_running_job_is_reaped_by_reap_unknown() {
        let job = spawn(&spec("exit 4"), 1024).expect("spawn");
        let pid = job.pid();
        drop(job);
        let give_up = Instant::now() + HANG_GUARD;
        loop {
            if let Some(&(_, status)) = reap_unknown().iter().find(|(p, _)| *p == pid) {
                assert_eq!(status, ExitStatus::Exited(4));
                break;
            }
            assert!(Instant::now() < give_up, "pid {pid} never reaped");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(waitpid(pid, Some(WaitPidFlag::WNOHANG)), Err(Errno::ECHILD));
    }

    #[test]
    fn users_are_looked_up_with_their_groups() {
        let root = lookup_user("root").expect("root exists");
        assert_eq!((root.uid, root.gid), (Uid::from_raw(0), Gid::from_raw(0)));
        assert!(root.groups.contains(&Gid::from_raw(0)));
        assert_eq!(root.home, PathBuf::from("/root"));
        let err = lookup_user("no-such-user-cronwright").expect_err("unknown");
        assert_eq!(err.to_string(), "unknown user 'no-such-user-cronwright'");
        let me = current_user().expect("the test's own user");
        assert_eq!(me.uid, geteuid());
        assert!(me.groups.contains(&me.gid));
    }
}
