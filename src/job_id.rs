//! A job's identity across reloads and restarts, and the stable delay `CRON_JITTER` draws
//! from it.
//!
//! A job is its `CRON_NAME` when it has one; otherwise a short hash of its file, owner,
//! schedule and command text, so that editing another line of the file leaves it the same
//! job, and editing its own schedule or command makes it a new one. The schedule counts as
//! parsed (`Schedule::identity`), not as typed: `@daily` and `0 0 * * *` are one job, and the
//! daemon, which keeps no schedule text, can tell any job's id. The hash is FNV-1a,
//! written out here rather than taken from `std`, whose hasher may change between Rust
//! releases: an id is kept on disk and must mean the same job after an upgrade.

use std::path::Path;

use crate::cron::Schedule;

/// FNV-1a, 64 bits, over each part followed by a 0 byte (so `a`+`bc` is not `ab`+`c`).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The job's id: `name` if set, else 12 hex digits of the hash.
pub fn job_id(
    name: Option<&str>,
    file: &Path,
    user: &str,
    schedule: &Schedule,
    command: &str,
) -> String {
    if let Some(name) = name {
        return name.to_string();
    }
    let h = fnv1a(&[
        file.as_os_str().as_encoded_bytes(),
        user.as_bytes(),
        &schedule.identity(),
        command.as_bytes(),
    ]);
    format!("{:012x}", h >> 16)
}

/// This host's identity, for spreading `CRON_JITTER` across a fleet: systemd's machine-id,
/// else D-Bus's, else the host name.
pub fn machine_id() -> String {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .or_else(|| {
            nix::unistd::gethostname()
                .ok()
                .map(|h| h.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

/// The id of `entry`, of the crontab `file`, run as `user`.
pub fn entry_id(file: &Path, user: &str, entry: &crate::cron::Entry) -> String {
    job_id(
        entry.policy.name.as_deref(),
        file,
        user,
        &entry.schedule,
        &entry.command,
    )
}

/// The fixed delay in `[0, jitter_secs)` of job `id` on host `machine`: the same at every
/// run and every start of the daemon, and spread over the window across jobs and hosts.
pub fn jitter_offset(machine: &str, id: &str, jitter_secs: u32) -> u32 {
    if jitter_secs == 0 {
        return 0;
    }
    (fnv1a(&[machine.as_bytes(), id.as_bytes()]) % u64::from(jitter_secs)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(expr: &str) -> Schedule {
        crate::cron::parse_expr(expr).unwrap()
    }

    #[test]
    fn ids_follow_the_job_not_its_line_and_names_win() {
        let f = Path::new("/var/spool/cron/crontabs/alice");
        let id = job_id(None, f, "alice", &at("0 2 * * *"), "backup.sh");
        assert_eq!(id.len(), 12);
        assert_eq!(id, job_id(None, f, "alice", &at("0  2 * * *"), "backup.sh"));
        assert_ne!(id, job_id(None, f, "alice", &at("0 3 * * *"), "backup.sh"));
        assert_ne!(id, job_id(None, f, "bob", &at("0 2 * * *"), "backup.sh"));
        assert_ne!(id, job_id(None, f, "alice", &at("0 2 * * *"), "backup2.sh"));
        assert_eq!(
            job_id(None, f, "alice", &at("@daily"), "x"),
            job_id(None, f, "alice", &at("0 0 * * *"), "x")
        );
        assert_eq!(
            job_id(Some("nightly"), f, "alice", &at("@daily"), "y"),
            "nightly"
        );
        // Pinned to FNV-1a's published constants (FNV-1a 64 of "a" is af63dc4c8601ec8c;
        // each part is followed by a 0 byte): an id kept on disk must mean the same job
        // after an upgrade.
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0x089b_e207_b544_f1e4);
    }

    #[test]
    fn jitter_is_stable_inside_its_window_and_spread() {
        let offsets: Vec<u32> = (0..200)
            .map(|i| jitter_offset("machine", &format!("job{i}"), 600))
            .collect();
        assert!(offsets.iter().all(|&o| o < 600));
        assert_eq!(offsets[7], jitter_offset("machine", "job7", 600));
        assert!(offsets.iter().any(|&o| o < 300) && offsets.iter().any(|&o| o >= 300));
        assert_ne!(
            jitter_offset("host-a", "job", 86_400),
            jitter_offset("host-b", "job", 86_400)
        );
        assert_eq!(jitter_offset("m", "j", 0), 0);
    }
}
