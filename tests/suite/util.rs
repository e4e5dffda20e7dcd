//! Helpers shared by the integration tests: the built binaries, running a command on some
//! input, data files, literal times, and the root-only parts (skipping without root, throwaway
//! accounts).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chrono::{DateTime, Utc};

/// A path under `tests/data`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The `cronwright` binary built for this test run. Tests that copy it (to make it
/// set-group-ID) or run it as another user need the path itself.
pub const CRONWRIGHT_BIN: &str = env!("CARGO_BIN_EXE_cronwright");

/// The `cronwrightd` binary built for this test run.
pub const CRONWRIGHTD_BIN: &str = env!("CARGO_BIN_EXE_cronwrightd");

/// The `cronwright` binary with a fixed zone in its environment, so that times it prints do
/// not depend on the machine's.
pub fn cronwright() -> Command {
    let mut c = Command::new(CRONWRIGHT_BIN);
    c.env("TZ", "UTC");
    c
}

/// Writes an executable shell script: the stand-in editors and sendmail that tests hand to
/// the programs.
pub fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `cmd` with `input` on stdin and returns what it did. A program that exits before
/// reading its input (a refusal, a usage error) is not a test failure, so a failed write is
/// ignored: the test judges the program by its output and status.
pub fn run(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    child.wait_with_output().unwrap()
}

pub fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Unix seconds at midnight UTC on 1 January of `year`.
pub fn year_start(year: i32) -> i64 {
    use chrono::TimeZone;
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp()
}

/// A zone of the system's tz database as jiff alone reads it: the tests' reference for what
/// the library computes with its own tables and search.
#[derive(Debug)]
pub struct RefTz {
    pub name: &'static str,
    tz: jiff::tz::TimeZone,
}

impl RefTz {
    /// The zone `name` of the database in `TZDIR` (or /usr/share/zoneinfo), read once.
    pub fn get(name: &str) -> &'static RefTz {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static ZONES: OnceLock<Mutex<HashMap<String, &'static RefTz>>> = OnceLock::new();
        let mut zones = ZONES.get_or_init(Default::default).lock().unwrap();
        zones.entry(name.to_string()).or_insert_with(|| {
            let data = std::fs::read(cronwright::cron::tz_dir().join(name))
                .unwrap_or_else(|e| panic!("zone {name}: {e}"));
            let tz = jiff::tz::TimeZone::tzif(name, &data).unwrap();
            Box::leak(Box::new(RefTz {
                name: Box::leak(name.to_string().into_boxed_str()),
                tz,
            }))
        })
    }

    /// The library's rule for the same name.
    pub fn rule(&self) -> cronwright::cron::ZoneRule {
        cronwright::cron::zone_named(self.name).unwrap()
    }

    /// Seconds east of UTC at `t`.
    pub fn offset_at(&self, t: i64) -> i64 {
        let ts = jiff::Timestamp::from_second(t).unwrap();
        i64::from(self.tz.to_offset(ts).seconds())
    }

    /// The instants that show the wall-clock reading `local`: one, two (a fold) or none (a
    /// gap), as chrono's `LocalResult` says.
    pub fn instants_showing(&self, local: &chrono::NaiveDateTime) -> chrono::LocalResult<i64> {
        use chrono::{Datelike, LocalResult, Timelike};
        use jiff::tz::AmbiguousOffset;
        let dt = jiff::civil::DateTime::new(
            local.year() as i16,
            local.month() as i8,
            local.day() as i8,
            local.hour() as i8,
            local.minute() as i8,
            local.second() as i8,
            0,
        )
        .unwrap();
        let secs = local.and_utc().timestamp();
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                LocalResult::Single(secs - i64::from(offset.seconds()))
            }
            AmbiguousOffset::Gap { .. } => LocalResult::None,
            AmbiguousOffset::Fold { before, after } => LocalResult::Ambiguous(
                secs - i64::from(before.seconds()),
                secs - i64::from(after.seconds()),
            ),
        }
    }

    /// `t` as RFC 3339 in this zone (`2026-03-08T03:00:00-04:00`).
    pub fn show(&self, t: i64) -> String {
        let offset = chrono::FixedOffset::east_opt(self.offset_at(t) as i32).unwrap();
        DateTime::from_timestamp(t, 0)
            .unwrap()
            .with_timezone(&offset)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }
}

/// Every instant in `[from, to)` where the zone's offset changes, with the offset before and
/// after, found by probing every `step` seconds and bisecting. Written independently of the
/// library's own tables, since tests use it to check them.
pub fn offset_changes(tz: &RefTz, from: i64, to: i64, step: i64) -> Vec<(i64, i64, i64)> {
    let mut out = Vec::new();
    let mut t = from;
    let mut off = tz.offset_at(t);
    while t < to {
        let next = t + step;
        let o = tz.offset_at(next);
        if o != off {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if tz.offset_at(mid) == off {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push((hi, off, o));
            off = o;
        }
        t = next;
    }
    out
}

/// Whether the test may go on: true as root; otherwise it says on stdout (which
/// `cargo test -- --nocapture` shows) that `test` was skipped, and returns false. Tests that
/// create accounts or change owners call it first, so that a run as a normal user passes
/// without them rather than failing on a missing privilege.
pub fn needs_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    println!("skipped: {test} needs root");
    false
}

/// A user or group created for one test (as root) and deleted when dropped, even if the test
/// fails. Users get a home directory under /home when `home` is set. The tools' own messages
/// are kept out of the test output (userdel, for one, complains of a missing mail spool):
/// they show only in the panic when creating an account fails.
pub struct Account {
    pub name: String,
    is_group: bool,
}

impl Account {
    pub fn group(name: &str) -> Account {
        quietly(Command::new("groupadd").arg(name));
        Account {
            name: name.to_string(),
            is_group: true,
        }
    }

    pub fn user(name: &str, home: bool, extra_group: Option<&str>) -> Account {
        let mut cmd = Command::new("useradd");
        cmd.args([if home { "-m" } else { "-M" }, "-s", "/bin/sh"]);
        if let Some(g) = extra_group {
            cmd.args(["-G", g]);
        }
        quietly(cmd.arg(name));
        Account {
            name: name.to_string(),
            is_group: false,
        }
    }
}

/// Runs an account tool with its output captured, and panics with its stderr if it fails.
fn quietly(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {:?}: {e}", cmd.get_program()));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        text(&out.stderr).trim_end()
    );
}

impl Drop for Account {
    /// Output captured and ignored: a failed clean-up must not hide the test's own result.
    fn drop(&mut self) {
        let _ = if self.is_group {
            Command::new("groupdel").arg(&self.name).output()
        } else {
            Command::new("userdel").args(["-r", &self.name]).output()
        };
    }
}

/// `sh -c script` (its `$1`… the arguments added next) in a mount namespace of its own, so
/// that what it mounts is seen by it alone. As root.
pub fn in_mount_namespace(script: &str) -> Command {
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
    ]);
    c
}

/// `cmd` run where each `/etc/…` path of `files` is a copy (mode 0644) of the file beside
/// it: the copies live in an overlay of `/etc` in a mount namespace of the command's own, so
/// the machine's `/etc` is never touched. The command keeps its process (the script execs
/// it), so signalling the returned command's child signals `cmd`. As root.
pub fn with_etc_files(files: &[(&str, &Path)], cmd: &Command) -> Command {
    const SCRIPT: &str = r#"t=$(mktemp -d) && mkdir "$t/upper" "$t/work" &&
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$t/upper,workdir=$t/work" /etc || exit 1
while [ "$1" != -- ]; do
  mkdir -p "$(dirname "$1")" && cp "$2" "$1" && chmod 644 "$1" || exit 1; shift 2
done
shift; exec "$@""#;
    let mut c = in_mount_namespace(SCRIPT);
    for (dest, source) in files {
        assert!(dest.starts_with("/etc/"), "{dest} is not under /etc");
        c.arg(dest).arg(source);
    }
    c.arg("--").arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => c.env(key, v),
            None => c.env_remove(key),
        };
    }
    c
}
