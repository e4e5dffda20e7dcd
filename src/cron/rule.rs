//! `ZoneRule`: what a zone name means, read as glibc's tzset reads `TZ`. A name of the tz
//! database (`Europe/Berlin`, `:Europe/Berlin`, a path into a zoneinfo directory) is that
//! zone; any other text is tried as a POSIX TZ rule (`JST-9`, `CET-1CEST,M3.5.0,M10.5.0/3`,
//! `<+0530>-5:30`), which is how cronie, through tzset, reads `CRON_TZ=JST-9`. Text that is
//! neither is no zone: an error, never glibc's silent fall back to UTC.
//!
//! `CRON_TZ`, `TZ`, `--tz` and the configuration's `timezone` all go through [`zone_named`],
//! so a name that works in one works in all.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;

use super::zone::offset_at;

/// A zone: one of the tz database, or a POSIX TZ rule.
#[derive(Clone, Debug)]
pub enum ZoneRule {
    Named(Tz),
    /// A POSIX TZ rule, kept with its text (its name in messages and logs).
    Posix {
        text: Arc<str>,
        rule: jiff::tz::TimeZone,
    },
}

impl ZoneRule {
    pub const UTC: ZoneRule = ZoneRule::Named(Tz::UTC);

    /// The name as written: the tz database's name, or the POSIX rule's text.
    pub fn name(&self) -> &str {
        match self {
            ZoneRule::Named(tz) => tz.name(),
            ZoneRule::Posix { text, .. } => text,
        }
    }

    /// Seconds east of UTC at the instant `t` (Unix seconds). Slow for names of the tz
    /// database: a `Zone` tables these once for searches.
    pub fn offset_secs(&self, t: i64) -> i64 {
        match self {
            ZoneRule::Named(tz) => offset_at(*tz, t).unwrap_or(0),
            ZoneRule::Posix { rule, .. } => jiff::Timestamp::from_second(t)
                .map_or(0, |ts| i64::from(rule.to_offset(ts).seconds())),
        }
    }

    /// `t` as a date and time in this zone, for printing.
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        let offset = FixedOffset::east_opt(self.offset_secs(t.timestamp()) as i32)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("0 is a valid offset"));
        t.with_timezone(&offset)
    }
}

impl From<Tz> for ZoneRule {
    fn from(tz: Tz) -> ZoneRule {
        ZoneRule::Named(tz)
    }
}

// Two rules are the same zone when they are written the same: the text says it all.
impl PartialEq for ZoneRule {
    fn eq(&self, other: &ZoneRule) -> bool {
        match (self, other) {
            (ZoneRule::Named(a), ZoneRule::Named(b)) => a == b,
            (ZoneRule::Posix { text: a, .. }, ZoneRule::Posix { text: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Eq for ZoneRule {}

impl Hash for ZoneRule {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            ZoneRule::Named(tz) => (0u8, tz.name()).hash(state),
            ZoneRule::Posix { text, .. } => (1u8, &**text).hash(state),
        }
    }
}

/// The zone a name means (see the module comment), or `None`.
pub fn zone_named(name: &str) -> Option<ZoneRule> {
    let trimmed = name.trim();
    let file = trimmed.trim_start_matches(':');
    let key = match file.find("zoneinfo/") {
        Some(i) => &file[i + "zoneinfo/".len()..],
        None => file,
    };
    let key = key.strip_prefix("posix/").unwrap_or(key);
    if let Ok(tz) = key.parse::<Tz>() {
        return Some(ZoneRule::Named(tz));
    }
    // A leading ':' or a path names a file, never a rule.
    if trimmed.starts_with(':') || trimmed.contains('/') && !trimmed.contains(',') {
        return None;
    }
    posix_rule(trimmed)
}

/// A POSIX TZ rule, as glibc reads one. A rule that names a daylight-saving time without
/// saying when it starts and ends (`JST-9JDT`) gets glibc's default, the US rules.
fn posix_rule(text: &str) -> Option<ZoneRule> {
    let rule = jiff::tz::TimeZone::posix(text)
        .or_else(|_| jiff::tz::TimeZone::posix(&format!("{text},M3.2.0,M11.1.0")))
        .ok()?;
    Some(ZoneRule::Posix {
        text: text.into(),
        rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_come_first_then_posix_rules() {
        assert_eq!(
            zone_named(":Europe/Berlin"),
            Some(ZoneRule::Named(chrono_tz::Europe::Berlin))
        );
        // EST5EDT is a zone of the database as well as a rule: the database's wins.
        assert_eq!(
            zone_named("EST5EDT"),
            Some(ZoneRule::Named(chrono_tz::EST5EDT))
        );
        let jst = zone_named("JST-9").unwrap();
        assert_eq!(jst.name(), "JST-9");
        assert_eq!(jst.offset_secs(1_780_000_000), 9 * 3600);
        let cet = zone_named("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2026-07-01 and 2026-12-01, noon UTC.
        assert_eq!(cet.offset_secs(1_782_907_200), 7200);
        assert_eq!(cet.offset_secs(1_796_126_400), 3600);
        assert_eq!(zone_named("<+0530>-5:30").unwrap().offset_secs(0), 19_800);
        // Daylight time without its rule: glibc's default, the US rules.
        let us = zone_named("XST5XDT").unwrap();
        assert_eq!(us.offset_secs(1_782_907_200), -4 * 3600);
    }

    #[test]
    fn names_that_are_neither_are_no_zone() {
        for name in ["Mars/Olympus", "Europe/Berln", ":JST-9", "Foo", "", "5"] {
            assert_eq!(zone_named(name), None, "{name}");
        }
    }
}
