//! `crontab -e`: the user's crontab in a private temporary directory, the editor run with the
//! user's own rights, and the result checked and installed, or the edit offered again.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::spool::{read_capped, read_crontab};
use super::{Context, CrontabError, ask_yes_no, io_error, validate};

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

pub(super) fn edit_cmd(ctx: &Context) -> Result<ExitCode, CrontabError> {
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
        if validate(&name, &text, &ctx.config) {
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
