//! As root: jobs in a PAM session of the `cron` service, for real. The daemon runs where
//! `/etc/pam.d/cron` is the test's own service file (an overlay of `/etc` in a mount
//! namespace of its own), whose modules read the test's `limits.conf` and environment file:
//! libpam, pam_unix, pam_env and pam_limits as Debian ships them, nothing stood in for.

use std::path::PathBuf;
use std::process::Command;

use super::users::{TempUser, spool, write_owned};
use super::{Harness, field};
use crate::util::needs_root;

/// The test's `/etc/pam.d/cron`: the account check of `pam_unix` (expiry, locks), then a
/// session with `pam_env` and `pam_limits` reading the harness's files, as Debian's own
/// service file has them.
fn service_file(h: &Harness, user: &TempUser) -> PathBuf {
    let dir = h.dir.path().display().to_string();
    std::fs::write(
        h.path("limits.conf"),
        format!("{u} soft nofile 777\n{u} hard nofile 888\n", u = user.name),
    )
    .unwrap();
    std::fs::write(
        h.path("environment"),
        "FROM_PAM=yes\nPATH=/from/pam/environment\n",
    )
    .unwrap();
    let service = h.path("pam-cron");
    std::fs::write(
        &service,
        format!(
            "account required pam_unix.so\n\
             session required pam_env.so readenv=1 user_readenv=0 envfile={dir}/environment\n\
             session required pam_limits.so conf={dir}/limits.conf\n\
             session required pam_unix.so\n"
        ),
    )
    .unwrap();
    service
}

/// A harness with PAM on, its daemon started with the test's service file.
fn start(h: &mut Harness, user: &TempUser) {
    let service = service_file(h, user);
    h.start_with_etc_files(&[("/etc/pam.d/cron", &service)]);
}

#[test]
fn pam_session_gives_the_job_its_limits_and_environment_and_the_crontab_wins() {
    if !needs_root("pam_session_gives_the_job_its_limits_and_environment_and_the_crontab_wins") {
        return;
    }
    let user = TempUser::new("pam");
    let mut h = Harness::new("[jobs]\npam = true\n");
    write_owned(
        &h,
        &spool(&user),
        "* * * * * * echo \"session $(id -un) nofile $(ulimit -n) $(ulimit -Hn) \
         env $FROM_PAM path $PATH\"\n",
        &user.name,
    );
    start(&mut h, &user);
    assert!(
        h.lines()
            .iter()
            .any(|l| l.starts_with("START") && l.contains(" pam=cron")),
        "{:?}",
        h.lines()
    );
    let out = h.wait_for("the job's session", |l| l.contains("| session "));
    // PATH is the crontab's default, not /etc/environment's: cron's variables win, as in
    // cronie and Debian's cron.
    assert!(
        out.ends_with(&format!(
            "| session {} nofile 777 888 env yes path /usr/bin:/bin",
            user.name
        )),
        "{out}"
    );
}

#[test]
fn expired_account_is_refused_with_pams_reason_and_its_job_never_runs() {
    if !needs_root("expired_account_is_refused_with_pams_reason_and_its_job_never_runs") {
        return;
    }
    let user = TempUser::new("exp");
    let expired = Command::new("chage")
        .args(["-E", "0", &user.name])
        .output()
        .unwrap();
    assert!(expired.status.success(), "chage: {expired:?}");
    let home = PathBuf::from(format!("/home/{}", user.name));
    let mut h = Harness::new("[jobs]\npam = true\n");
    write_owned(
        &h,
        &spool(&user),
        "* * * * * * touch $HOME/ran; echo ran\n",
        &user.name,
    );
    start(&mut h, &user);
    let refused = h.wait_for("the refusal", |l| l.contains("PAM refused"));
    let pid = refused
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no pid in {refused}"))
        .to_string();
    assert_eq!(
        refused,
        format!(
            "ERROR {}:1: PAM refused the run for {} (pid {pid}), so the command did not run: \
             account check: User account has expired",
            h.path(&spool(&user)).display(),
            user.name
        )
    );
    assert_eq!(h.events("CMD", &pid).len(), 1, "{:?}", h.lines());
    assert!(h.events("END", &pid).is_empty(), "{:?}", h.lines());
    assert!(h.events("OUT", &pid).is_empty(), "{:?}", h.lines());
    assert!(!home.join("ran").exists(), "the refused job ran");
}

#[test]
fn exit_codes_and_signals_pass_through_the_session_helper() {
    if !needs_root("exit_codes_and_signals_pass_through_the_session_helper") {
        return;
    }
    let user = TempUser::new("pst");
    let mut h = Harness::new("[jobs]\npam = true\n");
    write_owned(
        &h,
        &spool(&user),
        "* * * * * * echo three; exit 3\n* * * * * * echo usr1; kill -USR1 $$\n",
        &user.name,
    );
    start(&mut h, &user);
    let ended = |h: &mut Harness, line: &str| {
        let pid = field(&h.wait_for(line, |l| l.ends_with(line)), "pid")
            .unwrap()
            .to_string();
        let end = h.wait_for_event("END", &pid);
        field(&end, "status").unwrap().to_string()
    };
    assert_eq!(ended(&mut h, "| three"), "3");
    assert_eq!(ended(&mut h, "| usr1"), "signal:10");
}

#[test]
fn session_helper_runs_with_none_of_the_crontabs_variables() {
    if !needs_root("session_helper_runs_with_none_of_the_crontabs_variables") {
        return;
    }
    // The helper runs as root: a crontab's LD_PRELOAD reaching it would run a user's code as
    // root. Only the job, in the crontab's name, gets the crontab's variables. A root job
    // can read its parent's (the helper's) environment.
    let user = TempUser::new("pev");
    let mut h = Harness::new("[jobs]\npam = true\n");
    h.write(
        "cron.d/helper-env",
        "SECRET=from-the-crontab\n\
         * * * * * * root echo \"helper $(tr '\\0' '\\n' < /proc/$PPID/environ | wc -l) \
         $(tr '\\0' ' ' < /proc/$PPID/cmdline)job $SECRET\"\n",
    );
    start(&mut h, &user);
    let out = h.wait_for("the helper's environment", |l| l.contains("| helper "));
    assert!(
        out.ends_with("| helper 0 cronwright-session root job from-the-crontab"),
        "{out}"
    );
}
