//! cronwright: a cron daemon and its tools.
//!
//! # Layout
//!
//! - [`cron`]: the cron language. Parsing crontab text into entries with diagnostics, and
//!   the exact next fire time of a schedule in a zone. Pure: no clock, no I/O.
//! - [`zone`]: which time zone the system is in (`TZ`, then `/etc/localtime`).
//! - [`cli`]: the `cronwright` command (`next`, `check`); `src/bin/cronwright.rs` only calls it.
//!
//! The daemon, its sources, scheduler, runner and log sinks arrive with their issues; they
//! build on `cron` and never re-implement any of it.

pub mod cli;
pub mod cron;
pub mod zone;
