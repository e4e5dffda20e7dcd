//! cronwright: a cron daemon and its tools.
//!
//! # Layout
//!
//! - [`cron`]: the cron language. Parsing crontab text into entries with diagnostics, and
//!   the exact next fire time of a schedule in a zone. Pure: no clock, no I/O.
//! - [`scheduler`]: the job table and deadline heap: what is due at a given time, what a
//!   clock step means. Pure: "now" is a value.
//! - [`zone`]: which time zone the system is in (`TZ`, then `/etc/localtime`).
//! - [`config`]: the daemon's TOML configuration, validated into resolved values.
//! - [`log`]: the daemon's log lines and sinks (syslog datagrams, stderr text, JSON lines).
//! - [`mail`]: whether a job's output is mailed, and the message and sendmail command for it.
//! - [`daemon`]: `cronwrightd`'s one event loop, tying the modules above together;
//!   `src/bin/cronwrightd.rs` only parses arguments and calls it.
//! - [`cli`]: the `cronwright` command (`next`, `check`, `list`, `crontab`); `src/bin/cronwright.rs`
//!   only calls it.
//! - [`crontab`]: the `crontab` command (install, list, edit, remove a user's spool crontab,
//!   setgid `crontab` as Debian's) and the jobs `cronwright list` shows.
//! - [`sources`] / [`watch`]: which files are crontabs and whether they may be loaded; noticing
//!   their changes (inotify through `notify`, or a once-a-minute fallback).
//! - [`runner`]: starting a job as a user (clone/exec, the only `unsafe`), capturing its output
//!   for a poll(2) loop, signalling and reaping it.
//! - [`sd_notify`]: telling systemd (`Type=notify`) that the daemon is ready, reloading,
//!   stopping, and a status line.
//!
//!
//! # Example
//!
//! A nightly job at 02:30 in New York, asked on the eve of the 2026 spring-forward day, runs
//! once at 03:00 EDT because 02:30 does not exist that night:
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use cronwright::cron::{Format, Zone, parse_crontab, parse_expr};
//!
//! let zone = Zone::new(chrono_tz::America::New_York);
//! let from: DateTime<Utc> = "2026-03-08T05:00:00Z".parse().unwrap(); // 00:00 EST
//! let next = parse_expr("30 2 * * *").unwrap().next_after(from, &zone).unwrap();
//! assert_eq!(next.to_rfc3339(), "2026-03-08T07:00:00+00:00"); // 03:00 EDT
//!
//! // A crontab with a typo still loads its good lines, and says where the typo is.
//! let parsed = parse_crontab("0 0 1 jna * report\n*/5 * * * * poll\n", Format::User);
//! assert_eq!(parsed.crontab.entries.len(), 1);
//! assert_eq!(parsed.diagnostics[0].headline("alice"),
//!     "alice:1:7: error: unknown month name 'jna' (expected 1-12 or jan-dec)");
//! ```

pub mod cli;
pub mod config;
pub mod cron;
pub mod daemon;
pub mod log;
pub mod mail;
pub mod resolve;
pub mod runner;
pub mod scheduler;
pub mod sd_notify;
pub mod sources;
pub mod system_zone;
pub mod watch;

/// The version every program prints: the package version and the compiled-in tz database,
/// since fire times depend on both.
pub fn version() -> String {
    format!(
        "{} (tz database {})",
        env!("CARGO_PKG_VERSION"),
        chrono_tz::IANA_TZDB_VERSION
    )
}
