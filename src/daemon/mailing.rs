//! Mailing a job's output, as cronie does: sendmail run as the job's user through the
//! runner, followed like a job so that the loop never waits on it, and its failure logged.

use std::path::PathBuf;

use super::Daemon;
use super::running::{Identity, MAIL_OUTPUT_LIMIT, Run, Running};
use super::table::JobInfo;
use crate::config::Jobs;
use crate::log::{Event, Logger};
use crate::mail::{JobMail, MailRequest, mail_for};
use crate::runner::{self, Credentials, Spec};

/// How to run sendmail for a job's output: as the job's user, with a minimal environment,
/// the message on its standard input.
pub(super) fn mail_spec(request: &MailRequest, jobs: &Jobs, who: &Identity<'_>) -> Spec {
    let home = who.home();
    Spec {
        shell: PathBuf::from("/bin/sh"),
        command: shell_words(&request.argv),
        env: vec![
            ("PATH".into(), jobs.path.clone()),
            ("HOME".into(), home.display().to_string()),
            ("LOGNAME".into(), who.user().to_string()),
            ("USER".into(), who.user().to_string()),
        ],
        cwd: home.to_path_buf(),
        stdin: Some(request.message.clone()),
        credentials: who.credentials.cloned(),
        descriptor_limit: who.descriptor_limit,
        // The job's session decided whether it ran; its mail is delivery, not a login.
        session_helper: None,
    }
}

/// Quotes argv for `sh -c`.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The MAIL line for a failed mail of `info`'s output.
pub(super) fn mail_failed(logger: &mut Logger, info: &JobInfo, pid: u32, to: &str, reason: &str) {
    logger.log(&Event::MailFailed {
        user: info.user(),
        command: info.command(),
        job: &info.job_ref(),
        pid,
        to,
        reason,
    });
}

impl Daemon {
    /// Mails a job's output as cronie does, by running sendmail as the job's user through the
    /// runner, so the loop never waits on it.
    pub(super) fn mail(
        &mut self,
        info: &JobInfo,
        credentials: Option<Credentials>,
        pid: u32,
        output: &[u8],
        dropped: u64,
        failed: Option<&str>,
    ) {
        if !self.config.mail.enabled {
            return;
        }
        let env: Vec<(&str, &str)> = info.env().vars().collect();
        let default_from = self
            .config
            .mail
            .from
            .clone()
            .or_else(|| (!self.as_root).then(|| self.own.user.clone()));
        let request = mail_for(&JobMail {
            sendmail: &self.config.mail.sendmail,
            mailto: info.env().get("MAILTO"),
            mailfrom: info.env().get("MAILFROM"),
            default_from: default_from.as_deref(),
            user: info.user(),
            hostname: &self.hostname,
            command: info.command(),
            output,
            truncated_bytes: dropped,
            env: &env,
            when: info.policy().mail.unwrap_or(self.config.jobs.mail),
            failed,
        });
        let request = match request {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let to = info.env().get("MAILTO").unwrap_or(info.user());
                mail_failed(&mut self.logger, info, pid, to, &e.to_string());
                return;
            }
        };
        if !self.config.mail.sendmail.exists() {
            let reason = format!("{} does not exist", self.config.mail.sendmail.display());
            mail_failed(&mut self.logger, info, pid, &request.to, &reason);
            return;
        }
        let who = Identity {
            credentials: credentials.as_ref(),
            own: &self.own,
            descriptor_limit: self.job_descriptor_limit,
            pam: None,
            inherit: None,
        };
        let spec = mail_spec(&request, &self.config.jobs, &who);
        match runner::spawn(&spec, MAIL_OUTPUT_LIMIT) {
            Ok(job) => {
                let run = Run::Mail {
                    info: info.clone(),
                    to: request.to,
                };
                self.running.push(Running::new(job, run, credentials));
            }
            Err(e) => mail_failed(&mut self.logger, info, pid, &request.to, &e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendmail_arguments_are_quoted_for_the_shell() {
        let argv = ["/usr/sbin/sendmail", "-f", "it's me", "a b"].map(String::from);
        assert_eq!(
            shell_words(&argv),
            r"'/usr/sbin/sendmail' '-f' 'it'\''s me' 'a b'"
        );
    }
}
