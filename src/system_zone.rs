//! Which zone the system is in, and the error for a zone name that means nothing.
//!
//! Names resolve through [`crate::cron::zone_named`] (a zone of the tz database, or a POSIX TZ
//! rule), so an unknown name is an error, never a silent fallback to UTC. The system zone is
//! `TZ` (`:Area/City`, zoneinfo paths, POSIX rules, and `:/etc/localtime` accepted), then the
//! file `/etc/localtime`, as glibc reads it (named after its link's target, or
//! `/etc/timezone` when it is a copy), then Debian's `/etc/timezone`; a machine with no
//! `/etc/localtime` at all runs in UTC, as glibc does.

use std::path::Path;

use crate::cron::{ZoneRule, zone_from_file, zone_named};

/// Where the system's zone is kept; the daemon watches it for `timedatectl set-timezone`.
pub const LOCALTIME: &str = "/etc/localtime";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZoneError {
    #[error(
        "unknown time zone '{name}' (from {origin}; expected an IANA name such as Europe/Berlin, or a POSIX TZ \
         rule such as JST-9)"
    )]
    Unknown { name: String, origin: String },
    #[error(
        "cannot tell the system time zone: {path} is not a zone file and /etc/timezone names no \
         zone; set TZ or pass --tz"
    )]
    Undetermined { path: String },
}

/// Resolves a zone name (see [`zone_named`]); `origin` says where the name came from.
pub fn parse_zone(name: &str, origin: &str) -> Result<ZoneRule, ZoneError> {
    zone_named(name).ok_or_else(|| ZoneError::Unknown {
        name: name.to_string(),
        origin: origin.to_string(),
    })
}

/// The system's zone, from the `TZ` variable, the file at `localtime` (`/etc/localtime`) and
/// the text of `/etc/timezone`.
pub fn zone_from(
    tz_var: Option<&str>,
    localtime: &Path,
    timezone_file: Option<&str>,
) -> Result<ZoneRule, ZoneError> {
    let named = timezone_file.map(str::trim).filter(|s| !s.is_empty());
    if let Some(v) = tz_var.filter(|v| !v.trim().is_empty()) {
        // `TZ=:/etc/localtime` (systemd's advice, to spare programs a stat) is the file.
        if Path::new(v.trim().trim_start_matches(':')) != Path::new(LOCALTIME) {
            return parse_zone(v, "the TZ environment variable");
        }
    }
    let Ok(meta) = localtime.symlink_metadata() else {
        return match named {
            Some(name) => parse_zone(name, "/etc/timezone"),
            None => Ok(ZoneRule::utc()),
        };
    };
    // The name: the zone the link points at, or what /etc/timezone says of a copy.
    let target = std::fs::read_link(localtime).ok();
    let name = match &target {
        Some(t) => {
            let t = t.to_string_lossy();
            t.find("zoneinfo/").map(|i| {
                t[i + "zoneinfo/".len()..]
                    .trim_start_matches("posix/")
                    .to_string()
            })
        }
        None => named.map(str::to_string),
    };
    let undetermined = || ZoneError::Undetermined {
        path: localtime.display().to_string(),
    };
    let name = name.unwrap_or_else(|| LOCALTIME.to_string());
    if meta.file_type().is_symlink() || meta.is_file() {
        return zone_from_file(&name, localtime).ok_or_else(undetermined);
    }
    Err(undetermined())
}

/// The zone this machine is in now (reads `TZ` and files under `/etc`).
pub fn system_zone() -> Result<ZoneRule, ZoneError> {
    let tz_var = std::env::var("TZ").ok();
    let file = std::fs::read_to_string("/etc/timezone").ok();
    zone_from(tz_var.as_deref(), Path::new(LOCALTIME), file.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::tz_dir;

    fn link_to(dir: &Path, zone: &str) -> std::path::PathBuf {
        let path = dir.join("localtime");
        std::os::unix::fs::symlink(tz_dir().join(zone), &path).unwrap();
        path
    }

    #[test]
    fn tz_variable_wins_and_accepts_colon_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let berlin = link_to(dir.path(), "Europe/Berlin");
        let got = zone_from(Some(":Asia/Kolkata"), &berlin, None).unwrap();
        assert_eq!(got.name(), "Asia/Kolkata");
        let got = zone_from(None, &berlin, None).unwrap();
        assert_eq!((got.name(), got.file()), ("Europe/Berlin", Some(&*berlin)));
        let got = zone_from(
            Some("/usr/share/zoneinfo/posix/Pacific/Chatham"),
            &dir.path().join("none"),
            None,
        )
        .unwrap();
        assert_eq!(got.name(), "Pacific/Chatham");
    }

    #[test]
    fn a_copied_localtime_is_named_by_etc_timezone() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("localtime");
        std::fs::copy(tz_dir().join("Europe/Paris"), &copy).unwrap();
        let got = zone_from(None, &copy, Some("Europe/Paris\n")).unwrap();
        assert_eq!(got.name(), "Europe/Paris");
        assert_eq!(got.offset_secs(1_782_907_200), 7200);
        assert_eq!(zone_from(None, &copy, None).unwrap().name(), LOCALTIME);
    }

    #[test]
    fn unknown_names_are_errors_not_utc() {
        let dir = tempfile::tempdir().unwrap();
        let none = dir.path().join("none");
        assert!(matches!(
            zone_from(Some("Mars/Base"), &none, None),
            Err(ZoneError::Unknown { .. })
        ));
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "not a zone").unwrap();
        assert!(matches!(
            zone_from(None, &junk, None),
            Err(ZoneError::Undetermined { .. })
        ));
        assert_eq!(
            zone_from(None, &none, Some("Europe/Paris\n"))
                .unwrap()
                .name(),
            "Europe/Paris"
        );
        assert_eq!(zone_from(None, &none, None), Ok(ZoneRule::utc()));
    }
}
