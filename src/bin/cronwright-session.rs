//! `cronwright-session`: the process between cronwrightd and a job that runs in a PAM
//! session. cronwrightd starts it, as root, for each such job; it opens the session, runs the
//! job as its user, closes the session and ends as the job did. Not a command for people:
//! everything it does is in `cronwright::daemon::session_helper` (the library's
//! `runner/session.rs`), and this binary links nothing else, so that it starts fast.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(cronwright::daemon::session_helper() as u8)
}
