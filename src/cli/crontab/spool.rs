//! The spool side of `crontab`: the set-group-ID group and when it is held, who may use the
//! command (`cron.allow` / `cron.deny`), and reading, installing and removing a user's file in
//! the spool without ever following a link or exposing a half-written file.
//!
//! # Privilege model (Debian's)
//!
//! The binary is installed set-group-ID to a group `crontab` (`root:crontab 2755`), and the
//! spool is `root:crontab 1730`: the group may create files in it but not list it, and the
//! sticky bit lets only a file's owner rename over or remove it. Only this program holds the
//! group, and it uses it for nothing but the spool and the allow/deny files.
//!
//! - The program always runs with the user's real and effective uid; a set-user-ID install is
//!   refused. The user is `getuid()`'s passwd entry, never `$USER` or `$LOGNAME`.
//! - At start it sets its effective gid back to the real gid, keeping `crontab` only as the
//!   saved gid, and raises it (`setegid`) just around the spool and allow/deny operations. So the
//!   file given to install, the editor's temporary file and the configuration are read with the
//!   user's own rights, and the editor is started with the group dropped: exec copies the
//!   effective gid into the saved one, so the editor can never regain `crontab`.
//! - It writes only `spool/<user>` where `<user>` is the real user, or, for root with `-u`, the
//!   user named. Listing and removing go through the same name. The kernel enforces the rest:
//!   another user's crontab is theirs with mode 0600 (not readable), and the sticky bit stops a
//!   rename over it or its removal.
//! - Installing creates `spool/tmp.<random>` with `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600 (a
//!   name the daemon skips), writes, `fsync`s, `fchown`s it to the target user when root installs
//!   for `-u`, `fchmod`s it to 0600, then renames it over `spool/<user>`. Every step after the
//!   create works on the descriptor, and nobody else can rename or remove a file of ours in a
//!   sticky directory, so nothing can be swapped in, and nothing half-written ever appears under
//!   the user's name.
//! - An install killed between the create and the rename leaves its `tmp.*` file behind. Before
//!   creating its own, an install removes those left unchanged for ten minutes: any user's
//!   when run by root, the user's own otherwise, but the group cannot list the spool, so in a
//!   Debian spool only root's run finds them; the daemon removes them at every scan as well.
//! - `-e` copies the crontab into `crontab.XXXXXX/crontab`, a private directory (mode 0700, made
//!   by `mkdtemp` with the user's ids) under `$TMPDIR` or `/tmp` (`/tmp` when started
//!   set-group-ID, as cronie does), and reads it back with the user's rights.
//! - The configuration decides who may use the program and where the spool is, so unless
//!   root runs the program without the group, `--config` and `CRONWRIGHT_CONFIG` are ignored
//!   (with a warning) and only `/etc/cronwright/cronwright.toml` is read, which must then be
//!   owned by root and not writable by group or others. A check on ownership alone let any
//!   root-owned file stand in for it (an empty one means "everyone may").
//!
//! `cronwright` is the same binary, so its other subcommands drop the group for good before
//! doing anything (`crate::cli::main`).

use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, getegid, geteuid, getgid, getuid, setegid};

use super::{CrontabError, io_error};
use crate::access;
use crate::config::Config;
use crate::sources::{MAX_CRONTAB_BYTES, remove_stale_temporaries};

/// The set-group-ID group, held as the saved gid and raised only around spool work.
pub struct Privileges {
    real: Gid,
    /// The group the program was started with, when it differs from the real one.
    raised: Option<Gid>,
}

impl Privileges {
    /// Drops the set-group-ID group to the saved gid; refuses a set-user-ID start.
    pub fn drop_at_start() -> Result<Privileges, CrontabError> {
        let (uid, euid) = (getuid(), geteuid());
        if uid != euid {
            return Err(CrontabError::SetUid {
                uid: uid.as_raw(),
                euid: euid.as_raw(),
            });
        }
        let (real, effective) = (getgid(), getegid());
        if real == effective {
            return Ok(Privileges { real, raised: None });
        }
        set_egid(real)?;
        Ok(Privileges {
            real,
            raised: Some(effective),
        })
    }

    /// Whether the program was started with a group other than the user's.
    pub fn set_group_id(&self) -> bool {
        self.raised.is_some()
    }

    /// Runs `f` with the set-group-ID group effective, then drops it again.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> Result<T, CrontabError> {
        let Some(group) = self.raised else {
            return Ok(f());
        };
        set_egid(group)?;
        let out = f();
        set_egid(self.real)?;
        Ok(out)
    }
}

fn set_egid(gid: Gid) -> Result<(), CrontabError> {
    setegid(gid).map_err(|source| CrontabError::SwitchGroup {
        gid: gid.as_raw(),
        source,
    })
}

/// For every `cronwright` subcommand but `crontab`: gives up a set-group-ID group for good
/// (real, effective and saved), since the binary is installed set-group-ID for `crontab`.
pub fn drop_set_group_id() -> Result<(), CrontabError> {
    let real = getgid();
    if getegid() != real {
        nix::unistd::setresgid(real, real, real).map_err(|source| CrontabError::SwitchGroup {
            gid: real.as_raw(),
            source,
        })?;
    }
    Ok(())
}

/// Whether `user` may use `crontab` under the configuration's allow and deny files.
pub fn allowed(user: &str, uid: Uid, config: &Config) -> Result<bool, CrontabError> {
    if uid.is_root() {
        return Ok(true);
    }
    access::allowed(user, &config.crontab).map_err(|e| CrontabError::Io {
        path: e.path,
        source: e.source,
    })
}

/// Whether `name` can be a spool crontab: the daemon skips names starting with `.`, `#` or
/// `tmp.` and ending in `~` or `.new`, and a `/` would leave the spool.
fn spool_name_ok(name: &str) -> bool {
    !(name.is_empty()
        || name.contains('/')
        || name.starts_with(['.', '#'])
        || name.starts_with("tmp.")
        || name.ends_with('~')
        || name.ends_with(".new"))
}

/// Reads at most [`MAX_CRONTAB_BYTES`] from an open file.
pub(super) fn read_capped(file: File, path: &Path) -> Result<Vec<u8>, CrontabError> {
    let mut bytes = Vec::new();
    file.take(MAX_CRONTAB_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    if bytes.len() as u64 > MAX_CRONTAB_BYTES {
        return Err(CrontabError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

/// The crontab of `user` in `spool`, or `None` when there is none. A symbolic link or a
/// non-regular file there is an error, never followed.
pub fn read_crontab(spool: &Path, user: &str) -> Result<Option<Vec<u8>>, CrontabError> {
    let path = spool.join(user);
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(CrontabError::NotRegular { path });
        }
        Err(e) => return Err(io_error(&path)(e)),
    };
    if !file.metadata().map_err(io_error(&path))?.is_file() {
        return Err(CrontabError::NotRegular { path });
    }
    read_capped(file, &path).map(Some)
}

/// Removes the crontab of `user`; `false` when there was none.
pub fn remove_crontab(spool: &Path, user: &str) -> Result<bool, CrontabError> {
    let path = spool.join(user);
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(&path)(e)),
    }
}

/// A name for a temporary file: random enough that guessing it is pointless (O_EXCL makes a
/// guess harmless anyway, only a retry).
fn random_suffix() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

/// Installs `text` as `user`'s crontab in `spool`, atomically (see the module comment).
/// `owner` is the uid to give the file (root installing for `-u`); `None` keeps the creator.
/// Returns the crontab's path.
pub fn install(
    spool: &Path,
    user: &str,
    owner: Option<Uid>,
    text: &[u8],
) -> Result<PathBuf, CrontabError> {
    if !spool_name_ok(user) {
        return Err(CrontabError::BadName {
            user: user.to_string(),
        });
    }
    let target = spool.join(user);
    remove_own_stale_temporaries(spool);
    let (tmp, mut file) = create_temp(spool)?;
    let result = (|| {
        file.write_all(text)?;
        file.sync_all()?;
        if let Some(uid) = owner {
            nix::unistd::fchown(&file, Some(uid), None).map_err(io::Error::from)?;
        }
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        drop(file);
        fs::rename(&tmp, &target)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(&target)(e));
    }
    // Durability of the rename; the spool is not readable by the group, so this is best effort.
    if let Ok(dir) = File::open(spool) {
        let _ = dir.sync_all();
    }
    Ok(target)
}

/// Removes the temporary files that installs killed before their rename left in the spool (see
/// [`remove_stale_temporaries`]): any user's when the real user is root, the real user's own
/// otherwise. Listing the spool takes read permission on it, which only root has in Debian's
/// `root:crontab 1730` spool: the group may create files there but not list them, and a killed
/// install's random name is known to nobody. So a user's own sweep finds nothing there, and
/// their files wait for root's next install or the daemon's next scan (it runs as root); a
/// spool the user may list (a daemon run as that user) is swept of the user's files.
fn remove_own_stale_temporaries(spool: &Path) {
    let uid = getuid();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    remove_stale_temporaries(spool, (!uid.is_root()).then_some(uid.as_raw()), now);
}

/// `spool/tmp.<random>`, created new (never through a link), mode 0600.
fn create_temp(spool: &Path) -> Result<(PathBuf, File), CrontabError> {
    let mut last = None;
    for _ in 0..16 {
        let path = spool.join(format!("tmp.{}", random_suffix()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(io_error(spool)(e)),
        }
    }
    Err(io_error(spool)(last.unwrap_or_else(|| {
        io::Error::from(io::ErrorKind::AlreadyExists)
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn spool_names_the_daemon_would_skip_are_refused() {
        for bad in ["", ".x", "#x", "tmp.x", "x~", "x.new", "a/b", "..", "."] {
            assert!(!spool_name_ok(bad), "{bad}");
        }
        for good in ["alice", "john.doe", "root"] {
            assert!(spool_name_ok(good), "{good}");
        }
    }

    #[test]
    fn install_replaces_atomically_with_mode_0600_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path();
        let path = install(spool, "alice", None, b"* * * * * one\n").unwrap();
        assert_eq!(path, spool.join("alice"));
        install(spool, "alice", None, b"* * * * * two\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"* * * * * two\n");
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600);
        let names: Vec<_> = fs::read_dir(spool)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("alice")]);
        assert_eq!(
            read_crontab(spool, "alice").unwrap().unwrap(),
            b"* * * * * two\n"
        );
        assert!(remove_crontab(spool, "alice").unwrap());
        assert!(!remove_crontab(spool, "alice").unwrap());
        assert!(read_crontab(spool, "alice").unwrap().is_none());
    }

    /// As root or as anyone: the files are the caller's own, in a spool the caller may list.
    #[test]
    fn install_removes_temporary_files_killed_installs_left() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path();
        let made = |name: &str, minutes_ago: u64| {
            let file = File::create(spool.join(name)).unwrap();
            let then =
                std::time::SystemTime::now() - std::time::Duration::from_secs(minutes_ago * 60);
            file.set_modified(then).unwrap();
        };
        made("tmp.killed", 11);
        made("tmp.running", 1);
        install(spool, "alice", None, b"* * * * * one\n").unwrap();
        let mut names: Vec<_> = fs::read_dir(spool)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![OsString::from("alice"), OsString::from("tmp.running")]
        );
    }

    #[test]
    fn a_symlink_in_the_spool_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("secret"), "x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), dir.path().join("alice")).unwrap();
        assert!(matches!(
            read_crontab(dir.path(), "alice"),
            Err(CrontabError::NotRegular { .. })
        ));
    }
}
