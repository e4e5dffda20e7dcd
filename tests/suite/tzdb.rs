//! The system's tz database as the library reads it. For every zone file under `TZDIR` (or
//! /usr/share/zoneinfo): `Zone`'s table gives the offset jiff gives at every probe from 1970
//! to 2100, and the zone keeps what [`Zone::first_instant_showing`] assumes: offset changes at
//! least `MIN_SPAN_SECS` (6 days) apart, none moving a clock by more than a day (Samoa skipped
//! one whole day). A `tzdata`
//! update that breaks either fails here.

use std::path::Path;

use cronwright::cron::{MIN_SPAN_SECS, Zone, tz_dir, zone_named};

use crate::util::{RefTz, offset_changes, year_start};

/// Every zone name of the database: its files that are TZif, outside the `posix` and `right`
/// copies.
fn zone_names() -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let key = format!("{prefix}{name}");
            let path = entry.path();
            if path.is_dir() {
                if !matches!(key.as_str(), "posix" | "right") {
                    walk(&path, &format!("{key}/"), out);
                }
            } else if std::fs::read(&path).is_ok_and(|d| d.starts_with(b"TZif")) {
                out.push(key);
            }
        }
    }
    let mut out = Vec::new();
    walk(&tz_dir(), "", &mut out);
    out.sort();
    out
}

#[test]
fn every_zone_of_the_system_database_is_tabled_as_jiff_reads_it() {
    let names = zone_names();
    assert!(
        names.len() > 300,
        "only {} zones in {}",
        names.len(),
        tz_dir().display()
    );
    let mut problems = Vec::new();
    for name in &names {
        let tz = RefTz::get(name);
        let rule = zone_named(name).unwrap_or_else(|| panic!("{name} is not a zone"));
        let zone = Zone::new(rule);
        // Probing every 12 hours sees every change except a pair that cancels out within 12
        // hours, which no zone has ever scheduled.
        let changes = offset_changes(tz, year_start(1970), year_start(2100), 12 * 3600);
        for &(at, before, after) in &changes {
            if zone.span_at(at - 1).offset != before || zone.span_at(at).offset != after {
                problems.push(format!("{name}: the table misses the change at {at}"));
            }
            if (after - before).abs() > 86_400 {
                problems.push(format!("{name}: a change of {}s at {at}", after - before));
            }
        }
        for pair in changes.windows(2) {
            if pair[1].0 - pair[0].0 <= MIN_SPAN_SECS {
                problems.push(format!(
                    "{name}: changes {}s apart at {}",
                    pair[1].0 - pair[0].0,
                    pair[1].0
                ));
            }
        }
        let tabled = zone
            .changes()
            .iter()
            .filter(|c| c.0 >= year_start(1970) && c.0 < year_start(2100))
            .count();
        if tabled != changes.len() {
            problems.push(format!(
                "{name}: {tabled} changes tabled, {} found by probing",
                changes.len()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
