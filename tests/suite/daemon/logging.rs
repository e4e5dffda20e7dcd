//! The log survives its socket going away; MAILTO mails output through sendmail.

use std::time::Duration;

use super::Harness;

#[test]
fn syslog_socket_disappearing_and_reappearing_loses_no_later_lines() {
    let mut h = Harness::new("");
    h.write("mine", "* * * * * * echo beat\n");
    h.start();
    h.wait_for("a beat", |l| l.ends_with("| beat"));
    // The syslog daemon goes away, then comes back at the same path.
    h.unlisten();
    std::thread::sleep(Duration::from_millis(2500));
    h.clear_lines();
    h.listen();
    // Every run after the socket is back is logged: CMD, END and OUT for each pid.
    let ends = h.wait_for_count("END after return", 3, |l| l.contains(") END ("));
    for end in &ends[1..] {
        let pid = super::field(end, "pid").unwrap();
        assert!(
            h.lines()
                .iter()
                .any(|l| l.contains(") CMD (") && l.contains(&format!("pid={pid}")))
        );
    }
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn mailto_sends_the_output_through_sendmail() {
    use std::os::unix::fs::PermissionsExt;
    let mut h = Harness::new("");
    let record = h.path("mail.record");
    let script = h.path("sendmail");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"ARGS: $*\"; cat; }} >> {}\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    h.write(
        "mine",
        "MAILTO=ops@example.com\n* * * * * * echo mail me\n0 0 1 1 * echo never\n",
    );
    h.start();
    h.wait_for("END", |l| l.contains(") END ("));
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&record)
        .unwrap_or_default()
        .contains("mail me")
    {
        assert!(start.elapsed() < super::PATIENCE, "no mail recorded");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mail = std::fs::read_to_string(&record).unwrap();
    assert!(mail.contains("To: ops@example.com"), "{mail}");
    assert!(mail.contains("Subject: Cron <"), "{mail}");
    assert_eq!(h.stop(), Some(0));
}

#[test]
fn no_mail_when_mailto_is_empty() {
    use std::os::unix::fs::PermissionsExt;
    let mut h = Harness::new("");
    let record = h.path("mail.record");
    let script = h.path("sendmail");
    std::fs::write(&script, format!("#!/bin/sh\ncat >> {}\n", record.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    h.write("mine", "MAILTO=\"\"\n* * * * * * echo quiet\n");
    h.start();
    h.wait_for_count("END", 2, |l| l.contains(") END ("));
    h.gather(Duration::from_millis(500));
    assert!(!record.exists(), "mail was sent");
    assert_eq!(h.stop(), Some(0));
}
