//! Jobs in a PAM session: the daemon's side (the plan a job's session helper gets, and the
//! helper's start) and the helper itself ([`helper_main`]).
//!
//! PAM cannot run between the daemon's clone and exec (libpam allocates, reads files and
//! loads modules) nor in the daemon's loop (a module may block on NSS or a bus). So a job
//! with a PAM session is started as Debian's cron and cronie start one, a process in between:
//! the daemon clones and execs a helper, `cronwright-session` ([`HELPER_NAME`]), found beside
//! the daemon's own binary ([`helper_path`]). It is a program of its own, not cronwrightd
//! again: a smaller program starts faster for each job, and links none of the daemon's
//! libraries it does not need (when cronwrightd carried a compiled-in tz database, its
//! relocation cost each job 1.1 ms more). The helper, still root, opens
//! the session (account check, session, credentials), forks
//! the job, which takes the user's identity and execs the shell, waits for it, closes the
//! session and exits as the job did: with its exit code, or by its signal.
//!
//! What the helper is given:
//! - an empty environment: the crontab's variables would reach a process running as root
//!   (`LD_PRELOAD`), so they travel in the plan, and only the job gets them;
//! - the plan ([`Plan`], JSON in a sealed memfd) at descriptor 3, never in its arguments,
//!   which every user can read in `/proc`;
//! - a pipe at descriptor 4, its report: empty when the job ran, otherwise one line saying
//!   why it did not (`account check: User account has expired`). The job never has it, so
//!   nothing the job does can forge a refusal;
//! - 0, 1 and 2 as a job gets them, a session of its own (the job stays in it, so signals to
//!   the group reach both), and the job's descriptor limit, which `pam_limits` may change.
//!
//! The helper blocks SIGTERM, SIGINT, SIGHUP and SIGQUIT: a stop's SIGTERM to the group ends
//! the job, and the helper lives on to close the session. The job's environment is PAM's
//! variables, then the daemon's (a crontab's `PATH` overrides `/etc/environment`'s), as
//! cronie builds it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask, raise};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Gid, Uid, pipe2};
use serde::{Deserialize, Serialize};

use super::child::{self, PASSED_FIRST, Passed, Prepared};
use super::pam::Pam;
use super::{Credentials, RunnerError, SETUP_FAILED_EXIT, Spec, sealed_memfd};

/// The PAM service jobs run under, as with Debian's cron and cronie.
pub const SERVICE: &str = "cron";

/// Its configuration file: where it exists, jobs get a PAM session unless the configuration
/// says otherwise.
pub const SERVICE_FILE: &str = "/etc/pam.d/cron";

/// The session helper's file name, beside `cronwrightd`.
pub const HELPER_NAME: &str = "cronwright-session";

/// Where the session helper is: beside the running daemon's binary (as installed, or as
/// built), so it is as trusted as the daemon itself and no configuration can point a root
/// daemon at another program.
pub fn helper_path() -> Option<PathBuf> {
    let own = std::env::current_exe().ok()?;
    Some(own.with_file_name(HELPER_NAME))
}

/// Everything of a job the helper needs and may not take from its environment or arguments.
#[derive(Debug, Serialize, Deserialize)]
struct Plan {
    user: String,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    home: PathBuf,
    shell: PathBuf,
    command: String,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

/// The daemon's side of a helper about to be cloned: what it execs, the descriptors it is
/// passed, and the read end of its report for the job.
pub(super) struct Start {
    pub prepared: Prepared,
    plan: OwnedFd,
    report_write: OwnedFd,
    pub report: OwnedFd,
}

impl Start {
    pub fn new(
        spec: &Spec,
        credentials: &Credentials,
        helper: &Path,
    ) -> Result<Start, RunnerError> {
        let plan = Plan {
            user: credentials.user.clone(),
            uid: credentials.uid.as_raw(),
            gid: credentials.gid.as_raw(),
            groups: credentials.groups.iter().map(|g| g.as_raw()).collect(),
            home: credentials.home.clone(),
            shell: spec.shell.clone(),
            command: spec.command.clone(),
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
        };
        let json = serde_json::to_vec(&plan).map_err(|e| {
            RunnerError::Stdin(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })?;
        let plan = child::above(sealed_memfd(&json, c"cronwright-plan")?, PASSED_FIRST)?;
        let (read, write) = pipe2(OFlag::O_CLOEXEC).map_err(|source| RunnerError::Os {
            what: "pipe (session report)",
            source,
        })?;
        let report = child::above(read, PASSED_FIRST)?;
        let report_write = child::above(write, PASSED_FIRST)?;
        fcntl(&report, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|source| RunnerError::Os {
            what: "fcntl O_NONBLOCK",
            source,
        })?;
        let prepared = Prepared::helper(
            helper,
            &[HELPER_NAME, &credentials.user],
            spec.descriptor_limit,
        )?;
        Ok(Start {
            prepared,
            plan,
            report_write,
            report,
        })
    }

    /// The descriptors the helper gets at 3 and 4.
    pub fn passed(&self) -> Passed {
        Passed::new(self.plan.as_fd(), self.report_write.as_fd())
    }
}

/// Reads what a helper that has exited reported: `None` when the job ran.
pub(super) fn read_report(report: OwnedFd) -> Option<String> {
    let mut text = Vec::new();
    // The helper has exited, so all it wrote is in the pipe; a job's background process
    // never has the pipe, so the read cannot wait on one.
    let _ = File::from(report).take(4096).read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text).trim_end().to_owned();
    (!text.is_empty()).then_some(text)
}

/// `cronwright-session USER`: the helper's whole life. Returns only an exit code for a
/// failure before the job started; otherwise it ends as the job did.
pub fn helper_main() -> i32 {
    let Some((plan, report)) = child::take_passed() else {
        eprintln!(
            "{HELPER_NAME}: run by cronwrightd for each job, with its plan at descriptor 3; \
             not a command"
        );
        return 2;
    };
    let mut report = File::from(report);
    let mut refuse = |why: String| {
        let _ = writeln!(report, "{why}");
        SETUP_FAILED_EXIT
    };
    let stop_signals = [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ];
    let _ = pthread_sigmask(
        SigmaskHow::SIG_BLOCK,
        Some(&stop_signals.into_iter().collect()),
        None,
    );
    let plan = match read_plan(plan) {
        Ok(plan) => plan,
        Err(e) => return refuse(format!("cannot read the job's plan: {e}")),
    };
    let pam = match Pam::open(SERVICE, &plan.user) {
        Ok(pam) => pam,
        Err(r) => return refuse(format!("{}: {}", r.step, r.reason)),
    };
    let spec = job_spec(plan, pam.env());
    let child = match Prepared::in_session(&spec).and_then(|p| child::fork_exec(&p)) {
        Ok(child) => child,
        Err(e) => return refuse(e.to_string()),
    };
    let status = loop {
        match waitpid(child, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other,
        }
    };
    drop(pam);
    match status {
        Ok(WaitStatus::Exited(_, code)) => code,
        Ok(WaitStatus::Signaled(_, signal, _)) => die_by(signal),
        // Neither can happen without WUNTRACED, nor while the helper waits for its only child.
        _ => SETUP_FAILED_EXIT,
    }
}

fn read_plan(fd: OwnedFd) -> std::io::Result<Plan> {
    let mut json = Vec::new();
    File::from(fd).read_to_end(&mut json)?;
    serde_json::from_slice(&json).map_err(std::io::Error::other)
}

/// The job as the helper starts it: the plan's, with PAM's variables first so that the
/// daemon's override them.
fn job_spec(plan: Plan, pam_env: Vec<(String, String)>) -> Spec {
    let mut env = pam_env;
    env.extend(plan.env);
    Spec {
        shell: plan.shell,
        command: plan.command,
        env,
        cwd: plan.cwd,
        stdin: None,
        credentials: Some(Credentials {
            uid: Uid::from_raw(plan.uid),
            gid: Gid::from_raw(plan.gid),
            groups: plan.groups.into_iter().map(Gid::from_raw).collect(),
            user: plan.user,
            home: plan.home,
            // Not used for a job: it runs under the plan's shell.
            shell: PathBuf::new(),
        }),
        descriptor_limit: None,
        session_helper: None,
    }
}

/// Ends the helper by the signal that ended the job, so the daemon sees the job's status.
/// No core: the job dumped its own, if it was to.
fn die_by(signal: Signal) -> i32 {
    use nix::sys::resource::{Resource, setrlimit};
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
    // Its action is the default (the clone reset every one); only the mask may hold it.
    let mut only = SigSet::empty();
    only.add(signal);
    let _ = raise(signal);
    let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&only), None);
    // A signal whose default is to be ignored (SIGCHLD, SIGWINCH…) cannot end a job.
    128 + signal as i32
}
