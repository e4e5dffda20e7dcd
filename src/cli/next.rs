//! `cronwright next`: the next fire times of one expression, one RFC 3339 line each.
//! Outside checks rely on this exact output; keep it stable.

use std::io::Write;

use anyhow::Context;
use chrono::{DateTime, Datelike, Utc};

use super::Outcome;
use crate::cron::{Schedule, Zone, parse_expr};
use crate::system_zone::{parse_zone, system_zone};

/// The last year RFC 3339 can write: `next` stops before a fire time after it.
const LAST_YEAR: i32 = 9999;

#[derive(Debug, clap::Args)]
pub struct NextArgs {
    /// Start strictly after this instant, in RFC 3339 (e.g. 2026-03-08T01:30:00-05:00) [default: now]
    #[arg(long, value_name = "RFC3339")]
    from: Option<String>,
    /// Time zone to compute in (IANA name) [default: the system zone: TZ, then /etc/localtime]
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// How many fire times to print
    #[arg(short = 'n', long = "count", value_name = "COUNT", default_value_t = 5)]
    count: usize,
    /// The schedule: 5 fields, 6 fields (leading seconds) or a macro such as @daily.
    /// Quote it; several words are joined with spaces.
    #[arg(value_name = "EXPR", required = true, num_args = 1..)]
    expr: Vec<String>,
}

pub fn run(args: NextArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let expr = args.expr.join(" ");
    let tz = match &args.tz {
        Some(name) => parse_zone(name, "--tz"),
        None => system_zone(),
    }
    .map_err(anyhow::Error::new)?;
    let from: DateTime<Utc> = match &args.from {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .with_context(|| {
                format!("--from '{text}' is not an RFC 3339 time such as 2026-03-08T01:30:00-05:00")
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let schedule = match parse_expr(&expr) {
        Ok(s) => s,
        Err(diagnostics) => {
            for d in &diagnostics {
                eprint!("{}", d.render("expression", &expr));
            }
            return Ok(Outcome::Invalid);
        }
    };
    if schedule == Schedule::Reboot {
        eprintln!("@reboot fires only once, when the daemon starts after the machine boots");
        return Ok(Outcome::Ok);
    }
    // The zone's table from a day before `from`, which may be before 1970, where tables
    // usually start.
    let zone = Zone::since(tz.clone(), from.timestamp().saturating_sub(86_400));
    let mut t = from;
    for i in 0..args.count {
        match schedule.next_after(t, &zone) {
            // RFC 3339 has four-digit years only (chrono would write `+10000-...`), and the
            // year that must fit is the one written, in `tz`, not the one in UTC.
            Some(next) if tz.local(next).year() > LAST_YEAR => {
                let none = if i == 0 {
                    "no fire time"
                } else {
                    "no more fire times"
                };
                eprintln!(
                    "'{expr}' has {none} before year {}: RFC 3339 cannot write later years",
                    LAST_YEAR + 1
                );
                break;
            }
            Some(next) => {
                writeln!(out, "{}", tz.local(next).format("%Y-%m-%dT%H:%M:%S%:z"))?;
                t = next;
            }
            None => {
                if i == 0 {
                    eprintln!("'{expr}' never fires: no date matches it");
                }
                break;
            }
        }
    }
    Ok(Outcome::Ok)
}
