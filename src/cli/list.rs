//! `cronwright list`: every job the daemon would load, with its next run, and every file and
//! line it would refuse, by the daemon's own rules ([`crate::resolve`]).

use std::io::{self, Write};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use nix::unistd::geteuid;
use serde::Serialize;

use super::Outcome;
use crate::config::Config;
use crate::cron::{Entry, Zone, ZoneRule, parse_crontab, parse_expr};
use crate::job_id::{entry_id, jitter_offset, machine_id};
use crate::resolve::{Resolver, load_source, sources_config};
use crate::runner;
use crate::sources;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print one JSON array instead of a table
    #[arg(long)]
    json: bool,
    /// The daemon's configuration file [default: $CRONWRIGHT_CONFIG, then /etc/cronwright/cronwright.toml]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

pub fn run(args: ListArgs, out: &mut impl Write) -> anyhow::Result<Outcome> {
    let path = super::config_path(args.config);
    let config = Config::load_or_defaults(&path)?;
    let rows = list_jobs(&config, chrono::Utc::now());
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
    } else {
        render_list(&rows, out)?;
    }
    Ok(Outcome::Ok)
}

/// One row of `cronwright list`: a job, or a reason something is not loaded.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Listed {
    Job {
        /// The job's id (its `CRON_NAME`, else the hash; see `job_id`).
        id: String,
        /// `file:line`.
        source: String,
        user: String,
        /// The time fields or macro as written.
        schedule: String,
        zone: String,
        /// RFC 3339 in the job's zone; `None` for `@reboot` and schedules that never fire.
        next: Option<String>,
        /// The policies beyond cron's way (`overlap=skip timeout=2h`…); empty when none.
        policy: String,
        command: String,
    },
    /// A line the daemon skips, with the parser's or the daemon's reason.
    Error {
        /// `file:line:column`.
        source: String,
        message: String,
    },
    /// A file the daemon does not load at all.
    Refused { file: String, reason: String },
    /// A file in a crontab directory that is not a crontab by its name.
    Ignored { file: String, reason: String },
}

/// The schedule of `entry` as written on its line: the macro, or the five or six time fields.
pub fn schedule_text(line: &str, entry: &Entry) -> String {
    let line = line.trim_start();
    let line = line.strip_prefix('-').unwrap_or(line);
    let words: Vec<&str> = line.split_whitespace().take(6).collect();
    if let Some(first) = words.first().filter(|w| w.starts_with('@')) {
        return first.to_string();
    }
    // The parser's five-or-six rule gave `entry.schedule`; reading the six leading words as
    // a schedule gives the same value only when the line has six fields (a five-field line
    // read as six shifts every field by one, which can never match: a day of month 0 would
    // be needed).
    if words.len() == 6 {
        let six = words.join(" ");
        if parse_expr(&six).is_ok_and(|s| s == entry.schedule) {
            return six;
        }
    }
    words[..words.len().min(5)].join(" ")
}

/// Every job the daemon (running as this process's effective user) would load, in the
/// daemon's order, with every file and line it would refuse; next fire times after `now`.
pub fn list_jobs(config: &Config, now: DateTime<Utc>) -> Vec<Listed> {
    let as_root = geteuid().is_root();
    let (own_user, own_uid) = match runner::current_user() {
        Ok(c) => (c.user, c.uid.as_raw()),
        Err(_) => sources::effective_user(),
    };
    let cfg = sources_config(config, as_root, &own_user, own_uid);
    let resolver = Resolver::new(config, as_root, &own_user);
    let scan = sources::scan(&cfg);
    let mut out = Vec::new();
    for (path, reason) in scan.ignored {
        out.push(Listed::Ignored {
            file: path.display().to_string(),
            reason,
        });
    }
    let mut zones: Vec<(ZoneRule, Zone)> = Vec::new();
    let mut machine: Option<String> = None;
    for source in &scan.sources {
        let file = source.path.display().to_string();
        let loaded = match load_source(source, &cfg, config) {
            Ok(l) => l,
            Err(refusal) => {
                let reason = match refusal.fix(&source.path) {
                    Some(fix) => format!("{refusal} (fix: {fix})"),
                    None => refusal.to_string(),
                };
                out.push(Listed::Refused { file, reason });
                continue;
            }
        };
        let parsed = parse_crontab(&loaded.text, source.format);
        for d in parsed.diagnostics.iter().filter(|d| d.is_error()) {
            out.push(Listed::Error {
                source: format!("{file}:{}:{}", d.line, d.column),
                message: d.message.clone(),
            });
        }
        let lines: Vec<&str> = loaded.text.split('\n').collect();
        for entry in &parsed.crontab.entries {
            let at = format!("{file}:{}", entry.line);
            let resolved = match resolver.resolve(source, entry) {
                Ok(r) => r,
                Err(skip) => {
                    out.push(Listed::Error {
                        source: at,
                        message: skip.to_string(),
                    });
                    continue;
                }
            };
            let zone = match zones.iter().position(|(tz, _)| *tz == resolved.zone) {
                Some(i) => &zones[i].1,
                None => {
                    zones.push((resolved.zone.clone(), Zone::new(resolved.zone.clone())));
                    &zones[zones.len() - 1].1
                }
            };
            let line = lines
                .get(entry.line as usize - 1)
                .map_or("", |l| l.strip_suffix('\r').unwrap_or(l));
            // CRON_JITTER's delay is fixed, so the next run it gives is known; RANDOM_DELAY's
            // is drawn by the daemon at each load, so it is not shown.
            let id = entry_id(&source.path, &resolved.run_as.user, entry);
            let jitter = match entry.policy.jitter_secs {
                0 => 0,
                window => jitter_offset(machine.get_or_insert_with(machine_id), &id, window),
            };
            let next = entry.schedule.next_after(now, zone).map(|t| {
                resolved
                    .zone
                    .local(t + chrono::Duration::seconds(jitter.into()))
                    .format("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            });
            let mut policy = crate::cron::describe_policy(&entry.policy);
            if jitter > 0 {
                policy.push_str(&format!(" delay={}", crate::cron::show_secs(jitter)));
            }
            out.push(Listed::Job {
                id,
                source: at,
                user: resolved.run_as.user.clone(),
                schedule: schedule_text(line, entry),
                zone: resolved.zone.name().to_string(),
                next,
                policy,
                command: entry.command.clone(),
            });
        }
    }
    out
}

/// The text form of `cronwright list`: aligned job rows, then one line per problem.
pub fn render_list(rows: &[Listed], out: &mut impl Write) -> io::Result<()> {
    let jobs: Vec<[&str; 7]> = rows
        .iter()
        .filter_map(|r| match r {
            Listed::Job {
                id: _,
                source,
                user,
                schedule,
                zone,
                next,
                policy,
                command,
            } => Some([
                source.as_str(),
                user.as_str(),
                schedule.as_str(),
                zone.as_str(),
                next.as_deref()
                    .unwrap_or(if schedule.as_str() == "@reboot" {
                        "at boot"
                    } else {
                        "never"
                    }),
                policy.as_str(),
                command.as_str(),
            ]),
            _ => None,
        })
        .collect();
    // The POLICY column only when some job has a policy: most tables have none.
    let policies = jobs.iter().any(|row| !row[5].is_empty());
    let header = [
        "SOURCE", "USER", "SCHEDULE", "ZONE", "NEXT", "POLICY", "COMMAND",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for row in &jobs {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str; 7]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 6 {
                s.push_str(cell);
            } else if i != 5 || policies {
                s.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        s
    };
    if jobs.is_empty() {
        writeln!(out, "no jobs")?;
    } else {
        writeln!(out, "{}", line(&header))?;
        for row in &jobs {
            writeln!(out, "{}", line(row))?;
        }
    }
    for row in rows {
        match row {
            Listed::Job { .. } => {}
            Listed::Error { source, message } => writeln!(out, "{source}: error: {message}")?,
            Listed::Refused { file, reason } => writeln!(out, "{file}: refused: {reason}")?,
            Listed::Ignored { file, reason } => writeln!(out, "{file}: ignored: {reason}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::Format;

    fn entry(line: &str) -> Entry {
        let parsed = parse_crontab(&format!("{line}\n"), Format::User);
        assert!(!parsed.has_errors(), "{line}: {:?}", parsed.diagnostics);
        parsed.crontab.entries[0].clone()
    }

    #[test]
    fn schedule_text_is_the_fields_as_written() {
        for (line, expected) in [
            ("*/5 * * * * poll", "*/5 * * * *"),
            ("0 5 * * * mon --check", "0 5 * * *"),
            ("*/10 * * * * * cmd", "*/10 * * * * *"),
            ("0 30 8 * jan mon cmd", "0 30 8 * jan mon"),
            ("0 5 * * * 2 cmd", "0 5 * * * 2"),
            ("  -@daily  backup", "@daily"),
            ("-0 1 * * * quiet", "0 1 * * *"),
            ("0\t1 * * *\techo", "0 1 * * *"),
        ] {
            assert_eq!(schedule_text(line, &entry(line)), expected, "{line}");
        }
    }
}
