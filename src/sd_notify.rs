//! Telling systemd how the daemon is doing (`sd_notify(3)`): one datagram of `KEY=VALUE`
//! lines to the socket named by `$NOTIFY_SOCKET`, a file system path or, with a leading `@`,
//! a Linux abstract socket. Without `$NOTIFY_SOCKET` (not started by systemd, or by a unit
//! that is not `Type=notify`) every call does nothing and says so by returning `Ok(false)`.
//!
//! A plain `UnixDatagram` does it: the protocol is one `sendto`, which is not worth a crate.
//! The variable is read on every call and never removed, because the daemon notifies many
//! times (ready, each reload, stopping, status lines); jobs do not inherit it, since the
//! runner gives them only the environment it builds.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// How long one notification may block when systemd's socket buffer is full, so that a
/// stalled manager cannot stall the event loop for long.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Sends `state` (newline-separated `KEY=VALUE` assignments) to `$NOTIFY_SOCKET`.
/// `Ok(false)` when the variable is unset or empty: there is nobody to tell.
pub fn notify(state: &str) -> io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        Some(socket) if !socket.is_empty() => notify_to(&socket, state).map(|()| true),
        _ => Ok(false),
    }
}

/// Sends `state` to the socket named `socket`, in `$NOTIFY_SOCKET`'s syntax: an absolute
/// path, or `@name` for the abstract socket `name`. Other forms (systemd's `vsock:`) are
/// refused with `InvalidInput`.
pub fn notify_to(socket: &OsStr, state: &str) -> io::Result<()> {
    let named = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("NOTIFY_SOCKET={}: {e}", socket.to_string_lossy()),
        )
    };
    let bytes = socket.as_bytes();
    let addr = match bytes.first() {
        Some(b'/') => SocketAddr::from_pathname(socket).map_err(named)?,
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]).map_err(named)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "NOTIFY_SOCKET={} is neither an absolute path nor an @abstract name",
                    socket.to_string_lossy()
                ),
            ));
        }
    };
    let sock = UnixDatagram::unbound().map_err(named)?;
    sock.set_write_timeout(Some(SEND_TIMEOUT)).map_err(named)?;
    let sent = sock.send_to_addr(state.as_bytes(), &addr).map_err(named)?;
    if sent != state.len() {
        // A datagram is sent whole or not at all; this would be a kernel surprise.
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes to NOTIFY_SOCKET", state.len()),
        ));
    }
    Ok(())
}

/// `READY=1` with a `STATUS=` line: start-up (or a reload) is done; systemd considers the
/// unit started and `systemctl start` returns, and `systemctl status` shows `status`.
pub fn ready(status: &str) -> io::Result<bool> {
    notify(&format!("READY=1\n{}", status_message(status)))
}

/// `RELOADING=1` with the `MONOTONIC_USEC=` systemd 253+ wants alongside it, so that it can
/// tell this reload from an older one. Send [`ready`] when the reload is done.
pub fn reloading() -> io::Result<bool> {
    notify(&reloading_message(monotonic_usec()?))
}

/// `STOPPING=1`: the daemon is shutting down (waiting for its running jobs).
pub fn stopping() -> io::Result<bool> {
    notify("STOPPING=1")
}

fn reloading_message(usec: u64) -> String {
    format!("RELOADING=1\nMONOTONIC_USEC={usec}")
}

/// `STATUS=text`. Line breaks become spaces: one assignment per line is the protocol, and a
/// status must not smuggle in another assignment.
fn status_message(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!("STATUS={one_line}")
}

/// `CLOCK_MONOTONIC` in microseconds, the clock systemd compares `MONOTONIC_USEC` with.
fn monotonic_usec() -> io::Result<u64> {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
    let secs = u64::try_from(now.tv_sec()).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec()).unwrap_or(0);
    Ok(secs * 1_000_000 + nanos / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::process::Command;

    fn receive(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).expect("a datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn unique_abstract_name(tag: &str) -> String {
        format!("cronwright-test-{tag}-{}", std::process::id())
    }

    #[test]
    fn path_socket_receives_the_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).expect("bind");
        notify_to(path.as_os_str(), "READY=1\nSTATUS=loaded 3 crontabs").expect("send");
        assert_eq!(receive(&server), "READY=1\nSTATUS=loaded 3 crontabs");
    }

    #[test]
    fn abstract_socket_is_named_with_a_leading_at() {
        let name = unique_abstract_name("abstract");
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let server = UnixDatagram::bind_addr(&addr).expect("bind abstract");
        notify_to(&OsString::from(format!("@{name}")), "STOPPING=1").expect("send");
        assert_eq!(receive(&server), "STOPPING=1");
    }

    #[test]
    fn missing_listener_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nobody-listens");
        let err = notify_to(path.as_os_str(), "READY=1").expect_err("no listener");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("nobody-listens"), "{err}");
    }

    #[test]
    fn overlong_socket_path_is_an_error_naming_it() {
        let long = format!("/{}", "x".repeat(200));
        let err = notify_to(OsStr::new(&long), "READY=1").expect_err("too long for sun_path");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains(&long), "{err}");
    }

    #[test]
    fn relative_socket_name_is_refused() {
        let err = notify_to(OsStr::new("run/notify"), "READY=1").expect_err("relative");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(
            err.to_string().contains("NOTIFY_SOCKET=run/notify"),
            "{err}"
        );
    }

    #[test]
    fn reloading_carries_the_monotonic_time() {
        assert_eq!(
            reloading_message(1_234_567),
            "RELOADING=1\nMONOTONIC_USEC=1234567"
        );
        let a = monotonic_usec().expect("clock");
        let b = monotonic_usec().expect("clock");
        assert!(a > 0 && b >= a);
    }

    #[test]
    fn status_cannot_smuggle_another_assignment() {
        assert_eq!(
            status_message("loaded\nREADY=1\r"),
            "STATUS=loaded READY=1 "
        );
    }

    /// The helpers read `$NOTIFY_SOCKET` from the environment. Setting it in this process
    /// would race other tests (and is `unsafe` in edition 2024), so the test binary runs
    /// itself with the variable set, executing only `child_notifies_from_environment`.
    fn run_child(notify_socket: Option<&str>) {
        let exe = std::env::current_exe().expect("test binary");
        let mut cmd = Command::new(exe);
        cmd.args([
            "--exact",
            "sd_notify::tests::child_notifies_from_environment",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CRONWRIGHT_SD_NOTIFY_CHILD", "1");
        match notify_socket {
            Some(s) => cmd.env("NOTIFY_SOCKET", s),
            None => cmd.env_remove("NOTIFY_SOCKET"),
        };
        let out = cmd.output().expect("run the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        // A filter that matched nothing would pass without running the child's asserts.
        assert!(
            stdout.contains("1 passed"),
            "the child test did not run: {stdout}"
        );
    }

    #[test]
    #[ignore = "run by helpers_notify_the_socket_in_the_environment in a child process"]
    fn child_notifies_from_environment() {
        if std::env::var_os("CRONWRIGHT_SD_NOTIFY_CHILD").is_none() {
            return;
        }
        let expect_sent = std::env::var_os("NOTIFY_SOCKET").is_some();
        // The variable stays set: each helper finds it again.
        assert_eq!(ready("idle").expect("ready"), expect_sent);
        assert_eq!(reloading().expect("reloading"), expect_sent);
        assert_eq!(stopping().expect("stopping"), expect_sent);
        assert_eq!(
            std::env::var_os("NOTIFY_SOCKET").is_some(),
            expect_sent,
            "NOTIFY_SOCKET must not be unset"
        );
    }

    #[test]
    fn helpers_notify_the_socket_in_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).expect("bind");
        run_child(Some(path.to_str().expect("utf-8 temp path")));
        assert_eq!(receive(&server), "READY=1\nSTATUS=idle");
        let reload = receive(&server);
        let usec = reload
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap_or_else(|| panic!("unexpected {reload:?}"));
        assert!(usec.parse::<u64>().is_ok(), "{reload:?}");
        assert_eq!(receive(&server), "STOPPING=1");
    }

    #[test]
    fn without_notify_socket_nothing_is_sent() {
        // The child asserts every helper returns Ok(false).
        run_child(None);
    }
}
