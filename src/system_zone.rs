//! Which zone the system is in, and the error for a zone name that means nothing.
//!
//! Names resolve through [`crate::cron::zone_named`] (a zone of the tz database, or a POSIX TZ
//! rule), so an unknown name is an error, never a silent fallback to UTC. The system zone is
//! `TZ` (`:Area/City`, zoneinfo paths and POSIX rules
//! accepted), then the target of the `/etc/localtime` link, then Debian's `/etc/timezone`; a
//! machine with no `/etc/localtime` at all runs in UTC, as glibc does.

use std::path::Path;

use crate::cron::{ZoneRule, zone_named};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZoneError {
    #[error(
        "unknown time zone '{name}' (from {origin}; expected an IANA name such as Europe/Berlin, or a POSIX TZ \
         rule such as JST-9)"
    )]
    Unknown { name: String, origin: String },
    #[error(
        "cannot tell the system time zone: /etc/localtime is not a link into a zoneinfo \
         directory and /etc/timezone names no zone; set TZ or pass --tz"
    )]
    Undetermined,
}

/// Resolves a zone name (see [`zone_named`]); `origin` says where the name came from.
pub fn parse_zone(name: &str, origin: &str) -> Result<ZoneRule, ZoneError> {
    zone_named(name).ok_or_else(|| ZoneError::Unknown {
        name: name.to_string(),
        origin: origin.to_string(),
    })
}

/// The system's zone, from what the caller read: the `TZ` variable, the target of the
/// `/etc/localtime` link (or `Err` with whether the file exists), and `/etc/timezone`.
pub fn zone_from(
    tz_var: Option<&str>,
    localtime: Result<String, bool>,
    timezone_file: Option<&str>,
) -> Result<ZoneRule, ZoneError> {
    if let Some(v) = tz_var.filter(|v| !v.trim().is_empty()) {
        return parse_zone(v, "the TZ environment variable");
    }
    match localtime {
        Ok(target) => parse_zone(&target, "the /etc/localtime link"),
        Err(exists) => match timezone_file.map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => parse_zone(name, "/etc/timezone"),
            None if !exists => Ok(ZoneRule::UTC),
            None => Err(ZoneError::Undetermined),
        },
    }
}

/// The zone this machine is in now (reads `TZ` and files under `/etc`).
pub fn system_zone() -> Result<ZoneRule, ZoneError> {
    let tz_var = std::env::var("TZ").ok();
    let localtime = Path::new("/etc/localtime");
    let link = std::fs::read_link(localtime)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|_| localtime.exists());
    let file = std::fs::read_to_string("/etc/timezone").ok();
    zone_from(tz_var.as_deref(), link, file.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tz_variable_wins_and_accepts_colon_and_paths() {
        let link = Ok("/usr/share/zoneinfo/Europe/Berlin".to_string());
        assert_eq!(
            zone_from(Some(":Asia/Kolkata"), link.clone(), None),
            Ok(chrono_tz::Asia::Kolkata.into())
        );
        assert_eq!(
            zone_from(None, link, None),
            Ok(chrono_tz::Europe::Berlin.into())
        );
        assert_eq!(
            zone_from(
                Some("/usr/share/zoneinfo/posix/Pacific/Chatham"),
                Err(true),
                None
            ),
            Ok(chrono_tz::Pacific::Chatham.into())
        );
    }

    #[test]
    fn unknown_names_are_errors_not_utc() {
        assert!(matches!(
            zone_from(Some("Mars/Base"), Err(false), None),
            Err(ZoneError::Unknown { .. })
        ));
        assert_eq!(
            zone_from(None, Err(true), None),
            Err(ZoneError::Undetermined)
        );
        assert_eq!(
            zone_from(None, Err(true), Some("Europe/Paris\n")),
            Ok(chrono_tz::Europe::Paris.into())
        );
        assert_eq!(zone_from(None, Err(false), None), Ok(ZoneRule::UTC));
    }
}
