//! The TOML configuration parser and its error messages on arbitrary text. The daemon reads
//! the file with `read_to_string`, which refuses invalid UTF-8 before the parser sees it, so
//! the input is decoded lossily here rather than dropped. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = cronwright::daemon::check_config_text(&text);
});
