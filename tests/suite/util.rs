//! Helpers shared by the integration tests: the built binary, data files, literal times.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use chrono::{DateTime, Utc};

/// A path under `tests/data`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The `cronwright` binary built for this test run, with a fixed zone in its environment.
pub fn cronwright() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cronwright"));
    c.env("TZ", "UTC");
    c
}

/// Runs a command with `input` on stdin and returns what it did.
pub fn run(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cronwright");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
