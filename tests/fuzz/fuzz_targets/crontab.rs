//! The cron language on arbitrary text: both crontab formats and a lone expression, the next
//! fire time of every schedule that parses in three prepared zones, and the rendering of every
//! diagnostic. None of it may panic.
#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use cronwright::cron::{Diagnostic, Format, Schedule, Zone, parse_crontab, parse_expr, zone_named};
use libfuzzer_sys::fuzz_target;

/// UTC, a zone with DST at 02:00 local, and one whose DST shift is half an hour. Building a
/// `Zone` reads a zone file of the system's database, so once per process, not per input.
fn zones() -> &'static [Zone] {
    static ZONES: OnceLock<Vec<Zone>> = OnceLock::new();
    ZONES.get_or_init(|| {
        vec![
            Zone::new(zone_named("UTC").unwrap()),
            Zone::new(zone_named("America/New_York").unwrap()),
            Zone::new(zone_named("Australia/Lord_Howe").unwrap()),
        ]
    })
}

/// 2026-03-08T05:00:00Z: midnight in New York on the eve of its spring-forward day, and a
/// month before Lord Howe's DST ends.
fn from() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_946_000, 0).unwrap()
}

fn next_in_every_zone(schedule: &Schedule) {
    for zone in zones() {
        let _ = schedule.next_after(from(), zone);
    }
}

/// Renders each diagnostic against its line as `report` finds it (split on `\n`, one `\r`
/// dropped), or an empty line when the number is past the end.
fn render_all(diagnostics: &[Diagnostic], source: &str) {
    let lines: Vec<&str> = source
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    for d in diagnostics {
        let _ = d.headline("fuzz");
        let line = (d.line as usize)
            .checked_sub(1)
            .and_then(|i| lines.get(i))
            .copied()
            .unwrap_or("");
        let _ = d.render("fuzz", line);
    }
}

fn expr(text: &str) {
    match parse_expr(text) {
        Ok(schedule) => next_in_every_zone(&schedule),
        Err(diagnostics) => render_all(&diagnostics, text),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for format in [Format::User, Format::System] {
        let parsed = parse_crontab(&text, format);
        for entry in &parsed.crontab.entries {
            next_in_every_zone(&entry.schedule);
        }
        render_all(&parsed.diagnostics, &text);
    }
    // `cronwright next` takes one argument, which may hold anything; the first line alone
    // lets the crontab seeds reach the expression parser too.
    expr(&text);
    if let Some((first, _)) = text.split_once('\n') {
        expr(first);
    }
});
