//! What `crontab FILE` and `crontab -T FILE` do with a user's bytes: decode them lossily,
//! validate them as a user crontab and print the report (into memory here). Must never panic.
#![no_main]

use cronwright::cron::{Format, parse_crontab, report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let parsed = parse_crontab(&source, Format::User);
    let _ = parsed.has_errors();
    let mut out = Vec::new();
    report("/tmp/crontab.fuzz", &source, &parsed, &mut out).expect("a Vec takes every write");
    // The report is what the user reads: it must be text.
    String::from_utf8(out).expect("the report is UTF-8");
});
