//! `crontab`: users install, list, edit and remove their own crontab in the user spool
//! (cronie's and Debian's command), and `cronwright list`, the administrator's view of every
//! job the daemon would load. The daemon notices a new crontab through its watch on the spool;
//! nothing here signals it.
//!
//! # Command line
//!
//! `crontab FILE` and `crontab -` install (validated first with [`crate::cron::parse_crontab`]:
//! on errors the diagnostics are printed with their caret and nothing is installed); `-l` lists,
//! `-r` removes (`-i` asks first), `-e` edits with `$VISUAL`, `$EDITOR`, `/usr/bin/editor` or
//! `vi`, `-T FILE` only checks, `-u USER` picks another user (root only), `-V` prints the
//! version. Messages and exit codes are cronie's where it has them (`no crontab for alice`,
//! `must be privileged to use -u`, exit 1 for every failure). `--config PATH` (or
//! `CRONWRIGHT_CONFIG`) names the configuration, whose `[sources] user_spool` is the spool and
//! whose `[crontab]` table holds the `cron.allow` / `cron.deny` rules.
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
//! - `-e` copies the crontab into `crontab.XXXXXX/crontab`, a private directory (mode 0700, made
//!   by `mkdtemp` with the user's ids) under `$TMPDIR` or `/tmp` (`/tmp` when started
//!   set-group-ID, as cronie does), and reads it back with the user's rights.
//! - When the program runs set-group-ID for a user other than root, a configuration named by
//!   `--config` or `CRONWRIGHT_CONFIG` must be owned by root and not writable by group or
//!   others, since it decides who may use the program and where the spool is.
//!
//! `cronwright` is the same binary, so its other subcommands drop the group for good before
//! doing anything (`crate::cli::main`).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::{ArgGroup, Parser};
use nix::unistd::{Gid, Uid, User, getegid, geteuid, getgid, getuid, setegid};
use serde::Serialize;

use crate::config::{Config, ConfigError, DEFAULT_PATH};
use crate::cron::{Entry, Format, Zone, parse_crontab, parse_expr};
use crate::daemon::{DaemonView, UserCache, resolve_entry, sources_config};
use crate::runner;
use crate::sources::{self, MAX_CRONTAB_BYTES};

/// The environment variable naming the configuration when `--config` is not given.
pub const CONFIG_ENV: &str = "CRONWRIGHT_CONFIG";

/// The crontab command line, as cronie's and Debian's.
#[derive(Debug, Parser)]
#[command(
    name = "crontab",
    about = "Install, list, edit or remove your crontab (cronwright)",
    long_about = None,
    disable_version_flag = true,
    after_help = "With no option, FILE (or - for standard input) replaces the crontab."
)]
#[command(group(ArgGroup::new("operation").args(["list", "remove", "edit", "test"])))]
pub struct CrontabArgs {
    /// Work on USER's crontab instead of your own (root only)
    #[arg(short = 'u', value_name = "USER")]
    user: Option<String>,
    /// Print the crontab on standard output
    #[arg(short = 'l')]
    list: bool,
    /// Remove the crontab
    #[arg(short = 'r')]
    remove: bool,
    /// Edit the crontab with $VISUAL, $EDITOR, /usr/bin/editor or vi
    #[arg(short = 'e')]
    edit: bool,
    /// Ask before removing (with -r)
    #[arg(short = 'i')]
    interactive: bool,
    /// Only check the syntax of FILE (or - for standard input); exit 1 on errors
    #[arg(short = 'T')]
    test: bool,
    /// Print the version and exit
    #[arg(short = 'V', long = "version")]
    version: bool,
    /// The configuration file [default: $CRONWRIGHT_CONFIG, then /etc/cronwright/cronwright.toml]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// The crontab to install (or check with -T); - reads standard input
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

/// Why a crontab operation failed. `Display` is the message after `crontab: ` (see
/// [`CrontabError::prefixed`]).
#[derive(Debug, thiserror::Error)]
pub enum CrontabError {
    /// The real uid has no passwd entry, so there is no crontab name for it.
    #[error("your UID isn't in the passwd file ({uid})")]
    UnknownUid { uid: u32 },
    /// `-u` by someone other than root.
    #[error("must be privileged to use -u")]
    NotPrivileged,
    /// `-u` names no user.
    #[error(" user `{user}' unknown")]
    UnknownUser { user: String },
    /// The name cannot be a spool file the daemon would read (`.x`, `tmp.x`, `a/b`).
    #[error("user name '{user}' cannot name a crontab in the spool")]
    BadName { user: String },
    /// cron.allow / cron.deny (or `allow_everyone = false`) refuse the user.
    #[error("you ({user}) are not allowed to use this program")]
    NotAllowed { user: String },
    /// `-l` or `-r` and the user has no crontab.
    #[error("no crontab for {user}")]
    NoCrontab { user: String },
    /// The program is set-user-ID, which this model does not use.
    #[error(
        "this program runs set-user-ID (uid {uid}, effective uid {euid}); install it set-group-ID to the crontab group instead"
    )]
    SetUid { uid: u32, euid: u32 },
    /// Switching the effective gid failed.
    #[error("cannot switch the effective group to {gid}: {source}")]
    SwitchGroup { gid: u32, source: nix::Error },
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A configuration named by the user, while running set-group-ID.
    #[error(
        "{}: a set-group-ID crontab reads only a configuration owned by root and not writable by group or others",
        .path.display()
    )]
    UntrustedConfig { path: PathBuf },
    /// `[sources] user_spool = ""`.
    #[error("the user spool is disabled in {} ([sources] user_spool)", .config.display())]
    NoSpool { config: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    /// Something other than a regular file where a crontab should be.
    #[error("{}: not a regular file", .path.display())]
    NotRegular { path: PathBuf },
    #[error("{}: larger than {MAX_CRONTAB_BYTES} bytes", .path.display())]
    TooLarge { path: PathBuf },
    /// The editor failed; the edit is abandoned.
    #[error("\"{editor}\" {how}")]
    Editor { editor: String, how: String },
}

impl CrontabError {
    /// cronie prints a few messages without the program name; the rest get `crontab: `.
    pub fn prefixed(&self) -> bool {
        !matches!(
            self,
            CrontabError::NotPrivileged | CrontabError::NoCrontab { .. }
        )
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CrontabError + '_ {
    move |source| CrontabError::Io {
        path: path.to_path_buf(),
        source,
    }
}

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

/// The configuration path: `--config`, then `$CRONWRIGHT_CONFIG`, then the default.
pub fn config_path(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| {
        std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// Loads the configuration as the daemon does (a missing default file means the defaults).
/// With `root_owned_only`, the file must be owned by root and not writable by group or
/// others; it is checked on the descriptor it is read from.
pub fn load_config(path: &Path, root_owned_only: bool) -> Result<Config, CrontabError> {
    if !root_owned_only {
        return Ok(crate::daemon::load_config(path)?);
    }
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound && path == Path::new(DEFAULT_PATH) => {
            return Ok(Config::defaults()?);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ConfigError::NotFound {
                path: path.to_path_buf(),
            }
            .into());
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }
            .into());
        }
    };
    let meta = file.metadata().map_err(io_error(path))?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(CrontabError::UntrustedConfig {
            path: path.to_path_buf(),
        });
    }
    let mut text = String::new();
    file.take(MAX_CRONTAB_BYTES)
        .read_to_string(&mut text)
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(Config::parse(&text, path)?)
}

/// cronie's rule, given the contents of the allow and deny files (`None`: the file does not
/// exist): the allow file wins; then the deny file; with neither, `allow_everyone`. Root is
/// always allowed, which the caller decides by uid. A file lists one user name a line.
pub fn allowed_by(user: &str, allow: Option<&str>, deny: Option<&str>, everyone: bool) -> bool {
    let listed = |text: &str| text.lines().map(str::trim).any(|name| name == user);
    match (allow, deny) {
        (Some(allow), _) => listed(allow),
        (None, Some(deny)) => !listed(deny),
        (None, None) => everyone,
    }
}

/// Reads an allow or deny file: `None` when it does not exist. Any other failure is an error,
/// which the caller turns into a refusal (cronie fails closed too).
fn read_access_file(path: &Path) -> Result<Option<String>, CrontabError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CrontabError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether `user` may use `crontab` under the configuration's allow and deny files.
pub fn allowed(user: &str, uid: Uid, config: &Config) -> Result<bool, CrontabError> {
    if uid.is_root() {
        return Ok(true);
    }
    let access = &config.crontab;
    let allow = read_access_file(&access.allow_file)?;
    let deny = match allow {
        Some(_) => None,
        None => read_access_file(&access.deny_file)?,
    };
    Ok(allowed_by(
        user,
        allow.as_deref(),
        deny.as_deref(),
        access.allow_everyone,
    ))
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
fn read_capped(file: File, path: &Path) -> Result<Vec<u8>, CrontabError> {
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

/// The editor command: `$VISUAL`, then `$EDITOR`, then `/usr/bin/editor`, then `vi`.
pub fn editor() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            if Path::new("/usr/bin/editor").exists() {
                "/usr/bin/editor".into()
            } else {
                "vi".into()
            }
        })
}

/// Single quotes for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The private directory holding the file being edited; removed on drop unless kept.
struct EditDir {
    dir: PathBuf,
    keep: bool,
}

impl EditDir {
    fn create(base: &Path) -> Result<EditDir, CrontabError> {
        let dir = nix::unistd::mkdtemp(&base.join("crontab.XXXXXX"))
            .map_err(|e| io_error(base)(io::Error::from(e)))?;
        Ok(EditDir { dir, keep: false })
    }
}

impl Drop for EditDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// What the user answered to a yes/no question; end of input counts as no.
fn ask_yes_no(question: &str, input: &mut impl BufRead) -> bool {
    loop {
        print!("{question}");
        let _ = io::stdout().flush();
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
        match line.trim_start().chars().next() {
            Some('y' | 'Y') => return true,
            Some('n' | 'N') => return false,
            _ => eprintln!("Enter Y or N"),
        }
    }
}

/// Who the command works for and where.
struct Context {
    privileges: Privileges,
    config: Config,
    config_path: PathBuf,
    /// The target user's name (`-u`, or the real user).
    user: String,
    /// The uid to give an installed file: the target's when root works for someone else.
    owner: Option<Uid>,
    /// Started set-group-ID: `$TMPDIR` is not trusted.
    set_group_id: bool,
}

impl Context {
    fn spool(&self) -> Result<&Path, CrontabError> {
        self.config
            .sources
            .user_spool
            .as_deref()
            .ok_or_else(|| CrontabError::NoSpool {
                config: self.config_path.clone(),
            })
    }

    fn install(&self, text: &[u8]) -> Result<PathBuf, CrontabError> {
        let spool = self.spool()?;
        self.privileges
            .with(|| install(spool, &self.user, self.owner, text))?
    }
}

/// Runs the command: `args[0]` is the program name, as in `std::env::args_os`.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let parsed = match CrontabArgs::try_parse_from(args) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            // cronie exits 1 on a usage error; help is not an error.
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    run(parsed)
}

/// Runs the command with parsed arguments.
pub fn run(args: CrontabArgs) -> ExitCode {
    if args.version {
        println!(
            "cronwright {} (tz database {})",
            env!("CARGO_PKG_VERSION"),
            chrono_tz::IANA_TZDB_VERSION
        );
        return ExitCode::SUCCESS;
    }
    match dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            if e.prefixed() {
                eprintln!("crontab: {e}");
            } else {
                eprintln!("{e}");
            }
            ExitCode::from(1)
        }
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("crontab: usage error: {msg}");
    eprintln!("Try 'crontab --help' for more information.");
    ExitCode::from(1)
}

fn dispatch(args: CrontabArgs) -> Result<ExitCode, CrontabError> {
    let privileges = Privileges::drop_at_start()?;
    let uid = getuid();
    let real = match User::from_uid(uid) {
        Ok(Some(u)) => u,
        _ => return Err(CrontabError::UnknownUid { uid: uid.as_raw() }),
    };
    let target = match &args.user {
        Some(_) if !uid.is_root() => return Err(CrontabError::NotPrivileged),
        Some(name) => match User::from_name(name) {
            Ok(Some(u)) => u,
            _ => {
                return Err(CrontabError::UnknownUser { user: name.clone() });
            }
        },
        None => real.clone(),
    };
    let takes_file = !(args.list || args.remove || args.edit);
    if !takes_file && args.file.is_some() {
        return Ok(usage_error("no arguments permitted after this option"));
    }
    let file = match (&args.file, takes_file) {
        (Some(f), _) => Some(f.clone()),
        (None, true) if io::stdin().is_terminal() => {
            return Ok(usage_error("file name or - (for stdin) must be specified"));
        }
        (None, true) => Some(PathBuf::from("-")),
        (None, false) => None,
    };
    let set_group_id = privileges.set_group_id();
    let config_path = config_path(args.config.clone());
    let config = load_config(&config_path, set_group_id && !uid.is_root())?;
    let allowed = match privileges.with(|| allowed(&real.name, uid, &config))? {
        Ok(allowed) => allowed,
        Err(e) => {
            eprintln!("crontab: {e}");
            false
        }
    };
    if !allowed {
        return Err(CrontabError::NotAllowed { user: real.name });
    }
    let ctx = Context {
        privileges,
        config,
        config_path,
        owner: (target.uid != real.uid).then_some(target.uid),
        user: target.name,
        set_group_id,
    };
    if args.test {
        return test_cmd(&file.unwrap_or_else(|| PathBuf::from("-")));
    }
    if args.list {
        return list_cmd(&ctx);
    }
    if args.remove {
        return remove_cmd(&ctx, args.interactive);
    }
    if args.edit {
        return edit_cmd(&ctx);
    }
    replace_cmd(&ctx, &file.unwrap_or_else(|| PathBuf::from("-")))
}

/// Reads the crontab to install or check, with the user's own rights: `-` is standard input.
fn read_input(path: &Path) -> Result<Vec<u8>, CrontabError> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin()
            .take(MAX_CRONTAB_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error(path))?;
        if bytes.len() as u64 > MAX_CRONTAB_BYTES {
            return Err(CrontabError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        return Ok(bytes);
    }
    let file = File::open(path).map_err(io_error(path))?;
    if file.metadata().map_err(io_error(path))?.is_dir() {
        return Err(CrontabError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    read_capped(file, path)
}

/// Prints the diagnostics of `text` (as `cronwright check` does) on standard error when there
/// are any; true when it has no errors.
fn validate(name: &str, text: &[u8]) -> bool {
    let source = String::from_utf8_lossy(text);
    let parsed = parse_crontab(&source, Format::User);
    if !parsed.diagnostics.is_empty() {
        let stderr = io::stderr();
        let _ = crate::cli::report(name, &source, &parsed, &mut stderr.lock());
    }
    !parsed.has_errors()
}

fn test_cmd(file: &Path) -> Result<ExitCode, CrontabError> {
    let text = read_input(file)?;
    if validate(&file.display().to_string(), &text) {
        eprintln!("No syntax issues were found in the crontab file.");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("Invalid crontab file. Syntax issues were found.");
        Ok(ExitCode::from(1))
    }
}

fn replace_cmd(ctx: &Context, file: &Path) -> Result<ExitCode, CrontabError> {
    let text = read_input(file)?;
    if !validate(&file.display().to_string(), &text) {
        eprintln!("errors in crontab file, can't install.");
        return Ok(ExitCode::from(1));
    }
    ctx.install(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn list_cmd(ctx: &Context) -> Result<ExitCode, CrontabError> {
    let spool = ctx.spool()?;
    let text = ctx
        .privileges
        .with(|| read_crontab(spool, &ctx.user))??
        .ok_or_else(|| CrontabError::NoCrontab {
            user: ctx.user.clone(),
        })?;
    let mut out = io::stdout().lock();
    match out.write_all(&text).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(io_error(Path::new("stdout"))(e)),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn remove_cmd(ctx: &Context, interactive: bool) -> Result<ExitCode, CrontabError> {
    let spool = ctx.spool()?;
    if interactive {
        let question = format!("crontab: really delete {}'s crontab? (y/n) ", ctx.user);
        if !ask_yes_no(&question, &mut io::stdin().lock()) {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if ctx.privileges.with(|| remove_crontab(spool, &ctx.user))?? {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CrontabError::NoCrontab {
            user: ctx.user.clone(),
        })
    }
}

/// Runs the editor on `file` with the user's ids (the group is already dropped) while this
/// process ignores the terminal's interrupt, quit and hangup, as cronie does.
fn run_editor(editor: &str, file: &Path) -> Result<(), CrontabError> {
    let command = format!("{editor} {}", sh_quote(&file.to_string_lossy()));
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .status()
        .map_err(io_error(Path::new("/bin/sh")))?;
    let how = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(0), _) => return Ok(()),
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("killed; signal {sig}"),
        (None, None) => "failed".to_string(),
    };
    Err(CrontabError::Editor {
        editor: editor.to_string(),
        how,
    })
}

/// Terminal signals do their default action only while `armed`: disarmed while the editor
/// runs, so a Ctrl-C meant for the editor does not end the edit.
fn guard_terminal_signals() -> Arc<AtomicBool> {
    let armed = Arc::new(AtomicBool::new(true));
    for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGHUP] {
        let _ = signal_hook::flag::register_conditional_default(sig, Arc::clone(&armed));
    }
    armed
}

fn edit_cmd(ctx: &Context) -> Result<ExitCode, CrontabError> {
    let spool = ctx.spool()?;
    let original = match ctx.privileges.with(|| read_crontab(spool, &ctx.user))?? {
        Some(text) => text,
        None => {
            eprintln!("no crontab for {} - using an empty one", ctx.user);
            Vec::new()
        }
    };
    let base = match std::env::var_os("TMPDIR").filter(|_| !ctx.set_group_id) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("/tmp"),
    };
    let mut dir = EditDir::create(&base)?;
    let file = dir.dir.join("crontab");
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&file)
        .and_then(|mut f| f.write_all(&original))
        .map_err(io_error(&file))?;
    let editor = editor();
    let name = file.display().to_string();
    let armed = guard_terminal_signals();
    loop {
        armed.store(false, Ordering::SeqCst);
        let edited = run_editor(&editor, &file);
        armed.store(true, Ordering::SeqCst);
        edited?;
        // The editor may have replaced the file (save by rename): read what is there now.
        let meta = fs::symlink_metadata(&file).map_err(io_error(&file))?;
        if !meta.is_file() {
            eprintln!("crontab: illegal crontab");
            return Ok(ExitCode::from(1));
        }
        let text = read_capped(File::open(&file).map_err(io_error(&file))?, &file)?;
        if text == original {
            eprintln!("crontab: no changes made to crontab");
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("crontab: installing new crontab");
        if validate(&name, &text) {
            // On failure the edit is kept, as cronie keeps it.
            return match ctx.install(&text) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("crontab: {e}");
                    eprintln!("crontab: edits left in {name}");
                    dir.keep = true;
                    Ok(ExitCode::from(1))
                }
            };
        }
        eprintln!("errors in crontab file, can't install.");
        if !ask_yes_no(
            "Do you want to retry the same edit? (y/n) ",
            &mut io::stdin().lock(),
        ) {
            eprintln!("crontab: edits left in {name}");
            dir.keep = true;
            return Ok(ExitCode::from(1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// `cronwright list`: what the daemon would load.

/// One row of `cronwright list`: a job, or a reason something is not loaded.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Listed {
    Job {
        /// `file:line`.
        source: String,
        user: String,
        /// The time fields or macro as written.
        schedule: String,
        zone: String,
        /// RFC 3339 in the job's zone; `None` for `@reboot` and schedules that never fire.
        next: Option<String>,
        command: String,
    },
    /// A line the daemon skips, with the parser's or the daemon's reason.
    Error {
        /// `file:line:column`.
        source: String,
        message: String,
    },
    /// A file the daemon does not load at all.
    Refused { file: String, reason: String },
    /// A file in a crontab directory that is not a crontab by its name.
    Ignored { file: String, reason: String },
}

/// The schedule of `entry` as written on its line: the macro, or the five or six time fields.
pub fn schedule_text(line: &str, entry: &Entry) -> String {
    let line = line.trim_start();
    let line = line.strip_prefix('-').unwrap_or(line);
    let words: Vec<&str> = line.split_whitespace().take(6).collect();
    if let Some(first) = words.first().filter(|w| w.starts_with('@')) {
        return first.to_string();
    }
    // The parser's five-or-six rule gave `entry.schedule`; reading the six leading words as
    // a schedule gives the same value only when the line has six fields (a five-field line
    // read as six shifts every field by one, which can never match: a day of month 0 would
    // be needed).
    if words.len() == 6 {
        let six = words.join(" ");
        if parse_expr(&six).is_ok_and(|s| s == entry.schedule) {
            return six;
        }
    }
    words[..words.len().min(5)].join(" ")
}

/// Every job the daemon (running as this process's effective user) would load, in the
/// daemon's order, with every file and line it would refuse; next fire times after `now`.
pub fn list_jobs(config: &Config, now: DateTime<Utc>) -> Vec<Listed> {
    let as_root = geteuid().is_root();
    let (own_user, own_uid) = match runner::current_user() {
        Ok(c) => (c.user, c.uid.as_raw()),
        Err(_) => sources::effective_user(),
    };
    let cfg = sources_config(config, as_root, &own_user, own_uid);
    let users = UserCache::default();
    let view = DaemonView {
        config,
        as_root,
        own_user: &own_user,
        users: &users,
    };
    let scan = sources::scan(&cfg);
    let mut out = Vec::new();
    for (path, reason) in scan.ignored {
        out.push(Listed::Ignored {
            file: path.display().to_string(),
            reason,
        });
    }
    let mut zones: Vec<(Tz, Zone)> = Vec::new();
    for source in &scan.sources {
        let file = source.path.display().to_string();
        let loaded = match sources::load(source, &cfg) {
            Ok(l) => l,
            Err(refusal) => {
                let reason = match refusal.fix(&source.path) {
                    Some(fix) => format!("{refusal} (fix: {fix})"),
                    None => refusal.to_string(),
                };
                out.push(Listed::Refused { file, reason });
                continue;
            }
        };
        let parsed = parse_crontab(&loaded.text, source.format);
        for d in parsed.diagnostics.iter().filter(|d| d.is_error()) {
            out.push(Listed::Error {
                source: format!("{file}:{}:{}", d.line, d.column),
                message: d.message.clone(),
            });
        }
        let lines: Vec<&str> = loaded.text.split('\n').collect();
        for entry in &parsed.crontab.entries {
            let at = format!("{file}:{}", entry.line);
            let resolved = match resolve_entry(source, entry, &view) {
                Ok(r) => r,
                Err(message) => {
                    out.push(Listed::Error {
                        source: at,
                        message,
                    });
                    continue;
                }
            };
            let zone = match zones.iter().position(|(tz, _)| *tz == resolved.zone) {
                Some(i) => &zones[i].1,
                None => {
                    zones.push((resolved.zone, Zone::new(resolved.zone)));
                    &zones[zones.len() - 1].1
                }
            };
            let next = entry.schedule.next_after(now, zone).map(|t| {
                t.with_timezone(&resolved.zone)
                    .format("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            });
            let line = lines
                .get(entry.line as usize - 1)
                .map_or("", |l| l.strip_suffix('\r').unwrap_or(l));
            out.push(Listed::Job {
                source: at,
                user: resolved.run_as.user.clone(),
                schedule: schedule_text(line, entry),
                zone: resolved.zone.name().to_string(),
                next,
                command: entry.command.clone(),
            });
        }
    }
    out
}

/// The text form of `cronwright list`: aligned job rows, then one line per problem.
pub fn render_list(rows: &[Listed], out: &mut impl Write) -> io::Result<()> {
    let jobs: Vec<[&str; 6]> = rows
        .iter()
        .filter_map(|r| match r {
            Listed::Job {
                source,
                user,
                schedule,
                zone,
                next,
                command,
            } => Some([
                source.as_str(),
                user.as_str(),
                schedule.as_str(),
                zone.as_str(),
                next.as_deref()
                    .unwrap_or(if schedule.as_str() == "@reboot" {
                        "at boot"
                    } else {
                        "never"
                    }),
                command.as_str(),
            ]),
            _ => None,
        })
        .collect();
    let header = ["SOURCE", "USER", "SCHEDULE", "ZONE", "NEXT", "COMMAND"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &jobs {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str; 6]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 5 {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        s
    };
    if jobs.is_empty() {
        writeln!(out, "no jobs")?;
    } else {
        writeln!(out, "{}", line(&header))?;
        for row in &jobs {
            writeln!(out, "{}", line(row))?;
        }
    }
    for row in rows {
        match row {
            Listed::Job { .. } => {}
            Listed::Error { source, message } => writeln!(out, "{source}: error: {message}")?,
            Listed::Refused { file, reason } => writeln!(out, "{file}: refused: {reason}")?,
            Listed::Ignored { file, reason } => writeln!(out, "{file}: ignored: {reason}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_file_wins_then_deny_file_then_the_default() {
        let allow = Some("alice\n  bob  \n");
        assert!(allowed_by("alice", allow, Some("alice\n"), false));
        assert!(allowed_by("bob", allow, None, false));
        assert!(!allowed_by("carol", allow, None, true));
        assert!(!allowed_by("carol", Some(""), None, true));
        assert!(!allowed_by("carol", None, Some("carol\n"), true));
        assert!(allowed_by("dave", None, Some("carol\n"), false));
        assert!(allowed_by("dave", None, None, true));
        assert!(!allowed_by("dave", None, None, false));
        // A name is a whole line, not a prefix.
        assert!(!allowed_by("al", Some("alice\n"), None, true));
    }

    #[test]
    fn spool_names_the_daemon_would_skip_are_refused() {
        for bad in ["", ".x", "#x", "tmp.x", "x~", "x.new", "a/b", "..", "."] {
            assert!(!spool_name_ok(bad), "{bad}");
        }
        for good in ["alice", "john.doe", "root"] {
            assert!(spool_name_ok(good), "{good}");
        }
    }

    fn entry(line: &str) -> Entry {
        let parsed = parse_crontab(&format!("{line}\n"), Format::User);
        assert!(!parsed.has_errors(), "{line}: {:?}", parsed.diagnostics);
        parsed.crontab.entries[0].clone()
    }

    #[test]
    fn schedule_text_is_the_fields_as_written() {
        for (line, expected) in [
            ("*/5 * * * * poll", "*/5 * * * *"),
            ("0 5 * * * mon --check", "0 5 * * *"),
            ("*/10 * * * * * cmd", "*/10 * * * * *"),
            ("0 30 8 * jan mon cmd", "0 30 8 * jan mon"),
            ("0 5 * * * 2 cmd", "0 5 * * * 2"),
            ("  -@daily  backup", "@daily"),
            ("-0 1 * * * quiet", "0 1 * * *"),
            ("0\t1 * * *\techo", "0 1 * * *"),
        ] {
            assert_eq!(schedule_text(line, &entry(line)), expected, "{line}");
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
