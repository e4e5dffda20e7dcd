//! The log survives its socket going away; MAILTO mails output through sendmail.

use std::path::PathBuf;
use std::time::Duration;

use super::{Harness, eventually, field, is_event};
use crate::util::write_script;

/// Makes the configured sendmail a script that appends its arguments and the mail it is given
/// to `mail.record`, and returns that path: absent until a mail is sent.
pub(super) fn fake_sendmail(h: &Harness) -> PathBuf {
    let record = h.path("mail.record");
    write_script(
        &h.path("sendmail"),
        &format!("{{ echo \"ARGS: $*\"; cat; }} >> {}\n", record.display()),
    );
    record
}

#[test]
fn syslog_socket_disappearing_and_reappearing_loses_no_later_lines() {
    let mut h = Harness::new("");
    h.start_with("* * * * * * echo beat\n");
    h.wait_for("a beat", |l| l.ends_with("| beat"));
    // The syslog daemon goes away, then comes back at the same path.
    h.unlisten();
    std::thread::sleep(Duration::from_millis(2500));
    h.clear_lines();
    h.listen();
    // Every run after the socket is back is logged: CMD, END and OUT for each pid.
    let ends = h.wait_for_count("END after return", 3, |l| is_event(l, "END"));
    for end in &ends[1..] {
        let pid = field(end, "pid").unwrap();
        assert!(!h.events("CMD", pid).is_empty());
    }
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn mailto_sends_the_output_through_sendmail() {
    let mut h = Harness::new("");
    let record = fake_sendmail(&h);
    h.start_with("MAILTO=ops@example.com\n* * * * * * echo mail me\n0 0 1 1 * echo never\n");
    h.wait_for("END", |l| is_event(l, "END"));
    let mail = eventually(
        || {
            std::fs::read_to_string(&record)
                .ok()
                .filter(|m| m.contains("mail me"))
        },
        || "no mail recorded".into(),
    );
    assert!(mail.contains("To: ops@example.com"), "{mail}");
    assert!(mail.contains("Subject: Cron <"), "{mail}");
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn no_mail_when_mailto_is_empty() {
    let mut h = Harness::new("");
    let record = fake_sendmail(&h);
    h.start_with("MAILTO=\"\"\n* * * * * * echo quiet\n");
    h.wait_for_count("END", 2, |l| is_event(l, "END"));
    h.gather(Duration::from_millis(500));
    assert!(!record.exists(), "mail was sent");
    assert_eq!(h.stop(), Some(0));
}
