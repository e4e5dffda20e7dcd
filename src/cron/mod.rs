//! The cron language, shared by the daemon, `crontab` and `cronwright check`/`next`.
//!
//! Pure: it parses `&str` into values and computes times from values. No clock, no globals,
//! and no files but the tz database's (a `CRON_TZ` name is looked up where it is read), so
//! every rule is tested with literal text and literal instants.
//!
//! - `field`: one time field as a bit set (cronie's grammar and errors);
//! - `schedule`: `Schedule`, the fields together, and `next_after` with the DST rules;
//! - `line`: one crontab line (entry, environment line, comment) and the 5-or-6 field rule;
//! - `policy`: job policies (`CRON_OVERLAP`, `CRON_TIMEOUT`…) and their values;
//! - `crontab`: a whole file into a `Crontab` plus diagnostics;
//! - `rule`: what a zone name means (a TZif file of the system's tz database, or a POSIX TZ
//!   rule);
//! - `zone`: a time zone prepared for searches (its offset changes in a table), and dates;
//! - `diag`: diagnostics with line, column and a compiler-style rendering, and the report
//!   `check` and `crontab` print.

mod crontab;
mod diag;
mod field;
mod line;
mod policy;
mod rule;
mod schedule;
mod zone;

pub use crontab::{Crontab, Entry, Env, Parsed, parse_crontab, parse_crontab_each};
pub use diag::{Diagnostic, Severity, report};
pub use field::{Field, FieldError, FieldErrorKind, FieldKind, parse_field};
pub use line::{Format, not_a_user_message};
pub use policy::{
    Catchup, MailWhen, OutputMode, Overlap, Policy, describe as describe_policy, parse_catchup,
    parse_duration, parse_mail, parse_overlap, show_secs,
};
pub use rule::{
    DEFAULT_TZ_DIR, ZoneRule, from_file as zone_from_file, tz_database_version, tz_dir, zone_named,
};
pub use schedule::{MACROS, Schedule, Times};
pub use zone::{MIN_SPAN_SECS, Span, Zone, civil_from_days, days_from_civil};

/// Parses one schedule expression, as `cronwright next` takes it: five fields, six fields
/// (leading seconds) or a macro. Errors come back as diagnostics on line 1 of `expr`.
pub fn parse_expr(expr: &str) -> Result<Schedule, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut sink = line::Sink {
        line_no: 1,
        text: expr,
        out: &mut diagnostics,
    };
    match line::parse_expr_line(&mut sink) {
        Some(s) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(s),
        _ => Err(diagnostics),
    }
}
