//! Which files are crontabs, and whether each may be loaded: the system crontab, the system
//! crontab directories, the user spool and the extra user-format files the daemon runs as
//! itself. I/O only: this module lists files, checks owner, type and mode on the descriptor it
//! then reads from, and hands back the text; parsing belongs to `cron`, and deciding what to
//! log (once) belongs to the daemon. It also removes the temporary files that crontab(1)
//! installs killed before their rename left in the spool ([`sweep_spool`]).
//!
//! # Names
//!
//! - `/etc/crontab` (system format) is a source when it exists; a missing one is normal.
//! - Files in a system directory such as `/etc/cron.d` (system format) follow Debian's rule:
//!   the name has only letters, digits, `_` and `-` ([`SYSTEM_DIR_RULE`]). Anything else
//!   (editor backups, `*.dpkg-old`, dotfiles such as Debian's `.placeholder`) is reported in
//!   [`Scan::ignored`] with the rule, so the daemon can say so once.
//! - Every file in the user spool (`/var/spool/cron/crontabs` on Debian, `/var/spool/cron` on
//!   Red Hat) is the crontab of the user it is named after (user format). The working files
//!   of crontab(1) are skipped silently, because they exist only while a crontab is being
//!   installed: names starting with `.`, `#` or `tmp.` (Debian's and cronie's temporary
//!   files), ending in `~`, or ending in `.new` (busybox). Other names with a `.` are kept,
//!   since user names may contain one (`john.doe`). A `tmp.*` file that has not changed for
//!   [`STALE_TEMPORARY_SECS`] was left by an install that was killed, and is removed.
//! - Each of `extra_user_crontabs` (user format) runs as the daemon's own user; a missing one
//!   is still listed, so that loading it says it does not exist.
//!
//! # Checks, made on the opened descriptor
//!
//! A file is opened with `O_NONBLOCK` (a FIFO cannot hang the daemon) and, in the spool,
//! `O_NOFOLLOW`; owner, type, mode and size then come from `fstat` of that descriptor and the
//! text is read from it, so nothing can be swapped in between the check and the read.
//!
//! - User spool: the named user exists, owns the file, the file is regular (a symbolic link is
//!   refused), not writable by group or others, and has exactly one name (a link count of 1, as
//!   cronie and OpenBSD cron demand). A second name is a way to the crontab around crontab(1):
//!   a hard link kept to an installed crontab lets it be changed in place, unchecked, whatever
//!   `cron.allow` says later, and a file linked into the spool is loaded without crontab(1)
//!   ever having read it. A count of 0 is a crontab removed since it was opened: gone.
//! - System crontab and system directories: owned by root, regular, not writable by group or
//!   others. As in Debian, a symbolic link is accepted when the link itself is owned by root and
//!   its target passes the same checks.
//! - Extra files: owned by the daemon's user (or root), regular (links are followed: the
//!   configuration names these files itself), not writable by others. Group write is allowed
//!   because user-private-group systems (umask 002) check repositories out as 0664.
//! - System crontabs and extra files may have more than one name, as in cronie: they live where
//!   only their owner (root, or the daemon's own user) writes, so another name gives nobody a
//!   way in, and systems that deploy `/etc` from an image (OSTree) hard-link the files in it.
//! - Not root ([`SourcesConfig::as_root`] false): the daemon cannot switch users, so the spool
//!   yields only the daemon's own crontab, and a system crontab may also be owned by the
//!   daemon's own user (its lines can only ever run as that user, which is the caller's rule).
//! - No file larger than [`MAX_CRONTAB_BYTES`] is read.

use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::unistd::{Uid, User};

use crate::cron::Format;

/// The largest crontab read, in bytes. Far above any real crontab (commands may be 64 KiB
/// and more), and low enough that a runaway file cannot make the daemon hold gigabytes.
pub const MAX_CRONTAB_BYTES: u64 = 16 * 1024 * 1024;

/// Debian's file-name rule for system crontab directories, as the reason for ignoring a file.
pub const SYSTEM_DIR_RULE: &str = "name does not follow Debian's rule for crontab directories \
     (only letters, digits, '_' and '-'; this skips editor backups, *.dpkg-old files and dotfiles)";

/// Where a crontab comes from; it decides its format, who owns it and who its jobs run as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `/etc/crontab`.
    SystemCrontab,
    /// A file in a system crontab directory such as `/etc/cron.d`.
    SystemDir,
    /// `<user_spool>/<user>`.
    UserSpool,
    /// One of `extra_user_crontabs`, run as the daemon's own user.
    Extra,
}

/// A file that is (or, once it exists, will be) a crontab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub kind: Kind,
    pub format: Format,
    /// The user the jobs run as: the file name for `UserSpool`, the daemon's own user for
    /// `Extra`, `None` for system crontabs (each line names its user).
    pub user: Option<String>,
}

/// Every source found, plus the files looked at and left out, each with why.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    pub sources: Vec<Source>,
    pub ignored: Vec<(PathBuf, String)>,
}

/// Where to look and who the daemon is. The daemon builds this from its configuration.
#[derive(Clone, Debug)]
pub struct SourcesConfig {
    /// `/etc/crontab`; `None` disables it.
    pub system_crontab: Option<PathBuf>,
    /// `/etc/cron.d` and the like.
    pub system_dirs: Vec<PathBuf>,
    /// `/var/spool/cron/crontabs` (Debian) or `/var/spool/cron` (Red Hat); `None` disables it.
    pub user_spool: Option<PathBuf>,
    /// User-format files run as the daemon's own user.
    pub extra_user_crontabs: Vec<PathBuf>,
    /// Whether the daemon runs as root and so can run jobs as other users.
    pub as_root: bool,
    /// The daemon's own (effective) user, by name and uid.
    pub own_user: String,
    pub own_uid: u32,
    /// The text of the extra crontab named [`STDIN`], read once when the daemon started.
    pub stdin: Option<Arc<str>>,
}

/// The extra crontab name that means the daemon's standard input, read at start.
pub const STDIN: &str = "-";

/// What `load` compares to tell whether a file changed: a new inode (save by rename), a new
/// modification time or size (edit in place), or a new change time (chmod, chown, which can
/// turn a refused file into a good one and back).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub size: u64,
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Stamp {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            size: meta.size(),
        }
    }
}

/// A crontab that passed the checks, read in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The content; invalid UTF-8 is replaced (the parser reports what it cannot read).
    pub text: String,
    /// Taken from the descriptor the text was read from, before reading.
    pub stamp: Stamp,
    /// The file's owner: for a system crontab loaded by a daemon that is not root, the caller
    /// needs it to decide which lines may run.
    pub owner_uid: u32,
}

/// Why a crontab is not loaded. `Display` gives the reason only: every refusal belongs to one
/// `Source`, so log it as `{path}: {refusal}` and add [`Refusal::fix`] when there is one.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("does not exist (or is a symbolic link to nothing)")]
    NotFound,
    #[error("is {what}, not a regular file")]
    NotRegular { what: &'static str },
    #[error("is a symbolic link; a crontab in the user spool must be a regular file")]
    Symlink {
        /// The spool user, to name in the fix.
        user: Option<String>,
        /// Where the link leads, when it resolves.
        target: Option<PathBuf>,
    },
    #[error("is named after user '{user}', who does not exist")]
    UnknownUser { user: String },
    #[error("{} owned by {}, not by {expected}", if *.link { "the symbolic link is" } else { "is" }, owner_desc(*.owner, .owner_name.as_deref()))]
    WrongOwner {
        owner: u32,
        owner_name: Option<String>,
        /// The user who should own it (root for system crontabs).
        expected: String,
        /// The owner checked is that of a symbolic link in a system directory, not its target.
        link: bool,
    },
    #[error("has mode {mode:04o}, which lets {} write it", writers(*.mode & *.forbidden))]
    Writable {
        mode: u32,
        /// The write bits this kind of crontab must not have.
        forbidden: u32,
        /// The `chmod` mode argument that fixes it.
        chmod: &'static str,
    },
    #[error("has {links} hard links; a crontab in the user spool must have exactly one name")]
    HardLinks { links: u64 },
    #[error("is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error(
        "belongs to user '{user}', but cronwrightd runs as '{own_user}', not as root, and can only run its own jobs"
    )]
    NotRoot { user: String, own_user: String },
    /// The user the file is named after may not have a crontab (`cron.allow` / `cron.deny`).
    #[error("belongs to user '{user}', who may not use cron: {why}")]
    NotAllowed { user: String, why: String },
    #[error("cannot be read: {source}")]
    Io {
        #[from]
        source: io::Error,
    },
}

impl Refusal {
    /// The shell command that makes the file acceptable, naming `path` (the source's path),
    /// when there is one that is safe to suggest.
    pub fn fix(&self, path: &Path) -> Option<String> {
        let p = shell_quote(path);
        match self {
            Refusal::WrongOwner {
                expected,
                link: false,
                ..
            } => Some(format!("chown {expected} {p}")),
            Refusal::WrongOwner {
                expected,
                link: true,
                ..
            } => Some(format!("chown -h {expected} {p}")),
            Refusal::Writable { chmod, .. } => Some(format!("chmod {chmod} {p}")),
            // install(1) replaces the link by a copy with the owner and mode the spool needs.
            Refusal::Symlink {
                user: Some(user),
                target: Some(target),
            } => Some(format!(
                "install -m 600 -o {user} {} {p}",
                shell_quote(target)
            )),
            _ => None,
        }
    }
}

fn owner_desc(uid: u32, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

fn writers(bits: u32) -> &'static str {
    match (bits & 0o020 != 0, bits & 0o002 != 0) {
        (true, true) => "its group and everyone else",
        (true, false) => "its group",
        _ => "everyone",
    }
}

/// Quotes a path for a POSIX shell, leaving the common plain paths as they are.
fn shell_quote(path: &Path) -> String {
    let s = path.to_string_lossy();
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The effective user of this process, by name and uid; a uid without a passwd entry (as in
/// some containers) is named by its number.
pub fn effective_user() -> (String, u32) {
    let uid = nix::unistd::geteuid();
    let name = match User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    };
    (name, uid.as_raw())
}

/// Whether `name` may be a crontab in a system directory (Debian's rule).
pub fn system_dir_name_ok(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

/// crontab(1)'s working files in the spool (see the module comment).
fn spool_working_file(name: &[u8]) -> bool {
    name.starts_with(b".")
        || name.starts_with(b"#")
        || name.starts_with(b"tmp.")
        || name.ends_with(b"~")
        || name.ends_with(b".new")
}

/// What a directory entry is to us.
enum Entry {
    Source(Source),
    Ignored(String),
    Skipped,
}

fn dir_entry(path: &Path, is_dir: bool, kind: Kind, cfg: &SourcesConfig) -> Entry {
    let Some(name) = path.file_name() else {
        return Entry::Skipped;
    };
    if kind == Kind::UserSpool && spool_working_file(name.as_bytes()) {
        return Entry::Skipped;
    }
    if is_dir {
        return Entry::Ignored(
            "is a directory (crontab directories are not searched recursively)".into(),
        );
    }
    match kind {
        Kind::SystemDir if !system_dir_name_ok(name) => Entry::Ignored(SYSTEM_DIR_RULE.into()),
        Kind::SystemDir => Entry::Source(Source {
            path: path.to_path_buf(),
            kind,
            format: Format::System,
            user: None,
        }),
        _ => {
            let Some(user) = name.to_str() else {
                return Entry::Ignored("file name is not valid UTF-8, so it names no user".into());
            };
            if !cfg.as_root && user != cfg.own_user {
                let refusal = Refusal::NotRoot {
                    user: user.to_string(),
                    own_user: cfg.own_user.clone(),
                };
                return Entry::Ignored(refusal.to_string());
            }
            Entry::Source(Source {
                path: path.to_path_buf(),
                kind: Kind::UserSpool,
                format: Format::User,
                user: Some(user.to_string()),
            })
        }
    }
}

fn system_crontab_source(path: &Path) -> Source {
    Source {
        path: path.to_path_buf(),
        kind: Kind::SystemCrontab,
        format: Format::System,
        user: None,
    }
}

fn extra_source(path: &Path, cfg: &SourcesConfig) -> Source {
    Source {
        path: path.to_path_buf(),
        kind: Kind::Extra,
        format: Format::User,
        user: Some(cfg.own_user.clone()),
    }
}

fn scan_dir(dir: &Path, kind: Kind, cfg: &SourcesConfig, scan: &mut Scan) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // A missing directory is normal (no /etc/cron.d; the spool before its first crontab).
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            scan.ignored
                .push((dir.to_path_buf(), format!("cannot read the directory: {e}")));
            return;
        }
    };
    let mut found: Vec<(PathBuf, bool)> = entries
        .filter_map(Result::ok)
        // The entry's own type: a symbolic link is not a directory here, and is judged by load.
        .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect();
    found.sort();
    for (path, is_dir) in found {
        match dir_entry(&path, is_dir, kind, cfg) {
            Entry::Source(source) => scan.sources.push(source),
            Entry::Ignored(reason) => scan.ignored.push((path, reason)),
            Entry::Skipped => {}
        }
    }
}

/// Lists every crontab the configuration names, in a stable order: the system crontab, each
/// system directory and the spool (each sorted by name), then the extra files.
pub fn scan(cfg: &SourcesConfig) -> Scan {
    let mut scan = Scan::default();
    if let Some(path) = &cfg.system_crontab
        && fs::symlink_metadata(path).is_ok()
    {
        scan.sources.push(system_crontab_source(path));
    }
    for dir in &cfg.system_dirs {
        scan_dir(dir, Kind::SystemDir, cfg, &mut scan);
    }
    if let Some(spool) = &cfg.user_spool {
        scan_dir(spool, Kind::UserSpool, cfg, &mut scan);
    }
    for path in &cfg.extra_user_crontabs {
        scan.sources.push(extra_source(path, cfg));
    }
    scan
}

/// How long a temporary file of crontab(1) in the spool must have been left unchanged to count
/// as left behind by an install that was killed. An install holds its file only while it writes
/// and syncs at most [`MAX_CRONTAB_BYTES`] (seconds, even on a slow disk), so ten minutes never
/// takes the file of an install that is still running.
pub const STALE_TEMPORARY_SECS: i64 = 10 * 60;

/// Removes from the spool `dir` the temporary files of crontab(1) (`tmp.*` regular files)
/// last modified [`STALE_TEMPORARY_SECS`] or more before `now` (Unix seconds), of any owner or,
/// with `owner`, of that uid only; returns those removed. An interrupted install leaves up to
/// [`MAX_CRONTAB_BYTES`] there that nothing else removes. Best effort: a spool that cannot be
/// listed (crontab(1)'s group may create files in it but not list it) or a file that cannot be
/// removed is left as it is. Other names are never touched, and neither are links, which
/// crontab(1) never makes there.
pub fn remove_stale_temporaries(dir: &Path, owner: Option<u32>, now: i64) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_name().as_bytes().starts_with(b"tmp.") {
            continue;
        }
        // Not followed: the link itself, were one there.
        let Ok(meta) = entry.metadata() else { continue };
        let stale = meta.is_file()
            && owner.is_none_or(|uid| meta.uid() == uid)
            && meta.mtime() <= now - STALE_TEMPORARY_SECS;
        // Between the look and the removal only the file's owner could put another file under
        // this name (the spool is sticky), and crontab(1) draws a new random name every time:
        // the file judged is the one removed.
        if stale && fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed.sort();
    removed
}

/// The daemon's sweep of the user spool (see [`remove_stale_temporaries`]): every user's stale
/// temporary files when it runs as root, otherwise only its own user's.
pub fn sweep_spool(cfg: &SourcesConfig, now: i64) -> Vec<PathBuf> {
    match &cfg.user_spool {
        Some(spool) => remove_stale_temporaries(spool, (!cfg.as_root).then_some(cfg.own_uid), now),
        None => Vec::new(),
    }
}

/// What one path is to the daemon. Judged by name and place, so a path that was just deleted
/// is still a source (loading it then says `NotFound`, and its jobs go).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A crontab of ours (it may have just been deleted).
    Source(Source),
    /// A file in a crontab directory that is left out, with why (as in [`Scan::ignored`]),
    /// so that a file created while the daemon runs is reported like one found at start.
    Ignored(String),
    /// Anything else: outside the sources, crontab(1)'s working files in the spool, or an
    /// ignored name that no longer exists.
    NotOurs,
}

/// Judges one path by name and place; see [`Verdict`].
pub fn judge(path: &Path, cfg: &SourcesConfig) -> Verdict {
    if cfg.system_crontab.as_deref() == Some(path) {
        return Verdict::Source(system_crontab_source(path));
    }
    if cfg.extra_user_crontabs.iter().any(|p| p == path) {
        return Verdict::Source(extra_source(path, cfg));
    }
    let Some(parent) = path.parent() else {
        return Verdict::NotOurs;
    };
    let kind = if cfg.system_dirs.iter().any(|d| d == parent) {
        Kind::SystemDir
    } else if cfg.user_spool.as_deref() == Some(parent) {
        Kind::UserSpool
    } else {
        return Verdict::NotOurs;
    };
    let meta = fs::symlink_metadata(path);
    let is_dir = meta.as_ref().is_ok_and(|m| m.is_dir());
    match dir_entry(path, is_dir, kind, cfg) {
        Entry::Source(source) => Verdict::Source(source),
        Entry::Ignored(reason) if meta.is_ok() => Verdict::Ignored(reason),
        Entry::Ignored(_) | Entry::Skipped => Verdict::NotOurs,
    }
}

fn file_kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

fn not_found_or(e: io::Error) -> Refusal {
    if e.kind() == io::ErrorKind::NotFound {
        Refusal::NotFound
    } else {
        Refusal::Io { source: e }
    }
}

fn user_name(uid: u32) -> Option<String> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// What one kind of source demands of its file.
struct Rules {
    /// Owners accepted.
    owners: Vec<u32>,
    /// Named in the message and the fix.
    expected: String,
    follow_links: bool,
    /// The file must have exactly one name.
    one_name: bool,
    forbidden: u32,
    chmod: &'static str,
}

fn rules(source: &Source, cfg: &SourcesConfig) -> Result<Rules, Refusal> {
    let own_too = |uids: &mut Vec<u32>| {
        if !cfg.as_root && cfg.own_uid != 0 {
            uids.push(cfg.own_uid);
        }
    };
    match source.kind {
        Kind::SystemCrontab | Kind::SystemDir => {
            let mut owners = vec![0];
            own_too(&mut owners);
            Ok(Rules {
                owners,
                expected: if cfg.as_root {
                    "root".into()
                } else {
                    cfg.own_user.clone()
                },
                follow_links: true,
                one_name: false,
                forbidden: 0o022,
                chmod: "go-w",
            })
        }
        Kind::Extra => Ok(Rules {
            owners: vec![0, cfg.own_uid],
            expected: cfg.own_user.clone(),
            follow_links: true,
            one_name: false,
            forbidden: 0o002,
            chmod: "o-w",
        }),
        Kind::UserSpool => {
            let user = match &source.user {
                Some(user) => user.clone(),
                None => source
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            if !cfg.as_root && user != cfg.own_user {
                return Err(Refusal::NotRoot {
                    user,
                    own_user: cfg.own_user.clone(),
                });
            }
            let pw = User::from_name(&user)
                .map_err(io::Error::from)?
                .ok_or_else(|| Refusal::UnknownUser { user: user.clone() })?;
            Ok(Rules {
                owners: vec![pw.uid.as_raw()],
                expected: user,
                follow_links: false,
                one_name: true,
                forbidden: 0o022,
                chmod: "600",
            })
        }
    }
}

/// Checks one source and reads it. See the module comment for the rules.
pub fn load(source: &Source, cfg: &SourcesConfig) -> Result<Loaded, Refusal> {
    let path = &source.path;
    if source.kind == Kind::Extra && path.as_os_str() == STDIN {
        // Read once at start, never changed: always the same stamp.
        return match &cfg.stdin {
            Some(text) => Ok(Loaded {
                text: text.to_string(),
                stamp: Stamp::default(),
                owner_uid: cfg.own_uid,
            }),
            None => Err(Refusal::NotFound),
        };
    }
    // Looks before opening, so that a device or FIFO is never opened and a link is named as
    // such; the decision itself is made again on the opened descriptor below.
    let lmeta = fs::symlink_metadata(path).map_err(not_found_or)?;
    let rules = rules(source, cfg)?;
    if lmeta.file_type().is_symlink() {
        if !rules.follow_links {
            return Err(Refusal::Symlink {
                user: source.user.clone(),
                target: fs::canonicalize(path).ok(),
            });
        }
        if source.kind != Kind::Extra && !rules.owners.contains(&lmeta.uid()) {
            return Err(Refusal::WrongOwner {
                owner: lmeta.uid(),
                owner_name: user_name(lmeta.uid()),
                expected: rules.expected,
                link: true,
            });
        }
        let meta = fs::metadata(path).map_err(not_found_or)?;
        if !meta.is_file() {
            return Err(Refusal::NotRegular {
                what: file_kind(&meta),
            });
        }
    } else if !lmeta.is_file() {
        return Err(Refusal::NotRegular {
            what: file_kind(&lmeta),
        });
    }

    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if !rules.follow_links {
        flags |= libc::O_NOFOLLOW;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // Replaced by a link since we looked.
            Some(libc::ELOOP) if !rules.follow_links => Refusal::Symlink {
                user: source.user.clone(),
                target: fs::canonicalize(path).ok(),
            },
            _ => not_found_or(e),
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Refusal::NotRegular {
            what: file_kind(&meta),
        });
    }
    if !rules.owners.contains(&meta.uid()) {
        return Err(Refusal::WrongOwner {
            owner: meta.uid(),
            owner_name: user_name(meta.uid()),
            expected: rules.expected,
            link: false,
        });
    }
    if meta.mode() & rules.forbidden != 0 {
        return Err(Refusal::Writable {
            mode: meta.mode() & 0o7777,
            forbidden: rules.forbidden,
            chmod: rules.chmod,
        });
    }
    if rules.one_name {
        match meta.nlink() {
            1 => {}
            // Removed since it was opened (`crontab -r`); its watch event follows.
            0 => return Err(Refusal::NotFound),
            links => return Err(Refusal::HardLinks { links }),
        }
    }
    if meta.len() > MAX_CRONTAB_BYTES {
        return Err(Refusal::TooLarge {
            size: meta.len(),
            limit: MAX_CRONTAB_BYTES,
        });
    }
    let text = read_capped(file, meta.len())?;
    Ok(Loaded {
        text,
        stamp: Stamp::of(&meta),
        owner_uid: meta.uid(),
    })
}

/// Reads at most one byte past the limit, so a file growing while it is read is still caught.
/// `size` is the file's size when it was looked at: room for it and the byte that tells the
/// end is reached lets a big crontab be read straight into place, where a growing buffer
/// would copy it over and over.
fn read_capped(file: File, size: u64) -> Result<String, Refusal> {
    let mut bytes = Vec::with_capacity(size.min(MAX_CRONTAB_BYTES) as usize + 1);
    file.take(MAX_CRONTAB_BYTES + 1).read_to_end(&mut bytes)?;
    let size = bytes.len() as u64;
    if size > MAX_CRONTAB_BYTES {
        return Err(Refusal::TooLarge {
            size,
            limit: MAX_CRONTAB_BYTES,
        });
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The source a path is, if it is one.
    fn classify(path: &Path, cfg: &SourcesConfig) -> Option<Source> {
        match judge(path, cfg) {
            Verdict::Source(source) => Some(source),
            Verdict::Ignored(_) | Verdict::NotOurs => None,
        }
    }
    use std::os::unix::fs::{PermissionsExt, symlink};

    use nix::sys::stat::Mode;
    use nix::unistd::{Gid, chown, geteuid, mkfifo};

    /// A layout like Debian's under a tempdir: etc/crontab, etc/cron.d, spool.
    struct Tree {
        _dir: tempfile::TempDir,
        root: PathBuf,
        cfg: SourcesConfig,
    }

    fn tree() -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        fs::create_dir_all(root.join("etc/cron.d")).expect("mkdir");
        fs::create_dir_all(root.join("spool")).expect("mkdir");
        let (own_user, own_uid) = effective_user();
        let cfg = SourcesConfig {
            system_crontab: Some(root.join("etc/crontab")),
            system_dirs: vec![root.join("etc/cron.d")],
            user_spool: Some(root.join("spool")),
            extra_user_crontabs: vec![root.join("demo.cron")],
            as_root: geteuid().is_root(),
            own_user,
            own_uid,
            stdin: None,
        };
        Tree {
            _dir: dir,
            root,
            cfg,
        }
    }

    fn write(path: &Path, mode: u32) {
        fs::write(path, "* * * * * true\n").expect("write");
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }

    fn needs_root() -> bool {
        if geteuid().is_root() {
            true
        } else {
            println!("skipped: needs root");
            false
        }
    }

    fn nobody() -> Option<User> {
        let user = User::from_name("nobody").ok().flatten();
        if user.is_none() {
            println!("skipped: needs a user named nobody");
        }
        user
    }

    fn give(path: &Path, uid: u32) {
        chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(uid))).expect("chown");
    }

    fn spool_source(t: &Tree, user: &str) -> Source {
        Source {
            path: t.root.join("spool").join(user),
            kind: Kind::UserSpool,
            format: Format::User,
            user: Some(user.into()),
        }
    }

    fn cron_d_source(t: &Tree, name: &str) -> Source {
        Source {
            path: t.root.join("etc/cron.d").join(name),
            kind: Kind::SystemDir,
            format: Format::System,
            user: None,
        }
    }

    #[test]
    fn scan_finds_crontabs_and_reports_bad_names_with_the_rule() {
        let mut t = tree();
        t.cfg.as_root = true;
        let d = t.root.join("etc/cron.d");
        write(&t.root.join("etc/crontab"), 0o644);
        for name in [
            "php",
            "sys_stat-2",
            "php.dpkg-old",
            "job~",
            ".placeholder",
            "a.b",
        ] {
            write(&d.join(name), 0o644);
        }
        fs::create_dir(d.join("sub")).expect("mkdir");
        let s = t.root.join("spool");
        for name in [
            "alice",
            "john.doe",
            "tmp.XyZ12",
            "#tmp.host.123",
            ".hidden",
            "bob.new",
            "carol~",
        ] {
            write(&s.join(name), 0o600);
        }

        let scan = scan(&t.cfg);
        let found: Vec<(String, Kind, Format, Option<String>)> = scan
            .sources
            .iter()
            .map(|s| {
                let rel = s.path.strip_prefix(&t.root).expect("under root");
                (rel.display().to_string(), s.kind, s.format, s.user.clone())
            })
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    "etc/crontab".into(),
                    Kind::SystemCrontab,
                    Format::System,
                    None
                ),
                (
                    "etc/cron.d/php".into(),
                    Kind::SystemDir,
                    Format::System,
                    None
                ),
                (
                    "etc/cron.d/sys_stat-2".into(),
                    Kind::SystemDir,
                    Format::System,
                    None
                ),
                (
                    "spool/alice".into(),
                    Kind::UserSpool,
                    Format::User,
                    Some("alice".into())
                ),
                (
                    "spool/john.doe".into(),
                    Kind::UserSpool,
                    Format::User,
                    Some("john.doe".into())
                ),
                (
                    "demo.cron".into(),
                    Kind::Extra,
                    Format::User,
                    Some(t.cfg.own_user.clone())
                ),
            ]
        );
        let ignored: Vec<(String, &str)> = scan
            .ignored
            .iter()
            .map(|(p, r)| {
                (
                    p.strip_prefix(&t.root)
                        .expect("under root")
                        .display()
                        .to_string(),
                    r.as_str(),
                )
            })
            .collect();
        let names: Vec<&str> = ignored.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "etc/cron.d/.placeholder",
                "etc/cron.d/a.b",
                "etc/cron.d/job~",
                "etc/cron.d/php.dpkg-old",
                "etc/cron.d/sub",
            ]
        );
        for (path, reason) in &ignored[..4] {
            assert_eq!(*reason, SYSTEM_DIR_RULE, "{path}");
        }
        assert!(ignored[4].1.contains("directory"), "{}", ignored[4].1);
    }

    #[test]
    fn missing_directories_and_system_crontab_are_not_errors() {
        let mut t = tree();
        t.cfg.system_dirs = vec![t.root.join("nope")];
        t.cfg.user_spool = Some(t.root.join("no-spool"));
        let scan = scan(&t.cfg);
        assert!(scan.ignored.is_empty(), "{:?}", scan.ignored);
        // Only the extra file, which is listed so that loading it can say it is missing.
        assert_eq!(scan.sources.len(), 1);
        assert_eq!(scan.sources[0].kind, Kind::Extra);
        assert!(matches!(
            load(&scan.sources[0], &t.cfg),
            Err(Refusal::NotFound)
        ));
    }

    #[test]
    fn not_root_scans_only_its_own_spool_crontab() {
        let mut t = tree();
        t.cfg.as_root = false;
        t.cfg.own_user = "alice".into();
        write(&t.root.join("spool/alice"), 0o600);
        write(&t.root.join("spool/bob"), 0o600);
        let scan = scan(&t.cfg);
        let spool: Vec<&Source> = scan
            .sources
            .iter()
            .filter(|s| s.kind == Kind::UserSpool)
            .collect();
        assert_eq!(spool.len(), 1);
        assert_eq!(spool[0].user.as_deref(), Some("alice"));
        assert_eq!(scan.ignored.len(), 1);
        assert!(scan.ignored[0].0.ends_with("spool/bob"));
        assert!(
            scan.ignored[0].1.contains("not as root"),
            "{}",
            scan.ignored[0].1
        );
        assert!(classify(&t.root.join("spool/bob"), &t.cfg).is_none());
        assert!(matches!(
            load(&spool_source(&t, "bob"), &t.cfg),
            Err(Refusal::NotRoot { .. })
        ));
    }

    #[test]
    fn classify_names_each_kind_and_rejects_others() {
        let mut t = tree();
        t.cfg.as_root = true;
        let kind = |p: PathBuf| classify(&p, &t.cfg).map(|s| (s.kind, s.user));
        assert_eq!(
            kind(t.root.join("etc/crontab")),
            Some((Kind::SystemCrontab, None))
        );
        // Judged by name: a file that was just deleted is still ours.
        assert_eq!(
            kind(t.root.join("etc/cron.d/gone")),
            Some((Kind::SystemDir, None))
        );
        assert_eq!(kind(t.root.join("etc/cron.d/gone.bak")), None);
        assert_eq!(
            kind(t.root.join("spool/alice")),
            Some((Kind::UserSpool, Some("alice".into())))
        );
        assert_eq!(kind(t.root.join("spool/tmp.abc")), None);
        assert_eq!(
            kind(t.root.join("demo.cron")),
            Some((Kind::Extra, Some(t.cfg.own_user.clone())))
        );
        assert_eq!(kind(t.root.join("etc/passwd")), None);
        assert_eq!(kind(t.root.join("etc/cron.d")), None);
        fs::create_dir(t.root.join("etc/cron.d/subdir")).expect("mkdir");
        assert_eq!(kind(t.root.join("etc/cron.d/subdir")), None);
    }

    #[test]
    fn judge_says_why_an_existing_file_is_left_out() {
        let mut t = tree();
        t.cfg.as_root = true;
        let backup = t.root.join("etc/cron.d/job.bak");
        assert_eq!(judge(&backup, &t.cfg), Verdict::NotOurs); // not there (any more)
        write(&backup, 0o644);
        assert_eq!(
            judge(&backup, &t.cfg),
            Verdict::Ignored(SYSTEM_DIR_RULE.into())
        );
        let working = t.root.join("spool/tmp.123");
        write(&working, 0o600);
        assert_eq!(judge(&working, &t.cfg), Verdict::NotOurs);
        assert_eq!(judge(&t.root.join("elsewhere"), &t.cfg), Verdict::NotOurs);
        assert!(matches!(
            judge(&t.root.join("spool/alice"), &t.cfg),
            Verdict::Source(_)
        ));
    }

    #[test]
    fn a_good_file_loads_with_text_and_stamp() {
        let t = tree();
        let path = t.root.join("demo.cron");
        fs::write(&path, "*/5 * * * * echo hi\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let source = classify(&path, &t.cfg).expect("extra source");
        let loaded = load(&source, &t.cfg).expect("loads");
        assert_eq!(loaded.text, "*/5 * * * * echo hi\n");
        assert_eq!(loaded.owner_uid, t.cfg.own_uid);
        let meta = fs::metadata(&path).expect("stat");
        assert_eq!(loaded.stamp, Stamp::of(&meta));
        assert_eq!(loaded.stamp.size, 20);

        // A save by rename gives a new inode, so the stamp changes even with the same text.
        let tmp = t.root.join("demo.cron.tmp");
        fs::write(&tmp, "*/5 * * * * echo hi\n").expect("write");
        fs::rename(&tmp, &path).expect("rename");
        let again = load(&source, &t.cfg).expect("loads");
        assert_ne!(again.stamp, loaded.stamp);
        assert_eq!(again.text, loaded.text);
    }

    #[test]
    fn invalid_utf8_is_read_lossily() {
        let t = tree();
        let path = t.root.join("demo.cron");
        fs::write(&path, b"* * * * * echo \xff\n").expect("write");
        let loaded = load(&extra_source(&path, &t.cfg), &t.cfg).expect("loads");
        assert_eq!(loaded.text, "* * * * * echo \u{fffd}\n");
    }

    #[test]
    fn spool_crontab_owned_by_its_user_loads() {
        if !needs_root() {
            return;
        }
        let Some(nobody) = nobody() else { return };
        let t = tree();
        let path = t.root.join("spool/nobody");
        write(&path, 0o600);
        give(&path, nobody.uid.as_raw());
        let loaded = load(&spool_source(&t, "nobody"), &t.cfg).expect("loads");
        assert_eq!(loaded.owner_uid, nobody.uid.as_raw());
    }

    #[test]
    fn spool_crontab_owned_by_another_user_is_refused() {
        if !needs_root() {
            return;
        }
        let Some(nobody) = nobody() else { return };
        let t = tree();
        let path = t.root.join("spool/nobody");
        write(&path, 0o600); // owned by root
        let err = load(&spool_source(&t, "nobody"), &t.cfg).expect_err("refused");
        assert!(
            matches!(&err, Refusal::WrongOwner { owner: 0, expected, link: false, .. } if expected == "nobody"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "is owned by root (uid 0), not by nobody");
        assert_eq!(
            err.fix(&path),
            Some(format!("chown nobody {}", path.display()))
        );

        // And the other way round: root's name, nobody's file.
        let root_path = t.root.join("spool/root");
        write(&root_path, 0o600);
        give(&root_path, nobody.uid.as_raw());
        let err = load(&spool_source(&t, "root"), &t.cfg).expect_err("refused");
        assert!(matches!(err, Refusal::WrongOwner { .. }), "{err:?}");
    }

    #[test]
    fn group_or_world_writable_spool_crontab_is_refused() {
        if !needs_root() {
            return;
        }
        let Some(nobody) = nobody() else { return };
        let t = tree();
        let path = t.root.join("spool/nobody");
        for (mode, who) in [
            (0o620, "its group"),
            (0o602, "everyone"),
            (0o666, "its group and everyone else"),
        ] {
            write(&path, mode);
            give(&path, nobody.uid.as_raw());
            let err = load(&spool_source(&t, "nobody"), &t.cfg).expect_err("refused");
            assert!(
                matches!(err, Refusal::Writable { mode: m, .. } if m == mode),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!("has mode {mode:04o}, which lets {who} write it")
            );
            assert_eq!(
                err.fix(&path),
                Some(format!("chmod 600 {}", path.display()))
            );
        }
    }

    #[test]
    fn symlink_in_spool_is_refused() {
        if !needs_root() {
            return;
        }
        let Some(nobody) = nobody() else { return };
        let t = tree();
        let real = t.root.join("real");
        write(&real, 0o600);
        give(&real, nobody.uid.as_raw());
        let link = t.root.join("spool/nobody");
        symlink(&real, &link).expect("symlink");
        let err = load(&spool_source(&t, "nobody"), &t.cfg).expect_err("refused");
        assert!(matches!(err, Refusal::Symlink { .. }), "{err:?}");
        let real = fs::canonicalize(&real).expect("canonical");
        assert_eq!(
            err.fix(&link),
            Some(format!(
                "install -m 600 -o nobody {} {}",
                real.display(),
                link.display()
            ))
        );
    }

    /// Run as root or as any user: the crontab is the effective user's own.
    #[test]
    fn spool_crontab_with_a_second_name_is_refused() {
        let t = tree();
        let user = t.cfg.own_user.clone();
        let path = t.root.join("spool").join(&user);
        write(&path, 0o600);
        let source = spool_source(&t, &user);
        assert!(load(&source, &t.cfg).is_ok());
        let second = t.root.join("second-name");
        fs::hard_link(&path, &second).expect("link");
        let err = load(&source, &t.cfg).expect_err("refused");
        assert!(matches!(err, Refusal::HardLinks { links: 2 }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "has 2 hard links; a crontab in the user spool must have exactly one name"
        );
        assert_eq!(err.fix(&path), None);
        fs::remove_file(&second).expect("unlink");
        assert!(load(&source, &t.cfg).is_ok());
    }

    #[test]
    fn system_and_extra_crontabs_may_have_more_than_one_name() {
        let t = tree();
        for path in [t.root.join("etc/cron.d/job"), t.root.join("demo.cron")] {
            write(&path, 0o644);
            fs::hard_link(&path, t.root.join("second-name")).expect("link");
            let source = classify(&path, &t.cfg).expect("a source");
            assert!(load(&source, &t.cfg).is_ok(), "{}", path.display());
            fs::remove_file(t.root.join("second-name")).expect("unlink");
        }
    }

    /// Makes `path` (not followed, were it a link) last modified `secs` seconds before now.
    fn age(path: &Path, secs: i64) {
        use nix::sys::stat::{UtimensatFlags, utimensat};
        use nix::sys::time::TimeSpec;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        let then = TimeSpec::new(now - secs, 0);
        utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &then,
            &then,
            UtimensatFlags::NoFollowSymlink,
        )
        .expect("utimensat");
    }

    #[test]
    fn the_spool_is_swept_of_stale_temporary_files_only() {
        let mut t = tree();
        let spool = t.root.join("spool");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        let stale = spool.join("tmp.0123456789abcdef");
        write(&stale, 0o600);
        age(&stale, STALE_TEMPORARY_SECS + 60);
        let fresh = spool.join("tmp.fresh");
        write(&fresh, 0o600);
        age(&fresh, STALE_TEMPORARY_SECS - 60);
        // Old, but no temporary file of crontab(1): a crontab, another working file, a
        // directory and a link.
        let keep = ["alice", "#tmp.host.1", "tmp.dir", "tmp.link"].map(|n| spool.join(n));
        write(&keep[0], 0o600);
        write(&keep[1], 0o600);
        fs::create_dir(&keep[2]).expect("mkdir");
        symlink(&keep[0], &keep[3]).expect("symlink");
        for path in &keep {
            age(path, 3600);
        }

        // A daemon that is not root removes only its own user's files.
        t.cfg.as_root = false;
        t.cfg.own_uid = geteuid().as_raw() + 1;
        assert!(sweep_spool(&t.cfg, now).is_empty());
        t.cfg.own_uid = geteuid().as_raw();
        assert_eq!(sweep_spool(&t.cfg, now), vec![stale.clone()]);
        assert!(!stale.exists());
        assert!(fresh.exists());
        for path in &keep {
            assert!(fs::symlink_metadata(path).is_ok(), "{}", path.display());
        }
        // As root, any user's; and nothing twice.
        t.cfg.as_root = true;
        t.cfg.own_uid = geteuid().as_raw() + 1;
        write(&stale, 0o600);
        age(&stale, STALE_TEMPORARY_SECS + 60);
        assert_eq!(sweep_spool(&t.cfg, now), vec![stale.clone()]);
        assert!(sweep_spool(&t.cfg, now).is_empty());
        // No spool, or one that cannot be listed: nothing, quietly.
        t.cfg.user_spool = Some(t.root.join("no-spool"));
        assert!(sweep_spool(&t.cfg, now).is_empty());
    }

    #[test]
    fn spool_crontab_of_unknown_user_is_refused() {
        let mut t = tree();
        t.cfg.as_root = true; // the name check comes before any owner check
        let path = t.root.join("spool/cronwright-no-such-user");
        write(&path, 0o600);
        let err = load(&spool_source(&t, "cronwright-no-such-user"), &t.cfg).expect_err("refused");
        assert!(matches!(&err, Refusal::UnknownUser { user } if user == "cronwright-no-such-user"));
        assert_eq!(err.fix(&path), None);
    }

    #[test]
    fn cron_d_file_not_owned_by_root_is_refused() {
        if !needs_root() {
            return;
        }
        let Some(nobody) = nobody() else { return };
        let t = tree();
        let path = t.root.join("etc/cron.d/job");
        write(&path, 0o644);
        give(&path, nobody.uid.as_raw());
        let err = load(&cron_d_source(&t, "job"), &t.cfg).expect_err("refused");
        assert!(
            matches!(&err, Refusal::WrongOwner { expected, link: false, .. } if expected == "root"),
            "{err:?}"
        );
        assert_eq!(
            err.fix(&path),
            Some(format!("chown root {}", path.display()))
        );

        // The system crontab follows the same rule.
        let crontab = t.root.join("etc/crontab");
        write(&crontab, 0o644);
        give(&crontab, nobody.uid.as_raw());
        let source = classify(&crontab, &t.cfg).expect("system crontab");
        assert!(matches!(
            load(&source, &t.cfg),
            Err(Refusal::WrongOwner { .. })
        ));
    }

    #[test]
    fn group_writable_cron_d_file_is_refused() {
        if !needs_root() {
            return;
        }
        let t = tree();
        let path = t.root.join("etc/cron.d/job");
        write(&path, 0o664);
        let err = load(&cron_d_source(&t, "job"), &t.cfg).expect_err("refused");
        assert!(
            matches!(err, Refusal::Writable { mode: 0o664, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.fix(&path),
            Some(format!("chmod go-w {}", path.display()))
        );
    }

    #[test]
    fn cron_d_symlink_to_a_good_file_loads_and_to_a_bad_one_is_refused() {
        if !needs_root() {
            return;
        }
        let Some(nobody) = nobody() else { return };
        let t = tree();
        let good = t.root.join("good");
        write(&good, 0o644);
        symlink(&good, t.root.join("etc/cron.d/good")).expect("symlink");
        let loaded = load(&cron_d_source(&t, "good"), &t.cfg).expect("loads");
        assert_eq!(loaded.text, "* * * * * true\n");

        let bad = t.root.join("bad");
        write(&bad, 0o644);
        give(&bad, nobody.uid.as_raw());
        symlink(&bad, t.root.join("etc/cron.d/bad")).expect("symlink");
        let err = load(&cron_d_source(&t, "bad"), &t.cfg).expect_err("refused");
        assert!(
            matches!(err, Refusal::WrongOwner { link: false, .. }),
            "{err:?}"
        );

        // A link owned by someone else is refused even when its target is fine.
        let link = t.root.join("etc/cron.d/theirs");
        symlink(&good, &link).expect("symlink");
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            &link,
            Some(nobody.uid),
            None,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .expect("lchown");
        let err = load(&cron_d_source(&t, "theirs"), &t.cfg).expect_err("refused");
        assert!(
            matches!(err, Refusal::WrongOwner { link: true, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.fix(&link),
            Some(format!("chown -h root {}", link.display()))
        );
    }

    #[test]
    fn fifo_and_directory_are_not_regular_files() {
        let mut t = tree();
        t.cfg.as_root = true;
        let fifo = t.root.join("etc/cron.d/fifo");
        mkfifo(&fifo, Mode::from_bits_truncate(0o644)).expect("mkfifo");
        let err = load(&cron_d_source(&t, "fifo"), &t.cfg).expect_err("refused");
        assert!(
            matches!(err, Refusal::NotRegular { what: "a FIFO" }),
            "{err:?}"
        );
        fs::create_dir(t.root.join("etc/cron.d/dir")).expect("mkdir");
        let err = load(&cron_d_source(&t, "dir"), &t.cfg).expect_err("refused");
        assert!(
            matches!(
                err,
                Refusal::NotRegular {
                    what: "a directory"
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn oversized_file_is_refused() {
        let t = tree();
        let path = t.root.join("demo.cron");
        let file = File::create(&path).expect("create");
        file.set_len(MAX_CRONTAB_BYTES + 1).expect("sparse file");
        let err = load(&extra_source(&path, &t.cfg), &t.cfg).expect_err("refused");
        assert!(
            matches!(err, Refusal::TooLarge { size, limit: MAX_CRONTAB_BYTES } if size == MAX_CRONTAB_BYTES + 1),
            "{err:?}"
        );
    }

    #[test]
    fn extra_file_may_be_group_writable_but_not_world_writable() {
        let t = tree();
        let path = t.root.join("demo.cron");
        write(&path, 0o664);
        let source = extra_source(&path, &t.cfg);
        assert!(load(&source, &t.cfg).is_ok());
        write(&path, 0o646);
        let err = load(&source, &t.cfg).expect_err("refused");
        assert!(
            matches!(err, Refusal::Writable { mode: 0o646, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.fix(&path),
            Some(format!("chmod o-w {}", path.display()))
        );
    }

    #[test]
    fn not_root_accepts_its_own_system_crontab_but_not_a_strangers() {
        if !needs_root() {
            return;
        }
        let Some(nobody) = nobody() else { return };
        let mut t = tree();
        // The daemon as nobody: the files below are owned by nobody, root, and a third uid.
        t.cfg.as_root = false;
        t.cfg.own_user = "nobody".into();
        t.cfg.own_uid = nobody.uid.as_raw();
        let crontab = t.root.join("etc/crontab");
        let source = classify(&crontab, &t.cfg).expect("system crontab");
        write(&crontab, 0o644);
        give(&crontab, nobody.uid.as_raw());
        assert_eq!(
            load(&source, &t.cfg).expect("loads").owner_uid,
            nobody.uid.as_raw()
        );
        give(&crontab, 0);
        assert_eq!(load(&source, &t.cfg).expect("loads").owner_uid, 0);
        give(&crontab, 54_321);
        let err = load(&source, &t.cfg).expect_err("refused");
        assert!(
            matches!(&err, Refusal::WrongOwner { owner: 54_321, expected, .. } if expected == "nobody")
        );
        assert_eq!(err.to_string(), "is owned by uid 54321, not by nobody");
    }

    #[test]
    fn paths_in_fixes_are_quoted_for_the_shell() {
        let err = Refusal::Writable {
            mode: 0o666,
            forbidden: 0o022,
            chmod: "600",
        };
        assert_eq!(
            err.fix(Path::new("/tmp/it's here")),
            Some(r"chmod 600 '/tmp/it'\''s here'".to_string())
        );
    }
}
