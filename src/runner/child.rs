//! Between clone and exec: the job's process from its first instruction to `execve`, what is
//! computed for it beforehand ([`Prepared`]), the clone itself ([`clone_child`]) and the
//! descriptor numbers it relies on ([`above_stdio`]), and the same for the session helper:
//! the descriptors it is passed ([`Passed`], [`take_passed`]) and the fork of its job
//! ([`fork_exec`]). Every `unsafe` of cronwright is in this file, but for the calls into
//! libpam (`pam.rs`).
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
//! only to that stack (and errno), since the memory it could change is the daemon's. Ids are
//! switched with raw system calls rather than glibc's wrappers, which would treat the daemon's
//! threads as the child's own. All signals are blocked across the clone so that no handler of
//! the daemon (`signal-hook` writes to the daemon's self-pipe) ever runs in the child; the
//! child restores defaults (in its own copy of the handler table), then unblocks.
//!
//! If a step fails, the child writes one line starting with `cronwrightd: ` to the output pipe
//! and exits with [`SETUP_FAILED_EXIT`].

use std::ffi::{CString, c_char, c_int, c_void};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
use nix::unistd::{Gid, Pid, Uid, chdir, dup2_stderr, dup2_stdin, dup2_stdout, geteuid, setsid};

use super::{RunnerError, SETUP_FAILED_EXIT, Spec};

/// Starts the job's process: `clone(CLONE_VM | CLONE_VFORK)` into [`exec_child`], with every
/// signal blocked across it. Returns once the child has called execve or exited, so nothing
/// of the child runs on this thread's data afterwards. `stdin` and `out` become the child's 0
/// and 1 + 2; both must be 3 or above ([`above_stdio`]), or one `dup2` would overwrite another.
pub(super) fn clone_child(
    prepared: &Prepared,
    stdin: BorrowedFd<'_>,
    out: BorrowedFd<'_>,
    passed: Passed,
) -> Result<Pid, RunnerError> {
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
    let args = ChildArgs {
        prepared,
        stdin: stdin.as_raw_fd(),
        out: out.as_raw_fd(),
        passed,
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
    // `stack`, `args`, `prepared` and the two descriptors stay alive and unchanged while the
    // child uses them. The child calls only raw system calls and async-signal-safe functions,
    // never allocates, and writes only to its own stack and to errno (this thread's, which is
    // read just below only if clone itself failed, when no child ran).
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            &args as *const ChildArgs as *mut c_void,
        )
    };
    // Read before munmap (dropping the stack) can touch errno.
    let forked = if pid < 0 {
        Err(Errno::last())
    } else {
        Ok(Pid::from_raw(pid))
    };
    drop(stack);
    // Restoring a mask we just read cannot fail.
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
    forked.map_err(|source| RunnerError::Os {
        what: "clone",
        source,
    })
}

/// Starts `prepared` from the session helper, with a plain fork: the helper is a process of
/// its own, not the daemon, so no page tables of the job table are copied. The child keeps
/// the helper's 0, 1 and 2 and its session, and closes everything else.
pub(super) fn fork_exec(prepared: &Prepared) -> Result<Pid, RunnerError> {
    // SAFETY: the child runs only `exec_child`, which calls async-signal-safe functions and
    // system calls alone, so the fork is sound whatever threads a PAM module started.
    match unsafe { nix::unistd::fork() } {
        // SAFETY: a new process before exec; its 0, 1 and 2 are the helper's, in place.
        Ok(nix::unistd::ForkResult::Child) => unsafe {
            exec_child(prepared, 0, 1, Passed::default())
        },
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(child),
        Err(source) => Err(RunnerError::Os {
            what: "fork",
            source,
        }),
    }
}

/// The session helper's side of [`Passed`]: descriptors 3 and 4, if this process was started
/// with them open (a hand-run `cronwrightd --pam-session` has neither).
pub(super) fn take_passed() -> Option<(OwnedFd, OwnedFd)> {
    let open = |fd: RawFd| {
        // SAFETY: F_GETFD only reads the descriptor's flags; an unopened number is EBADF.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    };
    if !(open(3) && open(4)) {
        return None;
    }
    // SAFETY: both are open, and nothing else in this process owns them: `exec_child` put
    // them there for this call, which `session::helper_main` makes once, before anything
    // opens a file.
    Some(unsafe { (OwnedFd::from_raw_fd(3), OwnedFd::from_raw_fd(4)) })
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
    passed: Passed,
}

/// Descriptors a program gets besides 0, 1 and 2: the first at 3, the second at 4. The
/// session helper gets its plan and its report pipe so; a job gets none. Each must already be
/// at [`PASSED_FIRST`] or above ([`above`]), so that moving one into place never overwrites
/// another.
#[derive(Clone, Copy, Default)]
pub(super) struct Passed {
    fds: [RawFd; 2],
    count: usize,
}

/// The lowest number a descriptor handed to [`Passed::new`] may have.
pub(super) const PASSED_FIRST: RawFd = 5;

impl Passed {
    pub(super) fn new(first: BorrowedFd<'_>, second: BorrowedFd<'_>) -> Passed {
        Passed {
            fds: [first.as_raw_fd(), second.as_raw_fd()],
            count: 2,
        }
    }
}

extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `ChildArgs` that `clone_child` passed to clone; `clone_child` is
    // suspended (CLONE_VFORK) and keeps it alive until this process has exec'd or exited.
    let args = unsafe { &*(arg as *const ChildArgs) };
    // SAFETY: this is the new process started by `clone_child`'s clone, before exec.
    unsafe { exec_child(args.prepared, args.stdin, args.out, args.passed) }
}

/// Everything the child needs, computed in the parent so that the child never allocates.
/// The pointer arrays point into the C strings owned alongside them.
pub(super) struct Prepared {
    program: CString,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const c_char>,
    _env: Vec<CString>,
    env_ptrs: Vec<*const c_char>,
    cwd: CString,
    ids: Option<Ids>,
    /// Whether the process leads a new session and process group: a job started by the
    /// daemon does; a job started by its session helper stays in the helper's, which the
    /// daemon signals as the job's.
    new_session: bool,
    close_limit: c_int,
    /// The job's descriptor limit, set after closing what it must not inherit.
    descriptor_limit: Option<libc::rlimit>,
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
    /// `spec.shell -c spec.command` as `spec` says, in a session of its own.
    pub(super) fn new(spec: &Spec) -> Result<Prepared, RunnerError> {
        let shell = path_cstring(&spec.shell, "the shell path")?;
        let command = CString::new(spec.command.as_bytes()).map_err(|_| RunnerError::Nul {
            what: "the command".to_owned(),
        })?;
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
        Ok(Prepared::build(
            shell.clone(),
            vec![shell, c"-c".to_owned(), command],
            env_cstrings(&spec.env)?,
            path_cstring(&spec.cwd, "the working directory")?,
            ids,
            spec.descriptor_limit,
        ))
    }

    /// The session helper (`program`, `cronwright-session`) for a job: as root, in
    /// `/`, with an empty environment, since a crontab's variables (`LD_PRELOAD`) must never
    /// reach a process running as root. It finds its plan at descriptor 3.
    pub(super) fn helper(
        program: &Path,
        argv: &[&str],
        descriptor_limit: Option<u64>,
    ) -> Result<Prepared, RunnerError> {
        let argv = argv
            .iter()
            .map(|a| {
                CString::new(*a).map_err(|_| RunnerError::Nul {
                    what: format!("the helper's argument {a:?}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Prepared::build(
            path_cstring(program, "the helper's path")?,
            argv,
            Vec::new(),
            c"/".to_owned(),
            None,
            descriptor_limit,
        ))
    }

    /// The job a session helper starts (`spec`, whose environment has PAM's variables): in
    /// the helper's session, so that the daemon's signals to the helper's group reach it.
    pub(super) fn in_session(spec: &Spec) -> Result<Prepared, RunnerError> {
        let mut prepared = Prepared::new(spec)?;
        prepared.new_session = false;
        Ok(prepared)
    }

    fn build(
        program: CString,
        argv: Vec<CString>,
        env: Vec<CString>,
        cwd: CString,
        ids: Option<Ids>,
        descriptor_limit: Option<u64>,
    ) -> Prepared {
        let argv_ptrs = null_terminated(&argv);
        let env_ptrs = null_terminated(&env);
        let signal_max = libc::SIGRTMAX();
        Prepared {
            program,
            _argv: argv,
            argv_ptrs,
            _env: env,
            env_ptrs,
            cwd,
            ids,
            new_session: true,
            close_limit: close_limit(),
            descriptor_limit: descriptor_limit.map(|soft| {
                let hard = hard_descriptor_limit();
                libc::rlimit {
                    rlim_cur: soft.min(hard),
                    rlim_max: hard,
                }
            }),
            signal_max,
            sigset_size: (signal_max as usize).div_ceil(8),
        }
    }
}

/// The pointers of `strings` for execve, with the NULL that ends the array.
fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    let mut ptrs: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    ptrs
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

/// Upper bound on descriptors closed one by one when `close_range(2)` is missing (Linux < 5.9):
/// an unlimited or enormous `RLIMIT_NOFILE` would otherwise make every spawn crawl.
const CLOSE_LOOP_MAX: u64 = 1 << 20;

/// The descriptor number below which the child closes one by one if `close_range` is missing.
/// The hard descriptor limit, the ceiling of a job's soft one.
fn hard_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we pass; no other memory is touched.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => limit.rlim_max,
        _ => libc::RLIM_INFINITY,
    }
}

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

/// Moves a descriptor to 3 or above. A daemon started with 0, 1 or 2 closed gets those numbers
/// for its pipes, and the child's `dup2` onto 0, 1 and 2 would then overwrite one source with
/// another. It is here rather than with the pipes because it is what [`clone_child`] asks of
/// its descriptors, and because nix 0.30 returns F_DUPFD_CLOEXEC's descriptor as a bare
/// number, so taking ownership of it takes an `unsafe`, and they all live in this file.
pub(super) fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, RunnerError> {
    above(fd, 3)
}

/// Moves a descriptor to `min` or above (see [`above_stdio`] and [`Passed`]).
pub(super) fn above(fd: OwnedFd, min: RawFd) -> Result<OwnedFd, RunnerError> {
    if fd.as_raw_fd() >= min {
        return Ok(fd);
    }
    let raw = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(min)).map_err(|source| RunnerError::Os {
        what: "fcntl F_DUPFD_CLOEXEC",
        source,
    })?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// The child's side, from clone (or the session helper's fork) to exec. Never returns.
///
/// # Safety
/// Only in a new process before exec: the child of `clone_child`'s clone, with `stdin` and
/// `out` open and >= 3 and `passed` as [`Passed`] says; or the child of [`fork_exec`], where
/// 0, 1 and 2 are already in place.
unsafe fn exec_child(p: &Prepared, stdin: RawFd, out: RawFd, passed: Passed) -> ! {
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
    if p.new_session {
        if let Err(e) = setsid() {
            die(out, &[b"cannot start a new session"], e);
        }
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
    for (i, &fd) in passed.fds[..passed.count].iter().enumerate() {
        // dup2 leaves the copy without close-on-exec, so the program keeps it.
        // SAFETY: dup2 only changes this process's descriptor table; `fd` is open.
        if unsafe { libc::dup2(fd, 3 + i as c_int) } < 0 {
            die(
                out,
                &[b"cannot pass descriptors to the session helper"],
                Errno::last(),
            );
        }
    }
    close_from(3 + passed.count as c_int, p.close_limit);
    const ERR: RawFd = 2;
    if let Some(limit) = &p.descriptor_limit {
        // SAFETY: setrlimit reads one rlimit from the prepared struct; a system call,
        // async-signal-safe. Lowering a soft limit cannot fail with a valid struct, and a job
        // left with the daemon's higher limit is no reason to refuse it.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) };
    }

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
    unsafe {
        libc::execve(
            p.program.as_ptr(),
            p.argv_ptrs.as_ptr(),
            p.env_ptrs.as_ptr(),
        )
    };
    die(
        ERR,
        &[b"cannot execute ", p.program.as_bytes()],
        Errno::last(),
    )
}

/// Closes every descriptor from `first` up. Async-signal-safe.
fn close_from(first: c_int, limit: c_int) {
    // SAFETY: close_range(2) only closes descriptors; it is a plain system call (the raw
    // syscall, not glibc's wrapper, so that older glibc builds link).
    let closed = unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0u32) };
    if closed != 0 {
        for fd in first..limit {
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
    use crate::runner::tests::{run, spec};
    use crate::runner::{ExitStatus, SETUP_FAILED_EXIT, Spec, current_user, lookup_user, spawn};
    use nix::unistd::geteuid;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::process::Command;

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
            if let Err(why) = quietly(Command::new("groupadd").arg(&user.group)) {
                panic!("groupadd failed: {why}");
            }
            let home = format!("/tmp/{}-home", user.name);
            if let Err(why) = quietly(
                Command::new("useradd")
                    .args(["-U", "-m", "-d", &home, "-s", "/bin/sh", "-G", &user.group])
                    .arg(&user.name),
            ) {
                panic!("useradd failed: {why}");
            }
            user
        }
    }

    impl Drop for TestUser {
        fn drop(&mut self) {
            // Best effort, and silent: userdel -r complains on stderr about the mail spool
            // useradd never made, which is noise in every `cargo test`.
            let _ = quietly(Command::new("userdel").args(["-r", &self.name]));
            let _ = quietly(Command::new("groupdel").arg(&self.group));
        }
    }

    /// Runs an administration command with its output captured, so that none of it lands in
    /// the test run's output; `Err` says how it failed, with what it wrote to stderr.
    fn quietly(cmd: &mut Command) -> Result<(), String> {
        match cmd.output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(e.to_string()),
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
