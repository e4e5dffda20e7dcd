//! `crontab`: users install, list, edit and remove their own crontab in the user spool
//! (cronie's and Debian's command). The daemon notices a new crontab through its watch on the
//! spool; nothing here signals it. [`spool`] holds the privilege model and every file
//! operation in the spool; [`edit`] the `-e` session.
//!
//! # Command line
//!
//! `crontab FILE` and `crontab -` install (validated first as `check` validates:
//! on errors the diagnostics are printed with their caret and nothing is installed); `-l` lists,
//! `-r` removes (`-i` asks first), `-e` edits with `$VISUAL`, `$EDITOR`, `/usr/bin/editor` or
//! `vi`, `-T FILE` only checks, `-u USER` picks another user (root only), `-V` prints the
//! version. Messages and exit codes are cronie's where it has them (`no crontab for alice`,
//! `must be privileged to use -u`, exit 1 for every failure). The configuration's
//! `[sources] user_spool` is the spool and its `[crontab]` table holds the `cron.allow` /
//! `cron.deny` rules. It is `/etc/cronwright/cronwright.toml`; only root, running the program
//! without its set-group-ID group, may name another with `--config PATH` (or
//! `CRONWRIGHT_CONFIG`), since whoever picks the configuration picks the rules.

mod edit;
mod spool;

pub(crate) use spool::drop_set_group_id;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgGroup, Parser};
use nix::unistd::{Uid, User, getuid};

use crate::config::{Config, ConfigError, DEFAULT_PATH};
use crate::cron::{Format, report};
use crate::resolve::parse_for_daemon;
use crate::sources::MAX_CRONTAB_BYTES;
use edit::edit_cmd;
use spool::{Privileges, allowed, install, read_capped, read_crontab, remove_crontab};

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
    /// The configuration file, for root only [default: $CRONWRIGHT_CONFIG, then /etc/cronwright/cronwright.toml]
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

/// Loads the configuration as the daemon does (a missing default file means the defaults).
/// With `root_owned_only`, the file must be owned by root and not writable by group or
/// others, since it decides who may use the program and where the spool is.
fn load_config(path: &Path, root_owned_only: bool) -> Result<Config, ConfigError> {
    if !root_owned_only {
        return Config::load_or_defaults(path);
    }
    Config::load_or_defaults_if(path, |meta| {
        meta.is_file() && meta.uid() == 0 && meta.mode() & 0o022 == 0
    })
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
        println!("cronwright {}", crate::version());
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
    // The configuration decides who may use this program and where the spool is, so only
    // root, running without the set-group-ID group, may name another one; everyone else
    // gets the system's, whoever owns the file they name.
    let trusted = uid.is_root() && !set_group_id;
    let config_path = if trusted {
        super::config_path(args.config.clone())
    } else {
        let from_env = std::env::var_os(super::CONFIG_ENV).is_some_and(|v| !v.is_empty());
        if args.config.is_some() || from_env {
            let what = if args.config.is_some() {
                "--config"
            } else {
                super::CONFIG_ENV
            };
            eprintln!(
                "crontab: ignoring {what}: only root may name another configuration; \
                 reading {DEFAULT_PATH}"
            );
        }
        PathBuf::from(DEFAULT_PATH)
    };
    let config = load_config(&config_path, !trusted)?;
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
        return test_cmd(&ctx, &file.unwrap_or_else(|| PathBuf::from("-")));
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
/// are any, with the daemon's command length limit applied; true when it has no errors.
fn validate(name: &str, text: &[u8], config: &Config) -> bool {
    let source = String::from_utf8_lossy(text);
    let parsed = parse_for_daemon(&source, Format::User, Some(config));
    if !parsed.diagnostics.is_empty() {
        let stderr = io::stderr();
        let _ = report(name, &source, &parsed, &mut stderr.lock());
    }
    !parsed.has_errors()
}

fn test_cmd(ctx: &Context, file: &Path) -> Result<ExitCode, CrontabError> {
    let text = read_input(file)?;
    if validate(&file.display().to_string(), &text, &ctx.config) {
        eprintln!("No syntax issues were found in the crontab file.");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("Invalid crontab file. Syntax issues were found.");
        Ok(ExitCode::from(1))
    }
}

fn replace_cmd(ctx: &Context, file: &Path) -> Result<ExitCode, CrontabError> {
    let text = read_input(file)?;
    if !validate(&file.display().to_string(), &text, &ctx.config) {
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
