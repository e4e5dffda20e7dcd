//! As root: jobs run as their crontab's owner; unsafe files are refused with the reason.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use super::Harness;
use crate::util::{Account, needs_root};

/// A user with a home and an extra group, created for one test and removed afterwards.
pub(crate) struct TempUser {
    // Dropped in this order: the user, then its group.
    user: Account,
    group: Account,
    pub name: String,
}

impl TempUser {
    pub fn new(tag: &str) -> TempUser {
        let name = format!("cwt{tag}{}", std::process::id() % 100_000);
        let group = Account::group(&format!("{name}g"));
        let user = Account::user(&name, true, Some(&group.name));
        TempUser { user, group, name }
    }

    /// The name of the user's extra group.
    pub fn group(&self) -> &str {
        &self.group.name
    }

    pub fn id(&self, flag: &str) -> String {
        let out = Command::new("id")
            .args([flag, &self.user.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn chown(path: &std::path::Path, user: &str) {
    assert!(
        Command::new("chown")
            .arg(user)
            .arg(path)
            .status()
            .unwrap()
            .success()
    );
}

/// Writes the crontab `name` in the harness's directory, owned by `owner`, and returns its
/// path: a daemon running as root judges a file by its owner.
pub(crate) fn write_owned(h: &Harness, name: &str, text: &str, owner: &str) -> PathBuf {
    h.write(name, text);
    let path = h.path(name);
    chown(&path, owner);
    path
}

/// The name of `user`'s crontab in the harness's spool.
pub(crate) fn spool(user: &TempUser) -> String {
    format!("spool/{}", user.name)
}

#[test]
fn spool_crontab_runs_as_its_user_with_uid_gid_groups_home_and_logname() {
    if !needs_root("spool_crontab_runs_as_its_user_with_uid_gid_groups_home_and_logname") {
        return;
    }
    let user = TempUser::new("run");
    let mut h = Harness::new("");
    write_owned(
        &h,
        &spool(&user),
        "* * * * * * echo \"ids $(id -u) $(id -g) $(id -G) $HOME $LOGNAME $(pwd)\"\n",
        &user.name,
    );
    h.start();
    let out = h.wait_for("ids", |l| l.contains("| ids "));
    let expected = format!(
        "ids {} {} {} /home/{n} {n} /home/{n}",
        user.id("-u"),
        user.id("-g"),
        user.id("-G"),
        n = user.name
    );
    assert!(out.ends_with(&expected), "{out}\nexpected …{expected}");
    assert!(out.starts_with(&format!("({}) OUT", user.name)), "{out}");
    // The job process shares the daemon's memory until it execs, so a libc id switch there
    // would reach the daemon's own threads: every one of them must still be root.
    h.wait_for_count("more runs", 2, |l| l.contains("| ids "));
    for task in std::fs::read_dir(format!("/proc/{}/task", h.pid())).unwrap() {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        let ids: Vec<&str> = status
            .lines()
            .filter(|l| l.starts_with("Uid:") || l.starts_with("Gid:"))
            .collect();
        assert_eq!(ids, ["Uid:\t0\t0\t0\t0", "Gid:\t0\t0\t0\t0"], "{status}");
    }
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn unsafe_crontabs_are_refused_with_the_reason_and_the_fix() {
    if !needs_root("unsafe_crontabs_are_refused_with_the_reason_and_the_fix") {
        return;
    }
    let owner = TempUser::new("own");
    let other = TempUser::new("oth");
    let mut h = Harness::new("");
    // Owned by someone else.
    let wrong = write_owned(
        &h,
        &spool(&owner),
        "* * * * * * echo wrong-owner\n",
        &other.name,
    );
    // World-writable.
    let writable = write_owned(
        &h,
        &spool(&other),
        "* * * * * * echo writable\n",
        &other.name,
    );
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o666)).unwrap();
    // A system crontab not owned by root.
    let system = write_owned(
        &h,
        "cron.d/notroot",
        "* * * * * * root echo notroot\n",
        &other.name,
    );
    h.start();
    for path in [&wrong, &writable, &system] {
        let line = h.wait_for("REFUSED", |l| {
            l.starts_with("REFUSED ") && l.contains(&*path.to_string_lossy())
        });
        assert!(
            line.contains("fix:") || line.contains("chown") || line.contains("chmod"),
            "{line}"
        );
    }
    h.gather(std::time::Duration::from_millis(1500));
    for text in ["wrong-owner", "writable", "notroot"] {
        assert!(
            h.lines().iter().all(|l| !l.ends_with(&format!("| {text}"))),
            "{text} ran"
        );
    }
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn symlink_in_the_spool_is_refused() {
    if !needs_root("symlink_in_the_spool_is_refused") {
        return;
    }
    let user = TempUser::new("lnk");
    let mut h = Harness::new("");
    let target = write_owned(&h, "target", "* * * * * * echo via-link\n", &user.name);
    std::os::unix::fs::symlink(target, h.path(&spool(&user))).unwrap();
    h.start();
    h.wait_for("REFUSED symlink", |l| {
        l.starts_with("REFUSED ") && l.contains(&user.name)
    });
    assert_eq!(h.stop(), Some(0));
}
