//! Whether a finished job's output is mailed, and the exact message and sendmail command that
//! do it, as cronie does. Pure: the caller runs the command (as the job's user, without
//! blocking its loop) and writes [`MailRequest::message`] to its stdin.
//!
//! cronie's rules, kept here: output is mailed only when there is some; to `MAILTO` when it is
//! set, to the crontab's owner when it is unset, and to nobody when it is set but empty. The
//! command line is cronie's `sendmail -FCronDaemon -i -odi -oem -oi -t -f FROM`: recipients
//! come from the `To:` header (`-t`), so no address ever lands on sendmail's command line.
//! The headers are cronie's (From, To, Subject `Cron <user@host> command`, Content-Type,
//! Auto-Submitted, one `X-Cron-Env` per environment variable) plus `MIME-Version`,
//! `Content-Transfer-Encoding` and `Precedence: bulk`.
//!
//! Where cronie silently falls back (an unsafe MAILFROM becomes root) or logs `UNSAFE`, a
//! control character in MAILTO or MAILFROM is a [`MailError`] and no mail goes out: a line
//! break there would let a crontab write its own mail headers. Other values are written
//! with control characters escaped, and no header line is longer than RFC 5322's 998 octets.

use crate::cron::MailWhen;
use std::borrow::Cow;
use std::path::Path;

use crate::log::escape_controls;

/// sendmail's arguments after its path, as cronie's MAILFMT has them; the sender follows `-f`.
pub const SENDMAIL_FLAGS: [&str; 7] = ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f"];

/// The sender when neither MAILFROM nor the daemon's default names one (cronie's choice).
pub const FALLBACK_FROM: &str = "root";

/// How many characters of the command the Subject shows before cutting it with `…`.
pub const SUBJECT_COMMAND_CHARS: usize = 200;

/// RFC 5322's limit for one header line, without its line ending.
const MAX_HEADER_LINE: usize = 998;

/// What `mail_for` needs to know about one finished job.
#[derive(Debug, Clone, Copy)]
pub struct JobMail<'a> {
    /// The configured sendmail program.
    pub sendmail: &'a Path,
    /// The crontab's `MAILTO`: `None` when unset (mail the owner), `Some("")` to turn mail off,
    /// otherwise one address or several separated by commas.
    pub mailto: Option<&'a str>,
    /// The crontab's `MAILFROM`, if set.
    pub mailfrom: Option<&'a str>,
    /// The sender when MAILFROM is unset or empty; [`FALLBACK_FROM`] when this is `None`.
    pub default_from: Option<&'a str>,
    /// The user the job ran as (the crontab's owner).
    pub user: &'a str,
    /// This machine's host name; the Subject shows it up to its first dot, as cronie does.
    pub hostname: &'a str,
    /// The command as the crontab has it.
    pub command: &'a str,
    /// The captured output (up to the capture cap).
    pub output: &'a [u8],
    /// How many bytes of output beyond the cap were not kept.
    pub truncated_bytes: u64,
    /// The job's environment, in order, for the `X-Cron-Env` headers. `CONTENT_TYPE` and
    /// `CONTENT_TRANSFER_ENCODING` here replace the default headers, as in cronie.
    pub env: &'a [(&'a str, &'a str)],
    /// When output is mailed (`CRON_MAIL`; cron's way is [`MailWhen::Output`]).
    pub when: MailWhen,
    /// How the run failed (`3`, `signal:9`, `timeout`), or `None` when it succeeded.
    pub failed: Option<&'a str>,
}

/// A mail to send: run `argv` (`argv[0]` is the sendmail path) and write `message` to its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    pub argv: Vec<String>,
    pub message: Vec<u8>,
    /// The recipients as the To header lists them, for log lines about this mail.
    pub to: String,
}

/// Why a job's output that should be mailed is not. Log it with the job (for example as
/// `Event::MailFailed` with the `Display` text as the reason).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    #[error(
        "MAILTO for {user} contains a line break or other control character (\"{value}\"), \
         which would add mail headers; no mail sent"
    )]
    UnsafeMailto { user: String, value: String },
    #[error(
        "MAILFROM for {user} contains a line break or other control character (\"{value}\"), \
         which would add mail headers; no mail sent"
    )]
    UnsafeMailfrom { user: String, value: String },
}

/// Decides whether the job's output is mailed and builds the mail. `Ok(None)`: nothing to
/// send (no output, or MAILTO set to empty). `Err`: there is output to mail but MAILTO or
/// MAILFROM is unsafe.
pub fn mail_for(job: &JobMail<'_>) -> Result<Option<MailRequest>, MailError> {
    let output = !job.output.is_empty();
    let failed = job.failed.is_some();
    let send = match job.when {
        MailWhen::Always => true,
        MailWhen::Output => output,
        MailWhen::Failure => failed,
        MailWhen::OutputUnlessSuccess => output && failed,
        MailWhen::Never => false,
    };
    if !send {
        return Ok(None);
    }
    let recipients: Vec<&str> = match job.mailto {
        None => vec![job.user],
        Some(value) => {
            if has_control(value) {
                return Err(MailError::UnsafeMailto {
                    user: job.user.to_string(),
                    value: escape_controls(value).into_owned(),
                });
            }
            value
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect()
        }
    };
    if recipients.is_empty() {
        return Ok(None);
    }
    let nonempty = |s: &&str| !s.trim().is_empty();
    let from = job
        .mailfrom
        .filter(nonempty)
        .or(job.default_from.filter(nonempty))
        .unwrap_or(FALLBACK_FROM)
        .trim();
    if has_control(from) {
        return Err(MailError::UnsafeMailfrom {
            user: job.user.to_string(),
            value: escape_controls(from).into_owned(),
        });
    }

    let to = recipients.join(", ");
    let mut head = String::new();
    header(&mut head, "From", &format!("{from} (Cron Daemon)"));
    head.push_str(&to_header(&recipients));
    let host = job.hostname.split('.').next().unwrap_or(job.hostname);
    header(
        &mut head,
        "Subject",
        &format!(
            "Cron <{}@{}> {}",
            escape_controls(job.user),
            escape_controls(host),
            escape_controls(&cap_chars(job.command, SUBJECT_COMMAND_CHARS))
        ),
    );
    let env = |name: &str| {
        job.env
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| spaces_for_controls(v))
            .filter(|v| !v.trim().is_empty())
    };
    header(&mut head, "MIME-Version", "1.0");
    let content_type = env("CONTENT_TYPE");
    let content_type = content_type
        .as_deref()
        .unwrap_or("text/plain; charset=UTF-8");
    header(&mut head, "Content-Type", content_type);
    let encoding = env("CONTENT_TRANSFER_ENCODING");
    header(
        &mut head,
        "Content-Transfer-Encoding",
        encoding.as_deref().unwrap_or("8bit"),
    );
    // RFC 3834: keeps vacation responders and the like from answering the cron daemon.
    header(&mut head, "Auto-Submitted", "auto-generated");
    header(&mut head, "Precedence", "bulk");
    for (name, value) in job.env {
        header(
            &mut head,
            "X-Cron-Env",
            &format!("<{}={}>", escape_controls(name), escape_controls(value)),
        );
    }
    head.push('\n');

    let mut message = head.into_bytes();
    message.extend_from_slice(job.output);
    if !job.output.ends_with(b"\n") && output {
        message.push(b'\n');
    }
    // A mail without output (CRON_MAIL=always or failure) says what it is about.
    if !output {
        let about = match job.failed {
            Some(status) => {
                format!("[cronwrightd: the job wrote nothing and failed: status {status}]\n")
            }
            None => "[cronwrightd: the job wrote nothing and succeeded]\n".to_string(),
        };
        message.extend_from_slice(about.as_bytes());
    }
    if job.truncated_bytes > 0 {
        message.extend_from_slice(
            format!(
                "\n[cronwrightd: output truncated: the first {} bytes are above; {} more bytes \
                 were not kept]\n",
                job.output.len(),
                job.truncated_bytes
            )
            .as_bytes(),
        );
    }

    let mut argv = vec![job.sendmail.to_string_lossy().into_owned()];
    argv.extend(SENDMAIL_FLAGS.iter().map(|f| f.to_string()));
    argv.push(from.to_string());
    Ok(Some(MailRequest { argv, message, to }))
}

fn has_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

/// cronie's treatment of CONTENT_TYPE and friends: line breaks become spaces.
fn spaces_for_controls(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn cap_chars(s: &str, n: usize) -> Cow<'_, str> {
    match s.char_indices().nth(n) {
        Some((at, _)) => Cow::Owned(format!("{}…", &s[..at])),
        None => Cow::Borrowed(s),
    }
}

/// Appends `Name: value\n`, cut with `…` to the 998-octet line limit. The value must already
/// be free of control characters.
fn header(out: &mut String, name: &str, value: &str) {
    let line = format!("{name}: {value}");
    if line.len() <= MAX_HEADER_LINE {
        out.push_str(&line);
    } else {
        let mut end = MAX_HEADER_LINE - '…'.len_utf8();
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(&line[..end]);
        out.push('…');
    }
    out.push('\n');
}

/// The To header, folded after a comma when a line would pass 78 characters, so any number
/// of recipients stays within the line limit.
fn to_header(recipients: &[&str]) -> String {
    let mut out = String::from("To: ");
    let mut line_len = out.len();
    for (i, addr) in recipients.iter().enumerate() {
        if i > 0 {
            // Room for ", ", the address, and the comma that may follow it.
            if line_len + 2 + addr.len() + 1 > 78 {
                out.push_str(",\n ");
                line_len = 1;
            } else {
                out.push_str(", ");
                line_len += 2;
            }
        }
        out.push_str(addr);
        line_len += addr.len();
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &[(&str, &str)] = &[
        ("SHELL", "/bin/sh"),
        ("HOME", "/home/alice"),
        ("LOGNAME", "alice"),
    ];

    fn job<'a>(output: &'a [u8]) -> JobMail<'a> {
        JobMail {
            sendmail: Path::new("/usr/sbin/sendmail"),
            mailto: None,
            mailfrom: None,
            default_from: None,
            user: "alice",
            hostname: "web1.example.com",
            command: "backup.sh --all",
            output,
            truncated_bytes: 0,
            env: ENV,
            when: MailWhen::Output,
            failed: None,
        }
    }

    fn text(req: &MailRequest) -> &str {
        std::str::from_utf8(&req.message).unwrap()
    }

    fn headers(req: &MailRequest) -> Vec<&str> {
        let (head, _) = text(req).split_once("\n\n").unwrap();
        head.lines().collect()
    }

    #[test]
    fn unset_mailto_mails_the_owner_with_cronies_command_and_headers() {
        let req = mail_for(&job(b"copied 14 files\n")).unwrap().unwrap();
        assert_eq!(
            req.argv,
            [
                "/usr/sbin/sendmail",
                "-FCronDaemon",
                "-i",
                "-odi",
                "-oem",
                "-oi",
                "-t",
                "-f",
                "root"
            ]
        );
        assert_eq!(req.to, "alice");
        assert_eq!(
            text(&req),
            "From: root (Cron Daemon)\n\
             To: alice\n\
             Subject: Cron <alice@web1> backup.sh --all\n\
             MIME-Version: 1.0\n\
             Content-Type: text/plain; charset=UTF-8\n\
             Content-Transfer-Encoding: 8bit\n\
             Auto-Submitted: auto-generated\n\
             Precedence: bulk\n\
             X-Cron-Env: <SHELL=/bin/sh>\n\
             X-Cron-Env: <HOME=/home/alice>\n\
             X-Cron-Env: <LOGNAME=alice>\n\
             \n\
             copied 14 files\n"
        );
    }

    #[test]
    fn no_output_means_no_mail() {
        assert_eq!(mail_for(&job(b"")), Ok(None));
        let unsafe_but_silent = JobMail {
            mailto: Some("a\nBcc: x"),
            ..job(b"")
        };
        assert_eq!(mail_for(&unsafe_but_silent), Ok(None));
    }

    #[test]
    fn mail_policies_decide_which_runs_are_mailed() {
        let sent = |when, output: &'static [u8], failed| {
            mail_for(&JobMail {
                when,
                failed,
                ..job(output)
            })
            .unwrap()
            .is_some()
        };
        use MailWhen::*;
        // (policy, with output?, failed?) => mailed
        for (when, out, failed, mailed) in [
            (Output, true, false, true),
            (Output, false, true, false),
            (Always, false, false, true),
            (Failure, true, false, false),
            (Failure, false, true, true),
            (OutputUnlessSuccess, true, false, false),
            (OutputUnlessSuccess, true, true, true),
            (OutputUnlessSuccess, false, true, false),
            (Never, true, true, false),
        ] {
            let output: &'static [u8] = if out { b"x\n" } else { b"" };
            let failed = failed.then_some("1");
            assert_eq!(
                sent(when, output, failed),
                mailed,
                "{when} {out} {failed:?}"
            );
        }
    }

    #[test]
    fn empty_mailto_turns_mail_off() {
        for off in ["", "  ", " , ,"] {
            let j = JobMail {
                mailto: Some(off),
                ..job(b"x\n")
            };
            assert_eq!(mail_for(&j), Ok(None), "MAILTO={off:?}");
        }
    }

    #[test]
    fn mailto_lists_every_recipient_in_the_to_header() {
        for mailto in ["ops@example.com,bob", " ops@example.com , bob ,"] {
            let j = JobMail {
                mailto: Some(mailto),
                ..job(b"x\n")
            };
            let req = mail_for(&j).unwrap().unwrap();
            assert_eq!(req.to, "ops@example.com, bob");
            assert_eq!(headers(&req)[1], "To: ops@example.com, bob");
            // -t: recipients come from the header, never from the command line.
            assert!(!req.argv.iter().any(|a| a.contains("ops@")));
        }
    }

    #[test]
    fn many_recipients_fold_the_to_header() {
        let list: Vec<String> = (0..40).map(|i| format!("user{i}@example.com")).collect();
        let mailto = list.join(",");
        let j = JobMail {
            mailto: Some(&mailto),
            ..job(b"x\n")
        };
        let req = mail_for(&j).unwrap().unwrap();
        let msg = text(&req);
        let (head, _) = msg.split_once("\n\n").unwrap();
        let to_lines: Vec<&str> = head
            .lines()
            .skip_while(|l| !l.starts_with("To: "))
            .take_while(|l| l.starts_with("To: ") || l.starts_with(' '))
            .collect();
        assert!(to_lines.len() > 1);
        assert!(to_lines.iter().all(|l| l.len() <= 78), "{to_lines:?}");
        let to: String = to_lines.concat();
        assert_eq!(to, format!("To: {}", list.join(", ")));
    }

    #[test]
    fn line_break_in_mailto_or_mailfrom_is_refused() {
        let j = JobMail {
            mailto: Some("alice\nBcc: victim@example.com"),
            ..job(b"x\n")
        };
        let err = mail_for(&j).unwrap_err();
        assert_eq!(
            err,
            MailError::UnsafeMailto {
                user: "alice".into(),
                value: "alice\\nBcc: victim@example.com".into()
            }
        );
        assert!(
            err.to_string()
                .starts_with("MAILTO for alice contains a line break")
        );

        let j = JobMail {
            mailfrom: Some("cron@example.com\r\nBcc: x"),
            ..job(b"x\n")
        };
        assert!(matches!(
            mail_for(&j),
            Err(MailError::UnsafeMailfrom { .. })
        ));
    }

    #[test]
    fn mailfrom_then_default_then_root_is_the_sender() {
        let j = JobMail {
            mailfrom: Some("cron@example.com"),
            default_from: Some("daemon"),
            ..job(b"x\n")
        };
        let req = mail_for(&j).unwrap().unwrap();
        assert_eq!(headers(&req)[0], "From: cron@example.com (Cron Daemon)");
        assert_eq!(req.argv.last().unwrap(), "cron@example.com");

        let j = JobMail {
            mailfrom: Some(""),
            default_from: Some("daemon"),
            ..job(b"x\n")
        };
        let req = mail_for(&j).unwrap().unwrap();
        assert_eq!(headers(&req)[0], "From: daemon (Cron Daemon)");
        assert_eq!(req.argv.last().unwrap(), "daemon");
    }

    #[test]
    fn subject_cuts_long_commands_and_escapes_control_characters() {
        let long = "y".repeat(SUBJECT_COMMAND_CHARS + 1);
        let j = JobMail {
            command: &long,
            hostname: "box",
            ..job(b"x\n")
        };
        let req = mail_for(&j).unwrap().unwrap();
        assert_eq!(
            headers(&req)[2],
            format!(
                "Subject: Cron <alice@box> {}…",
                "y".repeat(SUBJECT_COMMAND_CHARS)
            )
        );

        let j = JobMail {
            command: "echo a\rBcc: x",
            ..job(b"x\n")
        };
        let req = mail_for(&j).unwrap().unwrap();
        assert_eq!(
            headers(&req)[2],
            "Subject: Cron <alice@web1> echo a\\rBcc: x"
        );
        assert!(!headers(&req).iter().any(|h| h.starts_with("Bcc")));
    }

    #[test]
    fn environment_headers_are_escaped_and_within_the_line_limit() {
        let huge = "v".repeat(5000);
        let env = [("A", "one\ntwo"), ("BIG", huge.as_str())];
        let j = JobMail {
            env: &env,
            ..job(b"x\n")
        };
        let req = mail_for(&j).unwrap().unwrap();
        let h = headers(&req);
        assert!(h.contains(&"X-Cron-Env: <A=one\\ntwo>"));
        let big = h
            .iter()
            .find(|l| l.starts_with("X-Cron-Env: <BIG="))
            .unwrap();
        assert_eq!(big.len(), 998);
        assert!(big.ends_with('…'));
        assert!(h.iter().all(|l| l.len() <= 998));
    }

    #[test]
    fn content_type_from_the_environment_replaces_the_default() {
        let env = [
            ("CONTENT_TYPE", "text/plain; charset=ISO-8859-1\nBcc: x"),
            ("CONTENT_TRANSFER_ENCODING", "quoted-printable"),
        ];
        let j = JobMail {
            env: &env,
            ..job(b"x\n")
        };
        let req = mail_for(&j).unwrap().unwrap();
        let h = headers(&req);
        assert!(h.contains(&"Content-Type: text/plain; charset=ISO-8859-1 Bcc: x"));
        assert!(h.contains(&"Content-Transfer-Encoding: quoted-printable"));
    }

    #[test]
    fn truncated_output_is_said_in_the_body_and_bytes_are_kept_as_they_are() {
        let j = JobMail {
            truncated_bytes: 983040,
            ..job(b"partial \xff line")
        };
        let req = mail_for(&j).unwrap().unwrap();
        let body = &req.message[req.message.windows(2).position(|w| w == b"\n\n").unwrap() + 2..];
        assert_eq!(
            body,
            b"partial \xff line\n\n[cronwrightd: output truncated: the first 14 bytes are \
              above; 983040 more bytes were not kept]\n"
        );
    }

    #[test]
    fn a_real_sendmail_script_receives_the_arguments_and_message() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("sendmail");
        let record = dir.path().join("record");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > {0}.args\ncat > {0}.msg\n",
                record.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let j = JobMail {
            sendmail: &script,
            mailto: Some("ops@example.com"),
            ..job(b"hello\n")
        };
        let req = mail_for(&j).unwrap().unwrap();
        let mut child = std::process::Command::new(&req.argv[0])
            .args(&req.argv[1..])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&req.message).unwrap();
        assert!(child.wait().unwrap().success());
        let args = std::fs::read_to_string(format!("{}.args", record.display())).unwrap();
        assert_eq!(args, "-FCronDaemon\n-i\n-odi\n-oem\n-oi\n-t\n-f\nroot\n");
        let msg = std::fs::read(format!("{}.msg", record.display())).unwrap();
        assert_eq!(msg, req.message);
    }
}
