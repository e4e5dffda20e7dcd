//! `ZoneRule`: what a zone name means, read as glibc's tzset reads `TZ`, from the system's tz
//! database. A name of the database (`Europe/Berlin`, `:Europe/Berlin`, a path into a
//! zoneinfo directory) is that zone's TZif file under [`tz_dir`]; any other text is tried as a
//! POSIX TZ rule (`JST-9`, `CET-1CEST,M3.5.0,M10.5.0/3`, `<+0530>-5:30`), which is how cronie,
//! through tzset, reads `CRON_TZ=JST-9`. Text that is neither is no zone: an error, never
//! glibc's silent fall back to UTC.
//!
//! Zones come from the system's files, not from tables compiled in, so that a `tzdata` update
//! (a country changing its daylight-saving rules) reaches the daemon as it reaches every other
//! program; jiff parses the TZif files and the POSIX rules. A build with the `bundled-tzdb`
//! feature (off by default) falls back to jiff's compiled-in copy for a name the system's
//! database lacks, for images without `tzdata`.
//!
//! A name is only ever a name: a crontab's owner chooses `CRON_TZ`, and the daemon reading it
//! is root, so names with `..`, absolute paths outside a zoneinfo directory, and anything but
//! a regular file of sane size are refused before a file is opened.
//!
//! `CRON_TZ`, `TZ`, `--tz` and the configuration's `timezone` all go through [`zone_named`],
//! so a name that works in one works in all.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use jiff::tz::TimeZone;

/// Where zone files are when `TZDIR` does not say: Debian's `tzdata`, glibc's default.
pub const DEFAULT_TZ_DIR: &str = "/usr/share/zoneinfo";

/// TZif files are a few KiB; anything much larger is not one.
const MAX_ZONE_FILE: u64 = 256 * 1024;

/// Names that mean UTC without a file, so that UTC works on a machine without `tzdata`.
const UTC_NAMES: &[&str] = &["UTC", "Etc/UTC", "UCT", "Etc/UCT", "Zulu", "Etc/Zulu"];

/// A zone: one of the tz database, or a POSIX TZ rule.
#[derive(Clone, Debug)]
pub struct ZoneRule {
    /// The name as written (the database's key, or the POSIX rule's text): in messages, logs,
    /// and what makes two rules the same zone.
    name: Arc<str>,
    tz: TimeZone,
    /// The file the rules were read from: a change to it changes the zone.
    file: Option<Arc<Path>>,
}

impl ZoneRule {
    /// UTC, needing no file.
    pub fn utc() -> ZoneRule {
        ZoneRule {
            name: "UTC".into(),
            tz: TimeZone::UTC,
            file: None,
        }
    }

    /// The name as written: the tz database's name, or the POSIX rule's text.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file the zone was read from, if any (POSIX rules and built-in UTC have none).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The rules, as jiff holds them.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Seconds east of UTC at the instant `t` (Unix seconds). A `Zone` tables these once for
    /// searches. Beyond the instants jiff handles (about 10,000 years either side of 1970), the
    /// offset at its limit.
    pub fn offset_secs(&self, t: i64) -> i64 {
        use jiff::Timestamp;
        let t = t.clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
        Timestamp::from_second(t).map_or(0, |ts| i64::from(self.tz.to_offset(ts).seconds()))
    }

    /// `t` as a date and time in this zone, for printing.
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        let offset = FixedOffset::east_opt(self.offset_secs(t.timestamp()) as i32)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("0 is a valid offset"));
        t.with_timezone(&offset)
    }

    /// The zone read again from its file, under the same name: `None` when it has no file,
    /// or the file is gone or no longer a zone.
    pub fn reread(&self) -> Option<ZoneRule> {
        let file = self.file.as_ref()?;
        from_file(&self.name, file)
    }
}

// Two rules are the same zone when they are named the same and read from the same file: the
// daemon keeps one table per zone and replaces it when its file changes. The system's zone,
// read from /etc/localtime, is apart from the same name read from the database, because
// `timedatectl set-timezone` moves the one and not the other.
impl PartialEq for ZoneRule {
    fn eq(&self, other: &ZoneRule) -> bool {
        self.name == other.name && self.file == other.file
    }
}

impl Eq for ZoneRule {}

impl Hash for ZoneRule {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.file.hash(state);
    }
}

/// The directory zone files are read from: `TZDIR` if set, else [`DEFAULT_TZ_DIR`]. A
/// setuid or setgid program (crontab(1)) ignores `TZDIR`, as glibc does: its caller chose it.
/// (glibc's loader drops it from such a program's environment already; a static build has
/// no such loader.)
pub fn tz_dir() -> PathBuf {
    match std::env::var_os("TZDIR") {
        Some(dir) if !dir.is_empty() && !privileged() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_TZ_DIR),
    }
}

/// Whether this program runs with privileges its caller does not have (setuid or setgid).
fn privileged() -> bool {
    use nix::unistd::{getegid, geteuid, getgid, getuid};
    geteuid() != getuid() || getegid() != getgid()
}

/// The tz database's version (`2025b`), from `tzdata.zi` in [`tz_dir`], if it says.
pub fn tz_database_version() -> Option<String> {
    let mut head = [0u8; 64];
    let n = File::open(tz_dir().join("tzdata.zi"))
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let first = std::str::from_utf8(&head[..n]).ok()?.lines().next()?;
    let version = first.strip_prefix("# version ")?.trim();
    (!version.is_empty()).then(|| version.to_string())
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
    if is_zone_key(key) {
        if let Some(rule) = from_file(key, &tz_dir().join(key)).or_else(|| bundled(key)) {
            return Some(rule);
        }
        if UTC_NAMES.contains(&key) {
            return Some(ZoneRule {
                name: key.into(),
                ..ZoneRule::utc()
            });
        }
    }
    // A leading ':' or a path names a file, never a rule.
    if trimmed.starts_with(':') || trimmed.contains('/') && !trimmed.contains(',') {
        return None;
    }
    posix_rule(trimmed)
}

/// The zone in the TZif file at `path`, named `name`; `None` if it is not one. Only a regular
/// file is read (never a FIFO or a device a name might point at), and only so much of it.
pub fn from_file(name: &str, path: &Path) -> Option<ZoneRule> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_ZONE_FILE {
        return None;
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_ZONE_FILE).read_to_end(&mut data).ok()?;
    let tz = TimeZone::tzif(name, &data).ok()?;
    Some(ZoneRule {
        name: name.into(),
        tz,
        file: Some(path.into()),
    })
}

/// The zone from the tz database compiled in with the `bundled-tzdb` feature, for a system
/// whose own database lacks it (a container image without `tzdata`).
#[cfg(feature = "bundled-tzdb")]
fn bundled(key: &str) -> Option<ZoneRule> {
    let tz = jiff::tz::db().get(key).ok()?;
    Some(ZoneRule {
        name: key.into(),
        tz,
        file: None,
    })
}

#[cfg(not(feature = "bundled-tzdb"))]
fn bundled(_key: &str) -> Option<ZoneRule> {
    None
}

/// Whether `key` can name a file of the database: relative, no `.` or `..` components, and
/// only the characters tz database names use.
fn is_zone_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 255
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_+.".contains(&b))
        })
}

/// A POSIX TZ rule, as glibc reads one. A rule that names a daylight-saving time without
/// saying when it starts and ends (`JST-9JDT`) gets glibc's default, the US rules.
fn posix_rule(text: &str) -> Option<ZoneRule> {
    let tz = TimeZone::posix(text)
        .or_else(|_| TimeZone::posix(&format!("{text},M3.2.0,M11.1.0")))
        .ok()?;
    Some(ZoneRule {
        name: text.into(),
        tz,
        file: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_come_first_then_posix_rules() {
        let berlin = zone_named(":Europe/Berlin").unwrap();
        assert_eq!(berlin.name(), "Europe/Berlin");
        assert_eq!(
            berlin.file(),
            Some(tz_dir().join("Europe/Berlin").as_path())
        );
        assert_eq!(
            zone_named("/usr/share/zoneinfo/posix/Europe/Berlin"),
            Some(berlin)
        );
        // EST5EDT is a zone of the database as well as a rule: the database's wins.
        assert!(zone_named("EST5EDT").unwrap().file().is_some());
        let jst = zone_named("JST-9").unwrap();
        assert_eq!(jst.name(), "JST-9");
        assert_eq!(jst.file(), None);
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
        for name in [
            "Mars/Olympus",
            "Europe/Berln",
            ":JST-9",
            "Foo",
            "",
            "5",
            "zone.tab",
        ] {
            assert_eq!(zone_named(name), None, "{name}");
        }
    }

    #[cfg(feature = "bundled-tzdb")]
    #[test]
    fn the_bundled_database_answers_when_the_system_has_no_zone_file() {
        let rule = bundled("America/New_York").unwrap();
        assert_eq!(rule.file(), None);
        assert_eq!(rule.offset_secs(1_782_907_200), -4 * 3600);
        assert!(bundled("Mars/Olympus").is_none());
    }

    #[test]
    fn names_never_reach_files_outside_the_database() {
        for name in [
            "../../../etc/passwd",
            "Europe/../../../../etc/shadow",
            ":/etc/passwd",
            "/etc/localtime",
            "/dev/zero",
            "Europe/./Berlin",
        ] {
            assert_eq!(zone_named(name), None, "{name}");
        }
    }
}
