//! cronwright: a cron daemon and its tools.
//!
//! # Layout
//!
//! The language and the time math, pure (no clock, no files: tested with literals):
//! - [`cron`]: crontab text into entries with diagnostics (`cron/diag.rs` also prints the
//!   report `check` and `crontab` show), and the exact next fire time of a schedule in a zone.
//! - `scheduler`: the job table and deadline heap: what is due at a given time and what a
//!   clock step means; "now" is a value.
//! - `mail`: whether a job's output is mailed, and the message and sendmail command for it.
//! - `log/event.rs`: the wording of every log line; `log/shape.rs` renders it as text and as
//!   JSON from one list of each event's fields.
//!
//! The system around it:
//! - `config`: the TOML configuration, validated into resolved values; `system_zone`: which
//!   zone the machine is in.
//! - `sources` / `watch`: which files are crontabs and whether they may be loaded; noticing
//!   their changes (inotify through `notify`, or a once-a-minute fallback). `zone_watch`:
//!   noticing that a zone file in use was replaced (`tzdata`, `timedatectl`). `trim`: giving
//!   back the memory start-up and loads touched and idling does not need.
//! - `access`: who may have a crontab (`cron.allow` / `cron.deny`), for `crontab` and the
//!   daemon alike.
//! - `resolve`: the daemon's rules for one entry (its user and credentials, its zone, why it
//!   is skipped), shared by the daemon and `cronwright list` so both say the same;
//!   `user_fields`: what a line's user name means on this host, for `check` and `crontab`
//!   (a system line without its user, a user crontab written like a system one).
//! - `runner`: starting a job as a user, capturing its output, signalling and reaping it;
//!   `runner/child.rs` holds everything between clone and exec; `runner/session.rs` the
//!   PAM session a job runs in (a helper process between the daemon and the job) and
//!   `runner/pam.rs` the calls into libpam. Every `unsafe` is in `child.rs`, `pam.rs` or
//!   `trim.rs`.
//! - `job_id`: a job's identity across reloads and restarts, and `CRON_JITTER`'s stable
//!   delay drawn from it and the machine-id.
//! - `catchup`: `CRON_CATCHUP`'s state (the last due time of each such job) in the state
//!   directory, and which missed run a start makes up.
//! - `inflight`: the runs in flight, journaled in the state directory, so that a daemon
//!   started after one that was killed reports the jobs that one left behind.
//! - `log`: the sinks (`log/sink.rs`: syslog datagrams, stderr text, JSON lines), which never
//!   hold up the loop; `sd_notify`: telling systemd the daemon is ready, reloading, stopping.
//! - `history`: every run's start, end or skip in SQLite (`state_dir/history.db`), written by
//!   one thread from a bounded queue so the loop never waits on the disk, and read back for
//!   `cronwright status` and `history`; `metrics`: the Prometheus series and their
//!   exposition; `control`: the control socket's language (JSON lines) and the commands'
//!   client side of it.
//!
//! The programs, thin binaries in `src/bin/` over these:
//! - [`daemon`]: `cronwrightd`'s one event loop (`daemon/mod.rs`), the loaded crontabs and
//!   their jobs (`table.rs`), the jobs in flight (`running.rs`) and their mail
//!   (`mailing.rs`), what is due and what was missed (`due.rs`: clock steps, catch-up, the
//!   journal, `@reboot`), reloads (`reload.rs`), signals and the supervisor (`signals.rs`),
//!   the deadline timer and clock steps (`clock.rs`); what each run leaves in
//!   the history and the metrics (`observe.rs`); the control socket and metrics endpoint
//!   served from the loop (`service.rs`) and the answers, with who may see what
//!   (`answer.rs`); the command line and what it makes of the configuration
//!   (`options.rs`); container mode, `cronwrightd CRONTAB...` (`container.rs`: its
//!   configuration, the environment jobs inherit, standard input, the health file); job
//!   output passed through to stdout as it comes (`passthrough.rs`).
//! - [`cli`]: the `cronwright` command: `next`, `check`, `list` (`cli/list.rs`), `status`,
//!   `history` and `run` (asking the daemon; `cli/ask.rs`), and
//!   `crontab` (`cli/crontab/`: its arguments and `-l/-r/-e/-T` in `mod.rs`, privileges,
//!   allow/deny and the atomic install in `spool.rs`, the editor session in `edit.rs`).
//!
//! # Example
//!
//! A nightly job at 02:30 in New York, asked on the eve of the 2026 spring-forward day, runs
//! once at 03:00 EDT because 02:30 does not exist that night:
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use cronwright::cron::{Format, Zone, parse_crontab, parse_expr, zone_named};
//!
//! let zone = Zone::new(zone_named("America/New_York").unwrap());
//! let from: DateTime<Utc> = "2026-03-08T05:00:00Z".parse().unwrap(); // 00:00 EST
//! let next = parse_expr("30 2 * * *").unwrap().next_after(from, &zone).unwrap();
//! assert_eq!(next.to_rfc3339(), "2026-03-08T07:00:00+00:00"); // 03:00 EDT
//!
//! // A crontab with a typo still loads its good lines, and says where the typo is.
//! let parsed = parse_crontab("0 0 1 jna * report\n*/5 * * * * poll\n", Format::User);
//! assert_eq!(parsed.crontab.entries.len(), 1);
//! assert_eq!(parsed.diagnostics[0].headline("alice"),
//!     "alice:1:7: error: unknown month name 'jna' (expected 1-12 or jan-dec); did you mean 'jan'?");
//! ```

pub(crate) mod access;
pub(crate) mod catchup;
pub mod cli;
pub(crate) mod config;
pub(crate) mod control;
pub mod cron;
pub mod daemon;
pub(crate) mod history;
pub(crate) mod inflight;
pub(crate) mod job_id;
pub(crate) mod log;
pub(crate) mod mail;
pub(crate) mod metrics;
pub(crate) mod resolve;
pub(crate) mod runner;
pub(crate) mod scheduler;
pub(crate) mod sd_notify;
pub(crate) mod sources;
pub(crate) mod suggest;
pub(crate) mod system_zone;
pub(crate) mod trim;
pub(crate) mod user_fields;
pub(crate) mod watch;
pub(crate) mod zone_watch;

/// The version every program prints: the package version and the system's tz database, since
/// fire times depend on both.
pub fn version() -> String {
    let dir = cron::tz_dir();
    match cron::tz_database_version() {
        Some(v) => format!(
            "{} (tz database {v} in {})",
            env!("CARGO_PKG_VERSION"),
            dir.display()
        ),
        None => format!(
            "{} (tz database of unknown version in {})",
            env!("CARGO_PKG_VERSION"),
            dir.display()
        ),
    }
}
