//! `crontab` (cronwright's, cronie-compatible) and `cronwright list`, driving the real binary
//! on a temporary spool named by a configuration file. As root, a set-group-ID copy of the
//! binary is run as test users with `runuser`, with the spool `root:<group> 1730` as Debian has
//! it, to show what a user can and cannot do.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::unistd::{User, getuid};

use crate::util::{
    Account, CRONWRIGHT_BIN, in_mount_namespace, needs_root, run, text, with_etc_files,
    write_script,
};

fn me() -> User {
    User::from_uid(getuid()).unwrap().unwrap()
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A temporary directory with `spool/` and `cronwright.toml` naming it, `allow` and `deny`
/// as the access files (absent until a test writes them), and nothing else as a source.
pub(crate) struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup::in_dir(None)
    }

    fn in_dir(parent: Option<&Path>) -> Setup {
        let dir = match parent {
            Some(p) => tempfile::tempdir_in(p).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        fs::create_dir(dir.path().join("spool")).unwrap();
        let s = Setup { dir };
        s.write_config("");
        s
    }

    /// Absolute paths, so that the file means the same copied to `/etc/cronwright` (see
    /// [`with_system_config`]).
    pub fn write_config(&self, extra: &str) {
        let config = format!(
            "[sources]\nsystem_crontab = \"\"\nsystem_dirs = []\nuser_spool = \"{dir}/spool\"\n\
             [crontab]\nallow_file = \"{dir}/allow\"\ndeny_file = \"{dir}/deny\"\n{extra}\
             [daemon]\ntimezone = \"UTC\"\n",
            dir = self.dir.path().display()
        );
        fs::write(self.config(), config).unwrap();
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> PathBuf {
        self.path("cronwright.toml")
    }

    fn spool(&self) -> PathBuf {
        self.path("spool")
    }

    /// `cronwright crontab --config <ours>`, with no editor from the caller's environment.
    fn crontab(&self) -> Command {
        let mut c = Command::new(CRONWRIGHT_BIN);
        c.arg("crontab").arg("--config").arg(self.config());
        c.env_remove("VISUAL").env_remove("EDITOR");
        c.env_remove("CRONWRIGHT_CONFIG");
        c
    }

    fn spool_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.spool())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// A `Setup` for a test that runs `crontab` with `--config` as the invoking user: only root
/// may name a configuration, so without root the test is skipped.
fn setup(test: &str) -> Option<Setup> {
    needs_root(test).then(Setup::new)
}

/// `cmd` run where `/etc/cronwright/cronwright.toml` is a copy of `config`: a `crontab` run
/// by anyone but root reads only that path (see [`with_etc_files`]). As root.
fn with_system_config(config: &Path, cmd: &Command) -> Command {
    with_etc_files(&[("/etc/cronwright/cronwright.toml", config)], cmd)
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

pub(crate) const GOOD: &str = "MAILTO=\"\"\n*/5 * * * * echo hello\n";

#[test]
fn install_from_a_file_then_list_prints_it_back() {
    let Some(s) = setup("install_from_a_file_then_list_prints_it_back") else {
        return;
    };
    let user = me().name;
    let file = s.path("mine.cron");
    fs::write(&file, GOOD).unwrap();
    let out = run(s.crontab().arg(&file), "");
    ok(&out);
    assert_eq!(text(&out.stderr), "");
    assert_eq!(s.spool_names(), vec![user.clone()]);
    let meta = fs::metadata(s.spool().join(&user)).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), getuid().as_raw());
    let out = run(s.crontab().arg("-l"), "");
    ok(&out);
    assert_eq!(text(&out.stdout), GOOD);
}

#[test]
fn install_from_standard_input_with_a_dash_or_no_argument() {
    let Some(s) = setup("install_from_standard_input_with_a_dash_or_no_argument") else {
        return;
    };
    ok(&run(s.crontab().arg("-"), GOOD));
    assert_eq!(fs::read_to_string(s.spool().join(me().name)).unwrap(), GOOD);
    // Standard input is not a terminal here, so no argument reads it too (cronie).
    ok(&run(&mut s.crontab(), "@daily true\n"));
    let out = run(s.crontab().arg("-l"), "");
    assert_eq!(text(&out.stdout), "@daily true\n");
}

#[test]
fn a_syntax_error_is_refused_with_the_caret_and_nothing_is_installed() {
    let Some(s) = setup("a_syntax_error_is_refused_with_the_caret_and_nothing_is_installed") else {
        return;
    };
    let file = s.path("bad.cron");
    fs::write(&file, "*/5 * * * * echo fine\n0 0 1 jna * echo typo\n").unwrap();
    let out = run(s.crontab().arg(&file), "");
    assert_eq!(out.status.code(), Some(1));
    let name = file.display();
    assert_eq!(
        text(&out.stderr),
        format!(
            "{name}:2:7: error: unknown month name 'jna' (expected 1-12 or jan-dec); did you mean 'jan'?\n  |\n\
             2 | 0 0 1 jna * echo typo\n  |       ^^^\n\n\
             {name}: 1 error, 0 warnings; 1 entry fine (line 1)\n\
             errors in crontab file, can't install.\n"
        )
    );
    assert!(s.spool_names().is_empty());
    // An installed crontab stays as it was; standard input is named `-`.
    ok(&run(s.crontab().arg("-"), GOOD));
    let out = run(s.crontab().arg("-"), "60 * * * * x\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("-:1:1: error: minute 60 is out of range"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fs::read_to_string(s.spool().join(me().name)).unwrap(), GOOD);
    assert_eq!(s.spool_names(), vec![me().name]);
}

#[test]
fn warnings_alone_are_shown_and_the_crontab_is_installed() {
    let Some(s) = setup("warnings_alone_are_shown_and_the_crontab_is_installed") else {
        return;
    };
    let out = run(s.crontab().arg("-"), "0 0 30 2 * never\n");
    ok(&out);
    assert!(
        text(&out.stderr).contains(":1:5: warning: "),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(s.spool_names(), vec![me().name]);
}

#[test]
fn dash_t_checks_the_syntax_only() {
    let Some(s) = setup("dash_t_checks_the_syntax_only") else {
        return;
    };
    let good = s.path("good.cron");
    fs::write(&good, GOOD).unwrap();
    let out = run(s.crontab().arg("-T").arg(&good), "");
    ok(&out);
    assert_eq!(
        text(&out.stderr),
        "No syntax issues were found in the crontab file.\n"
    );
    let out = run(s.crontab().args(["-T", "-"]), "* * * jna * x\n");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("-:1:7: error: unknown month name 'jna'"),
        "{err}"
    );
    assert!(
        err.ends_with("Invalid crontab file. Syntax issues were found.\n"),
        "{err}"
    );
    assert!(s.spool_names().is_empty());
}

#[test]
fn list_and_remove_without_a_crontab_say_so_and_exit_1() {
    let Some(s) = setup("list_and_remove_without_a_crontab_say_so_and_exit_1") else {
        return;
    };
    for op in ["-l", "-r"] {
        let out = run(s.crontab().arg(op), "");
        assert_eq!(out.status.code(), Some(1), "{op}");
        assert_eq!(text(&out.stderr), format!("no crontab for {}\n", me().name));
        assert_eq!(text(&out.stdout), "");
    }
}

#[test]
fn remove_deletes_and_with_i_asks_first() {
    let Some(s) = setup("remove_deletes_and_with_i_asks_first") else {
        return;
    };
    let user = me().name;
    ok(&run(s.crontab().arg("-"), GOOD));
    let out = run(s.crontab().args(["-r", "-i"]), "n\n");
    ok(&out);
    assert_eq!(
        text(&out.stdout),
        format!("crontab: really delete {user}'s crontab? (y/n) ")
    );
    assert_eq!(s.spool_names(), vec![user.clone()]);
    // End of input is a no too.
    ok(&run(s.crontab().arg("-ri"), ""));
    assert_eq!(s.spool_names(), vec![user.clone()]);
    ok(&run(s.crontab().arg("-ri"), "y\n"));
    assert!(s.spool_names().is_empty());
    ok(&run(s.crontab().arg("-"), GOOD));
    ok(&run(s.crontab().arg("-r"), ""));
    assert!(s.spool_names().is_empty());
}

#[test]
fn only_one_operation_and_no_file_after_one() {
    let Some(s) = setup("only_one_operation_and_no_file_after_one") else {
        return;
    };
    let out = run(s.crontab().args(["-l", "-r"]), "");
    assert_eq!(out.status.code(), Some(1));
    let out = run(s.crontab().args(["-l", "file"]), "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .starts_with("crontab: usage error: no arguments permitted after this option"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn edit_runs_the_editor_and_installs_the_edit() {
    let Some(s) = setup("edit_runs_the_editor_and_installs_the_edit") else {
        return;
    };
    ok(&run(s.crontab().arg("-"), GOOD));
    let script = s.path("edit.sh");
    write_script(&script, "sed -i 's/hello/goodbye/' \"$1\"\n");
    let out = run(s.crontab().arg("-e").env("EDITOR", &script), "");
    ok(&out);
    assert_eq!(text(&out.stderr), "crontab: installing new crontab\n");
    let installed = fs::read_to_string(s.spool().join(me().name)).unwrap();
    assert_eq!(installed, GOOD.replace("hello", "goodbye"));
    // VISUAL wins over EDITOR.
    let visual = s.path("visual.sh");
    write_script(&visual, "echo '@hourly from-visual' >> \"$1\"\n");
    let out = run(
        s.crontab()
            .arg("-e")
            .env("VISUAL", &visual)
            .env("EDITOR", &script),
        "",
    );
    ok(&out);
    let out = run(s.crontab().arg("-l"), "");
    assert!(text(&out.stdout).ends_with("@hourly from-visual\n"));
}

#[test]
fn edit_without_a_crontab_starts_empty() {
    let Some(s) = setup("edit_without_a_crontab_starts_empty") else {
        return;
    };
    let script = s.path("edit.sh");
    write_script(&script, "echo '@daily new' > \"$1\"\n");
    let out = run(s.crontab().arg("-e").env("EDITOR", &script), "");
    ok(&out);
    assert_eq!(
        text(&out.stderr),
        format!(
            "no crontab for {} - using an empty one\ncrontab: installing new crontab\n",
            me().name
        )
    );
    assert_eq!(
        fs::read_to_string(s.spool().join(me().name)).unwrap(),
        "@daily new\n"
    );
}

#[test]
fn edit_that_changes_nothing_installs_nothing() {
    let Some(s) = setup("edit_that_changes_nothing_installs_nothing") else {
        return;
    };
    ok(&run(s.crontab().arg("-"), GOOD));
    let before = fs::metadata(s.spool().join(me().name)).unwrap().ino();
    let out = run(s.crontab().arg("-e").env("EDITOR", "true"), "");
    ok(&out);
    assert_eq!(text(&out.stderr), "crontab: no changes made to crontab\n");
    let after = fs::metadata(s.spool().join(me().name)).unwrap().ino();
    assert_eq!(before, after, "the crontab was replaced");
}

#[test]
fn edit_with_an_error_asks_to_retry_and_reopens_the_same_text() {
    let Some(s) = setup("edit_with_an_error_asks_to_retry_and_reopens_the_same_text") else {
        return;
    };
    ok(&run(s.crontab().arg("-"), GOOD));
    let count = s.path("count");
    let script = s.path("edit.sh");
    // First run: add a bad line. Second run: the file must still hold it; fix it.
    write_script(
        &script,
        &format!(
            "if [ ! -e {c} ]; then\n  touch {c}\n  echo '0 0 1 jna * echo typo' >> \"$1\"\n\
             else\n  grep -q jna \"$1\" || exit 3\n  sed -i 's/jna/jan/' \"$1\"\nfi\n",
            c = count.display()
        ),
    );
    let out = run(s.crontab().arg("-e").env("EDITOR", &script), "y\n");
    ok(&out);
    assert_eq!(
        text(&out.stdout),
        "Do you want to retry the same edit? (y/n) "
    );
    let err = text(&out.stderr);
    // The diagnostics name the file being edited, in its private directory.
    let temp_name = err
        .lines()
        .find_map(|l| {
            l.strip_suffix(":3:7: error: unknown month name 'jna' (expected 1-12 or jan-dec); did you mean 'jan'?")
        })
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        Path::new(temp_name).ends_with("crontab") && temp_name.contains("/crontab."),
        "{temp_name}"
    );
    assert!(
        err.contains("errors in crontab file, can't install.\n"),
        "{err}"
    );
    assert_eq!(err.matches("crontab: installing new crontab\n").count(), 2);
    assert!(!Path::new(temp_name).exists(), "temporary file left behind");
    assert_eq!(
        fs::read_to_string(s.spool().join(me().name)).unwrap(),
        format!("{GOOD}0 0 1 jan * echo typo\n")
    );
}

#[test]
fn edit_with_an_error_and_no_retry_keeps_the_old_crontab() {
    let Some(s) = setup("edit_with_an_error_and_no_retry_keeps_the_old_crontab") else {
        return;
    };
    ok(&run(s.crontab().arg("-"), GOOD));
    let script = s.path("edit.sh");
    write_script(&script, "echo 'bad line' >> \"$1\"\n");
    let out = run(s.crontab().arg("-e").env("EDITOR", &script), "x\nn\n");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("Enter Y or N\n"), "{err}");
    let left = err
        .lines()
        .find_map(|l| l.strip_prefix("crontab: edits left in "))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(
        fs::read_to_string(left).unwrap(),
        format!("{GOOD}bad line\n")
    );
    let _ = fs::remove_dir_all(Path::new(left).parent().unwrap());
    assert_eq!(fs::read_to_string(s.spool().join(me().name)).unwrap(), GOOD);
}

#[test]
fn a_failing_editor_abandons_the_edit() {
    let Some(s) = setup("a_failing_editor_abandons_the_edit") else {
        return;
    };
    ok(&run(s.crontab().arg("-"), GOOD));
    let out = run(s.crontab().arg("-e").env("EDITOR", "false"), "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "crontab: \"false\" exited with status 1\n"
    );
    assert_eq!(fs::read_to_string(s.spool().join(me().name)).unwrap(), GOOD);
}

#[test]
fn invoked_as_crontab_through_a_symlink() {
    let s = Setup::new();
    let link = s.path("crontab");
    std::os::unix::fs::symlink(CRONWRIGHT_BIN, &link).unwrap();
    let crontab = || {
        let mut c = Command::new(&link);
        c.arg("--config").arg(s.config());
        c
    };
    ok(&run(crontab().arg("-"), GOOD));
    let out = run(crontab().arg("-l"), "");
    ok(&out);
    assert_eq!(text(&out.stdout), GOOD);
    let out = run(Command::new(&link).arg("-V"), "");
    ok(&out);
    assert!(text(&out.stdout).starts_with("cronwright "));
    // The configuration can come from the environment too.
    let out = run(
        Command::new(&link)
            .arg("-l")
            .env("CRONWRIGHT_CONFIG", s.config()),
        "",
    );
    assert_eq!(text(&out.stdout), GOOD);
    // A usage error exits 1, as cronie's does (clap's own code is 2).
    let out = run(crontab().arg("-Z"), "");
    assert_eq!(out.status.code(), Some(1));
}

/// A spool on a full file system: the install fails with the reason, the crontab in place
/// stays whole, and no temporary file is left. The spool is a 64 KiB tmpfs mounted in a mount
/// namespace of the test's own, so nothing on the machine fills up.
#[test]
fn install_on_a_full_spool_fails_and_keeps_the_crontab_in_place() {
    let Some(s) = setup("install_on_a_full_spool_fails_and_keeps_the_crontab_in_place") else {
        return;
    };
    let new = s.path("new");
    fs::write(&new, format!("{GOOD}# {}\n", "x".repeat(100_000))).unwrap();
    let script = format!(
        r#"set -e
spool={spool}
mount -t tmpfs -o size=64k tmpfs "$spool"
printf '%s' "$1" > "$spool/root"
chmod 600 "$spool/root"
dd if=/dev/zero of="$spool/fill" bs=4k 2>/dev/null || true
set +e
"$2" crontab --config "$3" "$4"
echo "exit=$?"
ls -A "$spool"
cat "$spool/root""#,
        spool = s.spool().display()
    );
    let out = in_mount_namespace(&script)
        .arg(GOOD)
        .arg(CRONWRIGHT_BIN)
        .arg(s.config())
        .arg(&new)
        .env_remove("CRONWRIGHT_CONFIG")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout,
        format!("exit=1\nfill\nroot\n{GOOD}"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("No space left on device"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn installs_are_atomic_under_a_concurrent_reader() {
    let Some(s) = setup("installs_are_atomic_under_a_concurrent_reader") else {
        return;
    };
    let user = me().name;
    let versions: Vec<String> = ["a", "b"]
        .iter()
        .map(|c| format!("* * * * * echo {}\n", c.repeat(100)).repeat(4000))
        .collect();
    ok(&run(s.crontab().arg("-"), &versions[0]));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, spool, user, versions) =
            (Arc::clone(&stop), s.spool(), user.clone(), versions.clone());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) || reads == 0 {
                for entry in fs::read_dir(&spool).unwrap() {
                    let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                    assert!(name == user || name.starts_with("tmp."), "{name}");
                }
                // Never half-written: always one whole version.
                let content = fs::read_to_string(spool.join(&user)).unwrap();
                assert!(
                    versions.contains(&content),
                    "partial read: {} bytes",
                    content.len()
                );
                reads += 1;
            }
        })
    };
    for i in 0..10 {
        ok(&run(s.crontab().arg("-"), &versions[i % 2]));
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert_eq!(s.spool_names(), vec![user.clone()]);
    let meta = fs::metadata(s.spool().join(&user)).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
}

#[test]
fn a_symlink_planted_as_the_crontab_is_not_followed() {
    let Some(s) = setup("a_symlink_planted_as_the_crontab_is_not_followed") else {
        return;
    };
    let secret = s.path("secret");
    fs::write(&secret, "secret\n").unwrap();
    std::os::unix::fs::symlink(&secret, s.spool().join(me().name)).unwrap();
    let out = run(s.crontab().arg("-l"), "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("not a regular file"));
    // Installing replaces the link itself, never writes through it.
    ok(&run(s.crontab().arg("-"), GOOD));
    assert_eq!(fs::read_to_string(&secret).unwrap(), "secret\n");
    assert!(
        fs::symlink_metadata(s.spool().join(me().name))
            .unwrap()
            .is_file()
    );
}

// ---------------------------------------------------------------------------------------------
// As root: other users.

/// Users (and a group) created for one test, removed afterwards even if the test fails.
struct TempUsers {
    // Dropped in this order: the users, then the group.
    users: Vec<Account>,
    group: Option<Account>,
}

impl TempUsers {
    fn new(tags: &[&str], group: Option<&str>) -> TempUsers {
        let pid = std::process::id() % 100_000;
        let group = group.map(|g| Account::group(&format!("{g}{pid}")));
        let users = tags
            .iter()
            .map(|tag| Account::user(&format!("cwc{tag}{pid}"), false, None))
            .collect();
        TempUsers { users, group }
    }

    fn user(&self, i: usize) -> User {
        User::from_name(&self.users[i].name).unwrap().unwrap()
    }

    fn gid(&self) -> u32 {
        let name = &self.group.as_ref().unwrap().name;
        nix::unistd::Group::from_name(name)
            .unwrap()
            .unwrap()
            .gid
            .as_raw()
    }
}

/// `runuser -u USER -- PROGRAM ARGS...`
fn as_user(user: &str, program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", user, "--"]).arg(program);
    c.env_remove("VISUAL").env_remove("EDITOR");
    c.env_remove("CRONWRIGHT_CONFIG");
    c
}

/// A directory other users can reach, on a file system that honours set-group-ID bits:
/// the temporary directory, else cargo's target tmp directory.
fn setgid_capable_parent() -> Option<PathBuf> {
    let candidates = [
        std::env::temp_dir(),
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
    ];
    for dir in candidates {
        let Ok(stat) = nix::sys::statvfs::statvfs(&dir) else {
            continue;
        };
        if stat.flags().contains(nix::sys::statvfs::FsFlags::ST_NOSUID) {
            println!("{} is mounted nosuid", dir.display());
            continue;
        }
        return Some(dir);
    }
    None
}

fn chown(path: &Path, uid: Option<u32>, gid: Option<u32>) {
    std::os::unix::fs::chown(path, uid, gid).unwrap();
}

#[test]
fn dash_u_as_root_works_on_that_users_crontab_with_their_ownership() {
    if !needs_root("dash_u_as_root_works_on_that_users_crontab_with_their_ownership") {
        return;
    }
    let users = TempUsers::new(&["u"], None);
    let target = users.user(0);
    let s = Setup::new();
    ok(&run(s.crontab().args(["-u", &target.name, "-"]), GOOD));
    let meta = fs::metadata(s.spool().join(&target.name)).unwrap();
    assert_eq!(meta.uid(), target.uid.as_raw());
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(s.spool_names(), vec![target.name.clone()]);
    let out = run(s.crontab().args(["-u", &target.name, "-l"]), "");
    assert_eq!(text(&out.stdout), GOOD);
    let script = s.path("edit.sh");
    write_script(&script, "echo '@daily more' >> \"$1\"\n");
    ok(&run(
        s.crontab()
            .args(["-u", &target.name, "-e"])
            .env("EDITOR", &script),
        "",
    ));
    let meta = fs::metadata(s.spool().join(&target.name)).unwrap();
    assert_eq!(meta.uid(), target.uid.as_raw());
    ok(&run(s.crontab().args(["-u", &target.name, "-r"]), ""));
    assert!(s.spool_names().is_empty());
    let out = run(s.crontab().args(["-u", "cwc-nobody-at-all", "-l"]), "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "crontab:  user `cwc-nobody-at-all' unknown\n"
    );
}

#[test]
fn cron_allow_and_cron_deny_follow_cronies_rules() {
    if !needs_root("cron_allow_and_cron_deny_follow_cronies_rules") {
        return;
    }
    let users = TempUsers::new(&["al", "de"], None);
    let (alice, dave) = (users.user(0).name, users.user(1).name);
    // Other users must reach the binary and the configuration.
    let s = Setup::new();
    chmod(s.dir.path(), 0o755);
    let bin = s.path("cronwright");
    fs::copy(CRONWRIGHT_BIN, &bin).unwrap();
    chmod(&bin, 0o755);
    let listing = |user: &str| {
        let mut c = as_user(user, &bin);
        c.args(["crontab", "-l"]);
        run(&mut with_system_config(&s.config(), &c), "")
    };
    let refused = |user: &str| {
        let out = listing(user);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        if err == format!("no crontab for {user}\n") {
            return false;
        }
        assert_eq!(
            err,
            format!("crontab: you ({user}) are not allowed to use this program\n")
        );
        true
    };
    // Neither file: allow_everyone decides (default true, Debian's).
    assert!(!refused(&alice));
    s.write_config("allow_everyone = false\n");
    assert!(refused(&alice));
    // Root is always allowed.
    let out = run(s.crontab().arg("-l"), "");
    assert_eq!(text(&out.stderr), "no crontab for root\n");
    // A deny file refuses those listed, everyone else may.
    fs::write(s.path("deny"), format!("{dave}\n")).unwrap();
    assert!(!refused(&alice));
    assert!(refused(&dave));
    // An allow file wins over the deny file: only those listed, and root.
    fs::write(s.path("allow"), format!("  {alice}\n")).unwrap();
    fs::write(s.path("deny"), format!("{alice}\n")).unwrap();
    assert!(!refused(&alice));
    assert!(refused(&dave));
    fs::write(s.path("allow"), "").unwrap();
    assert!(refused(&alice));
    let out = run(s.crontab().arg("-l"), "");
    assert_eq!(text(&out.stderr), "no crontab for root\n");
}

/// The installed layout: a set-group-ID copy of the binary named `crontab`, a spool
/// `root:<group> 1730`, a root-owned configuration, two users not in the group.
pub(crate) struct Installed {
    pub s: Setup,
    users: TempUsers,
    bin: PathBuf,
}

impl Installed {
    pub fn new() -> Option<Installed> {
        let parent = setgid_capable_parent()?;
        let users = TempUsers::new(&["a", "b"], Some("cwcg"));
        let s = Setup::in_dir(Some(&parent));
        chmod(s.dir.path(), 0o755);
        let bin_dir = s.path("bin");
        fs::create_dir(&bin_dir).unwrap();
        chmod(&bin_dir, 0o755);
        let bin = bin_dir.join("crontab");
        fs::copy(CRONWRIGHT_BIN, &bin).unwrap();
        chown(&bin, Some(0), Some(users.gid()));
        chmod(&bin, 0o2755);
        chown(&s.spool(), Some(0), Some(users.gid()));
        chmod(&s.spool(), 0o1730);
        chmod(&s.config(), 0o644);
        Some(Installed { s, users, bin })
    }

    /// The installed `crontab` as test user `user`, reading the test's configuration as the
    /// system's.
    /// Arguments added to the command go to `crontab`.
    pub fn crontab(&self, user: usize) -> Command {
        let c = as_user(&self.users.users[user].name, &self.bin);
        with_system_config(&self.s.config(), &c)
    }

    pub fn name(&self, user: usize) -> String {
        self.users.users[user].name.clone()
    }
}

/// `TZDIR` says where zone files are; a set-group-ID `crontab` ignores it, since the user
/// who runs it chose it. glibc's loader already drops it from a set-group-ID program's
/// environment; cronwright checks too, for a build without glibc's loader (static musl).
/// The same zone is found without the privilege.
#[test]
fn setgid_crontab_ignores_the_callers_tzdir() {
    if !needs_root("setgid_crontab_ignores_the_callers_tzdir") {
        return;
    }
    let Some(inst) = Installed::new() else {
        println!("skipped: no file system here honours set-group-ID bits");
        return;
    };
    let tzdir = inst.s.path("zoneinfo");
    fs::create_dir_all(tzdir.join("Fake")).unwrap();
    fs::copy(
        cronwright::cron::tz_dir().join("Europe/Berlin"),
        tzdir.join("Fake/Zone"),
    )
    .unwrap();
    for dir in [&tzdir, &tzdir.join("Fake")] {
        chmod(dir, 0o755);
    }
    chmod(&tzdir.join("Fake/Zone"), 0o644);
    let crontab = "CRON_TZ=Fake/Zone\n0 12 * * * true\n";
    let out = run(inst.crontab(0).arg("-").env("TZDIR", &tzdir), crontab);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unknown time zone 'Fake/Zone'"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        crate::util::cronwright()
            .args(["check", "-"])
            .env("TZDIR", &tzdir),
        crontab,
    );
    assert!(out.status.success(), "{}", text(&out.stdout));
}

#[test]
fn setgid_crontab_lets_users_manage_only_their_own_crontab() {
    if !needs_root("setgid_crontab_lets_users_manage_only_their_own_crontab") {
        return;
    }
    let Some(inst) = Installed::new() else {
        println!("skipped: no file system here honours set-group-ID bits");
        return;
    };
    let (a, b) = (inst.name(0), inst.name(1));
    let spool = inst.s.spool();
    // The user installs, lists and edits their own crontab.
    ok(&run(inst.crontab(0).arg("-"), GOOD));
    let meta = fs::metadata(spool.join(&a)).unwrap();
    assert_eq!(meta.uid(), inst.users.user(0).uid.as_raw());
    assert_eq!(meta.gid(), inst.users.gid());
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(inst.s.spool_names(), vec![a.clone()]);
    let out = run(inst.crontab(0).arg("-l"), "");
    ok(&out);
    assert_eq!(text(&out.stdout), GOOD);

    // The editor runs with the user's own ids (the group is gone, saved gid included), on a
    // file in a private directory of the user's. The ids are read by the shell that starts
    // the editor: /bin/sh drops a set-group-ID group itself (but not the saved gid), so a
    // script run by it would hide a group the program forgot to drop.
    let log = inst.s.path("editor.log");
    fs::write(&log, "").unwrap();
    chown(&log, Some(inst.users.user(0).uid.as_raw()), None);
    let script = inst.s.path("edit.sh");
    write_script(
        &script,
        &format!(
            "stat -c '%U %a' \"$(dirname \"$1\")\" >> {log}\necho '@daily edited' >> \"$1\"\n",
            log = log.display()
        ),
    );
    let editor = format!(
        "grep '^Gid:' /proc/$$/status > {log}; {script}",
        log = log.display(),
        script = script.display()
    );
    ok(&run(inst.crontab(0).arg("-e").env("EDITOR", &editor), ""));
    let seen = fs::read_to_string(&log).unwrap();
    let gid = inst.users.user(0).gid.as_raw();
    assert_eq!(
        seen,
        format!("Gid:\t{gid}\t{gid}\t{gid}\t{gid}\n{a} 700\n"),
        "editor's ids and directory"
    );
    let out = run(inst.crontab(0).arg("-l"), "");
    assert_eq!(text(&out.stdout), format!("{GOOD}@daily edited\n"));

    // The other user cannot read or replace it, with or without the program.
    let out = run(inst.crontab(1).args(["-u", &a, "-l"]), "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "must be privileged to use -u\n");
    assert_eq!(text(&out.stdout), "");
    let out = run(inst.crontab(1).args(["-u", &a, "-"]), "* * * * * evil\n");
    assert_eq!(out.status.code(), Some(1));
    let out = run(inst.crontab(1).arg("-l"), "");
    assert_eq!(text(&out.stderr), format!("no crontab for {b}\n"));
    let sh = Path::new("/bin/sh");
    let target = spool.join(&a);
    for attempt in [
        format!("cat {}", target.display()),
        format!("echo '* * * * * evil' > {}", target.display()),
        format!("rm -f {}", target.display()),
        format!("ls {}", spool.display()),
        format!("echo x > {}/tmp.evil", spool.display()),
    ] {
        let out = run(as_user(&b, sh).args(["-c", &attempt]), "");
        assert_ne!(out.status.code(), Some(0), "{b} could: {attempt}");
    }
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        format!("{GOOD}@daily edited\n")
    );

    // Each removes only their own.
    ok(&run(inst.crontab(1).arg("-"), "@daily b\n"));
    assert_eq!(inst.s.spool_names(), vec![a.clone(), b.clone()]);
    ok(&run(inst.crontab(0).arg("-r"), ""));
    assert_eq!(inst.s.spool_names(), vec![b.clone()]);

    // A set-group-ID run reads only the system's configuration, whatever it is told.
    let own = inst.s.path("mine.toml");
    fs::write(&own, "[sources]\nuser_spool = \"/tmp\"\n").unwrap();
    chown(&own, Some(inst.users.user(0).uid.as_raw()), None);
    let out = run(inst.crontab(1).arg("--config").arg(&own).arg("-l"), "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "@daily b\n");
    assert_eq!(
        text(&out.stderr),
        "crontab: ignoring --config: only root may name another configuration; reading \
         /etc/cronwright/cronwright.toml\n"
    );
}

// ---------------------------------------------------------------------------------------------
// `cronwright list`.

#[test]
fn list_shows_every_job_with_source_user_schedule_zone_and_next_time() {
    let Some(s) = setup("list_shows_every_job_with_source_user_schedule_zone_and_next_time") else {
        return;
    };
    let user = me().name;
    fs::create_dir(s.path("cron.d")).unwrap();
    fs::write(
        s.path("cron.d/web"),
        format!("CRON_TZ=Asia/Tokyo\n30 2 * * * {user} nightly\n0 0 1 jna * {user} typo\n"),
    )
    .unwrap();
    fs::write(s.path("cron.d/web.dpkg-old"), "").unwrap();
    fs::write(s.path("cron.d/open"), format!("@daily {user} x\n")).unwrap();
    chmod(&s.path("cron.d/open"), 0o666);
    fs::write(
        s.config(),
        "[sources]\nsystem_crontab = \"\"\nsystem_dirs = [\"cron.d\"]\nuser_spool = \"spool\"\n\
         [daemon]\ntimezone = \"UTC\"\n",
    )
    .unwrap();
    ok(&run(
        s.crontab().arg("-"),
        "@reboot boot\n*/10 * * * * * fast\n",
    ));

    let out = Command::new(CRONWRIGHT_BIN)
        .args(["list", "--json", "--config"])
        .arg(s.config())
        .output()
        .unwrap();
    ok(&out);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let web = s.path("cron.d/web").display().to_string();
    let spool = s.spool().join(&user).display().to_string();
    let find = |source: &str| {
        rows.iter()
            .find(|r| r["source"] == source)
            .unwrap_or_else(|| panic!("no {source} in {rows:?}"))
    };
    let nightly = find(&format!("{web}:2"));
    assert_eq!(nightly["kind"], "job");
    assert_eq!(nightly["user"], user.as_str());
    assert_eq!(nightly["schedule"], "30 2 * * *");
    assert_eq!(nightly["zone"], "Asia/Tokyo");
    assert_eq!(nightly["command"], "nightly");
    let next = nightly["next"].as_str().unwrap();
    assert!(next.ends_with("T02:30:00+09:00"), "{next}");
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    assert!(next > chrono::Utc::now());
    let typo = find(&format!("{web}:3:7"));
    assert_eq!(typo["kind"], "error");
    assert!(typo["message"].as_str().unwrap().contains("jna"));
    let boot = find(&format!("{spool}:1"));
    assert_eq!(
        (&boot["schedule"], &boot["next"], &boot["zone"]),
        (&"@reboot".into(), &serde_json::Value::Null, &"UTC".into())
    );
    assert_eq!(find(&format!("{spool}:2"))["schedule"], "*/10 * * * * *");
    let by_file = |kind: &str, file: &str| {
        rows.iter()
            .find(|r| r["kind"] == kind && r["file"] == file)
            .unwrap_or_else(|| panic!("no {kind} {file} in {rows:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let open = s.path("cron.d/open").display().to_string();
    assert!(by_file("refused", &open).contains("which lets its group and everyone else write it"));
    let old = s.path("cron.d/web.dpkg-old").display().to_string();
    assert!(by_file("ignored", &old).contains("Debian's rule"));

    // The table says the same.
    let out = Command::new(CRONWRIGHT_BIN)
        .arg("list")
        .env("CRONWRIGHT_CONFIG", s.config())
        .output()
        .unwrap();
    ok(&out);
    let table = text(&out.stdout);
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("SOURCE"), "{table}");
    for column in ["USER", "SCHEDULE", "ZONE", "NEXT", "COMMAND"] {
        assert!(header.contains(column), "{table}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("{web}:2 ")))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains(" 30 2 * * * ") && row.contains("Asia/Tokyo"),
        "{row}"
    );
    assert!(row.ends_with("nightly"), "{row}");
    assert!(table.contains(&format!("{web}:3:7: error: unknown month name 'jna'")));
    assert!(table.contains(&format!("{open}: refused: has mode 0666")));
    assert!(table.contains(&format!("{old}: ignored: ")));
}
