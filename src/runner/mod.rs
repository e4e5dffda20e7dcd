//! The job runner: starts `$SHELL -c command` as a crontab's owner and hands the daemon's
//! single poll(2) loop what it needs to follow the job without ever blocking on it. It owns
//! user and group lookup, clone/exec (the only `unsafe` in cronwright), the job's standard
//! streams, output capture with a cap, process groups, signals to a job and reaping.
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
//! # Between clone and exec
//!
//! `std::process::Command` does not fit: it cannot set supplementary groups on stable Rust,
//! runs `pre_exec` only after its own uid switch, and reports exec errors through a pipe that
//! closing every inherited descriptor would break.
//!
//! The child is started with `clone(CLONE_VM | CLONE_VFORK)`, as glibc's `posix_spawn` does,
//! not `fork`: it shares the daemon's memory until it execs, and the daemon's thread waits
//! for that. A fork copies the page tables of the whole daemon for a child that throws them
//! away at once, so its cost grew with the job table (a burst of 200 jobs took 122 ms with
//! 100,000 entries loaded, against 91 ms with none; with clone, 73 and 75 ms).
//!
//! Everything is computed before the clone: C strings and pointer arrays for `execve`, ids and
//! the group list, the descriptor limit. The child runs on a stack of its own (with a guard
//! page), calls only system calls and async-signal-safe functions, never allocates, and writes
//! only to that stack (and errno), since the memory it could change is the daemon's. Ids are switched
//! with raw system calls rather than glibc's wrappers, which would treat the daemon's threads
//! as the child's own. All signals are blocked across the clone so that no handler of the
//! daemon (`signal-hook` writes to the daemon's self-pipe) ever runs in the child; the child
//! restores defaults (in its own copy of the handler table), then unblocks.
//!
//! # Using a job from the event loop
//!
//! - Poll [`Job::output_fd`] for `POLLIN` (`POLLHUP` arrives at EOF) and call
//!   [`Job::read_output`] when it is ready; it reads at most [`MAX_READ_PER_CALL`] bytes per
//!   call so that one chatty job cannot starve the loop (poll reports it again). Once it
//!   returns `Ok(false)` the pipe is at EOF: stop polling it (a pipe at EOF is always
//!   readable).
//! - On `SIGCHLD` call [`Job::try_wait`] on every running job. Never call `waitpid(-1)`
//!   elsewhere in the daemon: it would take the status of a job the loop still tracks.
//! - A job is finished when its status is known and its pipe is at EOF. Something the job
//!   started in the background can hold the pipe open long after the job exited, so the rule
//!   is [`Job::is_finished`]: status known, and EOF or `grace` (suggested:
//!   [`OUTPUT_GRACE_AFTER_EXIT`]) since the exit, whichever comes first (the loop needs a
//!   wakeup at [`Job::exited_at`] + grace for a job whose pipe stays open). Dropping a job closes
//!   the pipe; a background process that writes to it afterwards gets `SIGPIPE`, as it would
//!   from any closed reader. To spare such processes, keep polling and reading the job after
//!   logging it until EOF (the cap keeps memory bounded).
//! - Dropping a job whose status is not yet known hands its pid to [`reap_unknown`], which
//!   the loop calls on `SIGCHLD`, so nothing is left a zombie.

use std::ffi::{CString, c_char, c_int, c_void};
use std::fmt;
use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, killpg, pthread_sigmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{
    Gid, Pid, Uid, User, chdir, dup2_stderr, dup2_stdin, dup2_stdout, geteuid, getgrouplist,
    getgroups, pipe2, setsid,
};

/// The exit status of a job that never reached its command: exec failed (no such shell) or
/// the child could not take the user's identity. Its output says which step failed and why.
pub const SETUP_FAILED_EXIT: i32 = 127;

/// The output cap DESIGN.md asks for by default.
pub const DEFAULT_OUTPUT_LIMIT: usize = 64 * 1024;

/// At most this much is read from one job per [`Job::read_output`] call.
pub const MAX_READ_PER_CALL: usize = READ_CHUNK * READS_PER_CALL;

/// The suggested wait, after a job's exit, for the background processes it started to let go
/// of its output pipe before the job is logged as finished.
pub const OUTPUT_GRACE_AFTER_EXIT: Duration = Duration::from_secs(5);

const READ_CHUNK: usize = 16 * 1024;
const READS_PER_CALL: usize = 16;

/// Upper bound on descriptors closed one by one when `close_range(2)` is missing (Linux < 5.9):
/// an unlimited or enormous `RLIMIT_NOFILE` would otherwise make every spawn crawl.
const CLOSE_LOOP_MAX: u64 = 1 << 20;

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

/// How a job's process ended.
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

/// `0`, `127`, `SIGKILL`: one word, fit for a `status=` field.
impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Exited(code) => write!(f, "{code}"),
            ExitStatus::Signaled(sig) => match Signal::try_from(sig) {
                Ok(signal) => f.write_str(signal.as_str()),
                Err(_) => write!(f, "SIG{sig}"),
            },
        }
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
}

impl Job {
    /// The job's pid, which is also its process group and session id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The read end of the output pipe: non-blocking and close-on-exec. Open until the job is
    /// dropped.
    pub fn output_fd(&self) -> BorrowedFd<'_> {
        self.output_fd.as_fd()
    }

    /// Reads what the pipe holds now, up to [`MAX_READ_PER_CALL`] bytes, keeping the first
    /// `output_limit` bytes of the job's output and counting the rest. `Ok(true)`: the pipe
    /// is still open; `Ok(false)`: EOF (every holder of the write end has closed it), also on
    /// every later call. Never blocks.
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
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn keep(&mut self, bytes: &[u8]) {
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

    /// The job's process has exited and either its output is at EOF or `grace` has passed
    /// since the exit was seen. `now` comes from the loop so that one clock read serves all
    /// jobs.
    pub fn is_finished(&self, now: Instant, grace: Duration) -> bool {
        match self.exited_at {
            Some(at) => self.eof || now.saturating_duration_since(at) >= grace,
            None => false,
        }
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
            }
        }
        Ok(self.status)
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
    let prepared = Prepared::new(spec)?;
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

    let mut old_mask = SigSet::empty();
    pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old_mask),
    )
    .map_err(|source| RunnerError::Os {
        what: "sigprocmask",
        source,
    })?;
    let started = Instant::now();
    let args = ChildArgs {
        prepared: &prepared,
        stdin: stdin.as_raw_fd(),
        out: out_write.as_raw_fd(),
    };
    let stack = ChildStack::new().map_err(|source| {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
        RunnerError::Os {
            what: "mmap (the child's stack)",
            source,
        }
    })?;
    // SAFETY: `child_main` runs on `stack`, which outlives the child's use of it: with
    // CLONE_VFORK this thread is suspended until the child has called execve or exited, so
    // `stack`, `args` and `prepared` stay alive and unchanged while the child reads them. The
    // child calls only raw system calls and async-signal-safe functions, never allocates, and
    // writes only to its own stack and to errno (this thread's, which is read below only if
    // clone itself failed, when no child ran).
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            &args as *const ChildArgs as *mut c_void,
        )
    };
    drop(stack);
    let forked = if pid < 0 {
        Err(Errno::last())
    } else {
        Ok(Pid::from_raw(pid))
    };
    match forked {
        Ok(child) => {
            // Restoring a mask we just read cannot fail.
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            // The child holds its own copies; ours must go so that EOF means the job is done.
            drop(out_write);
            drop(stdin);
            Ok(Job {
                pid: child,
                output_fd: out_read,
                eof: false,
                output: Vec::new(),
                limit: output_limit,
                total: 0,
                started,
                status: None,
                exited_at: None,
            })
        }
        Err(source) => {
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            Err(RunnerError::Os {
                what: "clone",
                source,
            })
        }
    }
}

/// The child's own stack. It runs only `exec_child` (a few small frames) and then execve;
/// this leaves a wide margin, and unoptimised builds use more stack than release ones.
const CHILD_STACK_BYTES: usize = 128 * 1024;

/// The child's stack: its own mapping with an inaccessible page below it, so that an overflow
/// kills the child (SIGSEGV) instead of writing over the daemon's memory, which it shares.
struct ChildStack {
    base: *mut c_void,
    len: usize,
}

impl ChildStack {
    fn new() -> Result<ChildStack, Errno> {
        let page = 4096;
        let len = CHILD_STACK_BYTES + page;
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the lowest page of the mapping just made is ours to protect.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(Errno::last());
        }
        Ok(stack)
    }

    /// Where the child's stack pointer starts: the stack grows down on every architecture
    /// Linux runs cronwrightd on, and the mapping's end is page-aligned.
    fn top(&self) -> *mut c_void {
        self.base.wrapping_byte_add(self.len)
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made; nothing points into it once the
        // child has exec'd or exited (clone with CLONE_VFORK returns only then).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// What `child_main` is handed through `clone`'s argument pointer.
struct ChildArgs<'a> {
    prepared: &'a Prepared,
    stdin: RawFd,
    out: RawFd,
}

extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `ChildArgs` that `spawn` passed to clone; `spawn` is suspended
    // (CLONE_VFORK) and keeps it alive until this process has exec'd or exited.
    let args = unsafe { &*(arg as *const ChildArgs) };
    // SAFETY: this is the new process started by `spawn`'s clone, before exec.
    unsafe { exec_child(args.prepared, args.stdin, args.out) }
}

/// Everything the child needs, computed in the parent so that the child never allocates.
/// The pointer arrays point into the C strings owned alongside them.
struct Prepared {
    shell: CString,
    _argv: [CString; 3],
    argv_ptrs: [*const c_char; 4],
    _env: Vec<CString>,
    env_ptrs: Vec<*const c_char>,
    cwd: CString,
    ids: Option<Ids>,
    close_limit: c_int,
    signal_max: c_int,
    /// The kernel's signal set size in bytes (8 where there are 64 signals), for rt_sigaction.
    sigset_size: usize,
}

struct Ids {
    uid: Uid,
    gid: Gid,
    groups: Vec<libc::gid_t>,
    user: String,
}

impl Prepared {
    fn new(spec: &Spec) -> Result<Prepared, RunnerError> {
        let shell = path_cstring(&spec.shell, "the shell path")?;
        let command = CString::new(spec.command.as_bytes()).map_err(|_| RunnerError::Nul {
            what: "the command".to_owned(),
        })?;
        let argv = [shell.clone(), c"-c".to_owned(), command];
        let argv_ptrs = [
            argv[0].as_ptr(),
            argv[1].as_ptr(),
            argv[2].as_ptr(),
            std::ptr::null(),
        ];

        let env = env_cstrings(&spec.env)?;
        let mut env_ptrs: Vec<*const c_char> = env.iter().map(|var| var.as_ptr()).collect();
        env_ptrs.push(std::ptr::null());

        let cwd = path_cstring(&spec.cwd, "the working directory")?;
        let ids = match &spec.credentials {
            None => None,
            Some(creds) if geteuid().is_root() => Some(Ids {
                uid: creds.uid,
                gid: creds.gid,
                groups: creds.groups.iter().map(|g| g.as_raw()).collect(),
                user: creds.user.clone(),
            }),
            // Not root: the daemon's own identity is the only one on offer.
            Some(creds) if creds.uid == geteuid() => None,
            Some(creds) => {
                return Err(RunnerError::NotRoot {
                    user: creds.user.clone(),
                });
            }
        };
        let signal_max = libc::SIGRTMAX();
        Ok(Prepared {
            shell,
            _argv: argv,
            argv_ptrs,
            _env: env,
            env_ptrs,
            cwd,
            ids,
            close_limit: close_limit(),
            signal_max,
            sigset_size: (signal_max as usize).div_ceil(8),
        })
    }
}

fn path_cstring(path: &Path, what: &str) -> Result<CString, RunnerError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| RunnerError::Nul {
        what: format!("{what} {}", path.display()),
    })
}

/// `NAME=value` strings, a repeated name keeping its first position and its last value.
fn env_cstrings(env: &[(String, String)]) -> Result<Vec<CString>, RunnerError> {
    let mut merged: Vec<(&str, &str)> = Vec::with_capacity(env.len());
    for (name, value) in env {
        if name.is_empty() || name.contains('=') {
            return Err(RunnerError::EnvName { name: name.clone() });
        }
        match merged.iter_mut().find(|(seen, _)| seen == name) {
            Some(slot) => slot.1 = value,
            None => merged.push((name, value)),
        }
    }
    merged
        .into_iter()
        .map(|(name, value)| {
            CString::new(format!("{name}={value}")).map_err(|_| RunnerError::Nul {
                what: format!("environment variable {name}"),
            })
        })
        .collect()
}

/// The descriptor number below which the child closes one by one if `close_range` is missing.
fn close_limit() -> c_int {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we pass; no other memory is touched.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let soft = if got == 0 {
        limit.rlim_cur
    } else {
        CLOSE_LOOP_MAX
    };
    soft.min(CLOSE_LOOP_MAX) as c_int
}

/// The job's stdin: a sealed memfd holding `input`, or `/dev/null`. Close-on-exec, >= 3.
fn stdin_fd(input: Option<&[u8]>) -> Result<OwnedFd, RunnerError> {
    let fd = match input {
        None => OwnedFd::from(File::open("/dev/null").map_err(RunnerError::Stdin)?),
        Some(bytes) => {
            let fd = memfd_create(
                c"cronwright-stdin",
                MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
            )
            .map_err(|source| RunnerError::Os {
                what: "memfd_create",
                source,
            })?;
            let mut file = File::from(fd);
            file.write_all(bytes).map_err(RunnerError::Stdin)?;
            file.rewind().map_err(RunnerError::Stdin)?;
            // The job reads its input and nothing more: it cannot change or grow it.
            let seals = SealFlag::F_SEAL_SEAL
                | SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE;
            fcntl(&file, FcntlArg::F_ADD_SEALS(seals)).map_err(|source| RunnerError::Os {
                what: "memfd seals",
                source,
            })?;
            OwnedFd::from(file)
        }
    };
    above_stdio(fd)
}

/// Moves a descriptor to 3 or above. A daemon started with 0, 1 or 2 closed gets those numbers
/// for its pipes, and the child's `dup2` onto 0, 1 and 2 would then overwrite one source with
/// another.
fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, RunnerError> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    let raw = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(3)).map_err(|source| RunnerError::Os {
        what: "fcntl F_DUPFD_CLOEXEC",
        source,
    })?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The child's side, from clone to exec. Never returns.
///
/// # Safety
/// Only in the child of `spawn`'s clone, with `stdin` and `out` open and >= 3.
unsafe fn exec_child(p: &Prepared, stdin: RawFd, out: RawFd) -> ! {
    // Defaults first, while every signal is still blocked: a handler inherited from the
    // daemon must never run here, and SIG_IGN (SIGPIPE) would survive the exec.
    // The raw system call, because glibc refuses its two reserved real-time signals, and a
    // daemon started with those ignored (it happens) would pass that on. An all-zero kernel
    // sigaction is SIG_DFL with no flags and an empty mask whatever the architecture's layout.
    let default_action = [0u64; 8];
    for sig in 1..=p.signal_max {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: rt_sigaction reads one kernel sigaction from `default_action` (larger
            // than any architecture's) and writes nothing, since the old-action pointer is
            // NULL. It is a system call, async-signal-safe. A refusal leaves one signal as it
            // was, which is no reason to refuse the job.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    default_action.as_ptr(),
                    std::ptr::null::<u8>(),
                    p.sigset_size,
                )
            };
        }
    }
    if let Err(e) = setsid() {
        die(out, &[b"cannot start a new session"], e);
    }
    // SAFETY: `stdin` and `out` are open descriptors of this process (the parent keeps its
    // copies until after the clone) and are distinct from 0, 1 and 2.
    let (stdin, out_fd) = unsafe { (BorrowedFd::borrow_raw(stdin), BorrowedFd::borrow_raw(out)) };
    if let Err(e) = dup2_stdin(stdin)
        .and_then(|()| dup2_stdout(out_fd))
        .and_then(|()| dup2_stderr(out_fd))
    {
        die(out, &[b"cannot set up the job's standard streams"], e);
    }
    close_from_3(p.close_limit);
    const ERR: RawFd = 2;

    if let Some(ids) = &p.ids {
        // Raw system calls, not glibc's wrappers: those apply an id change to every thread
        // glibc knows of, and this child shares the daemon's memory, so glibc would take the
        // daemon's threads for its own and signal them. The kernel changes only this process.
        let user = ids.user.as_bytes();
        // SAFETY: setgroups reads `groups.len()` ids from the prepared vector.
        let r =
            unsafe { libc::syscall(libc::SYS_setgroups, ids.groups.len(), ids.groups.as_ptr()) };
        if r != 0 {
            die(
                ERR,
                &[b"cannot set the supplementary groups of ", user],
                Errno::last(),
            );
        }
        // SAFETY: setgid and setuid take plain integers.
        if unsafe { libc::syscall(libc::SYS_setgid, ids.gid.as_raw()) } != 0 {
            die(ERR, &[b"cannot set the group id of ", user], Errno::last());
        }
        // SAFETY: as above.
        if unsafe { libc::syscall(libc::SYS_setuid, ids.uid.as_raw()) } != 0 {
            die(ERR, &[b"cannot set the user id of ", user], Errno::last());
        }
    }
    if let Err(e) = chdir(p.cwd.as_c_str()) {
        let reason = e.desc().as_bytes();
        let cwd = p.cwd.as_bytes();
        say(
            ERR,
            &[
                PREFIX,
                b"cannot change directory to ",
                cwd,
                b": ",
                reason,
                b"; running in /\n",
            ],
        );
        if let Err(e) = chdir(c"/") {
            die(ERR, &[b"cannot change directory to /"], e);
        }
    }
    // Unblocking cannot fail with a valid mask and `how`.
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: both arrays are NULL-terminated and point into C strings `p` keeps alive.
    unsafe { libc::execve(p.shell.as_ptr(), p.argv_ptrs.as_ptr(), p.env_ptrs.as_ptr()) };
    die(
        ERR,
        &[b"cannot execute ", p.shell.as_bytes()],
        Errno::last(),
    )
}

/// Closes every descriptor from 3 up, leaving the job 0, 1 and 2. Async-signal-safe.
fn close_from_3(limit: c_int) {
    // SAFETY: close_range(2) only closes descriptors; it is a plain system call (the raw
    // syscall, not glibc's wrapper, so that older glibc builds link).
    let closed = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if closed != 0 {
        for fd in 3..limit {
            // SAFETY: closing a descriptor that may not be open is harmless (EBADF).
            unsafe { libc::close(fd) };
        }
    }
}

/// The first words of every line the child writes about its own failure.
const PREFIX: &[u8] = b"cronwrightd: ";

/// Writes `parts` to `fd`. Async-signal-safe: only write(2) on borrowed bytes.
fn say(fd: RawFd, parts: &[&[u8]]) {
    for part in parts {
        let mut bytes = *part;
        while !bytes.is_empty() {
            // SAFETY: `bytes` is a live slice; write(2) reads at most its length.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            if n > 0 {
                bytes = bytes.get(n as usize..).unwrap_or_default();
            } else if n < 0 && Errno::last() == Errno::EINTR {
                continue;
            } else {
                return;
            }
        }
    }
}

/// Reports `cronwrightd: WHAT: REASON` on `fd` and ends the child with [`SETUP_FAILED_EXIT`].
fn die(fd: RawFd, what: &[&[u8]], errno: Errno) -> ! {
    say(fd, &[PREFIX]);
    say(fd, what);
    say(fd, &[b": ", errno.desc().as_bytes(), b"\n"]);
    // SAFETY: _exit(2) ends the process without running atexit handlers or flushing stdio
    // buffers of the daemon, which is what a child before exec must do.
    unsafe { libc::_exit(SETUP_FAILED_EXIT) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::unistd::{getpgid, getsid};
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    /// A guard against a hung test, not a measurement: generous and never asserted on.
    const HANG_GUARD: Duration = Duration::from_secs(120);

    fn spec(command: &str) -> Spec {
        Spec {
            shell: PathBuf::from("/bin/sh"),
            command: command.to_owned(),
            env: vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())],
            cwd: PathBuf::from("/"),
            stdin: None,
            credentials: None,
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

    fn run(spec: &Spec) -> (ExitStatus, String) {
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
        assert_eq!(ExitStatus::Signaled(libc::SIGKILL).to_string(), "SIGKILL");
        assert_eq!(ExitStatus::Exited(3).to_string(), "3");
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
        assert!(!job.is_finished(Instant::now(), Duration::ZERO));
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
    fn a_job_sees_only_descriptors_0_1_2() {
        // A descriptor without close-on-exec, as a careless library might leave: only the
        // child's closing of everything above 2 keeps it out of the job.
        let leaky = nix::unistd::dup(std::io::stderr()).expect("dup");
        // The shell's own table, listed by a child (`; :` stops dash from exec'ing `ls`, whose
        // directory handle would show up in its own listing).
        let (status, output) = run(&spec("ls /proc/$$/fd; :"));
        drop(leaky);
        assert_eq!(
            (status, output.as_str()),
            (ExitStatus::Exited(0), "0\n1\n2\n")
        );
    }

    #[test]
    fn cwd_is_the_given_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dir = dir.path().canonicalize().expect("canonicalize");
        let mut spec = spec("pwd");
        spec.cwd = dir.clone();
        assert_eq!(
            run(&spec),
            (ExitStatus::Exited(0), format!("{}\n", dir.display()))
        );
    }

    #[test]
    fn missing_cwd_falls_back_to_root_and_says_so() {
        let mut spec = spec("pwd");
        spec.cwd = PathBuf::from("/nonexistent-cronwright-home");
        let (status, output) = run(&spec);
        assert_eq!(status, ExitStatus::Exited(0));
        assert_eq!(
            output,
            "cronwrightd: cannot change directory to /nonexistent-cronwright-home: \
             No such file or directory; running in /\n/\n"
        );
    }

    #[test]
    fn environment_is_exactly_the_one_given() {
        let mut spec = spec("tr '\\0' '\\n' < /proc/$$/environ");
        spec.env = [
            ("A", "1"),
            ("HOME", "/h"),
            ("PATH", "/usr/bin:/bin"),
            ("A", "3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (status, output) = run(&spec);
        assert_eq!(status, ExitStatus::Exited(0));
        assert_eq!(output, "A=3\nHOME=/h\nPATH=/usr/bin:/bin\n");
    }

    #[test]
    fn signals_are_unblocked_and_at_their_defaults() {
        // The test harness ignores SIGPIPE (Rust's runtime does) and an ignored signal
        // survives exec: the child must undo it. `exec` makes grep report what the shell
        // inherited: a shell waiting for a child blocks signals itself for a moment.
        let (status, output) = run(&spec("exec grep -E '^Sig(Blk|Ign)' /proc/self/status"));
        assert_eq!(status, ExitStatus::Exited(0));
        assert_eq!(
            output,
            "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
        );
    }

    #[test]
    fn reaped_job_leaves_no_zombie() {
        let mut job = spawn(&spec("exit 0"), 1024).expect("spawn");
        assert_eq!(finish(&mut job), ExitStatus::Exited(0));
        assert_eq!(job.try_wait(), Ok(Some(ExitStatus::Exited(0))));
        assert!(job.exited_at().is_some());
        assert!(job.is_finished(Instant::now(), OUTPUT_GRACE_AFTER_EXIT));
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
    fn missing_shell_exits_127_with_a_message() {
        let mut spec = spec("true");
        spec.shell = PathBuf::from("/nonexistent/shell");
        let (status, output) = run(&spec);
        assert_eq!(status, ExitStatus::Exited(SETUP_FAILED_EXIT));
        assert_eq!(
            output,
            "cronwrightd: cannot execute /nonexistent/shell: No such file or directory\n"
        );
    }

    #[test]
    fn strings_that_cannot_reach_exec_are_refused_before_forking() {
        let refused = |spec: Spec| {
            spawn(&spec, 1024)
                .expect_err("spawn must refuse")
                .to_string()
        };
        assert_eq!(
            refused(spec("echo a\0b")),
            "the command contains a NUL byte"
        );
        let mut bad_name = spec("true");
        bad_name.env.push(("A=B".to_owned(), "c".to_owned()));
        assert_eq!(
            refused(bad_name),
            "invalid environment variable name \"A=B\""
        );
        let mut bad_value = spec("true");
        bad_value.env.push(("MAILTO".to_owned(), "a\0b".to_owned()));
        assert_eq!(
            refused(bad_value),
            "environment variable MAILTO contains a NUL byte"
        );
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

    #[test]
    fn the_daemons_own_credentials_run_in_any_mode() {
        let me = current_user().expect("the test's own user");
        let mut own = spec("id -u");
        own.credentials = Some(me.clone());
        assert_eq!(run(&own), (ExitStatus::Exited(0), format!("{}\n", me.uid)));
        if !me.uid.is_root() {
            let mut foreign = spec("id -u");
            foreign.credentials = Some(lookup_user("root").expect("root exists"));
            let err = spawn(&foreign, 1024).expect_err("not root: must refuse");
            assert_eq!(
                err.to_string(),
                "cannot run a job as 'root': the daemon is not running as root"
            );
        }
    }

    /// Creates a group and a user in it, and removes both when dropped (even on failure).
    struct TestUser {
        name: String,
        group: String,
    }

    impl TestUser {
        fn create() -> TestUser {
            let suffix = std::process::id();
            let user = TestUser {
                name: format!("cwrun{suffix}"),
                group: format!("cwrung{suffix}"),
            };
            let ok = |cmd: &mut Command| cmd.status().is_ok_and(|s| s.success());
            assert!(
                ok(Command::new("groupadd").arg(&user.group)),
                "groupadd failed"
            );
            let home = format!("/tmp/{}-home", user.name);
            assert!(
                ok(Command::new("useradd")
                    .args(["-U", "-m", "-d", &home, "-s", "/bin/sh", "-G", &user.group])
                    .arg(&user.name)),
                "useradd failed"
            );
            user
        }
    }

    impl Drop for TestUser {
        fn drop(&mut self) {
            let _ = Command::new("userdel").args(["-r", &self.name]).status();
            let _ = Command::new("groupdel").arg(&self.group).status();
        }
    }

    #[test]
    fn job_runs_with_the_users_uid_gid_groups_and_rights() {
        if !geteuid().is_root() {
            println!("skipped: needs root");
            return;
        }
        let secret_dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(secret_dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod dir");
        let secret = secret_dir.path().join("secret");
        std::fs::write(&secret, "root only\n").expect("write secret");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");

        let user = TestUser::create();
        let creds = lookup_user(&user.name).expect("lookup of the new user");
        let extra = nix::unistd::Group::from_name(&user.group)
            .expect("group lookup")
            .expect("the new group")
            .gid;
        assert!(creds.groups.contains(&extra) && creds.groups.contains(&creds.gid));

        let home = creds.home.display().to_string();
        let mut spec = spec(&format!(
            "id -u; id -g; id -G; echo $HOME $LOGNAME; pwd; cat {}; echo cat=$?",
            secret.display()
        ));
        spec.env = vec![
            ("HOME".to_owned(), home.clone()),
            ("LOGNAME".to_owned(), user.name.clone()),
            ("USER".to_owned(), user.name.clone()),
            ("SHELL".to_owned(), "/bin/sh".to_owned()),
            ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
        ];
        spec.cwd = creds.home.clone();
        spec.credentials = Some(creds.clone());
        let (status, output) = run(&spec);
        assert_eq!(status, ExitStatus::Exited(0), "output: {output}");

        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 7, "output: {output}");
        assert_eq!(lines[0], creds.uid.to_string());
        assert_eq!(lines[1], creds.gid.to_string());
        let mut groups: Vec<&str> = lines[2].split(' ').collect();
        groups.sort_unstable();
        let mut expected: Vec<String> = vec![creds.gid.to_string(), extra.to_string()];
        expected.sort_unstable();
        assert_eq!(groups, expected);
        assert_eq!(lines[3], format!("{home} {}", user.name));
        assert_eq!(lines[4], home);
        assert_eq!(
            lines[5],
            format!("cat: {}: Permission denied", secret.display())
        );
        assert_eq!(lines[6], "cat=1");
    }
}
